"""Renderers: each takes a Report and writes it; none computes."""

from __future__ import annotations

import re

# Characters a report must not pass on raw: C0 controls but tab and newline
# (an ESC would recolour a CI log; most are not allowed in XML 1.0), DEL
# and C1 controls, lone surrogates, and the two non-characters XML refuses.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def printable(text: str) -> str:
    """``text`` with the characters above written as escapes (``\\x1b``): a
    block name is the user's, and must reach a log or an XML file as text."""
    return _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], text)
