"""Grammar: a finite-state machine over named symbols, held as a networkx MultiDiGraph.

States are nodes with ``start``/``accept`` attributes; every edge carries a ``symbol``.
A state may have several edges on one symbol (an NFA). Semantics live in ``semantics.py``,
automata algorithms (trim, determinise, minimise, equivalence) in ``automata.py``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, fields
from functools import cached_property
from operator import itemgetter

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from .errors import GrammarError

__all__ = ["Edge", "Grammar", "MAX_DFA_STATES", "check_output", "check_symbol",
           "empty_language_warning", "rename_edges", "shortest_accepted_length", "structural_warnings"]

Edge = tuple[str, str, str]
MAX_DFA_STATES = 100_000  # subsets the determinisation of an NFA may reach before it is refused


def check_symbol(symbol: object, where: str) -> str:
    """Return ``symbol`` if it is a non-empty string without white space, else raise."""
    if not isinstance(symbol, str):
        raise GrammarError(f"{where}: symbol {symbol!r} is not a string; write symbols as quoted strings")
    if symbol == "":
        raise GrammarError(f"{where}: a symbol is empty; symbols are non-empty strings such as \"a\"")
    if any(ch.isspace() for ch in symbol):
        raise GrammarError(f"{where}: symbol {symbol!r} contains white space; symbols are names without spaces")
    return symbol


def check_output(value: object, where: str) -> str:
    """Return ``value`` if it is a usable output (a non-empty string without surrounding white space), else raise."""
    if not isinstance(value, str):
        raise GrammarError(f"{where}: output {value!r} is not a string; write outputs as quoted strings")
    if value == "" or value != value.strip():
        raise GrammarError(f"{where}: output {value!r} is empty or has white space at an end; outputs are "
                           "non-empty text such as \"coffee\"")
    return value


@dataclass(frozen=True)
class Grammar:
    """A validated finite-state grammar. ``states`` and ``alphabet`` fix the index order used everywhere.

    A machine with outputs (docs/semantics.md) has no accepting states and is deterministic: a Moore machine
    gives ``state_outputs`` (one ``(state, output)`` pair per state), a Mealy machine ``edge_outputs`` (one
    ``((p, a, q), output)`` pair per transition)."""

    name: str
    start: str
    accept: frozenset[str]
    alphabet: tuple[str, ...]
    states: tuple[str, ...]
    transitions: tuple[Edge, ...]
    description: str = ""
    state_outputs: tuple[tuple[str, str], ...] = ()
    edge_outputs: tuple[tuple[Edge, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.alphabet:
            raise GrammarError("the alphabet is empty; give at least one transition or symbol")
        if len(set(self.alphabet)) != len(self.alphabet):
            dup = next(a for a in self.alphabet if self.alphabet.count(a) > 1)
            raise GrammarError(f"symbol {dup!r} is listed twice in the alphabet; list it once")
        for a in self.alphabet:
            check_symbol(a, "alphabet")
        known = set(self.states)
        if len(known) != len(self.states):
            seen_states: set[str] = set()
            for s in self.states:
                if s in seen_states:
                    raise GrammarError(f"state {s!r} is listed twice; list it once")
                seen_states.add(s)
        for s in self.states:
            if not isinstance(s, str) or s == "":
                raise GrammarError(f"state name {s!r} is not allowed; states are named by non-empty strings")
        if self.start not in known:
            raise GrammarError(f"start state {self.start!r} is not a state of the grammar; "
                               "name a state that appears in the transitions")
        for q in sorted(self.accept - known):
            raise GrammarError(f"accepting state {q!r} is not a state of the grammar; "
                               "fix the name or add transitions for it")
        symbols = set(self.alphabet)
        if not self._edges_valid(known, symbols):
            self._first_bad_edge(known, symbols)
        if self.state_outputs or self.edge_outputs:
            self._check_outputs()

    def _edges_valid(self, known: set[str], symbols: set[str]) -> bool:
        """Every edge names known states and a symbol of the alphabet, and none is repeated (set operations at
        C speed; :meth:`_first_bad_edge` finds the culprit when not)."""
        t = self.transitions
        if not set(map(len, t)) <= {3}:
            return False
        ends = set(map(itemgetter(0), t)) | set(map(itemgetter(2), t))
        return ends <= known and set(map(itemgetter(1), t)) <= symbols and len(set(t)) == len(t)

    def _first_bad_edge(self, known: set[str], symbols: set[str]) -> None:
        """Raise for the first edge that names an unknown state or symbol, or repeats an earlier edge."""
        seen: set[Edge] = set()
        for k, (p, a, q) in enumerate(self.transitions):
            for s in (p, q):
                if s not in known:
                    raise GrammarError(f"transitions[{k}] names unknown state {s!r}; "
                                       "add it to `states` or fix the name")
            if a not in symbols:
                raise GrammarError(f"transitions[{k}] uses symbol {a!r}, which is not in the "
                                   f"alphabet {list(self.alphabet)}; add it to `alphabet` or fix the edge")
            if (p, a, q) in seen:
                raise GrammarError(f"transitions[{k}] repeats the edge {p} -{a}-> {q}; "
                                   "delete the duplicate")
            seen.add((p, a, q))

    def _check_outputs(self) -> None:
        """A Moore or Mealy machine: outputs of one kind, one per state or edge, deterministic, no accept."""
        if self.state_outputs and self.edge_outputs:
            raise GrammarError("a machine has outputs on its states (Moore) or on its edges (Mealy), not both")
        if self.accept:
            raise GrammarError("a machine with outputs has no accepting states; leave `accept` empty or drop the "
                               "outputs")
        kind, pairs, items = (("Moore", self.state_outputs, self.states) if self.state_outputs else
                              ("Mealy", self.edge_outputs, self.transitions))
        given = dict(pairs)
        if len(given) != len(pairs) or set(given) != set(items):
            missing = [x for x in items if x not in given]
            what = "state" if kind == "Moore" else "edge"
            if missing:
                raise GrammarError(f"{what} {missing[0]!r} of the {kind} machine has no output; give every {what} one")
            counts = _counts(x for x, _ in pairs)
            twice = [x for x, n in counts.items() if n > 1]
            culprit = (f"name the {what} {twice[0]!r} twice" if twice else
                       f"name {next(x for x in given if x not in set(items))!r}, which the machine lacks")
            raise GrammarError(f"the {kind} outputs {culprit}; give each {what} of the machine exactly one output")
        for x, value in pairs:
            check_output(value, f"the output of {x!r}")
        if not self.is_deterministic:
            p, a = next(k for k, n in _counts((p, a) for p, a, _ in self.transitions).items() if n > 1)
            outs = {v for (q, b, _), v in pairs if (q, b) == (p, a)} if kind == "Mealy" else set()
            several = "several outputs (an ONFSM)" if len(outs) > 1 else "several successors (nondeterministic)"
            raise GrammarError(f"state {p!r} has {several} for input {a!r}; a {kind} machine is deterministic, one "
                               "edge per state and input")

    @property
    def machine(self) -> str:
        """``moore``, ``mealy``, or ``""`` for an acceptor (a DFA or NFA)."""
        return "moore" if self.state_outputs else "mealy" if self.edge_outputs else ""

    @cached_property
    def output_values(self) -> tuple[str, ...]:
        """The distinct outputs, in order of first appearance (the order of the ``out:`` heads)."""
        return tuple(dict.fromkeys(v for _, v in (self.state_outputs or self.edge_outputs)))

    # ----- indexing -----------------------------------------------------------------
    @cached_property
    def state_index(self) -> dict[str, int]:
        """State name -> row index."""
        return {s: k for k, s in enumerate(self.states)}

    @cached_property
    def symbol_index(self) -> dict[str, int]:
        """Symbol -> one-hot index."""
        return {a: k for k, a in enumerate(self.alphabet)}

    @cached_property
    def is_deterministic(self) -> bool:
        """True when no state has two edges on the same symbol."""
        return len(set(map(itemgetter(0, 1), self.transitions))) == len(self.transitions)

    @cached_property
    def edge_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(source, symbol, target) index arrays of the transitions, in their order."""
        t, si = self.transitions, self.state_index
        count = len(t)
        return (np.fromiter(map(si.__getitem__, map(itemgetter(0), t)), np.int64, count),
                np.fromiter(map(self.symbol_index.__getitem__, map(itemgetter(1), t)), np.int64, count),
                np.fromiter(map(si.__getitem__, map(itemgetter(2), t)), np.int64, count))

    @cached_property
    def graph(self) -> nx.MultiDiGraph:
        """The grammar as a networkx MultiDiGraph (nodes: start/accept attributes, and ``output`` in a Moore machine;
        edges: symbol, and ``output`` in a Mealy machine)."""
        g = nx.MultiDiGraph(name=self.name, description=self.description, alphabet=list(self.alphabet))
        moore, mealy = dict(self.state_outputs), dict(self.edge_outputs)
        for s in self.states:
            g.add_node(s, start=(s == self.start), accept=(s in self.accept), **({"output": moore[s]} if moore else {}))
        for p, a, q in self.transitions:
            g.add_edge(p, q, key=a, symbol=a, **({"output": mealy[p, a, q]} if mealy else {}))
        return g

    @classmethod
    def from_graph(cls, g: nx.MultiDiGraph, name: str | None = None) -> Grammar:
        """Build a grammar from a MultiDiGraph in the format of :attr:`graph`."""
        starts = [n for n, d in g.nodes(data=True) if d.get("start")]
        if len(starts) != 1:
            raise GrammarError(f"graph has {len(starts)} start nodes; mark exactly one node with start=True")
        transitions = tuple((p, d["symbol"], q) for p, q, d in g.edges(data=True))
        alphabet = list(g.graph.get("alphabet", []))
        for _, a, _ in transitions:
            if a not in alphabet:
                alphabet.append(a)
        moore = tuple((n, d["output"]) for n, d in g.nodes(data=True) if "output" in d)
        mealy = tuple(((p, d["symbol"], q), d["output"]) for p, q, d in g.edges(data=True) if "output" in d)
        return cls(name=name or g.graph.get("name", "grammar"), start=starts[0],
                   accept=frozenset(n for n, d in g.nodes(data=True) if d.get("accept")),
                   alphabet=tuple(alphabet), states=tuple(g.nodes), transitions=transitions,
                   description=g.graph.get("description", ""), state_outputs=moore, edge_outputs=mealy)

    # ----- structure ----------------------------------------------------------------
    def reachable(self, initial: frozenset[str] | None = None) -> set[str]:
        """States reachable from ``initial`` (default: the start state)."""
        src, _, dst = self.edge_index
        seeds = [self.state_index[s] for s in (initial if initial is not None else [self.start])]
        return {self.states[k] for k in _reached(len(self.states), src, dst, seeds).tolist()}

    def coreachable(self) -> set[str]:
        """States from which some accepting state can be reached."""
        return {self.states[k] for k in self.coreachable_indices().tolist()}

    def coreachable_indices(self) -> np.ndarray:
        """:meth:`coreachable` as state indices, in no particular order."""
        src, _, dst = self.edge_index
        return _reached(len(self.states), dst, src, [self.state_index[s] for s in self.accept])

    @cached_property
    def out_edges(self) -> dict[str, list[tuple[str, str]]]:
        """State -> list of (symbol, target)."""
        out: dict[str, list[tuple[str, str]]] = {s: [] for s in self.states}
        for p, a, q in self.transitions:
            out[p].append((a, q))
        return out

    def with_changes(self, **changes: object) -> Grammar:
        """A copy with some fields replaced (validated again)."""
        fields = dict(name=self.name, start=self.start, accept=self.accept, alphabet=self.alphabet,
                      states=self.states, transitions=self.transitions, description=self.description,
                      state_outputs=self.state_outputs, edge_outputs=self.edge_outputs)
        fields.update(changes)
        return Grammar(**fields)  # type: ignore[arg-type]

    def derived(self, edge_index: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                **changes: object) -> Grammar:
        """:meth:`with_changes` without validating again, for an acceptor changed in ways that keep it valid
        (states renamed one to one, states dropped with their edges); a machine with outputs is validated.
        ``edge_index``, when given, is the copy's :attr:`edge_index`, already known."""
        if self.machine:
            out = self.with_changes(**changes)
        else:
            out = object.__new__(Grammar)
            for f in fields(self):
                object.__setattr__(out, f.name, changes.get(f.name, getattr(self, f.name)))
        if edge_index is not None:
            out.__dict__["edge_index"] = edge_index
        return out


def rename_edges(edges: tuple[Edge, ...], name: dict[str, str]) -> tuple[Edge, ...]:
    """The edges with both ends renamed through ``name`` (at C speed: a grammar may have millions)."""
    return tuple(zip(map(name.__getitem__, map(itemgetter(0), edges)), map(itemgetter(1), edges),
                     map(name.__getitem__, map(itemgetter(2), edges))))


def _reached(n: int, src: np.ndarray, dst: np.ndarray, seeds: list[int]) -> np.ndarray:
    """Indices of the nodes reachable from ``seeds`` along the edges src -> dst (breadth first, in C)."""
    if not seeds:
        return np.zeros(0, np.int64)
    hub = n  # an extra node with an edge to every seed
    graph = sp.csr_array((np.ones(src.size + len(seeds), np.int32),
                          (np.concatenate([src, np.full(len(seeds), hub)]), np.concatenate([dst, seeds]))),
                         shape=(n + 1, n + 1))
    order = breadth_first_order(graph, hub, directed=True, return_predecessors=False)
    return order[order != hub]


def _counts(items: object) -> dict:
    out: dict = {}
    for x in items:  # type: ignore[attr-defined]
        out[x] = out.get(x, 0) + 1
    return out


def empty_language_warning(g: Grammar, unknown_start: bool = False) -> str | None:
    """One line when ``g`` answers nothing: no outputs and no accepting state reachable (linear in |E|); with
    ``unknown_start`` every state may be the start."""
    if g.machine:
        return None if _output_reachable(g, set(g.states) if unknown_start else g.reachable()) else (
            f"machine {g.name!r}: no output is reachable from its start {g.start!r}, so it answers nothing on "
            "any word and compiles to a model without out: heads; check the start state and the edges")
    if not g.accept:
        return (f"grammar {g.name!r} has no accepting states and no outputs: its language is empty, so every "
                "accept and next head is false; mark accepting states, or give outputs (docs/grammar-format.md)")
    if not unknown_start and g.start not in g.coreachable():
        return f"grammar {g.name!r}: no accepting state is reachable from the start, so its language is empty"
    return None


def _output_reachable(g: Grammar, reachable: set[str]) -> bool:
    """Whether a machine gives an output on some word: a reachable state with one (Moore) or an edge with one
    out of a reachable state (Mealy)."""
    if g.machine == "moore":
        return any(s in reachable for s, _ in g.state_outputs)
    return any(p in reachable for (p, _, _), _ in g.edge_outputs)


def structural_warnings(g: Grammar) -> list[str]:
    """Warnings a grammar author wants to see: unreachable and dead states, an empty language (linear in |E|)."""
    notes = []
    reachable = g.reachable()
    unreachable = [s for s in g.states if s not in reachable]
    if unreachable:
        notes.append(f"unreachable states (no path from start {g.start!r}): {_some(unreachable)}")
    if g.machine:
        if not _output_reachable(g, reachable):
            notes.append(f"no output is reachable from start {g.start!r}: the machine answers nothing")
        return notes
    live = g.coreachable()
    dead = [s for s in g.states if s not in live]
    if not g.accept:
        notes.append("no accepting states: the language is empty; list some in `accept`")
    elif g.start not in live:
        notes.append("no accepting state is reachable from the start: the language is empty")
    elif dead:
        notes.append(f"dead states (no path to an accepting state): {_some(dead)}")
    return notes


def _some(names: list[str], shown: int = 20) -> str:
    """The first ``shown`` names, comma-separated, and how many more there are."""
    more = f", ... and {len(names) - shown:,} more ({len(names):,} in all)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def shortest_accepted_length(g: Grammar) -> int | None:
    """Length of the shortest accepted string, or None when the language is empty (breadth first, linear in |E|)."""
    depth = {g.start: 0}
    todo = deque([g.start])
    out = g.out_edges
    while todo:
        p = todo.popleft()
        if p in g.accept:
            return depth[p]
        for _, q in out[p]:
            if q not in depth:
                depth[q] = depth[p] + 1
                todo.append(q)
    return None
