"""Names and descriptions as a terminal should show them: control, line-separator and bidirectional characters
escaped as Python writes them (``\\n``, ``\\u202e``), not obeyed, so that a state named with a line break keeps
its table row, and one with U+202E does not reverse the line."""

from __future__ import annotations

import re

__all__ = ["shown_text"]

_HIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def shown_text(text: str) -> str:
    """``text`` with every control or direction character escaped."""
    return _HIDDEN.sub(lambda m: repr(m.group())[1:-1], text)
