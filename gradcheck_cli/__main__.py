"""``python -m gradcheck_cli`` runs the command line."""

from .cli import main

if __name__ == "__main__":
    # The same name as the console script, for messages and for shell
    # completion (_GRADCHECK_COMPLETE).
    main(prog_name="gradcheck")
