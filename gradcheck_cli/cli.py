"""The command line: parse options, call the library, render, map errors to exit codes.

Exit codes: 0 every block passed (warnings allowed unless --strict);
1 a gradient check failed (or warned, under --strict); 2 the model or the
command line is unusable; 130 interrupted.

Heavy imports (numpy, rich, the checker) happen inside the command, so
``gradcheck --help`` stays instant.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from typing import Callable

import click

from . import completion, values
from ._version import __version__

EXIT_PASS, EXIT_FAIL, EXIT_UNUSABLE, EXIT_INTERRUPTED = 0, 1, 2, 130

# Defaults repeated from settings.py as literals so --help needs no numpy;
# tests/test_cli.py asserts they agree.
DEFAULT_STEPS = {"central": 1e-5, "five-point": 1e-3, "complex-step": 1e-20}
METHODS = tuple(DEFAULT_STEPS)
DEFAULT_SAMPLES = 10
DEFAULT_MAX_EVALS = 500
DEFAULT_DIRECTIONS = 2
DEFAULT_SEED = 0
DEFAULT_THRESHOLDS = {"fail_above": 1e-2, "warn_above": 1e-4, "good_below": 1e-7, "tiny_below": 0.0}
DEFAULT_OVERFIT_STEPS = 200
DEFAULT_OVERFIT_FACTOR = 10.0
DEFAULT_LOSS_TOLERANCE = 0.1
FORMATS = ("text", "json", "github")
# How long past --timeout a run may go before gradcheck ends it from outside
# the model's code (which the timer signal normally stops within
# milliseconds; see _overrun_timer).
OVERRUN_GRACE = 2.0


# ctx.meta keys the group sets for the commands: the command name was not
# typed (`gradcheck MODEL`, `gradcheck --help`), and click answers the line
# itself (help, the version) without running the command, and why the
# implied command's first word is a mistake (None: it may be a model).
IMPLIED = "gradcheck.implied"
ANSWERED = "gradcheck.answered"
NOT_A_MODEL = "gradcheck.not_a_model"
# How close (difflib's ratio) a first word that is neither a path nor a
# module must be to a command's name to be taken for a mistyped command:
# 'swep', 'chek', 'sanit' are 0.8-0.9 from theirs; a model's name sharing a
# letter or two ('svm' against 'sweep': 0.25) is nowhere near.
COMMAND_TYPO_CUTOFF = 0.75
# First words other tools take as commands, and what gradcheck runs for them.
_OTHER_TOOLS_COMMANDS = {"help": "--help", "version": "--version"}


class _DefaultGroup(click.Group):
    """A group in which `gradcheck MODEL` means `gradcheck check MODEL`, and a
    bare `gradcheck` checks the models listed in [tool.gradcheck]."""

    default_command = "check"

    def route(self, args: list[str]) -> tuple[list[str], bool]:
        """The arguments with a command's name first, and whether it was
        implied: every line that does not start with a command's name is
        the default command's, its options (--help and --version too) in
        any order around its models."""
        if args and args[0] in self.commands:
            return list(args), False
        first = _first_word(args, self.commands)
        if first is not None and first[1] in self.commands and set(args[:first[0]]) <= _ASKING:
            # `gradcheck --help sweep`: a question about that command (help
            # and the version answer anywhere on a line, this order too).
            at, word = first
            return [word, *args[:at], *args[at + 1:]], False
        return [self.default_command, *args], True

    def read(self, args: list[str]) -> tuple[list[str], bool, str | None]:
        """``route``'s arguments and whether the command was implied, with
        why the implied command's first word is a mistake (None: it may be a
        model): the line read once, for the answer, the guard and the error."""
        routed, implied = self.route(args)
        return routed, implied, _not_a_model(routed[1:], self.commands) if implied else None

    def answers_itself(self, args: list[str], read: tuple[list[str], bool, str | None] | None = None) -> bool:
        """Whether click answers ``args`` with the help or the version and
        runs no command: no user code runs, so nothing is guarded and no
        configuration is read. Read by the command's own parser, as click
        reads the line: in `--junit-xml -h` the -h is the option's value,
        after `--` it is a model, and a line that does not parse is a usage
        error, not an answer. ``read``: ``self.read(args)``, if done."""
        routed, _, problem = read if read is not None else self.read(args)
        if problem is not None:
            return False  # (the word is an error, said before anything else)
        command = self.commands[routed[0]]
        ctx = click.Context(command, info_name=routed[0], **command.context_settings)
        try:
            _, _, order = command.make_parser(ctx).parse_args(list(routed[1:]))
        except click.UsageError:
            return False
        return any(_answers(param) for param in order)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[completion.FIRST_WORD] = not args  # (completing: nothing before the word)
        read = self.read(args)
        ctx.meta[ANSWERED] = not ctx.resilient_parsing and self.answers_itself(args, read)
        args, ctx.meta[IMPLIED], ctx.meta[NOT_A_MODEL] = read
        ctx.meta["gradcheck.config_path"] = _config_argument(args, self.commands)
        ctx.meta["gradcheck.args"] = list(args)
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        # (the usage of an error the group reports: the one its help shows)
        return self.commands[self.default_command].collect_usage_pieces(ctx)

    def invoke(self, ctx: click.Context):
        try:
            return self._invoke(ctx)
        except click.UsageError as exc:
            hint = _named_like_a_path(ctx, exc)
            if hint is not None:
                exc.message = f"{exc.message}. {hint}" if exc.message else hint
            # click shows the usage error on stderr; a JSON reader gets its document too.
            _error_document_if_json(ctx, f"usage: {exc.format_message()}")
            if _escape_errors is not None:  # (it names the user's paths)
                exc.message = _escape_errors(exc.message)
            raise
        except KeyboardInterrupt:
            # Ctrl-C where no check is running yet (start-up, the model's
            # import): click would say "Aborted!" and exit 1, a failure code.
            click.echo("gradcheck: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)

    def _invoke(self, ctx: click.Context):
        _escaping_for(_requested_format(ctx))
        # A mistyped command before the configuration: the line is wrong whatever the file says.
        if ctx.meta.get(NOT_A_MODEL) is not None:
            raise click.UsageError(ctx.meta[NOT_A_MODEL], ctx)
        # Config values become the commands' defaults (click's default_map):
        # options given on the command line still win. Help and the version
        # read none (they show gradcheck's own defaults): a broken file must
        # not stop them.
        if not ctx.resilient_parsing and not ctx.meta.get(ANSWERED):
            from . import config as config_module
            from .errors import ConfigError

            try:
                # (read for the command that runs: a top-level value is held to it)
                config = config_module.load(self.commands.values(), ctx.meta.get("gradcheck.config_path"),
                                            runs=ctx.meta["gradcheck.args"][0])
            except ConfigError as exc:
                _error(exc)
                _error_document_if_json(ctx, str(exc))
                sys.exit(EXIT_UNUSABLE)
            ctx.meta["gradcheck.config"] = config
            _escaping_for(_requested_format(ctx))  # (the config may name the format)
            for message in config.deprecations:  # (a DeprecationWarning would be hidden by default)
                _warning(message)
            ctx.default_map = {config.command: config.for_command(self.commands[config.command])}
        try:
            return super().invoke(ctx)
        finally:
            # Whatever the model printed (to stderr, by our redirection) is
            # out before the exit: click 8.2.0's test runner, for one, reads
            # only what was flushed.
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()

    def _main_shell_completion(self, ctx_args, prog_name: str, complete_var: str | None = None) -> None:
        # click's hook before anything runs; a shell asking for completions
        # (_GRADCHECK_COMPLETE=bash_complete) gets bash's completer of ours.
        variable = complete_var or f"_{prog_name.replace('-', '_').replace('.', '_')}_COMPLETE".upper()
        if os.environ.get(variable, "").startswith("bash_"):
            completion.register_bash()
        super()._main_shell_completion(ctx_args, prog_name, complete_var)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # `gradcheck --help` shows how to check a model, then the other commands.
        command = self.commands[self.default_command]
        sub = click.Context(command, info_name=ctx.info_name, parent=None, **command.context_settings)
        command.format_help(sub, formatter)
        self.format_commands(ctx, formatter)


class _DefaultCommand(click.Command):
    """The group's default command: where its name was implied
    (`gradcheck -h`, `gradcheck m.py -h`), its help is the group's, which
    lists the other commands too."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if ctx.parent is not None and ctx.meta.get(IMPLIED):
            ctx.parent.command.format_help(ctx.parent, formatter)
        else:
            super().format_help(ctx, formatter)


# The options that answer and exit, as they are spelled on a line.
_ASKING = frozenset({"-h", "--help", "--version"})


def _answers(param: click.Parameter) -> bool:
    """Whether an option answers and exits when given (--help, --version):
    eager, and no value for the command (which is why config.py takes no
    key for them either)."""
    return isinstance(param, click.Option) and param.is_eager and not param.expose_value


def _not_a_model(args: list[str], commands) -> str | None:
    """Why the default command's first word (its first argument that is
    no option's value, before any ``--``) is a mistake, not a model: a
    command's name after options (`gradcheck -q sanity m.py`: a command's
    options follow its name, as in any click program), a command's name
    mistyped (`swep`), or `help` / `version` as other tools spell them;
    None where it may be a model, which the loader then reads. A word that
    names a file or a directory, or a module Python would import, is a
    model whatever it resembles (but a command's name is its command)."""
    first = _first_word(args, commands)
    if first is None:
        return None
    at, word = first
    if word in commands:
        import shlex

        line = shlex.join(["gradcheck", word, *args[:at], *args[at + 1:]])
        path = shlex.join(["gradcheck", *args[:at], f"./{word}", *args[at + 1:]])
        return f"options go after the command's name: '{line}'" + \
            (f" (to check the path ./{word}: '{path}')" if os.path.exists(word) else "")
    if not word.replace("-", "_").isidentifier():
        return None  # (a path, a dotted module, file.py:attr: the loader says what is missing)
    if os.path.exists(word) or _importable(word):
        return None
    if word in _OTHER_TOOLS_COMMANDS:
        named = args[at + 1] if len(args) > at + 1 and args[at + 1] in commands else None
        run = f"gradcheck {named + ' ' if named else ''}{_OTHER_TOOLS_COMMANDS[word]}"
        return f"no command or model {word!r}: run '{run}'"
    import difflib

    close = difflib.get_close_matches(word, list(commands), n=1, cutoff=COMMAND_TYPO_CUTOFF)
    return f"no command or model {word!r}. Did you mean {close[0]!r}?" if close else None


def _named_like_a_path(ctx: click.Context, error: click.UsageError) -> str | None:
    """Where a command was named (`gradcheck check`) and then found no
    model, and its name is also a path here (a folder check/): how to
    name the path instead. (A command's name always means the command.)"""
    args = ctx.meta.get("gradcheck.args") or []
    missing = isinstance(error, _NoModel) or (isinstance(error, click.MissingParameter) and error.param is not None
                                              and error.param.name in ("model", "models"))
    if ctx.meta.get(IMPLIED) or not args or not missing or not os.path.exists(args[0]):
        return None
    name = args[0]
    if name == _DefaultGroup.default_command:
        return f"{name!r} is the command, not the path ./{name}: 'gradcheck ./{name}' (or 'gradcheck {name} {name}') " \
               "checks that path"
    return f"{name!r} is the command, not the path ./{name}: 'gradcheck {name} ./{name}' runs {name} on it, " \
           f"'gradcheck ./{name}' checks it"


class _NoModel(click.UsageError):
    """check was given no model, and the configuration lists none."""


def _options_taking_values(commands) -> frozenset[str]:
    """(the table of ``commands``, a command group's dict, read once: the
    line is read several times before click parses it)"""
    return _taking_values(tuple(commands.values()))


@functools.cache
def _taking_values(commands: tuple[click.Command, ...]) -> frozenset[str]:
    """Every option string of ``commands`` that takes a value (``--samples``),
    as opposed to a flag (``-q``): what the next argument is, read before
    click parses the line. (No option is a flag in one command and takes a
    value in another.)"""
    return frozenset(name for command in commands for param in command.params
                     if isinstance(param, click.Option) and not (param.is_flag or param.count)
                     for name in (*param.opts, *param.secondary_opts))


def _read_line(args: list[str], commands) -> tuple[list[tuple[str, str]], list[tuple[int, str]]]:
    """``args`` as click's parser will read them: the options given a value,
    ``(option, value)`` in order, and the other arguments before any
    ``--``, ``(index, word)``. An option's value is never a word (`--config
    check` names a file), a short option's cluster is read as click does
    (`-qx`, `-n5`), and an option unknown to every command is a flag."""
    taking = _options_taking_values(commands)
    given: list[tuple[str, str]] = []
    words: list[tuple[int, str]] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            break
        if arg.startswith("--"):
            name, equals, value = arg.partition("=")
            if equals:
                given.append((name, value))
            elif name in taking and i + 1 < len(args):
                given.append((name, args[i + 1]))
                i += 1
        elif arg.startswith("-") and arg != "-":
            for j, letter in enumerate(arg[1:], start=2):
                if f"-{letter}" in taking:
                    if j < len(arg):
                        given.append((f"-{letter}", arg[j:]))
                    elif i + 1 < len(args):
                        given.append((f"-{letter}", args[i + 1]))
                        i += 1
                    break
        else:
            words.append((i, arg))
        i += 1
    return given, words


def _first_word(args: list[str], commands) -> tuple[int, str] | None:
    """The first argument of ``args`` that is no option's value, with its
    index; None where there is none before ``--`` (after it, a word is a model)."""
    words = _read_line(args, commands)[1]
    return words[0] if words else None


def _last_value(args: list[str], commands, option: str) -> str | None:
    """The value of ``option`` in ``args``: its last occurrence, as click takes it."""
    values = [value for name, value in _read_line(args, commands)[0] if name == option]
    return values[-1] if values else None


def _importable(name: str) -> bool:
    """Whether a top-level module ``name`` would be found where a dotted
    model is imported from (the working directory, then the path), without
    importing it."""
    from importlib.machinery import PathFinder

    return name in sys.builtin_module_names or PathFinder.find_spec(name, [os.getcwd(), *sys.path]) is not None


def _config_origin(ctx: click.Context, *, models_from_config: bool):
    """What the report says of the configuration file: the options whose
    value came from it (not those the command line set), and the models if
    it listed them."""
    from click.core import ParameterSource

    from .config import origin, parameter_names

    config = ctx.meta.get("gradcheck.config")
    if config is None:
        return None
    names = parameter_names(ctx.command)
    used = [key for key in config.values
            if key in names and ctx.get_parameter_source(names[key]) is ParameterSource.DEFAULT_MAP]
    return origin(config, used + (["models"] if models_from_config and config.models else []))


def _render_origin(origin, output_format: str, out) -> None:
    """The configuration's lines, before the first report (JSON carries them
    in its document instead)."""
    if origin is None or output_format == "json":
        return
    from .render import text

    if output_format == "github":  # (plain log lines: no path can start a workflow command)
        from .render import github

        for line in text.config_lines(origin):
            out.write(github.plain(line.plain) + "\n")
        return
    text.make_console(out).print(text.laid(text.config_lines(origin)))


# Set once the run's output format is known: under --format github a CI
# runner reads stderr for workflow commands too, and an error names the
# user's files and blocks (a file name holding "\n::error::").
_escape_errors: Callable[[str], str] | None = None


def _error(message) -> None:
    """One error line on stderr: ``gradcheck: error: <message>``; on a
    terminal, wrapped at its width between words (a log keeps one line to
    grep)."""
    text = f"gradcheck: error: {message}"
    # (--format github: one escaped line, never wrapped: a workflow log reads commands line by line)
    click.echo(_escape_errors(text) if _escape_errors else _fitted(text), err=True)


def _warning(message) -> None:
    """One warning line on stderr: ``gradcheck: warning: <message>``."""
    text = f"gradcheck: warning: {message}"
    click.echo(_escape_errors(text) if _escape_errors else _fitted(text), err=True)


def _fitted(text: str) -> str:
    """``text`` wrapped at stderr's terminal width, with a hanging indent;
    as it is where stderr is no terminal."""
    try:
        if not sys.stderr.isatty():
            return text
    except (AttributeError, ValueError):
        return text
    import shutil
    import textwrap

    width = shutil.get_terminal_size().columns
    return "\n".join(textwrap.fill(line, width, subsequent_indent="  ", break_long_words=False,
                                   break_on_hyphens=False) if len(line) > width else line
                     for line in text.splitlines())


def _escaping_for(output_format: str | None) -> None:
    global _escape_errors
    if output_format == "github":
        from .render.github import plain

        _escape_errors = plain
    else:
        _escape_errors = None


def _requested_format(ctx: click.Context) -> str | None:
    """The output format the command line (or the config, or GitHub
    Actions) asks for, read before click parses the options: errors in
    parsing them are written in it too."""
    given = _last_value(ctx.meta.get("gradcheck.args", []), ctx.command.commands, "--format")
    if given is not None:
        return given
    config = ctx.meta.get("gradcheck.config")
    if config is not None and isinstance(config.values.get("format"), str):
        return config.values["format"]
    return "github" if os.environ.get("GITHUB_ACTIONS") == "true" else None


def _json_requested(ctx: click.Context) -> bool:
    """Whether the command line (or the config) asks for --format json."""
    return _requested_format(ctx) == "json"


def _error_document_if_json(ctx: click.Context, message: str) -> None:
    """Under --format json, the error document for an error before any check."""
    if _json_requested(ctx):
        from .report_stream import ReportLost, json_error_document, report_stream

        try:
            with report_stream() as out:
                out.write(json_error_document(message))
                out.flush()
        except ReportLost as exc:
            _error(f"cannot write the report to stdout: {exc.strerror or exc}")


def _config_argument(args: list[str], commands) -> str | None:
    """The value of --config among the arguments (the last, as click takes
    it), read before click parses them, because the file supplies the
    defaults of the other options."""
    return _last_value(args, commands, "--config")


class _Parsed:
    """A click type that parses with its option's parser in values.py,
    which [tool.gradcheck] (through this type) and the Python API share:
    one value, one result or one message, wherever it is given."""

    parser: values.Value

    def convert(self, value, param, ctx):
        try:
            return self.parser.parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class _CountOr(_Parsed, click.ParamType):
    """A whole number, or a keyword: `--samples all`, `--jobs auto`, `--warmup auto|off`."""

    def __init__(self, parser: values.Count):
        self.parser, self.keywords, self.minimum = parser, parser.keywords, parser.minimum
        self.name = parser.metavar

    def shell_complete(self, ctx, param, incomplete):
        return completion.keywords(*self.keywords)(ctx, param, incomplete)


class _Step(_Parsed, click.ParamType):
    parser = values.STEP
    name = values.STEP.metavar

    def shell_complete(self, ctx, param, incomplete):
        return completion.keywords("auto")(ctx, param, incomplete)


class _Seconds(_Parsed, click.ParamType):
    """--timeout: a positive number of seconds, or 'inf' (no limit)."""

    parser = values.SECONDS
    name = values.SECONDS.metavar


class _Name(_Parsed, click.ParamType):
    """--reg: a constant's name (or check's 'auto' and 'none')."""

    def __init__(self, parser: values.Name):
        self.parser, self.name = parser, parser.metavar


class _Whole(_Parsed, click.IntRange):
    """A whole number in a range (the help says the range)."""

    def __init__(self, parser: values.Count):
        super().__init__(min=parser.minimum, max=parser.maximum)
        self.parser = parser


class _Finite(_Parsed, click.FloatRange):
    """A finite number, in a range if it has one (the help says it)."""

    def __init__(self, parser: values.Number):
        super().__init__(min=parser.minimum, min_open=parser.min_open)
        self.parser = parser

    def _describe_range(self) -> str:
        # (the help's range note: click's reads "x<=None" where no bound is set)
        return "" if self.min is None and self.max is None else super()._describe_range()


class _OneOf(_Parsed, click.Choice):
    def __init__(self, parser: values.Choice):
        super().__init__(parser.choices)
        self.parser = parser


_SAMPLES = _CountOr(values.SAMPLES)
_JOBS = _CountOr(values.JOBS)
_WARMUP = _CountOr(values.WARMUP)
_NON_NEGATIVE = _Finite(values.NON_NEGATIVE)
_POSITIVE = _Finite(values.POSITIVE)
_SEED = _Whole(values.SEED)


# --version on every command, so that it works anywhere on the line:
# `gradcheck --version` and `gradcheck m.py --version` are the default
# command's, `gradcheck sweep --version` sweep's.
_version_option = click.version_option(version=__version__, prog_name="gradcheck")


# (no --version of its own: every line is a command's, the default one's unless it names another)
@click.group(cls=_DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Check hand-written gradients against centered finite differences."""


def run() -> None:
    """The console script (and ``python -m gradcheck_cli``): the command line
    under the exit guard, so that user code ending the process can never
    pass for a check that passed (see guard.py)."""
    if os.environ.get(completion.VARIABLE) or main.answers_itself(sys.argv[1:]):
        # click answers these (shell completion, whatever the line; help
        # and the version where the line asks for them) on stdout and runs
        # no user code: nothing to guard, and no fork to pay for.
        main(prog_name="gradcheck")
        return
    from .guard import guarded

    sys.exit(guarded(lambda: main(prog_name="gradcheck")))


def _option(*names, **kwargs):
    return click.option(*names, **kwargs)


# Options shared by the commands, defined once. Each option's name (its
# long name, dashes as underscores: --params is `params`) is its name
# everywhere: the key in [tool.gradcheck] (config.py) and the keyword of
# check(), sweep(), sanity(), assert_gradients and the pytest fixture
# (options.py: what is not a keyword there, and the names renamed to these).
def _source_options(*, samples: bool, models: bool) -> list:
    """The options saying where the model and its parameters come from,
    their help saying what the command does with them: --seed seeds the
    sampling where it ``samples``, --config reads `models` where it takes
    several (``models``)."""
    seeds = "the sampling, init_params(seed)" if samples else "init_params(seed)"
    reads = "option defaults (and `models`)" if models else "option defaults"
    return [
        _option("--params", metavar="FILE.npz", type=click.Path(dir_okay=False),
                help="Parameters from an .npz file (keys = block names), instead of init_params / params."),
        _option("--data", metavar="FILE.npz", type=click.Path(dir_okay=False),
                help="Arrays the model reads by name (a model object's X and y): each becomes a module-level "
                     "variable of the model first."),
        _option("--seed", type=_SEED, metavar="INTEGER", default=DEFAULT_SEED, show_default=True,
                help=f"Seeds {seeds} and the RNGs reset before every model call."),
        _option("--set", multiple=True, metavar="NAME=VALUE",
                help="Set a module-level constant of the model first (repeatable): --set KEEP=1.0 turns off "
                     "dropout, --set REG=0 the regularization."),
        _option("--config", metavar="FILE", type=click.Path(dir_okay=False),
                help=f"Read {reads} from FILE's [tool.gradcheck] instead of the nearest pyproject.toml."),
    ]


# How gradients are probed (check and sweep):
_PROBE_OPTIONS = [
    _option("--samples", type=_SAMPLES, default=str(DEFAULT_SAMPLES), show_default=True,
            help="Coordinates checked per parameter block; 'all' checks every one."),
    _option("--method", type=_OneOf(values.METHOD), default="central", show_default=True,
            help="central (error O(h^2)), five-point (O(h^4), twice the evaluations), or complex-step "
                 "(exact to machine precision, for models that accept complex parameters)."),
    _option("--track-kinks/--no-track-kinks", default=True, show_default=True,
            help="Track the winners of max/abs/masks to detect kink crossings."),
]


def _apply(decorators, command):
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def source_options(command):
    """Where the model comes from: --params, --data, --seed, --set, --config
    (for a command that samples nothing and takes one MODEL: sanity)."""
    return _apply(_source_options(samples=False, models=False), command)


def model_options(*, models: bool):
    """The source options and the probing options (--samples, --method,
    --track-kinks); ``models``: the command takes several MODELs, which
    --config's file may list."""
    return lambda command: _apply(_source_options(samples=True, models=models) + _PROBE_OPTIONS, command)


def _run(work, *, document=None, model: str | None = None):
    """Call the library, mapping its errors to exit code 2 with a message
    (and, given a ``document`` stream, the JSON error document on it)."""
    from .errors import GradcheckError

    def error_document(message: str) -> None:
        if document is not None:
            from .report_stream import json_error_document

            document.write(json_error_document(message, model))

    try:
        return work()
    except GradcheckError as exc:
        _error(exc)
        error_document(str(exc))
        sys.exit(EXIT_UNUSABLE)
    except ValueError as exc:  # an option value the library refused
        raise click.UsageError(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("gradcheck: interrupted", err=True)
        error_document("interrupted")
        sys.exit(EXIT_INTERRUPTED)


def _load_renderers(*names: str) -> None:
    """Import the renderers a command will write with (``render/<name>.py``)
    before any user code runs: a model may put None in
    ``sys.modules['json']``, clear ``sys.path`` or shadow ``rich`` with a
    file of its own, and a report must still be written. (Only those: each
    is start-up time.)"""
    import importlib

    for name in ("json", *names):  # (errors are JSON documents whatever the format)
        importlib.import_module(f".render.{name}", __package__)


@contextlib.contextmanager
def _answering(output_format: str):
    """A command's body, yielding the stream its report goes to. From here
    to the report, descriptor 1 is the model's to write on (it goes to
    stderr: report_stream.py); under --format json a document is owed on
    stdout until the command ends (the exit guard writes an error document
    if user code ends the process); an exception from gradcheck's own code
    is said as an error, never left as a bare traceback (a model can break
    what gradcheck relies on: builtins.float replaced, numpy functions
    patched)."""
    from . import guard
    from .report_stream import ReportLost, json_error_document, report_stream

    owed = output_format == "json"
    with report_stream() as out:
        guard.document_owed(owed)
        try:
            yield out
            out.flush()
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except ReportLost as exc:
            _report_lost(exc)
        except SystemExit:
            try:  # (the exit code is the report's only if the report got out)
                out.flush()
            except ReportLost as exc:
                _report_lost(exc)
            raise
        except Exception as exc:
            import traceback

            from .errors import exception_text

            message = (f"gradcheck failed inside its own code ({type(exc).__name__}: {exception_text(exc)}). If "
                       "the model replaces builtins or library functions (builtins.float, numpy's), that is the "
                       "cause; otherwise it is a bug in gradcheck: please report it, with the traceback above")
            traceback.print_exc()
            _error(message)
            if owed:
                out.write(json_error_document(message))
            sys.exit(EXIT_UNUSABLE)
        finally:
            guard.document_owed(False)


def _distinct(outputs: dict[str, str | None], inputs: dict[str, str | None]) -> None:
    """Refuse an output path that is another output's, or a file the run
    reads (a model file, --data, the configuration): each would
    silently replace the other (`--save-params model.py`, the JUnit file
    over the parameters)."""
    def written(path: str) -> str:  # (a link at the destination is replaced, so not resolved)
        absolute = os.path.abspath(path)
        return os.path.join(os.path.realpath(os.path.dirname(absolute)), os.path.basename(absolute))

    def same(output: str, other: str, *, read: bool) -> bool:
        return written(output) == (os.path.realpath(other) if read else written(other))

    given = [(option, path) for option, path in outputs.items() if path is not None]
    for i, (option, path) in enumerate(given):
        for other, other_path in given[i + 1:]:
            if same(path, other_path, read=False):
                raise click.UsageError(f"{option} and {other} name the same file, {path}: each would replace the "
                                       "other")
        for what, source in inputs.items():
            if source is not None and same(path, source, read=True):
                name = what if what.startswith("-") or what == "the configuration" else "the model file"
                raise click.UsageError(f"{option} {path} is {name}{'' if name == what else f' {what}'}, which this "
                                       "run reads: name another file")


def _report_lost(exc: OSError) -> None:
    """stdout refused the report: one line on stderr, exit 2 (a CI step
    must not read 0 from a run whose report is not there)."""
    _error(f"cannot write the report to stdout: {exc.strerror or exc}")
    sys.exit(EXIT_UNUSABLE)


def _output(path: str | None, option: str) -> str | None:
    """An output file's path, absolute (a model that changes directory does
    not move it), once it is known to be writable: checked before any user
    code runs, so a long check is not lost to a typo in a path."""
    if path is None:
        return None
    import stat

    from .outputs import in_place

    absolute = os.path.abspath(path)
    directory = os.path.dirname(absolute)
    if in_place(absolute):  # (a device, a pipe, /dev/stdout: written through)
        if not os.access(absolute, os.W_OK):
            raise click.UsageError(f"{option} {path}: not writable")
        return absolute
    try:
        mode = os.lstat(absolute).st_mode  # (a link is replaced, not followed: outputs.py)
    except OSError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise click.UsageError(f"{option} {path}: that is a directory; name a file")
    if not os.path.isdir(directory):
        raise click.UsageError(f"{option} {path}: the directory {directory} does not exist")
    if mode is not None and stat.S_ISREG(mode) and not os.access(absolute, os.W_OK):
        raise click.UsageError(f"{option} {path}: the file is not writable")
    if not os.access(directory, os.W_OK | os.X_OK):
        # (a file is written beside its destination and renamed over it)
        raise click.UsageError(f"{option} {path}: cannot create files in {directory}")
    return absolute


def _write(write, path: str, option: str) -> None:
    """Write an output file; a failure (a full disk, a special file such as
    /proc/version) is an error naming it, after the report."""
    try:
        write()
    except OSError as exc:
        _error(f"{option} {path}: cannot write it: {exc.strerror or exc}")
        sys.exit(EXIT_UNUSABLE)


# The check command's parameters that are not check()'s arguments: what the
# command line does around the checks (which models, where the reports go,
# the exit code), or hands each model itself (the time left of --timeout,
# the --save-params file). pytest_plugin.py says what the fixture does with
# each; options.NOT_KEYWORDS why check() takes none of the others.
RUN_PARAMETERS = frozenset({"models", "config", "format", "junit_xml", "verbose", "quiet", "exitfirst", "strict",
                            "timeout", "save_params"})
_BANDS = ("fail_above", "warn_above", "good_below", "tiny_below")


def check_arguments(values: dict) -> dict:
    """check()'s keyword arguments from check command parameters (keyed by
    parameter name, none of RUN_PARAMETERS), which the pytest fixture
    applies to [tool.gradcheck] too. The names are check()'s own; what this
    adds is validation before any model is imported: ``set`` read into a
    mapping (a ModelError for an item that is not NAME=VALUE) and the four
    bands into one ``Thresholds`` (a ValueError for bands out of order),
    which a call's own ``fail_above=`` and the like override band by band.
    A parameter left out keeps check()'s default, which is the option's
    (tests/test_cli.py)."""
    from .model import parse_assignments
    from .settings import Thresholds

    arguments = {name: value for name, value in values.items() if name not in _BANDS}
    bands = {name: values[name] for name in _BANDS if name in values}
    if bands:
        arguments["thresholds"] = Thresholds(**bands)
    if "set" in arguments:
        arguments["set"] = parse_assignments(arguments["set"])
    return arguments


@main.command(
    "check",
    cls=_DefaultCommand,
    short_help="Check models' gradients (the default command).",
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="""\b
Examples:
  gradcheck sample_models/two_layer_net.py
  gradcheck sample_models/*.py         (or a directory)
  gradcheck sample_models/svm.py --samples all -v
  gradcheck mypkg.models:two_layer --params weights.npz --format json
  gradcheck my_model.py --method five-point --h auto --strict
  gradcheck --junit-xml gradcheck.xml  (the models in [tool.gradcheck])
  gradcheck big_model.py --jobs auto   (worker processes where they pay off)

\b
Exit codes: 0 pass (warnings allowed), 1 a gradient failed (or warned,
with --strict), 2 a model or the command line is unusable; with several
models, the worst.""",
)
@click.argument("models", nargs=-1, metavar="[MODEL]...", shell_complete=completion.model_paths)
@model_options(models=True)
@click.option("--directions", type=_Whole(values.AT_LEAST_0), metavar="K", default=DEFAULT_DIRECTIONS, show_default=True,
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
              show_default=True, help="Values smaller than this (both analytic and numeric) are not graded; at 0, "
                                      "every value is judged against its own error budget.")
@click.option("--max-evals", type=_Whole(values.AT_LEAST_0), default=DEFAULT_MAX_EVALS, show_default=True,
              metavar="N", help="Evaluations per block for drilling down a failing random direction to the "
                                "wrong elements (0 turns drill-down off).")
@click.option("--format", type=click.Choice(FORMATS), default=None,
              help="Report format on stdout.  [default: github when GITHUB_ACTIONS=true, else text]")
@click.option("--junit-xml", "junit_xml", metavar="PATH", type=click.Path(dir_okay=False),
              help="Also write a JUnit XML report (one testcase per block) to PATH.")
@click.option("--warmup", type=_WARMUP, default="auto", show_default=True,
              help="Where the start point is degenerate (elements on a kink, every hinge or ReLU on one side, "
                   "zero weights or gradients), move off it (a seeded jitter, then Adam until kink outcomes "
                   "change or the loss falls) and check there too. 'off' checks the start point only; a number "
                   "forces that many Adam steps.")
@click.option("--lr", type=_POSITIVE, metavar="FLOAT",
              # (click's own note, so the default and the range share one bracket: "[default: (...); x>0.0]")
              show_default="one whose first step lowers the loss ~5%",
              help="Adam's learning rate for the warm-up (about that much per element per step).")
@click.option("--reg", "reg", type=_Name(values.REG), metavar="auto|none|NAME", default="auto", show_default=True,
              shell_complete=completion.keywords("auto", "none"),
              help="The regularization strength's constant (module-level, or the target object's attribute): "
                   "its share of the gradient is reported per block, and where it is over half the data loss "
                   "alone (NAME = 0) is checked too. 'auto' finds one named like reg, lam, weight_decay...; "
                   "NAME always checks both.")
@click.option("--save-params", "save_params", metavar="FILE.npz", type=click.Path(dir_okay=False),
              help="Write the parameters the check ran at (after any warm-up) to FILE.npz, for --params.")
@click.option("--jobs", type=_JOBS, default="1", show_default=True,
              help="Worker processes for the evaluations ('auto': one per core where they pay off, else none; "
                   "the report says which). Results are the same as with 1.")
@click.option("--dask", metavar="ADDRESS",
              help="Run the evaluations on the Dask cluster whose scheduler is at ADDRESS (extra 'dask'); "
                   "a model file is uploaded to the workers.")
@click.option("--timeout", type=_Seconds(),
              help="Stop after this long (the whole run, user code included), report what finished, exit 2.")
@click.option("-v", "--verbose", is_flag=True, help="List every checked dimension.")
@click.option("-q", "--quiet", is_flag=True, help="Print each model's verdict line only (text format).")
@click.option("-x", "--exitfirst", is_flag=True,
              help="Stop a run over several models after the first that fails or cannot be checked.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@_version_option
@click.pass_context
def check_command(ctx, models, params, data, samples, method, seed, track_kinks, set, config, directions, h,
                  fail_above, warn_above, good_below, tiny_below, max_evals, format, junit_xml, warmup, lr, reg,
                  save_params, jobs, dask, timeout, verbose, quiet, exitfirst, strict) -> None:
    """Check the gradient of each MODEL: a model file (my_model.py), a
    directory of them, or a dotted module (mypkg.models), optionally with
    :ATTR naming an object that holds the functions. With no MODEL, the
    `models` listed in [tool.gradcheck] of pyproject.toml.

    A model defines loss(params) -> float and grad(params) -> dict (or
    loss_and_grad(params)), and its parameters as init_params(seed) or a
    module-level dict `params`.
    """
    # (`format` and `set` are the options' names, as everywhere; the builtins are not used here)
    output_format = format
    config = ctx.meta.get("gradcheck.config")
    if verbose and quiet:  # (neither may silently win: the one that loses is a report the user asked for)
        both = f"{_as_given(ctx, 'verbose', '-v/--verbose')} and {_as_given(ctx, 'quiet', '-q/--quiet')}"
        raise click.UsageError(f"{both} ask for opposite reports (every dimension; the verdict line only): give one")
    targets = _expand(models or (config.models if config else ()))
    if not targets:
        where = f" (and {config.path} lists no `models`)" if config and config.path else ""
        raise _NoModel(f"no MODEL given{where}: name a model file, a directory, or a dotted module")
    if output_format is None:
        output_format = "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"
    _escaping_for(output_format)
    origin = _config_origin(ctx, models_from_config=not models)

    import time

    started = time.monotonic()  # (the progress lines' clock)
    from .errors import CheckTimeout, GradcheckError, Interrupted, OutputError
    from .model import _split_target
    from .pipeline import check
    from .report import ModelFailure

    with _answering(output_format) as out:
        options = _run(lambda: check_arguments({name: value for name, value in ctx.params.items()
                                                if name not in RUN_PARAMETERS}),
                       document=out if output_format == "json" else None)  # (--set foo: its document too)
        _load_renderers(output_format, *(["junit"] if junit_xml else []))
        junit_path = _output(junit_xml, "--junit-xml")
        save_params = _output(save_params, "--save-params")
        _distinct({"--junit-xml": junit_path, "--save-params": save_params},
                  {**{target: _split_target(target)[0] for target in targets},
                   "--data": data,  # (--params may be written back: the same kind of file)
                   "the configuration": str(config.path) if config and config.path else None})
        _render_origin(origin, output_format, out)
        results = []
        unwritten: list[str] = []  # output files that failed, said after the report
        stopped_code = None  # 2 when time ran out (or a file could not be written), 130 when interrupted
        ends = time.monotonic() + timeout if timeout else None
        overrun = None
        if ends is not None:
            def conclude_overrun() -> None:
                _overrun(results, targets, output_format, verbose, out, junit_xml, junit_path, strict, timeout, origin)

            overrun = _overrun_timer(ends, conclude_overrun)
        for target in targets:
            source = _source_of(target)
            remaining = None if ends is None else ends - time.monotonic()
            if remaining is not None and remaining <= 0:
                results.append(_not_reached(target, timeout, source))
                _render_one(results[-1], output_format, verbose, out, several=len(targets) > 1)
                continue
            try:
                with _progress(target, heartbeat=output_format == "json", started=started) as progress:
                    result = check(target, progress=progress, timeout=remaining, strict=strict,
                                   save_params=_saved_as(save_params, target, len(targets)), **options)
            except OutputError as exc:  # (--save-params: the check stands, the error follows its report)
                result = exc.report
                unwritten.append(str(exc))
            except CheckTimeout as exc:
                stopped_code = EXIT_UNUSABLE
                result = exc.report if exc.report is not None else ModelFailure(target, str(exc), source)
                if exc.report is not None:
                    _error(exc)
            except Interrupted as exc:
                stopped_code = EXIT_INTERRUPTED
                if exc.report is not None:
                    results.append(exc.report)
                    _render_one(exc.report, output_format, verbose, out, several=len(targets) > 1)
                else:  # (a JSON reader still gets its document)
                    results.append(ModelFailure(target, "interrupted before anything was checked", source))
                click.echo("gradcheck: interrupted" + (" (the report above is partial)" if exc.report else ""),
                           err=True)
                # Every model has its entry (JSON, JUnit), the ones never reached too.
                results += [ModelFailure(t, "not checked: interrupted", _source_of(t)) for t in targets[len(results):]]
                break
            except GradcheckError as exc:
                result = ModelFailure(target, str(exc), source)
            except ValueError as exc:  # an option value the library refused
                raise click.UsageError(str(exc)) from None
            results.append(result)
            _render_one(result, output_format, verbose, out, several=len(targets) > 1, quiet=quiet)
            if exitfirst and result.verdict in ("fail", "error") and len(results) < len(targets):
                # (pytest's -x: what follows is not run, and said so; the exit code is the failure's)
                left = targets[len(results):]
                click.echo(f"gradcheck: stopped after {result.model} (-x); not checked: {', '.join(left)}", err=True)
                break
        if overrun is not None:
            overrun.set()
        _conclude(results, len(targets), output_format, out, junit_xml, junit_path, strict, origin, quiet=quiet)
        for message in unwritten:
            _error(message)
            stopped_code = max(stopped_code or EXIT_PASS, EXIT_UNUSABLE)
        if stopped_code == EXIT_INTERRUPTED:
            sys.exit(EXIT_INTERRUPTED)
        worst = max((exit_code(r.verdict, strict=strict) for r in results), default=EXIT_PASS)
        sys.exit(max(worst, stopped_code or EXIT_PASS))


def _as_given(ctx: click.Context, name: str, option: str) -> str:
    """An option as the user gave it: ``option`` on the command line, or
    where the configuration file set it (a value not typed is one the user
    may not have in mind)."""
    from click.core import ParameterSource

    config = ctx.meta.get("gradcheck.config")
    if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT_MAP or config is None or config.path is None:
        return option
    path = os.path.relpath(config.path)
    path = path if not path.startswith(os.pardir) else str(config.path)
    return f"{option} ({name} = {str(config.values[name]).lower()} in {path})"


def _conclude(results, models: int, output_format: str, out, junit_xml, junit_path, strict: bool,
              origin=None, *, quiet: bool = False) -> None:
    """After the last model: the JSON document (one, whatever happened, of
    one shape for one model or several: each model's entry under "models",
    one that could not be checked as {"verdict": "error", ...}), the
    summary of several, the JUnit file."""
    if output_format == "json":
        from .render import json as json_render

        json_render.render_many(results, out, config=origin.to_dict() if origin is not None else None)
    elif models > 1 and output_format == "text" and results:
        from .render import text

        # (-q: the verdict lines said each model; the counts close them)
        text.make_console(out).print(text.laid([text.totals(results)]) if quiet else text.summary(results))
    if junit_xml:
        from .render import junit

        _write(lambda: junit.write(results, junit_path, strict=strict), junit_xml, "--junit-xml")


def _overrun_timer(ends: float, conclude: Callable[[], None]):
    """--timeout's last resort: the timer signal stops user code in
    process, but a model can swallow it (a bare ``except:`` around a
    sleep), ignore SIGALRM or reset the timer. If the run has not ended
    OVERRUN_GRACE seconds after its deadline, a thread ends it -- report
    of what finished, exit 2. Only in the console script's guarded child,
    whose process is gradcheck's to end. Returns the event that, set, ends
    the watch (None where there is none)."""
    import threading
    import time

    from . import guard

    if not guard.active():
        return None
    from .settings import TIMER_LIMIT

    cancelled = threading.Event()

    def watch() -> None:
        # A wait past what the clock holds (--timeout 1e12: OverflowError in
        # the thread) is waited in spells of at most TIMER_LIMIT, as the
        # check's own timer is armed (pipeline._deadline).
        while not cancelled.wait(min(max(0.0, ends + OVERRUN_GRACE - time.monotonic()), TIMER_LIMIT)):
            if time.monotonic() >= ends + OVERRUN_GRACE:
                conclude()
                return

    watcher = threading.Thread(target=watch, name="gradcheck-overrun", daemon=True)
    watcher.start()
    return cancelled  # (set: the run ended, the watcher with it)


def _overrun(results, targets, output_format, verbose, out, junit_xml, junit_path, strict, timeout,
             origin=None) -> None:
    """End a run whose model would not stop at --timeout (see _overrun_timer)."""
    from . import guard
    from .pipeline import report_so_far
    from .report import ModelFailure

    try:
        so_far = report_so_far()
        current, message = so_far if so_far is not None else (None, f"timed out after {timeout:g} s")
        message += ("; the model did not stop when told to (it catches the stop: a bare `except:`, or it ignores "
                    "SIGALRM or resets the interval timer), so gradcheck ended the run")
        _error(message)
        pending = list(targets[len(results):])  # (results hold one entry per model, in order)
        if pending:
            if current is not None:
                _render_one(current, output_format, verbose, out, several=len(targets) > 1)
            results.append(current if current is not None else ModelFailure(pending[0], message))
            results += [_not_reached(t, timeout) for t in pending[1:]]
        _conclude(results, len(targets), output_format, out, junit_xml, junit_path, strict, origin)
    finally:
        guard.exit_now(EXIT_UNUSABLE)


def _source_of(target: str) -> str | None:
    """The model file a target names, if it names one (not a dotted module)."""
    from .model import _split_target

    path_part = _split_target(target)[0]
    return path_part if path_part.endswith(".py") else None


def _not_reached(target: str, timeout: float, source: str | None = None):
    """A model the run's --timeout left no time for."""
    from .report import ModelFailure

    return ModelFailure(target, f"not checked: the --timeout of {timeout:g} s ran out", source)


def _saved_as(path: str | None, target: str, models: int) -> str | None:
    """Where --save-params writes a model's parameters: one model, one file."""
    if path is not None and models > 1:
        raise click.UsageError(f"--save-params writes one model's parameters; {models} models were given")
    return path


def _expand(targets) -> list[str]:
    """Directories become the model files in them (sorted; not _private.py);
    a checks file that declares layers (``name = layer(...)``) becomes one
    target per layer, ``file.py:name``, and a file in scipy.optimize's
    conventions (fun, jac, x0) one per derivative it defines,
    ``file.py:jac``, ``file.py:hess``; a model (or its target object,
    ``file.py:net``) that defines ``hvp`` is followed by its hvp,
    ``file.py:hvp`` (``file.py:net:hvp``); a model named twice is checked
    once."""
    from .derivatives import hvp, scipy_conventions
    from .layers import declared
    from .model import _split_target

    files = []
    for target in targets:
        if os.path.isdir(target):
            found = sorted(
                os.path.join(target, name) for name in os.listdir(target)
                if name.endswith(".py") and not name.startswith("_")
            )
            if not found:
                raise click.UsageError(f"{target} is a directory with no model files (*.py) in it")
            files += found
        else:
            files.append(target)
    expanded = []
    for target in files:
        is_file = target.endswith(".py") and os.path.isfile(target)
        layers = declared(target) if is_file else []
        # A file in scipy.optimize's conventions: one target per derivative it defines (FILE:jac, FILE:hess).
        derivatives = scipy_conventions.declared(target) if is_file and not layers else []
        expanded += [f"{target}:{name}" for name in layers or derivatives] or [target]
        # A model with an hvp: its gradient, then its hvp (a model of its own, FILE:hvp).
        path, attr = _split_target(target)
        if not (layers or derivatives) and path.endswith(".py") and os.path.isfile(path) and \
                hvp.requested(attr)[1] is False and hvp.declared(path, attr):
            expanded.append(f"{target}:{hvp.HVP}")
    # A model named twice (`sample_models/ sample_models/cube.py`, a link and
    # its file) is checked once, where it first came.
    seen, unique = set(), []
    for target in expanded:
        path, attr = _split_target(target)
        key = (os.path.realpath(path) if os.path.exists(path) else path, attr)
        if key not in seen:
            seen.add(key)
            unique.append(target)
    return unique


def _render_one(result, output_format: str, verbose: bool, out, *, several: bool, quiet: bool = False) -> None:
    from .report import ModelFailure

    if output_format == "json":
        if isinstance(result, ModelFailure) and not several:
            _error(result.message)
        return
    if output_format == "github":
        from .render import github

        github.render(result, out)
        if isinstance(result, ModelFailure):  # (the runner reads stderr for workflow commands too)
            _error(result.message)
        return
    from .render import text

    if isinstance(result, ModelFailure):
        if several:  # (which model it was: its name on stderr, and its heading on stdout unless -q)
            if not quiet:
                text.make_console(out).print(text.rule(result.model))
            _error(f"{result.model}: {result.message}")
        else:
            _error(result.message)
        return
    console = text.make_console(out)
    if quiet:  # (the verdict line names the model: no heading)
        console.print(text.headline(result))
        return
    if several:
        console.print(text.rule(result.model))  # (the name above the rule where it does not fit beside one)
    text.render(result, console, verbose=verbose)


@contextlib.contextmanager
def _progress(label: str, *, heartbeat: bool, started: float | None = None):
    """The progress callback for one model's check (it takes the library's
    ``Progress`` events), and what shows them on stderr until the block
    ends, before the report is written.

    On a terminal: a live line from PROGRESS_AFTER seconds into the check
    on -- the phase and what it counts, the time since ``started`` (the
    command's start) and, once one can be estimated, the time the phase has
    left, then the point and the model where the width allows; rich's own
    thread redraws it (a spinner), so a phase that counts nothing does not
    look stalled.
    Without a terminal, or with ``heartbeat`` (--format json: stdout is the
    report's, stderr free): one line every HEARTBEAT_EVERY seconds, none
    for a check that ends sooner. Both come from a daemon thread (no
    signal: SIGALRM is --timeout's), write to the stderr of the moment the
    check began (the model's code may rebind ``sys.stderr``; descriptor 1
    is stderr while it runs) and stop before this returns."""
    import threading
    import time

    from . import settings

    stream = sys.stderr
    try:
        terminal = not heartbeat and stream.isatty()
    except (AttributeError, ValueError):  # (closed, or not a file)
        terminal = False
    began = time.monotonic()  # this model's check: the delays count from here
    zero = began if started is None else min(started, began)  # the clock shown
    lock = threading.Lock()
    stop = threading.Event()
    state: dict = {"event": None, "phase": None, "since": began, "bar": None}

    def update(event) -> None:
        with lock:
            key = (event.point, event.phase)
            if key != state["phase"]:
                state["phase"], state["since"] = key, time.monotonic()
            state["event"] = event
            bar = state["bar"]
            if bar is not None:
                if bar.tasks[0].total != event.total:  # (a total of None is no update: a task anew)
                    bar.remove_task(state["task"])
                    state["task"] = bar.add_task(label, total=event.total)
                bar.update(state["task"], completed=event.done or 0)

    def saying() -> tuple[str, str]:
        """What the check is doing; the clock (elapsed, and the time the phase has left)."""
        event, now = state["event"], time.monotonic()
        clock = f"{_duration(now - zero)} elapsed"
        if event is None:
            return "starting", clock
        left = remaining(now)
        if left is not None:
            clock += f" · ~{_duration(left)} left in this phase"
        return str(event), clock

    def remaining(now: float) -> float | None:
        """The time the phase has left, once it can be estimated."""
        event = state["event"]
        done, total, running = event.done, event.total, now - state["since"]
        if total and done and settings.ETA_AFTER_UNITS <= done < total and running >= settings.ETA_AFTER_SECONDS:
            return running / done * (total - done)
        return None

    def live(width: int) -> str:
        """The terminal's line, whole at ``width``: what is counted first;
        the model, the point and the block give way first."""
        event, now = state["event"], time.monotonic()
        clock = _duration(now - zero)
        elapsed = f"{clock} elapsed"
        if event is None:
            lines = (f"{_one_line(label)}: starting · {elapsed}", f"starting · {elapsed}", f"starting · {clock}")
        else:
            left = remaining(now)
            detail = _one_line(event.detail)
            bare = detail.split(" (block ")[0]
            eta = f" · ~{_duration(left)} left" if left is not None else ""
            lines = (f"{_one_line(label)}: {_one_line(str(event))} · {elapsed}{eta}",
                     f"{_one_line(str(event))} · {elapsed}{eta}", f"{detail} · {elapsed}{eta}",
                     f"{bare} · {elapsed}{eta}", f"{bare} · {clock}{eta}", f"{bare} · {clock}")
        return next((line for line in lines if len(line) <= width), lines[-1][:width])

    if terminal:
        from rich.console import Console
        from rich.progress import Progress, ProgressColumn, SpinnerColumn
        from rich.text import Text

        class Doing(ProgressColumn):
            # One line, laid out for the terminal (spinner and gap aside): no
            # bar, whose fixed width took the room the count and the time
            # left need, and which looked full (done) through a stall.
            def render(self, task) -> Text:  # (the user's path and block names: text, not markup)
                return Text(live(max(20, console.width - 3)), no_wrap=True, overflow="crop")

        console = Console(file=stream, force_terminal=True, markup=False, emoji=False, highlight=False)

        def show() -> None:
            if stop.wait(max(0.0, began + settings.PROGRESS_AFTER - time.monotonic())):
                return
            with lock:
                if stop.is_set():
                    return
                # (No redirection of sys.stdout and sys.stderr: that is process-wide, and the check
                # rebinds them meanwhile in its own thread.)
                bar = Progress(SpinnerColumn(), Doing(), console=console, transient=True, redirect_stdout=False,
                               redirect_stderr=False)
                event = state["event"]
                state["task"] = bar.add_task(label, total=event.total if event else None,
                                             completed=(event.done or 0) if event else 0)
                bar.start()
                state["bar"] = bar

        target = show
    else:
        try:
            on_terminal = stream.isatty()
        except (AttributeError, ValueError):
            on_terminal = False

        def text_width() -> int:
            from .render.text import report_width

            return report_width(stream)

        def beat() -> None:
            due = began + settings.HEARTBEAT_EVERY
            while not stop.wait(max(0.0, due - time.monotonic())):
                due += settings.HEARTBEAT_EVERY
                with lock:  # (not after the check ended: the report may follow at once)
                    if stop.is_set():
                        return
                    doing, clock = saying()
                    line = f"gradcheck: {_one_line(label)}: {_one_line(doing)} · {clock}"
                    if on_terminal:  # (--format json on a terminal: a line the terminal would break mid-number)
                        line = "gradcheck: " + live(text_width() - len("gradcheck: "))
                    _write_whole(stream, line + "\n")

        target = beat
    ticker = threading.Thread(target=target, name="gradcheck-progress", daemon=True)
    ticker.start()
    try:
        yield update
    finally:
        with lock:
            stop.set()
        ticker.join()
        if state["bar"] is not None:
            state["bar"].stop()


def _duration(seconds: float) -> str:
    """A progress line's time: "31 s", "4 min 05 s"."""
    seconds = max(0, round(seconds))
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


def _one_line(text: str) -> str:
    """A user string (a path, a block name) as text on one line of a log."""
    from .render import printable

    return printable(text).replace("\n", "\\n").replace("\t", " ")


def _write_whole(stream, line: str) -> None:
    """``line`` in one write: to the descriptor itself where ``stream`` has
    one (a line written by two calls could be split by the model's own
    output), else to the stream (a test's buffer)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None
    try:
        if fd is None:
            stream.write(line)
            stream.flush()
        else:
            os.write(fd, line.encode(getattr(stream, "encoding", None) or "utf-8", errors="replace"))
    except (OSError, ValueError):  # (stderr closed, a full pipe: progress is never worth an error)
        pass


def _plot_options(verb: str, drawn: str):
    """--block, --format and --plot of the commands that plot (sweep, taylor)."""
    def decorate(command):
        for option in reversed([
            click.option("--block", multiple=True, metavar="NAME",
                         help=f"{verb} only this parameter block (repeatable); all blocks if not given."),
            click.option("--format", type=click.Choice(["text", "json"]), default="text", show_default=True,
                         help="Plots on stdout, or the numbers as JSON."),
            click.option("--plot", metavar="FILE.png", type=click.Path(dir_okay=False),
                         help=f"Also draw the {drawn} into an image (needs matplotlib: pip install "
                              "'gradcheck-cli[plot]')."),
        ]):
            command = option(command)
        return command

    return decorate


def _needs_matplotlib(plot_file: str | None) -> None:
    """--plot without matplotlib: said before any work, exit code 2."""
    if plot_file is None:
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        click.echo("gradcheck: error: --plot needs matplotlib: pip install 'gradcheck-cli[plot]'", err=True)
        sys.exit(EXIT_UNUSABLE)


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
@click.argument("model", shell_complete=completion.model_paths)
@model_options(models=False)
@click.option("--dims", type=_Whole(values.AT_LEAST_1), default=1, show_default=True, metavar="K",
              help="How many of each block's worst dimensions to sweep.")
@_plot_options(verb="Sweep", drawn="curves")
@_version_option
def sweep_command(model, params, data, samples, method, seed, track_kinks, set, config, dims, block, format,
                  plot) -> None:
    """Sweep the step h from 1e-1 down to 1e-12 for the worst dimensions of
    each block of MODEL, and plot their relative error: the V of truncation
    error (left) and round-off error (right), with the recommended h marked.
    """
    output_format, plot_file = format, plot
    _needs_matplotlib(plot_file)
    from .sweeps import sweep

    from .model import parse_assignments

    with _answering(output_format) as out:
        overrides = _run(lambda: parse_assignments(set))
        _load_renderers("sweep", "text")
        plot_path = _output(plot_file, "--plot")
        origin = _config_origin(click.get_current_context(), models_from_config=False)
        _render_origin(origin, output_format, out)
        report = _run(lambda: sweep(model, params=params, data=data, seed=seed, method=method, dims=dims,
                                    block=block, samples=samples, track_kinks=track_kinks, set=overrides),
                      document=out if output_format == "json" else None, model=model)
        if output_format == "json":
            from .render import json as json_render

            json_render.render(report, out, config=origin.to_dict() if origin is not None else None)
        else:
            from .render import sweep as sweep_render
            from .render import text

            sweep_render.render(report, text.make_console(out))
        if plot_file is not None:
            from .render import sweep as sweep_render

            _write(lambda: sweep_render.save_png(report, plot_path), plot_file, "--plot")
            click.echo(f"wrote {plot_file}", err=True)
        sys.exit(EXIT_PASS)


@main.command(
    "taylor",
    short_help="The Taylor test's remainders against eps, as a log-log plot.",
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="""\b
Examples:
  gradcheck taylor sample_models/sigmoid_tanh.py
  gradcheck taylor my_model.py --block W1 --plot taylor.png
  gradcheck taylor rosenbrock.py --format json   (its jac, hess, hessp)

\b
Exit codes: 0 every block's derivative is right (or a valid subgradient at
a kink, or inconclusive), 1 one is wrong, 2 a model or the command line is
unusable.""",
)
@click.argument("models", nargs=-1, required=True, metavar="MODEL...", shell_complete=completion.model_paths)
@model_options(models=False)
@_plot_options(verb="Test", drawn="plots")
@_version_option
def taylor_command(models, params, data, samples, method, seed, track_kinks, set, config, block, format,
                   plot) -> None:
    """Show the Taylor test of each block of each MODEL (a model file, a
    module, FILE:ATTR; a checks file's layers and the derivatives of a file
    in scipy.optimize's conventions are models of their own): the remainder
    |f(x + eps v) - f(x) - eps <g, v>| against eps along a seeded unit
    direction v, on log-log axes with reference slopes 1 and 2. A right
    derivative falls as eps^2 down to round-off, a wrong one as eps. Each
    block's fitted order and verdict (right, wrong, kinked, inconclusive:
    the check's) are listed under the plot; where the check moves on from a
    degenerate start point, the generic point has a plot of its own.
    """
    output_format, plot_file = format, plot
    _needs_matplotlib(plot_file)
    from .errors import GradcheckError
    from .model import parse_assignments
    from .report import ModelFailure
    from .taylors import taylor

    from .model import _split_target

    targets = _expand(models)
    config = click.get_current_context().meta.get("gradcheck.config")
    with _answering(output_format) as out:
        overrides = _run(lambda: parse_assignments(set), document=out if output_format == "json" else None)
        _load_renderers("taylor", "text")
        plot_path = _output(plot_file, "--plot")
        _distinct({"--plot": plot_path}, {**{target: _split_target(target)[0] for target in targets}, "--data": data,
                                          "--params": params,
                                          "the configuration": str(config.path) if config and config.path else None})
        origin = _config_origin(click.get_current_context(), models_from_config=False)
        _render_origin(origin, output_format, out)
        results = []
        interrupted = False
        for target in targets:
            try:
                results.append(taylor(target, params=params, data=data, seed=seed, method=method, block=block,
                                      samples=samples, track_kinks=track_kinks, set=overrides))
            except GradcheckError as exc:
                _error(exc)
                results.append(ModelFailure(target, str(exc), _source_of(target)))
            except ValueError as exc:  # an option value the library refused
                raise click.UsageError(str(exc)) from None
            except KeyboardInterrupt:
                # What finished is shown; every model has its entry (JSON), the ones never reached too.
                click.echo("gradcheck: interrupted", err=True)
                results += [ModelFailure(t, "not tested: interrupted", _source_of(t)) for t in targets[len(results):]]
                interrupted = True
                break
        reports = [r for r in results if not isinstance(r, ModelFailure)]
        if output_format == "json":
            from .render import json as json_render

            json_render.render_many(results, out, config=origin.to_dict() if origin is not None else None)
        elif reports:
            from .render import taylor as taylor_render
            from .render import text

            taylor_render.render(reports, text.make_console(out))
        if plot_file is not None and reports:
            from .render import taylor as taylor_render

            _write(lambda: taylor_render.save_png(reports, plot_path), plot_file, "--plot")
            click.echo(f"wrote {plot_file}", err=True)
        if interrupted:
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(max(exit_code("error" if isinstance(r, ModelFailure) else r.verdict, strict=False)
                     for r in results))


@main.command(
    "sanity",
    short_help="Sanity checks before training: initial loss, regularization, overfitting.",
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="""\b
Examples:
  gradcheck sanity sample_models/two_layer_sanity.py --classes 5 --reg REG
  gradcheck sanity my_svm.py --classes 10 --svm --reg REG --steps 300
  gradcheck sanity my_model.py --expect-loss 2.3 --junit-xml sanity.xml

\b
Exit codes: 0 pass (warnings allowed), 1 a check failed (or warned, with
--strict), 2 the model or the command line is unusable.""",
)
@click.argument("model", shell_complete=completion.model_paths)
@source_options
@click.option("--classes", type=_Whole(values.CLASSES), metavar="C",
              help="Number of classes: the initial loss should be ln C (softmax), or C - 1 with --svm.")
@click.option("--svm", is_flag=True, help="The loss is a multiclass SVM (initial loss C - 1).")
@click.option("--expect-loss", type=_Finite(values.FINITE), metavar="VALUE",
              help="The initial loss expected (instead of --classes).")
@click.option("--loss-tolerance", type=_POSITIVE, default=DEFAULT_LOSS_TOLERANCE, show_default=True,
              metavar="FRACTION", help="Relative tolerance of the initial-loss check.")
@click.option("--reg", "reg", type=_Name(values.REG), metavar="auto|none|NAME",
              shell_complete=completion.keywords("auto", "none"),
              help="The regularization strength's constant: 0 for the initial-loss and overfit checks; raised "
                   "tenfold to check that it raises the loss. auto: the one constant named like a strength, as "
                   "check finds it; none (or not given): no regularization check.")
@click.option("--steps", type=_Whole(values.AT_LEAST_1), default=DEFAULT_OVERFIT_STEPS, show_default=True, metavar="N",
              help="Training steps of the overfit check.")
@click.option("--optimizer", type=_OneOf(values.OPTIMIZER), default="adam", show_default=True,
              help="Adam (bias-corrected) or SGD with momentum 0.9.")
@click.option("--lr", type=_POSITIVE, metavar="FLOAT",
              show_default="1e-2 for Adam; for SGD, one whose first update is 1e-3 of the parameters",
              help="Learning rate of the overfit run.")
@click.option("--overfit-factor", type=_Finite(values.ABOVE_ONE), default=DEFAULT_OVERFIT_FACTOR,
              show_default=True, metavar="X", help="The overfit check passes when the loss falls X-fold...")
@click.option("--overfit-below", type=_NON_NEGATIVE, metavar="LOSS", help="...or below LOSS, if given.")
@click.option("--format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Report format on stdout.")
@click.option("--junit-xml", "junit_xml", metavar="PATH", type=click.Path(dir_okay=False),
              help="Also write a JUnit XML report (one testcase per check) to PATH.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@_version_option
def sanity_command(model, params, data, seed, set, config, classes, svm, expect_loss, loss_tolerance, reg, steps,
                   optimizer, lr, overfit_factor, overfit_below, format, junit_xml, strict) -> None:
    """Run the course notes' checks on MODEL before a long training: the
    initial loss is chance's, raising the regularization raises the loss,
    the model overfits its own small data, and updates are ~1e-3 of the
    parameters. Each check passes, warns or fails (or is skipped when the
    options it needs are not given).
    """
    from .model import parse_assignments
    from .sanity_checks import sanity

    output_format = format
    with _answering(output_format) as out:
        overrides = _run(lambda: parse_assignments(set))
        _load_renderers("sanity", "text", *(["junit"] if junit_xml else []))
        junit_path = _output(junit_xml, "--junit-xml")
        origin = _config_origin(click.get_current_context(), models_from_config=False)
        _render_origin(origin, output_format, out)
        report = _run(lambda: sanity(model, classes=classes, svm=svm, expect_loss=expect_loss,
                                     loss_tolerance=loss_tolerance, reg=reg, steps=steps, optimizer=optimizer, lr=lr,
                                     overfit_factor=overfit_factor, overfit_below=overfit_below, seed=seed,
                                     params=params, data=data, set=overrides, strict=strict),
                      document=out if output_format == "json" else None, model=model)
        if output_format == "json":
            from .render import json as json_render

            json_render.render(report, out, config=origin.to_dict() if origin is not None else None)
        else:
            from .render import sanity as sanity_render
            from .render import text

            sanity_render.render(report, text.make_console(out))
        if junit_xml:
            from .render import junit

            _write(lambda: junit.write([report], junit_path, strict=strict, sanity=True), junit_xml, "--junit-xml")
        sys.exit(exit_code(report.verdict, strict=strict))


def exit_code(verdict: str, *, strict: bool) -> int:
    """The exit code promised for a verdict ('error': the model was unusable)."""
    if verdict == "error":
        return EXIT_UNUSABLE
    if verdict == "fail" or (strict and verdict == "warn"):
        return EXIT_FAIL
    return EXIT_PASS


if __name__ == "__main__":
    main()
