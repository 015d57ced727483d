"""The Taylor test's separation: its fitted order, and its outcome, on
values whose truth is known, at one step as the check first reads it.

Values: every block of every corpus pair (tests/evidence_models.py and the
adversarial corpora tests/attack_*.py: a correct model and its buggy twins,
built alike for a seed), seeds 0-2, up to 4 sampled coordinates and one
random direction per block. A value is *right* in a correct model, *wrong*
in a buggy one where its analytic value differs from the correct twin's by
more than 1e-6 of the block's largest; values a bug leaves unchanged are
left out. The test runs at the default relative step 1e-5 (and at 1e-3),
with the check's own measured noise.

    python benchmarks/taylor_orders.py

Expected: right values at order ~2 (or their remainders at the noise
level, where the loss is linear along them), wrong ones at ~1; the outcome
'wrong' on no right value at a step that suits the loss.
"""

from __future__ import annotations

import math
import sys
from collections import Counter

import numpy as np
from _common import ROOT, record, table

sys.path.insert(0, str(ROOT))

from gradcheck_cli.errors import ModelError  # noqa: E402
from gradcheck_cli.evaluate import Evaluator  # noqa: E402
from gradcheck_cli.model import from_functions  # noqa: E402
from gradcheck_cli.sampling import random_directions  # noqa: E402
from gradcheck_cli.verdict.noise import analytic_roundoff, loss_noise  # noqa: E402
from gradcheck_cli.verdict.numeric import taylor_test  # noqa: E402
from gradcheck_cli.verdict.probes import Probe  # noqa: E402
from tests import attack_false_fails, attack_false_passes, evidence_models  # noqa: E402

SEEDS = range(3)
STEPS = (1e-5, 1e-3)
COORDINATES = 4


def _pairs():
    """(correct case, [buggy twins]) in each corpus, paired by name."""
    for corpus in (evidence_models, attack_false_fails, attack_false_passes):
        for case in corpus.CASES:
            if case.correct:
                yield case, [c for c in corpus.CASES if not c.correct and c.name.split("/")[0] == case.name]


def _values(case, seed, truth_grad):
    """(truth, Taylor tests per step) for the sampled values of one model."""
    loss, grad, params = case.make(seed)
    model = from_functions(loss=loss, grad=grad, params=params)
    out = []
    with Evaluator(model, seed=seed) as ev:
        base = ev.base_point()
        noise = loss_noise(ev, base, seed)
        rng = np.random.default_rng([seed, 3])
        for name, block in model.params.items():
            g = base.gradient[name].reshape(-1)
            scale = float(np.max(np.abs(truth_grad[name]))) or 1.0
            probes = [Probe(name, index=int(i))
                      for i in rng.choice(block.size, size=min(COORDINATES, block.size), replace=False)]
            probes.append(Probe(name, direction=random_directions(rng, 1, block.size)[0]))
            for probe in probes:
                true = truth_grad[name].reshape(-1)
                if probe.index is not None:
                    off = abs(g[probe.index] - true[probe.index])
                else:
                    off = abs(float(np.dot(g - true, probe.direction)))
                tests = []
                for h in STEPS:
                    try:
                        tests.append(taylor_test(ev, probe, base, h=h, sigma=noise.sigma,
                                                 analytic_roundoff=analytic_roundoff(noise.analytic.get(name), probe)))
                    except ModelError:
                        tests.append(None)
                out.append((off > 1e-6 * scale, tests))
    return out


def main() -> None:
    results = {(truth, h): [] for truth in (False, True) for h in STEPS}
    for correct, twins in _pairs():
        for seed in SEEDS:
            _, truth_grad_fn, truth_params = correct.make(seed)
            truth_grad = {k: np.asarray(v, dtype=float) for k, v in truth_grad_fn(truth_params).items()}
            for case in [correct, *twins]:
                for wrong, tests in _values(case, seed, truth_grad):
                    if not case.correct and not wrong:
                        continue  # a value the bug leaves as it was
                    for h, test in zip(STEPS, tests):
                        if test is not None:
                            results[(not case.correct and wrong, h)].append(test)
    rows = []
    for (wrong, h), tests in results.items():
        orders = [t.order for t in tests if t.order is not None]
        outcomes = Counter(t.outcome for t in tests)
        rows.append([
            "wrong" if wrong else "right", f"{h:g}", str(len(tests)),
            f"{np.median(orders):.2f}" if orders else "-",
            f"{100 * np.mean([o >= 1.5 for o in orders]):.0f} %" if orders else "-",
            f"{100 * (len(tests) - len(orders)) / max(len(tests), 1):.0f} %",
            ", ".join(f"{k} {100 * v / len(tests):.0f} %" for k, v in outcomes.most_common()),
        ])
    text = table(["values", "step", "n", "median order", "order >= 1.5", "at noise", "outcome"], rows)
    body = ("The Taylor test at one step on values whose truth is known (corpus pairs, seeds 0-2). "
            "'at noise': no remainder clearly above its noise (a loss linear along the value, or rounding-"
            "limited), so no order is fitted.\n\n" + text)
    print(body)
    record("taylor", "8. The Taylor order's separation", body, "python benchmarks/taylor_orders.py")


if __name__ == "__main__":
    main()
