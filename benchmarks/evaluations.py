"""Where the evaluations went: the detection suite (suite.py) at default
settings, seeds 0-4, loss/gradient evaluations per model with this tree and
with an earlier revision of it, side by side.

The earlier revision is checked out into a temporary git worktree and
measured in a process of its own (its gradcheck_cli first on sys.path), so
the two trees never share an import.

    python benchmarks/evaluations.py [REV]      # default REV: b5e1893, before issue 22

Targets (issues 22 and 23 together, against b5e1893): at most 1.5x the
earlier total, and no model's check above 3x its earlier cost.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, record, table

SEEDS = range(5)
BEFORE = "b5e1893"  # main before "Judge by evidence"
TARGET = 1.5
MOST_PER_MODEL = 3.0


def measure(root: str) -> dict[str, float]:
    """Mean evaluations per detection-suite model, checked with ``root``'s gradcheck."""
    sys.path.insert(0, root)
    import dataclasses

    import gradcheck_cli
    from gradcheck_cli import check
    from gradcheck_cli.model import from_functions
    from suite import buggy_models, correct_models

    assert gradcheck_cli.__file__.startswith(root), gradcheck_cli.__file__
    out = {}
    for model in correct_models() + buggy_models():
        total = 0
        for seed in SEEDS:
            loaded = dataclasses.replace(from_functions(name=model.name, loss=model.loss, grad=model.grad,
                                                        params=model.params), namespace=model.constants)
            total += check(loaded, seed=seed).evaluations
        out[f"{model.name} ({'correct' if model.correct else 'bug'})"] = total / len(SEEDS)
    return out


def _child(root: str) -> dict[str, float]:
    here = Path(__file__).resolve().parent
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--measure", root], cwd=here,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    revision = next((a for a in sys.argv[1:] if not a.startswith("-")), BEFORE)
    with tempfile.TemporaryDirectory() as scratch:
        tree = str(Path(scratch) / "before")
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", tree, revision], check=True)
        try:
            before = _child(tree)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", tree], check=True)
    after = _child(str(ROOT))
    rows = []
    for name in after:
        b, a = before.get(name), after[name]
        rows.append([name, f"{b:.0f}" if b is not None else "-", f"{a:.0f}",
                     f"{a / b:.2f}x" if b else "-", f"{a - b:+.0f}" if b is not None else "-"])
    rows.sort(key=lambda r: -float(r[4]) if r[4] != "-" else 0)
    total_before = sum(before.get(n, 0) for n in after)
    total_after = sum(after.values())
    ratio = total_after / total_before
    rows.append(["all", f"{total_before:.0f}", f"{total_after:.0f}", f"{ratio:.2f}x",
                 f"{total_after - total_before:+.0f}"])
    text = table(["model", f"before ({revision})", "now", "ratio", "change"], rows)
    above = [n for n in after if before.get(n) and after[n] > MOST_PER_MODEL * before[n]]
    verdict = (f"Total {ratio:.2f}x the earlier evaluations (target <= {TARGET}x: "
               f"{'met' if ratio <= TARGET else 'MISSED'}); models above {MOST_PER_MODEL}x their earlier cost: "
               f"{', '.join(above) if above else 'none'}.")
    body = ("Mean evaluations per model over seeds 0-4 at default settings, largest change first.\n\n"
            + text + "\n\n" + verdict)
    print(body)
    record("evaluations", "7. Where the evaluations went", body, f"python benchmarks/evaluations.py {revision}")


if __name__ == "__main__":
    if "--measure" in sys.argv:
        print(json.dumps(measure(sys.argv[sys.argv.index("--measure") + 1])))
    else:
        main()
