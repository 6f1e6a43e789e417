"""Classical automata algorithms on grammars: trim, determinise, minimise, language equivalence."""

from __future__ import annotations

from collections import deque
from itertools import compress

import numpy as np

from .errors import GrammarError
from .grammar import MAX_DFA_STATES, Edge, Grammar, rename_edges
from .row_groups import row_ids

__all__ = ["determinise", "equivalent", "minimise", "refine_partition", "renumber", "shortest_accepted",
           "shortest_difference", "transition_table", "trim"]


def trim(g: Grammar, keep_unreachable: bool = False) -> Grammar:
    """Drop states that cannot reach an accepting state (and unreachable ones unless asked to keep them).

    The start state is always kept, so a grammar with an empty language trims to a lone start state. A Moore or
    Mealy machine has no accepting states (every output matters): only its unreachable part is dropped.
    """
    if g.machine:
        return _reachable_machine(g, keep_unreachable)
    keep = g.coreachable()
    if not keep_unreachable:
        keep &= g.reachable()
    keep.add(g.start)
    kept = np.fromiter(map(keep.__contains__, g.states), bool, len(g.states))
    if kept.all():
        return g
    src, sym, dst = g.edge_index
    staying = kept[src] & kept[dst]
    renumber = np.cumsum(kept) - 1
    return g.derived(states=tuple(compress(g.states, kept)), transitions=tuple(compress(g.transitions, staying)),
                     accept=g.accept & keep, edge_index=(renumber[src[staying]], sym[staying], renumber[dst[staying]]))


def _reachable_machine(g: Grammar, keep_unreachable: bool) -> Grammar:
    """The machine without its unreachable states, their edges and their outputs."""
    keep = g.reachable()
    if keep_unreachable or len(keep) == len(g.states):
        return g
    return g.with_changes(states=tuple(s for s in g.states if s in keep),
                          transitions=tuple(e for e in g.transitions if e[0] in keep),
                          state_outputs=tuple(p for p in g.state_outputs if p[0] in keep),
                          edge_outputs=tuple(p for p in g.edge_outputs if p[0][0] in keep))


def determinise(g: Grammar, max_states: int = MAX_DFA_STATES) -> Grammar:
    """Subset construction from the start state (the empty set is left out: the DFA is partial). A subset is
    named by its members joined with ``+`` in state order. Past ``max_states`` subsets (or 50 times as many
    members in all) it is refused with a GrammarError, since an NFA of n states may need 2**n."""
    if g.is_deterministic:
        return g
    order = g.state_index
    succ: dict[str, dict[str, list[str]]] = {s: {} for s in g.states}
    for p, a, q in g.transitions:
        succ[p].setdefault(a, []).append(q)
    start = frozenset([g.start])
    names = {start: g.start}
    todo = deque([start])
    edges: list[Edge] = []
    size = 1
    while todo:
        subset = todo.popleft()
        for a in g.alphabet:
            nxt = frozenset(q for p in subset for q in succ[p].get(a, ()))
            if not nxt:
                continue
            if nxt not in names:
                size += len(nxt)
                if len(names) >= max_states or size > 50 * max_states:
                    raise GrammarError(f"its deterministic automaton has over {len(names):,} states (the subset "
                                       f"construction), over the limit of {max_states:,}; simplify it")
                names[nxt] = "+".join(sorted(nxt, key=order.__getitem__))
                todo.append(nxt)
            edges.append((names[subset], a, names[nxt]))
    accept = frozenset(n for s, n in names.items() if s & g.accept)
    return g.with_changes(start=names[start], states=tuple(names.values()), transitions=tuple(edges), accept=accept)


def transition_table(g: Grammar) -> np.ndarray:
    """(n+1, K) successor table of a DFA; row and value n stand for the implicit dead state."""
    n, k = len(g.states), len(g.alphabet)
    table = np.full((n + 1, k), n, dtype=np.int64)
    src, sym, dst = g.edge_index
    table[src, sym] = dst
    return table


def refine_partition(classes: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Moore partition refinement: split the (n+1,) classes until successors under ``table`` agree; the result
    numbers the coarsest stable refinement 0, 1, ..."""
    _, classes = np.unique(classes, return_inverse=True)
    classes = classes.reshape(-1)
    count = int(classes.max()) + 1
    while True:
        classes = row_ids([classes, *classes[table].T])[1]  # a state's class and its successors' classes
        new_count = int(classes.max()) + 1
        if new_count == count:
            return classes
        count = new_count


def minimise(g: Grammar, keep_unreachable: bool = False) -> Grammar:
    """The minimal trim DFA of ``g`` (determinised first if needed), by Moore partition refinement.

    A merged class is named by its members joined with ``|``; a class of one state keeps its name.
    """
    if not g.is_deterministic:
        g = determinise(g)
    g = trim(g, keep_unreachable=keep_unreachable)
    n = len(g.states)
    table = transition_table(g)
    accepting = np.array([s in g.accept for s in g.states] + [False])
    classes = accepting.astype(np.int64)
    classes = refine_partition(classes, table)
    if np.unique(classes[:n]).size == n:  # every class is one state: nothing merges, names stay
        states = (g.start, *(s for s in g.states if s != g.start))
        return g if states == g.states else g.with_changes(states=states)
    members: dict[int, list[str]] = {}
    for s, c in zip(g.states, classes[:n]):
        members.setdefault(int(c), []).append(s)
    name_of = {c: "|".join(ms) for c, ms in members.items()}
    state_name = {s: name_of[int(c)] for s, c in zip(g.states, classes[:n])}
    edges = list(dict.fromkeys(rename_edges(g.transitions, state_name)))
    order = list(dict.fromkeys(state_name[s] for s in g.states))
    start = state_name[g.start]
    order.remove(start)
    return g.with_changes(start=start, states=(start, *order), transitions=tuple(edges),
                          accept=frozenset(state_name[s] for s in g.accept))


def shortest_difference(g1: Grammar, g2: Grammar, nonempty: bool = False) -> tuple[str, ...] | None:
    """The shortest string accepted by exactly one of the two grammars, or None if their languages are equal
    (``nonempty``: on the strings of one symbol or more)."""
    d1, d2 = determinise(g1), determinise(g2)
    alphabet = list(dict.fromkeys(d1.alphabet + d2.alphabet))

    def step(d: Grammar, s: str | None, a: str) -> str | None:
        if s is None:
            return None
        return next((q for b, q in d.out_edges[s] if b == a), None)

    def accepts(d: Grammar, s: str | None) -> bool:
        return s is not None and s in d.accept

    Pair = tuple[str | None, str | None]
    root: Pair = (None, None)  # before the start pair, when the empty string is not compared (never a pair reached)
    start: Pair = (d1.start, d2.start)
    parent: dict[Pair, tuple[Pair, str] | None] = {root: None} if nonempty else {start: None}
    todo = deque([root if nonempty else start])
    while todo:
        pair = todo.popleft()
        if accepts(d1, pair[0]) != accepts(d2, pair[1]):  # (the root: neither accepts)
            word: list[str] = []
            while parent[pair] is not None:
                pair, a = parent[pair]  # type: ignore[misc]
                word.append(a)
            return tuple(reversed(word))
        here = start if pair == root else pair
        for a in alphabet:
            nxt = (step(d1, here[0], a), step(d2, here[1], a))
            if nxt not in parent and nxt != (None, None):
                parent[nxt] = (pair, a)
                todo.append(nxt)
    return None


def equivalent(g1: Grammar, g2: Grammar) -> bool:
    """True when the two grammars accept the same language."""
    return shortest_difference(g1, g2) is None


def renumber(g: Grammar, prefix: str = "q") -> Grammar:
    """Rename states ``q0`` (start), ``q1``, ... in breadth-first order over the alphabet."""
    order = [g.start]
    seen = {g.start}
    for p in order:
        for a in g.alphabet:
            for b, q in g.out_edges[p]:
                if b == a and q not in seen:
                    seen.add(q)
                    order.append(q)
    order += [s for s in g.states if s not in seen]
    new = {s: f"{prefix}{k}" for k, s in enumerate(order)}
    return g.with_changes(start=new[g.start], states=tuple(new[s] for s in order),
                          transitions=tuple((new[p], a, new[q]) for p, a, q in g.transitions),
                          accept=frozenset(new[s] for s in g.accept))


def shortest_accepted(g: Grammar, count: int, max_length: int = 64) -> list[tuple[str, ...]]:
    """Up to ``count`` accepted strings, shortest first, then in alphabet order (breadth first over the
    determinised grammar trimmed of prefixes no accepted string extends, each state's edges in alphabet order)."""
    d = trim(determinise(g))
    rank = {a: k for k, a in enumerate(d.alphabet)}
    edges = {s: sorted(d.out_edges[s], key=lambda e: rank[e[0]]) for s in d.states}
    out: list[tuple[str, ...]] = []
    frontier: list[tuple[str, tuple[str, ...]]] = [(d.start, ())]
    for _ in range(max_length + 1):
        for s, w in frontier:
            if s in d.accept:
                out.append(w)
                if len(out) == count:
                    return out
        frontier = [(q, w + (a,)) for s, w in frontier for a, q in edges[s]][:10_000]
        if not frontier:
            break
    return out
