"""Moore machines over symbol indices: the form extraction works in before an automaton becomes a grammar."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

__all__ = ["Machine", "free_start", "machine_difference", "minimise_moore"]


@dataclass(frozen=True)
class Machine:
    """outputs (n, O) bool per state, delta (n, K) successor per symbol, start state 0; ``labels`` name the
    outputs (head labels), ``alphabet`` the symbols."""

    outputs: np.ndarray
    delta: np.ndarray
    labels: tuple[str, ...]
    alphabet: tuple[str, ...]

    @property
    def size(self) -> int:
        """Number of states."""
        return len(self.outputs)

    def states_along(self, strings: np.ndarray) -> np.ndarray:
        """(T+1, B) states along a (B, T) batch of symbol indices."""
        state = np.zeros(len(strings), dtype=np.int64)
        out = [state]
        for t in range(strings.shape[1]):
            state = self.delta[state, strings[:, t]]
            out.append(state)
        return np.stack(out)

    def run(self, strings: np.ndarray) -> np.ndarray:
        """(T+1, B, O) outputs along a (B, T) batch."""
        return self.outputs[self.states_along(strings)]

    def state_after(self, word: tuple[int, ...]) -> int:
        """The state reached by one word."""
        s = 0
        for a in word:
            s = int(self.delta[s, a])
        return s


def free_start(m: Machine) -> Machine:
    """The smallest machine that gives ``m``'s outputs after every word of one symbol or more, whatever it gives
    on the empty word: a fresh start state with state 0's successors, given in turn the outputs of state 0 and
    of every other state, then minimised (state 0's own outputs where sizes tie)."""
    delta = np.vstack([m.delta[:1] + 1, m.delta + 1])
    best = None
    others = [o for o in np.unique(m.outputs, axis=0) if not np.array_equal(o, m.outputs[0])]
    for outputs in [m.outputs[0], *others]:
        trial = minimise_moore(Machine(np.vstack([outputs[None], m.outputs]), delta, m.labels, m.alphabet))
        if best is None or trial.size < best.size:
            best = trial
    assert best is not None
    return best


def minimise_moore(m: Machine) -> Machine:
    """Merge states with equal outputs and equal futures; keep the states reachable from state 0, numbered
    breadth first."""
    classes = np.unique(m.outputs, axis=0, return_inverse=True)[1].reshape(-1)
    count = int(classes.max()) + 1
    while True:
        signature = np.column_stack([classes, classes[m.delta]])
        classes = np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
        if int(classes.max()) + 1 == count:
            break
        count = int(classes.max()) + 1
    rep: dict[int, int] = {}
    for s, c in enumerate(classes):
        rep.setdefault(int(c), s)
    order, seen = [int(classes[0])], {int(classes[0])}
    for c in order:
        for a in range(m.delta.shape[1]):
            nxt = int(classes[m.delta[rep[c], a]])
            if nxt not in seen:
                seen.add(nxt)
                order.append(nxt)
    index = {c: k for k, c in enumerate(order)}
    delta = np.array([[index[int(classes[m.delta[rep[c], a]])] for a in range(m.delta.shape[1])] for c in order],
                     dtype=np.int64)
    return Machine(m.outputs[[rep[c] for c in order]], delta.reshape(len(order), -1), m.labels, m.alphabet)


def machine_difference(m1: Machine, m2: Machine) -> tuple[int, ...] | None:
    """The shortest word after which two Moore machines over one alphabet give different outputs."""
    parent: dict[tuple[int, int], tuple[tuple[int, int], int] | None] = {(0, 0): None}
    todo = deque([(0, 0)])
    while todo:
        pair = todo.popleft()
        if not np.array_equal(m1.outputs[pair[0]], m2.outputs[pair[1]]):
            word = []
            step = parent[pair]
            while step is not None:
                pair, a = step
                word.append(a)
                step = parent[pair]
            return tuple(reversed(word))
        for a in range(m1.delta.shape[1]):
            nxt = (int(m1.delta[pair[0], a]), int(m2.delta[pair[1], a]))
            if nxt not in parent:
                parent[nxt] = (pair, a)
                todo.append(nxt)
    return None
