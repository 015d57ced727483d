"""The JSON documents: one shape on every path, strict JSON, and every key
documented in docs/json.md.

docs/json.md has a section ``### Name`` per object, whose first table lists
its keys (first column, in backticks) and their types (second column: a
type that is another object links to it, ``[Report](#report)``; ``map: ...``
is an object whose keys are data). Real documents are made on many paths
and every key path in them is looked up there: a key added to the output
and not to the page fails here.
"""

import dataclasses
import json
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

import gradcheck_cli
from gradcheck_cli.cli import main
from gradcheck_cli.render import json as json_render
from gradcheck_cli.report import DIAGNOSIS_KINDS, Diagnosis

from .conftest import ROOT, SAMPLES

DOC = ROOT / "docs" / "json.md"
TOP_LEVEL = ["schema_version", "tool_version", "verdict", "config", "models", "error"]
_RANK = {"pass": 0, "warn": 1, "fail": 2, "error": 3}


def strict(text: str):
    """One strict JSON document: NaN and Infinity refused."""

    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


# -- the page ------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Key:
    objects: tuple[str, ...]  # the objects its value may be (links in the type column)
    is_map: bool  # an object whose keys are data (block names)


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


def documented() -> dict[str, dict[str, Key]]:
    """Object name -> key -> Key, from docs/json.md's first table under each ``### Name``."""
    objects: dict[str, dict[str, Key]] = {}
    current, in_table = None, False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"#{1,6} ", line)
        if heading:
            name = re.fullmatch(r"### (\w+)", line)
            current = name.group(1) if name else None
            in_table = False
            if current is not None:
                assert current not in objects, f"docs/json.md: two sections named {current}"
                objects[current] = {}
            continue
        if current is None:
            continue
        if line.startswith("|"):
            in_table = True
            cells = _cells(line)
            key = re.fullmatch(r"`([^`]+)`", cells[0])
            if key is not None:
                links = re.findall(r"\[(\w+)\]\(#([\w-]+)\)", cells[1])
                for name, anchor in links:
                    assert anchor == name.lower(), f"docs/json.md: [{name}](#{anchor}) links elsewhere"
                objects[current][key.group(1)] = Key(tuple(name for name, _ in links), "map:" in cells[1])
        elif in_table:  # the first table ended: later tables (the kinds) are not keys
            current = None
    return objects


OBJECTS = documented()


def undocumented(document, objects=OBJECTS) -> list[str]:
    """Every key path of ``document`` docs/json.md does not document."""
    problems: list[str] = []

    def walk(value, key: Key, path: str, parent: dict | None) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item, key, path + "[]", parent)
            return
        if not isinstance(value, dict):
            return
        # A sanity check's details are block names for the update/param ratio (docs/json.md, SanityCheck).
        if key.is_map and (not key.objects or (parent or {}).get("name") == "update/param ratio"):
            for name, item in value.items():
                walk(item, Key((), False), f"{path}.<{name}>", value)
            return
        if not key.objects:
            problems.append(f"{path}: an object, documented as none")
            return
        # The object it is: the first that documents all its keys, else the one that documents most.
        name = min(key.objects, key=lambda name: len(set(value) - set(objects[name])))
        table = objects[name]
        for k, item in value.items():
            if k in table:
                walk(item, table[k], f"{path}.{k}", value)
            else:
                problems.append(f"{path}.{k} (not in {name})")

    walk(document, Key(("Document",), False), "", None)
    return problems


def test_the_page_parses_and_every_link_is_a_section():
    assert set(OBJECTS["Document"]) == set(TOP_LEVEL)
    for name in ("Report", "Block", "Value", "Kink", "UntrackedKink", "Taylor", "TaylorSide", "Evidence",
                 "Diagnosis", "StartPoint", "KinkSite", "GenericPoint", "Flip", "Regularization", "Settings",
                 "ModelFailure", "Config", "Looser", "SweepReport", "SweepCurve", "SweepPoint", "SanityReport",
                 "SanityCheck", "SanityDetails"):
        assert name in OBJECTS
    for name, table in OBJECTS.items():
        for key, spec in table.items():
            assert all(target in OBJECTS for target in spec.objects), f"{name}.{key} links to a missing section"


def test_every_diagnosis_kind_is_described():
    text = DOC.read_text(encoding="utf-8")
    for kind in DIAGNOSIS_KINDS:
        assert re.search(rf"^\| `{kind}` \|", text, re.M), kind


def test_an_undocumented_key_is_caught():
    document = json.loads(json_render.error_document("boom", "m.py"))
    assert undocumented(document) == []
    document["models"][0]["surprise"] = 1
    document["extra"] = {"a": 1}
    assert undocumented(document) == [".models[].surprise (not in ModelFailure)", ".extra (not in Document)"]


# -- real documents ------------------------------------------------------------------

HANGS = """
import numpy as np
params = {"w": np.ones(3), "v": np.ones(2)}
def loss(p):
    if abs(p["v"][0] - 1.0) > 5e-6:  # hangs once v is probed
        while True:
            pass
    return float(np.sum(p["w"] ** 2) + np.sum(p["v"] ** 2))
def grad(p): return {"w": 2 * p["w"], "v": 2 * p["v"]}
"""
GOOD = """
import numpy as np
params = {"w": np.linspace(0.1, 1.0, 4)}
def loss(p): return float(np.sum(np.sin(p["w"])))
def grad(p): return {"w": np.cos(p["w"])}
"""
NAN_STRENGTH = "reg = float('nan')\n" + GOOD
ENDS_THE_PROCESS = """
import os
import numpy as np
params = {"w": np.ones(3)}
def loss(p):
    os._exit(0)
def grad(p): return {"w": 2 * p["w"]}
"""


def _cli(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*map(str, args)], prog_name="gradcheck")
    return result.exit_code, result.stdout


def _console(*args, cwd=ROOT) -> tuple[int, str]:
    """As a user runs it: guarded, in its own process."""
    done = subprocess.run([sys.executable, "-m", "gradcheck_cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)
    return done.returncode, done.stdout


@pytest.fixture(scope="module")
def documents(tmp_path_factory):
    """name -> (command, exit code, stdout) on every path a document is written on."""
    folder = tmp_path_factory.mktemp("models")
    (folder / "broken.py").write_text("import numpy as np\n\ndef loss(p)\n    return 0\n")
    (folder / "hangs.py").write_text(HANGS)
    (folder / "good.py").write_text(GOOD)
    (folder / "nan_strength.py").write_text(NAN_STRENGTH)
    (folder / "ends.py").write_text(ENDS_THE_PROCESS)
    (folder / "pyproject.toml").write_text('[tool.gradcheck]\nfail-above = 0.5\nsamples = 4\n')
    runs = {
        "pass": ("check", _cli(SAMPLES / "two_layer_net.py", "--format", "json")),
        "fail": ("check", _cli(SAMPLES / "buggy_missing_1_over_n.py", "--format", "json")),
        "fail at a kink": ("check", _cli(SAMPLES / "buggy_svm_no_mask.py", "--format", "json", "-v")),
        "several": ("check", _cli(SAMPLES, "--format", "json")),
        "broken file": ("check", _cli(folder / "broken.py", "--format", "json")),
        "missing file": ("check", _cli(folder / "missing.py", "--format", "json")),
        "broken among others": ("check", _cli(folder / "broken.py", folder / "good.py", "--format", "json")),
        "timeout partial": ("check", _cli(folder / "hangs.py", folder / "good.py", "--timeout", "1",
                                          "--format", "json")),
        "regularization": ("check", _cli(SAMPLES / "softmax.py", "--set", "REG=50", "--format", "json")),
        "--reg NAME": ("check", _cli(SAMPLES / "softmax.py", "--reg", "REG", "--format", "json")),
        "non-finite strength": ("check", _cli(folder / "nan_strength.py", "--format", "json")),
        "degenerate start point": ("check", _cli(SAMPLES / "svm_at_kink.py", "--format", "json")),
        "untracked kinks": ("check", _cli(SAMPLES / "svm_at_kink.py", "--no-track-kinks", "--format", "json")),
        "--h auto": ("check", _cli(SAMPLES / "sigmoid_tanh.py", "--h", "auto", "--format", "json")),
        "config": ("check", _cli(SAMPLES / "cube.py", "--config", folder / "pyproject.toml", "--format", "json")),
        "usage error": ("check", _cli(SAMPLES / "cube.py", "--samples", "-3", "--format", "json")),
        "--set error": ("check", _cli(SAMPLES / "cube.py", "--set", "foo", "--format", "json")),
        "ended by the model": ("check", _console(folder / "ends.py", "--format", "json")),
        "sweep": ("sweep", _cli("sweep", SAMPLES / "cube.py", "--format", "json")),
        "sweep error": ("sweep", _cli("sweep", folder / "broken.py", "--format", "json")),
        "sanity": ("sanity", _cli("sanity", SAMPLES / "two_layer_sanity.py", "--classes", "5", "--reg", "REG",
                                  "--format", "json")),
        "sanity skipping": ("sanity", _cli("sanity", SAMPLES / "two_layer_sanity.py", "--format", "json")),
        "sanity error": ("sanity", _cli("sanity", folder / "missing.py", "--format", "json")),
    }
    return {name: (command, code, output) for name, (command, (code, output)) in runs.items()}


def test_every_document_is_strict_json_of_the_one_shape(documents):
    for name, (command, code, output) in documents.items():
        document = strict(output)  # (all of stdout: one document, nothing around it)
        assert list(document) == TOP_LEVEL, name
        assert document["schema_version"] == json_render.SCHEMA_VERSION == 2, name
        assert document["tool_version"] == gradcheck_cli.__version__, name
        assert isinstance(document["models"], list), name
        verdicts = [m["verdict"] for m in document["models"] if "verdict" in m]
        if document["error"] is not None:
            assert document["verdict"] == "error" and document["models"] == [], name
            assert code == 2, name
        elif command == "sweep" and not verdicts:
            assert document["verdict"] is None and len(document["models"]) == 1, name
        else:
            assert document["verdict"] == max(verdicts, key=_RANK.__getitem__), name
            assert code == {"pass": 0, "warn": 0, "fail": 1, "error": 2}[document["verdict"]] or "timeout" in name


def test_every_key_is_documented(documents):
    problems = {name: undocumented(strict(output)) for name, (_, _, output) in documents.items()}
    assert {name: found for name, found in problems.items() if found} == {}


def test_the_paths_hold_what_they_are_for(documents):
    """The scenarios above reach the objects docs/json.md documents (else
    the test above would check nothing there)."""
    doc = {name: strict(output) for name, (_, _, output) in documents.items()}
    one = doc["pass"]["models"]
    assert len(one) == 1 and one[0]["model"].endswith("two_layer_net.py") and one[0]["source_line"]
    assert one[0]["generic_point"]["check"]["blocks"]
    assert any(d["evidence"] for b in doc["fail"]["models"][0]["blocks"] for d in b["dims"])
    assert len(doc["several"]["models"]) > 10 and doc["several"]["verdict"] == "error"
    assert {m["verdict"] for m in doc["several"]["models"]} == {"pass", "fail", "error"}
    broken = doc["broken file"]["models"]
    assert broken[0]["verdict"] == "error" and "syntax error" in broken[0]["error"]
    assert [m["verdict"] for m in doc["broken among others"]["models"]] == ["error", "pass"]
    partial, not_reached = doc["timeout partial"]["models"]
    assert partial["stopped"].startswith("timed out") and partial["unchecked"] == ["v"]
    assert not_reached["verdict"] == "error" and "--timeout" in not_reached["error"]
    regularization = doc["regularization"]["models"][0]["regularization"]
    assert regularization["data_only"]["blocks"] and regularization["share"]
    assert doc["degenerate start point"]["models"][0]["start_point"]["degenerate"]
    assert doc["degenerate start point"]["models"][0]["start_point"]["tie"]
    assert any((m.get("generic_point") or {}).get("flipped") for m in doc["several"]["models"])
    assert '"untracked": true' in documents["untracked kinks"][2]
    assert doc["config"]["config"]["looser"][0]["key"] == "fail-above"
    assert doc["usage error"]["error"].startswith("usage:") and doc["--set error"]["error"]
    assert "ended" in doc["ended by the model"]["error"]
    assert doc["sweep"]["models"][0]["curves"] and doc["sweep error"]["models"][0]["verdict"] == "error"
    assert {c["name"] for c in doc["sanity"]["models"][0]["checks"]} >= {"update/param ratio", "overfit"}
    assert doc["sanity error"]["models"][0]["verdict"] == "error"


def test_a_diagnosis_of_every_kind_is_documented():
    """Each kind's diagnosis, made by hand in a real report: the sample
    models show only some kinds."""
    from gradcheck_cli import check
    import numpy as np

    report = check(loss=lambda p: float(np.sum(p["w"] ** 2)), grad=lambda p: {"w": 4 * p["w"]},
                   params={"w": np.linspace(0.1, 1.0, 4)})
    assert report.verdict == "fail"
    evidence = {
        "zero": {"largest_numeric": -0.16, "at": [3]},
        "ratio": {"ratio": 8.0, "values": 12, "dimension": {"value": 8, "names": ["N", "X.shape[0]"]}},
        "sign": {"ratio": -1.0, "values": 12},
        "transpose": {"values": 12},
        "param": {"factor": -0.2, "values": 12, "strength": {"name": "reg", "value": 0.1, "multiple": -2.0}},
        "confined": {"axis": 0, "wrong": [2], "slices": 5, "evaluations": 12, "also": {"axis": 1, "wrong": [0]}},
    }
    assert set(evidence) == set(DIAGNOSIS_KINDS)
    blocks = tuple(dataclasses.replace(report.blocks[0], diagnosis=Diagnosis(kind, f"looks like {kind}", numbers))
                   for kind, numbers in evidence.items())
    document = strict(json_render.dumps(dataclasses.replace(report, blocks=blocks)))
    assert [b["diagnosis"]["kind"] for b in document["models"][0]["blocks"]] == list(DIAGNOSIS_KINDS)
    assert undocumented(document) == []


def test_the_python_writers_give_the_one_shape():
    from gradcheck_cli.report import ModelFailure

    failure = strict(json_render.dumps(ModelFailure("m.py", "broken", "m.py")))
    assert list(failure) == TOP_LEVEL and failure["verdict"] == "error" and failure["error"] is None
    run_error = strict(json_render.error_document("usage: no MODEL given"))
    assert run_error["models"] == [] and run_error["error"] == "usage: no MODEL given"
    assert undocumented(failure) == undocumented(run_error) == []


# -- the manual's example (docs/json-report.md) is a real document, trimmed ---------

JSON_EXAMPLE = "sample_models/svm.py --samples 2 --directions 1 --format json"


def trimmed(value):
    """A document as docs/json-report.md shows it: each list of objects cut to its
    first, numbers to 4 significant digits."""
    if isinstance(value, dict):
        return {k: trimmed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [trimmed(value[0])] if value and isinstance(value[0], dict) else [trimmed(v) for v in value]
    if isinstance(value, float):
        return float(f"{value:.4g}")
    return value


def compact(value, indent: int = 0, width: int = 100) -> str:
    """JSON as a person lays it out: an object or list on one line where it
    fits, else its entries packed several to a line, each that does not fit
    laid out the same way, indented."""
    one = json.dumps(value)
    if indent + len(one) <= width or not isinstance(value, (dict, list)) or not value:
        return one
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        entries = [(f"{json.dumps(k)}: ", v) for k, v in value.items()]
    else:
        entries = [("", v) for v in value]
    lines, line = [], ""
    for i, (key, item) in enumerate(entries):
        comma = "," if i < len(entries) - 1 else ""
        flat = key + json.dumps(item) + comma
        if len(pad) + len(line) + len(flat) + 1 <= width:
            line = f"{line} {flat}" if line else flat
            continue
        if line:
            lines.append(pad + line)
            line = ""
        if len(pad) + len(flat) <= width:
            line = flat
        else:
            lines.append(pad + key + compact(item, indent + 2, width).lstrip() + comma)
    if line:
        lines.append(pad + line)
    opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
    return opening + "\n" + "\n".join(lines) + "\n" + " " * indent + closing


def _key_paths(value, path: str = "") -> set[str]:
    if isinstance(value, dict):
        return {p for k, v in value.items() for p in {f"{path}.{k}"} | _key_paths(v, f"{path}.{k}")}
    if isinstance(value, list):
        return {p for v in value for p in _key_paths(v, path + "[]")}
    return set()


def test_the_manuals_json_example_is_what_a_run_prints(monkeypatch):
    monkeypatch.chdir(ROOT)  # (the example names the model relative to the repository)
    page = (ROOT / "docs" / "json-report.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- json-example: {re.escape(JSON_EXAMPLE)} -->\s*```json\n(.*?)```", page, re.S)
    assert match, "docs/json-report.md has no example after <!-- json-example: ... -->"
    shown = strict(match.group(1))
    code, output = _cli(*JSON_EXAMPLE.split())
    assert code == 0
    printed = trimmed(strict(output))
    # (structure, verdicts and names exactly; the numbers are the CPU's rounding's)
    same = (_key_paths(shown) == _key_paths(printed) and shown["verdict"] == printed["verdict"]
            and [m["model"] for m in shown["models"]] == [m["model"] for m in printed["models"]])
    assert same, ("docs/json-report.md's JSON example is out of date; the tool now prints (paste it):\n"
                  + compact(printed).replace(str(ROOT) + "/", "/path/to/"))
    assert undocumented(shown) == []
