"""Leave a degenerate start point for a characteristic one.

The notes: a random initialisation can be a degenerate point where a wrong
gradient looks right; train a few steps, then check. What makes the start
point degenerate is known (startpoint.py), so the move is the cheapest one
that undoes it, and it stops by outcome, not after a step count the user
must guess:

- elements on a kink (ties), weights that are exactly zero, gradients that
  are: a seeded jitter (JITTER_RELATIVE of each block's scale; a zero block
  drawn at the scale of the model's other parameters). Training cannot do
  this: at W1 = 0, b1 = 0 a ReLU layer's gradient is exactly zero, and
  Adam does not move what has no gradient. The same jitter tells a real tie
  from a structural one: a tie that survives it (a margin set to 0 by
  assignment, then put through max(0, .)) is not a point on a kink.
- kink sites whose elements all take one side: bias-corrected Adam (the
  sanity gate's), until WARMUP_FLIP_SHARE of every such site's elements
  have changed side, or the loss has fallen by WARMUP_LOSS_FALL (what has
  not flipped by then is structure: a clip guarding a log), within
  WARMUP_MAX_STEPS. Adam moves each element by about its rate whatever the
  parameters' scale, so a 1e-4-scale SVM leaves its all-active hinges in a
  few steps where SGD at a 1e-3 update ratio never does.

Flips are counted from winner-tracked loss calls, every WARMUP_TRACE_EVERY
steps (a tracked call of a naive loop costs ~3 untracked ones); each call
is one evaluation like any other.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from .errors import GradcheckError, ModelError
from .evaluate import BasePoint, Evaluator
from .model import Model, frozen_copies
from .report import Move
from .settings import (
    JITTER_ALL_ZERO,
    JITTER_RELATIVE,
    WARMUP_FIRST_STEP_FALL,
    WARMUP_FLIP_SHARE,
    WARMUP_LOSS_FALL,
    WARMUP_MAX_STEPS,
    WARMUP_TRACE_EVERY,
)
from .startpoint import StartPoint, changed, inspect, persisting, sites, tied_sites, uniform_sites
from .training import train


def jitter(params: dict[str, np.ndarray], blocks: tuple[str, ...], seed: int) -> dict[str, np.ndarray]:
    """``params`` with ``blocks`` moved by a seeded random jitter: each
    element by JITTER_RELATIVE of its block's RMS; a block that is exactly
    zero drawn at the RMS of the nonzero parameters (see settings.py)."""
    rng = np.random.default_rng([seed, 0x6A17])  # a stream of its own: not the sampling's
    nonzero = [b for b in params.values() if np.any(b)]
    total = sum(float(np.sum(b * b)) for b in nonzero)
    reference = float(np.sqrt(total / sum(b.size for b in nonzero))) if nonzero else JITTER_ALL_ZERO
    moved = dict(params)
    for name in blocks:
        block = params[name]
        rms = float(np.sqrt(np.mean(block * block)))
        scale = JITTER_RELATIVE * rms if rms > 0 else reference
        moved[name] = block + scale * rng.standard_normal(block.shape)
    return moved


def _site_names(keys) -> str:
    return ", ".join(f"{os.path.basename(f)}:{line} ({op})" for f, line, op in keys)


def _jittered_blocks(model: Model, start: StartPoint) -> tuple[str, ...]:
    """What the jitter moves: every block where elements sit on a kink or a
    gradient is zero (a bias at 0 beside a zero weight is as tied as the
    weight); only the zero blocks where they are all the trouble."""
    if start.tie or start.zero_gradients:
        return tuple(model.params)
    return tuple(n for n in model.params if n in start.zero_blocks)


def leave(model: Model, start: StartPoint, base: BasePoint, *, seed: int, steps: int | None = None,
          lr: float | None = None) -> tuple[dict[str, np.ndarray] | None, Move | None, StartPoint, int]:
    """Move ``model`` off its degenerate start point (``base``: its loss,
    trace and gradient; ``steps``: force that many Adam steps instead of
    stopping by outcome).

    Returns the parameters to check at (None: the start point stays the only
    one, for the reason the Move gives), what was done (None: the start
    point turned out not to be degenerate: its only ties were structural),
    the start point's findings with structural ties removed, and the
    evaluations spent.
    """
    forced = steps is not None
    trace = base.trace or []
    spent = 0
    probe_seen = None  # (blocks jittered, what the tie probe found there)
    if start.tie is not None:
        # Is it a point on a kink, or a tie that any point has? One traced
        # call at the jittered point tells.
        probed = _jittered_blocks(model, start)
        probe = _with_params(model, jitter(dict(model.params), probed, seed))
        evaluator = Evaluator(probe, seed=seed, track_kinks=True)
        try:
            with evaluator:
                loss, probe_gradient = evaluator.at(probe.params, traced=True)
        except GradcheckError:
            pass  # no verdict on the ties: they stand
        else:
            probe_seen = (probed, (loss, probe_gradient, evaluator.last_trace))
            structural = persisting(trace, evaluator.last_trace or [])
            if structural:
                start = inspect(trace, model.params, base.gradient, real_ties=set(tied_sites(trace)) - structural)
        spent += evaluator.evaluations
        if not start.degenerate and not forced:
            return None, None, start, spent

    needs_jitter = bool(start.tie or start.zero_weights or start.zero_gradients)
    jittered = _jittered_blocks(model, start) if needs_jitter else ()
    params = jitter(dict(model.params), jittered, seed) if needs_jitter else dict(model.params)
    # The first point the warm-up visits, where it was evaluated already:
    # the start point itself, or the jittered point the tie probe saw.
    known = None
    if not needs_jitter:
        known = (base.loss, base.gradient, trace)
    elif probe_seen is not None and probe_seen[0] == jittered:
        known = probe_seen[1]
    state: dict = {"first": None, "keys": list(start.uniform), "flips": {}}

    def until(taken: int, loss: float, now: list | None) -> str | None:
        if state["first"] is None:
            # The first point visited: the jittered one (or the start point).
            state["first"] = loss
            state["reference"] = sites(now or [])
            if needs_jitter:
                state["keys"] = list(uniform_sites(now))
            if not state["keys"] and not forced:
                return "jitter"
            return None
        if now is None:  # an untraced step: only the loss to go by
            return None if forced or state["first"] - loss < WARMUP_LOSS_FALL * abs(state["first"]) \
                else "loss fell"
        flips = changed(state["reference"], sites(now or []),
                        [(s.filename, s.lineno, s.op) for s in state["keys"]])
        state["flips"] = flips
        if forced:
            return None
        if flips and all(min(f, 1 - f) >= WARMUP_FLIP_SHARE for f in flips.values()):
            return "flipped"  # mixed: flipping them all would be as uniform as before
        if state["first"] - loss >= WARMUP_LOSS_FALL * abs(state["first"]):
            return "loss fell"
        return None

    evaluator = Evaluator(_with_params(model, params), seed=seed, track_kinks=True)
    try:
        with evaluator:
            training = train(evaluator, steps if forced else WARMUP_MAX_STEPS, optimizer="adam", lr=lr,
                             until=until, traced=lambda taken: taken % WARMUP_TRACE_EVERY == 0,
                             first_step_fall=WARMUP_FIRST_STEP_FALL, known=known)
    except GradcheckError as exc:
        if forced:
            raise
        # Far from the start point the model may fail where it never would
        # near it (a log of a negative number): that is not the check's
        # business, and the start point's report stands.
        spent += evaluator.evaluations
        move = Move(tuple(start.reasons()), jittered, 0, "adam", lr or 0.0, float("nan"), float("nan"), (),
                    "error", spent, checked=False, why_not=f"moving off it failed: {exc}")
        return None, move, start, spent
    spent += evaluator.evaluations

    final, loss_after = training.params, training.loss_after
    if not np.isfinite(loss_after):
        if forced:
            raise ModelError(f"{model.name}: the loss became {loss_after} during --warmup after {training.steps} "
                             f"steps at lr {training.lr:.2g}; give a smaller --lr")
        final = training.finite_params
        loss_after = training.losses[-2] if len(training.losses) > 1 else float("nan")
    flips = tuple((_site_names([k]), v) for k, v in state["flips"].items())
    why_not = None
    if final is None:
        why_not = "the loss was not finite where the warm-up started"
    elif not forced and not needs_jitter and not any(v > 0 for _, v in flips):
        why_not = (f"{training.steps} Adam steps changed no kink outcome (the loss went {training.loss_before:.6g} "
                   f"-> {loss_after:.6g}): those sites look structural, and the start point is as characteristic "
                   "as the model gets")
    move = Move(tuple(start.reasons()), jittered, training.steps, "adam", training.lr, training.loss_before,
                loss_after, flips, training.stopped or ("steps" if forced else "budget"), spent,
                checked=why_not is None, why_not=why_not)
    return (final if why_not is None else None), move, start, spent


def _with_params(model: Model, params: dict[str, np.ndarray]) -> Model:
    return dataclasses.replace(model, params=frozen_copies(params))
