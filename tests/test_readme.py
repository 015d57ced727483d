"""The README cannot drift: its commands run, and its example output is real."""

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from gradcheck_cli.cli import main

from .conftest import ROOT

README = (ROOT / "README.md").read_text()


def command_after(marker: str) -> str:
    """The first fenced code block after an HTML comment marker."""
    match = re.search(rf"<!-- {marker} -->\s*```\w*\n(.*?)```", README, re.S)
    assert match, f"README has no code block after <!-- {marker} -->"
    return match.group(1).strip()


def test_ci_runs_the_readmes_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "readme-command test-command" in ci and 'eval "$command"' in ci
    extracted = subprocess.run(["bash", str(ROOT / ".ci" / "readme-command"), "test-command"],
                               capture_output=True, text=True, check=True).stdout.strip()
    assert extracted == command_after("test-command")
    assert "pytest" in extracted


def test_the_test_command_installs_the_test_extra():
    assert "'.[test]'" in command_after("test-command")


def _normalise(output: str) -> list[str]:
    """Output lines without trailing spaces and without the run time."""
    return [re.sub(r"· [0-9.]+ s", "· _ s", line.rstrip()) for line in output.strip().splitlines()]


@pytest.mark.parametrize("args", re.findall(r"<!-- example: (.+?) -->", README))
def test_example_output_in_the_readme_is_what_the_tool_prints(args):
    """Regenerate with `python docs/readme_examples.py` when the output changes on purpose."""
    block = re.search(rf"<!-- example: {re.escape(args)} -->\s*```text\n(.*?)```", README, re.S).group(1)
    shown = block.strip().splitlines()
    assert shown[0] == f"$ gradcheck {args}"
    width = max(len(line) for line in shown[1:])
    result = CliRunner().invoke(main, shlex.split(args), env={"COLUMNS": str(width)}, prog_name="gradcheck")
    assert _normalise(result.stdout) == _normalise("\n".join(shown[1:]))


@pytest.fixture(autouse=True)
def _run_from_the_repository_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_every_cli_option_is_documented_in_the_readme():
    from gradcheck_cli.cli import check_command

    for param in check_command.params:
        for name in param.opts:
            if name.startswith("--"):
                assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", README), name


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to copy the tracked files")
def test_the_try_command_works_in_a_fresh_clone(tmp_path):
    """Install into a new virtual environment from a copy of the repository and
    check a sample model, exactly as the README tells a newcomer to."""
    command = command_after("try-command")
    copy = tmp_path / "repo"
    copy.mkdir()
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], capture_output=True, text=True,
                           cwd=ROOT, check=True).stdout.split()
    for name in files:
        source = ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(sys.prefix))
    result = subprocess.run(["bash", "-c", command], cwd=copy, env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "PASS" in result.stdout


def test_the_configuration_and_ci_examples_work(tmp_path, monkeypatch):
    """The README's pyproject snippet and the `gradcheck` steps of its GitHub
    Actions job, run in a project laid out as they assume."""
    (tmp_path / "models").mkdir()
    shutil.copy(ROOT / "sample_models" / "two_layer_net.py", tmp_path / "models")
    shutil.copy(ROOT / "sample_models" / "softmax.py", tmp_path / "models")
    (tmp_path / "pyproject.toml").write_text(command_after("config-example") + "\n")
    monkeypatch.chdir(tmp_path)
    steps = [line.split("run:", 1)[1].strip() for line in command_after("ci-example").splitlines()
             if "run:" in line and "gradcheck " in line.split("run:", 1)[1] + " "]
    steps = [s for s in steps if s.startswith("gradcheck")]
    assert steps, "the CI example runs gradcheck"
    for step in steps:
        result = CliRunner().invoke(main, shlex.split(step)[1:], prog_name="gradcheck")
        assert result.exit_code == 0, result.output
    assert (tmp_path / "gradcheck.xml").read_text().count("<testcase") == 6


def test_the_pre_commit_hook_runs_the_console_script():
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "id: gradcheck" in hooks and "entry: gradcheck" in hooks and "pass_filenames: false" in hooks
    assert "gradcheck = \"gradcheck_cli.cli:main\"" in (ROOT / "pyproject.toml").read_text()
