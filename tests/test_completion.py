"""Shell completion in bash, zsh and fish: click's protocol, driven as
each shell's script drives it, and through the shells themselves (with the
manual's lines, docs/options.md) where they are installed."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcheck_cli.cli import main

from .test_readme import command_after

# The console script beside this interpreter: the program a shell runs.
SCRIPT = Path(sys.executable).with_name("gradcheck")
needs_script = pytest.mark.skipif(not SCRIPT.exists(), reason="the gradcheck console script is not installed here")


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A working directory with a model, a folder of models, a parameters file."""
    (tmp_path / "sweep_model.py").write_text("")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "svm.py").write_text("")
    (tmp_path / "weights.npz").write_bytes(b"")
    (tmp_path / ".hidden.py").write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def complete(shell: str, line: str) -> list[tuple[str, str]]:
    """(type, value) of each completion the shell's script is sent for the
    last word of ``line`` (empty after a trailing space)."""
    words = line.split(" ")
    if shell == "fish":  # (fish sends the line and the word under the cursor)
        env = {"COMP_WORDS": line, "COMP_CWORD": words[-1]}
    else:
        env = {"COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
    result = CliRunner().invoke(main, [], env={"_GRADCHECK_COMPLETE": f"{shell}_complete", **env},
                                prog_name="gradcheck")
    assert result.exit_code == 0, result.output
    return parse(shell, result.stdout)


def parse(shell: str, out: str) -> list[tuple[str, str]]:
    if shell == "zsh":  # (three lines each: type, value, help)
        lines = out.splitlines()
        return [(lines[i], lines[i + 1]) for i in range(0, len(lines) - 2, 3)]
    return [tuple(line.split("\t")[0].split(",", 1)) for line in out.splitlines() if line]


SHELLS = ["bash", "zsh", "fish"]


@pytest.mark.parametrize("shell", SHELLS)
def test_the_first_word_completes_the_commands_and_the_paths(shell, folder):
    # `gradcheck MODEL` is `gradcheck check MODEL`: both are possible first.
    got = complete(shell, "gradcheck sw")
    assert ("plain", "sweep") in got and ("plain", "sanity") not in got
    if shell == "bash":  # (bash's script would drop its own file completion beside a name: listed here)
        assert ("plain", "sweep_model.py") in got and ("plain", "weights.npz") not in got
        assert ("plain", "models/") in complete(shell, "gradcheck ")
        assert ("plain", ".hidden.py") not in complete(shell, "gradcheck ")
    else:  # (zsh and fish list the paths themselves)
        assert ("file", "sw") in got


@pytest.mark.parametrize("shell", SHELLS)
def test_a_path_is_left_to_the_shells_own_filename_completion(shell, folder):
    # No command starts "mo": bash's `-o default`, zsh's _path_files, fish's __fish_complete_path.
    assert complete(shell, "gradcheck mo") == [("file", "mo")]
    assert complete(shell, "gradcheck models/") == [("file", "models/")]


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("line", ["gradcheck sweep_model.py sw", "gradcheck check sw", "gradcheck sweep sw",
                                  "gradcheck sanity sw", "gradcheck --samples 3 sw"])
def test_later_model_words_are_paths_only(shell, line, folder):
    assert complete(shell, line) == [("file", "sw")]


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("line, option", [("gradcheck --sam", "--samples"), ("gradcheck m.py --sam", "--samples"),
                                          ("gradcheck sweep m.py --pl", "--plot"),
                                          ("gradcheck sanity m.py --over", "--overfit-factor")])
def test_option_names_complete(shell, line, option):
    assert ("plain", option) in complete(shell, line)


@pytest.mark.parametrize("shell", SHELLS)
def test_a_choice_completes_its_values(shell):
    assert complete(shell, "gradcheck m.py --method c") == [("plain", "central"), ("plain", "complex-step")]
    assert complete(shell, "gradcheck sanity m.py --optimizer ") == [("plain", "adam"), ("plain", "sgd")]


# The keywords gradcheck's options take beside a number or a name (their
# metavars and docs/options.md spell them: N|all, FLOAT|auto, auto|none|NAME).
KEYWORDS = {"all", "auto", "off", "none"}


def keyword_options() -> list[tuple[str, str, set]]:
    """(command, option, the keywords its help's metavar names) of every
    option of every command that takes keywords."""
    import click

    found = []
    for name, command in main.commands.items():
        ctx = click.Context(command, info_name=name)
        for param in command.get_params(ctx):
            if isinstance(param, click.Option) and not param.is_flag:
                metavar = param.get_help_record(ctx)[0].split(" ", 1)[-1]
                words = KEYWORDS & set(metavar.strip("[]").lower().split("|"))
                if words:
                    found.append((name, param.opts[-1], words))
    return found


def test_the_options_taking_keywords_are_found():
    # (the walk below must see them: --samples of check and sweep, --jobs, --warmup, --h, check's --reg)
    assert {(name, option) for name, option, _ in keyword_options()} >= {
        ("check", "--samples"), ("sweep", "--samples"), ("check", "--jobs"), ("check", "--warmup"),
        ("check", "--h"), ("check", "--reg")}


@pytest.mark.parametrize("shell", SHELLS)
def test_an_options_keywords_complete(shell):
    for name, option, words in keyword_options():
        got = complete(shell, f"gradcheck {name} m.py {option} ")
        assert {value for _, value in got} >= words, (name, option, got)
        started = complete(shell, f"gradcheck {name} m.py {option} A")  # (any case, as the options read them)
        assert {value for _, value in started} == {word for word in words if word.startswith("a")}, (name, option)


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("line", ["gradcheck m.py --params w", "gradcheck m.py --data w", "gradcheck --config w",
                                  "gradcheck m.py --junit-xml w", "gradcheck m.py --save-params w",
                                  "gradcheck sweep m.py --plot w", "gradcheck sanity m.py --junit-xml w"])
def test_file_options_complete_as_files(shell, line, folder):
    assert complete(shell, line) == [("file", "w")]


@needs_script
def test_the_console_script_answers_the_protocol(folder):
    env = {**os.environ, "_GRADCHECK_COMPLETE": "bash_complete", "COMP_WORDS": "gradcheck sw", "COMP_CWORD": "1"}
    done = subprocess.run([str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["plain,sweep", "plain,sweep_model.py"]


@needs_script
def test_a_completion_request_is_answered_even_for_a_lone_version(folder):
    # (the console script answers a lone --version before click is imported; a shell's request comes first)
    env = {**os.environ, "_GRADCHECK_COMPLETE": "bash_complete", "COMP_WORDS": "gradcheck sw", "COMP_CWORD": "1"}
    done = subprocess.run([str(SCRIPT), "--version"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "plain,sweep" in done.stdout.splitlines()


def shell_env() -> dict:
    """The environment a user's shell has: gradcheck on the PATH."""
    return {**os.environ, "PATH": f"{SCRIPT.parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def readme_line(shell: str) -> str:
    """The manual's line that sets up completion in ``shell``."""
    [line] = [line for line in command_after("shell-completion", "docs/options.md").splitlines() if f"={shell}_source " in line]
    return line


@needs_script
@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("word, offered, default", [("sw", ["sweep", "sweep_model.py"], False),
                                                    ("mo", ["models/"], True), ("we", ["weights.npz"], True)])
def test_bash_completes_through_the_sourced_script(word, offered, default, folder):
    # The manual's line, then the function bash calls on TAB. compopt works
    # only inside a real completion: here it records what bash was told;
    # `-o default` means readline's filename completion, which compgen
    # stands in for.
    program = f"""
        {readme_line("bash")}
        compopt() {{ options+=("$1 $2"); }}
        options=()
        COMP_WORDS=(gradcheck {word}); COMP_CWORD=1
        _gradcheck_completion gradcheck
        if [[ "${{options[*]}}" == "-o default" && ${{#COMPREPLY[@]}} -eq 0 ]]; then
            echo default; COMPREPLY=($(compgen -f -- {word}))
        fi
        printf '%s\\n' "${{COMPREPLY[@]}}"
    """
    done = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, env=shell_env(),
                          timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split()
    assert (lines[0] == "default") == default
    assert sorted(line.rstrip("/") for line in lines[default:]) == sorted(path.rstrip("/") for path in offered)


@needs_script
@pytest.mark.skipif(shutil.which("fish") is None, reason="needs fish")
@pytest.mark.parametrize("line, offered", [("gradcheck sw", {"sweep", "sweep_model.py"}),
                                           ("gradcheck models/", {"models/svm.py"}),
                                           ("gradcheck m.py --params w", {"weights.npz"}),
                                           ("gradcheck m.py --method c", {"central", "complex-step"})])
def test_fish_completes_through_the_sourced_script(line, offered, folder):
    program = f'{readme_line("fish")}\ncomplete -C "{line}"'
    done = subprocess.run(["fish", "--no-config", "-c", program], capture_output=True, text=True, env=shell_env(),
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert {entry.split("\t")[0] for entry in done.stdout.splitlines()} == offered


@needs_script
@pytest.mark.skipif(shutil.which("zsh") is None, reason="needs zsh")
def test_zsh_registers_the_completion():
    # (zsh's completion system cannot run outside an interactive line
    # editor: the protocol tests above cover what its script is sent)
    program = f'autoload -U compinit; compinit -u -D\n{readme_line("zsh")}\nprint -r -- $_comps[gradcheck]'
    done = subprocess.run(["zsh", "-f", "-c", program], capture_output=True, text=True, env=shell_env(), timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "_gradcheck_completion"
