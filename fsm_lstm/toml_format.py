"""Grammar files in TOML (keys documented in docs/grammar-format.md): read with validation, and written back."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections import Counter
from typing import Any

from .errors import GrammarError
from .grammar import Grammar, check_output, check_symbol
from .regex import regex_grammar

__all__ = ["KEYS", "load_toml", "parse_toml", "to_toml"]

KEYS = ("name", "description", "start", "accept", "alphabet", "states", "transitions", "regex", "outputs")


def _line_of_transition(text: str, k: int) -> int | None:
    """Line number where the k-th element of the ``transitions`` array starts, if it can be found."""
    m = re.search(r"^\s*transitions\s*=\s*\[", text, re.MULTILINE)
    if not m:
        return None
    depth, quote, count, pos = 1, "", -1, m.end() - 1
    while pos + 1 < len(text):
        pos += 1
        ch = text[pos]
        if quote:
            if ch == quote and text[pos - 1] != "\\":
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            pos = text.find("\n", pos) if "\n" in text[pos:] else len(text)
        elif ch == "[":
            depth += 1
            if depth == 2:
                count += 1
                if count == k:
                    return text.count("\n", 0, pos) + 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return None
    return None


def _strings(data: dict[str, Any], key: str) -> list[str]:
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise GrammarError(f"`{key}` must be a list of strings, like {key} = [\"a\", \"b\"]")
    return value


def parse_toml(text: str, default_name: str = "grammar") -> Grammar:
    """Parse grammar TOML text; errors name the key (the caller adds the file and line)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GrammarError(f"not valid TOML: {exc}; fix the syntax there") from None
    except RecursionError:
        raise GrammarError("not a grammar: arrays or tables nested too deeply for TOML; a grammar file needs "
                           "only lists of strings") from None
    for key in data:
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f"did you mean `{close[0]}`?" if close else f"known keys: {', '.join(KEYS)}"
            raise GrammarError(f"unknown key `{key}`; {hint}")
    for key in ("name", "description", "start", "regex"):
        if key in data and not isinstance(data[key], str):
            raise GrammarError(f"`{key}` must be a string, like {key} = \"...\"")
    name = data.get("name", default_name)
    description = data.get("description", "")
    alphabet = _strings(data, "alphabet") if "alphabet" in data else None
    if alphabet is not None:
        if not alphabet:
            raise GrammarError("`alphabet` is empty; list the symbols, or leave the key out to take them from the "
                               "edges")
        for a in alphabet:
            check_symbol(a, "alphabet")
    if "regex" in data:
        extra = [k for k in ("transitions", "start", "accept", "states", "outputs") if k in data]
        if extra:
            raise GrammarError(f"`regex` and `{extra[0]}` cannot be combined; give either a regex or transitions")
        return regex_grammar(data["regex"], name=name, alphabet=alphabet, description=description)
    if "transitions" not in data:
        raise GrammarError("no `transitions` (and no `regex`); add transitions = [[\"from\", \"symbol\", \"to\"], ...]")
    if "start" not in data:
        raise GrammarError("no `start` state; add start = \"NAME\" naming the state before the first symbol")
    edges = data["transitions"]
    if not isinstance(edges, list):
        raise GrammarError("`transitions` must be a list of [from, symbol, to] triples")
    mealy = bool(edges) and isinstance(edges[0], list) and len(edges[0]) == 4
    if "accept" not in data and not (mealy or "outputs" in data):
        raise GrammarError("no `accept` list; add accept = [\"NAME\", ...] (it may be empty)")
    accept = _strings(data, "accept") if "accept" in data else []
    twice = next((q for q, n in Counter(accept).items() if n > 1), None)
    if twice is not None:  # as a state listed twice in `states` is
        raise GrammarError(f"accepting state {twice!r} is listed twice in `accept`; list it once")
    triples, edge_outputs = [], []
    for k, edge in enumerate(edges):
        size = 4 if mealy else 3
        if not (isinstance(edge, list) and len(edge) == size and all(isinstance(x, str) for x in edge)):
            shape = "[\"from\", \"input\", \"to\", \"output\"] in a Mealy machine (every transition has an " \
                "output, as the first one does)" if mealy else "[\"from\", \"symbol\", \"to\"], or [from, input, to, " \
                "output] for every transition of a Mealy machine"
            raise GrammarError(f"transitions[{k}] is {edge!r}; each transition is {shape}")
        check_symbol(edge[1], f"transitions[{k}]")
        triples.append(tuple(edge[:3]))
        if mealy:
            edge_outputs.append((tuple(edge[:3]), check_output(edge[3], f"transitions[{k}]")))
    state_outputs = _state_outputs(data) if "outputs" in data else ()
    if mealy and state_outputs:
        raise GrammarError("`outputs` (Moore, one per state) and 4-element transitions (Mealy) cannot be combined; "
                           "give outputs on the states or on the edges")
    symbols = list(alphabet) if alphabet is not None else []
    if alphabet is None:
        symbols = list(dict.fromkeys(a for _, a, _ in triples))
    if "states" in data:
        states = _strings(data, "states")
    else:
        mentioned = [s for p, _, q in triples for s in (p, q)]
        if triples and data["start"] not in mentioned:
            raise GrammarError(f"start state {data['start']!r} does not appear in any transition; "
                               "fix the name or list it in `states`")
        states = list(dict.fromkeys([data["start"], *mentioned]))
    return Grammar(name=name, start=data["start"], accept=frozenset(accept), alphabet=tuple(symbols),
                   states=tuple(states), transitions=tuple(triples), description=description,
                   state_outputs=state_outputs, edge_outputs=tuple(edge_outputs))


def _state_outputs(data: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The ``outputs`` table of a Moore machine: state name -> output."""
    table = data["outputs"]
    if not isinstance(table, dict) or not table:
        raise GrammarError("`outputs` must be a table of state = \"output\" (a Moore machine), like "
                           "outputs = { idle = \"wait\", brewing = \"coffee\" }")
    return tuple((state, check_output(value, f"outputs.{state}")) for state, value in table.items())


def load_toml(path: str, text: str, default_name: str) -> Grammar:
    """Parse a grammar file's text; every error names the file and, where known, the line."""
    try:
        return parse_toml(text, default_name)
    except GrammarError as exc:
        msg = str(exc)
        m = re.match(r"transitions\[(\d+)\]", msg)
        line = _line_of_transition(text, int(m.group(1))) if m else None
        where = f"{path}, line {line}" if line else path
        raise GrammarError(f"{where}: {msg}") from None


_CONTROL = re.compile(r'[\x00-\x1f\x7f"\\]')
_SHORT = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def _q(s: str) -> str:
    """``s`` as a TOML basic string: quotes, backslashes and control characters (DEL too) escaped; a lone
    surrogate, which TOML cannot hold, is refused."""
    if not s.isascii() and any(0xD800 <= ord(ch) <= 0xDFFF for ch in s):
        raise GrammarError(f"{s[:60]!r} contains a lone surrogate, which a grammar file cannot hold; rename it")
    return '"' + _CONTROL.sub(lambda m: _SHORT.get(m.group()) or f"\\u{ord(m.group()):04X}", s) + '"'


def to_toml(g: Grammar) -> str:
    """Write a grammar as TOML that :func:`parse_toml` reads back to an equal grammar."""
    lines = [f"name = {_q(g.name)}"]
    if g.description:
        lines.append(f"description = {_q(g.description)}")
    lines += [f"start = {_q(g.start)}",
              f"accept = [{', '.join(_q(s) for s in g.states if s in g.accept)}]",
              f"alphabet = [{', '.join(_q(a) for a in g.alphabet)}]",
              f"states = [{', '.join(_q(s) for s in g.states)}]",
              "transitions = ["]
    mealy = dict(g.edge_outputs)
    quoted = {s: _q(s) for s in (*g.states, *g.alphabet)}  # each name quoted once, not once per edge
    lines += [f"  [{quoted[p]}, {quoted[a]}, {quoted[q]}{f', {_q(mealy[p, a, q])}' if mealy else ''}],"
              for p, a, q in g.transitions]
    lines.append("]")
    if g.state_outputs:
        lines += ["", "[outputs]"] + [f"{_q(s)} = {_q(v)}" for s, v in g.state_outputs]
    return "\n".join(lines) + "\n"
