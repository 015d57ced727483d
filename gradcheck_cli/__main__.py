"""``python -m gradcheck_cli`` runs the command line."""

from .cli import main

if __name__ == "__main__":
    main()
