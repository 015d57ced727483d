"""The diagnosis corpus (tests/diagnosis_corpus/) is labelled truthfully.

Every bug_*.py declares EXPECTED = {block: (kind, fragment) | None}: the
diagnosis each failing block must get. This checks each label against the
facts computed by tests/diagnosis_corpus/truth.py (full float64 central
differences, no gradcheck): a labelled kind is true of the block and no
other kind is, the fragment names the right constant or slice, an
unlabelled wrong block matches no kind at all, and the ok_*.py models are
right everywhere. It does not run or import gradcheck.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tests.diagnosis_corpus import truth

CORPUS = Path(__file__).resolve().parent / "diagnosis_corpus"
BUGS = sorted(CORPUS.glob("bug_*.py"))
OKS = sorted(CORPUS.glob("ok_*.py"))
KINDS = ("zero", "ratio", "sign", "transpose", "param", "confined")
GENERIC = "generic point"


def _module_ints(module) -> dict[str, int]:
    """The model's named integer constants (its data dimensions)."""
    return {k: v for k, v in vars(module).items()
            if isinstance(v, int) and not isinstance(v, bool) and not k.startswith("_")}


def _point(module):
    """Where the labels are judged: the start point, or for a bug that only
    shows away from it, the truth's generic point."""
    if getattr(module, "EXPECTED_HINT", None) == GENERIC:
        return truth.generic_point(module)
    return None


def _check_ratio_fragment(module, name, c, fragment):
    ints = _module_ints(module)
    m = re.fullmatch(r"(\w+) = (\d+)", fragment)
    if m:
        dim, value = m.group(1), int(m.group(2))
        assert ints.get(dim) == value, f"{name}: the model has no dimension {fragment}"
        same = sorted(k for k, v in ints.items() if v == value)
        assert same == [dim], f"{name}: {value} is ambiguous, the dimensions {same} all have it"
        assert math.isclose(c, value, rel_tol=1e-4) or math.isclose(c, 1 / value, rel_tol=1e-4), \
            f"{name}: ratio {c}, not {value} or 1/{value}"
        return
    targets = {"2": 2.0, "1/2": 0.5}
    assert fragment in targets, f"{name}: unknown ratio fragment {fragment!r}"
    assert math.isclose(c, targets[fragment], rel_tol=1e-4), f"{name}: ratio {c}, not {fragment}"
    assert 2 not in ints.values(), f"{name}: a dimension equal to 2 makes the ratio ambiguous"


def _check_confined_fragment(name, f, shape, fragment):
    m = re.fullmatch(r"(row|column|element) (\d+)", fragment)
    assert m, f"{name}: unknown confined fragment {fragment!r}"
    where, k = m.group(1), int(m.group(2))
    if where == "row":
        assert len(shape) == 2 and "rows" in f["confined"] and f["wrong_rows"] == [k], (name, f["wrong_rows"])
    elif where == "column":
        assert len(shape) == 2 and "cols" in f["confined"] and f["wrong_cols"] == [k], (name, f["wrong_cols"])
    else:
        assert len(shape) == 1 and "elements" in f["confined"] and f["wrong_elements"] == [(k,)], \
            (name, f["wrong_elements"])


def _check_size(module):
    params = truth.start_point(module)
    for name, value in params.items():
        assert value.dtype == np.float64 and value.size > 0, name
        assert max(value.shape, default=1) <= 16, f"{name} {value.shape}: keep feature sizes <= 16"
    n = _module_ints(module).get("N")
    assert n is None or n <= 64


@pytest.mark.parametrize("path", OKS, ids=lambda p: p.stem)
def test_correct_model_is_right_everywhere(path):
    module = truth.load(path)
    assert (module.__doc__ or "").strip()
    assert module.EXPECTED == {}
    assert not hasattr(module, "EXPECTED_HINT")
    _check_size(module)
    for label, point in (("start point", None), ("generic point", truth.generic_point(module))):
        for name, f in truth.facts(module, point).items():
            assert f["right"], f"{path.stem}.{name} wrong at the {label}: max rel err {f['max_rel_err']:.2e}"


@pytest.mark.parametrize("path", BUGS, ids=lambda p: p.stem)
def test_bug_label_is_true(path):
    module = truth.load(path)
    assert len((module.__doc__ or "").strip()) > 40, "the docstring says the bug"
    _check_size(module)
    expected = module.EXPECTED
    hint = getattr(module, "EXPECTED_HINT", None)
    assert hint in (None, GENERIC)
    params = truth.start_point(module)
    assert set(expected) <= set(params), sorted(set(expected) - set(params))
    for label in expected.values():
        assert label is None or (isinstance(label, tuple) and len(label) == 2 and label[0] in KINDS), label
        if label is not None and label[0] in ("ratio", "confined"):
            assert isinstance(label[1], str)
        elif label is not None:
            assert label[1] is None

    if hint == GENERIC:
        for name, f in truth.facts(module).items():
            assert f["right"], f"{name} must be right at the start point (max rel err {f['max_rel_err']:.2e})"

    facts = truth.facts(module, _point(module))
    assert any(not f["right"] for f in facts.values()), "a bug model must be wrong somewhere"
    for name, f in facts.items():
        label = expected.get(name)
        if label is None:
            if not f["right"]:
                assert f["kinds"] == set(), f"{name} is labelled None but {sorted(f['kinds'])} is true of it"
            continue
        kind, fragment = label
        assert not f["right"], f"{name} is labelled {kind} but is right"
        assert f["kinds"] == {kind}, f"{name}: labelled {kind}, but {sorted(f['kinds'])} are true"
        if kind == "ratio":
            _check_ratio_fragment(module, name, f["ratio"], fragment)
        elif kind == "confined":
            _check_confined_fragment(name, f, params[name].shape, fragment)


def _labels():
    out = {}
    for path in BUGS:
        module = truth.load(path)
        out[path.stem] = (module.EXPECTED, getattr(module, "EXPECTED_HINT", None))
    return out


def test_corpus_covers_every_kind():
    labels = _labels()
    assert len(labels) >= 22 and len(OKS) >= 8
    models_per_kind = Counter()
    fragments = {kind: set() for kind in KINDS}
    for expected, hint in labels.values():
        kinds = {label[0] for label in expected.values() if label is not None}
        models_per_kind.update(kinds)
        for label in expected.values():
            if label is not None:
                fragments[label[0]].add(label[1])
    for kind in KINDS:
        assert models_per_kind[kind] >= 2, (kind, models_per_kind)
    assert models_per_kind["ratio"] >= 3 and models_per_kind["param"] >= 3 and models_per_kind["confined"] >= 3
    assert {"2", "N = 50"} <= fragments["ratio"] and len(fragments["ratio"]) >= 3
    assert {f.split()[0] for f in fragments["confined"]} >= {"row", "column", "element"}
    no_diagnosis = [stem for stem, (expected, hint) in labels.items()
                    if hint is None and all(label is None for label in expected.values())]
    assert len(no_diagnosis) >= 4, no_diagnosis
    assert sum(hint == GENERIC for _, hint in labels.values()) >= 2


def test_truth_does_not_use_gradcheck():
    source = (CORPUS / "truth.py").read_text()
    assert "gradcheck_cli" not in source
    for path in BUGS + OKS:
        assert "gradcheck" not in path.read_text(), path.name
