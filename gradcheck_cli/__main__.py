"""``python -m gradcheck_cli`` runs the command line."""

from .launch import run

if __name__ == "__main__":
    # As the console script: guarded, named "gradcheck" for messages and for
    # shell completion (_GRADCHECK_COMPLETE).
    run()
