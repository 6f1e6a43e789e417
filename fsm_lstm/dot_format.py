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

from .dot_reader import parse_dot  # noqa: F401  (read here before; now in dot_reader)
from .errors import GrammarError
from .grammar import Grammar

__all__ = ["to_dot"]


def _quote(s: str) -> str:
    """``s`` as a DOT string: quotes and line breaks escaped (``\\n``, which the reader and Graphviz read as a
    line break: a raw one inside quotes misleads AALpy's reader); a backslash doubled only where the reader would
    take it for an escape (before ``n``, ``l``, ``r``, a quote, a backslash or a line break, or at the end), and
    written as itself elsewhere, as AALpy writes and reads it (``C:\\temp``); a lone surrogate, which is not
    text, is refused."""
    _check_text(s)
    return '"' + _escaped(s, "nlr\"\\\n", '"') + '"'


def _escaped(s: str, special: str, quoted: str) -> str:
    """``s`` with a backslash before each character of ``quoted``, a doubled backslash where one precedes a
    character of ``special`` or ends ``s``, and line breaks as ``\\n``."""
    s = re.sub(r"\\(?=[" + re.escape(special) + r"]|\Z)", r"\\\\", s)
    return re.sub("([" + re.escape(quoted) + "])", r"\\\1", s).replace("\n", "\\n")


def _check_text(s: str) -> None:
    """Refuse a lone surrogate, which is not text."""
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in s):
        raise GrammarError(f"{s[:60]!r} contains a lone surrogate, which a grammar file cannot hold; rename it")


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


def _record(fields: list[str]) -> str:
    """A Graphviz record label of these fields, quoted: in each, bars, braces, angle brackets and quotes escaped
    with a backslash (as Graphviz reads records; a DOT string keeps those backslashes), and a backslash doubled
    only where the reader would take it for an escape, as in :func:`_quote`. The last field's bars are left as
    they are: AALpy splits a Moore label at its first bar and keeps the rest as the output, so an output
    ``+CMD|x`` written ``+CMD\\|x`` came back to it as another output (fsm-lstm's reader joins the fields after
    the first again; Graphviz draws such an output in several boxes)."""
    for field in fields:
        _check_text(field)
    escaped = [_escaped(f, 'nlr|{}<>"\\ \n', '|{}<>"' if k < len(fields) - 1 else '{}<>"')
               for k, f in enumerate(fields)]
    return '"' + "|".join(escaped) + '"'


def to_dot(g: Grammar, complete: bool = True, picture: bool = False) -> str:
    """Write a grammar as DOT that Graphviz draws and AALpy loads (``complete`` adds a sink to a partial DFA;
    ``picture`` leaves out the ``alphabet`` and ``comment`` that only a reader needs, which Graphviz refuses
    over 16,384 characters).

    A Moore machine is written as AALpy writes one (``label="name|output", shape=record, style=rounded``), a Mealy
    machine with ``label="input/output"`` on its edges; a partial machine stays partial, since a sink would need
    an output."""
    edges = list(g.transitions)
    states = list(g.states)
    moore, mealy = dict(g.state_outputs), dict(g.edge_outputs)
    for a in g.alphabet if mealy else ():
        if "/" in a:
            raise GrammarError(f"input {a!r} holds '/', which a Mealy DOT label INPUT/OUTPUT cannot hold; rename it "
                               "or keep the machine in TOML")
    if complete and g.is_deterministic and not g.machine:
        have = {(p, a) for p, a, _ in edges}
        missing = [(p, a) for p in states for a in g.alphabet if (p, a) not in have]
        if missing:
            sink = "dead"
            while sink in states:
                sink += "_"
            states.append(sink)
            edges += [(p, a, sink) for p, a in missing] + [(sink, a, sink) for a in g.alphabet]
    ids = _node_ids(states)
    lines = [f"digraph {_quote(g.name)} {{", "rankdir=LR;"] + ([] if picture else [
        f"graph [alphabet={_quote(' '.join(g.alphabet))}" + (f", comment={_quote(g.description)}" if g.description
                                                             else "") + "];"])
    for s in states:
        if moore:
            lines.append(f"{ids[s]} [label={_record([s, moore[s]])}, shape=record, "
                         "style=rounded];")
        else:
            shape = ", shape=doublecircle" if s in g.accept else ""
            lines.append(f"{ids[s]} [label={_quote(s)}{shape}];")
    for p, a, q in edges:
        label = f"{a}/{mealy[p, a, q]}" if mealy else a
        lines.append(f"{ids[p]} -> {ids[q]} [label={_quote(label)}];")
    lines += ['__start0 [label="", shape=none];', f'__start0 -> {ids[g.start]} [label=""];', "}"]
    return "\n".join(lines) + "\n"
