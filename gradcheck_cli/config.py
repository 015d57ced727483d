"""Configuration: ``[tool.gradcheck]`` in pyproject.toml (or ``--config FILE``).

Every command-line option's default can be set there, under the option's
name (``fail-above`` or ``fail_above``: the name the Python API takes as a
keyword), plus ``models = [...]``: what a bare ``gradcheck`` checks. A key
at the top applies to every command that has the option, and its value
is held to the command that runs; ``[tool.gradcheck.check]``,
``[tool.gradcheck.sweep]`` and ``[tool.gradcheck.sanity]`` hold options
for that command alone, over the top's. An option's name does not always
mean one thing (``lr`` is check's warm-up rate and sanity's overfitting
rate: options.PER_COMMAND), and such an option is taken only in a
command's table. Keys renamed since (``params_file``, ``assignments``...:
options.RENAMED_KEYS) are read under their new name (``Config.deprecations``
says so: the command line on stderr, the pytest fixture as a
DeprecationWarning). Command-line options override the file. An unknown
key is an error naming it, and so are two spellings of one key. A path
has ``~`` expanded and, relative, is the directory's of the file as it was
named (a symlink's own), and a value is read as the command line reads the
option (through its click type, whose parser the Python keyword shares:
values.py).

The options themselves are defined once, as the click commands' parameters;
this module validates against whichever commands it is given, so the CLI,
the config file and the pytest plugin cannot disagree about them.
"""

from __future__ import annotations

import glob
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import click

from .errors import ConfigError
from .options import PER_COMMAND, RENAMED_KEYS
from .values import FLAG

TABLE = ("tool", "gradcheck")


@dataclass(frozen=True)
class Config:
    """What a configuration file says to one command: option values and models."""

    path: Path | None  # None: no file was found
    # normalised key -> value: the top level's that are options of `command`,
    # its own table's over them
    values: dict[str, Any] = field(default_factory=dict)
    models: tuple[str, ...] = ()  # targets, paths made relative to the working directory
    # (the table, the key as the file spells it, the option's name) for each
    # key read under its old name: said by whoever reads the file (the
    # command line on stderr, the pytest fixture as a DeprecationWarning).
    renamed: tuple[tuple[str, str, str], ...] = ()
    command: str = "check"  # the command the values are for

    @property
    def deprecations(self) -> tuple[str, ...]:
        """What to say of each key read under its old name."""
        return tuple(f"{old!r} in [{table}] of {self.path} is deprecated: name it "
                     f"{new.replace('_', '-')!r}, as the command line does" for table, old, new in self.renamed)

    def for_command(self, command: click.Command) -> dict[str, Any]:
        """The values that are options of ``command``, keyed by parameter name
        (the values are ``self.command``'s: read the file for the command
        that runs)."""
        names = parameter_names(command)
        return {names[key]: value for key, value in self.values.items() if key in names}


@dataclass(frozen=True)
class Origin:
    """The configuration file a run took values from, for its report: a
    value the user did not type must say where it came from."""

    path: str  # as the user would type it: relative to the working directory when inside it
    keys: tuple[str, ...]  # the options (as spelled on the command line) whose value came from the file
    # (option, the file's value, the default, what that lets through) where the
    # file grades more leniently than gradcheck does by default.
    looser: tuple[tuple[str, float, float, str], ...] = ()

    def to_dict(self) -> dict:
        return {"file": self.path, "keys": list(self.keys),
                "looser": [{"key": key, "value": value, "default": default, "effect": effect}
                           for key, value, default, effect in self.looser]}


# What a threshold above its default lets through (the report says it: a
# threshold the user did not type may be why a wrong gradient passes).
LOOSER = {
    "fail_above": "relative errors up to it do not fail",
    "warn_above": "relative errors up to it are not warned about",
    "good_below": "relative errors below it are called good",
    "tiny_below": "values smaller than it are not graded at all",
}


def origin(config: Config, used: Iterable[str]) -> Origin | None:
    """What the report says of ``config``, given its keys (normalised, and
    "models") whose values the run took; None when it supplied nothing."""
    used = [name for name in used if name == "models" or name in config.values]
    if config.path is None or not used:
        return None
    from .settings import Thresholds

    defaults = Thresholds()
    looser = tuple((name.replace("_", "-"), float(config.values[name]), float(getattr(defaults, name)), effect)
                   for name, effect in LOOSER.items()
                   if name in used and _number(config.values[name]) > getattr(defaults, name))
    path = os.path.relpath(config.path)
    return Origin(path if not path.startswith(os.pardir) else str(config.path),
                  tuple(name.replace("_", "-") for name in used), looser)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")  # (convert() has refused it already)


def normalise(key: str) -> str:
    return key.strip().lstrip("-").replace("-", "_")


def parameter_names(command: click.Command) -> dict[str, str]:
    """Every spelling of the command's options (normalised) -> parameter name."""
    names: dict[str, str] = {}
    for param in command.params:
        # (--help and --version answer and exit: not settings a file can hold)
        if isinstance(param, click.Option) and param.expose_value:
            for opt in param.opts:
                if opt.startswith("--"):
                    names[normalise(opt)] = param.name
            names[normalise(param.name)] = param.name
    return names


# What marks a project's root: the search for pyproject.toml stops at the
# first directory holding one of these (black's rule). A pyproject.toml above
# a student's repository -- a shared home, a course folder -- is someone
# else's project and must not set this one's thresholds or outputs.
PROJECT_MARKERS = (".git", ".hg", "pyproject.toml")


def project_root(start: Path | None = None) -> Path | None:
    """The first directory at or above ``start`` (the working directory)
    that holds .git, .hg or pyproject.toml; None if none does."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if any((directory / marker).exists() for marker in PROJECT_MARKERS):
            return directory
    return None


def find_pyproject(start: Path | None = None) -> Path | None:
    """The project's pyproject.toml: the one at its root (``project_root``),
    if the root has one. A repository root without one has no config, even
    if a directory above it has a pyproject.toml."""
    root = project_root(start)
    candidate = root / "pyproject.toml" if root is not None else None
    return candidate if candidate is not None and candidate.is_file() else None


def load(commands: Iterable[click.Command], path: str | os.PathLike | None = None,
         start: Path | None = None, *, runs: str = "check") -> Config:
    """Read and validate the configuration for the command ``runs``.

    ``path`` (from --config) must exist; without it the nearest
    pyproject.toml is used, and having none (or no [tool.gradcheck] in it)
    is fine. ``commands`` define which keys are known, each command's
    table (``[tool.gradcheck.sweep]``) holding its own options. The values
    returned are those ``runs`` takes: the top level's that are its
    options, its own table's over them. A top-level value is held to the
    command that runs (``format = "github"`` is check's, and an error for
    sweep), a table's to its command whichever runs.
    """
    if path is not None:
        file = Path(path)
        if file.is_dir():
            raise ConfigError(f"config file {path} is a directory")
        if not file.exists():  # (a device such as /dev/null reads as an empty file)
            raise ConfigError(f"config file not found: {path}")
    else:
        file = find_pyproject(start)
        if file is None:
            return Config(None, command=runs)
    try:
        with open(file, "rb") as handle:
            document = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file} is not UTF-8 text (TOML must be): byte {exc.object[exc.start]:#04x} at "
                          f"offset {exc.start}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror or exc}") from None
    table: Any = document
    for part in TABLE:
        table = table.get(part, {}) if isinstance(table, dict) else {}
    if not table and path is not None and file.name != "pyproject.toml":
        table = document  # a standalone gradcheck.toml may hold the keys at top level
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.gradcheck] in {file} must be a table")
    by_name = {command.name: command for command in commands}
    if runs not in by_name:
        raise ValueError(f"no command {runs!r} to read [tool.gradcheck] for")  # (a caller's bug)
    for name, sub in table.items():
        if name in by_name and not isinstance(sub, dict):
            raise ConfigError(f"'{name}' in [tool.gradcheck] of {file} must be a table, [tool.gradcheck.{name}], "
                              f"of options for gradcheck {name} alone")
    top = _read(table, file, by_name, None)
    own = {name: _read(sub, file, by_name, name) for name, sub in table.items() if name in by_name}
    for name, command in by_name.items():  # (a command's table is its own, whichever command runs)
        if name in own:
            for key, value in own[name].values.items():
                convert(command, {parameter_names(command)[key]: value}, file, _label(name))
    for key, value in top.values.items():
        takers = [name for name, command in by_name.items() if key in parameter_names(command)]
        if runs in takers:
            _held_to(by_name, runs, key, value, file, takers)
        else:  # (not the running command's option: wrong for every command that has it is wrong)
            refusals = []
            for name in takers:
                try:
                    _held_to(by_name, name, key, value, file, takers)
                except ConfigError as exc:
                    refusals.append(exc)
            if refusals and len(refusals) == len(takers):
                raise refusals[0]
    running = parameter_names(by_name[runs])
    values = {key: value for key, value in top.values.items() if key in running}
    values.update(own[runs].values if runs in own else {})
    renamed = (*top.renamed, *(item for part in own.values() for item in part.renamed))
    models = own["check"].models if "check" in own and own["check"].models else top.models
    return Config(file, values, models, renamed, runs)


@dataclass(frozen=True)
class _Table:
    """One table's keys, read: option values by normalised key (paths
    already the file's), models, and the keys read under an old name."""

    values: dict[str, Any]
    models: tuple[str, ...]
    renamed: tuple[tuple[str, str, str], ...]


def _label(command: str | None) -> str:
    """How a message names a table: ``tool.gradcheck`` or ``tool.gradcheck.sweep``."""
    return ".".join(TABLE) + (f".{command}" if command else "")


def _read(table: dict[str, Any], file: Path, commands: dict[str, click.Command], command: str | None) -> _Table:
    """The keys of [tool.gradcheck] (``command`` None: any command's option,
    but those whose meaning differs between commands) or of
    [tool.gradcheck.COMMAND] (that command's options), checked alike: an
    unknown key (with the near one), two spellings of one option, a key
    under its old name (recorded), a path (the file's directory's)."""
    label = _label(command)
    takers = [command] if command else list(commands)
    known: dict[str, str] = {}
    for name in takers:
        known.update(parameter_names(commands[name]))
    known.pop("config", None)
    values: dict[str, Any] = {}
    models: tuple[str, ...] = ()
    renamed: list[tuple[str, str, str]] = []
    spelled: dict[str, str] = {}  # option -> the key that set it
    for key, value in table.items():
        if command is None and key in commands:
            continue  # (a command's own table, read apart)
        name = normalise(key)
        if name in RENAMED_KEYS and name not in known and RENAMED_KEYS[name] in known:
            new = RENAMED_KEYS[name]
            if any(normalise(other) == new for other in table):
                raise ConfigError(f"{file} sets both {key!r} (the old name) and {new.replace('_', '-')!r} in "
                                  f"[{label}]; keep the second")
            renamed.append((label, key, new))
            name = new
        if name in spelled:
            # (TOML keeps both; the last would silently win)
            raise ConfigError(f"{file} sets {spelled[name]!r} and {key!r} in [{label}], two spellings of "
                              f"one option; keep one")
        spelled[name] = key
        if name == "models" and command in (None, "check"):
            models = _models(value, file, key, label)
        elif name in ("config", "config_file"):
            raise ConfigError(f"'config' cannot be set in {file} (it names the file itself)")
        elif name in known and command is None and name in PER_COMMAND:
            tables = " or ".join(f"[{_label(c)}]" for c in commands if name in parameter_names(commands[c]))
            raise ConfigError(f"{key!r} in [{label}] of {file} means different things to different commands "
                              f"({PER_COMMAND[name]}): set it in {tables}")
        elif name in known:
            values[name] = value
        else:
            raise ConfigError(_unknown(key, name, label, file, takers, commands))
    params = {p.name: p for name in takers for p in commands[name].params}
    return _Table(_as_given(params, values, file, label), models, tuple(renamed))


def _unknown(key: str, name: str, label: str, file: Path, takers: list[str],
             commands: dict[str, click.Command]) -> str:
    """What to say of an unknown key: the near spelling first, then every
    key (as click answers an unknown option), or the table it belongs in."""
    import difflib

    others = [c for c in commands if c not in takers and name in parameter_names(commands[c])]
    if others:
        return (f"{key!r} in [{label}] of {file} is not an option of gradcheck {takers[0]}; it is "
                f"{' and '.join(others)}'s: set it in {' or '.join(f'[{_label(c)}]' for c in others)}")
    spellings = {normalise(opt) for c in takers for p in commands[c].params
                 if isinstance(p, click.Option) and p.expose_value
                 for opt in p.opts if opt.startswith("--")} - {"config"}
    known_keys = sorted({k.replace("_", "-") for k in spellings} | ({"models"} if "check" in takers else set()))
    near = difflib.get_close_matches(name.replace("_", "-"), known_keys, n=1)
    hint = f" Did you mean {near[0]!r}?" if near else ""
    return f"unknown key {key!r} in [{label}] of {file}.{hint} (known keys: {', '.join(known_keys)})"


def _held_to(commands: dict[str, click.Command], runs: str, key: str, value: Any, file: Path,
             takers: list[str]) -> None:
    """A top-level value converted as ``runs`` reads it; where it refuses a
    value another command takes, the error says which table gives it to
    that command alone."""
    command = commands[runs]
    try:
        convert(command, {parameter_names(command)[key]: value}, file, _label(None))
    except ConfigError as exc:
        takes = []
        for other in takers:
            if other != runs:
                try:
                    convert(commands[other], {parameter_names(commands[other])[key]: value}, file)
                    takes.append(other)
                except ConfigError:
                    pass
        if not takes:
            raise
        raise ConfigError(f"{str(exc).rstrip('.')} for gradcheck {runs}, which reads the top level too; "
                          + " and ".join(f"[{_label(other)}] sets it for {other} alone" for other in takes)) from None


def _path_text(value: str, file: Path, key: str, label: str) -> str:
    """A path from the file as gradcheck opens it: ``~`` expanded (as the
    shell would have), a relative path the directory's of the file as it
    was named (a symlinked config's own directory, not its target's), and
    an empty one refused, naming the key (it names no file)."""
    if not value.strip():
        raise ConfigError(f"'{key}' in [{label}] of {file} is empty: name a file, or leave the key out")
    value = os.path.expanduser(value)
    return value if os.path.isabs(value) else os.path.normpath(os.path.join(file.parent, value))


def _models(value: Any, file: Path, key: str = "models", label: str = _label(None)) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"'models' in {file} must be a list of strings (files, directories or dotted modules)")
    targets: list[str] = []
    for entry in value:
        path_part = entry.rsplit(":", 1)[0] if ":" in entry and not entry.endswith(":") else entry
        looks_like_path = (path_part.endswith(".py") or "/" in path_part or path_part.startswith("~")
                           or any(c in path_part for c in "*?[") or not path_part.strip())
        if not looks_like_path:
            targets.append(entry)  # a dotted module
            continue
        given = os.path.expanduser(entry)
        pattern = _path_text(entry, file, key, label)
        matches = sorted(glob.glob(pattern)) if any(c in entry for c in "*?[") else [pattern]
        if not matches:
            raise ConfigError(f"'models' in {file}: {entry!r} matches no file")
        targets += [os.path.relpath(m) if not os.path.isabs(given) else m for m in matches]
    return tuple(targets)


def _as_given(params: dict[str, click.Parameter], values: dict[str, Any], file: Path,
              label: str = _label(None)) -> dict[str, Any]:
    """The file's values as the command line would give them, so that the
    file takes what the Python keyword takes, where TOML can say it:

    - a path is read as the shell reads one and is the file's directory's
      (as ``models`` are), not the directory gradcheck happens to run in
      (``_path_text``);
    - a repeatable option takes one string for one item (``block = "W1"``
      as ``block="W1"``), and ``set`` a table of constants (``set = {REG = 0}``
      as ``set={"REG": 0}``)."""
    from .values import assignment_text

    given = {}
    for name, value in values.items():
        param = params[name]
        if isinstance(param.type, click.Path) and isinstance(value, str):
            value = _path_text(value, file, name.replace("_", "-"), label)
        elif param.multiple and isinstance(value, str):
            value = [value]
        elif param.multiple and name == "set" and isinstance(value, dict):
            value = [f"{key}={assignment_text(item)}" for key, item in value.items()]
        given[name] = value
    return given


def convert(command: click.Command, values: dict[str, Any], file: Path | None = None,
            table: str | None = None) -> dict[str, Any]:
    """Values keyed by parameter name, converted by each option's own type
    (for callers that do not go through click's parser: the pytest plugin).

    TOML has types the command line has not: a flag takes true or false
    only, a path or a name a string, and a number is not a flag (click
    would read ``samples = true`` as 1, and ``junit-xml = 5`` as file
    descriptor 5)."""
    params = {p.name: p for p in command.params}
    where = f" in [{table}] of {file}" if file is not None and table else f" in {file}" if file is not None else ""
    converted = {}
    for name, value in values.items():
        param = params[name]
        key = next((opt[2:] for opt in param.opts if opt.startswith("--")), name.replace("_", "-"))

        def refuse(why: str) -> ConfigError:
            return ConfigError(f"invalid value for '{key}'{where}: {value!r} {why}")

        items = value if param.multiple and isinstance(value, list) else [value]
        if param.multiple and not isinstance(value, list):
            raise refuse("must be a list, or one string" + (", or a table of NAME = VALUE" if name == "set" else ""))
        for item in items:
            if getattr(param.type, "parser", None) is not None:
                continue  # (values.py: the option's parser judges every value, as it does a keyword's)
            if getattr(param, "is_flag", False) and not getattr(param, "count", False):
                try:
                    FLAG.parse(item)  # (a flag's keyword is parsed so too)
                except ValueError as exc:
                    raise ConfigError(f"invalid value for '{key}'{where}: {exc}") from None
            elif isinstance(item, bool):
                raise refuse("is not a value of this option (true/false are for flags)")
            elif isinstance(param.type, (click.Path, click.Choice)) or param.type is click.STRING:
                if not isinstance(item, str):
                    raise refuse("must be a string")
            elif isinstance(item, (list, dict)):
                raise refuse(f"must be a single value, not a {'list' if isinstance(item, list) else 'table'}")
        try:
            converted[name] = param.type_cast_value(click.Context(command), value)
        except click.BadParameter as exc:
            raise ConfigError(f"invalid value for '{key}'{where}: {exc.message}") from None
        except (TypeError, ValueError, AttributeError, OverflowError) as exc:  # what click's types do not catch
            raise refuse(f"cannot be read ({exc})") from None
    return converted
