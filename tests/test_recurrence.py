"""A step split into recurrent products and children (:mod:`fsm_lstm.recurrence`) gives the very bits of the
runtime's own step (``runtime.Stepper``, which the import tests check against PyTorch's formulas), and the
observation table, which keeps its rows' products, answers what whole words run through that stepper answer."""

from __future__ import annotations

import dataclasses
from unittest.mock import patch

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_lstm import recurrence
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.generate import random_dfa
from fsm_lstm.observation_table import ObservationTable
from fsm_lstm.queries import Network
from fsm_lstm.reading import Reading, reading_of
from fsm_lstm.sampling import observe, random_words
from tests.test_region_proof import GATES, random_model

ALPHABET = ("<s>", "a", "b", "c", "</s>")


def stepper_verdicts(net: Network, words: list[tuple[int, ...]]) -> np.ndarray:
    """The accept head after each whole inner word (and the end marker), one word at a time through the
    runtime's stepper alone."""
    out = []
    for w in words:
        state = net.unpack(net.initial(1))
        for a in w:
            state = net.stepper.step(state, net.symbols[[a]])
        if net.end is not None:
            state = net.stepper.step(state, np.array([net.end]))
        out.append(net.stepper.heads(state)[0, 0] > 0)
    return np.array(out)


models = st.builds(random_model, st.sampled_from(sorted(GATES)), st.integers(1, 6), st.integers(1, 2),
                   st.floats(0.1, 4.0), st.integers(0, 2**16), st.just(ALPHABET))
readings = st.sampled_from([Reading(), Reading(True, "<s>", "</s>"), Reading(True, None, "</s>")])


def stepped(net: Network, packed: np.ndarray, symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The runtime stepper's next states and judging logits (after the end marker, if any) of a batch; BLAS
    may round a product of a few rows differently from the same rows in a larger batch, so the batch is the
    one the split step is given."""
    after = net.pack(net.stepper.step(net.unpack(packed), net.symbols[symbols]))
    ended = net.unpack(packed)
    if net.end is not None:
        ended = net.stepper.step(ended, np.full(len(packed), net.end))
    return after, net.stepper.heads(ended)


@settings(max_examples=40, deadline=None)
@given(model=models, reading=readings, seed=st.integers(0, 2**16), batch=st.sampled_from([17, 150]))
def test_split_steps_and_the_end_marker_give_the_steppers_bits(model, reading, seed, batch):
    """150 rows are three blocks of ``children``'s elementwise work (64 rows each here); a step of some rows
    of a state (repeated, with gaps, or a run) is that of those rows."""
    net = Network(model, reading)
    rng, K = np.random.default_rng(seed), len(net.inner)
    packed = net.initial(batch)
    for _ in range(int(rng.integers(0, 6))):
        packed = net.pack(net.stepper.step(net.unpack(packed), net.symbols[rng.integers(0, K, batch)]))
    symbols = rng.integers(0, K, batch)
    expected_next, expected_logits = stepped(net, packed, symbols)
    with patch.object(recurrence, "_CHUNK", 0):  # blocks of 64 rows, the fewest
        assert np.array_equal(net.step(packed, symbols), expected_next)
        assert np.array_equal(net.logits(packed), expected_logits)
        shared = net.products(packed)
        assert np.array_equal(net.step(packed, symbols, shared), expected_next)
        assert np.array_equal(net.logits(packed, shared), expected_logits)
        state = net.unpack(packed)
        for rows in (np.sort(rng.integers(0, batch, batch)), np.arange(3, batch - 2)):
            some_next, some_logits = stepped(net, packed[rows], symbols[rows])  # products of these rows alone
            assert np.array_equal(net.pack(net.advance(state, symbols[rows], None, rows)), some_next)
            assert np.array_equal(net.judge(state, None, rows), some_logits)
            # the whole batch's products, of which these rows take theirs: as if gathered first
            assert np.array_equal(net.pack(net.advance(state, symbols[rows], shared, rows)),
                                  net.step(packed[rows], symbols[rows], shared[rows]))
            assert np.array_equal(net.judge(state, shared, rows), net.logits(packed[rows], shared[rows]))


@settings(max_examples=30, deadline=None)
@given(static=st.sets(st.integers(0, 3), min_size=1), layers=st.integers(1, 2), seed=st.integers(0, 2**16),
       reading=readings)
def test_an_lstm_whose_first_layer_has_input_only_gates_steps_to_the_same_bits(static, layers, seed, reading):
    """Gates whose recurrent weights are all zero are read from the one-hot table: the gates' columns then come
    in another order than i, f, g, o (the forget gate alone static: i, g, o, f)."""
    model = random_model("lstm", 5, layers, 1.5, seed, ALPHABET)
    first = model.layers[0]
    weight_hh = first.weight_hh.copy()
    for q in static:
        weight_hh[q * 5:(q + 1) * 5] = 0
    model = dataclasses.replace(model, layers=(dataclasses.replace(first, weight_hh=weight_hh), *model.layers[1:]))
    net = Network(model, reading)
    rng = np.random.default_rng(seed)
    packed = net.initial(90)
    with patch.object(recurrence, "_CHUNK", 0):
        for _ in range(4):
            symbols = rng.integers(0, len(net.inner), 90)
            expected_next, expected_logits = stepped(net, packed, symbols)
            assert np.array_equal(net.logits(packed, net.products(packed)), expected_logits)
            packed_next = net.step(packed, symbols, net.products(packed))
            assert np.array_equal(packed_next, expected_next)
            packed = packed_next


def test_a_compiled_network_with_input_only_gates_steps_to_the_same_bits():
    model = compile_grammar(random_dfa(np.random.default_rng(5), 9, 3))
    net = Network(model, reading_of(model))
    rng = np.random.default_rng(1)
    packed = net.initial(40)
    for _ in range(5):
        symbols = rng.integers(0, len(net.inner), 40)
        expected = net.pack(net.stepper.step(net.unpack(packed), net.symbols[symbols]))
        packed_next = net.step(packed, symbols, net.products(packed))
        assert np.array_equal(packed_next, expected)
        packed = packed_next


@settings(max_examples=15, deadline=None)
@given(model=models, reading=readings, seed=st.integers(0, 2**16))
def test_every_cell_of_the_table_is_the_steppers_verdict_on_the_whole_word(model, reading, seed):
    net, rng = Network(model, reading), np.random.default_rng(seed)
    K = len(net.inner)
    table = ObservationTable(net, np.array([0]), K, lazy=bool(seed % 2))
    for _ in range(4):  # columns of several lengths, rows promoted, sifted and completed as L* does
        table.add_suffix(tuple(rng.integers(0, K, size=int(rng.integers(0, 5))).tolist()))
        machine, loose = table.hypothesis(("accept",), net.inner)
        if loose:
            row = next(iter(loose.values()))
            table.fill([row])
            if table.is_new(row):
                table.promote([row])
    table.fill(table.extensions.reshape(-1)[:5])
    asked = np.argwhere(table.known)
    words = [table.words[r] + table.suffixes[j] for r, j in asked]
    assert np.array_equal(table.cells[asked[:, 0], asked[:, 1], 0], stepper_verdicts(net, words))


@settings(max_examples=15, deadline=None)
@given(model=models, reading=readings, seed=st.integers(0, 2**16))
def test_sampled_words_read_the_steppers_verdict_after_every_prefix_and_nothing_past_their_end(model, reading, seed):
    net, rng = Network(model, reading), np.random.default_rng(seed)
    words = random_words(rng, len(net.inner), 30, 7)
    sample = observe(net, np.array([0]), words, chunk=int(rng.integers(1, 40)))
    prefixes = [(t, b) for b, w in enumerate(words) for t in range(len(w) + 1)]
    expected = stepper_verdicts(net, [words[b][:t] for t, b in prefixes])
    assert np.array_equal([sample.truth[t, b, 0] for t, b in prefixes], expected)
    assert not sample.truth[~sample.mask].any()
    assert net.calls == len(prefixes)
