"""The README and the manual (docs/*.md) cannot drift: their commands run,
and their example output is real."""

import ast
import dataclasses
import importlib.util
import inspect
import os
import pydoc
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcheck_cli.cli import main

from .conftest import ROOT

README = (ROOT / "README.md").read_text()
# Every page a reader may meet an example on: the README, then the manual's.
PAGES = {name: (ROOT / name).read_text()
         for name in ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]}
# The README is a newcomer's page (issue 26): what gradcheck is, the two
# commands, the 30-second example, the model contract and CI in brief, and
# links; everything else is the manual's.
README_MAX_LINES = 300


def command_after(marker: str, page: str = "README.md") -> str:
    """The first fenced code block after an HTML comment marker on ``page``."""
    match = re.search(rf"<!-- {marker} -->\s*```\w*\n(.*?)```", PAGES[page], re.S)
    assert match, f"{page} has no code block after <!-- {marker} -->"
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


# What a README example may differ in between machines. Models compute
# through BLAS and numpy's SIMD loops, whose rounding depends on the CPU, so
# every value at round-off level differs from machine to machine: compare
# structure, grades and counts exactly, measured values with a tolerance far
# above what round-off can move them, and round-off-level values not at all.
ROUNDOFF_LEVEL = 1e-6  # below this a relative error or a noise level is round-off
VALUE_RTOL = 1e-4  # printed values (losses, gradients) agree to this
EVALUATIONS_RTOL = 0.3  # a check's evaluation count agrees to this
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_MARKERS = "●•×"


def _normalise(output: str) -> list[str]:
    """Output lines without trailing spaces and without the run time; and
    without how many budgets wide a confirmed failure is, when that is ten
    thousand or more: the budget is round-off, so that count is a ratio to
    a rounding digit another CPU writes differently (4e+08 here, 6e+08 under
    OPENBLAS_CORETYPE=Nehalem), while its meaning, far beyond, is not (the
    line may wrap after the "x")."""
    lines = []
    for line in output.strip().splitlines():
        line = re.sub(r"· [0-9.]+ s", "· _ s", line.rstrip())
        lines.append(re.sub(r"\b\d(\.\d+)?e\+0*([4-9]|\d\d)x\b", "(far)x", line))
    return lines


def _numbers_agree(a: str, b: str) -> bool:
    if not any(c in a for c in ".eE") and not any(c in b for c in ".eE"):
        return int(a) == int(b)  # counts are exact
    x, y = float(a), float(b)
    scale = max(abs(x), abs(y))
    return scale < ROUNDOFF_LEVEL or abs(x - y) <= VALUE_RTOL * scale


def _line_differences(expected: str, actual: str) -> str | None:
    """Text equal up to spacing; numbers as _numbers_agree says, but a
    check's evaluation count within EVALUATIONS_RTOL: whether a value gets a
    second stencil or a second Taylor step can turn on a round-off digit."""
    # A rule under a table is as wide as the table, whose columns are as wide as their values.
    words = [" ".join(_NUMBER.sub("#", re.sub("─+", "─", line)).split()) for line in (expected, actual)]
    if words[0] != words[1]:
        return f"{expected!r} != {actual!r}"
    found = [list(_NUMBER.finditer(line)) for line in (expected, actual)]
    for a, b in zip(*found):
        if expected[a.end():].startswith(" evaluations"):
            x, y = int(a.group()), int(b.group())
            if abs(x - y) > EVALUATIONS_RTOL * max(x, y):
                return f"{x} != {y} evaluations in {expected!r} / {actual!r}"
        elif not _numbers_agree(a.group(), b.group()):
            return f"{a.group()} != {b.group()} in {expected!r} / {actual!r}"
    return None


def _table_row_differences(header: list[str], expected: str, actual: str) -> str | None:
    """A report table row: block, shape, counts and grade exactly; where both
    errors are at round-off level, which element is the worst (and its
    values) is decided by round-off, so those cells are not compared."""
    cells = [re.split(r"\s{2,}", line.strip()) for line in (expected, actual)]
    if len(cells[0]) != len(header) or len(cells[1]) != len(header):
        return _line_differences(expected, actual)
    rows = [dict(zip(header, c)) for c in cells]
    error = "max rel err"
    # ("-": nothing measurable, both values at round-off of 0)
    if all((0.0 if row[error] == "-" else float(row[error])) < ROUNDOFF_LEVEL
           for row in rows):
        for row in rows:
            for column in (error, "worst at", "analytic", "numeric"):
                row[column] = "(round-off)"
    return _line_differences("  ".join(rows[0].values()), "  ".join(rows[1].values()))


def _stacked_value(line: str) -> bool:
    """A line holding one number alone: a stacked cell's second value."""
    return bool(re.fullmatch(r"\s+-?[0-9][0-9.e+-]*", line))


def _at_roundoff(header: list[str], expected: str, actual: str) -> bool:
    """Both versions of a table row have their max rel err at round-off level."""
    cells = [re.split(r"\s{2,}", line.strip()) for line in (expected, actual)]
    if any(len(c) != len(header) for c in cells):
        return False
    errors = [dict(zip(header, c)).get("max rel err", "-") for c in cells]
    return all((0.0 if e == "-" else float(e)) < ROUNDOFF_LEVEL for e in errors)


def _plot_differences(expected: list[str], actual: list[str], roundoff_from: int | None) -> str | None:
    """A terminal plot: its axis labels as text, each marker within one row
    (a factor of 10 on the log axes) of where it was, and markers right of
    ``roundoff_from`` (a sweep's round-off arm) anywhere in their column."""
    def markers(lines):
        found = {}
        for row, line in enumerate(lines):
            _, _, body = line.partition("┤")
            for col, char in enumerate(body):
                if char in _MARKERS:
                    found.setdefault((col, char), []).append(row)
        return found

    for e, a in zip(expected, actual):
        problem = _line_differences(e.partition("┤")[0], a.partition("┤")[0])
        if problem:
            return problem
    shown, drawn = markers(expected), markers(actual)
    if set(shown) != set(drawn):
        return f"plot markers in columns {sorted(shown)} != {sorted(drawn)}"
    for (col, char), rows in shown.items():
        if len(rows) != len(drawn[(col, char)]):
            return f"plot column {col}: {len(rows)} markers != {len(drawn[(col, char)])}"
        if roundoff_from is not None and col > roundoff_from:
            continue
        if any(abs(r - s) > 1 for r, s in zip(sorted(rows), sorted(drawn[(col, char)]))):
            return f"plot column {col}: markers at rows {rows} != {drawn[(col, char)]}"
    return None


def example_differences(expected: str, actual: str) -> list[str]:
    """How ``actual`` output differs from a README example, beyond what
    the CPU's rounding may change (empty: the same)."""
    shown, printed = _normalise(expected), _normalise(actual)
    if len(shown) != len(printed):
        return [f"{len(shown)} lines shown != {len(printed)} printed"]
    problems, header, i, roundoff_row = [], None, 0, False
    # A sweep's recommended step marks the end of the truncation arm.
    marker = next((line.index("▲") for line in shown if "▲" in line and not line.replace("▲", "").strip()), None)
    while i < len(shown):
        if "┤" in shown[i]:
            end = i
            while end < len(shown) and ("┤" in shown[end]):
                end += 1
            offset = shown[i].index("┤") + 1
            problem = _plot_differences(shown[i:end], printed[i:end],
                                        None if marker is None else marker - offset)
            i = end
        else:
            if "max rel err" in shown[i]:
                header = re.split(r"\s{2,}", shown[i].strip())
            if header and _stacked_value(shown[i]) and _stacked_value(printed[i]):
                # The second line of a row whose values are stacked (numeric
                # under analytic, at 80 columns): as round-off-bound as the row.
                problem = None if roundoff_row else _line_differences(shown[i], printed[i])
            elif header and not shown[i].startswith("─") and "max rel err" not in shown[i]:
                problem = _table_row_differences(header, shown[i], printed[i])
                roundoff_row = _at_roundoff(header, shown[i], printed[i])
            else:
                problem = _line_differences(shown[i], printed[i])
            i += 1
        if problem:
            problems.append(problem)
    return problems


def test_example_comparison_ignores_round_off_but_not_meaning():
    shown = """block   shape         checked   max rel err   worst at           analytic            numeric   kinks   grade
W1      (5, 7)   10/35 +2 dir       1.3e-09   [0, 2]       0.005173131584     0.005173131591       -   pass
b       (4,)              4/4       1.0e+00   [0]                     0   -0.06466190923       -   fail
PASS  m.py: 2 blocks (1 pass, 1 fail) · 42 evaluations · 0.01 s"""
    elsewhere = shown.replace("1.3e-09   [0, 2]       0.005173131584     0.005173131591",
                              "2.0e-09   [1, 3]      -0.01956471496     -0.01956471497")
    assert example_differences(shown, elsewhere) == []
    far = "  b[0]: fail: confirmed: analytic 0, numeric -0.0646619 ± 7.9e-11 (two stencils): 8e+08x the budget"
    assert example_differences(far, far.replace("8e+08x", "1e+09x")) == []
    assert example_differences(far, far.replace("8e+08x", "5x"))  # no longer far beyond
    # A second stencil or Taylor step more or less, where a round-off digit decides it.
    assert example_differences(shown, shown.replace("42 evaluations", "50 evaluations")) == []
    for changed in (shown.replace("1.3e-09", "2.0e-04"), shown.replace("-0.06466190923", "-0.06470000000"),
                    shown.replace("pass\nb", "warn\nb"), shown.replace("42 evaluations", "62 evaluations"),
                    shown.replace("10/35", "11/35")):
        assert example_differences(shown, changed), changed


@pytest.mark.parametrize(("page", "args"), [(page, args) for page, text in PAGES.items()
                                             for args in re.findall(r"<!-- example: (.+?) -->", text)])
def test_example_output_in_the_docs_is_what_the_tool_prints(page, args):
    """Regenerate with `python docs/readme_examples.py` when the output changes on purpose."""
    block = re.search(rf"<!-- example: {re.escape(args)} -->\s*```text\n(.*?)```", PAGES[page], re.S).group(1)
    shown = block.strip().splitlines()
    assert shown[0] == f"$ gradcheck {args}"
    # The examples are as the report reads at 80 columns; which layout fits
    # there does not hang on a round-off digit (render/text.py), so another
    # CPU lays them out the same.
    assert max(len(line) for line in shown[1:]) <= 80
    result = CliRunner().invoke(main, shlex.split(args), env={"COLUMNS": "80"}, prog_name="gradcheck")
    assert example_differences("\n".join(shown[1:]), result.stdout) == []


@pytest.fixture(autouse=True)
def _run_from_the_repository_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_every_cli_option_is_documented_in_the_manual():
    from gradcheck_cli.cli import check_command

    options = PAGES["docs/options.md"]
    for param in check_command.params:
        for name in param.opts:
            if name.startswith("--"):
                assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", options), name


def test_the_options_page_shows_usage_and_options_as_the_help_prints_them():
    """docs/options.md's usage line and option column are the help's own
    (metavars included: ``--samples N|ALL``), so a reader can match them."""
    help_text = CliRunner().invoke(main, ["--help"], prog_name="gradcheck").output
    usage = re.search(r"^Usage: (.*)$", help_text, re.M).group(1)
    shown = re.findall(r"^  (-\S.*?)(?:  |$)", help_text, re.M)
    assert "--samples N|ALL" in shown
    options = PAGES["docs/options.md"]
    assert f"```text\n{usage}\n```" in options
    # (a | in a table's code is \| on GitHub)
    assert [option for option in shown if f"| `{option.replace('|', chr(92) + '|')}` |" not in options] == []


@pytest.mark.install
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
    """The manual's pyproject snippet and the `gradcheck` steps of its GitHub
    Actions job, run in a project laid out as they assume."""
    (tmp_path / "models").mkdir()
    shutil.copy(ROOT / "sample_models" / "two_layer_net.py", tmp_path / "models")
    shutil.copy(ROOT / "sample_models" / "softmax.py", tmp_path / "models")
    (tmp_path / "pyproject.toml").write_text(command_after("config-example", "docs/configuration.md") + "\n")
    monkeypatch.chdir(tmp_path)
    steps = [line.split("run:", 1)[1].strip() for line in command_after("ci-example", "docs/ci.md").splitlines()
             if "run:" in line and "gradcheck " in line.split("run:", 1)[1] + " "]
    steps = [s for s in steps if s.startswith("gradcheck")]
    assert steps, "the CI example runs gradcheck"
    for step in steps:
        result = CliRunner().invoke(main, shlex.split(step)[1:], prog_name="gradcheck")
        assert result.exit_code == 0, result.output
    # Every block of both models, at the start point and at the generic point.
    assert (tmp_path / "gradcheck.xml").read_text().count("<testcase") == 12


def test_the_pre_commit_hook_runs_the_console_script():
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "id: gradcheck" in hooks and "entry: gradcheck" in hooks and "pass_filenames: false" in hooks
    assert "gradcheck = \"gradcheck_cli.launch:run\"" in (ROOT / "pyproject.toml").read_text()


def test_a_stacked_value_is_compared_unless_its_row_is_at_round_off():
    shown = """                                       analytic
block   checked   max rel err   worst at    numeric   grade
W       10/20         1.0e+00   [4, 2]        0.5     fail
                                             -0.25
b         4/4         1.3e-09   [0]         0.125     pass
                                            0.125"""
    assert example_differences(shown, shown.replace("-0.25", "-0.75"))  # a failing row's value: meaning
    assert example_differences(shown, shown.replace("0.125\n", "0.126\n").replace("0.125", "0.126")) == []


@pytest.mark.install
@pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")
def test_the_pre_commit_example_runs_as_a_repository_would(tmp_path):
    """The manual's .pre-commit-config.yaml in a fresh git repository: the
    hook passes while the listed model is right and fails when a wrong one
    is listed."""
    pytest.importorskip("pre_commit")
    repo = tmp_path / "project"
    (repo / "models").mkdir(parents=True)
    shutil.copy(ROOT / "sample_models" / "softmax.py", repo / "models")
    shutil.copy(ROOT / "sample_models" / "buggy_missing_bias.py", repo / "models")
    (repo / ".pre-commit-config.yaml").write_text(command_after("pre-commit-example", "docs/ci.md"))
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
           "PRE_COMMIT_HOME": str(tmp_path / "cache"), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}

    def pre_commit(models: str) -> subprocess.CompletedProcess:
        (repo / "pyproject.toml").write_text(f"[tool.gradcheck]\nmodels = {models}\n")
        subprocess.run(["git", "add", "-A"], cwd=repo, env=env, check=True, capture_output=True)
        return subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=600)

    subprocess.run(["git", "init", "-q"], cwd=repo, env=env, check=True)
    right = pre_commit('["models/softmax.py"]')
    assert right.returncode == 0, right.stdout[-2000:] + right.stderr[-2000:]
    wrong = pre_commit('["models/buggy_missing_bias.py"]')
    assert wrong.returncode == 1 and "FAIL" in wrong.stdout, wrong.stdout[-2000:]


def test_the_readme_is_a_newcomers_page():
    lines = README.count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail into the manual (docs/)"


def test_the_readmes_links_lead_to_files_of_the_repository():
    """On GitHub, with no site published, the README's links into the manual
    are relative paths: each must name a file or folder that exists."""
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)
    local = [t for t in targets if not re.match(r"\w+:", t)]
    assert any(t.startswith("docs/") for t in local)
    assert [t for t in local if not (ROOT / t).exists()] == []


def test_the_manuals_links_lead_to_what_github_shows():
    """docs/*.md are read on GitHub too: a relative link names a file there,
    and never a page that only includes another file when the site is built
    (GitHub shows the snippet's directive: link the file itself)."""
    broken = []
    for page, text in PAGES.items():
        if page.startswith("docs/"):
            for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
                path = ROOT / "docs" / target
                if not re.match(r"\w+:", target) and (not path.exists() or path.is_file()
                                                      and path.read_text().lstrip().startswith("--8<--")):
                    broken.append(f"{page}: {target}")
    assert broken == []


def test_the_manuals_home_shows_the_readmes_commands():
    for marker in ("try-command", "test-command"):
        assert command_after(marker, "docs/index.md") == command_after(marker)


def _api_reference() -> list[str]:
    """The objects docs/api.md renders, as the docs' build reads the page
    (docs/mkdocs_hooks.py)."""
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "docs" / "mkdocs_hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    return hooks.documented_paths(PAGES["docs/api.md"])


def test_the_api_reference_documents_every_public_name():
    """docs/api.md holds a mkdocstrings directive for each name the package
    exports, pointed at the module that defines it (the package imports
    them lazily, which a reader of its source cannot follow)."""
    import gradcheck_cli

    documented = _api_reference()
    assert [name for name, module in gradcheck_cli._EXPORTS.items()
            if f"gradcheck_cli.{module}.{name}" not in documented] == []


def test_the_errors_a_public_function_raises_are_exported():
    """A caller catches what check() and its kin raise (CheckTimeout,
    Interrupted...) by the names their docstrings give, from the package."""
    import gradcheck_cli

    docstrings = "\n".join(inspect.getdoc(getattr(gradcheck_cli, name)) or "" for name in gradcheck_cli._EXPORTS)
    named = set(re.findall(r"gradcheck_cli\.errors\.(\w+)", docstrings))
    assert named and named <= set(gradcheck_cli._EXPORTS)


def _docstrings_of_fields(cls: type) -> set[str]:
    """The fields of ``cls``'s own source followed by a string literal (the
    attribute docstrings mkdocstrings reads; a ``#`` comment it cannot)."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    return {field.target.id for field, after in zip(body, body[1:])
            if isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name)
            and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)}


def test_every_field_in_the_api_reference_has_a_docstring():
    """mkdocstrings leaves a field without a docstring of its own out of the
    API reference, so a result's fields would be missing from it."""
    classes = [c for c in map(pydoc.locate, _api_reference()) if dataclasses.is_dataclass(c)]
    assert len(classes) >= 10
    missing = [f"{c.__name__}.{f.name}" for c in classes for f in dataclasses.fields(c)
               if not f.name.startswith("_") and f.name not in _docstrings_of_fields(c)]
    assert missing == []


def test_every_property_in_the_api_reference_has_a_docstring():
    """As a field: a property without one is missing from the API reference."""
    classes = [c for c in map(pydoc.locate, _api_reference()) if isinstance(c, type)]
    missing = [f"{c.__name__}.{name}" for c in classes for name, value in vars(c).items()
               if isinstance(value, property) and not name.startswith("_") and not value.__doc__]
    assert missing == []


@pytest.fixture(scope="module")
def api_page(tmp_path_factory) -> str:
    """docs/api.md as the site renders it (the 'docs' extra's mkdocs build)."""
    pytest.importorskip("mkdocstrings", reason="the site is built with the 'docs' extra")
    site = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)], cwd=ROOT,
                   env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, check=True, capture_output=True)
    return (site / "api" / "index.html").read_text()


def test_the_rendered_api_reference_shows_defaults_links_and_fields(api_page):
    from gradcheck_cli.settings import DEFAULT_SAMPLES, DEFAULT_SEED

    signature = re.search(r'id="gradcheck_cli\.pipeline\.check".*?</h3>', api_page, re.S).group()
    text = re.sub(r"<[^>]+>", "", signature)
    assert f"seed={DEFAULT_SEED}" in text and f"samples={DEFAULT_SAMPLES}" in text, text
    # Sphinx roles are links where their target is on the page, and never literal text.
    assert 'href="#gradcheck_cli.errors.CheckTimeout"' in api_page
    assert not re.search(r":(func|class|meth|attr|data|mod):|~gradcheck_cli", api_page)
    assert "module docstring" not in api_page
    for path in _api_reference():
        cls = pydoc.locate(path)
        if dataclasses.is_dataclass(cls):
            for field in dataclasses.fields(cls):
                assert f'id="{path}.{field.name}"' in api_page, f"{path}.{field.name}"
    # The layer's helpers for messages are not the API.
    assert 'id="gradcheck_cli.layers.Layer.init_params"' in api_page
    assert 'id="gradcheck_cli.layers.Layer.holders"' not in api_page
