"""Check where bugs show: a generic point beside the start point.

A wrong gradient can be exactly right at the point it is checked at: every
margin active at a tiny initialisation (a mask ignored), a term that
vanishes at a zero bias, a grad that reads the module's parameters instead
of its argument, a tanh derivative taken from the pre-activation at a
near-linear start. The start point cannot say whether it is such a point
(a hinge computed in plain Python floats leaves no trace), so every check
(``--warmup auto``) is also made at a generic point, as the notes advise
("a short burn-in ... and perform the gradient check after the loss starts
to go down"):

1. A seeded jitter of every block at its own scale (JITTER_RELATIVE of its
   RMS; a block that is exactly zero at its peers' RMS; a block all of one
   sign moved by a factor, so a scale or a variance keeps its sign).
2. A burn-in with Adam, stopped by what it achieved, not by a loss fall
   that any term can provide:

   - every kink site one-sided at the jittered point (as the tracker sees
     sites: one per line for scalars, one per array evaluation, so one
     ReLU line used by two layers is two sites) is mixed: at least
     max(1, WARMUP_FLIP_SHARE of its elements) changed side, and as many
     did not (not all carried across at once);
   - the loss has shown its curvature: at some step it moved by more than
     BURNIN_CURVATURE of the gradient's first-order prediction away from
     it (a kink crossed where no tracker sees it, a nonlinearity a
     near-linear start keeps out of play);
   - at least BURNIN_MIN_STEPS steps (the notes' short burn-in).

   While something is unmet, each block's rate doubles every step, until
   a step it dominated made the loss rise (the block with the largest
   first-order share of that step is halved and grows no more), or up to
   BURNIN_RATE_GROWTH times the first rate (BURNIN_CURVATURE_GROWTH where
   only the curvature is still to show: a loss linear in some block has
   none, and is done when every block is). Adam moves each element by
   about its rate whatever the features' units, so a capped rate never
   reaches margins in small units, and one rate for all would stop
   growing when a second head overshoots. Where the loss goes on in
   Python floats (``.tolist()``, ``np.vectorize``: kinks the tracker cannot
   see) every block grows until it is done and training settles. A site
   still one-sided when every block is done and training has settled (the
   loss moving by less than BURNIN_SETTLED over WARMUP_TRACE_EVERY steps)
   is structural: training moved the model as far as it goes. At most
   BURNIN_MAX_STEPS steps.
3. Only where the model is defined and checkable. A step where the loss is
   not finite or the model raises, where a guard newly saturates (a clip,
   or a clamp at a tolerance: max(p, 1e-7); startpoint.guard: the guarded
   loss is flat where an unguarded backward is not), or where there is
   nothing left to learn (the loss or the whole gradient exactly zero:
   every hinge inactive) is taken back, and the block whose step was
   largest for its scale is slowed and grows no more: one head leaving its
   domain does not end the others' burn-in. After BURNIN_RETREATS retreats
   more than there are blocks, the burn-in ends at the last point traced
   before, and the report says so. A failure is never confirmed on
   evidence gathered outside the model's valid inputs.

Values the start point could not resolve for a kink are judged at the
generic point too (pipeline.py builds its plan).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np

from .errors import GradcheckError, ModelError
from .evaluate import BasePoint, Evaluator
from .kinks import OPAQUE
from .model import Model, from_functions, frozen_copies, provider
from .report import Move
from .settings import (
    BURNIN_CURVATURE,
    BURNIN_CURVATURE_GROWTH,
    BURNIN_MAX_STEPS,
    BURNIN_MIN_STEPS,
    BURNIN_RATE_GROWTH,
    BURNIN_RETREATS,
    BURNIN_SETTLED,
    BURNIN_SITE_MIN_ELEMENTS,
    JITTER_ALL_ZERO,
    JITTER_BACKOFF,
    JITTER_RELATIVE,
    WARMUP_FIRST_STEP_FALL,
    WARMUP_FLIP_SHARE,
    WARMUP_TRACE_EVERY,
)
from .startpoint import (
    SiteKey,
    StartPoint,
    changed,
    guard_lines,
    inspect,
    minority,
    persisting,
    site_name,
    sites,
    tied_sites,
    uniform_sites,
)
from .training import Adam, first_step_rate


def block_scales(params: dict[str, np.ndarray]) -> dict[str, float]:
    """Each block's own scale, its RMS; an all-zero block has none and takes
    that of the model's nonzero parameters (JITTER_ALL_ZERO if all are zero)."""
    nonzero = [b for b in params.values() if np.any(b)]
    total = sum(float(np.sum(np.square(b, dtype=np.float64))) for b in nonzero)
    reference = float(np.sqrt(total / sum(b.size for b in nonzero))) if nonzero else JITTER_ALL_ZERO
    return {name: float(np.sqrt(np.mean(np.square(b, dtype=np.float64)))) if np.any(b) else reference
            for name, b in params.items()}


def jitter(params: dict[str, np.ndarray], seed: int, scale: float = 1.0) -> dict[str, np.ndarray]:
    """``params`` with every block moved by a seeded jitter at its own scale
    (see the module docstring and settings.py), times ``scale``."""
    rng = np.random.default_rng([seed, 0x6A17])  # a stream of its own: not the sampling's
    scales = block_scales(params)
    moved = {}
    for name, block in params.items():
        block = np.asarray(block, dtype=np.float64)
        noise = rng.standard_normal(block.shape)
        if not np.any(block):
            moved[name] = scale * scales[name] * noise
        elif _one_sign(block):
            # A scale, a variance, a probability: moved by a factor, it keeps its sign.
            moved[name] = block * np.exp(scale * JITTER_RELATIVE * noise)
        else:
            moved[name] = block + scale * JITTER_RELATIVE * scales[name] * noise
    return moved


def _one_sign(block: np.ndarray) -> bool:
    """All elements strictly positive, or all strictly negative."""
    return block.size > 0 and (bool(np.all(block > 0)) or bool(np.all(block < 0)))


@dataclasses.dataclass(frozen=True)
class BurnIn:
    """Where the burn-in ended and what it achieved."""

    params: dict[str, np.ndarray] | None  # the generic point (None: none could be reached)
    steps: int
    lr: float
    loss_before: float  # at the jittered point
    loss_after: float
    flipped: tuple[tuple[str, float], ...]  # per required site: share of its elements that changed side
    structural: tuple[str, ...]  # required sites no step changed, though the rate grew until the loss rose
    curved: bool  # the loss showed its curvature along the way
    stopped: str  # outcome | budget | steps | left the domain
    stepped_back: str | None  # why the burn-in ended before a step it took (the model undefined there)
    first_trace: list | None  # the jittered point's kink trace
    held: tuple[str, ...] = ()  # blocks slowed where a step of theirs left the model's domain, and why
    guards: tuple[str, ...] = ()  # guard sites one-sided at the jittered point: their far side is not checked


def _where(key: SiteKey) -> str:
    return site_name(*key)


def _relative(update: np.ndarray, block: np.ndarray) -> float:
    """A step's size for its block's scale."""
    scale = float(np.sqrt(np.mean(np.square(block)))) if block.size else 0.0
    return float(np.sqrt(np.mean(np.square(update)))) / (scale or 1.0) if np.size(update) else 0.0


def unfit(loss: float, gradient: dict[str, np.ndarray], before: float, before_gradient: dict[str, np.ndarray]
          ) -> str | None:
    """Why a point reached from one where the loss was ``before`` is no
    point to judge a gradient at (None: it is one): the loss is not finite,
    or there is nothing left to learn (every hinge inactive: the loss or the
    gradient became exactly zero, where nothing can be verified, or only at
    a kink's edge)."""
    if not math.isfinite(loss) or not gradient:
        return f"the loss became {loss}"
    # The whole gradient, not one block's: a bias's gradient is a sum of
    # counts in a small SVM, exactly zero wherever they balance.
    if not any(np.any(g) for g in gradient.values()) and any(np.any(g) for g in before_gradient.values()):
        return "the gradient became exactly zero"
    if loss == 0 and before != 0:
        return "the loss became exactly zero"
    return None


def burn_in(evaluator: Evaluator, params: dict[str, np.ndarray], base: BasePoint, *, steps: int | None = None,
            lr: float | None = None, progress: Callable[..., None] | None = None) -> BurnIn:
    """Adam from ``params`` (the jittered point near ``base``, the start
    point) until the outcome the module docstring describes, or exactly
    ``steps`` steps (--warmup N). ``progress(phase, detail, done, total)``
    before each step."""
    forced = steps is not None
    limit = steps if forced else BURNIN_MAX_STEPS
    loss, gradient = evaluator.at(params, traced=True)
    first_trace = evaluator.last_trace or []
    why = unfit(loss, gradient, base.loss, base.gradient)
    if why is not None:
        return BurnIn(None, 0, 0.0, loss, loss, (), (), False, "left the domain", f"the jitter: {why}", first_trace)
    first_loss = loss
    first = sites(first_trace)
    # A guard (a probability kept off 0 and 1, a variance off 0) saturating
    # is the model leaving its valid inputs, not a branch to test.
    guarded = guard_lines(first_trace)
    guards = {key: minority(site) for key, site in first.items() if key[:2] in guarded}
    required = {(s.filename, s.lineno, s.op, s.occurrence): max(1, math.ceil(WARMUP_FLIP_SHARE * s.size))
                for s in uniform_sites(first_trace, BURNIN_SITE_MIN_ELEMENTS) if (s.filename, s.lineno) not in guarded}
    # Where the loss goes on in Python floats the tracker sees no kink: every
    # block goes as far as training takes it.
    opaque = any(event.op == OPAQUE for event in first_trace)
    first_rate = lr if lr is not None else first_step_rate(params, loss, gradient, WARMUP_FIRST_STEP_FALL)
    rates = {name: first_rate for name in params}
    most = first_rate * BURNIN_RATE_GROWTH
    done_growing: set[str] = set()  # blocks whose rate made the loss rise, or grew as far as it goes
    adam = Adam(params)
    clean = (params, loss, 0)  # the last point known to be inside the model's domain
    flipped = {key: 0 for key in required}
    mixed = {key: False for key in required}
    curved, stopped, stepped_back, retreats = False, "steps" if forced else "budget", None, 0
    held: list[str] = []  # blocks slowed where a step of theirs left the model's domain
    history: list[float] = []  # the loss after each step taken
    for t in range(1, limit + 1):
        if progress is not None:
            # (How many steps the outcome takes is not known in advance: a total only for --warmup N.)
            progress("burn-in", f"burn-in step {t}/{limit}" if forced else f"burn-in step {t}", t,
                     limit if forced else None)
        adam.tick()
        # Block by block, so a block-sized step is held one at a time (a
        # 1e7-parameter block: 80 MB a copy).
        shares, sizes, candidate = {}, {}, dict(params)
        for name, g in gradient.items():
            update = adam.update(name, g, rates[name])
            shares[name] = -float(np.sum(g * update))  # the first-order fall this block's step makes
            sizes[name] = _relative(update, params[name])
            candidate[name] = params[name] + update
            del update
        predicted = -sum(shares.values())
        # Outcomes are read every step while a site waits to be mixed or a
        # guard may saturate (a growing rate carries elements across within
        # a step or two), else every WARMUP_TRACE_EVERY steps.
        traced = t % WARMUP_TRACE_EVERY == 0 or t == limit or (not forced and (guards or not all(mixed.values())))
        try:
            new_loss, new_gradient = evaluator.at(candidate, traced=traced)
        except ModelError as exc:
            if forced:
                raise
            why = f"the model raised an error there ({exc})"
        else:
            why = unfit(new_loss, new_gradient, loss, gradient)
            if forced and why is not None and math.isfinite(new_loss) and new_gradient:
                why = None  # --warmup N takes its steps: only a loss that broke stops them
            if why is None and traced and not forced:
                now = sites(evaluator.last_trace or [])
                newly = [key for key, n in guards.items() if key in now and minority(now[key]) > n]
                if newly:
                    why = f"{_where(newly[0])} newly saturates"
        if why is not None:
            if forced:
                raise ModelError(f"{evaluator.model.name}: {why} during --warmup after {t - 1} steps at lr "
                                 f"{first_rate:.2g}; give a smaller --lr")
            # Step back, and only the block whose step was largest for its
            # scale stops growing: one head leaving its domain (a rate q
            # through 0) does not end the others' burn-in.
            culprit = max(sizes, key=sizes.__getitem__)
            retreats += 1
            if retreats > len(params) + BURNIN_RETREATS:
                stopped, stepped_back = "left the domain", f"step {t}: {why}"
                break
            # (Adam's moments keep the step taken back: a burn-in needs no exact
            # optimizer, and holding the previous ones costs two block copies.)
            rates[culprit] /= 4
            done_growing.add(culprit)
            held.append(f"{culprit} (step {t}: {why})")
            continue
        if abs((new_loss - loss) - predicted) > BURNIN_CURVATURE * abs(predicted):
            curved = True
        previous = loss
        params, loss, gradient = candidate, new_loss, new_gradient
        if traced:
            for key, need in required.items():
                flipped[key], kept = changed(first.get(key), now.get(key))
                # Mixed: `need` elements on the other side now (a tie counts
                # where it is: `margins > 0` after max(0, .) is False only at
                # ties), and `need` still where they were (not every element
                # carried across at once).
                mixed[key] = flipped[key] >= need and kept >= need
            clean = (params, loss, t)
        elif not (guards or required):
            clean = (params, loss, t)  # no outcome a trace could show: every point is as good
        if forced:
            continue
        unmet = not all(mixed.values())
        moved_all = len(done_growing) == len(rates)
        history.append(loss)
        # Done: the sites mixed and the loss's curvature shown; or every
        # block moved as far as it goes (a loss that stays linear has no
        # curvature to show) and the sites mixed, or the training settled
        # with them still one-sided (large steps jump a narrow zone: the
        # rates that overshot fall back until it is reached, or not). Where
        # the loss is opaque, no site can be seen mixed: every block goes as
        # far as it goes, and training settles.
        waiting = unmet or opaque
        settled = len(history) > WARMUP_TRACE_EVERY and abs(history[-1] - history[-1 - WARMUP_TRACE_EVERY]) \
            <= BURNIN_SETTLED * abs(history[-1])
        if traced and t >= BURNIN_MIN_STEPS and ((curved and not waiting) or (moved_all and (not waiting or settled))):
            stopped = "outcome"
            break
        if loss > previous and shares:
            # Overshot: the block that moved the loss most has gone as far as it goes.
            name = max(shares, key=lambda n: abs(shares[n]))
            rates[name] /= 2
            done_growing.add(name)
        elif t >= WARMUP_TRACE_EVERY and (unmet or opaque or not curved):
            # Each block's rate grows on its own: in a model with a second
            # head, the block whose effect on the loss is small (features
            # in small units) must not wait for the others' rate. Far only
            # for a kink to reach; for curvature alone, a little (a loss
            # linear in a batchnorm's gamma falls for ever, and a point a
            # million steps away is nobody's).
            ceiling = most if (unmet or opaque) else first_rate * BURNIN_CURVATURE_GROWTH
            for name in rates:
                if name not in done_growing:
                    rates[name] = min(2 * rates[name], ceiling)
                    if rates[name] >= ceiling:
                        done_growing.add(name)
    final, final_loss, taken = clean
    moved_all = len(done_growing) == len(rates)
    sites_flipped = tuple((_where(key), min(1.0, flipped[key] / max(first[key].outcome.size, 1))) for key in required)
    # Unchanged though every block's rate grew until the loss rose or as far
    # as it goes, and training settled: the steps were large enough to have
    # changed the site, so it is the model's structure.
    structural = tuple(_where(key) for key in required if not mixed[key] and moved_all)
    kept = () if forced else tuple(_where(key) for key, n in guards.items() if n == 0)
    return BurnIn(final, taken, max(rates.values()), first_loss, final_loss, sites_flipped, structural, curved,
                  stopped, stepped_back, first_trace, tuple(held), kept)


def leave(model: Model, start: StartPoint, base: BasePoint, *, seed: int, steps: int | None = None,
          lr: float | None = None, progress: Callable[..., None] | None = None
          ) -> tuple[dict[str, np.ndarray] | None, Move, StartPoint, int]:
    """Move ``model`` from its start point (``base``: its loss, trace and
    gradient) to a generic point: jitter, then burn-in (``steps``: force
    that many Adam steps instead of stopping by outcome).

    Returns the parameters to check at (None: the start point stays the only
    one, for the reason the Move gives), what was done, the start point's
    findings with its structural ties removed (ties the jitter left in place
    are any point's), and the evaluations spent. ``progress(phase, detail,
    done=None, total=None, evaluations=...)``: the jitter, each burn-in step.

    A model that is a derivative of an objective (its target's
    ``objective()`` and ``place()``, see :func:`objective_of`) is moved to
    its objective's generic point.
    """
    reduction = objective_of(model, seed)
    if reduction is not None:
        return _leave_by_objective(model, *reduction, start, seed=seed, steps=steps, lr=lr, progress=progress)
    spent = 0
    for scale in JITTER_BACKOFF:
        moved = jitter(dict(model.params), seed, scale)
        evaluator = Evaluator(_with_params(model, moved), seed=seed, track_kinks=True)
        report = _counting(progress, evaluator, spent)
        if report is not None:
            report("jitter", "jitter to a generic point" if scale == JITTER_BACKOFF[0] else
                   f"jitter to a generic point, {scale:g} of its size" if scale else
                   "from the start point itself (every jitter left the model's domain)")
        try:
            with evaluator:
                walk = burn_in(evaluator, moved, base, steps=steps, lr=lr, progress=report)
        except GradcheckError as exc:
            if steps is not None:
                raise
            move = Move(tuple(start.reasons()), tuple(model.params), 0, "adam", lr or 0.0, float("nan"),
                        float("nan"), (), "error", spent + evaluator.evaluations, checked=False,
                        why_not=f"moving off it failed: {exc}")
            return None, move, start, spent + evaluator.evaluations
        spent += evaluator.evaluations
        if walk.params is not None or not walk.stepped_back.startswith("the jitter"):
            break
        # A jitter at the block's scale took the loss somewhere it is not
        # the user's model any more (off every bump of width 1e-2 around
        # centres of 300): a tenth of it, closer to the start point.
    if start.tie is not None and walk.first_trace is not None and scale > 0:
        structural = persisting(base.trace or [], walk.first_trace)
        if structural:
            start = inspect(base.trace, model.params, base.gradient,
                            real_ties=set(tied_sites(base.trace or [])) - structural)
    why_not = None
    if walk.params is None:
        why_not = walk.stepped_back
    move = Move(tuple(start.reasons()), tuple(model.params), walk.steps, "adam", walk.lr, walk.loss_before,
                walk.loss_after, walk.flipped, walk.stopped, spent, checked=why_not is None,
                why_not=why_not, structural=walk.structural, stepped_back=walk.stepped_back, jitter=scale,
                held=walk.held, guards=walk.guards)
    return walk.params, move, start, spent


def objective_of(model: Model, seed: int) -> tuple[Model, Callable[[dict], dict]] | None:
    """The objective ``model`` is a derivative of, as a Model, and the map
    from its params to ``model``'s at the same point; None for an ordinary
    model. A model's target provides them as ``objective``: a Model or a
    model object (``init_params(seed)``, ``loss``/``grad`` or
    ``loss_and_grad``; its ``name`` said in the report), or a method
    returning one (None: the model is its own objective), and
    ``place(objective_params)``.

    Why: the loss of a reduction (sum_r jac_r(X[r]), a Hessian's rows) is
    no objective; descending it is meaningless and drives a point out of
    the domain (sum log x has no minimum). The points where a derivative is
    checked are the objective's points, and its generic point is the
    objective's: reached by descending the objective, where the steps are
    an optimizer's."""
    target = provider(model, "place")
    if target is None or not callable(target.place):
        return None
    objective = getattr(target, "objective", None)
    if callable(objective) and not isinstance(objective, Model) and \
            not any(hasattr(objective, name) for name in ("loss", "grad", "loss_and_grad")):
        objective = objective()  # (a method: the scipy adapter's, None for a scalar fun's own jac)
    if objective is None:
        return None
    if not isinstance(objective, Model):
        name = getattr(objective, "name", None) or "its objective"
        built = from_functions(name=f"{model.name} ({name})", loss=getattr(objective, "loss", None),
                               grad=getattr(objective, "grad", None),
                               loss_and_grad=getattr(objective, "loss_and_grad", None),
                               params=objective.init_params(seed), source=model.source)
        objective = dataclasses.replace(built, namespace=model.namespace, imports=model.imports,
                                        target=objective)
    return objective, target.place


def _leave_by_objective(model: Model, objective: Model, place: Callable[[dict], dict], start: StartPoint, *,
                        seed: int, steps: int | None, lr: float | None, progress: Callable[..., None] | None
                        ) -> tuple[dict[str, np.ndarray] | None, Move, StartPoint, int]:
    """:func:`leave` for a derivative: the objective moved (jitter, burn-in,
    as any model), and ``model``'s params placed at its generic point. The
    start point's findings stay ``model``'s own."""
    # (A model object's name; a Model's is its target's, so its function's: loss.)
    named = getattr(objective.target, "name", None) or ("loss" if objective.loss is not None else "loss_and_grad")
    evaluator = Evaluator(objective, seed=seed, track_kinks=True)
    try:
        with evaluator:
            base = evaluator.base_point(repeat=False)
        found = inspect(base.trace, objective.params, base.gradient)
        moved, move, _, spent = leave(objective, found, base, seed=seed, steps=steps, lr=lr, progress=progress)
    except GradcheckError as exc:
        if steps is not None:
            raise
        move = Move(tuple(start.reasons()), tuple(objective.params), 0, "adam", lr or 0.0, float("nan"),
                    float("nan"), (), "error", evaluator.evaluations, checked=False,
                    why_not=f"moving its objective ({named}) off the start point failed: {exc}", objective=named)
        return None, move, start, evaluator.evaluations
    spent += evaluator.evaluations
    move = dataclasses.replace(move, evaluations=spent, objective=named)
    return (None if moved is None else place(moved)), move, start, spent


def _counting(progress: Callable[..., None] | None, evaluator: Evaluator, spent: int) -> Callable[..., None] | None:
    """``progress`` with the evaluations spent so far in the move."""
    if progress is None:
        return None

    def report(phase: str, detail: str, done: int | None = None, total: int | None = None) -> None:
        progress(phase, detail, done, total, evaluations=spent + evaluator.evaluations)

    return report


def _with_params(model: Model, params: dict[str, np.ndarray]) -> Model:
    return dataclasses.replace(model, params=frozen_copies(params))
