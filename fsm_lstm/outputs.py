"""Moore and Mealy machines: minimisation that respects outputs, and output(w) after every prefix.

output(w) is the output of the state reached (Moore), or of the edge crossed by the last symbol (Mealy); it is
undefined at t = 0 for Mealy, and undefined once w has left the machine (docs/semantics.md). As heads:
``out:v`` is true when v is among the outputs of the states (Moore) or of the edges crossed (Mealy).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

from .automata import equivalent, refine_partition, transition_table, trim
from .errors import UserError
from .grammar import Grammar
from .labels import output_label
from .words import counted, format_word

__all__ = ["NoOutputError", "crossed_outputs", "describe_machine", "extracted_machine", "minimal_machine",
           "output_difference",
           "output_heads", "output_word", "outputs_of_prefixes", "same_behaviour", "state_output_matrix"]


def minimal_machine(g: Grammar, keep_unreachable: bool = False) -> Grammar:
    """The minimal Moore or Mealy machine of ``g`` (Moore partition refinement, the first partition by output).

    A missing edge leads to an implicit sink without output, so a partial machine stays partial. A merged class
    is named by its members joined with ``|`` (`` #2``, ... appended if that name is taken)."""
    g = trim(g, keep_unreachable)
    n, K = len(g.states), len(g.alphabet)
    table = transition_table(g)
    values = {v: k for k, v in enumerate(g.output_values)}
    si, ai = g.state_index, g.symbol_index
    if g.machine == "moore":
        signature = np.full((n + 1, 1), -1, dtype=np.int64)
        for s, v in g.state_outputs:
            signature[si[s], 0] = values[v]
    else:
        signature = np.full((n + 1, K), -1, dtype=np.int64)
        for (p, a, _), v in g.edge_outputs:
            signature[si[p], ai[a]] = values[v]
    _, classes = np.unique(signature, axis=0, return_inverse=True)
    classes = refine_partition(classes.reshape(-1), table)
    members: dict[int, list[str]] = {}
    for s, c in zip(g.states, classes[:n]):
        members.setdefault(int(c), []).append(s)
    name_of: dict[int, str] = {}
    taken: set[str] = set()
    for c in dict.fromkeys(int(classes[si[s]]) for s in g.states):
        name, unique, k = "|".join(members[c]), "|".join(members[c]), 1
        while unique in taken:
            k += 1
            unique = f"{name} #{k}"
        taken.add(unique)
        name_of[c] = unique
    new = {s: name_of[int(c)] for s, c in zip(g.states, classes[:n])}
    edges = tuple(dict.fromkeys((new[p], a, new[q]) for p, a, q in g.transitions))
    order = list(dict.fromkeys(new[s] for s in g.states))
    start = new[g.start]
    order.remove(start)
    return g.with_changes(
        start=start, states=(start, *order), transitions=edges, accept=frozenset(),
        state_outputs=tuple(dict((new[s], v) for s, v in g.state_outputs).items()),
        edge_outputs=tuple(dict(((new[p], a, new[q]), v) for (p, a, q), v in g.edge_outputs).items()))


def state_output_matrix(g: Grammar) -> np.ndarray:
    """(n, V) bool: state q has output v (Moore; all false for other grammars)."""
    out = np.zeros((len(g.states), len(g.output_values)), dtype=bool)
    values = {v: k for k, v in enumerate(g.output_values)}
    for s, v in g.state_outputs:
        out[g.state_index[s], values[v]] = True
    return out


def _edge_output_matrix(g: Grammar) -> np.ndarray:
    """(E, V) bool: transition j has output v (Mealy; all false for other grammars)."""
    out = np.zeros((len(g.transitions), len(g.output_values)), dtype=bool)
    values = {v: k for k, v in enumerate(g.output_values)}
    index = {e: j for j, e in enumerate(g.transitions)}
    for e, v in g.edge_outputs:
        out[index[e], values[v]] = True
    return out


def output_heads(g: Grammar, initial: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The ``out:`` heads of a compiled machine, as linear read-outs of the edge units (docs/construction.md):
    labels, the (V, E) coefficient of each edge's unit and the (V,) coefficient of the initial presence.

    Moore: out:v sums the presence of the states with output v (the edges into them, and the initial states);
    Mealy: out:v sums the units of the edges with output v, and nothing before the first symbol."""
    labels = [output_label(v) for v in g.output_values]
    if g.machine == "moore":
        by_state = state_output_matrix(g).T.astype(np.float64)  # (V, n)
        target = np.array([g.state_index[q] for _, _, q in g.transitions], dtype=np.int64)
        return labels, by_state[:, target], by_state @ initial.astype(np.float64)
    return labels, _edge_output_matrix(g).T.astype(np.float64), np.zeros(len(labels))


def crossed_outputs(g: Grammar, initial: np.ndarray, edge_sets: Sequence[Sequence[int]]) -> np.ndarray:
    """(1 + len(edge_sets), V) bool: the outputs before the first symbol, then with each set of crossed edges
    (transition indices) as the last step; a Moore output is that of the edges' targets."""
    V = len(g.output_values)
    out = np.zeros((len(edge_sets) + 1, V), dtype=bool)
    if g.machine == "moore":
        by_state = state_output_matrix(g)
        out[0] = by_state[initial.astype(bool)].any(axis=0)
        target = np.array([g.state_index[q] for _, _, q in g.transitions], dtype=np.int64)
        per_edge = by_state[target] if len(target) else np.zeros((0, V), bool)
    else:
        per_edge = _edge_output_matrix(g)
    for k, edges in enumerate(edge_sets):
        if len(edges):
            out[k + 1] = per_edge[list(edges)].any(axis=0)
    return out


def outputs_of_prefixes(g: Grammar, states: np.ndarray, strings: np.ndarray) -> np.ndarray:
    """(T+1, B, V) bool outputs after every prefix, from the (T+1, B, n) state sets and the (B, T) strings."""
    T = states.shape[0] - 1
    if g.machine == "moore":
        return (states.astype(np.float32) @ state_output_matrix(g).astype(np.float32)) > 0
    out = np.zeros(states.shape[:2] + (len(g.output_values),), dtype=bool)
    if g.machine != "mealy":
        return out
    emit = np.zeros((len(g.alphabet), len(g.states), len(g.output_values)), dtype=np.float32)  # [a, p, v]
    values = {v: k for k, v in enumerate(g.output_values)}
    for (p, a, _), v in g.edge_outputs:
        emit[g.symbol_index[a], g.state_index[p], values[v]] = 1.0
    strings = np.asarray(strings, dtype=np.int64).reshape(states.shape[1], T)
    for t in range(T):
        column = strings[:, t]
        for a in np.unique(column):
            rows = column == a
            out[t + 1, rows] = (states[t, rows].astype(np.float32) @ emit[a]) > 0
    return out


def output_word(g: Grammar, word: Sequence[str]) -> list[str | None]:
    """output(w) for every prefix of one word of a deterministic machine, t = 0 first; None where undefined."""
    state: str | None = g.start
    moore, mealy = dict(g.state_outputs), dict(g.edge_outputs)
    step = {(p, a): q for p, a, q in g.transitions}
    out: list[str | None] = [moore.get(g.start) if moore else None]
    for a in word:
        q = step.get((state, a)) if state is not None else None
        out.append(None if q is None else moore[q] if moore else mealy[state, a, q])
        state = q
    return out


def output_difference(a: Grammar, b: Grammar, after_symbols: bool = False) -> tuple[str, ...] | None:
    """The shortest word after which the two deterministic machines give different outputs (or one has left its
    machine and the other not), or None when they behave alike on every word (breadth first over pairs);
    ``after_symbols``: the outputs before the first symbol are not compared (an argmax reading's)."""
    step_a = {(p, x): q for p, x, q in a.transitions}
    step_b = {(p, x): q for p, x, q in b.transitions}
    alphabet = tuple(dict.fromkeys(a.alphabet + b.alphabet))

    def emitted(g: Grammar, step: dict, p: str | None, x: str | None) -> tuple[str | None, str | None]:
        """(next state, its output) after reading x from p (x None: p itself at t = 0)."""
        if x is None:
            return p, dict(g.state_outputs).get(p) if g.machine == "moore" else None
        q = step.get((p, x)) if p is not None else None
        if q is None:
            return None, None
        return q, dict(g.state_outputs)[q] if g.machine == "moore" else dict(g.edge_outputs)[p, x, q]

    start = (a.start, b.start)
    if not after_symbols and emitted(a, step_a, a.start, None)[1] != emitted(b, step_b, b.start, None)[1]:
        return ()
    parent: dict[tuple, tuple | None] = {start: None}
    todo = deque([start])
    while todo:
        pair = todo.popleft()
        for x in alphabet:
            (qa, oa), (qb, ob) = emitted(a, step_a, pair[0], x), emitted(b, step_b, pair[1], x)
            if oa != ob or (qa is None) != (qb is None):
                word = [x]
                back = pair
                while parent[back] is not None:
                    back, y = parent[back]  # type: ignore[misc]
                    word.append(y)
                return tuple(reversed(word))
            if (qa, qb) not in parent and qa is not None:
                parent[(qa, qb)] = (pair, x)
                todo.append((qa, qb))
    return None


def same_behaviour(a: Grammar, b: Grammar) -> bool:
    """True when two grammars give the same answers on every word: the same outputs for machines of one kind,
    the same language for acceptors."""
    if a.machine or b.machine:
        return a.machine == b.machine and output_difference(a, b) is None
    return equivalent(a, b)


def describe_machine(g: Grammar, shown: Callable[[str], str] = str) -> list[str]:
    """Lines for ``fsm-lstm check`` about a Moore or Mealy machine: kind, outputs, completeness, minimal size and
    one example run (``shown`` escapes text for a terminal)."""
    minimal = minimal_machine(g)
    kind = "Moore (an output per state)" if g.machine == "moore" else "Mealy (an output per edge)"
    have = {(p, a) for p, a, _ in g.transitions}
    missing = len(g.states) * len(g.alphabet) - len(have)
    values = g.output_values
    more = f", ... ({len(values):,} in all)" if len(values) > 20 else ""
    def listed(outputs: Sequence[str]) -> str:  # 'o k' quoted: it is one output; all quoted once one is
        plain = all(v and not set(v) & {" ", ",", "'", '"'} for v in outputs)
        return ", ".join(v if plain else repr(v) for v in outputs)

    word = _example_word(g)
    produced = output_word(g, word)[1:]
    return [f"  machine: {kind}, {counted(len(g.states), 'state')}, start {shown(g.start)}",
            f"  inputs: {shown(' '.join(g.alphabet))}",
            f"  outputs: {shown(listed(values[:20])) + more}",
            f"  edges: {len(g.transitions):,}; deterministic; "
            + ("input-complete" if not missing else
               f"partial ({counted(missing, 'state-input pair')} {'has' if missing == 1 else 'have'} no edge)"),
            f"  minimal machine: {counted(len(minimal.states), 'state')}, {counted(len(minimal.transitions), 'edge')} "
            f"-> a compiled LSTM of {counted(len(minimal.transitions) + 1, 'unit')}",
            f"  example: {shown(format_word(word, g.alphabet))!r} gives outputs "
            f"{shown(listed(list(map(str, produced))))}" if word else
            "  example: (the start state has no edges)"]


def _example_word(g: Grammar, length: int = 6) -> list[str]:
    """A word of up to ``length`` inputs that the machine reads, taking the first unused edge at each step."""
    out, state, used = [], g.start, set()
    for _ in range(length):
        edges = [(a, q) for a, q in g.out_edges[state]]
        if not edges:
            break
        a, q = next(((a, q) for a, q in edges if (state, a) not in used), edges[0])
        used.add((state, a))
        out.append(a)
        state = q
    return out


class NoOutputError(UserError):
    """A network with out: heads of which none is ever true: no Mealy or Moore machine describes it. ``extract``
    reports it (with its verdict against ``--grammar``) and exits 1; elsewhere (``draw`` of such a network) it is
    one line and exit 2."""


def extracted_machine(outputs: np.ndarray, delta: np.ndarray, labels: Sequence[str], alphabet: tuple[str, ...],
                      name: str = "extracted", description: str = "", mealy: bool = False) -> Grammar:
    """The minimal Moore or Mealy machine behind a Moore machine over ``out:`` head values (state 0 the start),
    as extraction finds it: Moore when some output is true before the first symbol (and not ``mealy``, which
    leaves that output unread), else Mealy, whose edge outputs are the heads' values after the edge. A state
    without a true head has left the machine; where several heads are true, the first is taken. States are
    renamed ``q0`` (the start), ``q1``, ... breadth first."""
    values = [label.partition(":")[2] for label in labels]
    first = [values[int(np.argmax(row))] if row.any() else None for row in np.asarray(outputs, bool)]
    states = [f"q{k}" for k in range(len(first))]
    K = len(alphabet)
    if first[0] is not None and not mealy:
        kept = [k for k in range(len(states)) if first[k] is not None]
        edges = tuple((states[s], alphabet[a], states[int(delta[s, a])]) for s in kept for a in range(K)
                      if first[int(delta[s, a])] is not None)
        g = Grammar(name=name, start=states[0], accept=frozenset(), alphabet=alphabet,
                    states=tuple(states[k] for k in kept), transitions=edges, description=description,
                    state_outputs=tuple((states[k], first[k]) for k in kept))  # type: ignore[misc]
    else:
        pairs = [((states[s], alphabet[a], states[int(delta[s, a])]), first[int(delta[s, a])])
                 for s in range(len(states)) for a in range(K) if first[int(delta[s, a])] is not None]
        g = Grammar(name=name, start=states[0], accept=frozenset(), alphabet=alphabet, states=tuple(states),
                    transitions=tuple(e for e, _ in pairs), description=description,
                    edge_outputs=tuple(pairs))  # type: ignore[arg-type]
        if not pairs:
            raise NoOutputError("no out: head is ever true after the words sampled: the network gives no output, "
                                "and no machine can be written")
    return _breadth_first_names(minimal_machine(g))


def _breadth_first_names(g: Grammar) -> Grammar:
    """``g`` with its states renamed ``q0`` (the start), ``q1``, ... in breadth-first order over the alphabet."""
    order, seen = [g.start], {g.start}
    succ = {(p, a): q for p, a, q in g.transitions}
    for p in order:
        for a in g.alphabet:
            q = succ.get((p, a))
            if q is not None and q not in seen:
                seen.add(q)
                order.append(q)
    new = {s: f"q{k}" for k, s in enumerate(order)}
    return g.with_changes(start=new[g.start], states=tuple(new[s] for s in order),
                          transitions=tuple((new[p], a, new[q]) for p, a, q in g.transitions),
                          state_outputs=tuple((new[s], v) for s, v in g.state_outputs),
                          edge_outputs=tuple(((new[p], a, new[q]), v) for (p, a, q), v in g.edge_outputs))
