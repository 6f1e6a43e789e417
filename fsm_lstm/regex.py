"""Regular expressions over one-character symbols, turned into a minimal DFA (Glushkov construction).

Syntax: symbols are single characters; ``|`` alternation, ``*`` ``+`` ``?`` repetition, ``{m}`` ``{m,}``
``{m,n}`` counted repetition (n <= 1000), ``( )`` grouping, ``[abc]`` a class with ranges ``[a-z]`` (a range
keeps the alphabet's symbols in it, or, without an alphabet, every character of at most 256), ``[^abc]`` the
alphabet's other symbols, ``.`` any symbol of the alphabet, ``\\x`` a literal metacharacter; white space is
ignored. An empty alternative, as in ``(a|)``, matches the empty string. A regex always matches whole strings,
so ``^`` may begin it and ``$`` end it (they change nothing); anywhere else they are refused, as are a stray
``{``, ``}`` or ``]``: write ``\\^``, ``\\$``, ``\\{``, ``\\}`` or ``\\]`` for those symbols.

The parser and the construction use no recursion, so nesting depth is not limited; size is: at most
MAX_POSITIONS symbol occurrences after ``{m,n}`` is expanded, MAX_NFA_EDGES edges in the position automaton and
MAX_DFA_STATES states in its determinisation. Over a limit, the error says which and by how much.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .automata import determinise, minimise, renumber
from .errors import GrammarError
from .grammar import MAX_DFA_STATES, Grammar

__all__ = ["MAX_NFA_EDGES", "MAX_POSITIONS", "MAX_RANGE", "MAX_REPEAT", "META", "Node", "regex_grammar"]

META = set("|*+?()[].\\{}^$")
MAX_REPEAT = 1000
MAX_POSITIONS = 10_000
MAX_NFA_EDGES = 1_000_000
MAX_RANGE = 256


@dataclass(frozen=True, eq=False)
class Node:
    """A regex syntax node: kind is sym, eps, alt, cat (both n-ary), star, plus or opt."""

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

    def fail(self, what: str, at: int | None = None) -> GrammarError:
        k = self.i if at is None else at
        col = self.chars[k][0] + 1 if k < len(self.chars) else len(self.text) + 1
        return GrammarError(f"regex {self.text[:80]!r}{'...' if len(self.text) > 80 else ''}, column {col}: {what}")

    def peek(self) -> str | None:
        return self.chars[self.i][1] if self.i < len(self.chars) else None

    def take(self) -> str:
        ch = self.chars[self.i][1]
        self.i += 1
        return ch

    def sym(self, a: str) -> Node:
        if len(self.positions) >= MAX_POSITIONS:
            raise self.fail(f"the regex has over {MAX_POSITIONS:,} symbol occurrences (after expanding "
                            "{m,n}), over the limit; write a smaller one")
        self.positions.append(a)
        return Node("sym", symbol=a, position=len(self.positions) - 1)

    def any_of(self, symbols: Sequence[str]) -> Node:
        nodes = tuple(self.sym(a) for a in symbols)
        return nodes[0] if len(nodes) == 1 else Node("alt", nodes)

    def parse(self) -> Node:
        """The syntax tree, built with an explicit stack of open groups (no recursion)."""
        stack: list[tuple[int, list[list[Node]]]] = [(-1, [[]])]  # (index of the '(', alternatives)
        first, last = 0, len(self.chars) - 1
        while self.peek() is not None:
            at = self.i
            ch = self.take()
            items = stack[-1][1][-1]
            if ch == "(":
                stack.append((at, [[]]))
            elif ch == ")":
                if len(stack) == 1:
                    raise self.fail("unbalanced ')'; remove it or add a '('", at)
                _, alts = stack.pop()
                stack[-1][1][-1].append(_group(alts))
            elif ch == "|":
                stack[-1][1].append([])
            elif ch in "*+?":
                if not items:
                    raise self.fail(f"{ch!r} has nothing to repeat; put a symbol or group before it", at)
                items[-1] = Node({"*": "star", "+": "plus", "?": "opt"}[ch], (items[-1],))
            elif ch == "{":
                if not items:
                    raise self.fail("'{' has nothing to repeat; put a symbol or group before it, or write \\{ "
                                    "for the symbol", at)
                items[-1] = self.counted(items[-1], at)
            elif ch == "}":
                raise self.fail("unmatched '}'; write \\} for the symbol", at)
            elif ch == "]":
                raise self.fail("unmatched ']'; write \\] for the symbol", at)
            elif ch == "^":
                if at != first:
                    raise self.fail("'^' is an anchor, and a regex always matches whole strings, so it may only "
                                    "begin the regex; write \\^ for the symbol", at)
            elif ch == "$":
                if at != last or len(stack) > 1:
                    raise self.fail("'$' is an anchor, and a regex always matches whole strings, so it may only "
                                    "end the regex; write \\$ for the symbol", at)
            elif ch == "[":
                items.append(self.symbol_class(at))
            elif ch == ".":
                if not self.alphabet:
                    raise self.fail("'.' needs an explicit `alphabet` in the grammar file", at)
                items.append(self.any_of(self.alphabet))
            elif ch == "\\":
                if self.peek() is None:
                    raise self.fail("'\\' at the end escapes nothing", at)
                items.append(self.sym(self.take()))
            else:
                items.append(self.sym(ch))
        if len(stack) > 1:
            raise self.fail("missing ')'; close every '('", stack[-1][0])
        return _group(stack[0][1])

    def counted(self, node: Node, at: int) -> Node:
        """``node{m}``, ``node{m,}`` or ``node{m,n}``, expanded with fresh positions for every copy."""
        spec = ""
        while self.peek() not in ("}", None):
            spec += self.take()
        if self.peek() is None:
            raise self.fail("'{' is not closed; a repetition is {m}, {m,} or {m,n}, and \\{ is the symbol", at)
        self.take()
        low, comma, high = spec.partition(",")
        if not low.isdigit() or not (high.isdigit() or high == "") or not low.isascii() or not high.isascii():
            raise self.fail(f"'{{{spec}}}' is not a repetition {{m}}, {{m,}} or {{m,n}} with whole numbers; "
                            "write \\{ for the symbol", at)
        m = int(low)
        n = m if not comma else (None if high == "" else int(high))
        if n is not None and n < m:
            raise self.fail(f"'{{{spec}}}' repeats at least {m} but at most {n} times; swap the numbers", at)
        if max(m, n or 0) > MAX_REPEAT:
            raise self.fail(f"'{{{spec}}}' repeats over {MAX_REPEAT:,} times, over the limit", at)
        copies = [node] + [self.clone(node) for _ in range(max(m, 1 if n is None else n) - 1)]
        if m == 0 and n == 0:
            return Node("eps")
        items = copies[:m]
        if n is None:
            items.append(Node("star", (copies[m] if m == 0 else self.clone(node),)))
        else:
            tail: Node | None = None
            for copy in reversed(copies[m:n]):
                tail = Node("opt", (copy if tail is None else Node("cat", (copy, tail)),))
            if tail is not None:
                items.append(tail)
        return items[0] if len(items) == 1 else Node("cat", tuple(items))

    def clone(self, node: Node) -> Node:
        """A copy of ``node`` with fresh positions (iterative)."""
        done: dict[int, Node] = {}
        stack = [(node, False)]
        while stack:
            n, ready = stack.pop()
            if n.kind == "sym":
                done[id(n)] = self.sym(n.symbol)
            elif n.kind == "eps":
                done[id(n)] = Node("eps")
            elif ready:
                done[id(n)] = Node(n.kind, tuple(done[id(p)] for p in n.parts))
            else:
                stack.append((n, True))
                stack.extend((p, False) for p in reversed(n.parts))
        return done[id(node)]

    def symbol_class(self, at: int) -> Node:
        """``[...]`` after its '[': members, ranges ``a-z`` and a leading ``^`` (the alphabet's other symbols)."""
        negate = self.peek() == "^"
        if negate:
            self.take()
        raw: list[tuple[str, bool]] = []  # (character, escaped)
        while self.peek() not in ("]", None):
            ch = self.take()
            if ch == "\\":
                if self.peek() is None:
                    break
                raw.append((self.take(), True))
            else:
                raw.append((ch, False))
        if self.peek() is None:
            raise self.fail("missing ']'; close the symbol class", at)
        self.take()
        members: list[str] = []
        k = 0
        while k < len(raw):
            ch, _ = raw[k]
            if k + 2 < len(raw) and raw[k + 1] == ("-", False):
                hi = raw[k + 2][0]
                members += self.char_range(ch, hi, at)
                k += 3
            else:
                members.append(ch)
                k += 1
        members = list(dict.fromkeys(members))
        if negate:
            if not self.alphabet:
                raise self.fail("'[^...]' needs an explicit `alphabet` in the grammar file", at)
            members = [a for a in self.alphabet if a not in members]
            if not members:
                raise self.fail("'[^...]' leaves no symbol of the alphabet", at)
        if not members:
            raise self.fail("empty symbol class '[]'; list at least one symbol", at)
        return self.any_of(members)

    def char_range(self, lo: str, hi: str, at: int) -> list[str]:
        if ord(lo) > ord(hi):
            raise self.fail(f"range {lo!r}-{hi!r} runs backwards; write {hi!r}-{lo!r}", at)
        if self.alphabet:
            inside = [a for a in self.alphabet if len(a) == 1 and ord(lo) <= ord(a) <= ord(hi)]
            if not inside:
                raise self.fail(f"range {lo!r}-{hi!r} holds no symbol of the alphabet", at)
            return inside
        if ord(hi) - ord(lo) >= MAX_RANGE:
            raise self.fail(f"range {lo!r}-{hi!r} spans {ord(hi) - ord(lo) + 1:,} characters; give an `alphabet` "
                            f"(a range then keeps its symbols) or a range of at most {MAX_RANGE}", at)
        return [chr(c) for c in range(ord(lo), ord(hi) + 1)]


def _group(alts: list[list[Node]]) -> Node:
    """The node of a group's alternatives, each a concatenation."""
    nodes = tuple(Node("eps") if not items else items[0] if len(items) == 1 else Node("cat", tuple(items))
                  for items in alts)
    return nodes[0] if len(nodes) == 1 else Node("alt", nodes)


def _glushkov(root: Node, follow: list[set[int]], pattern: str) -> tuple[bool, set[int], set[int]]:
    """Return (nullable, first, last) of ``root`` and fill ``follow``, in post-order without recursion."""
    done: dict[int, tuple[bool, set[int], set[int]]] = {}
    edges = 0

    def link(sources: set[int], targets: set[int]) -> None:
        nonlocal edges
        for p in sources:
            before = len(follow[p])
            follow[p] |= targets
            edges += len(follow[p]) - before
        if edges > MAX_NFA_EDGES:
            raise GrammarError(f"regex {pattern[:80]!r}: its position automaton has over {MAX_NFA_EDGES:,} edges, "
                               "over the limit; write a smaller regex")

    stack = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if node.kind == "eps":
            done[id(node)] = (True, set(), set())
        elif node.kind == "sym":
            done[id(node)] = (False, {node.position}, {node.position})
        elif not ready:
            stack.append((node, True))
            stack.extend((p, False) for p in reversed(node.parts))
        elif node.kind == "alt":
            parts = [done.pop(id(p)) for p in node.parts]
            done[id(node)] = (any(n for n, _, _ in parts), set().union(*(f for _, f, _ in parts)),
                              set().union(*(la for _, _, la in parts)))
        elif node.kind == "cat":
            nullable, first, last = done.pop(id(node.parts[0]))
            for part in node.parts[1:]:
                n2, f2, l2 = done.pop(id(part))
                link(last, f2)
                if nullable:
                    first = first | f2
                last = l2 | last if n2 else l2
                nullable = nullable and n2
            done[id(node)] = (nullable, first, last)
        else:
            nullable, first, last = done.pop(id(node.parts[0]))
            if node.kind in ("star", "plus"):
                link(last, first)
            done[id(node)] = (nullable or node.kind in ("star", "opt"), first, last)
    return done[id(root)]


def regex_grammar(pattern: str, name: str = "regex", alphabet: Sequence[str] | None = None,
                  description: str = "") -> Grammar:
    """The minimal DFA of ``pattern``, with states q0 (start), q1, ... in breadth-first order."""
    parser = _Parser(pattern, alphabet)
    tree = parser.parse()
    follow: list[set[int]] = [set() for _ in parser.positions]
    nullable, first, last = _glushkov(tree, follow, pattern)
    symbols = list(alphabet) if alphabet else list(dict.fromkeys(parser.positions))
    known = set(symbols)
    for a in parser.positions:
        if a not in known:
            raise GrammarError(f"regex {pattern[:80]!r} uses symbol {a!r}, which is not in the alphabet "
                               f"{symbols[:20]}; add it to `alphabet`")
    if not symbols:
        raise GrammarError(f"regex {pattern[:80]!r} has no symbols; give an `alphabet` or use symbols in the regex")
    states = ["init"] + [f"p{k}" for k in range(len(parser.positions))]
    edges = [("init", parser.positions[p], f"p{p}") for p in sorted(first)]
    edges += [(f"p{p}", parser.positions[r], f"p{r}") for p in range(len(follow)) for r in sorted(follow[p])]
    accept = {f"p{p}" for p in last} | ({"init"} if nullable else set())
    nfa = Grammar(name=name, start="init", accept=frozenset(accept), alphabet=tuple(symbols),
                  states=tuple(states), transitions=tuple(edges), description=description)
    try:
        dfa = determinise(nfa, MAX_DFA_STATES)
    except GrammarError as exc:
        raise GrammarError(f"regex {pattern[:80]!r}: {exc}") from None
    return renumber(minimise(dfa))
