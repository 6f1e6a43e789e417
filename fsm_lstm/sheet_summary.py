"""The Summary sheet of an extraction workbook: the extracted automaton's states, its fidelity (on the extractor's
own held-out words), its agreement with the network on the words searched for disagreements (each set named,
with its count), and the words on which they disagree, shortest first, each as text to paste into the input
cell. Every disagreement is confirmed by the numpy runtime: the accept head after the whole word (framed by the
model's markers for a word classifier), or for a Mealy or Moore machine the output after the whole word (the
out: heads true there against the automaton's output; under an argmax reading the empty word is not compared)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .automata import shortest_accepted
from .grammar import Grammar
from .labels import parse_head
from .model import Model, stored_grammar
from .reading import Reading, reading_of
from .runtime import run
from .sampling import random_words
from .sheet_automaton import automaton_run
from .sheet_layout import NONE, output_value
from .sheet_input import typed_input

__all__ = ["ACCEPTED", "ENUMERATED", "LISTED", "RANDOM_LENGTH", "RANDOM_WORDS", "Disagreements", "WordSet",
           "compared", "disagreements", "summary_rows"]

ENUMERATED = 4096  # every word up to the longest length whose words number at most this many
RANDOM_WORDS = 2000  # then this many uniform random words
RANDOM_LENGTH = 40  # of lengths 0 .. this
ACCEPTED = 500  # and the shortest words the automaton (and the model's own grammar, if it carries one) accepts
LISTED = 50  # the disagreements listed on the sheet, shortest first


@dataclass(frozen=True)
class WordSet:
    """One set of words searched: what it is, how many distinct words it holds, on how many they disagree."""

    what: str
    words: int
    disagree: int


@dataclass(frozen=True)
class Disagreements:
    """The search: its word sets, the distinct words of all of them (``checked``), how many of those disagree,
    and the shortest disagreeing words (at most LISTED)."""

    sets: tuple[WordSet, ...]
    checked: int
    disagree: int
    words: tuple[tuple[str, ...], ...]
    example: tuple[str, ...] = ()  # a word to show when none disagrees: the first random one of 5-12 symbols

    @property
    def shown(self) -> tuple[str, ...]:
        """The word the workbook's input cell holds: the shortest disagreement, else the example."""
        return self.words[0] if self.words else self.example


def compared(model: Model, g: Grammar, reading: Reading) -> str | None:
    """What the search compares: "accept", "output" (a machine beside a network with out: heads), or None."""
    if "accept" in model.heads:
        return "accept"
    if g.machine and not reading.final_only and any(parse_head(h)[0] == "out" for h in model.heads):
        return "output"
    return None


def disagreements(model: Model, g: Grammar, seed: int = 0, reading: Reading | None = None) -> Disagreements | None:
    """Every word of the sets below on which ``model``'s answer after the whole (framed) word and the automaton
    ``g`` (over the inner alphabet) disagree (:func:`compared`); None when there is nothing to compare. A
    ``nonempty`` reading leaves the empty word out of every set."""
    reading = reading_of(model) if reading is None else reading
    if compared(model, g, reading) is None:
        return None
    inner = reading.inner(model.alphabet)
    K = len(inner)
    sets: dict[str, list[tuple[str, ...]]] = {}
    enumerated: list[tuple[int, ...]] = []
    length = 0
    while len(enumerated) + K ** length <= ENUMERATED:
        enumerated.extend(itertools.product(range(K), repeat=length))
        length += 1
    sets[f"every word up to length {length - 1}"] = [tuple(inner[k] for k in w) for w in enumerated]
    randoms = [tuple(inner[k] for k in w) for w in random_words(np.random.default_rng(seed), K, RANDOM_WORDS,
                                                                 RANDOM_LENGTH)]
    sets[f"{RANDOM_WORDS:,} uniform random words of length 0-{RANDOM_LENGTH}"] = randoms
    example = next((w for w in randoms if 5 <= len(w) <= 12), max(sets[next(iter(sets))], key=len, default=()))
    own = stored_grammar(model)
    if "accept" in model.heads:  # accepted words: random words are mostly rejected by both
        sets[f"the {ACCEPTED} shortest words the automaton accepts"] = _accepted(g, reading, inner)
    if own is not None and "accept" in model.heads:
        sets[f"the {ACCEPTED} shortest words the model's own grammar accepts"] = _accepted(own, reading, inner)
    if reading.nonempty:  # the empty word is not judged: left out of every set
        sets = {what.replace("up to length", "but the empty one, up to length"): [w for w in words if w]
                for what, words in sets.items()}
    distinct = sorted({w for words in sets.values() for w in words}, key=lambda w: (len(w), w))
    wrong = _disagreeing(model, g, reading, distinct)
    found = tuple(w for w in distinct if w in wrong)
    return Disagreements(tuple(WordSet(what, len(set(words)), len(set(words) & wrong)) for what, words in sets.items()),
                         len(distinct), len(found), found[:LISTED], example)


def _accepted(g: Grammar, reading: Reading, inner: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The shortest words ``g`` accepts, as inner words (markers at their ends dropped; others left out)."""
    words = []
    for w in shortest_accepted(g, ACCEPTED, RANDOM_LENGTH):
        if reading.start is not None and w[:1] == (reading.start,):
            w = w[1:]
        if reading.end is not None and w[-1:] == (reading.end,):
            w = w[:-1]
        if all(a in inner for a in w):
            words.append(w)
    return words


def _disagreeing(model: Model, g: Grammar, reading: Reading, words: list[tuple[str, ...]]) -> set[tuple[str, ...]]:
    """The words whose framed reading the network answers otherwise than ``g`` does (:func:`compared`)."""
    index = {a: k for k, a in enumerate(model.alphabet)}
    if compared(model, g, reading) == "output":
        return _output_disagreeing(model, g, words, index)
    acc = model.heads.index("accept")
    wrong = set()
    for lo in range(0, len(words), 1024):
        batch = words[lo:lo + 1024]
        framed = [reading.frame(w) for w in batch]
        strings = np.zeros((len(batch), max(map(len, framed))), np.int64)
        for b, w in enumerate(framed):
            strings[b, :len(w)] = [index[a] for a in w]
        heads = run(model, strings).heads
        wrong.update(w for b, w in enumerate(batch)
                     if bool(heads[len(framed[b]), b, acc] > 0) != automaton_run(g, w).accepts[-1])
    return wrong


def _output_disagreeing(model: Model, g: Grammar, words: list[tuple[str, ...]], index: dict[str, int]
                        ) -> set[tuple[str, ...]]:
    """The words after which the network's true out: heads are not exactly the automaton's output (none where it
    gives none); under an argmax reading the empty word is not compared."""
    outs = [(m, output_value(h)) for m, h in enumerate(model.heads) if parse_head(h)[0] == "out"]
    wrong = set()
    for lo in range(0, len(words), 1024):
        batch = words[lo:lo + 1024]
        strings = np.zeros((len(batch), max(map(len, batch), default=0)), np.int64)
        for b, w in enumerate(batch):
            strings[b, :len(w)] = [index[a] for a in w]
        heads = run(model, strings).heads
        for b, w in enumerate(batch):
            said = {value for m, value in outs if heads[len(w), b, m] > 0}
            want = automaton_run(g, w).outputs[-1]
            if (w or not model.argmax_outputs) and said != ({want} if want != NONE else set()):
                wrong.add(w)
    return wrong


def summary_rows(model: Model, g: Grammar, fidelity: float, held_out: int, held_out_source: str,
                 found: Disagreements | None, reading: Reading | None = None) -> list[list[str]]:
    """The Summary sheet, as rows of text cells: each figure names the words it was measured on."""
    reading = reading_of(model) if reading is None else reading
    framing = f" (read as {' '.join(reading.frame(('WORD',)))})" if reading.start or reading.end else ""
    rows = [["extracted automaton", g.name], ["states", str(len(g.states))],
            ["state names", " ".join(g.states)],
            ["accepting", " ".join(s for s in g.states if s in g.accept) or "(none)"],
            ["fidelity", f"{fidelity:.2%} of {held_out:,} held-out words ({held_out_source}): measured by the "
             "extractor on its own words, not on the words searched below"], []]
    if found is None:
        rows.append(["disagreements", "not searched: the model has no accept head, and no out: heads beside a "
                     "Mealy or Moore machine"])
        return rows
    share = 1 - found.disagree / found.checked if found.checked else 1.0
    what = "accept" if compared(model, g, reading) == "accept" else "output"
    rows.append(["agreement", f"{share:.2%} of the {found.checked:,} distinct words searched below: the network's "
                 f"{what} after the whole word{framing} against the automaton's"])
    rows.append(["searched", "word set", "distinct words", "disagree"])
    rows += [["", s.what, f"{s.words:,}", f"{s.disagree:,}"] for s in found.sets]
    rows.append(["disagreements", f"{found.disagree:,} of {found.checked:,} words; the {len(found.words)} shortest "
                 "listed; paste one into Run!B2" if found.words else "none among the words searched"])
    typed = typed_input(model, reading)  # as the Run sheet's input cell reads it
    rows += [["", typed.typed(w) or "(the empty string)"] for w in found.words]
    return rows
