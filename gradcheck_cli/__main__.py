"""``python -m gradcheck_cli`` runs the command line."""

import os
import sys

if __name__ == "__main__" and sys.path and sys.path[0] in ("", os.getcwd()):
    # `python -m` puts the working directory first on the path, where a
    # model's own json.py or rich.py would stand in for the libraries
    # gradcheck reports with (as PYTHONSAFEPATH would prevent). The console
    # script has no such entry; models find their neighbours through the
    # directory gradcheck adds while their code runs.
    del sys.path[0]

from .launch import run  # noqa: E402

if __name__ == "__main__":
    # As the console script: guarded, named "gradcheck" for messages and for
    # shell completion (_GRADCHECK_COMPLETE).
    run()
