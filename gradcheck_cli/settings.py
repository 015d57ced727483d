"""Every number the checker relies on, with the reason it has that value.

Thresholds are a frozen dataclass so the CLI, a config file and the Python
API share one definition; the remaining constants are numerical facts of
float64 arithmetic and of the finite-difference method, not user choices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Machine epsilon of float64, the precision every check runs in.
EPS = float(np.finfo(np.float64).eps)
# ... and of float32, the precision a loss computed in float32 keeps, and of
# float16, which a loss rounded to half precision keeps.
EPS32 = float(np.finfo(np.float32).eps)
EPS16 = float(np.finfo(np.float16).eps)

# Default relative step per method. The centered difference's truncation
# error is O(h^2) and its round-off error O(eps/h); they balance near
# h = eps^(1/3) ~ 6e-6, so 1e-5 (the course notes' choice) sits at the
# bottom of the V-shaped error curve for loss values of order 1. The
# five-point stencil's truncation error is O(h^4): the balance moves to
# eps^(1/5) ~ 7e-4. The complex step has no subtraction, hence no round-off
# to balance: any tiny h works, and 1e-20 leaves no truncation error at all.
METHODS = ("central", "five-point", "complex-step")
DEFAULT_STEPS = {"central": 1e-5, "five-point": 1e-3, "complex-step": 1e-20}
DEFAULT_METHOD = "central"
# The relative steps a check accepts for the subtracting methods. Below
# eps, x + h*max(1, |x|) rounds back to x for |x| <= 1: the step vanishes
# and the difference is 0/0. From 0.1 up, a "derivative" is a secant across
# a tenth of the value or more, which no tolerance can grade; 0.1 is also
# the widest step `gradcheck sweep` draws. (The complex step subtracts
# nothing: any tiny step works, so only the upper bound applies to it.)
MIN_STEP = float(np.finfo(np.float64).eps)
MAX_STEP = 0.1
# The longest interval --timeout arms the real-time timer for at once (a
# time_t holds the seconds; 1e300 overflows it): a later deadline re-arms it.
TIMER_LIMIT = 1e6
# A --timeout alarm that comes while gradcheck puts the process back in
# order (a model's modules taken out of sys.modules) is re-armed this long
# later: raised there, it would leave that work half done. Short beside any
# timeout a person sets; long beside the bookkeeping (microseconds).
STOP_DEFERRED = 0.01
# The largest BLAS thread count a thread variable (OMP_NUM_THREADS...) is
# read as. The largest machines have a few thousand cores, and a BLAS
# caps its pool at its build's limit anyway; a larger number is a typo or
# a placeholder, and past a C int it fails inside threadpoolctl's call to
# the BLAS. Such a variable gives no count: every process keeps its own.
MAX_BLAS_THREADS = 4096
# The command line's progress (cli._progress). On a terminal a live line
# (phase, count, clock) appears once a check has run this long: most checks
# end sooner, and a line that flashes for a moment only clutters.
PROGRESS_AFTER = 1.0
# Without a terminal on stderr (a CI log, a pipe), or under --format json,
# one line every this many seconds says what a long check is doing: often
# enough that a CI job never looks hung, rarely enough that a 10-minute
# check writes 60 lines; a check that ends sooner writes none, so a fast
# check's stderr stays empty.
HEARTBEAT_EVERY = 10.0
# The time a phase has left (units left at the pace so far) is shown once
# this many of its units are done and it has run this long: the first
# probes carry a worker pool's start-up, one near a kink costs several
# times the others, and an estimate from one second's pace jumps about.
ETA_AFTER_UNITS = 5
ETA_AFTER_SECONDS = 2.0
# --jobs beyond this many worker processes per core is capped (with a note):
# evaluations are CPU-bound, so more processes only add start-up -- and
# --jobs 10000 would spend the whole run spawning interpreters.
MAX_JOBS_PER_CORE = 4
# numpy's legacy seeding (np.random.seed, RandomState) takes 0 <= seed < 2**32.
MAX_SEED = 2**32 - 1

# --h auto tries these relative steps (per method) and keeps the one whose
# estimated truncation + round-off error is smallest. Truncation at a step
# is estimated by the change to the next, ten times smaller, step.
AUTO_STEPS = {
    "central": (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7),
    "five-point": (1e-1, 1e-2, 1e-3, 1e-4, 1e-5),
}

# The loss's own noise (rounding in its evaluation) is measured once per
# check, from a difference table of f at x + j*delta*v, j = -3..3 (Moré and
# Wild's ECnoise idea): the 4th-6th differences of a smooth function at
# this delta are far below rounding, so what is left is noise.
NOISE_PROBE_STEP = 1e-6
# A numeric derivative sum(w_j f_j) carries noise sigma * ||w||; three
# standard deviations make its uncertainty.
UNCERTAINTY_SIGMAS = 3.0

# A disagreement more than this many budgets wide (round-off at three sigma
# plus truncation) is confirmed: a bug, whatever band its relative error is
# in. The noise behind the budget is itself estimated from a few
# differences, so one budget is not yet "far beyond".
CONFIRM_FACTOR = 3.0

# Steps are relative: h * max(1, |x|). Below |x| = 1 an absolute step keeps
# the perturbation from vanishing for small weights; above it the step grows
# with x so that x + h is still a different float with many digits to spare.
STEP_SCALE_FLOOR = 1.0

# When a kink is crossed the dimension is retried with the step divided by
# this factor until no kink is crossed ...
KINK_RETRY_FACTOR = 10.0
# ... down to this step. Below ~1e-9 the round-off error eps*|f|/h exceeds
# 1e-7 * |f|, so a smaller step would trade a kink for noise.
KINK_RETRY_FLOOR = 1e-9
# Where the loss breaks (raises, or is not finite) at a step, the ladder
# goes on below that floor, down to steps that move what the probe moves
# by this many ulps of it (the coordinate's |x|; along a direction v, the
# smallest |x_i| / |v_i|): x +- h must still be distinct floats with digits
# to spare (the Taylor test's TAYLOR_MIN_ULPS, for the same reason). An
# absolute 1e-9 assumed every parameter sits farther than that from its
# domain's wall: an interior point's barrier -log(x) at x = 1e-10, or
# -log(1 - x) at 1 - 1e-12, does not. Round-off is no argument against
# such steps: near a wall the slope grows as the distance shrinks, and the
# error budget says what rounding costs. A coordinate at 0 has no
# magnitude to go by: its floor stays KINK_RETRY_FLOOR.
EDGE_MIN_ULPS = 64
# Steps tried where the loss breaks, whatever the floor: from h = 1e-5 to
# 64 ulps of a coordinate near 1e-10 (a loss that raises off its start
# point costs two evaluations a step, at most this many times).
EDGE_RETRY_ATTEMPTS = 25

# Untracked-kink test. The forward and backward one-sided differences differ
# by f''(x)*h for a smooth function; a kink between x-h and x+h makes them
# differ by up to the jump in slope, which does not shrink with h. A gap of
# more than this fraction of the slope is suspicious (it is what would move
# the centered estimate by 5e-4 relative, well before a false `fail`) ...
KINK_GAP_TOLERANCE = 1e-3
# ... and is taken as curvature, not a kink, when it shrinks by at least this
# factor when the step shrinks tenfold (curvature shrinks it by 10).
KINK_GAP_SHRINK = 0.5
# When the gap shrinks tenfold to within this fraction, it was curvature at
# the first step too, and the first step's estimate (less round-off than the
# retry's) is kept. A kink between h/10 and h instead leaves almost no gap.
CURVATURE_MATCH = 0.5
# Round-off in the gap (f(x+h) - 2f(x) + f(x-h))/h is about sqrt(6)*sigma/h
# for loss noise sigma; gaps below this many sigma/h are noise, not evidence.
GAP_NOISE_SIGMAS = 8.0

# Screen, then drill down: when a block's random direction fails but no
# sampled coordinate does, the direction is bisected (each half checked as a
# direction of its own) down to the wrong coordinates, spending at most this
# many loss evaluations per block. A half that disagrees takes a second
# stencil to confirm it, so one wrong element in n costs about
# 10*log2(n) evaluations: 200 for 1e6 elements; 500 leaves room for a few.
DEFAULT_MAX_EVALS = 500

# Diagnosis (diagnosis.py): what kind of bug a failing block looks like.
# "a ≈ b" in a hint allows each value's own uncertainty (its error budget,
# both sides' rounding, truncation) plus this relative slack: a bug's
# pattern is exact up to the finite difference's error, and 1e-3 is far
# above that error for a verified value yet far below the spread a
# gradient wrong in no simple way shows across several values.
HINT_SLACK = 1e-3
# A pattern is claimed only from at least this many values that carry it
# (a ratio from values clearly away from zero): any one value has a ratio.
HINT_MIN_VALUES = 3
# A value carries a ratio where |numeric| is this many uncertainties away from 0.
HINT_SIGNIFICANT = 10.0
# Where the wrong elements are: one random direction through each row,
# column or element of an axis with at most this many (each a probe of
# about 2 evaluations, more where it disagrees); an axis with more is not
# searched (a 3072-row W would cost thousands of evaluations for a hint).
HINT_MAX_SLICES = 64
# Wrong elements in at most this many rows (columns, elements), with at
# least as many right ones, are "confined"; more is a pattern of no kind.
HINT_MAX_CONFINED = 3

# Two evaluations at the same point may differ by this many ulps of the loss
# (summation order in BLAS) before they count as nondeterministic; anything
# larger divided by h = 1e-5 would already show as a relative error.
NONDETERMINISM_ULPS = 4.0

# Default number of coordinates sampled per parameter block, and of random
# directions per block for the directional check (2K evaluations per block,
# whatever its size).
DEFAULT_SAMPLES = 10
DEFAULT_DIRECTIONS = 2
# Random directions per block at the generic point (generic.py), every block
# whatever its size: a direction sees every element at once, and a bug the
# start point hid is anywhere in the block.
GENERIC_DIRECTIONS = 2
DEFAULT_SEED = 0


# Training (--warmup, and the overfit check of `gradcheck sanity`). The
# notes: norm(lr * dW) / norm(W) around 1e-3 per step; much lower means the
# learning rate is too low, much higher too high.
TARGET_UPDATE_RATIO = 1e-3
UPDATE_RATIO_LOW, UPDATE_RATIO_HIGH = 1e-4, 1e-2
MOMENTUM = 0.9  # SGD's, the usual
ADAM_BETAS = (0.9, 0.999)  # Kingma and Ba's defaults
ADAM_EPS = 1e-8
# Adam moves each parameter by about lr per step whatever the gradient's
# scale, so its rate needs no ratio rule. 1e-2 overfits a small subset in a
# couple of hundred steps (two_layer_sanity.py: 1.61 -> 0.0015 in 200) with
# update/param ratios near 1e-3; Adam's usual 1e-3 only gets 4x down there.
ADAM_DEFAULT_LR = 1e-2
# The overfit check: steps on the model's own data, and how far the loss
# must fall (the notes: it must reach ~0 on a tiny subset).
DEFAULT_OVERFIT_STEPS = 200
DEFAULT_OVERFIT_FACTOR = 10.0
# A degenerate start point (startpoint.py). A kink site whose elements all
# (but this share) take one side leaves the other branch untested: the
# notes' SVM at a tiny initialisation, every margin active. Below this many
# elements "all on one side" is too likely by chance to mean anything.
UNIFORM_MINORITY = 0.02
UNIFORM_MIN_ELEMENTS = 8

# The generic point (generic.py) starts from a seeded jitter of every block:
# each element moves by JITTER_RELATIVE of its block's RMS (far beyond a
# probe's 1e-5 step, so the elements it takes off a kink stay off it while
# the check probes them, and small enough to keep the point the user's); a
# block all of one sign by a factor exp(JITTER_RELATIVE * noise); a block
# that is exactly zero has no scale of its own and is drawn at the RMS of
# the model's nonzero parameters (1e-2 if all are zero).
JITTER_RELATIVE = 1e-2
JITTER_ALL_ZERO = 1e-2
# Where the jitter leaves the model (the loss not finite, or nothing left to
# learn: a bump of width 1e-2 around a centre of 300 is left by 1 % of 300),
# it is tried again at these fractions of itself; 0 is the start point.
JITTER_BACKOFF = (1.0, 0.1, 0.01, 0.0)
# Uniform kink sites are left by Adam. Its first step moves every element
# by lr against its gradient's sign, whatever the parameters' scale (a
# 1e-4-scale W moves as much as a 1-scale one), so the loss falls by about
# lr * sum|g| at first: lr is chosen to make that this fraction of the
# loss. A fixed rate is wrong one way or the other: 1e-2 per element moved
# every margin of a 3073-input SVM across its hinge in one step (uniform
# again, on the other side), and barely moves a 10-input one.
WARMUP_FIRST_STEP_FALL = 0.05
# ... but a loss carrying a large constant (a running total, a prior's
# normaliser) is no measure of how much of it training can remove: the
# rate is capped at ADAM_DEFAULT_LR per element, or this share of the
# parameters' RMS where they are larger than 1.
WARMUP_MAX_RELATIVE_STEP = 1e-2
# The burn-in to the generic point (generic.py) runs until every kink site
# one-sided at the jittered point has this share of its elements (at least
# one) on the other side ...
WARMUP_FLIP_SHARE = 0.1
# ... among sites of at least this many elements (a scalar kink, one
# element, is always "one-sided"; six triplets are a site to test) ...
BURNIN_SITE_MIN_ELEMENTS = 2
# ... and the loss has shown its curvature: a step moved it by more than
# this share of the gradient's first-order prediction away from it. A
# step of Adam's first rate (5 % of the loss) shows a few percent on a
# smooth loss; a loss that is linear where it starts (every hinge active,
# a near-linear tanh at a 1e-4 initialisation) shows none until a kink is
# crossed or the nonlinearity comes into play, wherever no tracker sees it.
BURNIN_CURVATURE = 0.1
# The notes' "short burn-in": at least this many steps. Adam moves every
# element by about its rate a step, so 8 steps take a 1e-4 initialisation
# to ~1e-2 per element, where a tanh's curvature is measurable.
BURNIN_MIN_STEPS = 8
# While a requirement is unmet, each block's rate doubles every step until a
# step it dominated made the loss rise, up to this factor over the first
# rate: a margin in features of 1e-3 units is ~1e5 first steps away, and
# twenty doublings reach it in twenty steps. Beyond the factor (a block the
# loss hardly depends on) the block's move is as large as any training's.
BURNIN_RATE_GROWTH = 2.0**20
# Where only the curvature is still to show (no kink site waits), the rate
# grows at most this much: a near-linear start shows its curvature within
# a few first steps, and a loss linear in some block (a batchnorm's gamma)
# would otherwise be followed a million steps away from the user's point.
BURNIN_CURVATURE_GROWTH = 16.0
# Training has settled where the loss moved by less than this share of itself
# over WARMUP_TRACE_EVERY steps: a site still one-sided then is structure.
BURNIN_SETTLED = 1e-3
# At most this many steps (each one loss and one grad call).
BURNIN_MAX_STEPS = 40
# A step that leaves the model's domain is taken back and its largest mover
# slowed; after one such retreat per block and this many more, the burn-in
# ends where it is.
BURNIN_RETREATS = 2
# A guard keeps a value off the edge of its domain with a constant this close
# to 0 or to +-1 (1e-7, 1e-12, 2e-3, 1 - 1e-7): its saturation is the model
# leaving its valid inputs, not a branch to test (startpoint.guard). A branch
# at such a constant (a Huber delta of 1e-3) is taken for a guard: the report
# names the guard that held the burn-in back, and its far side goes untested.
GUARD_TOLERANCE = 1e-2
# Kink outcomes are read every this many steps, not every step: a tracked
# call of a naive loop costs ~3 untracked ones, and at a rate that lowers the
# loss ~5 % a step, outcomes change a few percent a step, not wholesale.
WARMUP_TRACE_EVERY = 4

# At tied kinks (ties.py): the limiting gradients are the grad at points
# this far off (relative to each block's RMS): any move breaks a tie, and
# 1e-9 crosses no kink the point is not on unless one is within 1e-9 of it.
TIE_JITTER = 1e-9
# Their differences' span leaves out what is below this share of the
# gradients' size: the smooth change over the jitter (~1e-9 of it) and
# round-off. A piece's difference is a tied term of the gradient, as small
# as its upstream gradient (a max-pool window's dout of 1e-3 beside others
# of 1): 1e-4 of the whole left such windows out of the span.
TIE_RANK_TOLERANCE = 1e-7
# The analytic value's part outside that span is checked along where it is
# above this share of the gradient's size (a correct backward's is the
# smooth change, ~1e-9).
TIE_OUTSIDE = 1e-4
# At most this many limiting gradients (each way of breaking the ties adds
# one dimension at most: 128 tied max-pool windows take ~131), and the span
# is taken as complete once TIE_SETTLED in a row added nothing to it (else:
# too many ways to break the ties to tell, and nothing is checked along them).
TIE_SAMPLES = 512
TIE_SETTLED = 3
# Tied elements beyond which the ties are not sampled at all (a ReLU layer at
# W = 0, b = 0 ties every unit of every example: hundreds of gradient calls
# to tell, where the generic point sees the same values off the ties).
TIE_MAX_TIED = 256

# The initial-loss check: relative tolerance around ln C (softmax) or C - 1 (SVM).
DEFAULT_LOSS_TOLERANCE = 0.1


@dataclass(frozen=True)
class Thresholds:
    """Grading bands for the elementwise relative error |a-n| / max(|a|, |n|).

    The defaults are the course notes' bands: above 1e-2 the gradient is
    probably wrong; 1e-4..1e-2 is uncomfortable; 1e-7..1e-4 is fine for an
    objective with kinks but too high for a smooth one; 1e-7 and below is
    good. These are the report's language; each value's error budget
    decides what they cannot (verdict/grading.py). ``tiny_below`` is an optional
    floor: values below it in magnitude (both) are not graded. It is 0 by
    default because smallness is judged against each value's budget and
    its block's scale: a fixed floor would call a whole loss of scale 1e-12
    "tiny" and let a sign-flipped gradient there through.
    """

    fail_above: float = 1e-2
    """``--fail-above``: a relative error above this fails."""
    warn_above: float = 1e-4
    """``--warn-above``: a relative error above this warns."""
    good_below: float = 1e-7
    """``--good-below``: at or below this a value passes; between this and ``warn_above`` it is ``ok`` with kinks,
    ``warn`` without."""
    tiny_below: float = 0.0
    """``--tiny-below``: values below this in magnitude (both) are not graded (``unverified``)."""

    def __post_init__(self) -> None:
        for name in ("fail_above", "warn_above", "good_below", "tiny_below"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0 and np.isfinite(value)):
                raise ValueError(f"threshold {name} must be a finite number >= 0, got {value!r}")
        if not (self.good_below <= self.warn_above <= self.fail_above):
            raise ValueError(
                "thresholds must satisfy good_below <= warn_above <= fail_above, got "
                f"{self.good_below:g} / {self.warn_above:g} / {self.fail_above:g}"
            )


@dataclass(frozen=True)
class Settings:
    """How a check runs. Each field is the command line's option of the same
    name, but for ``thresholds``, which holds four (its fields')."""

    h: float | str | None = None
    """``--h``: a relative step, ``"auto"``, or None: the method's default."""
    samples: int | None = DEFAULT_SAMPLES
    """``--samples``: coordinates checked per block; None: every coordinate."""
    directions: int = DEFAULT_DIRECTIONS
    """``--directions``: random unit directions checked per block."""
    seed: int = DEFAULT_SEED
    """``--seed``: the sampling's, and the RNGs' reset before every model call."""
    thresholds: Thresholds = field(default_factory=Thresholds)
    """The grading bands (``--fail-above``, ``--warn-above``, ``--good-below``, ``--tiny-below``)."""
    method: str = DEFAULT_METHOD
    """``--method``: ``central``, ``five-point`` or ``complex-step``."""
    max_evals: int = DEFAULT_MAX_EVALS
    """``--max-evals``: the drill-down's evaluations per block."""
    track_kinks: bool = True
    """``--track-kinks``: follow max/abs/masks to find kink crossings."""
    # It decides Report.passed (the command line's exit code), never a
    # grade or the verdict, so the JSON document, which records the
    # grades, does not carry it.
    strict: bool = False
    """``--strict``: a warning fails too (``Report.passed``)."""

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.h is None:
            object.__setattr__(self, "h", DEFAULT_STEPS[self.method])
        if self.h == "auto":
            if self.method == "complex-step":
                # The complex step has no round-off to balance: its default is already best.
                object.__setattr__(self, "h", DEFAULT_STEPS[self.method])
        else:
            check_step(self.h, self.method)
        check_seed(self.seed)
        if self.max_evals < 0:
            raise ValueError(f"max_evals must be 0 or more, got {self.max_evals}")
        if self.samples is not None and (isinstance(self.samples, bool) or not isinstance(self.samples, int)
                                         or self.samples < 1):
            raise ValueError(f"samples must be a whole number of at least 1, or 'all', got {self.samples!r}")
        if self.directions < 0:
            raise ValueError(f"directions must be 0 or more, got {self.directions}")

    def to_dict(self) -> dict:
        t = self.thresholds
        return {
            "method": self.method,
            "h": self.h,
            "samples": "all" if self.samples is None else self.samples,
            "directions": self.directions,
            "seed": self.seed,
            "fail_above": t.fail_above,
            "warn_above": t.warn_above,
            "good_below": t.good_below,
            "tiny_below": t.tiny_below,
            "max_evals": self.max_evals,
            "track_kinks": self.track_kinks,
        }


def check_step(h, method: str) -> None:
    """Refuse a relative step no finite difference can use (ValueError)."""
    if isinstance(h, (str, bool)) or not isinstance(h, (int, float)) or not (h > 0 and np.isfinite(h)):
        raise ValueError(f"step h must be a positive finite number or 'auto', got {h!r}")
    if h >= MAX_STEP:
        raise ValueError(f"step h = {h:g} is too large: a relative step of {MAX_STEP:g} or more measures a secant "
                         "across a tenth of each value, not a derivative (the default is "
                         f"{DEFAULT_STEPS[method]:g}; 'auto' picks one)")
    if method != "complex-step" and h < MIN_STEP:
        raise ValueError(f"step h = {h:g} is too small: below machine epsilon ({MIN_STEP:.2g}) x + h*x rounds "
                         "back to x in float64 and the difference is 0/0 (the complex step takes any tiny h)")


def check_seed(seed) -> None:
    """Refuse a seed numpy's global RNG cannot take (ValueError)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be a whole number from 0 to 2**32 - 1 (numpy's RNG seeds), got {seed!r}")


# --reg: the test that a constant named like a regularization strength is
# one (regularization.prove), before the data loss alone is checked with it
# at 0. Setting it to 0 must change the loss by an L2 term D and the
# gradient by D's gradient.
#
# Changes of the loss or the gradient within this many ulps of their
# values are rounding, not a term the constant scales (the data loss is
# computed alike with and without it, so its terms cancel to a few ulps).
REG_PREMISE_ULPS = 64.0
# How far the change may stray from an L2 term's two identities (along the
# parameters, theta . grad D = 2 D; along its own gradient, D's slope is
# |grad D|) and still be one. An L2 term meets both to rounding (it is
# quadratic, so even the slope's difference quotient is exact); a term of
# another shape (an entropy scaled by a temperature, a width, a penalty
# that grad and loss read differently) misses by tens of percent.
REG_PREMISE_TOLERANCE = 1e-2
# The slope's step, relative to the parameters' norm: exact at any step
# for an L2 term, so large enough that the loss's rounding is small
# against the slope, and small enough to stay where the model is defined.
REG_PREMISE_STEP = 1e-3

# Items looked at per container (an object's attributes, a dict, a list)
# when finding the arrays a model holds beside its params (model.held_arrays:
# what a loss that ignores its argument reads, what a call changes in
# place), HELD_DEPTH steps below its module's names: a model's own state has
# fewer, and the walk stays bounded where a module keeps a list of a
# million samples. Three steps reach a sequential net's layers
# (net.layers[0].W); the walk runs only where a check failed or two calls
# differed.
HELD_ITEMS = 100
HELD_DEPTH = 3

# Checks whose models a Dask worker keeps imported at once. Checks sharing
# a cluster interleave their batches on its workers; rebuilding the model
# for every batch would import it and run its init_params again each time.
# A check whose process was killed never says it ended: at most this many
# models, and their files, wait on a worker until later checks push them out.
WORKER_MODELS_KEPT = 4
# Checks a Dask worker remembers as ended: a batch of a check can start on
# a worker just after the check ended there (the cancellation and the end
# travel separately); remembered, it does not import the model again.
# ~100 bytes each.
ENDED_CHECKS_KEPT = 1024

# scipy.optimize's conventions (derivatives/scipy_conventions.py): how far
# hess(x0) may be from its transpose, relative to its largest element,
# before the report says it is not symmetric. A Hessian written by hand
# computes H[i, j] and H[j, i] by different expressions, whose rounding
# differs by a few eps times the terms they cancel; sqrt(eps) leaves room
# for terms 1e7 times the result, while a wrong element (a missing factor,
# a transposed term) is off by its own order of magnitude.
HESS_SYMMETRY_RTOL = float(np.sqrt(EPS))
# The seed stream of hessp's direction v (a check's --seed is the other
# part): fixed, so a worker rebuilding the model draws the same v.
HESSP_DIRECTION_STREAM = 0x4E55
# Which truth a Hessian is judged against (derivatives/hessian_truth.py):
# jac's differences measure H only where jac is fun's gradient, so jac is
# first compared with fun's central differences along a few seeded
# Gaussian directions (each element moved at its own scale, max(1, |x_i|)),
# at the point and at points HESS_TRUTH_REACH away along each direction.
# Three: a wrong term of jac is missed by a random direction only where it
# is orthogonal to it (measure zero), and at a displaced point the
# comparison is along the other directions as well as its own, so a jac
# right at x whose derivative is wrong (an antisymmetric error included:
# d^T E d = 0 along d itself) is seen.
HESS_TRUTH_DIRECTIONS = 3
HESS_TRUTH_STREAM = 0x4E56
# The central difference of fun along a direction: eps^(1/3) balances its
# truncation t^2 f'''/6 against its rounding eps |f| / t (scipy's _numdiff,
# its 3-point step). Both are measured (the difference at t against 2t;
# the fourth difference of the five values for the rounding), so the step
# only has to be near the best one.
HESS_TRUTH_STEP = float(EPS ** (1 / 3))
# How far from the point jac is compared too: ten times the check's
# central step (DEFAULT_STEPS["central"]), so the points whose jac values a
# row's check differences lie within reach, and a jac right at x but wrong
# in its derivative (an error |e'| s against a resolution ~eps |f| / t) is
# seen down to |e'| / |f| ~ 1e-6.
HESS_TRUTH_REACH = 1e-4
# How many of its measured standard deviations rounding may put between
# fun's slope and a right jac's: misjudging a right jac costs only
# precision (fun's differences are a truth too), while misjudging a wrong
# one fails a right Hessian, so a bound no Gaussian rounding reaches.
HESS_TRUTH_SIGMAS = 10.0
# Where jac is not fun's gradient, a Hessian row's term is fun's own slope
# along e_r by the five-point stencil at step d, whose gradient is H's row
# r up to d^4 f^(5)/30: a bias no budget of the check sees (it measures its
# own step's truncation, not this one's). The central stencil's d^2 bias
# was 1.4e-7 relative for Beale's at d ~ 4e-4, beyond a budget of 1e-8;
# d^4 at d = 1e-3 (the five-point stencil's own step, DEFAULT_STEPS) puts
# it near 1e-12, far below the check's rounding eps |f| / (d h) ~ 2e-8 |f|
# at h = 1e-5, and the term's rounding eps |f| / d is what the noise tables
# measure as the loss's own. Relative, as every step: d * max(1, |x_r|) at
# the point the rows are placed at.
HESS_FUN_STEP = DEFAULT_STEPS["five-point"]
# A step that leaves fun's domain (x log x at x = 1e-5, a barrier 1e-7 from
# its wall) is divided by ten until fun is finite at every point of its
# stencil; and fun's slope for a Hessian row, until it agrees with the
# slope at a tenth of its step within that one's rounding: near a wall fun
# varies at the wall's distance, not at max(1, |x|), and the five-point
# bias (step / distance)^4 was 5e-7 of a barrier's H at 5e-4 from its wall
# with the first finite step. At most six times: a million times smaller,
# the slope's rounding eps |f| / step is still ~1e-4 |f| at
# HESS_TRUTH_STEP, and a wall nearer than that is one the check's own
# steps do not resolve either.
HESS_DOMAIN_SHRINK = 10.0
HESS_DOMAIN_TRIES = 6

# `gradcheck taylor` (taylors.py): the relative steps h its Taylor test is
# read at, tenfold apart, each on the points h, 2h and 4h of each side (the
# check's own Taylor test at each). From 1e-1 (x + 0.4 v: far enough that
# a wrong derivative's slope-1 line and a right one's slope 2 part over
# several decades, the curvature still a perturbation for an ordinary
# loss) down to 1e-9 (KINK_RETRY_FLOOR: below it a float64 loss's
# round-off, eps |f| / h, swamps any remainder, and the plot shows only the
# floor): nine readings, 54 evaluations a block.
TAYLOR_STEPS = tuple(10.0**-k for k in range(1, 10))
# A derivative's rows checked apart (pipeline._check_apart): each is a check
# of its own (its noise measured, ~100 evaluations at both points, each
# calling the user's jac once), so a matrix of more rows than this is
# checked on a seeded sample of this many (--samples all: every row). At
# n = 200 (scipy's rosen_hess) the 200 rows cost ~4 s on one core; a row's own
# directions see all of its elements, a row outside the sample is unseen.
ROWS_APART_CHECKED = 200
# The seed stream of that sample (the check's --seed is the other part): the
# same rows at the start and the generic point.
ROWS_APART_STREAM = 0x2A0F
# How many of the blocks apart that fail at the same elements the hint
# names (the rest counted): the hint is one line whatever m is.
ROWS_APART_NAMED = 3
