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
@click.argument("model")
@click.option("--params", "params_file", metavar="FILE.npz", type=click.Path(dir_okay=False),
              help="Parameters from an .npz file (keys = block names), instead of init_params / params.")
@click.option("--samples", type=_Samples(), default=str(DEFAULT_SAMPLES), show_default=True,
              help="Coordinates checked per parameter block; 'all' checks every one.")
@click.option("--directions", type=click.IntRange(min=0), metavar="K", default=DEFAULT_DIRECTIONS, show_default=True,
              help="Random unit directions checked per sampled block (2 evaluations each).")
@click.option("--method", type=click.Choice(METHODS), default="central", show_default=True,
              help="central (error O(h^2)), five-point (O(h^4), twice the evaluations), or complex-step "
                   "(exact to machine precision, for models that accept complex parameters).")
@click.option("--h", "h", type=_Step(), default=None,
              help="Relative step: each coordinate moves by h * max(1, |x|). 'auto' picks it per dimension "
                   "from estimated truncation and round-off error.  [default: 1e-5 central, 1e-3 five-point, "
                   "1e-20 complex-step]")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
              help="Seeds the sampling, init_params(seed) and the RNGs reset before every model call.")
@click.option("--fail-above", type=_NON_NEGATIVE, metavar="FLOAT", default=DEFAULT_THRESHOLDS["fail_above"], show_default=True,
              help="Relative error above which a dimension fails.")
@click.option("--warn-above", type=_NON_NEGATIVE, metavar="FLOAT", default=DEFAULT_THRESHOLDS["warn_above"], show_default=True,
              help="Relative error above which a dimension warns.")
@click.option("--good-below", type=_NON_NEGATIVE, metavar="FLOAT", default=DEFAULT_THRESHOLDS["good_below"], show_default=True,
              help="Relative error at or below which a dimension passes; between this and --warn-above "
                   "is 'ok' for losses with kinks, 'warn' for smooth ones.")
@click.option("--tiny-below", type=_NON_NEGATIVE, metavar="FLOAT", default=DEFAULT_THRESHOLDS["tiny_below"], show_default=True,
              help="Values smaller than this (both analytic and numeric) are 'tiny', not graded.")
@click.option("--max-evals", type=click.IntRange(min=0), default=DEFAULT_MAX_EVALS, show_default=True,
              metavar="N", help="Evaluations per block for drilling down a failing random direction to the "
                                "wrong elements (0 turns drill-down off).")
@click.option("--track-kinks/--no-track-kinks", default=True, show_default=True,
              help="Track the winners of max/abs/masks to detect kink crossings.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Report format on stdout.")
@click.option("-v", "--verbose", is_flag=True, help="List every checked dimension.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
def check_command(model, params_file, samples, directions, method, h, seed, fail_above, warn_above, good_below,
                  tiny_below, max_evals, track_kinks, output_format, verbose, strict) -> None:
    """Check the gradient of MODEL: a model file (my_model.py), a dotted module
    (mypkg.models), either optionally with :ATTR naming an object that holds
    the functions.

    A model defines loss(params) -> float and grad(params) -> dict (or
    loss_and_grad(params)), and its parameters as init_params(seed) or a
    module-level dict `params`.
    """
    from .errors import GradcheckError
    from .settings import Thresholds

    try:
        thresholds = Thresholds(fail_above=fail_above, warn_above=warn_above, good_below=good_below,
                                tiny_below=tiny_below)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    from .check import check

    try:
        report = check(model, params_file=params_file, h=h, samples=samples, directions=directions, seed=seed,
                       thresholds=thresholds, track_kinks=track_kinks, method=method, max_evals=max_evals)
    except GradcheckError as exc:
        click.echo(f"gradcheck: error: {exc}", err=True)
        sys.exit(EXIT_UNUSABLE)
    except KeyboardInterrupt:
        click.echo("gradcheck: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)

    if output_format == "json":
        from .render import json as json_render

        json_render.render(report, sys.stdout)
    else:
        from .render import text

        text.render(report, text.make_console(), verbose=verbose)
    sys.exit(exit_code(report.verdict, strict=strict))


def exit_code(verdict: str, *, strict: bool) -> int:
    """The exit code promised for a verdict."""
    if verdict == "fail" or (strict and verdict == "warn"):
        return EXIT_FAIL
    return EXIT_PASS


if __name__ == "__main__":
    main()
