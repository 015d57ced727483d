"""What kind of bug a failing block looks like (diagnosis.py): each kind on
models of its own, the corpus of classic student bugs (tests/diagnosis_corpus,
each labelled with the diagnosis it must get, its truth checked without
gradcheck in test_diagnosis_truth.py), and correct models that must get none."""

import importlib.util
from pathlib import Path

import pytest

from gradcheck_cli import check
from gradcheck_cli.report import DIAGNOSIS_KINDS, FAIL

CORPUS = Path(__file__).resolve().parent / "diagnosis_corpus"

# A softmax classifier with an L2 term; each bug below replaces grad().
SOFTMAX = """
import numpy as np
N, D, C = 20, 6, 4
_r = np.random.default_rng(3)
X = _r.standard_normal((N, D))
y = _r.integers(0, C, N)
reg = 0.1

def init_params(seed=0):
    r = np.random.default_rng(seed)
    return {"W": 0.5 * r.standard_normal((D, C)), "b": 0.3 * r.standard_normal(C)}

def probs(p):
    s = X @ p["W"] + p["b"]
    s = s - s.max(1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(1, keepdims=True)

def loss(p):
    return -np.mean(np.log(probs(p)[np.arange(N), y])) + reg * np.sum(p["W"] ** 2)

def data_grad(p):
    d = probs(p)
    d[np.arange(N), y] -= 1
    d /= N
    return X.T @ d, d.sum(0)
"""


def diagnoses(report):
    """{block: (kind, text)} over every check the report holds (start point,
    generic point, data loss alone), the first check's first."""
    found = {}
    for part in report.checks():
        for block in part.blocks:
            if block.diagnosis is not None:
                found.setdefault(block.name, (block.diagnosis.kind, block.diagnosis.text))
    return found


@pytest.mark.parametrize("grad, block, kind, words", [
    ("dW, db = data_grad(p); return {'W': N * dW + 2 * reg * p['W'] * N, 'b': db}", "W", "ratio",
     ["20 ×", "1/N (N = 20)"]),
    ("dW, db = data_grad(p); return {'W': dW + 2 * reg * p['W'], 'b': db / N}", "b", "ratio", ["1/20", "N = 20"]),
    ("dW, db = data_grad(p); return {'W': -(dW + 2 * reg * p['W']), 'b': db}", "W", "sign", ["−numeric"]),
    ("dW, db = data_grad(p); return {'W': dW + 2 * reg * p['W'], 'b': 0 * db}", "b", "zero", ["exactly 0"]),
    ("dW, db = data_grad(p); return {'W': dW, 'b': db}", "W", "param", ["-2·reg", "missing"]),
    ("dW, db = data_grad(p); return {'W': dW + reg * p['W'], 'b': db}", "W", "param", ["-1·reg"]),
    ("dW, db = data_grad(p); return {'W': dW + 2 * reg * p['W'], 'b': db + 2 * reg * p['b']}", "b", "param",
     ["2·reg"]),
    ("dW, db = data_grad(p); dW = dW + 2 * reg * p['W']; dW[:, C - 1] = 0; return {'W': dW, 'b': db}", "W",
     "confined", ["column 3", "other 3 columns"]),
    ("dW, db = data_grad(p); dW = dW + 2 * reg * p['W']; dW[2] *= 3; return {'W': dW, 'b': db}", "W",
     "confined", ["row 2", "other 5 rows"]),
    ("dW, db = data_grad(p); db = db.copy(); db[1] += 0.5; return {'W': dW + 2 * reg * p['W'], 'b': db}", "b",
     "confined", ["element 1"]),
])
def test_each_kind_is_said_with_its_evidence(model_file, grad, block, kind, words):
    body = "\n    ".join(part.strip() for part in grad.split(";"))
    report = check(model_file(SOFTMAX + f"\ndef grad(p):\n    {body}\n"))
    assert report.verdict == FAIL
    found = diagnoses(report)
    assert block in found, found
    assert found[block][0] == kind, found
    for word in words:
        assert word in found[block][1], found[block][1]
    # Only the failing block is diagnosed.
    other = {"W": "b", "b": "W"}[block]
    assert all(b.diagnosis is None for part in report.checks() for b in part.blocks if b.grade != FAIL)
    assert other not in found or any(b.grade == FAIL for part in report.checks() for b in part.blocks
                                     if b.name == other)


def test_a_transposed_square_block(model_file):
    report = check(model_file("""
        import numpy as np
        N, H = 16, 5
        _r = np.random.default_rng(1)
        h0, x, t = (_r.standard_normal((N, H)) for _ in range(3))

        def init_params(seed=0):
            r = np.random.default_rng(seed)
            return {"Wh": 0.4 * r.standard_normal((H, H)), "Wx": 0.4 * r.standard_normal((H, H))}

        def loss(p):
            h = np.tanh(h0 @ p["Wh"] + x @ p["Wx"])
            return 0.5 * np.sum((h - t) ** 2) / N

        def grad(p):
            h = np.tanh(h0 @ p["Wh"] + x @ p["Wx"])
            da = (h - t) * (1 - h ** 2) / N
            return {"Wh": da.T @ h0, "Wx": x.T @ da}  # the bug: Wh's is h0.T @ da
    """))
    found = diagnoses(report)
    assert found["Wh"][0] == "transpose" and "Wx" not in found


def test_rows_an_embedding_gradient_was_added_to(model_file):
    """A row written to idx + 1: two rows wrong with opposite errors, which
    cancel along half of all random sign patterns through a column."""
    report = check(model_file("""
        import numpy as np
        V, E, N = 12, 4, 10
        _r = np.random.default_rng(2)
        idx = _r.integers(0, V - 1, N)
        t = _r.standard_normal((N, E))

        def init_params(seed=0):
            return {"emb": np.random.default_rng(seed).standard_normal((V, E))}

        def loss(p):
            return 0.5 * np.sum((p["emb"][idx] - t) ** 2)

        def grad(p):
            g = np.zeros((V, E))
            d = p["emb"][idx] - t
            for k in range(N):
                g[idx[k] + (1 if k == 3 else 0)] += d[k]
            return {"emb": g}
    """))
    kind, text = diagnoses(report)["emb"]
    assert kind == "confined" and "rows" in text and "column" not in text


def test_a_ratio_of_two_is_named(model_file):
    report = check(model_file("""
        import numpy as np
        N, D = 40, 7
        _r = np.random.default_rng(5)
        X, t = _r.standard_normal((N, D)), _r.standard_normal(N)

        def init_params(seed=0):
            return {"w": np.random.default_rng(seed).standard_normal(D)}

        def loss(p):
            return 0.5 * np.mean((X @ p["w"] - t) ** 2)

        def grad(p):
            return {"w": X.T @ (X @ p["w"] - t) * 2 / N}  # the bug: the ½ was dropped
    """))
    kind, text = diagnoses(report)["w"]
    assert kind == "ratio" and "2 ×" in text and "factor 2" in text


def test_which_part_of_a_regularized_loss_is_wrong(model_file):
    """With the strength proven an L2 term's, a failure is checked again
    with it at 0, and the report says which part is wrong."""
    reg_wrong = check(model_file(SOFTMAX + "\ndef grad(p):\n    dW, db = data_grad(p)\n"
                                 "    return {'W': dW, 'b': db}\n", name="missing.py"))
    assert any("loss without reg's term passes in W:" in h and "reg's term's gradient is what is wrong" in h
               for h in reg_wrong.hints), reg_wrong.hints
    data_wrong = check(model_file(SOFTMAX + "\ndef grad(p):\n    dW, db = data_grad(p)\n"
                                  "    return {'W': 2 * dW + 2 * reg * p['W'], 'b': db}\n", name="data.py"))
    assert any("loss without reg's term fails too in W:" in h for h in data_wrong.hints), data_wrong.hints


def test_a_strength_the_loss_reads_from_another_module_is_not_blamed(model_file, tmp_path):
    """``from base import *``: the loss reads base.reg, setting the model's
    reg to 0 changes only its gradient. The split would compare a loss that
    keeps its term with a gradient without it: no hint of which part."""
    (tmp_path / "base.py").write_text(SOFTMAX)
    report = check(model_file("from base import *\n\ndef grad(p):\n    dW, db = data_grad(p)\n"
                              "    return {'W': -(dW + 2 * reg * p['W']), 'b': db}\n", name="starred.py"))
    assert diagnoses(report)["W"][0] == "sign"
    assert not any("data loss alone" in h or "disagree" in h for h in report.hints), report.hints


def test_no_probes_for_where_without_a_drill_down_budget(model_file):
    """--max-evals 0 turns drill-down off, and the probes that locate wrong
    rows with it: what was measured still says what it can."""
    source = SOFTMAX + ("\ndef grad(p):\n    dW, db = data_grad(p)\n    dW = dW + 2 * reg * p['W']\n"
                        "    dW[:, 1] *= 2\n    return {'W': dW, 'b': db}\n")
    with_budget = check(model_file(source))
    without = check(model_file(source, name="m2.py"), max_evals=0)
    assert diagnoses(with_budget)["W"][0] == "confined"
    assert "W" not in diagnoses(without)
    assert without.evaluations < with_budget.evaluations


def test_worst_at_is_a_coordinate_where_one_fails(model_file):
    source = SOFTMAX + ("\ndef grad(p):\n    dW, db = data_grad(p)\n    dW = dW + 2 * reg * p['W']\n"
                        "    dW[4, 1] += 1.0\n    return {'W': dW, 'b': db}\n")
    report = check(model_file(source), samples=3)
    block = next(b for b in report.blocks if b.name == "W")
    assert block.grade == FAIL and block.worst.index == (4, 1), block.worst


def _corpus():
    return sorted(p for p in CORPUS.glob("*.py") if p.name != "__init__.py" and p.stem not in ("truth",))


def _expected(path):
    spec = importlib.util.spec_from_file_location(f"_corpus_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EXPECTED, getattr(module, "EXPECTED_HINT", None)


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.stem)
def test_corpus(path):
    """Each classic bug gets the diagnosis of its kind, in the blocks it is
    in, and no other block gets one; a correct model gets none."""
    expected, hint = _expected(path)
    report = check(str(path))
    found = diagnoses(report)
    if path.stem.startswith("ok_"):
        assert report.verdict != FAIL and not found and not report.hints, (found, report.hints)
        return
    assert report.verdict == FAIL
    for block, label in expected.items():
        if label is None:
            assert block not in found, found[block]
            continue
        kind, fragment = label
        assert kind in DIAGNOSIS_KINDS
        assert block in found and found[block][0] == kind, found
        if fragment:
            assert fragment in found[block][1], found[block][1]
    assert set(found) <= {b for b, label in expected.items() if label is not None}, found
    if hint:
        assert any(hint in h for h in report.hints), report.hints


def test_a_data_part_scaled_beside_a_right_l2_term(model_file):
    """CS231n's classic: dW /= num_train forgotten before dW += 2·reg·W.
    No one ratio holds (the L2 part is right), but α × numeric + β × W does,
    α the number of examples, which no module constant names here."""
    report = check(model_file("""
        import numpy as np
        _r = np.random.default_rng(3)
        X = _r.standard_normal((20, 6))
        y = _r.integers(0, 4, 20)
        reg = 0.1

        def init_params(seed=0):
            return {"W": 0.5 * np.random.default_rng(seed).standard_normal((6, 4))}

        def _probs(W):
            s = X @ W
            s -= s.max(1, keepdims=True)
            p = np.exp(s)
            return p / p.sum(1, keepdims=True)

        def loss(params):
            p = _probs(params["W"])
            return -np.mean(np.log(p[np.arange(X.shape[0]), y])) + reg * np.sum(params["W"] ** 2)

        def grad(params):
            p = _probs(params["W"])
            p[np.arange(X.shape[0]), y] -= 1
            dW = X.T @ p
            dW += 2 * reg * params["W"]
            return {"W": dW}
    """))
    kind, text = diagnoses(report)["W"]
    assert kind == "ratio" and "1/N (N = 20 = X.shape[0])" in text and "2·reg·W is right" in text, text


ATTACKS = Path(__file__).resolve().parent / "diagnosis_attacks"


@pytest.mark.parametrize("name, block, must, must_not", [
    # A ratio of 8 is T = 8 and √DK (DK = 64) alike: every candidate is said.
    ("m01_attention_sqrt_dk", "Wq", ["8 ×", "1/T (T = 8)", "1/√DK (DK = 64)"], []),
    # A feature dimension (a parameter's first axis) is not "N".
    ("m05_temperature_called_N", "W", ["7 ×"], ["N ("]),
    # A star-imported EPOCHS = 10 that nothing reads names nothing.
    ("m07_star_import_epochs", "W", ["10 ×", "N = 10"], ["EPOCHS"]),
    # A conv kernel's wrong slice, said as an index (not "axis 0 0").
    ("m04_conv_one_kernel_cost", "W", ["[0, ...]"], ["axis 0 0"]),
])
def test_attacks_on_the_names_a_hint_gives(name, block, must, must_not):
    """Found by an adversarial pass: each hint's claim was checked against a
    full finite-difference gradient computed apart from gradcheck."""
    text = diagnoses(check(str(ATTACKS / f"{name}.py")))[block][1]
    assert all(word in text for word in must), text
    assert not any(word in text for word in must_not), text


def test_a_block_whose_directions_refute_a_borrowed_ratio_gets_none():
    """E (an embedding losing repeated indices) has two coordinates at the
    ratio W shows, but its directions measure other ratios: no "as in W"."""
    found = diagnoses(check(str(ATTACKS / "m02_embedding_dup_same_ratio.py")))
    assert found["W"][0] == "ratio" and "E" not in found


@pytest.mark.parametrize("name, block, words", [
    # A softmax with log(p + 1e-7): a tiny data-term error, not "× W".
    ("a01_log_eps_param", "W", None),
    # 1/(N − 1) for 1/N with N = 50000: a ratio of 1.00002, not "× W".
    ("a09_n_minus_1_param", "W", None),
    # SCALE = 0.125 dropped; a module T = 8 only __main__ reads, and X.T, name nothing.
    ("a02_attr_T_named", "W", ["8 ×", "a constant factor"]),
    # Whitened inputs: the data gradient is affine in W, so α·n + β·W fits a
    # bug in its other term; without the model's strength behind β, no story.
    ("a03_whitened_two_term", "W", None),
])
def test_second_round_attacks(name, block, words):
    """The adversarial pass's second round, each hint's truth checked by a
    full finite-difference gradient apart from gradcheck."""
    found = diagnoses(check(str(ATTACKS / f"{name}.py")))
    if words is None:
        assert block not in found, found[block]
    else:
        assert all(word in found[block][1] for word in words) and "T = 8" not in found[block][1], found[block]


def test_a_scalar_does_not_borrow_a_two_term_story():
    """W's hint is α·n + β·W; b (a scalar, no W in its gradient) must not be
    told "− 4.8 × W"."""
    report = check(str(ATTACKS / "a04_same_ratio_two_term.py"))
    assert all("× W" not in b.diagnosis.text for part in report.checks() for b in part.blocks
               if b.name == "b" and b.diagnosis is not None)


def test_an_l1_term_under_another_name_stays_in_the_rest_of_the_loss():
    """Elastic net with alpha·Σ|W| missing from the gradient: at reg = 0 the
    L1 term is still there, so the hint blames "the rest of the gradient",
    not "the data loss's"."""
    report = check(str(ATTACKS / "a07_elastic_net_l1_missing.py"))
    assert any("the rest of the gradient is wrong" in h for h in report.hints), report.hints
    assert not any("data loss's gradient" in h for h in report.hints)


def test_rows_the_loss_never_reads_are_no_evidence_of_a_confined_bug():
    """Skip-gram without the "- 1": every row the windows use is wrong, the
    rows no window uses agree only because both gradients are 0 there
    (found on a public CS224n solution). The wrong rows are the loss's
    support, not the bug's place: no "confined"."""
    found = diagnoses(check(str(ATTACKS / "w2v_unused_rows_no_minus_one.py")))
    assert "center" not in found, found
