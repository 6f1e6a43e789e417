"""The search after a failed region proof: a network wrong only once a suffix follows a pumped loop is caught with a
confirmed counterexample, every counterexample printed is the word its decomposition spells and is wrong on the
network by the grammar's own semantics, and a search that finds nothing says exactly what it ran."""

from __future__ import annotations

import re

import numpy as np
from hypothesis import event, given, settings
from hypothesis import strategies as st

from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.model import Layer, Model, save_model
from fsm_lstm.pump_search import Pumped, pump_counterexample, pumped, stems
from fsm_lstm.queries import Network
from fsm_lstm.reading import Reading
from fsm_lstm.reference import reference_for
from fsm_lstm.region_proof import prove_regions
from fsm_lstm.written_words import SHOWN_WHOLE
from tests.test_hostile import run_cli
from tests.test_region_proof import oracle_disagrees, random_model


def wrong_after_ones_then_zero(drift: float, gain: float = 40.0) -> Model:
    """A tanh RNN for 1* (tomita1), derived by hand, wrong only on 1^k 0 for k beyond some K0 (drift > 0).

    - unit 0: h0' = tanh(4 h0 + 6 [0] - 2 [1]): below -0.96 while only 1s were read, above 0.96 after any 0;
    - unit 2: h2' = tanh(2 h2 + 3 [0]): exactly 0 until a 0 is read, then above 0.95 for ever;
    - unit 1: h1' = tanh(h1 + drift [1] - 5 h2): creeps up by about ``drift`` per 1 while no 0 was read; one step
      after the first 0 it falls below -0.99 and stays there;
    - accept = 0.5 - 5 h0 + gain h1 (gain >= 20).

    While only 1s were read the logit is at least 0.5 + 4.8 > 0 (right: 1* accepts). Right after the first 0 it is
    0.5 - 5 tanh(4 h0 + 6) + gain tanh(h1): wrong (positive) once h1 has crept above about 4.3 / gain. One symbol
    later h1 < -0.99 and the logit is below -15 for ever (right: the word left 1*). So the wrong words are exactly
    1^k 0, k >= K0: a loop, then a suffix, and no pumped loop alone is wrong."""
    w_ih = np.array([[6.0, -2.0], [0.0, drift], [3.0, 0.0]], np.float32)
    w_hh = np.array([[4.0, 0.0, 0.0], [0.0, 1.0, -5.0], [0.0, 0.0, 2.0]], np.float32)
    zeros = np.zeros(3, np.float32)
    return Model(layers=(Layer(w_ih, w_hh, zeros, zeros),), head_weight=np.array([[-5.0, gain, 0.0]], np.float32),
                 head_bias=np.array([0.5], np.float32), alphabet=("0", "1"), heads=("accept",), cell="rnn")


def test_a_network_wrong_only_after_a_loop_and_a_suffix_is_caught():
    g = load_grammar("tomita1")
    model = wrong_after_ones_then_zero(0.003)
    # the hand derivation, checked by running the network against the grammar's semantics (tests.oracle)
    assert oracle_disagrees(model, g, ("1",) * 2000) is None  # the loop alone is never wrong
    wrong = [k for k in range(200) if oracle_disagrees(model, g, ("1",) * k + ("0",)) is not None]
    k0 = wrong[0]
    assert wrong == list(range(k0, 200)) and k0 > 15  # beyond the enumeration's reach (length 15)
    assert oracle_disagrees(model, g, ("1",) * 150 + ("0", "1")) == 151  # wrong at the 0, right after it
    assert oracle_disagrees(model, g, ("0",) + ("1",) * 150) is None
    proof = prove_regions(model, g)
    failure = proof.failure
    assert not proof.proven and failure.confirmed
    assert failure.counter_word == ("1",) * k0 + ("0",)
    assert failure.decomposition == ((), ("1",), k0, ("0",))
    text = "1" * k0 + "0"
    assert f"the network is wrong: after {text!r} = '1' {k0} times then '0' ({k0 + 1} symbols, found by pumping" \
        in proof.summary()


def test_a_short_error_is_found_by_enumeration_and_nothing_found_says_what_was_run():
    g = load_grammar("tomita1")
    model = wrong_after_ones_then_zero(0.03)  # a faster drift: wrong on 1^k 0 for a k the enumeration reaches
    k0 = next(k for k in range(20) if oracle_disagrees(model, g, ("1",) * k + ("0",)) is not None)
    failure = prove_regions(model, g).failure
    assert failure.counter_word == ("1",) * k0 + ("0",)
    assert f"found among the {2 ** 16 - 1:,} strings up to length 15)" in failure.message  # 2 + 4 + ... + 2^15, and ''
    # no drift: right on every word (the derivation above, with h1 = 0); coarse regions cannot prove it
    right = wrong_after_ones_then_zero(0.0)
    proof = prove_regions(right, g, slack=0.3)
    assert not proof.proven and not proof.failure.confirmed
    said = re.search(r"; no counterexample among ([\d,]+) strings up to length (\d+) and ([\d,]+) pumped strings up to "
                     r"([\d,]+) symbols: the regions may only be too coarse$", proof.summary())
    assert said and said[1] == f"{2 ** 16 - 1:,}" and said[2] == "15"
    assert int(said[3].replace(",", "")) > 1000 and int(said[4].replace(",", "")) >= 4000


def test_a_large_alphabet_is_enumerated_by_number_of_strings_not_by_length():
    """The hand-derived 1* unit (h' = tanh(4h + 6 [any symbol but 1] - 2 [1]), accept = 0.5 - 5h) over 100 symbols is
    right on every word; the enumeration stops at length 2: 1 + 100 + 100^2 = 10,101 strings fit 65,536, and
    length 3 (1,010,101) does not."""
    alphabet = ("0", "1") + tuple(f"a{k}" for k in range(98))
    w_ih = np.full((1, 100), 6.0, np.float32)
    w_ih[0, 1] = -2.0
    zero = np.zeros(1, np.float32)
    model = Model(layers=(Layer(w_ih, np.array([[4.0]], np.float32), zero, zero),),
                  head_weight=np.array([[-5.0]], np.float32), head_bias=np.array([0.5], np.float32),
                  alphabet=alphabet, heads=("accept",), cell="rnn")
    found = pump_counterexample(Network(model, Reading()), reference_for(model, load_grammar("tomita1")), (1, 1, 0))
    assert found.found is None
    assert found.searched().startswith("10,101 strings up to length 2 and ")
    assert found.words > 0 and found.length >= 4000
    assert "time limit" not in found.searched()
    cut = pump_counterexample(Network(model, Reading()), reference_for(model, load_grammar("tomita1")), (1, 1, 0),
                              time_limit=0.0)  # the enumeration runs; the pumped strings stop at once
    assert cut.found is None and cut.words == cut.length == 0
    assert cut.searched() == "10,101 strings up to length 2 and no pumped strings (cut short by the time limit)"


def test_the_stems_keep_the_rest_of_the_failing_word():
    """tomita7 is 0*1*0*1*; the word 0 0 0 0 0 1 0 1 0 (where the proof of a trained RNN failed) stays in the
    automaton's first state through its five 0s, so the loop 0 pumped, then the rest 1 0 1 0, is a stem: the
    trained RNN is wrong on 0^7 1 0 1 0. Stems are written with as many turns of the loop as possible moved out of
    the prefix, so the five places of the loop give one stem."""
    g = load_grammar("tomita7")
    model = random_model("rnn", 2, 1, 1.0, 0)
    ref = reference_for(model, g)
    word = (0, 0, 0, 0, 0, 1, 0, 1, 0)
    triples = stems(word, ref, 2)
    assert ((), (0,), (1, 0, 1, 0)) in triples  # each of the five places of the loop 0 gives this one stem
    assert len(triples) == len(set(triples))
    for prefix, loop, kept in triples:
        assert loop and prefix[len(prefix) - len(loop):] != loop and kept[:len(loop)] != loop


words = st.lists(st.integers(0, 2), max_size=8).map(tuple)


@settings(max_examples=200, deadline=None)
@given(prefix=words, loop=words, count=st.integers(0, 20), suffix=words, cut=st.integers(0, 200))
def test_a_decomposition_spells_its_word_and_cuts_to_its_prefixes(prefix, loop, count, suffix, cut):
    whole = prefix + loop * count + suffix
    p = pumped(prefix, loop, count, suffix)
    assert p.word == whole and p.loop == loop
    shorter = p.cut(min(cut, len(whole)))
    assert isinstance(shorter, Pumped) and shorter.word == whole[:cut]


@settings(max_examples=25, deadline=None)
@given(cell=st.sampled_from(["lstm", "gru", "rnn"]), hidden=st.integers(1, 5), scale=st.floats(0.1, 4.0),
       seed=st.integers(0, 2**16), word=st.lists(st.sampled_from("01"), max_size=8).map(tuple),
       name=st.sampled_from(["tomita1", "tomita4", "tomita7", "parity"]), strings=st.sampled_from([1, 7, 2**10]))
def test_every_counterexample_found_is_its_decomposition_and_wrong_on_the_network(cell, hidden, scale, seed, word,
                                                                                  name, strings):
    model = random_model(cell, hidden, 1, scale, seed)
    g = load_grammar(name)
    found = pump_counterexample(Network(model, Reading()), reference_for(model, g), tuple(int(a) for a in word),
                                max_length=300, strings=strings)
    if found.found is None:
        assert found.words > 0 and found.head == -1
        return
    prefix, count, suffix = found.pieces()
    assert prefix + found.loop * count + suffix == found.word
    text = tuple(model.alphabet[a] for a in found.word)
    assert oracle_disagrees(model, g, text) == len(text)  # wrong there, and nowhere before
    assert found.how == ("enumerated" if len(text) <= found.max_len else "pumped")


@settings(max_examples=6, deadline=None)
@given(drift=st.floats(0.003, 0.012), gain=st.floats(30.0, 60.0))  # K0 from 8 to about 60
def test_every_counterexample_printed_is_the_word_its_decomposition_spells(drift, gain):
    """The hand-derived family above: the word the failed proof prints is the first 1^k 0 the oracle finds wrong;
    found by the search, its decomposition spells it and the message prints both."""
    g = load_grammar("tomita1")
    model = wrong_after_ones_then_zero(drift, gain)
    k0 = next(k for k in range(400) if oracle_disagrees(model, g, ("1",) * k + ("0",)) is not None)
    text = "1" * k0 + "0"
    failure = prove_regions(model, g).failure
    assert failure.confirmed
    if failure.counterexample is None:  # a point region of the proof itself was already wrong there
        assert failure.word == tuple(text) and failure.message.startswith(f"the network is wrong: after {text!r} (")
        return
    assert failure.counter_word == tuple(text) and oracle_disagrees(model, g, failure.counter_word) == k0 + 1
    prefix, loop, count, suffix = failure.decomposition
    assert prefix + loop * count + suffix == failure.counter_word
    event("enumerated" if k0 + 1 <= 15 else "pumped")
    if k0 + 1 <= 15:  # enumerated, written whole
        assert (prefix, loop, count, suffix) == (tuple(text), (), 0, ())
        assert f"after {text!r} ({k0 + 1} symbols, found among" in failure.message
    else:
        assert (prefix, loop, count, suffix) == ((), ("1",), k0, ("0",))
        assert f"after {text!r} = '1' {k0} times then '0' ({k0 + 1} symbols" in failure.message


def test_verify_writes_a_long_counterexample_with_its_loop_counted(tmp_path):
    """verify's FAIL line and the region proof's line name the same word, the oracle's first wrong 1^k 0 (126
    symbols: too long to print whole), as '1' k times then '0'."""
    g = load_grammar("tomita1")
    model = wrong_after_ones_then_zero(0.001)
    k0 = next(k for k in range(400) if oracle_disagrees(model, g, ("1",) * k + ("0",)) is not None)
    assert k0 + 1 > SHOWN_WHOLE
    save_model(model, tmp_path / "m.npz")
    code, out, err = run_cli(["verify", tmp_path / "m.npz", "--grammar", "tomita1"])
    assert code == 1, err
    assert f"FAIL: counterexample '1' {k0} times then '0' ({k0 + 1} symbols), confirmed on the network" in out
    assert f"after '1' {k0} times then '0' ({k0 + 1} symbols, found by pumping" in out
    assert "1" * 40 not in out


def test_certify_without_a_counterexample_points_to_verify_in_a_whole_sentence(tmp_path):
    """The derivation above with no drift: right on every word, and the coarse regions do not close; the note
    ended "... also searches long and pumped strings, and may"."""
    save_model(wrong_after_ones_then_zero(0.0), tmp_path / "m.npz")
    code, out, err = run_cli(["certify", tmp_path / "m.npz", "--grammar", "tomita1", "--time-limit", "2"])
    assert code == 1, err
    assert out.rstrip().endswith(f"note: no counterexample was found here; `fsm-lstm verify {tmp_path / 'm.npz'} "
                                 "--grammar tomita1` also searches long and pumped strings, and may find one")
