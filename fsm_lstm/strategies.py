"""Hypothesis strategies over grammar strings, for fsm-lstm's verifier and for users' own tests.

Every strategy yields a tuple of symbols, the empty one among them. They shrink well (pump counts towards 0, walks
towards shorter), though not always to the shortest failing string.

    from hypothesis import given
    from fsm_lstm import load_grammar
    from fsm_lstm.strategies import grammar_strings

    @given(grammar_strings(load_grammar("reber")))
    def test_my_model(word): ...
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from .grammar import Grammar

__all__ = ["Word", "any_strings", "every_kind", "grammar_strings", "near_misses"]

Word = tuple[str, ...]


@st.composite
def grammar_strings(draw: st.DrawFn, grammar: Grammar, max_walk: int = 30, max_pumps: int = 300) -> Word:
    """A walk along the grammar's edges from the start; often one of its cycles is pumped up to
    ``max_pumps`` extra times, so loops are tried hundreds of times over."""
    state = grammar.start
    visited = [state]
    symbols: list[str] = []
    for _ in range(draw(st.integers(0, max_walk))):
        options = grammar.out_edges[state]
        if not options:
            break
        symbol, state = draw(st.sampled_from(options))
        symbols.append(symbol)
        visited.append(state)
    cycles = [(i, j) for i in range(len(visited)) for j in range(i + 1, len(visited)) if visited[i] == visited[j]]
    if cycles and draw(st.booleans()):
        i, j = draw(st.sampled_from(cycles))
        extra = draw(st.integers(0, max_pumps))
        symbols = symbols[:i] + symbols[i:j] * (extra + 1) + symbols[j:]
    return tuple(symbols)


@st.composite
def near_misses(draw: st.DrawFn, grammar: Grammar, max_walk: int = 30, max_pumps: int = 300) -> Word:
    """A grammar string with one symbol substituted, inserted or deleted."""
    word = list(draw(grammar_strings(grammar, max_walk, max_pumps)))
    kind = draw(st.sampled_from(["substitute", "insert", "delete"] if word else ["insert"]))
    pos = draw(st.integers(0, len(word) - (0 if kind == "insert" else 1)))
    if kind == "delete":
        del word[pos]
    else:
        symbol = draw(st.sampled_from(grammar.alphabet))
        if kind == "insert":
            word.insert(pos, symbol)
        else:
            word[pos] = symbol
    return tuple(word)


def any_strings(alphabet: Grammar | Sequence[str], max_size: int = 60) -> st.SearchStrategy[Word]:
    """Arbitrary strings over the alphabet (of a grammar, or given as a list)."""
    symbols = alphabet.alphabet if isinstance(alphabet, Grammar) else tuple(alphabet)
    return st.lists(st.sampled_from(symbols), max_size=max_size).map(tuple)


def every_kind(grammar: Grammar, max_pumps: int = 300) -> st.SearchStrategy[Word]:
    """Pumped grammar walks, near misses and arbitrary strings, mixed."""
    return st.one_of(grammar_strings(grammar, max_pumps=max_pumps), near_misses(grammar, max_pumps=max_pumps),
                     any_strings(grammar))
