"""Seeded random grammars and strings, for benchmarks and tests."""

from __future__ import annotations

import numpy as np

from .grammar import Grammar

__all__ = ["competition_dfa", "random_dfa", "walks"]


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


def walks(g: Grammar, rng: np.random.Generator, count: int, length: int, leave: float = 0.0,
          moving: float = 0.0) -> np.ndarray:
    """(count, length) symbol indices: random walks along the grammar's edges from the start. With
    probability ``leave`` per step (and whenever a walk is stuck) a uniformly random symbol is read instead,
    so walks can leave the grammar. With probability ``moving`` per step a walk first takes one of the edges
    that change its state, if it has one (random walks on a complete DFA whose states mostly loop rarely move;
    0, the default, draws nothing extra, so the walks are those of earlier versions)."""
    si, ai = g.state_index, g.symbol_index
    out_edges = [[(ai[a], si[q]) for a, q in g.out_edges[s]] for s in g.states]
    changes = [[(a, q) for a, q in edges if q != p] for p, edges in enumerate(out_edges)]
    result = rng.integers(0, len(g.alphabet), size=(count, length))
    for b in range(count):
        state: int | None = si[g.start]
        for t in range(length):
            if moving and state is not None and changes[state] and rng.random() < moving:
                a, state = changes[state][int(rng.integers(len(changes[state])))]
                result[b, t] = a
                continue
            options = out_edges[state] if state is not None else []
            if options and rng.random() >= leave:
                a, state = options[int(rng.integers(len(options)))]
                result[b, t] = a
            else:
                a = int(result[b, t])
                nxt = [q for sym, q in options if sym == a]
                state = nxt[0] if len(nxt) == 1 else None
    return result


def competition_dfa(rng: np.random.Generator, states: int, symbols: int, accept_fraction: float = 0.5,
                    moves: int | None = None, name: str = "competition", attempts: int = 1000) -> Grammar:
    """A random complete minimal DFA in the style of the TAYSIR competition's languages.

    Symbols are ``a0``, ``a1``, ...; exactly ``states`` states, named ``q0`` (start), ``q1``, ... in
    breadth-first order, every one reachable, complete (an edge on every symbol) and distinguishable from
    every other; ``round(accept_fraction * states)`` of them accept. Every edge goes to a uniform target
    (``random_dfa``), or, with ``moves``, only that many symbols per state do and the others loop on the state
    (sparse languages, which trained networks learn far more easily). DFAs are drawn until one is minimal."""
    from .automata import minimise, renumber

    if states < 2 or symbols < 1 or (moves is not None and not 1 <= moves <= symbols):
        raise ValueError("a competition DFA needs at least 2 states, 1 symbol, and 1 <= moves <= symbols")
    alphabet = tuple(f"a{k}" for k in range(symbols))
    accepting = min(max(1, round(accept_fraction * states)), states - 1)
    for _ in range(attempts):
        g = random_dfa(rng, states, symbols, density=1.0, name=name)
        table = {(p, g.symbol_index[a]): q for p, a, q in g.transitions}
        if moves is not None:
            table = _sparse_table(rng, g.states, symbols, moves)
        accept = frozenset(g.states[k] for k in rng.permutation(states)[:accepting])
        g = g.with_changes(alphabet=alphabet, accept=accept,
                           transitions=tuple((p, alphabet[a], q) for (p, a), q in sorted(
                               table.items(), key=lambda e: (g.state_index[e[0][0]], e[0][1]))))
        if len(minimise(g).states) == states:  # then every state is reachable, live and distinguishable
            kind = f"{moves} moving symbols per state" if moves is not None else "uniform targets"
            return renumber(g).with_changes(description=f"random complete minimal DFA: {states} states, {symbols} "
                                                        f"symbols, {accepting} accepting, {kind}")
    raise ValueError(f"no minimal {states}-state DFA over {symbols} symbols in {attempts} attempts; "
                     "use more symbols, more moves or fewer states")


def _sparse_table(rng: np.random.Generator, names: tuple[str, ...], symbols: int, moves: int
                  ) -> dict[tuple[str, int], str]:
    """(state, symbol index) -> target: ``moves`` random symbols per state move, the others loop; a random
    spanning tree from the first state among the moving edges makes every state reachable."""
    n = len(names)
    moving = [list(rng.permutation(symbols)[:moves]) for _ in range(n)]
    free = [list(m) for m in moving]
    table = {(names[p], a): names[p] for p in range(n) for a in range(symbols)}
    order = [0, *(int(k) + 1 for k in rng.permutation(n - 1))]
    for k in range(1, n):
        parents = [p for p in order[:k] if free[p]]
        p = parents[int(rng.integers(len(parents)))]
        table[(names[p], int(free[p].pop()))] = names[order[k]]
    for p in range(n):
        for a in free[p]:
            table[(names[p], int(a))] = names[int(rng.integers(n))]
    return table
