"""Counterexamples by pumping: when a proof fails on a word, is the network really wrong somewhere near it?

A region proof that fails names a word w whose region is too wide to decide a head, or whose image escapes.
That happens either because the boxes are too coarse, or because the network really drifts along some loop
(a cell that creeps up by a little at each repetition, until a head flips). This module runs long words built
from w on the network itself and compares every prefix with the grammar's semantics:

- w's own loops pumped: w[:i] (w[i:j])^k, for every i < j <= len(w) where the reference automaton is in the
  same state after w[:i] and after w[:j] (a loop of the grammar, not necessarily of the network);
- w followed by every short word u repeated: w u^k;
- w, a detour of one or two symbols, then a short loop: w u v^k.

Every prefix of these words is judged (for a word classifier, every prefix as a whole word), so a drift that
flips a head after thousands of repetitions is found, and the shortest wrong prefix found is then run alone on
the network to confirm it.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np

from .queries import Network
from .reference import Reference

__all__ = ["MAX_PUMP_LENGTH", "PumpResult", "WORK", "candidates", "pump_counterexample"]

MAX_PUMP_LENGTH = 4000
WORK = 1e10  # multiply-adds the search may spend
_MAX_CANDIDATES = 256
_LOOP_LIMIT = 12  # the longest loop of w that is pumped


@dataclass(frozen=True)
class PumpResult:
    """``word``: the shortest wrong prefix found (inner symbol indices), confirmed on the network, or None;
    ``head``: which checked head is wrong there; ``words`` and ``length``: how many words of how many symbols
    were run (``length`` is smaller than asked when the time ran out)."""

    word: tuple[int, ...] | None
    head: int
    words: int
    length: int
    stem: tuple[int, ...] = ()
    loop: tuple[int, ...] = ()

    def pieces(self) -> tuple[tuple[int, ...], int, tuple[int, ...]]:
        """The word as (stem, repetitions of the loop, the rest): word = stem loop^k rest."""
        assert self.word is not None and self.loop
        stem, n = self.stem, len(self.loop)
        if len(self.word) <= len(stem):  # wrong before the loop began
            return self.word, 0, ()
        while len(stem) >= n and stem[-n:] == self.loop:  # 0 1 1 then 1 ... is 0 then 1 ...
            stem = stem[:-n]
        k = (len(self.word) - len(stem)) // n
        return stem, k, self.word[len(stem) + k * n:]


def candidates(word: tuple[int, ...], ref: Reference, symbols: int, limit: int = _MAX_CANDIDATES
               ) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(stem, loop) pairs: the word's own loops in the reference automaton (shortest first), then w u for short u."""
    states = ref.walk(word)
    out: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    seen = set()
    for length in range(1, min(_LOOP_LIMIT, len(word)) + 1):
        for i in range(len(word) - length, -1, -1):
            loop = tuple(word[i:i + length])
            if states[i] == states[i + length] and (word[:i], loop) not in seen:
                seen.add((word[:i], loop))
                out.append((tuple(word[:i]), loop))
    extra_length = 3 if symbols <= 3 else 2 if symbols <= 8 else 1
    loops = [loop for length in range(1, extra_length + 1) for loop in itertools.product(range(symbols), repeat=length)
             if len(set(loop)) == len(loop) or length == 1]  # aa, aaa are a's own loop
    out += [(tuple(word), loop) for loop in loops]
    # a short detour first, then a loop: w u v^k (the drift may live in a state w does not end in)
    detours = [u for length in (1, 2) for u in itertools.product(range(symbols), repeat=length)]
    out += [(tuple(word) + u, loop) for u in detours for loop in loops if len(loop) <= 2 and loop[0] != u[-1]]
    return out[:limit]


def pump_counterexample(network: Network, ref: Reference, word: tuple[int, ...], max_length: int = MAX_PUMP_LENGTH,
                        time_limit: float = 30.0, work: float = WORK) -> PumpResult:
    """Run the pumped words of ``word`` (inner symbol indices) on ``network`` up to ``max_length`` symbols, judging
    every prefix; return the shortest confirmed wrong prefix, if any. The length is cut so that the words times
    their length times the network's weights stay within ``work`` (the same search on every machine);
    ``time_limit`` is only a safety net."""
    t0 = time.perf_counter()
    pairs = candidates(tuple(word), ref, len(network.inner))
    B = len(pairs)
    if not B or not ref.checked:
        return PumpResult(None, -1, 0, 0)
    weights = sum(layer.weight_ih.size + layer.weight_hh.size for layer in network.model.layers)
    max_length = max(1, min(max_length, int(work // (B * weights))))
    words = np.empty((B, max_length), dtype=np.int64)
    for b, (stem, loop) in enumerate(pairs):
        whole = stem + loop * ((max_length - len(stem)) // len(loop) + 1)
        words[b] = whole[:max_length]
    state = network.initial(B)
    q = np.full(B, ref.start, dtype=np.int64)
    t = 0
    while True:
        wrong = (network.logits(state)[:, ref.columns] > 0) != ref.truth[q]
        if wrong.any() or t >= max_length or time.perf_counter() - t0 > time_limit:
            break
        state = network.step(state, words[:, t])
        q = ref.table[q, words[:, t]]
        t += 1
    for b in np.flatnonzero(wrong.any(axis=1)):  # confirmed one word at a time, as the network runs it
        full = tuple(int(a) for a in words[b, :t])
        bad = (network.walk(full)[-1][ref.columns] > 0) != ref.truth[ref.walk(full)[-1]]
        if bad.any():
            return PumpResult(full, int(np.argmax(bad)), B, t, *pairs[b])
    return PumpResult(None, -1, B, t)
