"""Regular expressions over one-character symbols, turned into a minimal DFA (Glushkov construction).

Syntax: symbols are single characters; ``|`` alternation, ``*`` ``+`` ``?`` repetition, ``( )`` grouping,
``[abc]`` a class, ``.`` any symbol of the alphabet, ``\\x`` a literal metacharacter; white space is ignored.
An empty alternative, as in ``(a|)``, matches the empty string.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .automata import minimise, renumber
from .errors import GrammarError
from .grammar import Grammar

META = set("|*+?()[].\\")


@dataclass(frozen=True)
class Node:
    """A regex syntax node: kind is sym, eps, alt, cat, star, plus or opt."""

    kind: str
    parts: tuple[Node, ...] = ()
    symbol: str = ""
    position: int = -1


class _Parser:
    def __init__(self, text: str, alphabet: Sequence[str] | None) -> None:
        self.text = text
        self.chars = [(k, ch) for k, ch in enumerate(text) if not ch.isspace()]
        self.i = 0
        self.alphabet = alphabet
        self.positions: list[str] = []

    def fail(self, what: str) -> GrammarError:
        col = self.chars[self.i][0] + 1 if self.i < len(self.chars) else len(self.text) + 1
        return GrammarError(f"regex {self.text!r}, column {col}: {what}")

    def peek(self) -> str | None:
        return self.chars[self.i][1] if self.i < len(self.chars) else None

    def take(self) -> str:
        ch = self.chars[self.i][1]
        self.i += 1
        return ch

    def sym(self, a: str) -> Node:
        self.positions.append(a)
        return Node("sym", symbol=a, position=len(self.positions) - 1)

    def parse(self) -> Node:
        node = self.alternation()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()!r}; check for an unbalanced ')'")
        return node

    def alternation(self) -> Node:
        node = self.concatenation()
        while self.peek() == "|":
            self.take()
            node = Node("alt", (node, self.concatenation()))
        return node

    def concatenation(self) -> Node:
        node = Node("eps")
        while self.peek() is not None and self.peek() not in "|)":
            item = self.repetition()
            node = item if node.kind == "eps" else Node("cat", (node, item))
        return node

    def repetition(self) -> Node:
        node = self.atom()
        while self.peek() is not None and self.peek() in "*+?":
            node = Node({"*": "star", "+": "plus", "?": "opt"}[self.take()], (node,))
        return node

    def any_of(self, symbols: Sequence[str]) -> Node:
        nodes = [self.sym(a) for a in symbols]
        node = nodes[0]
        for other in nodes[1:]:
            node = Node("alt", (node, other))
        return node

    def atom(self) -> Node:
        ch = self.peek()
        if ch in ("*", "+", "?"):
            raise self.fail(f"{ch!r} has nothing to repeat; put a symbol or group before it")
        self.take()
        if ch == "(":
            node = self.alternation()
            if self.peek() != ")":
                raise self.fail("missing ')'; close every '('")
            self.take()
            return node
        if ch == "[":
            members = []
            while self.peek() not in ("]", None):
                members.append(self.take())
            if self.peek() is None:
                raise self.fail("missing ']'; close the symbol class")
            self.take()
            if not members:
                raise self.fail("empty symbol class '[]'; list at least one symbol")
            return self.any_of(list(dict.fromkeys(members)))
        if ch == ".":
            if not self.alphabet:
                raise self.fail("'.' needs an explicit `alphabet` in the grammar file")
            return self.any_of(self.alphabet)
        if ch == "\\":
            if self.peek() is None:
                raise self.fail("'\\' at the end escapes nothing")
            return self.sym(self.take())
        if ch == ")":
            raise self.fail("unbalanced ')'; remove it or add a '('")
        return self.sym(ch)  # type: ignore[arg-type]


def _glushkov(node: Node, follow: list[set[int]]) -> tuple[bool, set[int], set[int]]:
    """Return (nullable, first, last) of ``node`` and fill ``follow``."""
    if node.kind == "eps":
        return True, set(), set()
    if node.kind == "sym":
        return False, {node.position}, {node.position}
    if node.kind == "alt":
        (n1, f1, l1), (n2, f2, l2) = (_glushkov(p, follow) for p in node.parts)
        return n1 or n2, f1 | f2, l1 | l2
    if node.kind == "cat":
        (n1, f1, l1), (n2, f2, l2) = (_glushkov(p, follow) for p in node.parts)
        for p in l1:
            follow[p] |= f2
        return n1 and n2, f1 | (f2 if n1 else set()), l2 | (l1 if n2 else set())
    nullable, first, last = _glushkov(node.parts[0], follow)
    if node.kind in ("star", "plus"):
        for p in last:
            follow[p] |= first
    return nullable or node.kind in ("star", "opt"), first, last


def regex_grammar(pattern: str, name: str = "regex", alphabet: Sequence[str] | None = None,
                  description: str = "") -> Grammar:
    """The minimal DFA of ``pattern``, with states q0 (start), q1, ... in breadth-first order."""
    parser = _Parser(pattern, alphabet)
    tree = parser.parse()
    follow: list[set[int]] = [set() for _ in parser.positions]
    nullable, first, last = _glushkov(tree, follow)
    symbols = list(alphabet) if alphabet else list(dict.fromkeys(parser.positions))
    for a in parser.positions:
        if a not in symbols:
            raise GrammarError(f"regex {pattern!r} uses symbol {a!r}, which is not in the alphabet {symbols}; "
                               "add it to `alphabet`")
    if not symbols:
        raise GrammarError(f"regex {pattern!r} has no symbols; give an `alphabet` or use symbols in the regex")
    states = ["init"] + [f"p{k}" for k in range(len(parser.positions))]
    edges = [("init", parser.positions[p], f"p{p}") for p in sorted(first)]
    edges += [(f"p{p}", parser.positions[r], f"p{r}") for p in range(len(follow)) for r in sorted(follow[p])]
    accept = {f"p{p}" for p in last} | ({"init"} if nullable else set())
    nfa = Grammar(name=name, start="init", accept=frozenset(accept), alphabet=tuple(symbols),
                  states=tuple(states), transitions=tuple(edges), description=description)
    return renumber(minimise(nfa))
