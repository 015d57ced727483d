"""Evidence corpus: how gradcheck's default check judges the models in
tests/evidence_models.py, whose truth is established independently (50-digit
central differences: `python tests/evidence_models.py`).

Every case is built with make(s) and checked with check(..., seed=s) for
seeds 0-4 (the naive section, students' loop code, for seeds 0-7). A
verdict is right when:

- correct model: every seed gives `pass`; a `warn` is wrong only if some
  block was graded `warn` (a model-level warning, e.g. float32 arithmetic,
  is allowed) -- except in the naive section, which must pass under strict
  grading too, so any `warn` is wrong there;
- buggy model: every seed gives `fail`.

For a wrong verdict the table's last column says why: the first block
graded fail/warn (correct model) or the block most suspected (warn, then
unverified/other grades, then the largest relative error; buggy model),
with its worst dimension's message, after every block's grade.

    python benchmarks/evidence.py [--only SUBSTRING] [--corpus MODULE]

``--corpus`` names another corpus module in tests/ with the same Case list
(the adversarial reviews' models: attack_false_fails, attack_false_passes).

Records the per-section totals and the wrong verdicts in RESULTS.md (one
section per corpus) when run on a whole corpus.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import record, table  # noqa: E402

from gradcheck_cli import check  # noqa: E402
import importlib  # noqa: E402

CORPUS = sys.argv[sys.argv.index("--corpus") + 1] if "--corpus" in sys.argv else "evidence_models"
CASES = importlib.import_module(f"tests.{CORPUS}").CASES

SEEDS = range(5)
NAIVE_SEEDS = range(8)  # students' code must pass at seeds 0..7
LETTER = {"pass": "p", "warn": "w", "fail": "f"}


def _blocks(report):
    return [b for c in report.checks() for b in c.blocks]


def _why(case, report) -> str:
    """The block that explains a wrong verdict, with its worst dimension's message."""
    blocks = _blocks(report)
    if case.correct:
        chosen = next((b for b in blocks if b.grade == "fail"), None) or next(
            (b for b in blocks if b.grade == "warn"), None)
        if chosen is None:
            return "model warning: " + "; ".join(report.all_warnings())[:200]
    else:  # the block most suspected (warn, unverified, ...) or else with the largest relative error
        rank = {"fail": 0, "warn": 1}
        chosen = min(blocks, key=lambda b: (rank.get(b.grade, 2 if b.grade not in ("pass", "ok") else 3),
                                            -(b.max_rel_error or 0.0)))
    message = (chosen.worst.message if chosen.worst is not None else None) or "-"
    grades = ", ".join(f"{b.name}:{b.grade}" + ("" if b.max_rel_error is None else f" {b.max_rel_error:.0e}")
                       for b in blocks)
    return f"[{grades}] {chosen.name}: {message}"


def run_case(case):
    seeds = NAIVE_SEEDS if case.section == "naive" else SEEDS
    verdicts, evals, wrong_seeds, why = [], [], [], None
    for s in seeds:
        loss, grad, params = case.make(s)
        try:
            report = check(loss=loss, grad=grad, params=params, seed=s)
        except Exception as error:  # a crash is a wrong verdict too
            verdicts.append("E")
            wrong_seeds.append(s)
            why = why or f"seed {s}: {type(error).__name__}: {error}"[:300]
            continue
        verdicts.append(LETTER.get(report.verdict, "?"))
        evals.append(report.evaluations)
        if case.correct:
            block_warned = any(b.grade == "warn" for b in _blocks(report))
            wrong = report.verdict == "fail" or (report.verdict == "warn"
                                                 and (block_warned or case.section == "naive"))
        else:
            wrong = report.verdict != "fail"
        if wrong:
            wrong_seeds.append(s)
            why = why or f"seed {s}: {_why(case, report)}"
    return "".join(verdicts), (float(np.mean(evals)) if evals else 0.0), not wrong_seeds, why


def main() -> None:
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    started = time.perf_counter()
    rows, whys = [], []
    wrong_by_section, cases_by_section = Counter(), Counter()
    wrong_false_alarm, wrong_missed = Counter(), Counter()
    for case in CASES:
        if only and only not in case.name:
            continue
        verdicts, evals, right, why = run_case(case)
        cases_by_section[case.section] += 1
        if not right:
            wrong_by_section[case.section] += 1
            (wrong_false_alarm if case.correct else wrong_missed)[case.section] += 1
            whys.append([case.name, why.replace("|", "/").replace("\n", " ")])
        rows.append([case.name, case.section, "correct" if case.correct else "buggy", verdicts,
                     f"{evals:.0f}", "yes" if right else "**NO**"])
    print("Per case (verdict per seed: p pass, w warn, f fail, E error; seeds 0-4, naive 0-7; "
          "evaluations: mean over seeds):\n")
    print(table(["case", "section", "truth", "verdicts", "evals", "right"], rows))
    sections = list(dict.fromkeys(c.section for c in CASES if cases_by_section[c.section]))
    totals = [[s, str(cases_by_section[s]), str(wrong_by_section[s]), str(wrong_false_alarm[s]),
               str(wrong_missed[s])] for s in sections]
    totals.append(["total", str(sum(cases_by_section.values())), str(sum(wrong_by_section.values())),
                   str(sum(wrong_false_alarm.values())), str(sum(wrong_missed.values()))])
    print("\nWrong verdicts per section:\n")
    print(table(["section", "cases", "wrong", "correct model not passed", "bug not failed"], totals))
    if whys:
        print("\nWhy (first wrong seed; correct model: first block graded fail/warn; buggy model: the most "
              "suspected block, warn > unverified > largest error; [every block's grade] then its worst dimension's "
              "message):\n")
        print(table(["case", "why"], whys))
    print(f"\nRun time {time.perf_counter() - started:.0f} s.")
    if not only:
        body = (f"Verdicts at default settings, seeds 0-4 (the naive section 0-7), on tests/{CORPUS}.py (truth from "
                "50-digit differences: python tests/" + CORPUS + ".py).\n\n"
                + table(["section", "cases", "wrong", "correct model not passed", "bug not failed"], totals)
                + ("\n\nWrong verdicts:\n\n" + table(["case", "why"], whys) if whys else ""))
        command = "python benchmarks/evidence.py" + (f" --corpus {CORPUS}" if CORPUS != "evidence_models" else "")
        record(f"evidence-{CORPUS}", f"6. Evidence: {CORPUS}", body, command)


if __name__ == "__main__":
    main()
