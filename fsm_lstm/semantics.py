"""The contract every network is checked against: states(w), accept(w), next(w) for every prefix w.

- states(w): grammar states reachable from the initial states by reading w (empty once w left the grammar);
- accept(w): states(w) meets the accepting states;
- next(w): symbols a such that w·a can still be extended to an accepted string;
- output(w), for a Moore or Mealy machine: the outputs of the states reached or of the edges crossed last
  (``outputs.py``).

Everything is batched: a batch of equal-length symbol-index strings gives boolean arrays
of shape (T+1, B, ...) whose first row is the empty prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .grammar import Grammar
from .labels import parse_head
from .outputs import outputs_of_prefixes

__all__ = ["Semantics"]


@dataclass(frozen=True)
class Semantics:
    """Batched semantics of a grammar; ``unknown_start`` makes every state possible before the first symbol."""

    grammar: Grammar
    unknown_start: bool = False

    @cached_property
    def initial(self) -> np.ndarray:
        """(n,) bool: the states possible before any symbol."""
        g = self.grammar
        if self.unknown_start:
            return np.ones(len(g.states), dtype=bool)
        return np.array([s == g.start for s in g.states])

    @cached_property
    def steps(self) -> np.ndarray:
        """(K, n, n) float32: steps[a, p, q] = 1 when p -a-> q."""
        g = self.grammar
        t = np.zeros((len(g.alphabet), len(g.states), len(g.states)), dtype=np.float32)
        for p, a, q in g.transitions:
            t[g.symbol_index[a], g.state_index[p], g.state_index[q]] = 1.0
        return t

    @cached_property
    def accepting(self) -> np.ndarray:
        """(n,) bool."""
        return np.fromiter(map(self.grammar.accept.__contains__, self.grammar.states), bool, len(self.grammar.states))

    @cached_property
    def legal(self) -> np.ndarray:
        """(n, K) bool: state q has an a-edge into a state from which acceptance is still possible."""
        g = self.grammar
        live = np.zeros(len(g.states), bool)
        live[g.coreachable_indices()] = True
        src, sym, dst = g.edge_index
        out = np.zeros((len(g.states), len(g.alphabet)), dtype=bool)
        out[src[live[dst]], sym[live[dst]]] = True
        return out

    def states(self, strings: np.ndarray) -> np.ndarray:
        """(T+1, B, n) bool state sets for every prefix of a (B, T) batch of symbol indices."""
        strings = np.asarray(strings, dtype=np.int64).reshape(len(strings), -1)
        batch, length = strings.shape
        out = np.zeros((length + 1, batch, len(self.grammar.states)), dtype=bool)
        out[0] = self.initial
        current = np.broadcast_to(self.initial, out[0].shape).astype(np.float32)
        for t in range(length):
            nxt = np.zeros_like(current)
            column = strings[:, t]
            for a in np.unique(column):
                rows = column == a
                nxt[rows] = current[rows] @ self.steps[a]
            current = (nxt > 0).astype(np.float32)
            out[t + 1] = current > 0
        return out

    def accept(self, states: np.ndarray) -> np.ndarray:
        """(..., n) state sets -> (...) bool acceptance."""
        return (states & self.accepting).any(axis=-1)

    def next(self, states: np.ndarray) -> np.ndarray:
        """(..., n) state sets -> (..., K) bool legal continuations."""
        return (states.astype(np.float32) @ self.legal.astype(np.float32)) > 0

    def expected_heads(self, labels: Sequence[str], strings: np.ndarray, states: np.ndarray | None = None
                       ) -> np.ndarray:
        """(T+1, B, M) bool: the value each head label must take on every prefix.

        Labels are ``state:q``, ``accept``, ``next:a`` or ``out:v``; a state head names a state of this grammar.
        ``states``: the strings' :meth:`states`, when the caller has them already.
        """
        states = self.states(strings) if states is None else states
        columns = []
        nxt = outs = None
        for label in labels:
            kind, arg = parse_head(label)
            if kind == "accept":
                columns.append(self.accept(states))
            elif kind == "next":
                nxt = self.next(states) if nxt is None else nxt
                columns.append(nxt[..., self.grammar.symbol_index[arg]])
            elif kind == "state":
                columns.append(states[..., self.grammar.state_index[arg]])
            elif kind == "out":
                outs = outputs_of_prefixes(self.grammar, states, strings) if outs is None else outs
                values = self.grammar.output_values
                columns.append(outs[..., values.index(arg)] if arg in values else np.zeros(states.shape[:2], bool))
            else:
                raise ValueError(f"unknown head label {label!r}")
        return np.stack(columns, axis=-1)

    # ----- one prefix at a time, by name -------------------------------------------------
    def state_names(self, word: Sequence[str]) -> set[str]:
        """states(word) as a set of names."""
        idx = np.array([[self.grammar.symbol_index[a] for a in word]], dtype=np.int64)
        last = self.states(idx)[-1, 0]
        return {s for s, on in zip(self.grammar.states, last) if on}

    def accepts(self, word: Sequence[str]) -> bool:
        """accept(word)."""
        return bool(set(self.state_names(word)) & self.grammar.accept)

    def next_symbols(self, word: Sequence[str]) -> set[str]:
        """next(word) as a set of symbols."""
        names = self.state_names(word)
        rows = [self.grammar.state_index[s] for s in names]
        legal = self.legal[rows].any(axis=0) if rows else np.zeros(len(self.grammar.alphabet), bool)
        return {a for a, ok in zip(self.grammar.alphabet, legal) if ok}
