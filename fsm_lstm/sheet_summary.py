"""The Summary sheet of an extraction workbook: the extracted automaton's states, its fidelity and the evidence,
and the sampled words on which automaton and network disagree, shortest first, each as text to paste into the
input cell. Every disagreement is confirmed by the numpy runtime (the accept head after the whole word)."""

from __future__ import annotations

import itertools

import numpy as np

from .grammar import Grammar
from .automata import shortest_accepted
from .model import Model, stored_grammar
from .runtime import run
from .sampling import random_words
from .sheet_automaton import automaton_run
from .words import encode, format_word

__all__ = ["ACCEPTED", "ENUMERATED", "RANDOM_LENGTH", "RANDOM_WORDS", "Disagreements", "disagreements", "summary_rows"]

ENUMERATED = 4096  # every word up to the longest length whose words number at most this many
RANDOM_WORDS = 2000  # then this many uniform random words
RANDOM_LENGTH = 40  # of lengths 0 .. this
ACCEPTED = 500  # and the shortest words the automaton (and the model's own grammar, if it carries one) accepts


class Disagreements:
    """Words whose accept the network and the automaton answer differently, shortest first, and how many were
    checked (``enumerated_len``: every word up to that length, plus ``random`` uniform random words)."""

    def __init__(self, words: list[tuple[str, ...]], checked: int, enumerated_len: int, random: int) -> None:
        self.words, self.checked, self.enumerated_len, self.random = words, checked, enumerated_len, random


def disagreements(model: Model, g: Grammar, seed: int = 0, limit: int = 50) -> Disagreements | None:
    """Up to ``limit`` shortest words on which ``model``'s accept head and ``g`` disagree after the whole word
    (None when the model has no accept head)."""
    if "accept" not in model.heads:
        return None
    K = len(model.alphabet)
    words: list[tuple[int, ...]] = []
    length = 0
    while len(words) + K ** length <= ENUMERATED:
        words.extend(itertools.product(range(K), repeat=length))
        length += 1
    words.extend(random_words(np.random.default_rng(seed), K, RANDOM_WORDS, RANDOM_LENGTH))
    index = {a: k for k, a in enumerate(model.alphabet)}
    for grammar in (g, stored_grammar(model)):  # accepted strings: random words are mostly rejected by both
        if grammar is not None:
            words.extend(tuple(index[a] for a in w) for w in shortest_accepted(grammar, ACCEPTED, RANDOM_LENGTH)
                         if all(a in index for a in w))
    words = sorted(set(words), key=lambda w: (len(w), w))
    acc = model.heads.index("accept")
    found = []
    for lo in range(0, len(words), 1024):
        batch = words[lo:lo + 1024]
        strings = np.zeros((len(batch), max(map(len, batch))), np.int64)
        for b, w in enumerate(batch):
            strings[b, :len(w)] = w
        heads = run(model, strings).heads
        for b, w in enumerate(batch):
            symbols = tuple(model.alphabet[k] for k in w)
            if bool(heads[len(w), b, acc] > 0) != automaton_run(g, symbols).accepts[-1]:
                found.append(symbols)
        if len(found) >= limit:
            break
    return Disagreements(found[:limit], len(words), length - 1, RANDOM_WORDS)


def summary_rows(model: Model, g: Grammar, fidelity: float, held_out: int, held_out_source: str,
                 found: Disagreements | None) -> list[list[str]]:
    """The Summary sheet, as rows of text cells."""
    rows = [["extracted automaton", g.name], ["states", str(len(g.states))],
            ["state names", " ".join(g.states)],
            ["accepting", " ".join(s for s in g.states if s in g.accept) or "(none)"],
            ["fidelity", f"{fidelity:.2%} of {held_out:,} held-out words ({held_out_source})"], []]
    if found is None:
        rows.append(["disagreements", "not searched: the model has no accept head"])
        return rows
    rows.append(["checked", f"every word up to length {found.enumerated_len}, and {found.random:,} random words of "
                 f"length up to {RANDOM_LENGTH}, and the {ACCEPTED} shortest words the automaton (and the model's own "
                 f"grammar) accepts ({found.checked:,} distinct words): accept after the whole word"])
    rows.append(["disagreements", f"{len(found.words)} found (shortest first, at most 50); paste one into Run!B2"
                 if found.words else "none among the words checked"])
    rows += [["", format_word(w, model.alphabet) or "(the empty string)"] for w in found.words]
    return rows
