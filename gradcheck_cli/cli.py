"""The command line: parse options, call the library, render, map errors to exit codes.

Exit codes: 0 every block passed (warnings allowed unless --strict);
1 a gradient check failed (or warned, under --strict); 2 the model or the
command line is unusable; 130 interrupted.

Heavy imports (numpy, rich, the checker) happen inside the command, so
``gradcheck --help`` stays instant.
"""

from __future__ import annotations

import sys

import click

EXIT_PASS, EXIT_FAIL, EXIT_UNUSABLE, EXIT_INTERRUPTED = 0, 1, 2, 130

# Defaults repeated from settings.py as literals so --help needs no numpy;
# tests/test_cli.py asserts they agree.
DEFAULT_STEPS = {"central": 1e-5, "five-point": 1e-3, "complex-step": 1e-20}
METHODS = tuple(DEFAULT_STEPS)
DEFAULT_SAMPLES = 10
DEFAULT_MAX_EVALS = 200
DEFAULT_DIRECTIONS = 2
DEFAULT_SEED = 0
DEFAULT_THRESHOLDS = {"fail_above": 1e-2, "warn_above": 1e-4, "good_below": 1e-7, "tiny_below": 1e-10}


class _DefaultGroup(click.Group):
    """A group in which `gradcheck MODEL` means `gradcheck check MODEL`."""

    default_command = "check"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # `gradcheck --help` shows how to check a model, then the other commands.
        command = self.commands[self.default_command]
        sub = click.Context(command, info_name=ctx.info_name, parent=None)
        command.format_help(sub, formatter)
        self.format_commands(ctx, formatter)


class _Samples(click.ParamType):
    name = "N|all"

    def convert(self, value, param, ctx):
        if isinstance(value, int) or value is None:
            return value
        if str(value).lower() == "all":
            return None
        try:
            number = int(value)
        except ValueError:
            self.fail(f"{value!r} is neither a whole number nor 'all'", param, ctx)
        if number < 1:
            self.fail(f"{value!r} must be at least 1 (or 'all')", param, ctx)
        return number


class _Step(click.ParamType):
    name = "FLOAT|auto"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, float):
            return value
        if str(value).lower() == "auto":
            return "auto"
        try:
            number = float(value)
        except ValueError:
            self.fail(f"{value!r} is neither a number nor 'auto'", param, ctx)
        if not (number > 0 and number != float("inf")):
            self.fail(f"{value!r} must be a positive number (or 'auto')", param, ctx)
        return number



_NON_NEGATIVE = click.FloatRange(min=0.0)


@click.group(cls=_DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gradcheck-cli", prog_name="gradcheck")
def main() -> None:
    """Check hand-written gradients against centered finite differences."""


def _option(*names, **kwargs):
    return click.option(*names, **kwargs)


# Options shared by every command that runs a model, defined once.
_MODEL_OPTIONS = [
    click.argument("model"),
    _option("--params", "params_file", metavar="FILE.npz", type=click.Path(dir_okay=False),
            help="Parameters from an .npz file (keys = block names), instead of init_params / params."),
    _option("--samples", type=_Samples(), default=str(DEFAULT_SAMPLES), show_default=True,
            help="Coordinates checked per parameter block; 'all' checks every one."),
    _option("--method", type=click.Choice(METHODS), default="central", show_default=True,
            help="central (error O(h^2)), five-point (O(h^4), twice the evaluations), or complex-step "
                 "(exact to machine precision, for models that accept complex parameters)."),
    _option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
            help="Seeds the sampling, init_params(seed) and the RNGs reset before every model call."),
    _option("--track-kinks/--no-track-kinks", default=True, show_default=True,
            help="Track the winners of max/abs/masks to detect kink crossings."),
]


def model_options(command):
    """Apply the shared model options (in order) to a command."""
    for decorator in reversed(_MODEL_OPTIONS):
        command = decorator(command)
    return command


def _run(work):
    """Call the library, mapping its errors to exit code 2 with a message."""
    from .errors import GradcheckError

    try:
        return work()
    except GradcheckError as exc:
        click.echo(f"gradcheck: error: {exc}", err=True)
        sys.exit(EXIT_UNUSABLE)
    except ValueError as exc:  # an option value the library refused
        raise click.UsageError(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("gradcheck: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)


@main.command(
    "check",
    short_help="Check a model's gradient (the default command).",
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="""\b
Examples:
  gradcheck sample_models/two_layer_net.py
  gradcheck sample_models/svm.py --samples all -v
  gradcheck mypkg.models:two_layer --params weights.npz --format json
  gradcheck my_model.py --h 1e-6 --strict
  gradcheck my_model.py --method five-point --h auto

\b
Exit codes: 0 pass (warnings allowed), 1 a gradient failed (or warned,
with --strict), 2 the model or the command line is unusable.""",
)
@model_options
@click.option("--directions", type=click.IntRange(min=0), metavar="K", default=DEFAULT_DIRECTIONS, show_default=True,
              help="Random unit directions checked per sampled block (2 evaluations each).")
@click.option("--h", "h", type=_Step(), default=None,
              help="Relative step: each coordinate moves by h * max(1, |x|). 'auto' picks it per dimension "
                   "from estimated truncation and round-off error.  [default: 1e-5 central, 1e-3 five-point, "
                   "1e-20 complex-step]")
@click.option("--fail-above", type=_NON_NEGATIVE, metavar="FLOAT", default=DEFAULT_THRESHOLDS["fail_above"],
              show_default=True, help="Relative error above which a dimension fails.")
@click.option("--warn-above", type=_NON_NEGATIVE, metavar="FLOAT", default=DEFAULT_THRESHOLDS["warn_above"],
              show_default=True, help="Relative error above which a dimension warns.")
@click.option("--good-below", type=_NON_NEGATIVE, metavar="FLOAT", default=DEFAULT_THRESHOLDS["good_below"],
              show_default=True, help="Relative error at or below which a dimension passes; between this and "
                                      "--warn-above is 'ok' for losses with kinks, 'warn' for smooth ones.")
@click.option("--tiny-below", type=_NON_NEGATIVE, metavar="FLOAT", default=DEFAULT_THRESHOLDS["tiny_below"],
              show_default=True, help="Values smaller than this (both analytic and numeric) are 'tiny', not graded.")
@click.option("--max-evals", type=click.IntRange(min=0), default=DEFAULT_MAX_EVALS, show_default=True,
              metavar="N", help="Evaluations per block for drilling down a failing random direction to the "
                                "wrong elements (0 turns drill-down off).")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Report format on stdout.")
@click.option("-v", "--verbose", is_flag=True, help="List every checked dimension.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
def check_command(model, params_file, samples, method, seed, track_kinks, directions, h, fail_above, warn_above,
                  good_below, tiny_below, max_evals, output_format, verbose, strict) -> None:
    """Check the gradient of MODEL: a model file (my_model.py), a dotted module
    (mypkg.models), either optionally with :ATTR naming an object that holds
    the functions.

    A model defines loss(params) -> float and grad(params) -> dict (or
    loss_and_grad(params)), and its parameters as init_params(seed) or a
    module-level dict `params`.
    """
    from .settings import Thresholds

    try:
        thresholds = Thresholds(fail_above=fail_above, warn_above=warn_above, good_below=good_below,
                                tiny_below=tiny_below)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    from .check import check

    report = _run(lambda: check(model, params_file=params_file, h=h, samples=samples, directions=directions,
                                seed=seed, thresholds=thresholds, track_kinks=track_kinks, method=method,
                                max_evals=max_evals))
    if output_format == "json":
        from .render import json as json_render

        json_render.render(report, sys.stdout)
    else:
        from .render import text

        text.render(report, text.make_console(), verbose=verbose)
    sys.exit(exit_code(report.verdict, strict=strict))


@main.command(
    "sweep",
    short_help="Relative error against step size, as a terminal plot.",
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="""\b
Examples:
  gradcheck sweep sample_models/sigmoid_tanh.py
  gradcheck sweep my_model.py --block W1 --dims 3 --plot sweep.png
  gradcheck sweep my_model.py --method five-point --format json""",
)
@model_options
@click.option("--dims", type=click.IntRange(min=1), default=1, show_default=True, metavar="K",
              help="How many of each block's worst dimensions to sweep.")
@click.option("--block", "blocks", multiple=True, metavar="NAME",
              help="Sweep only this parameter block (repeatable); all blocks if not given.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Plots on stdout, or the numbers as JSON.")
@click.option("--plot", "plot_file", metavar="FILE.png", type=click.Path(dir_okay=False),
              help="Also draw the curves into an image (needs matplotlib: pip install 'gradcheck-cli[plot]').")
def sweep_command(model, params_file, samples, method, seed, track_kinks, dims, blocks, output_format,
                  plot_file) -> None:
    """Sweep the step h from 1e-1 down to 1e-12 for the worst dimensions of
    each block of MODEL, and plot their relative error: the V of truncation
    error (left) and round-off error (right), with the recommended h marked.
    """
    if plot_file is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            click.echo("gradcheck: error: --plot needs matplotlib: pip install 'gradcheck-cli[plot]'", err=True)
            sys.exit(EXIT_UNUSABLE)
    from .sweep import sweep

    report = _run(lambda: sweep(model, params_file=params_file, seed=seed, method=method, dims=dims,
                                blocks=blocks, samples=samples, track_kinks=track_kinks))
    if output_format == "json":
        import json

        click.echo(json.dumps(report.to_dict(), indent=2, allow_nan=False))
    else:
        from .render import sweep as sweep_render
        from .render import text

        sweep_render.render(report, text.make_console())
    if plot_file is not None:
        from .render import sweep as sweep_render

        sweep_render.save_png(report, plot_file)
        click.echo(f"wrote {plot_file}", err=True)
    sys.exit(EXIT_PASS)


def exit_code(verdict: str, *, strict: bool) -> int:
    """The exit code promised for a verdict."""
    if verdict == "fail" or (strict and verdict == "warn"):
        return EXIT_FAIL
    return EXIT_PASS


if __name__ == "__main__":
    main()
