"""A Griffe extension (mkdocs.yml: mkdocstrings' ``extensions:``): the API
reference as a reader of the site needs it, from docstrings written for
readers of the source.

- A Sphinx cross-reference (``:class:`~gradcheck_cli.errors.ModelError```,
  ``:func:`check```) becomes a link where its target is on the API page
  (autorefs' ``[title][identifier]``), and code elsewhere: mkdocstrings
  reads Markdown, where a role is literal text.
- A default that names a constant (``seed=DEFAULT_SEED``) shows the
  constant's value: the signature is where a reader looks for it, and the
  constant's name says nothing there.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import griffe

DOCS = Path(__file__).parent
sys.path.insert(0, str(DOCS))  # (Griffe loads this file by its path)
from mkdocs_hooks import documented_paths  # noqa: E402

# A role and its target: ``:func:`~gradcheck_cli.check``` (the tilde: show
# the last name only, as Sphinx does).
_ROLE = re.compile(r":(?:func|class|meth|attr|data|exc|mod|obj):`(~?)([\w.]+)`")


class ReadableReference(griffe.Extension):
    """Links for Sphinx roles, values for defaults named by constants."""

    def __init__(self) -> None:
        super().__init__()
        self._documented = tuple(documented_paths((DOCS / "api.md").read_text()))

    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:
        for obj in _walk(pkg):
            if obj.is_function:
                for parameter in obj.parameters:
                    parameter.default = _value(pkg, parameter.default)
            elif obj.is_attribute:
                obj.value = _value(pkg, obj.value)
            if obj.docstring is not None:
                obj.docstring.value = _ROLE.sub(lambda role: self._reference(pkg, obj, *role.groups()),
                                                obj.docstring.value)

    def _reference(self, pkg: griffe.Module, obj: griffe.Object, tilde: str, target: str) -> str:
        title = f"`{target.rsplit('.', 1)[-1] if tilde else target}`"
        path = _resolve(pkg, obj, target)
        # A member of a rendered class is rendered too (a field, a property).
        linkable = path is not None and any(path == p or path.startswith(p + ".") and not
                                            path[len(p) + 1:].startswith("_") for p in self._documented)
        return f"[{title}][{path}]" if linkable else title


def _walk(obj: griffe.Object):
    for member in obj.members.values():
        if not member.is_alias:
            yield member
            yield from _walk(member)


def _value(pkg: griffe.Module, expression):
    """A name's literal value where it names a constant with one (the
    expression itself otherwise)."""
    if not isinstance(expression, griffe.ExprName):
        return expression
    try:
        constant = pkg.modules_collection[expression.canonical_path]
        if constant.is_alias:
            constant = constant.final_target
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return expression
    # A literal's value is its source text; a computed one is an expression.
    return constant.value if constant.is_attribute and isinstance(constant.value, str) else expression


def _resolve(pkg: griffe.Module, obj: griffe.Object, target: str) -> str | None:
    """The path of the object a role names: an absolute dotted path, or a
    name in the scope of the documented object (a function's is its module
    or class)."""
    scope = obj if obj.is_module or obj.is_class else obj.parent
    try:
        found = pkg.modules_collection[target]
    except KeyError:
        head, _, rest = target.partition(".")  # (a member of a name in scope: SanityReport.passed)
        try:
            found = pkg.modules_collection[scope.resolve(head) + (f".{rest}" if rest else "")]
        except (KeyError, griffe.NameResolutionError):
            return None
    try:
        return found.final_target.path if found.is_alias else found.path
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None
