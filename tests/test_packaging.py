"""The package as an index would show it: built from the tracked files, its
wheel's metadata (an SPDX license with its file, authors, classifiers) and
everything the console script needs."""

import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser

import pytest

from .conftest import ROOT


@pytest.mark.install
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to copy the tracked files")
def test_the_wheel_carries_its_license_and_metadata(tmp_path):
    copy = tmp_path / "repo"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], capture_output=True, text=True,
                           cwd=ROOT, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"),
                             str(copy)], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    [wheel] = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
        fields = Parser().parsestr(archive.read(metadata).decode())
    assert fields["License-Expression"] == "MIT"
    assert fields["License-File"] == "LICENSE" and any(n.endswith("licenses/LICENSE") for n in names)
    assert fields["Author"] and "Programming Language :: Python :: 3.11" in fields.get_all("Classifier")
    # Every module of the package is in it (the package list in pyproject is explicit).
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "gradcheck_cli").rglob("*.py")}
    assert modules <= set(names), modules - set(names)
    assert "gradcheck_cli/py.typed" in names  # (PEP 561: type checkers read the package's annotations)
