"""Seeded random grammars and strings, for benchmarks and tests."""

from __future__ import annotations

import numpy as np

from .grammar import Grammar


def random_dfa(rng: np.random.Generator, states: int, symbols: int, density: float = 1.0,
               accept_fraction: float = 0.3, name: str = "random") -> Grammar:
    """A random DFA: each (state, symbol) gets an edge with probability ``density``, to a uniform target."""
    names = [f"q{k}" for k in range(states)]
    alphabet = tuple(f"a{k}" if symbols > 26 else "abcdefghijklmnopqrstuvwxyz"[k] for k in range(symbols))
    has = rng.random((states, symbols)) < density
    targets = rng.integers(0, states, size=(states, symbols))
    edges = tuple((names[p], alphabet[a], names[int(targets[p, a])])
                  for p in range(states) for a in range(symbols) if has[p, a])
    accept = frozenset(n for n, flag in zip(names, rng.random(states) < accept_fraction) if flag)
    return Grammar(name=name, start=names[0], accept=accept, alphabet=alphabet, states=tuple(names),
                   transitions=edges)


def walks(g: Grammar, rng: np.random.Generator, count: int, length: int, leave: float = 0.0) -> np.ndarray:
    """(count, length) symbol indices: random walks along the grammar's edges from the start. With
    probability ``leave`` per step (and whenever a walk is stuck) a uniformly random symbol is read instead,
    so walks can leave the grammar."""
    si, ai = g.state_index, g.symbol_index
    out_edges = [[(ai[a], si[q]) for a, q in g.out_edges[s]] for s in g.states]
    result = rng.integers(0, len(g.alphabet), size=(count, length))
    for b in range(count):
        state: int | None = si[g.start]
        for t in range(length):
            options = out_edges[state] if state is not None else []
            if options and rng.random() >= leave:
                a, state = options[int(rng.integers(len(options)))]
                result[b, t] = a
            else:
                a = int(result[b, t])
                nxt = [q for sym, q in options if sym == a]
                state = nxt[0] if len(nxt) == 1 else None
    return result
