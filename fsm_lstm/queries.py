"""The network as an oracle over inner words: packed hidden states, one batched step at a time, and the
head logits a reading judges (after the prefix, or after the end marker for word-level models).

A packed state is one row per word: every layer's c and h side by side, so that states can be stored,
selected and stacked as plain (B, D) arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .model import Model
from .reading import Reading
from .recurrence import SplitStep, State, rows_of
from .runtime import Stepper

__all__ = ["Network", "Word"]

Word = tuple[int, ...]  # inner symbol indices


class Network:
    """Batched queries to a model, read as ``reading`` says; ``calls`` counts the words asked (a run that reads
    the heads after every prefix of a word asks every prefix)."""

    def __init__(self, model: Model, reading: Reading, dtype: type | None = None) -> None:
        self.model = model
        self.reading = reading
        self.stepper = Stepper(model, dtype)
        self.split = SplitStep(self.stepper)
        self.symbols = reading.inner_index(model.alphabet)  # inner index -> model index
        self.inner = reading.inner(model.alphabet)
        probe = self.stepper.initial(1)
        self.widths = [(c.shape[1], h.shape[1]) for c, h in probe]
        self.calls = 0
        start = self.stepper.initial(1)
        if reading.start is not None:
            start = self.stepper.step(start, np.array([model.alphabet.index(reading.start)]))
        self.start = self.pack(start)[0]
        self.end = model.alphabet.index(reading.end) if reading.end is not None else None

    def pack(self, state: State) -> np.ndarray:
        """(B, D) rows from a stepper state (a one-layer GRU's or RNN's h itself: its c is empty)."""
        arrays = [a for c, h in state for a in (c, h) if a.shape[1]]
        return arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=1)

    def unpack(self, packed: np.ndarray, rows: np.ndarray | None = None) -> State:
        """A stepper state from (B, D) rows (only ``rows`` of them, if given: gathered once, not copied again)."""
        out, col = [], 0
        for wc, wh in self.widths:
            c, h = slice(col, col + wc), slice(col + wc, col + wc + wh)
            if rows is None:
                out.append((np.ascontiguousarray(packed[:, c]), np.ascontiguousarray(packed[:, h])))
            else:
                out.append((packed[rows, c], packed[rows, h]))
            col += wc + wh
        return out

    def initial(self, batch: int) -> np.ndarray:
        """The state before the first inner symbol (after the start marker), repeated ``batch`` times."""
        return np.repeat(self.start[None, :], batch, axis=0)

    def products(self, packed: np.ndarray) -> np.ndarray:
        """(B, R) the recurrent matrix products of states: computed once, they serve every symbol that follows
        (the end marker included; see :mod:`recurrence`)."""
        return self.split.products(self.unpack(packed))

    def state_products(self, state: State) -> np.ndarray:
        """:meth:`products` of an unpacked state."""
        return self.split.products(state)

    def step(self, packed: np.ndarray, inner_symbols: np.ndarray, products: np.ndarray | None = None) -> np.ndarray:
        """States after one inner symbol per row (from the rows' ``products``, if they are known)."""
        return self.pack(self.advance(self.unpack(packed), inner_symbols, products))

    def advance(self, state: State, inner_symbols: np.ndarray, products: np.ndarray | None = None,
                rows: np.ndarray | None = None) -> State:
        """:meth:`step` on an unpacked state (of its ``rows``, if given), for a walk that keeps its states
        unpacked from step to step."""
        if products is None:
            state, rows = _select(state, rows), None
            products = self.split.products(state)
        return self.split.children(state, products, self.symbols[np.asarray(inner_symbols)], rows)

    def logits(self, packed: np.ndarray, products: np.ndarray | None = None) -> np.ndarray:
        """(B, M) head logits that judge the words ending here (after the end marker, if any; from the rows'
        ``products``, if they are known)."""
        return self.judge(self.unpack(packed), products)

    def judge(self, state: State, products: np.ndarray | None = None, rows: np.ndarray | None = None) -> np.ndarray:
        """:meth:`logits` of an unpacked state (of its ``rows``, if given)."""
        if self.end is None:
            h = state[-1][1] if rows is None else rows_of(state[-1][1], rows)
            return self.stepper.heads([(h[:, :0], h)])  # the heads read the last layer's h only
        if products is None:
            state, rows = _select(state, rows), None
            products = self.split.products(state)
        count = len(state[0][1]) if rows is None else len(rows)
        return self.stepper.heads(self.split.children(state, products, np.full(count, self.end), rows))

    def walk(self, word: Sequence[int]) -> np.ndarray:
        """(T+1, M) logits after every prefix of one inner word: the states one step at a time, then the heads
        (and the end marker) of all of them in one batch."""
        self.calls += len(word) + 1
        states = np.empty((len(word) + 1, len(self.start)), dtype=self.start.dtype)
        states[0] = self.start
        for t, a in enumerate(word):
            states[t + 1] = self.step(states[t:t + 1], np.array([a]))[0]
        return self.logits(states)

    def final_logits(self, words: Sequence[Word], chunk: int = 4096) -> np.ndarray:
        """(B, M) logits after each whole word, in batches of equal-length words."""
        self.calls += len(words)
        out = np.empty((len(words), len(self.model.heads)), dtype=np.float64)
        by_length: dict[int, list[int]] = {}
        for k, w in enumerate(words):
            by_length.setdefault(len(w), []).append(k)
        for length, rows in by_length.items():
            for lo in range(0, len(rows), chunk):
                part = rows[lo:lo + chunk]
                block = np.array([words[k] for k in part], dtype=np.int64).reshape(len(part), length)
                state = self.initial(len(part))
                for t in range(length):
                    state = self.step(state, block[:, t])
                out[part] = self.logits(state)
        return out


def _select(state: State, rows: np.ndarray | None) -> State:
    """The state's ``rows`` (all of it for None)."""
    return state if rows is None else [(rows_of(c, rows), rows_of(h, rows)) for c, h in state]
