"""`gradcheck --help`, as click renders it at 80 columns or more: printed by
launch.py without importing click. Written by docs/help_text.py; do not edit."""

TEXT = """\
Usage: gradcheck [OPTIONS] MODEL...

  Check the gradient of each MODEL: a model file (my_model.py), a directory of
  them, or a dotted module (mypkg.models), optionally with :ATTR naming an
  object that holds the functions. With no MODEL, the `models` listed in
  [tool.gradcheck] of pyproject.toml.

  A model defines loss(params) -> float and grad(params) -> dict (or
  loss_and_grad(params)), and its parameters as init_params(seed) or a module-
  level dict `params`.

Options:
  --params FILE.npz               Parameters from an .npz file (keys = block
                                  names), instead of init_params / params.
  --data FILE.npz                 Arrays the model reads by name (a model
                                  object's X and y): each becomes a module-level
                                  variable of the model first.
  --seed INTEGER                  Seeds the sampling, init_params(seed) and the
                                  RNGs reset before every model call.  [default:
                                  0; 0<=x<=4294967295]
  --set NAME=VALUE                Set a module-level constant of the model first
                                  (repeatable): --set KEEP=1.0 turns off
                                  dropout, --set REG=0 the regularization.
  --config FILE                   Read option defaults (and `models`) from
                                  FILE's [tool.gradcheck] instead of the nearest
                                  pyproject.toml.
  --samples N|ALL                 Coordinates checked per parameter block; 'all'
                                  checks every one.  [default: 10]
  --method [central|five-point|complex-step]
                                  central (error O(h^2)), five-point (O(h^4),
                                  twice the evaluations), or complex-step (exact
                                  to machine precision, for models that accept
                                  complex parameters).  [default: central]
  --track-kinks / --no-track-kinks
                                  Track the winners of max/abs/masks to detect
                                  kink crossings.  [default: track-kinks]
  --directions K                  Random unit directions checked per sampled
                                  block (2 evaluations each).  [default: 2;
                                  x>=0]
  --h FLOAT|AUTO                  Relative step: each coordinate moves by h *
                                  max(1, |x|). 'auto' picks it per dimension
                                  from estimated truncation and round-off error.
                                  [default: 1e-5 central, 1e-3 five-point, 1e-20
                                  complex-step]
  --fail-above FLOAT              Relative error above which a dimension fails.
                                  [default: 0.01; x>=0.0]
  --warn-above FLOAT              Relative error above which a dimension warns.
                                  [default: 0.0001; x>=0.0]
  --good-below FLOAT              Relative error at or below which a dimension
                                  passes; between this and --warn-above is 'ok'
                                  for losses with kinks, 'warn' for smooth ones.
                                  [default: 1e-07; x>=0.0]
  --tiny-below FLOAT              Values smaller than this (both analytic and
                                  numeric) are not graded (default: none; each
                                  value is judged against its own error budget).
                                  [default: 0.0; x>=0.0]
  --max-evals N                   Evaluations per block for drilling down a
                                  failing random direction to the wrong elements
                                  (0 turns drill-down off).  [default: 500;
                                  x>=0]
  --format [text|json|github]     Report format on stdout.  [default: github
                                  when GITHUB_ACTIONS=true, else text]
  --junit-xml PATH                Also write a JUnit XML report (one testcase
                                  per block) to PATH.
  --warmup N|AUTO|OFF             Where the start point is degenerate (elements
                                  on a kink, every hinge or ReLU on one side,
                                  zero weights or gradients), move off it (a
                                  seeded jitter, then Adam until kink outcomes
                                  change or the loss falls) and check there too.
                                  'off' checks the start point only; a number
                                  forces that many Adam steps.  [default: auto]
  --lr FLOAT                      Adam's learning rate for the warm-up (about
                                  that much per element per step).  [default:
                                  one whose first step lowers the loss by about
                                  5%]  [x>0.0]
  --reg auto|none|NAME            The regularization strength's constant
                                  (module-level, or the target object's
                                  attribute): its share of the gradient is
                                  reported per block, and where it is over half
                                  the data loss alone (NAME = 0) is checked too.
                                  'auto' finds one named like reg, lam,
                                  weight_decay...; NAME always checks both.
                                  [default: auto]
  --save-params FILE.npz          Write the parameters the check ran at (after
                                  any warm-up) to FILE.npz, for --params.
  --jobs N|AUTO                   Worker processes for the evaluations ('auto':
                                  one per core where they pay off, else none;
                                  the report says which). Results are the same
                                  as with 1.  [default: 1]
  --dask ADDRESS                  Run the evaluations on the Dask cluster whose
                                  scheduler is at ADDRESS (extra 'dask'); a
                                  model file is uploaded to the workers.
  --timeout SECONDS               Stop after this long (the whole run, user code
                                  included), report what finished, exit 2.
  -v, --verbose                   List every checked dimension.
  -q, --quiet                     Print each model's verdict line only (text
                                  format).
  -x, --exitfirst                 Stop a run over several models after the first
                                  that fails or cannot be checked.
  --strict                        Exit 1 on warnings too.
  --help                          Show this message and exit.

  Examples:
    gradcheck sample_models/two_layer_net.py
    gradcheck sample_models/*.py                 (or a directory)
    gradcheck sample_models/svm.py --samples all -v
    gradcheck mypkg.models:two_layer --params weights.npz --format json
    gradcheck my_model.py --method five-point --h auto --strict
    gradcheck --junit-xml gradcheck.xml          (the models in [tool.gradcheck])
    gradcheck big_model.py --jobs auto           (worker processes where they pay off)

  Exit codes: 0 pass (warnings allowed), 1 a gradient failed (or warned,
  with --strict), 2 a model or the command line is unusable; with several
  models, the worst.

Commands:
  check   Check models' gradients (the default command).
  sanity  Sanity checks before training: initial loss, regularization,
          overfitting.
  sweep   Relative error against step size, as a terminal plot.
"""
