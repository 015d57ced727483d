"""MkDocs hooks (mkdocs.yml, ``hooks:``): the pages are read on GitHub and
in the site alike, written for GitHub's Markdown."""

from __future__ import annotations

import re

_CODE_SPAN = re.compile(r"`[^`\n]*`")


def on_page_markdown(markdown: str, **kwargs) -> str:
    """A ``|`` inside code in a table row is written ``\\|``, as GitHub's
    tables need it; Python-Markdown's tables never split inside code and
    would show the backslash, so the site gets the bare ``|``."""
    def unescape(span: re.Match) -> str:
        return span.group().replace("\\|", "|")

    return "\n".join(_CODE_SPAN.sub(unescape, line) if line.lstrip().startswith("|") else line
                     for line in markdown.split("\n"))


# A Sphinx role before inline code (":class:`Model`"), as the docstrings
# write a reference; mkdocstrings renders the code and leaves the role.
_SPHINX_ROLE = re.compile(r":(?:func|class|meth|attr|data|exc|mod|obj):(?=<code>)")


def on_page_content(html: str, **kwargs) -> str:
    """The API reference without the Sphinx roles its docstrings carry."""
    return _SPHINX_ROLE.sub("", html)
