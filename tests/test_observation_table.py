"""L*'s observation table with sifted rows, judged by the grammar's own semantics: a compiled network's accept
head is the grammar's acceptance after every prefix (it is certified), and a plain dictionary walk of the
grammar gives the expected cells."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_lstm.automata import equivalent, minimise
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.errors import UserError
from fsm_lstm.extract import extract
from fsm_lstm.generate import random_dfa
from fsm_lstm.grammar import Grammar
from fsm_lstm.lstar import learn
from fsm_lstm.observation_table import ObservationTable
from fsm_lstm.queries import Network
from fsm_lstm.recurrence import rows_of
from fsm_lstm.reading import reading_of
from fsm_lstm.sampling import observe, random_words
from tests.test_verdicts import marked


def accepts(g: Grammar, word: tuple[str, ...]) -> bool:
    """Acceptance by walking the transition table (a missing edge rejects)."""
    table = {(p, a): q for p, a, q in g.transitions}
    state: str | None = g.start
    for a in word:
        state = table.get((state, a))
    return state in g.accept


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), states=st.integers(2, 14), symbols=st.integers(2, 4),
       lazy=st.booleans())
def test_every_cell_the_table_asked_is_the_grammars_answer_and_every_edge_goes_where_its_cells_say(
        seed, states, symbols, lazy):
    rng = np.random.default_rng(seed)
    g = random_dfa(rng, states, symbols)
    model = compile_grammar(g)
    net = Network(model, reading_of(model))
    table = ObservationTable(net, np.array([model.heads.index("accept")]), len(net.inner), lazy=lazy)
    for _ in range(6):  # grow the table as L* does: new columns, loose edges promoted
        table.add_suffix(tuple(rng.integers(0, len(net.inner), size=int(rng.integers(1, 5))).tolist()))
        machine, loose = table.hypothesis(("accept",), net.inner)
        new = [row for row in loose.values() if table.complete(row) or lazy]
        if new:
            table.fill(new[:1])
            table.promote(new[:1] if table.is_new(new[0]) else [])
    machine, loose = table.hypothesis(("accept",), net.inner)

    def spelled(word: tuple[int, ...]) -> tuple[str, ...]:
        return tuple(net.inner[a] for a in word)

    asked = np.argwhere(table.known)
    assert len(asked) >= len(table.words)  # every row knows its own output at least
    for r, j in asked:
        assert table.cells[r, j, 0] == accepts(g, spelled(table.words[r] + table.suffixes[j]))
    access = table.cells[table.access, :, 0]
    assert table.known[table.access].all() and len(np.unique(access, axis=0)) == len(access)
    for k in range(machine.size):
        for a in range(len(net.inner)):
            row = table.extensions[k, a]
            agrees = [q for q in range(len(access)) if
                      (table.cells[row, table.known[row], 0] == access[q, table.known[row]]).all()]
            if (k, a) in loose:
                assert agrees == []
            else:
                assert agrees == [machine.delta[k, a]]
    if not lazy:
        assert table.known[table.extensions.reshape(-1)].all()


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), states=st.integers(2, 10), symbols=st.integers(2, 4))
def test_a_word_level_fill_reads_each_cell_after_the_end_marker_with_suffixes_sharing_prefixes(seed, states, symbols):
    """A word classifier (START w END): each cell is the verdict on the whole word row + suffix, read after the end
    marker, also where suffixes share a trie branch (s, s + a, s + a + b: one node's products serve its children and
    its end marker) and where a row asks a suffix and one of its prefixes."""
    rng = np.random.default_rng(seed)
    g = random_dfa(rng, states, symbols)
    model = compile_grammar(marked(g))
    model = dataclasses.replace(model, extra={"final_only": True, "start_marker": "<s>", "end_marker": "</s>"})
    net = Network(model, reading_of(model))
    assert net.inner == g.alphabet
    table = ObservationTable(net, np.array([model.heads.index("accept")]), len(net.inner), lazy=True)
    stem = tuple(rng.integers(0, symbols, size=int(rng.integers(1, 3))).tolist())
    for extra in ((), (0,), (0, 1), (1,), (1, 1, 0)):  # a branch of the trie: the stem, then its extensions
        if stem + extra not in table.suffixes:
            table.add_suffix(stem + extra)
    rows = rng.choice(len(table.words), size=min(len(table.words), 5), replace=False)
    before = net.calls
    missing = (~table.known[rows]).sum()
    table.fill(rows)
    assert net.calls - before == missing and table.known[rows].all()
    for r in rows:
        for j, suffix in enumerate(table.suffixes):
            word = tuple(net.inner[a] for a in table.words[r] + suffix)
            assert table.cells[r, j, 0] == accepts(g, word), word


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), states=st.integers(2, 10), symbols=st.integers(2, 4))
def test_a_fill_asks_each_missing_cell_once_and_leaves_known_cells_alone(seed, states, symbols):
    rng = np.random.default_rng(seed)
    g = random_dfa(rng, states, symbols)
    model = compile_grammar(g)
    net = Network(model, reading_of(model))
    table = ObservationTable(net, np.array([model.heads.index("accept")]), len(net.inner), lazy=True)
    for _ in range(4):
        table.add_suffix(tuple(rng.integers(0, len(net.inner), size=int(rng.integers(1, 5))).tolist()))
    rows = rng.choice(len(table.words), size=min(len(table.words), 6), replace=False)
    for r in rows:  # a few cells of each row asked first, as sifting asks them
        table.fill([r], rng.choice(len(table.suffixes), size=int(rng.integers(1, 3)), replace=False))
    rows = rng.choice(len(table.words), size=min(len(table.words), 6), replace=False)
    known = table.known[rows].copy()
    marked = np.argwhere(known)  # known cells flipped: a fill that asks them again would mend them
    table.cells[rows[marked[:, 0]], marked[:, 1]] ^= True
    before = net.calls
    table.fill(rows)
    assert net.calls - before == (~known).sum()  # one word asked per missing cell, none for a known one
    assert table.known[rows].all()
    for (r, j), flipped in zip(np.argwhere(np.ones_like(known)), known.reshape(-1)):
        word = tuple(net.inner[a] for a in table.words[rows[r]] + table.suffixes[j])
        assert table.cells[rows[r], j, 0] == (accepts(g, word) != flipped)


@pytest.mark.parametrize("seed", [3, 11])
def test_lstar_with_sifted_rows_recovers_a_compiled_dfa_exactly(seed, monkeypatch):
    """Sifting is used on large networks only; forced here on a compiled one, whose DFA must come back."""
    from fsm_lstm import lstar
    monkeypatch.setattr(lstar, "SIFT_ABOVE", -1)
    g = random_dfa(np.random.default_rng(seed), 15, 3)
    result = extract(compile_grammar(g), samples=300)
    assert equivalent(result.grammar, g) and result.states == len(minimise(g).states)
    assert result.stopped is None and result.fidelity == 1.0


def test_learn_refuses_a_patience_below_one_round_in_one_line():
    model = compile_grammar(random_dfa(np.random.default_rng(0), 4, 2))
    net = Network(model, reading_of(model))
    columns = np.array([model.heads.index("accept")])
    rng = np.random.default_rng(0)
    base = observe(net, columns, random_words(rng, 2, 20, 5))
    asked = net.calls
    for patience in (0, -3):
        with pytest.raises(UserError) as caught:
            learn(net, columns, ("accept",), base, rng, patience=patience)
        assert str(caught.value) == f"--patience must be at least 1 round, not {patience}"
    assert net.calls == asked  # refused before a single query


@given(st.lists(st.integers(-13, 12), max_size=12).map(sorted))
def test_a_walks_rows_are_a_view_only_when_they_are_a_run(index):
    """The walk takes a step's parents without a copy when they are consecutive rows; a repeated parent (a node
    with two children) or a gap (a node whose cells ended) must gather, and so must rows counted from the end."""
    a = np.arange(13 * 2).reshape(13, 2)
    taken = rows_of(a, np.array(index, dtype=np.int64))
    assert np.array_equal(taken, a[index])
    run = len(index) > 0 and index[0] >= 0 and index == list(range(index[0], index[0] + len(index)))
    assert np.shares_memory(taken, a) == run
