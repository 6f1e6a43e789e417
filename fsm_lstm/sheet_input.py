"""How a workbook reads what a person types into Run!B2: the formulas of the symbols the network reads
(Trace!B3, named ``input_clean``), of their count and of the symbol at each step, typed as on the command line:

- one-character symbols with or without spaces (spaces are dropped; a tab, a line break or a no-break space
  is a space);
- a word classifier whose inner symbols are one character each and whose markers are longer the same way: the
  network reads the start marker, one symbol per character of the word, then the end marker;
- otherwise symbols separated by spaces.

A word classifier's markers are read around the word whether they are typed or not: Trace!E4 and F4 drop a
typed marker at either end of the input, as ``Reading.parse`` does (a symbol of its own; or attached to a word
of one-character symbols when no run of them spells it), so the network does not read it twice. A marker
typed inside the word is read there, as the sheet's note says (``run`` refuses such a word). The markers are
text cells (Trace!B4 and C4), never part of a formula.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from .model import Model
from .reading import Reading
from .sheet_layout import single_characters

__all__ = ["TypedInput", "marker_hint", "typed_input"]

_WORD = "Trace!$F$4"  # the typed word without typed markers (word classifiers)
# the input with the blanks a person may type or paste as spaces, as the command line reads them: tab, line
# breaks, vertical tab, form feed, the no-break spaces (U+00A0, U+202F) and the ideographic space (U+3000). The
# Unicode ones are string literals, the same in every engine; CHAR(1) is how LibreOffice gives a tab in a cell of
# several lines (0<tab>1<newline>0 was read as 0, CHAR(1), 1, 0)
_BLANKS = ("CHAR(9)", "CHAR(10)", "CHAR(11)", "CHAR(12)", "CHAR(13)", '"\u00a0"', '"\u202f"', '"\u3000"', "CHAR(1)")
_INPUT = functools.reduce(lambda text, blank: f'SUBSTITUTE({text},{blank}," ")', _BLANKS, "input")


@dataclass(frozen=True)
class TypedInput:
    """What the formulas need to know of the model and its reading."""

    single: bool  # every model symbol is one character
    inner_single: bool  # a word classifier whose inner symbols are one character each, its markers longer
    start: str | None
    end: str | None
    attached: tuple[str, str] = ("", "")  # markers that may be typed attached to the word (inner_single)

    @property
    def framed(self) -> bool:
        """Whether the network reads markers around the typed word."""
        return bool(self.start or self.end)

    @property
    def unspaced(self) -> bool:
        """Whether a person types the symbols without spaces."""
        return self.single or self.inner_single

    def unframed_formulas(self) -> tuple[str, str]:
        """Trace!E4 (the input without a typed start marker) and F4 (nor a typed end marker; without spaces for
        one-character inner symbols)."""
        if self.single:  # one character each: spaces go first, a marker is the first or last character
            typed = f'SUBSTITUTE({_INPUT}," ","")'
            at_start, at_end = f"EXACT(LEFT({typed},LEN($B$4)),$B$4)", "EXACT(RIGHT($E$4,LEN($C$4)),$C$4)"
        else:  # a symbol of its own, or attached where a person may write it so
            typed = f"TRIM({_INPUT})"
            at_start = (f"EXACT(LEFT({typed},LEN($B$4)),$B$4)" if self.attached[0] else
                        f'OR(EXACT({typed},$B$4),EXACT(LEFT({typed},LEN($B$4)+1),$B$4&" "))')
            at_end = ("EXACT(RIGHT($E$4,LEN($C$4)),$C$4)" if self.attached[1] else
                      'OR(EXACT($E$4,$C$4),EXACT(RIGHT($E$4,LEN($C$4)+1)," "&$C$4))')
        first = f"=IF(AND(LEN($B$4)>0,{at_start}),TRIM(MID({typed},LEN($B$4)+1,LEN(input))),{typed})"
        last = f"IF(AND(LEN($C$4)>0,{at_end}),TRIM(LEFT($E$4,LEN($E$4)-LEN($C$4))),$E$4)"
        return first, f'=SUBSTITUTE({last}," ","")' if self.inner_single else f"={last}"

    def inside_formula(self) -> str | None:
        """A condition (for the Run sheet) true when a marker is typed inside the word, where the network reads
        it as a symbol (None where no marker can be: one-character inner symbols read a longer marker's
        characters, which are no symbols, or the inner symbols that spell it, as ``run`` does)."""
        if not self.framed or self.inner_single:
            return None
        find = "FIND(Trace!${c}$4,{w})" if self.single else 'FIND(" "&Trace!${c}$4&" "," "&{w}&" ")'
        parts = [f"AND(LEN(Trace!${c}$4)>0,ISNUMBER({find.format(c=c, w=_WORD)}))" for c in "BC"]
        return f"OR({','.join(parts)})"

    def clean_formula(self) -> str:
        """Trace!B3: the symbols the network reads, without spaces (one-character symbols) or separated by one."""
        if not self.framed:
            return f'=SUBSTITUTE({_INPUT}," ","")' if self.single else f"=TRIM({_INPUT})"
        if self.single:
            return f'=$B$4&SUBSTITUTE({_WORD}," ","")&$C$4'
        return f'=TRIM($B$4&" "&{_WORD}&" "&$C$4)'

    def count_formula(self) -> str:
        """Run!F2: how many symbols the network reads."""
        if self.single:
            return "=LEN(input_clean)"
        if self.inner_single:
            return f"=LEN({_WORD})+{self._markers()}"
        return '=IF(input_clean="",0,LEN(input_clean)-LEN(SUBSTITUTE(input_clean," ",""))+1)'

    def symbol_formula(self, r: int) -> str:
        """The symbol read at step $A{r} (at least 1)."""
        if self.single:
            return f"MID(input_clean,$A{r},1)"
        if self.inner_single:
            before = 1 if self.start else 0
            inner = f"$A{r}-{before}" if before else f"$A{r}"
            body = f"IF({inner}<=LEN({_WORD}),MID({_WORD},{inner},1),$C$4)"
            return f"IF($A{r}=1,$B$4,{body})" if before else body
        nth = lambda n: f'FIND(CHAR(1),SUBSTITUTE(input_clean," ",CHAR(1),{n}))'  # noqa: E731  position of space n
        start = f"IF($A{r}=1,1,{nth(f'$A{r}-1')}+1)"
        end = f"IFERROR({nth(f'$A{r}')},LEN(input_clean)+1)"
        return f"MID(input_clean,{start},{end}-{start})"

    def typed(self, word: Sequence[str]) -> str:
        """An inner word as a person types it into Run!B2 (spaced where, unspaced, it would read as a marker)."""
        text = "".join(word)
        return text if self.unspaced and text not in (self.start, self.end) else " ".join(word)

    def cached(self, word: Sequence[str]) -> str:
        """The value of Trace!B3 for an inner word typed as :meth:`typed` writes it (E4 and F4 hold it as typed)."""
        typed = self.typed(word)
        if self.single:
            return (self.start or "") + typed + (self.end or "")
        return " ".join(x for x in (self.start, typed, self.end) if x)

    def _markers(self) -> int:
        return int(bool(self.start)) + int(bool(self.end))


def typed_input(model: Model, reading: Reading) -> TypedInput:
    """How the model's workbook reads its typed input."""
    single = single_characters(model.alphabet)
    framed = bool(reading.start or reading.end)
    inner = reading.inner(model.alphabet)
    inner_single = framed and not single and reading.inner_unspaced(model.alphabet) and single_characters(inner)
    return TypedInput(single, inner_single, reading.start, reading.end,
                      reading.attached(inner) if inner_single else ("", ""))


def marker_hint(reading: Reading) -> str:
    """What a person typing into a word classifier's workbook should know about its markers."""
    marks = " and ".join(f"{m!r} {where}" for m, where in ((reading.start, "before it"), (reading.end, "after it"))
                         if m)
    return (f"A word classifier: type the word; the network also reads {marks} (grey symbols), typed or not, and "
            "only its answer after the whole word counts.")
