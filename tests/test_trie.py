"""The prefix trie walked depth first in blocks, with merged hidden states: the same shortest counterexample as
without merging and as a brute-force loop over every word, in bounded memory."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examples.make_examples import leaky_reber
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.model import Layer, Model
from fsm_lstm.queries import Network
from fsm_lstm.reading import Reading
from fsm_lstm.reference import reference_for
from fsm_lstm.trie import walk_trie
from fsm_lstm.verify import check_word, exhaustive, verify
from tests.ticking_clock import TickingClock

ROOT = Path(__file__).resolve().parents[1]


def brute_force(model: Model, grammar, max_len: int):
    """The first failing word, shortest then alphabetically first, by checking every word on its own."""
    ref = reference_for(model, grammar)
    for length in range(max_len + 1):
        for word in itertools.product(model.alphabet, repeat=length):
            found = check_word(Network(model, Reading()), ref, word)
            if found is not None and len(found.word) == length:
                return found.word
    return None


def random_model(grammar, hidden: int, scale: float, shift: float, seed: int) -> Model:
    """A random LSTM with accept and next heads; a large scale saturates the gates, so that many prefixes share
    bitwise identical hidden states."""
    rng = np.random.default_rng(seed)
    K = len(grammar.alphabet)
    heads = ("accept",) + tuple(f"next:{a}" for a in grammar.alphabet)
    f32 = np.float32
    layer = Layer((rng.normal(size=(4 * hidden, K)) * scale).astype(f32),
                  (rng.normal(size=(4 * hidden, hidden)) * scale).astype(f32),
                  (rng.normal(size=4 * hidden) * scale).astype(f32), np.zeros(4 * hidden, f32))
    return Model(layers=(layer,), head_weight=rng.normal(size=(len(heads), hidden)).astype(f32),
                 head_bias=(rng.normal(size=len(heads)) + shift).astype(f32), alphabet=grammar.alphabet, heads=heads)


def both_ways(model: Model, grammar, max_len: int, memory: int = 2**30):
    ref = reference_for(model, grammar)
    merged = walk_trie(Network(model, Reading()), ref, max_len, memory=memory, merge=True)
    plain = walk_trie(Network(model, Reading()), ref, max_len, memory=memory, merge=False)
    return merged, plain


@settings(max_examples=5, deadline=None)
@given(repeats=st.integers(1, 5), memory_mb=st.sampled_from([1, 4, 1024]))
def test_leaky_models_merged_and_unmerged_give_the_brute_force_counterexample(repeats, memory_mb):
    grammar = load_grammar("reber")
    model = leaky_reber(repeats)
    merged, plain = both_ways(model, grammar, 7, memory_mb * 2**20)
    expected = ("B", "T") + ("S",) * repeats  # the leak's design: accept turns true after `repeats` S's
    inner = tuple(model.alphabet.index(a) for a in expected)
    assert merged.failure is not None and merged.failure.word == inner
    assert plain.failure == merged.failure and plain.agreed == merged.agreed == len(expected) - 1
    assert merged.prefixes <= plain.prefixes and merged.distinct > 0 and plain.distinct == 0


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(["parity", "tomita3", "tomita5"]), hidden=st.integers(1, 4),
       scale=st.sampled_from([0.5, 3.0, 40.0]), shift=st.floats(-3, 3), seed=st.integers(0, 10**6),
       memory_mb=st.sampled_from([1, 1024]))
def test_random_models_merged_and_unmerged_give_the_brute_force_counterexample(name, hidden, scale, shift, seed,
                                                                               memory_mb):
    grammar = load_grammar(name)
    model = random_model(grammar, hidden, scale, shift, seed)
    merged, plain = both_ways(model, grammar, 7, memory_mb * 2**20)
    expected = brute_force(model, grammar, 7)
    if expected is None:
        assert merged.failure is None and plain.failure is None and merged.agreed == plain.agreed == 7
    else:
        assert tuple(model.alphabet[a] for a in merged.failure.word) == expected
        assert plain.failure == merged.failure


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(["parity", "tomita3", "tomita5"]), hidden=st.integers(1, 4),
       scale=st.sampled_from([0.5, 3.0, 40.0]), shift=st.floats(-3, 3), seed=st.integers(0, 10**6),
       ticks=st.integers(0, 60), merge=st.booleans(), memory_mb=st.sampled_from([1, 1024]))
def test_a_walk_cut_short_claims_only_the_words_it_ran(name, hidden, scale, shift, seed, ticks, merge, memory_mb):
    """A deadline cuts the walk after ``ticks`` blocks: its agreed length never reaches the shortest failing word
    (brute force), a failure it reports is a real one, and a walk not cut is the walk without a deadline."""
    from fsm_lstm import trie

    grammar = load_grammar(name)
    model = random_model(grammar, hidden, scale, shift, seed)
    max_len = 7
    expected = brute_force(model, grammar, max_len)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trie, "time", TickingClock())
        walk = walk_trie(Network(model, Reading()), reference_for(model, grammar), max_len,
                         memory=memory_mb * 2**20, merge=merge, deadline=ticks + 0.5)
    assert -1 <= walk.agreed <= max_len
    if expected is not None:
        assert walk.agreed < len(expected)  # every word up to the agreed length was run: the failure is longer
    if walk.failure is not None:
        word = tuple(model.alphabet[a] for a in walk.failure.word)
        assert check_word(Network(model, Reading()), reference_for(model, grammar), word) is not None
        assert expected is not None and len(word) >= len(expected)
    if walk.complete:
        whole = walk_trie(Network(model, Reading()), reference_for(model, grammar), max_len,
                          memory=memory_mb * 2**20, merge=merge)
        assert (walk.failure, walk.agreed, walk.prefixes) == (whole.failure, whole.agreed, whole.prefixes)


@settings(max_examples=30, deadline=None)
@given(repeats=st.integers(1, 5), ticks=st.integers(0, 120), merge=st.booleans(),
       memory_mb=st.sampled_from([1, 1024]))
def test_a_cut_walk_of_a_leaky_model_never_claims_the_length_it_fails_at(repeats, ticks, merge, memory_mb):
    """The leaky Reber network's shortest failure is 'BT' then `repeats` S's (its design): a walk cut after any
    number of blocks agrees only on shorter lengths, and reports that failure once it has run it."""
    from fsm_lstm import trie

    grammar = load_grammar("reber")
    model = leaky_reber(repeats)
    failing = ("B", "T") + ("S",) * repeats
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trie, "time", TickingClock())
        walk = walk_trie(Network(model, Reading()), reference_for(model, grammar), 8, memory=memory_mb * 2**20,
                         merge=merge, deadline=ticks + 0.5)
    assert walk.agreed < len(failing)
    assert walk.failure is None or tuple(model.alphabet[a] for a in walk.failure.word) == failing
    if walk.complete:
        assert walk.failure is not None and walk.agreed == len(failing) - 1


def test_a_cut_walk_reports_the_lengths_it_completed(monkeypatch):
    """Parity's compiled network, every word run (no merging), blocks of 4 rows (2 parents of 2 symbols each),
    and a deadline that lets 4 blocks be expanded: the root (-> 2 words of length 1), the length-1 block
    (-> all 4 of length 2), half the length-2 block (-> 4 of the 8 of length 3), half the length-3 block (-> 4
    of length 4). Lengths 0-2 are complete, length 3 is not."""
    from fsm_lstm import trie

    grammar = load_grammar("parity")
    model = compile_grammar(grammar)
    monkeypatch.setattr(trie, "time", TickingClock())
    monkeypatch.setattr(trie, "block_rows", lambda *a: 4)
    walk = walk_trie(Network(model, Reading()), reference_for(model, grammar), 10, merge=False, deadline=4.5)
    assert not walk.complete and walk.failure is None
    assert walk.agreed == 2 and walk.prefixes == 1 + 2 + 4 + 4 + 4


def test_compiled_reber_agrees_to_length_8_with_few_distinct_states():
    grammar = load_grammar("reber")
    report = verify(compile_grammar(grammar), grammar, max_len=8, examples=0)
    assert report.passed and report.max_len == 8
    assert report.prefixes == sum(7 ** k for k in range(9))
    assert 0 < report.distinct < report.run < report.prefixes // 10


def test_verify_reports_the_same_shortest_counterexample_with_and_without_merging():
    grammar = load_grammar("reber")
    model = leaky_reber(4)
    merged = verify(model, grammar, max_len=8, examples=0)
    plain = verify(model, grammar, max_len=8, examples=0, merge=False)
    assert merged.counterexample == plain.counterexample
    assert merged.counterexample.word == ("B", "T") + ("S",) * 4 and merged.max_len == plain.max_len == 5


def test_reber_to_length_9_runs_under_a_1_gib_address_space_limit():
    """The limit is set in a child process, so that a regression fails this test and not the machine."""
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30)); "
            "from fsm_lstm.cli import main; sys.exit(main(['verify', 'reber', '--max-len', '9', '--examples', '0']))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "every string up to length 9 agrees" in out.stdout and "distinct states" in out.stdout


def test_a_budget_too_small_for_one_block_is_refused_in_one_line(capsys):
    from fsm_lstm.cli import main

    assert main(["verify", "reber", "--max-len", "9", "--memory", "0.001", "--examples", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "raise --memory" in err


def test_exhaustive_keeps_its_three_part_result():
    grammar = load_grammar("reber")
    model = leaky_reber(2)
    found, prefixes, agreed = exhaustive(Network(model, Reading()), reference_for(model, grammar), 6)
    assert found.word == ("B", "T", "S", "S") and agreed == 3 and prefixes > 0


def test_a_deep_walk_of_states_that_never_merge_stays_within_its_budget():
    """Every row of every open block once kept its whole word: at --max-len 3000 and 64 MB that took about 3 GB.
    The walk runs in a child process under a 1 GiB address-space limit, unmerged, until it has a block open at
    every length (its progress line counts them; the walk itself would never end)."""
    code = """if True:
        import resource, sys, time
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))
        import numpy as np
        from fsm_lstm.grammar import Grammar
        from fsm_lstm.model import Layer, Model
        from fsm_lstm.queries import Network
        from fsm_lstm.reading import Reading
        from fsm_lstm.reference import reference_for
        from fsm_lstm.trie import walk_trie
        g = Grammar(name="all", start="s", alphabet=("a", "b"), accept=frozenset({"s"}), states=("s",),
                    transitions=(("s", "a", "s"), ("s", "b", "s")))
        rng, f32 = np.random.default_rng(0), np.float32
        layer = Layer(rng.normal(size=(32, 2)).astype(f32), rng.normal(size=(32, 8)).astype(f32),
                      np.zeros(32, f32), np.zeros(32, f32))
        model = Model(layers=(layer,), head_weight=np.zeros((1, 8), f32), head_bias=np.ones(1, f32),
                      alphabet=g.alphabet, heads=("accept",))
        net = Network(model, Reading())

        class Deep(Exception):
            pass

        def progress(line):
            if int(line.split(", ")[-1].split()[0]) > 3000:  # "... N open blocks": lengths 0 to 3000
                raise Deep

        try:
            walk_trie(net, reference_for(model, g), 3000, memory=64 * 2**20, merge=False, progress=progress,
                      deadline=time.perf_counter() + 120)
        except Deep:
            print("deep")
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["deep"]
