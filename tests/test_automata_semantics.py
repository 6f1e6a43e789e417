"""Semantics, determinisation, minimisation and equivalence, against brute force over short strings."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fsm_lstm.automata import determinise, minimise, shortest_accepted, shortest_difference, trim
from fsm_lstm.cli import main
from fsm_lstm.generate import walks
from fsm_lstm.grammar import Grammar
from fsm_lstm.outputs import output_word
from fsm_lstm.semantics import Semantics
from fsm_lstm.toml_format import parse_toml
from fsm_lstm.words import encode
from tests.oracle import accepts, all_words, next_symbols, states_after
from tests.strategies import grammars

SHORT = 5


@settings(max_examples=80, deadline=None)
@given(grammars(max_states=8, max_symbols=3), st.integers(0, 2**32 - 1), st.booleans())
def test_batched_semantics_equal_the_definitions(g, seed, unknown_start):
    sem = Semantics(g, unknown_start=unknown_start)
    initial = set(g.states) if unknown_start else {g.start}
    words = walks(g, np.random.default_rng(seed), count=6, length=40, leave=0.1)
    states = sem.states(words)
    acc, nxt = sem.accept(states), sem.next(states)
    for b, row in enumerate(words):
        word = [g.alphabet[i] for i in row]
        for t in range(len(word) + 1):
            expected = states_after(g, word[:t], initial)
            assert {s for s, on in zip(g.states, states[t, b]) if on} == expected
            assert acc[t, b] == bool(expected & g.accept)
            assert {a for a, on in zip(g.alphabet, nxt[t, b]) if on} == next_symbols(g, expected)


def test_next_means_the_string_can_still_be_completed():
    """next(w) = {a : w a u is accepted for some u}, checked by brute force on a grammar with a dead end."""
    g = parse_toml('start = "a"\naccept = ["c"]\ntransitions = [["a","x","b"], ["a","y","d"], ["b","x","c"],'
                   ' ["d","x","d"]]\n')
    sem = Semantics(g)
    for w in all_words("xy", 3):
        completable = {a for a in "xy" if any(accepts(g, w + (a,) + u) for u in all_words("xy", 4))}
        assert sem.next_symbols(w) == completable, w


@settings(max_examples=80, deadline=None)
@given(grammars(max_states=7, max_symbols=2))
def test_determinise_trim_and_minimise_keep_the_language(g):
    for h in (determinise(g), trim(g), minimise(g)):
        for w in all_words(g.alphabet, SHORT):
            assert accepts(h, w) == accepts(g, w)


def residual_classes(g, depth: int) -> int:
    """Myhill-Nerode by brute force: distinct live residual languages of reachable prefixes (up to depth)."""
    words = list(all_words(g.alphabet, depth))
    seen = set()
    for prefix in all_words(g.alphabet, depth):
        signature = tuple(accepts(g, prefix + u) for u in words)
        if any(signature):
            seen.add(signature)
    return len(seen)


@settings(max_examples=60, deadline=None)
@given(grammars(max_states=5, max_symbols=2, deterministic=True))
def test_minimise_reaches_the_myhill_nerode_size(g):
    m = minimise(g)
    assert m.is_deterministic
    # a DFA of <= 5 states reaches every state within 4 symbols and separates any two within 4
    assert len(m.states) == max(1, residual_classes(g, 4))


@settings(max_examples=80, deadline=None)
@given(grammars(max_states=5, max_symbols=2), grammars(max_states=5, max_symbols=2))
def test_shortest_difference_is_shortest(g1, g2):
    diff = shortest_difference(g1, g2)
    alphabet = sorted(set(g1.alphabet) | set(g2.alphabet))
    brute = next((w for w in all_words(alphabet, 7) if accepts(g1, w) != accepts(g2, w)), None)
    if diff is None:
        assert brute is None
    else:
        assert accepts(g1, diff) != accepts(g2, diff)
        assert brute is not None and len(diff) == len(brute)


@settings(max_examples=80, deadline=None)
@given(grammars(max_states=6, max_symbols=3), st.integers(1, 40), st.randoms(use_true_random=False))
def test_shortest_accepted_strings_come_by_length_then_in_alphabet_order(g, count, random):
    """The order `verify --report` and the workbooks document, whatever the order of the file's transitions (it
    followed that order: a trial saw 'abbb' where 'bbba' is the last of 26, by length then alphabet order)."""
    transitions = list(g.transitions)
    random.shuffle(transitions)
    g = g.with_changes(transitions=tuple(transitions))
    want = [w for w in all_words(g.alphabet, 5) if accepts(g, w)][:count]
    got = shortest_accepted(g, count, max_length=5)
    assert got == want


def test_shortest_accepted_strings_skip_prefixes_no_accepted_string_extends():
    """A complete DFA over 10 symbols whose only word is 'jjjjj': the 10,000 shortest prefixes, nearly all into its
    sink, filled the search before 'jjjjj' was reached ("too long to show", said check)."""
    symbols = tuple("abcdefghij")
    states = tuple(f"q{k}" for k in range(6)) + ("sink",)
    edges = [(f"q{k}", a, f"q{k + 1}" if a == "j" and k < 5 else "sink") for k in range(6) for a in symbols]
    g = Grammar(name="j5", start="q0", accept=frozenset({"q5"}), alphabet=symbols, states=states,
                transitions=tuple(edges + [("sink", a, "sink") for a in symbols]))
    assert shortest_accepted(g, 3) == [tuple("jjjjj")]


def test_encode_pads_and_indexes():
    assert encode([("b", "a"), ("a",)], ("a", "b"), pad=0).tolist() == [[1, 0], [0, 0]]


def _nth_from_last_is_a(n: int) -> str:
    """The classic NFA for "the n-th symbol from the end is a": n + 1 states, 2**n subsets once determinised."""
    edges = ['["q0", "a", "q0"]', '["q0", "b", "q0"]', '["q0", "a", "q1"]']
    edges += [f'["q{i}", "{x}", "q{i + 1}"]' for i in range(1, n) for x in "ab"]
    return f'start = "q0"\naccept = ["q{n}"]\ntransitions = [{", ".join(edges)}]\n'


def test_determinising_is_exact_below_the_limit_and_refused_above_it(tmp_path, capsys):
    small = determinise(parse_toml(_nth_from_last_is_a(6)))
    assert small.is_deterministic and len(small.states) == 2**6
    for w in all_words(("a", "b"), 8):
        assert accepts(small, w) == (len(w) >= 6 and w[-6] == "a")
    path = tmp_path / "blowup.toml"
    path.write_text(_nth_from_last_is_a(20))  # 2**20 subsets, over the 100,000 limit
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "over the limit of 100,000" in err and str(path) in err


def index_of(g):
    """(source, symbol, target) indices of the edges, looked up by name, edge by edge."""
    si, ai = g.state_index, g.symbol_index
    return tuple(np.array([[si[p], ai[a], si[q]][k] for p, a, q in g.transitions], dtype=np.int64) for k in range(3))


@settings(max_examples=60, deadline=None)
@given(grammars(max_states=8, max_symbols=3), st.booleans())
def test_trimmed_and_minimal_grammars_are_valid_and_carry_their_own_edge_index(g, keep_unreachable):
    """trim and minimal_dfa build their results without validating them again, and hand on the edge index they
    already know: each result validates as a new grammar, equals it, and its index is the one looked up by name;
    reachability by breadth-first search equals the fixed point of one step at a time."""
    from fsm_lstm.compiler import minimal_dfa

    for result in (trim(g, keep_unreachable), minimal_dfa(g, keep_unreachable) if g.is_deterministic else trim(g)):
        assert result.with_changes() == result
        assert all(np.array_equal(a, b) for a, b in zip(result.edge_index, index_of(result)))
    live = set(g.accept)
    while True:
        more = live | {p for p, _, q in g.transitions if q in live}
        if more == live:
            break
        live = more
    assert g.coreachable() == live


@st.composite
def machines(draw):
    """A random deterministic Moore or Mealy machine, some of its states unreachable (a hand-made strategy)."""
    n, k = draw(st.integers(1, 6)), draw(st.integers(1, 3))
    states, alphabet = tuple(f"q{i}" for i in range(n)), tuple("abc"[:k])
    edges = tuple((p, a, f"q{draw(st.integers(0, n - 1))}") for p in states for a in alphabet
                  if draw(st.booleans()))
    values = st.sampled_from(["0", "1", "x"])
    if draw(st.booleans()):
        return Grammar(name="m", start="q0", accept=frozenset(), alphabet=alphabet, states=states,
                       transitions=edges, state_outputs=tuple((s, draw(values)) for s in states))
    return Grammar(name="m", start="q0", accept=frozenset(), alphabet=alphabet, states=states, transitions=edges,
                   edge_outputs=tuple((e, draw(values)) for e in edges))


@settings(max_examples=80, deadline=None)
@given(machines(), st.lists(st.sampled_from("abc"), max_size=8))
def test_trimming_a_machine_drops_only_its_unreachable_states_and_keeps_every_output(m, word):
    assume(m.machine)  # a "Mealy machine" without edges has no outputs: it is an acceptor
    word = [a for a in word if a in m.alphabet]
    t = trim(m)
    assert set(t.states) == m.reachable()
    assert output_word(t, word) == output_word(m, word)
    assert trim(m, keep_unreachable=True) == m
