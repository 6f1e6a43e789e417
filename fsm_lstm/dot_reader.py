"""Reading DOT as AALpy, LearnLib and Graphviz write it: DFAs, Moore and Mealy machines (docs/grammar-format.md).

Two front ends give the same raw graph (ids and attribute values as written, quotes and escapes kept):
pydot's parser, which reads all of DOT (HTML-like labels, subgraphs, ports), and a small scanner for the plain
top-level subset that every AALpy and fsm-lstm file uses. The scanner is the fast path (a 1,000-state AALpy
Mealy file with 10,000 edges: 0.46 s against 32 s in pydot, bench/dot_reading.py); whatever it does not cover
goes to pydot.
One interpretation then decides what the graph is: a DFA or NFA (``shape=doublecircle``), a Moore machine
(``shape=record`` nodes labelled ``name|output`` as AALpy writes them, or every node labelled ``name / output``
as LearnLib does), a Mealy machine (edges labelled ``input/output``), or
something that is not a deterministic machine, refused in one line (probabilities: an MDP, a Markov chain or a
stochastic Mealy machine; several outputs for one input: an ONFSM; no start state; a mix of kinds).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from .errors import GrammarError
from .grammar import Grammar

__all__ = ["DotGraph", "MAX_PYDOT_CHARS", "parse_dot", "pydot_graph", "scan_dot", "text_of"]


@dataclass
class DotGraph:
    """A digraph as written: node ids and attribute values raw (a quoted string keeps its quotes and escapes, an
    HTML-like label its angle brackets); ``nodes`` in order of first mention, with the node defaults applied."""

    name: str = "grammar"
    graph_attrs: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, dict[str, str]] = field(default_factory=dict)
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


MAX_PYDOT_CHARS = 1 << 16  # DOT the scanner leaves to pydot, which reads about 8 KB a second: 8 s at most


class _NeedsPydot(Exception):
    """The fast scanner met DOT it does not cover (HTML-like labels, subgraphs, ports)."""


# ----- the fast scanner -----------------------------------------------------------------------------------------
_TOKEN = re.compile(r"""
    (?P<space>\s+|//[^\n]*|\#[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<arrow>->|--)
  | (?P<id>[A-Za-z_\x80-\U0010ffff][\w\x80-\U0010ffff]*|-?(?:\.\d+|\d+(?:\.\d*)?))
  | (?P<punct>[{}\[\];,=:<])
""", re.VERBOSE | re.DOTALL)
_ESCAPE = re.compile(r"\\(\n|.)", re.DOTALL)


def _tokens(text: str, where: str) -> list[tuple[str, str, int]]:
    """(kind, raw value, line) of every token."""
    out, pos, line = [], 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise GrammarError(f"{where}, line {line}: cannot read {text[pos:pos + 10]!r} as DOT; "
                               "check quotes and brackets")
        kind = m.lastgroup or ""
        if kind == "punct" and m.group() in "<:":
            raise _NeedsPydot()
        if kind != "space":
            out.append((kind, m.group(), line))
        line += m.group().count("\n")
        pos = m.end()
    return out


def scan_dot(text: str, where: str = "DOT") -> DotGraph:
    """The fast path: a plain top-level digraph; raises ``_NeedsPydot`` for anything beyond it."""
    toks = _tokens(text, where)
    i = 0

    def fail(msg: str) -> GrammarError:
        line = toks[min(i, len(toks) - 1)][2] if toks else 1
        return GrammarError(f"{where}, line {line}: {msg}")

    def punct(value: str, k: int = 0) -> bool:
        return i + k < len(toks) and toks[i + k][0] in ("punct", "arrow") and toks[i + k][1] == value

    def ident(k: int = 0) -> str | None:
        return toks[i + k][1] if i + k < len(toks) and toks[i + k][0] in ("id", "string") else None

    def keyword(k: int = 0) -> str:
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
                if not punct("="):
                    raise fail(_no_value(text_of(key)) if i < len(toks) else
                               "missing ']' after attributes; the file ends inside an attribute list")
                i += 1
                value = ident()
                if value is None:
                    raise fail(_no_value(text_of(key)) if i < len(toks) else
                               "missing ']' after attributes; the file ends inside an attribute list")
                found[text_of(key)] = value
                i += 1
            i += 1
        return found

    if keyword() == "strict":
        i += 1
    if keyword() != "digraph":
        raise fail("expected 'digraph'; a grammar is a directed graph")
    i += 1
    graph = DotGraph()
    if ident() is not None:
        graph.name = text_of(toks[i][1])
        i += 1
    if not punct("{"):
        raise fail("expected '{' after the graph name")
    i += 1
    node_defaults: dict[str, str] = {}
    edge_defaults: dict[str, str] = {}
    while not punct("}"):
        if i >= len(toks):
            raise fail("missing '}' at the end of the graph")
        if punct(";") or punct(","):
            i += 1
            continue
        if punct("{") or keyword() == "subgraph":
            raise _NeedsPydot()
        head = ident()
        if head is None:
            raise fail(f"unexpected {toks[i][1]!r}")
        if keyword() in ("graph", "node", "edge") and punct("[", 1):
            kind = keyword()
            i += 1
            found = attrs()
            {"node": node_defaults, "edge": edge_defaults, "graph": graph.graph_attrs}[kind].update(found)
            continue
        if punct("=", 1):
            if ident(2) is None:
                raise fail(f"{head} = needs a value")
            graph.graph_attrs[text_of(head)] = toks[i + 2][1]
            i += 3
            continue
        chain = [head]
        i += 1
        while punct("->"):
            i += 1
            if punct("{"):
                raise _NeedsPydot()
            target = ident()
            if target is None:
                raise fail("an edge '->' needs a target node")
            chain.append(target)
            i += 1
        if punct("--"):
            raise fail("undirected edge '--'; use '->'")
        found = attrs()
        if len(chain) == 1:
            graph.nodes.setdefault(head, dict(node_defaults)).update(found)
        else:
            for p, q in zip(chain, chain[1:]):
                for n in (p, q):
                    graph.nodes.setdefault(n, dict(node_defaults))
                graph.edges.append((p, q, {**edge_defaults, **found}))
    i += 1
    if i < len(toks):
        raise fail(f"unexpected {toks[i][1]!r} after the end of the graph")
    return graph


def _no_value(key: str) -> str:
    return f"attribute {key!r} has no value; write {key}=\"...\" (a quote inside a quoted value is written \\\")"


# ----- pydot ----------------------------------------------------------------------------------------------------
def pydot_graph(text: str, where: str = "DOT") -> DotGraph:
    """Any DOT digraph, through pydot's parser; subgraphs are flattened into the graph."""
    from pyparsing import ParseBaseException
    from pydot.dot_parser import GraphParser

    try:
        graphs = list(GraphParser.parser.parse_string(text, parse_all=True))
    except ParseBaseException as exc:
        raise GrammarError(f"{where}, line {exc.lineno}: cannot read it as DOT ({exc.msg}); check quotes and "
                           "brackets") from None
    except RecursionError:
        raise GrammarError(f"{where}: subgraphs nested too deeply to read") from None
    if len(graphs) != 1:
        raise GrammarError(f"{where}: holds {len(graphs)} graphs; a grammar file holds one digraph")
    dot = graphs[0]
    if dot.get_type() != "digraph":
        raise GrammarError(f"{where}: expected 'digraph'; a grammar is a directed graph, not an undirected 'graph'")
    out = DotGraph(name=text_of(dot.get_name()) if dot.get_name() else "grammar")
    out.graph_attrs.update(dot.get_attributes())
    _collect(dot, out, {}, {}, where)
    return out


def _collect(graph: object, out: DotGraph, node_defaults: dict[str, str], edge_defaults: dict[str, str],
             where: str) -> None:
    """Nodes and edges of a pydot graph or subgraph in the order written (pydot's sequence numbers), subgraphs
    included, node and edge defaults scoped to the graph that sets them."""
    node_defaults, edge_defaults = dict(node_defaults), dict(edge_defaults)
    statements = [*graph.get_nodes(), *graph.get_edges(), *graph.get_subgraphs()]  # type: ignore[attr-defined]
    for item in sorted(statements, key=lambda x: x.obj_dict.get("sequence", 0)):
        kind = type(item).__name__
        for key, value in item.get_attributes().items() if kind in ("Node", "Edge") else ():
            if value is None:  # pydot reads [shape] and Graphviz refuses it
                raise GrammarError(f"{where}: {_no_value(text_of(key))}")
        if kind == "Node":
            name, found = item.get_name(), dict(item.get_attributes())
            if name == "node":
                node_defaults.update(found)
            elif name == "edge":
                edge_defaults.update(found)
            elif name == "graph":
                out.graph_attrs.update(found)
            else:
                out.nodes.setdefault(_without_port(name), dict(node_defaults)).update(found)
        elif kind == "Edge":
            ends = [item.get_source(), item.get_destination()]
            if not all(isinstance(e, str) for e in ends):
                raise GrammarError(f"{where}: an edge leads to or from a subgraph; write one edge per pair of states")
            p, q = map(_without_port, ends)
            for n in (p, q):
                out.nodes.setdefault(n, dict(node_defaults))
            out.edges.append((p, q, {**edge_defaults, **item.get_attributes()}))
        else:
            _collect(item, out, node_defaults, edge_defaults, where)


_QUOTED_ID = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def _without_port(node_id: str) -> str:
    """A node id without its port (``s0:e``, ``"s0":"e"``, ``s1:w:n``): a port is a place on the node."""
    quoted = _QUOTED_ID.match(node_id)
    return quoted.group() if quoted else node_id.split(":")[0]


# ----- values ---------------------------------------------------------------------------------------------------
def text_of(raw: str) -> str:
    """The text of a raw id or value: quotes and escapes removed, an HTML-like label's markup read as text
    (``<br/>`` a line break, entities decoded)."""
    if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"':
        return _ESCAPE.sub(_unescape, raw[1:-1])
    if len(raw) >= 2 and raw[0] == "<" and raw[-1] == ">":
        body = re.sub(r"<br\b[^>]*>", "\n", raw[1:-1], flags=re.IGNORECASE)
        return html.unescape(re.sub(r"<[^>]*>", "", body))
    return raw


def _unescape(e: re.Match[str]) -> str:
    """One escape in a quoted DOT string: a backslash-newline continues the line; Graphviz's ``\\n``, ``\\l``
    and ``\\r`` are line breaks (as ``<br/>`` is in an HTML-like label); ``\\"`` is a quote and ``\\\\`` a
    backslash. A backslash before any other character is itself, as AALpy writes text raw and reads it back so
    (``C:\\temp``, ``back\\slash``)."""
    c = e.group(1)
    return "" if c == "\n" else "\n" if c in "nlr" else c if c in '"\\' else "\\" + c


_PORT = re.compile(r"^\s*<[^>]*>\s*")  # a record field's port, ``<f0> name``
_RECORD_ESCAPED = set('|{}<>"\\ ')  # what a backslash escapes in a record label


def _record_fields(raw: str) -> list[str]:
    """The fields of a record label (``name|output``, outer braces dropped), split at unescaped bars."""
    if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"':
        inner = raw[1:-1].strip()
        if inner.startswith("{") and inner.endswith("}"):
            inner = inner[1:-1]
        raw_fields = [""]
        for piece in re.findall(r"\\\n|\\.|\||[^\\|]+|\\", inner, flags=re.DOTALL):
            if piece == "|":
                raw_fields.append("")
            else:
                raw_fields[-1] += piece
        # a field's port (``<f0> name``) is dropped before unescaping, so an escaped ``\<`` stays text; a
        # backslash before a character that is not a record's (or a quoted string's) escape is itself
        return ["".join("" if piece == "\\\n" else "\n" if piece in ("\\n", "\\l", "\\r") else
                        piece[1:] if piece[:1] == "\\" and piece[1:] in _RECORD_ESCAPED else piece
                        for piece in re.findall(r"\\\n|\\.|[^\\]+|\\", _PORT.sub("", field), flags=re.DOTALL))
                for field in raw_fields]
    return text_of(raw).split("|")


_PROBABILITY = r"(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def _stochastic(label: str) -> str | None:
    """What an edge label with a probability says the file is (an AALpy 'mc', 'mdp' or 'smm'), or None."""
    if re.fullmatch(_PROBABILITY, label) and not label.isdigit():
        return "a Markov chain (AALpy 'mc')"
    if re.fullmatch(rf".+/.+:\s*{_PROBABILITY}", label):
        return "a stochastic Mealy machine (AALpy 'smm')"
    if re.fullmatch(rf".+:\s*{_PROBABILITY}", label):
        return "an MDP (AALpy 'mdp')"
    return None


# ----- interpretation -------------------------------------------------------------------------------------------
def parse_dot(text: str, where: str = "DOT") -> Grammar:
    """Read a DOT digraph (a DFA or NFA, a Moore or a Mealy machine) into a grammar."""
    try:
        raw = scan_dot(text, where)
    except _NeedsPydot:
        if len(text) > MAX_PYDOT_CHARS:  # 25,000 edges in a subgraph ran for minutes
            raise GrammarError(f"{where}: {len(text):,} characters of DOT with subgraphs, HTML-like labels or ports, "
                               f"which fsm-lstm reads up to {MAX_PYDOT_CHARS:,} characters (its full parser is slow); "
                               "write the states and edges at the top level, as AALpy and LearnLib do") from None
        raw = pydot_graph(text, where)
    try:
        return _interpret(raw, where)
    except GrammarError as exc:
        message = str(exc)
        raise GrammarError(message if message.startswith(where) else f"{where}: {message}") from None


def _start_markers(edges: list[tuple[str, str, dict[str, str], dict[str, str]]]) -> set[str]:
    """The start markers: nodes whose id begins with ``__start`` and whose edges carry no label (AALpy's and
    LearnLib's ``__start0``); one with a labelled edge is a state (AALpy saved a state named ``__start1`` so)."""
    marked = {p for p, _, _, _ in edges if p.startswith("__start")} | {q for _, q, _, _ in edges
                                                                       if q.startswith("__start")}
    labelled = {p for p, _, found, _ in edges if found.get("label", "").strip()}
    return {n for n in marked if n not in labelled}


def _aalpy_written(raw: DotGraph) -> bool:
    """Whether AALpy's ``save_automaton_to_file`` wrote the file, by the marks it leaves: its start edge carries
    ``label=""`` (LearnLib's has none), it sets no graph attribute (fsm-lstm's writer sets ``rankdir`` and
    ``alphabet``), and every state is labelled with its own id (``s0 [label="s0"]``), or ``ID|OUTPUT`` as a Moore
    record. AALpy writes labels raw and reads them back raw, so ``C:\\srv`` is two backslashes there, not an
    escaped one."""
    if raw.graph_attrs or not any(text_of(p).startswith("__start") and found.get("label") == '""'
                                  for p, _, found in raw.edges):
        return False
    for node, found in raw.nodes.items():
        name, label = text_of(node), _raw_text(found.get("label", ""))
        if not name.startswith("__start") and label != name and not label.startswith(name + "|"):
            return False
    return True


def _raw_text(raw: str) -> str:
    """A value as AALpy reads it: the quotes removed, nothing unescaped."""
    return raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else text_of(raw)


def _interpret(raw: DotGraph, where: str) -> Grammar:
    ids = {n: text_of(n) for n in raw.nodes}
    aalpy = _aalpy_written(raw)
    value = _raw_text if aalpy else text_of
    edges = [(ids[p], ids[q], {k: value(v) if k == "label" else text_of(v) for k, v in found.items()}, found)
             for p, q, found in raw.edges]
    markers = _start_markers(edges)
    starts = [q for p, q, _, _ in edges if p in markers]
    if len(starts) != 1:
        raise GrammarError(f"found {len(starts)} start markers; add exactly one edge '__start0 -> STATE'"
                           + (" (a file without one has no start state)" if not starts else ""))
    nodes = {ids[n]: found for n, found in raw.nodes.items() if ids[n] not in markers}
    shape = {n: text_of(found.get("shape", "")).lower() for n, found in nodes.items()}
    records = [n for n in nodes if shape[n] in ("record", "mrecord")]
    if records and len(records) != len(nodes):
        plain = next(n for n in nodes if n not in records)
        raise GrammarError(f"node {plain} is not a record while node {records[0]} is: a Moore machine draws every "
                           "state as shape=record with label=\"NAME|OUTPUT\"; give every state its output")
    accepting = [n for n in nodes if "doublecircle" in shape[n]]
    learnlib = not records and not accepting and _learnlib_moore(nodes)
    names, outputs = _state_names(nodes, bool(records), learnlib, aalpy)
    if starts[0] not in names:
        raise GrammarError(f"the start marker points at another marker, {starts[0]}; point it at a state")
    graph_attrs = {text_of(k): text_of(v) for k, v in raw.graph_attrs.items()}
    declared = set(graph_attrs["alphabet"].split()) if "alphabet" in graph_attrs else set()
    transitions, edge_outputs = _edges(edges, names, declared, markers, aalpy)
    if learnlib and edge_outputs:  # Mealy edges: the ' / ' in the state labels belongs to their names
        learnlib = False
        names, outputs = _state_names(nodes, False)
        transitions, edge_outputs = _edges(edges, names, declared, markers, aalpy)
    moore = bool(records) or learnlib
    if edge_outputs and (moore or accepting):
        other = "Moore states (shape=record)" if moore else f"accepting states (node {accepting[0]} is a doublecircle)"
        raise GrammarError(f"it mixes Mealy edges (input/output) with {other}; a file is one kind of machine")
    if moore and accepting:
        raise GrammarError(f"it mixes Moore states with accepting states (node {accepting[0]}); a file is one kind "
                           "of machine")
    used = tuple(dict.fromkeys(a for _, a, _ in transitions))
    alphabet = tuple(graph_attrs["alphabet"].split()) if "alphabet" in graph_attrs else used
    return Grammar(name=text_of(raw.name), start=names[starts[0]],
                   accept=frozenset(names[n] for n in accepting), alphabet=alphabet,
                   states=tuple(names.values()), transitions=tuple(transitions),
                   description=graph_attrs.get("comment", ""),
                   state_outputs=tuple((names[n], outputs[n]) for n in nodes) if moore else (),
                   edge_outputs=tuple(edge_outputs.items()))


def _learnlib_moore(nodes: dict[str, dict[str, str]]) -> bool:
    """Every state labelled ``NAME / OUTPUT``, as LearnLib (AutomataLib's MooreVisualizationHelper) writes a Moore
    machine's states, plain circles."""
    return bool(nodes) and all(" / " in text_of(found.get("label", "")) for found in nodes.values())


def _aalpy_record(raw: str) -> list[str]:
    """A Moore state's label as AALpy reads it: quotes and outer braces dropped, split at the first bar, nothing
    unescaped (AALpy wrote the output ``<b>`` raw, which a record reads as a port)."""
    text = _raw_text(raw.strip())
    if text[:1] == "{" and text[-1:] == "}":
        text = text[1:-1]
    return text.split("|", 1)


def _state_names(nodes: dict[str, dict[str, str]], moore: bool, learnlib: bool = False, raw: bool = False
                 ) -> tuple[dict[str, str], dict[str, str]]:
    """Node id -> state name (its label when the labels are distinct, else the ids) and, in a Moore machine,
    node id -> output (``label="name|output"``; a label without a bar is the output, as AALpy reads it; or
    LearnLib's ``label="name / output"``, split at the first `` / ``)."""
    labels: dict[str, str | None] = {}
    outputs: dict[str, str] = {}
    for n, found in nodes.items():
        if learnlib:
            name, _, output = text_of(found["label"]).partition(" / ")
            outputs[n] = output.strip()
            if not outputs[n]:
                raise GrammarError(f"Moore state {n} has no output (label {text_of(found['label'])!r}); LearnLib "
                                   "writes 'NAME / OUTPUT', and 'NAME / ' for a state without one")
            labels[n] = name.strip() or n
        elif moore:
            if "label" not in found:
                raise GrammarError(f"Moore state {n} has no label; write label=\"{n}|OUTPUT\"")
            fields = _aalpy_record(found["label"]) if raw else _record_fields(found["label"])
            name, output = (fields[0], "|".join(fields[1:])) if len(fields) > 1 else (n, fields[0])
            outputs[n] = output.strip()
            if not outputs[n]:
                raise GrammarError(f"Moore state {n} has an empty output; write label=\"{name}|OUTPUT\"")
            labels[n] = name.strip() or n
        else:
            labels[n] = text_of(found["label"]) if "label" in found else None
            if labels[n] == "":
                raise GrammarError(f"node {n} has an empty label; state names must be non-empty")
    names = {n: labels[n] or n for n in nodes}
    if len(set(names.values())) != len(names):
        names = {n: n for n in nodes}  # labels are not unique names: fall back to node ids
    return names, outputs


def _mealy_label(p: str, q: str, label: str, raw: bool) -> tuple[str, str, str]:
    """(input, output, the output as meant) of a Mealy edge's label, split at the first ``/``, with white space
    around either part dropped; as meant, the output is as written, less one space after LearnLib's ``in / out``
    bar. In a file AALpy wrote (``raw``) an output with white space at an end is refused: AALpy keeps it (``' x'``
    and ``'x'`` are two outputs), and an fsm-lstm output, which names a head, holds none."""
    symbol, _, written = label.partition("/")
    meant = written[1:] if symbol.endswith(" ") and written.startswith(" ") and not raw else written
    symbol, output = symbol.strip(), written.strip()
    if not symbol or not output:
        raise GrammarError(f"edge {p} -> {q} has the label {label!r}; a Mealy edge is "
                           "label=\"INPUT/OUTPUT\" with both parts non-empty")
    if raw and meant != output:
        raise GrammarError(f"edge {p} -> {q} has the output {meant!r}, with white space at an end, in a file AALpy "
                           "wrote: AALpy keeps it, so that it is another output than one without, and an fsm-lstm "
                           "output (which names a head) holds none; rename it without white space at its ends")
    return symbol, output, meant


_Transition = tuple[str, str, str]  # (state, symbol, state)


def _edges(edges: list[tuple[str, str, dict[str, str], dict[str, str]]], names: dict[str, str],
           declared: set[str], markers: set[str], raw: bool = False
           ) -> tuple[list[_Transition], dict[_Transition, str]]:
    """The transitions and, for a Mealy machine, their outputs (``raw``: labels as AALpy reads them; ``markers``:
    the start markers' ids); refuses stochastic, mixed and ONFSM files."""
    transitions: dict[tuple[str, str, str], None] = {}
    outputs: dict[tuple[str, str, str], str] = {}
    seen: dict[tuple[str, str], str] = {}
    written_as: dict[str, str] = {}  # each output as read, and as it was meant
    plain_edge = mealy_edge = None
    for p, q, found, _ in edges:
        if p in markers:
            continue
        if q in markers:
            raise GrammarError(f"edge {p} -> {q} leads into a start marker; markers only point at states")
        label = found.get("label", "").strip()
        if not label:
            raise GrammarError(f"edge {p} -> {q} has no label; give it label=\"SYMBOL\" (or \"INPUT/OUTPUT\")")
        output = None
        if label not in declared:
            kind = None if label.partition("/")[0].strip() in declared else _stochastic(label)
            if kind is not None:
                raise GrammarError(f"edge {p} -> {q} has the probability in {label!r}: this is {kind}, not a "
                                   "deterministic machine; fsm-lstm reads DFAs, NFAs, Moore and Mealy machines (if "
                                   f"{label!r} is a symbol, or a Mealy machine's input and an output holding ':', "
                                   f"declare the symbols: graph [alphabet=\"{label.partition('/')[0].strip()} "
                                   "...\"])")
            if "/" in label:
                symbol, output, meant = _mealy_label(p, q, found["label"], raw)
                if written_as.setdefault(output, meant) != meant:  # ' ok' and 'ok': dropping the spaces merges them
                    raise GrammarError(f"the outputs {written_as[output]!r} and {meant!r} differ only in white space "
                                       "at their ends, which an fsm-lstm output (naming a head) cannot hold: read, "
                                       "they would be one output; rename one of them")
                label = symbol
        if any(ch.isspace() for ch in label):
            raise GrammarError(f"edge {p} -> {q} reads the symbol {label!r}, which holds white space; a symbol is "
                               "a name without spaces, and a Mealy edge is labelled \"INPUT/OUTPUT\"")
        if output is None:
            plain_edge = plain_edge or (p, q, label)
        else:
            mealy_edge = mealy_edge or (p, q, label)
        if plain_edge and mealy_edge:
            raise GrammarError(f"it mixes Mealy edges (input/output, such as {mealy_edge[0]} -> {mealy_edge[1]}) "
                               f"with plain edges (such as {plain_edge[0]} -> {plain_edge[1]}); give every edge "
                               "an output, or none")
        edge = (names[p], label, names[q])
        if output is not None:
            if seen.get((p, label), output) != output:
                raise GrammarError(f"state {names[p]!r} has several outputs for input {label!r} "
                                   f"({seen[p, label]!r} and {output!r}): this is an ONFSM, not a Mealy machine; "
                                   "fsm-lstm reads deterministic machines")
            seen[p, label] = output
            outputs[edge] = output
        transitions[edge] = None
    return list(transitions), outputs
