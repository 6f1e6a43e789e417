"""Pictures of grammars through Graphviz's ``dot`` program.

The picture shows names as a person reads them: control characters as visible ones (Graphviz refuses a NUL or a
control character in a label) and long names cut (Graphviz refuses a string over 16,384 characters); the
grammar files keep the names whole. Graphviz has ``DRAW_SECONDS`` to lay the picture out: its time grows
steeply with the edges."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from .atomic import atomic_path
from .dot_format import to_dot
from .errors import UserError
from .grammar import Grammar

__all__ = ["DRAW_SECONDS", "PICTURES", "SHOWN_NAME", "draw", "shown_grammar"]

PICTURES = {".svg": "svg", ".png": "png", ".pdf": "pdf"}
DRAW_SECONDS = 120
SHOWN_NAME = 200  # characters of a name shown in a picture


def draw(g: Grammar, path: str | os.PathLike[str]) -> None:
    """Render the grammar to .svg, .png or .pdf (by extension), atomically."""
    fmt = PICTURES.get(Path(path).suffix.lower())
    if fmt is None:
        raise UserError(f"cannot draw to {path}: use a .svg, .png or .pdf file name")
    exe = shutil.which("dot")
    if exe is None:
        raise UserError("drawing needs Graphviz's `dot` program; install it (apt-get install graphviz)")
    text = to_dot(shown_grammar(g), complete=False, picture=True).encode()
    with atomic_path(path) as tmp:
        try:
            done = subprocess.run([exe, f"-T{fmt}", "-o", str(tmp)], input=text, capture_output=True, check=False,
                                  timeout=DRAW_SECONDS)
        except subprocess.TimeoutExpired:
            raise UserError(f"Graphviz did not lay out {path} within {DRAW_SECONDS} s ({len(g.transitions):,} "
                            "edges); draw a smaller grammar, or write it as DOT with `convert` and lay it out "
                            "yourself") from None
        if done.returncode != 0:
            why = " ".join(done.stderr.decode(errors="replace").split())[:300]
            raise UserError(f"Graphviz failed to draw {path}: {why}")


def _control_picture(m: re.Match[str]) -> str:
    """A control character as a visible one: its Unicode control picture (NUL as ␀, BEL as ␇, DEL as ␡), or
    <U+0085> (a backslash escape would be dropped by Graphviz)."""
    code = ord(m.group())
    return chr(0x2400 + code) if code < 0x20 else "\u2421" if code == 0x7F else f"<U+{code:04X}>"


def shown_grammar(g: Grammar) -> Grammar:
    """``g`` with every name as the picture shows it: control characters made visible, cut at ``SHOWN_NAME``
    characters (names that become equal are numbered apart)."""
    taken: dict[str, str] = {}
    used: set[str] = set()

    def shown(name: str) -> str:
        if name in taken:
            return taken[name]
        text = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", _control_picture, name)
        if len(text) > SHOWN_NAME:
            text = text[:SHOWN_NAME - 1] + "…"
        base, k = text, 1
        while text in used:
            k += 1
            text = f"{base}~{k}"
        taken[name] = text
        used.add(text)
        return text

    states = {q: shown(q) for q in g.states}
    symbols = {a: shown(a) for a in g.alphabet}
    taken.clear()
    used.clear()
    outputs = {o: shown(o) for o in {*dict(g.state_outputs).values(), *dict(g.edge_outputs).values()}}
    edge = lambda t: (states[t[0]], symbols[t[1]], states[t[2]])  # noqa: E731
    return g.with_changes(name=shown(g.name), start=states[g.start], accept=frozenset(states[q] for q in g.accept),
                          alphabet=tuple(symbols.values()), states=tuple(states.values()),
                          transitions=tuple(map(edge, g.transitions)),
                          state_outputs=tuple((states[q], outputs[o]) for q, o in g.state_outputs),
                          edge_outputs=tuple((edge(t), outputs[o]) for t, o in g.edge_outputs))
