"""Shell completion, click's protocol (``_GRADCHECK_COMPLETE=bash_source
gradcheck`` prints the script a shell sources; the script calls gradcheck
back with ``{bash,zsh,fish}_complete``): what a model argument completes
to, and bash's share of it.

A path is left to the shell (a ``file`` item): its own filename completion
quotes, expands ``~`` and marks directories as the user is used to. Only
where bash's script could not do that (below) are paths listed here.
"""

from __future__ import annotations

import os

import click

# The environment variable a shell's script sets when it asks for
# completions (click's name for it: `_{PROG_NAME}_COMPLETE`); any value
# is a request, which click answers whatever the command line.
VARIABLE = "_GRADCHECK_COMPLETE"

# ctx.meta key, set by the command group: the word being completed is the
# first after `gradcheck`, where a command name (`sweep`) and a model path
# (`sample_models/`) are both possible.
FIRST_WORD = "gradcheck.first_word"


def model_paths(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
    """A model argument's completions: the shell's files and directories
    (a model file, a folder of them); as the first word, the command names
    too (`gradcheck MODEL` is short for `gradcheck check MODEL`)."""
    from click.shell_completion import CompletionItem

    group = ctx.parent
    commands = []
    if ctx.meta.get(FIRST_WORD) and group is not None and isinstance(group.command, click.Group):
        commands = group.command.shell_complete(group, incomplete)
    return [*commands, CompletionItem(incomplete, type="file")]


def keywords(*words: str):
    """The completion of an option that takes keywords beside a number or a
    name (`--samples all`, `--reg none`): the ``words`` that start with what
    is typed (in any case, as the options read them); the number or the
    name is the user's to type."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
        from click.shell_completion import CompletionItem

        return [CompletionItem(word) for word in words if word.startswith(incomplete.lower())]

    return complete


def register_bash() -> None:
    """Use ``_Bash`` for ``bash_complete`` in this process (a completion
    process: click's registry is global)."""
    from click.shell_completion import BashComplete, CompletionItem, add_completion_class

    class _Bash(BashComplete):
        """click's bash script hands a ``file`` item to bash (``compopt -o
        default``), which completes filenames only where nothing else
        matched: `gradcheck sa<TAB>` would become `gradcheck sanity`, never
        `sample_models/`. Where names match too, the paths are listed here
        as plain items beside them; elsewhere bash keeps its own."""

        def get_completions(self, args: list[str], incomplete: str) -> list:
            items = super().get_completions(args, incomplete)
            if not any(item.type == "plain" for item in items):
                return items
            listed = []
            for item in items:
                if item.type in ("file", "dir"):
                    listed += [CompletionItem(path) for path in matching_paths(item.value, dirs=item.type == "dir")]
                else:
                    listed.append(item)
            return listed

    add_completion_class(_Bash, "bash")


def matching_paths(incomplete: str, *, dirs: bool = False) -> list[str]:
    """The entries whose path starts with ``incomplete``, spelled as typed
    (``~/``, ``./``), directories with a trailing slash; hidden ones only
    when the name typed starts with a dot, as bash lists them."""
    folder, prefix = os.path.split(incomplete)
    where = os.path.expanduser(folder) or "."
    try:
        names = sorted(os.listdir(where))
    except OSError:  # (no such folder, or not readable: nothing to offer)
        return []
    paths = []
    for name in names:
        if not name.startswith(prefix) or (name.startswith(".") and not prefix.startswith(".")):
            continue
        is_dir = os.path.isdir(os.path.join(where, name))
        if is_dir or not dirs:
            paths.append(os.path.join(folder, name) + ("/" if is_dir else ""))
    return paths
