"""Grammars as Graphviz DOT in the AALpy/LearnLib convention.

``__start0 -> s0`` marks the start state, ``shape=doublecircle`` an accepting state and ``label="a"`` the
symbol of an edge. Deterministic grammars are written complete (a ``dead`` sink is added when needed),
because AALpy's ``load_automaton_from_file`` insists on input-complete DFAs.
"""

from __future__ import annotations

import re

from .errors import GrammarError
from .grammar import Grammar

_TOKEN = re.compile(r"""
    (?P<space>\s+|//[^\n]*|\#[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<arrow>->|--)
  | (?P<id>[A-Za-z_\x80-\uffff][\w\x80-\uffff]*|-?(?:\.\d+|\d+(?:\.\d*)?))
  | (?P<punct>[{}\[\];,=:])
""", re.VERBOSE | re.DOTALL)


def _tokens(text: str, where: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            line = text.count("\n", 0, pos) + 1
            raise GrammarError(f"{where}, line {line}: cannot read {text[pos:pos + 10]!r} as DOT; "
                               "check quotes and brackets")
        kind = m.lastgroup or ""
        if kind != "space":
            value = m.group()
            if kind == "string":
                value = re.sub(r'\\(.)', r'\1', value[1:-1])
                kind = "id"
            out.append((kind, value, text.count("\n", 0, pos) + 1))
        pos = m.end()
    return out


def parse_dot(text: str, where: str = "DOT") -> Grammar:
    """Read a DOT digraph in the AALpy convention into a grammar."""
    toks = _tokens(text, where)
    i = 0

    def fail(msg: str) -> GrammarError:
        line = toks[min(i, len(toks) - 1)][2] if toks else 1
        return GrammarError(f"{where}, line {line}: {msg}")

    def peek(k: int = 0) -> str | None:
        return toks[i + k][1] if i + k < len(toks) else None

    def attrs() -> dict[str, str]:
        nonlocal i
        found: dict[str, str] = {}
        while peek() == "[":
            i += 1
            while peek() != "]":
                if peek() is None:
                    raise fail("missing ']' after attributes")
                key = toks[i][1]
                i += 1
                if peek() == "=":
                    i += 2
                    found[key] = toks[i - 1][1]
                if peek() in (",", ";"):
                    i += 1
            i += 1
        return found

    if peek() == "strict":
        i += 1
    if peek() != "digraph":
        raise fail("expected 'digraph'; a grammar is a directed graph")
    i += 1
    name = "grammar"
    if peek() != "{":
        name = toks[i][1]
        i += 1
    if peek() != "{":
        raise fail("expected '{' after the graph name")
    i += 1
    node_defaults: dict[str, str] = {}
    nodes: dict[str, dict[str, str]] = {}
    edges: list[tuple[str, str, dict[str, str]]] = []
    while peek() != "}":
        if peek() is None:
            raise fail("missing '}' at the end of the graph")
        if peek() == ";":
            i += 1
            continue
        if toks[i][0] != "id":
            raise fail(f"unexpected {peek()!r}")
        head = toks[i][1]
        if head == "subgraph" or peek(1) == "{":
            raise fail("subgraphs are not supported in grammar files; list nodes and edges at the top level")
        if head in ("graph", "node", "edge") and peek(1) == "[":
            i += 1
            found = attrs()
            if head == "node":
                node_defaults.update(found)
            continue
        if peek(1) == "=":
            i += 3
            continue
        chain = [head]
        i += 1
        while peek() == "->":
            i += 1
            if i >= len(toks) or toks[i][0] != "id":
                raise fail("an edge '->' needs a target node")
            chain.append(toks[i][1])
            i += 1
        if peek() == "--":
            raise fail("undirected edge '--'; use '->'")
        found = attrs()
        if len(chain) == 1:
            nodes.setdefault(head, dict(node_defaults)).update(found)
        else:
            for p, q in zip(chain, chain[1:]):
                for n in (p, q):
                    nodes.setdefault(n, dict(node_defaults))
                edges.append((p, q, found))
    starts = [q for p, q, _ in edges if p.startswith("__start")]
    if len(starts) != 1:
        raise GrammarError(f"{where}: found {len(starts)} start markers; add exactly one edge '__start0 -> STATE'")
    name_of = {n: (attrs_.get("label") or n) for n, attrs_ in nodes.items()}
    if len(set(name_of.values())) != len(name_of):
        name_of = {n: n for n in nodes}  # labels are not unique names: fall back to node ids
    states = [name_of[n] for n in nodes if not n.startswith("__start")]
    transitions = []
    for p, q, found in edges:
        if p.startswith("__start"):
            continue
        label = found.get("label", "").strip()
        if not label:
            raise GrammarError(f"{where}: edge {p} -> {q} has no label; give it label=\"SYMBOL\"")
        transitions.append((name_of[p], label, name_of[q]))
    accept = frozenset(name_of[n] for n in nodes if not n.startswith("__start")
                       and "doublecircle" in nodes[n].get("shape", ""))
    start = name_of[starts[0]]
    alphabet = tuple(dict.fromkeys(a for _, a, _ in transitions))
    ordered = [start] + [s for s in states if s != start]
    return Grammar(name=name, start=start, accept=accept, alphabet=alphabet, states=tuple(ordered),
                   transitions=tuple(dict.fromkeys(transitions)))


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


_KEYWORDS = {"node", "edge", "graph", "digraph", "subgraph", "strict"}


def _node_ids(states: list[str]) -> dict[str, str]:
    """Plain identifiers for nodes (AALpy reads only ``\\w+`` ids); other names get ``n<k>`` and keep their label."""
    ids: dict[str, str] = {}
    taken = {s for s in states if re.fullmatch(r"[A-Za-z_]\w*", s) and s.lower() not in _KEYWORDS}
    for k, s in enumerate(states):
        if s in taken:
            ids[s] = s
        else:
            candidate = f"n{k}"
            while candidate in taken:
                candidate += "_"
            taken.add(candidate)
            ids[s] = candidate
    return ids


def to_dot(g: Grammar, complete: bool = True) -> str:
    """Write a grammar as DOT that Graphviz draws and AALpy loads (``complete`` adds a sink to a partial DFA)."""
    edges = list(g.transitions)
    states = list(g.states)
    if complete and g.is_deterministic:
        have = {(p, a) for p, a, _ in edges}
        missing = [(p, a) for p in states for a in g.alphabet if (p, a) not in have]
        if missing:
            sink = "dead"
            while sink in states:
                sink += "_"
            states.append(sink)
            edges += [(p, a, sink) for p, a in missing] + [(sink, a, sink) for a in g.alphabet]
    ids = _node_ids(states)
    lines = [f"digraph {_quote(g.name)} {{", "rankdir=LR;"]
    for s in states:
        shape = ", shape=doublecircle" if s in g.accept else ""
        lines.append(f"{ids[s]} [label={_quote(s)}{shape}];")
    for p, a, q in edges:
        lines.append(f"{ids[p]} -> {ids[q]} [label={_quote(a)}];")
    lines += ['__start0 [label="", shape=none];', f'__start0 -> {ids[g.start]} [label=""];', "}"]
    return "\n".join(lines) + "\n"
