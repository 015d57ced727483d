"""MkDocs hooks (mkdocs.yml, ``hooks:``): the pages are read on GitHub and
in the site alike, written for GitHub's Markdown."""

from __future__ import annotations

import re

_CODE_SPAN = re.compile(r"`[^`\n]*`")

# Files outside docs/ that the site shows as a page of its own. A page links
# to the file itself, which GitHub opens; the site has no such file (docs_dir
# is docs/), so its links lead to the page that includes it.
SITE_PAGES = {"../benchmarks/RESULTS.md": "benchmark-results.md"}
_SITE_LINK = re.compile(r"\]\((" + "|".join(map(re.escape, SITE_PAGES)) + r")([#)])")


def on_page_markdown(markdown: str, **kwargs) -> str:
    """A ``|`` inside code in a table row is written ``\\|``, as GitHub's
    tables need it; Python-Markdown's tables never split inside code and
    would show the backslash, so the site gets the bare ``|``. A link to a
    file of SITE_PAGES leads to its page."""
    def unescape(span: re.Match) -> str:
        return span.group().replace("\\|", "|")

    markdown = _SITE_LINK.sub(lambda link: f"]({SITE_PAGES[link.group(1)]}{link.group(2)}", markdown)
    return "\n".join(_CODE_SPAN.sub(unescape, line) if line.lstrip().startswith("|") else line
                     for line in markdown.split("\n"))


# ``::: path`` on the API page, and a module directive's ``members: [...]``.
_DIRECTIVE = re.compile(r"^::: ([\w.]+)\n((?:[ \t]+.*\n)*)", re.M)
_MEMBERS = re.compile(r"members:\s*\[([^\]]*)\]")


def documented_paths(page: str) -> list[str]:
    """The objects an API page (docs/api.md) renders with a heading of their
    own: each ``:::`` directive's, and the members a module directive lists.
    (griffe_extension.py links a docstring's reference to them; the tests
    read the page with it.)"""
    paths = []
    for path, options in _DIRECTIVE.findall(page):
        paths.append(path)
        listed = _MEMBERS.search(options)
        if listed:
            paths += [f"{path}.{name.strip()}" for name in listed.group(1).split(",") if name.strip()]
    return paths
