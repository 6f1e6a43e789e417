"""How a model's heads are read.

- Per prefix (the default): every head means something after every prefix, the empty one included.
- Word-level (``final_only``): the heads mean something only after a whole word. Such a model may frame each
  word with a start marker and an end marker that it reads before and after the word (as the TAYSIR
  competition's classifiers do); words, grammars and automata are then over the *inner* alphabet, without
  the markers, and fsm-lstm adds the markers itself. Only the ``accept`` head is judged.
- Either way, ``nonempty``: the empty word is not judged. A network whose source framework cannot run an empty
  sequence (Keras, and PyTorch's recurrent modules, run at least one step) says nothing of its own there: its
  heads before the first symbol come from the head bias alone. Per prefix, every prefix of one symbol or more is
  judged; word-level, every word of one symbol or more.

The model meta keys are ``final_only`` and ``nonempty`` (JSON bools), ``start_marker`` and ``end_marker``
(symbols of the alphabet); command-line options override them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import UserError
from .model import Model
from .words import parse_word

if TYPE_CHECKING:
    from .grammar import Grammar

__all__ = ["Reading", "check_markers", "reading_of"]


@dataclass(frozen=True)
class Reading:
    """Per prefix, or whole words with optional markers."""

    final_only: bool = False
    start: str | None = None
    end: str | None = None
    nonempty: bool = False  # the empty word is not judged (its heads before the first symbol, or its verdict)

    def inner(self, alphabet: Sequence[str]) -> tuple[str, ...]:
        """The symbols words are made of: the alphabet without the markers."""
        return tuple(a for a in alphabet if a not in (self.start, self.end))

    def inner_index(self, alphabet: Sequence[str]) -> np.ndarray:
        """Model symbol index of each inner symbol."""
        index = {a: k for k, a in enumerate(alphabet)}
        return np.array([index[a] for a in self.inner(alphabet)], dtype=np.int64)

    def parse(self, text: str, alphabet: Sequence[str]) -> tuple[str, ...]:
        """A word as a person types it, as an inner word: without separators when every inner symbol is one
        character and no marker is written as a symbol of its own (``aba``), space-separated otherwise
        (``<s> a b a </s>``)."""
        inner = self.inner(alphabet)
        if self.inner_unspaced(alphabet):
            return parse_word(self._unframed(text, inner), inner)  # (<s> aab </s>, <s>aab</s> and aab alike)
        return self.strip(parse_word(text, alphabet))  # (one-character markers as the alphabet's own: ^aba$)

    def typed(self, word: Sequence[str], alphabet: Sequence[str]) -> str:
        """An inner word as a person types it on the command line, without the markers, which ``parse`` reads
        back: without separators where ``parse`` reads a word so (one-character inner symbols, and markers
        longer or one character too), space-separated otherwise. (A workbook's input cell has its own rule:
        ``sheet_input.TypedInput.typed``.) A word that would read as a marker (markers "10" and "11" over 0 and
        1: the word 1 0) is spaced."""
        unspaced = self.inner_unspaced(alphabet) or all(len(a) == 1 for a in alphabet)
        text = "".join(word)
        return text if unspaced and text not in (self.start, self.end) else " ".join(word)

    def inner_unspaced(self, alphabet: Sequence[str]) -> bool:
        """Whether a word is typed without separators although the alphabet has longer symbols: every inner
        symbol is one character and no marker is (one-character markers are read as the alphabet's own)."""
        inner = self.inner(alphabet)
        return all(len(a) == 1 for a in inner) and not any(len(a) == 1 for a in alphabet if a not in inner)

    def attached(self, inner: Sequence[str]) -> tuple[str, str]:
        """The markers that may be typed attached to a word of one-character inner symbols ("" for none): those
        no run of inner symbols spells."""
        start, end = (m if m and not set(m) <= set(inner) else "" for m in (self.start, self.end))
        return start, end

    def _unframed(self, text: str, inner: Sequence[str]) -> str:
        """``text`` without the markers that frame it: written as symbols of their own (``<s> aab </s>``), or
        attached when no run of one-character inner symbols spells them (``<s>aab</s>``)."""
        tokens = text.split()
        apart = [bool(m) and bool(tokens) and tokens[k] == m for k, m in ((0, self.start), (-1, self.end))]
        body = " ".join(self.strip(tokens))
        start, end = self.attached(inner)
        if start and not apart[0] and body.startswith(start):  # a marker typed once: apart or attached
            body = body[len(start):]
        if end and not apart[1] and body.endswith(end):
            body = body[:-len(end)]
        for m in (start, end):
            if m and m in body:
                self._inside(m, text)
        return body

    def _inside(self, marker: str, text: str) -> None:
        raise UserError(f"the marker {marker!r} is out of place in {text!r}; markers frame a word "
                        f"({' '.join(self.frame(('WORD',)))}), once each, and may be left out")

    def strip(self, word: Sequence[str]) -> tuple[str, ...]:
        """A word as a person may write it, with or without its markers, as an inner word."""
        w = list(word)
        if self.start is not None and w[:1] == [self.start]:
            w = w[1:]
        if self.end is not None and w[-1:] == [self.end]:
            w = w[:-1]
        for a in w:
            if a in (self.start, self.end):
                self._inside(a, " ".join(word))
        return tuple(w)

    def frame(self, word: Sequence[str]) -> tuple[str, ...]:
        """The model symbols the network reads for an inner word."""
        return (*([self.start] if self.start else []), *word, *([self.end] if self.end else []))

    def describe(self) -> str:
        """One phrase for reports."""
        if not self.final_only:
            return "heads read after every prefix" + (", the empty one not judged (--nonempty)" if self.nonempty
                                                      else "")
        marks = [f"start marker {self.start!r}" if self.start else "", f"end marker {self.end!r}" if self.end else ""]
        framing = " and ".join(m for m in marks if m)
        return ("accept read after whole words" + (f" framed by the {framing}" if framing else "")
                + ("; the empty word is not judged (--nonempty)" if self.nonempty else ""))

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"final_only": self.final_only, "start_marker": self.start, "end_marker": self.end,
                "nonempty": self.nonempty}


def reading_of(model: Model, final_only: bool | None = None, start: str | None = None,
               end: str | None = None, nonempty: bool | None = None) -> Reading:
    """The model's reading: its meta, overridden by explicit options; markers imply ``final_only``."""
    meta = model.extra
    nonempty = nonempty if nonempty is not None else meta.get("nonempty", False)
    if not isinstance(nonempty, bool):
        raise UserError(f"meta.nonempty is {nonempty!r}; it must be true or false")
    start = start if start is not None else meta.get("start_marker")
    end = end if end is not None else meta.get("end_marker")
    final = final_only if final_only is not None else bool(meta.get("final_only", False))
    for name, sym in (("start", start), ("end", end)):
        if sym is None:
            continue
        if not isinstance(sym, str) or sym not in model.alphabet:
            raise UserError(f"the {name} marker {sym!r} is not a symbol of the model's alphabet "
                            f"({' '.join(model.alphabet)})")
    if start is not None and start == end:
        raise UserError("the start and end markers must be different symbols")
    final = final or start is not None or end is not None
    if final and "accept" not in model.heads:
        raise UserError("a word-level (final-only) model needs an 'accept' head; this model has "
                        f"{' '.join(model.heads)}: label its verdict accept, or leave out --final-only and the "
                        "markers to read its heads after every symbol")
    reading = Reading(final, start, end, nonempty)
    if not reading.inner(model.alphabet):
        raise UserError("the markers leave no symbols to make words of")
    return reading


def check_markers(model: Model, grammar: Grammar, start: str | None, end: str | None) -> None:
    """Refuse a marker given as an option (--start-marker, --end-marker) that is a symbol of ``grammar``: a marker
    frames each word and is not one of its symbols."""
    for option, marker in (("--start-marker", start), ("--end-marker", end)):
        if marker is not None and marker in grammar.alphabet:
            fix = ("give a grammar of the words alone, without the markers" if marker in model.alphabet else
                   "give the marker the network was trained with")
            raise UserError(f"{option} {marker!r} is a symbol of grammar {grammar.name!r}; a marker frames each word "
                            f"and is not one of its symbols: {fix}")
