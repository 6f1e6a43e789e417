"""Grammars as Graphviz DOT in the AALpy/LearnLib convention.

``__start0 -> s0`` marks the start state, ``shape=doublecircle`` an accepting state and ``label="a"`` the
symbol of an edge. Deterministic grammars are written complete (a ``dead`` sink is added when needed),
because AALpy's ``load_automaton_from_file`` insists on input-complete DFAs. The graph attributes
``alphabet`` (the symbols in one-hot order, space-separated) and ``comment`` (the description) keep what the
edges cannot say. Any state name survives: names that are not plain ASCII identifiers, or that are keywords or
look like start markers (``__start0``), get node ids ``n<k>`` and keep their name as the label. An empty label
is refused, never replaced by the node id.
"""

from __future__ import annotations

import re

from .errors import GrammarError
from .grammar import Grammar

__all__ = ["parse_dot", "to_dot"]

_TOKEN = re.compile(r"""
    (?P<space>\s+|//[^\n]*|\#[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<arrow>->|--)
  | (?P<id>[A-Za-z_\x80-\U0010ffff][\w\x80-\U0010ffff]*|-?(?:\.\d+|\d+(?:\.\d*)?))
  | (?P<punct>[{}\[\];,=:])
""", re.VERBOSE | re.DOTALL)
_ESCAPE = re.compile(r"\\(\n|.)", re.DOTALL)


def _tokens(text: str, where: str) -> list[tuple[str, str, int]]:
    """(kind, value, line) of every token; a quoted string has kind ``string``, never a keyword or bracket."""
    out, pos, line = [], 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise GrammarError(f"{where}, line {line}: cannot read {text[pos:pos + 10]!r} as DOT; "
                               "check quotes and brackets")
        kind = m.lastgroup or ""
        if kind != "space":
            value = m.group()
            if kind == "string":  # \" and \\ are escapes; backslash-newline continues the line (Graphviz)
                value = _ESCAPE.sub(lambda e: "" if e.group(1) == "\n" else e.group(1), value[1:-1])
            out.append((kind, value, line))
        line += m.group().count("\n")
        pos = m.end()
    return out


def parse_dot(text: str, where: str = "DOT") -> Grammar:
    """Read a DOT digraph in the AALpy convention into a grammar."""
    toks = _tokens(text, where)
    i = 0

    def fail(msg: str) -> GrammarError:
        line = toks[min(i, len(toks) - 1)][2] if toks else 1
        return GrammarError(f"{where}, line {line}: {msg}")

    def punct(value: str, k: int = 0) -> bool:  # is token i+k this bracket, arrow or sign (not a quoted string)?
        return i + k < len(toks) and toks[i + k][0] in ("punct", "arrow") and toks[i + k][1] == value

    def ident(k: int = 0) -> str | None:  # the id (or quoted string) at i+k, if that is one
        return toks[i + k][1] if i + k < len(toks) and toks[i + k][0] in ("id", "string") else None

    def keyword(k: int = 0) -> str:  # the unquoted word at i+k in lower case, or ""
        return toks[i + k][1].lower() if i + k < len(toks) and toks[i + k][0] == "id" else ""

    def attrs() -> dict[str, str]:
        nonlocal i
        found: dict[str, str] = {}
        while punct("["):
            i += 1
            while not punct("]"):
                if i >= len(toks):
                    raise fail("missing ']' after attributes; the file ends inside an attribute list")
                if punct(",") or punct(";"):
                    i += 1
                    continue
                key = ident()
                if key is None:
                    raise fail(f"unexpected {toks[i][1]!r} in an attribute list; write key=value pairs")
                i += 1
                if punct("="):
                    i += 1
                    value = ident()
                    if value is None:
                        raise fail(f"attribute {key!r} has no value; write {key}=\"...\"" if i < len(toks) else
                                   "missing ']' after attributes; the file ends inside an attribute list")
                    found[key] = value
                    i += 1
            i += 1
        return found

    if keyword() == "strict":
        i += 1
    if keyword() != "digraph":
        raise fail("expected 'digraph'; a grammar is a directed graph")
    i += 1
    name = "grammar"
    if ident() is not None:
        name = toks[i][1]
        i += 1
    if not punct("{"):
        raise fail("expected '{' after the graph name")
    i += 1
    node_defaults: dict[str, str] = {}
    graph_attrs: dict[str, str] = {}
    nodes: dict[str, dict[str, str]] = {}
    edges: list[tuple[str, str, dict[str, str]]] = []
    while not punct("}"):
        if i >= len(toks):
            raise fail("missing '}' at the end of the graph")
        if punct(";") or punct(","):
            i += 1
            continue
        head = ident()
        if head is None:
            raise fail(f"unexpected {toks[i][1]!r}")
        if keyword() == "subgraph" or punct("{", 1):
            raise fail("subgraphs are not supported in grammar files; list nodes and edges at the top level")
        if keyword() in ("graph", "node", "edge") and punct("[", 1):
            kind = keyword()
            i += 1
            found = attrs()
            if kind == "node":
                node_defaults.update(found)
            elif kind == "graph":
                graph_attrs.update(found)
            continue
        if punct("=", 1):
            if ident(2) is None:
                raise fail(f"{head} = needs a value")
            graph_attrs[head] = toks[i + 2][1]
            i += 3
            continue
        chain = [head]
        i += 1
        while punct("->"):
            i += 1
            target = ident()
            if target is None:
                raise fail("an edge '->' needs a target node")
            chain.append(target)
            i += 1
        if punct("--"):
            raise fail("undirected edge '--'; use '->'")
        found = attrs()
        if len(chain) == 1:
            nodes.setdefault(head, dict(node_defaults)).update(found)
        else:
            for p, q in zip(chain, chain[1:]):
                for n in (p, q):
                    nodes.setdefault(n, dict(node_defaults))
                edges.append((p, q, found))
    i += 1
    if i < len(toks):
        raise fail(f"unexpected {toks[i][1]!r} after the end of the graph")
    starts = [q for p, q, _ in edges if p.startswith("__start")]
    if len(starts) != 1:
        raise GrammarError(f"{where}: found {len(starts)} start markers; add exactly one edge '__start0 -> STATE'")
    real = [n for n in nodes if not n.startswith("__start")]
    for n in real:
        if nodes[n].get("label") == "":
            raise GrammarError(f"{where}: node {n} has an empty label; state names must be non-empty")
    name_of = {n: nodes[n].get("label") or n for n in real}
    if len(set(name_of.values())) != len(name_of):
        name_of = {n: n for n in real}  # labels are not unique names: fall back to node ids
    if starts[0] not in name_of:
        raise GrammarError(f"{where}: the start marker points at another marker, {starts[0]}; point it at a state")
    transitions = []
    for p, q, found in edges:
        if p.startswith("__start"):
            continue
        if q.startswith("__start"):
            raise GrammarError(f"{where}: edge {p} -> {q} leads into a start marker; markers only point at states")
        label = found.get("label", "").strip()
        if not label:
            raise GrammarError(f"{where}: edge {p} -> {q} has no label; give it label=\"SYMBOL\"")
        transitions.append((name_of[p], label, name_of[q]))
    accept = frozenset(name_of[n] for n in real if "doublecircle" in nodes[n].get("shape", ""))
    used = tuple(dict.fromkeys(a for _, a, _ in transitions))
    alphabet = tuple(graph_attrs["alphabet"].split()) if "alphabet" in graph_attrs else used
    try:
        return Grammar(name=name, start=name_of[starts[0]], accept=accept, alphabet=alphabet,
                       states=tuple(name_of[n] for n in real), transitions=tuple(dict.fromkeys(transitions)),
                       description=graph_attrs.get("comment", ""))
    except GrammarError as exc:
        raise GrammarError(f"{where}: {exc}") from None


def _quote(s: str) -> str:
    """``s`` as a DOT string: backslashes and quotes escaped; a lone surrogate, which is not text, is refused."""
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in s):
        raise GrammarError(f"{s[:60]!r} contains a lone surrogate, which a grammar file cannot hold; rename it")
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


_KEYWORDS = {"node", "edge", "graph", "digraph", "subgraph", "strict"}


def _node_ids(states: list[str]) -> dict[str, str]:
    """Plain ASCII identifiers for nodes (AALpy reads only ``\\w+`` ids); other names, keywords and names that
    look like start markers (``__start0``) get ``n<k>`` and keep their name as the label."""
    plain = lambda s: re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", s) and s.lower() not in _KEYWORDS \
        and not s.startswith("__start")  # noqa: E731
    ids: dict[str, str] = {}
    taken = {s for s in states if plain(s)}
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
    lines = [f"digraph {_quote(g.name)} {{", "rankdir=LR;",
             f"graph [alphabet={_quote(' '.join(g.alphabet))}"
             + (f", comment={_quote(g.description)}" if g.description else "") + "];"]
    for s in states:
        shape = ", shape=doublecircle" if s in g.accept else ""
        lines.append(f"{ids[s]} [label={_quote(s)}{shape}];")
    for p, a, q in edges:
        lines.append(f"{ids[p]} -> {ids[q]} [label={_quote(a)}];")
    lines += ['__start0 [label="", shape=none];', f'__start0 -> {ids[g.start]} [label=""];', "}"]
    return "\n".join(lines) + "\n"
