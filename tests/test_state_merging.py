"""Merging states the sampled words do not need (fsm_lstm/state_merging.py): never more wrong sampled prefixes,
never more states; a state the samples show wrong is merged away; a minimal machine the samples cover is kept.
Merging at a cost (merge_within): only what the caller's test keeps, and never a merge that costs more than the
largest allowance. The "network" here is a second machine, so every truth is known independently of the code
under test."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fsm_lstm.machine import Machine, machine_difference, minimise_moore
from fsm_lstm.sampling import Sample, joined
from fsm_lstm import state_merging
from fsm_lstm.state_merging import ALLOWANCES, merge_states, merge_within
from tests.oracle import wrong_count


def sample_of(truth: Machine, words: list[tuple[int, ...]]) -> Sample:
    """The words with ``truth``'s outputs after every prefix, as a network's sample would hold them."""
    T = max((len(w) for w in words), default=0)
    strings = np.zeros((len(words), T), dtype=np.int64)
    for b, w in enumerate(words):
        strings[b, :len(w)] = w
    return Sample(strings, np.array([len(w) for w in words], dtype=np.int64), truth.run(strings))


def machine(outputs: list[list[bool]], delta: list[list[int]]) -> Machine:
    K = len(delta[0])
    return Machine(np.array(outputs, dtype=bool), np.array(delta, dtype=np.int64), ("accept",),
                   tuple("ab"[:K]))


MOD3 = machine([[True], [False], [False]], [[1, 0], [2, 1], [0, 2]])  # accepts a count of a's divisible by 3


def every_word(K: int, length: int) -> list[tuple[int, ...]]:
    return [w for n in range(length + 1) for w in itertools.product(range(K), repeat=n)]


@st.composite
def machines(draw: st.DrawFn, K: int = 2) -> Machine:
    n = draw(st.integers(1, 9))
    outputs = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    delta = draw(st.lists(st.lists(st.integers(0, n - 1), min_size=K, max_size=K), min_size=n, max_size=n))
    return machine([[o] for o in outputs], delta)


def pair(learned: tuple[list[int], list[list[int]]], network: tuple[list[int], list[list[int]]]) -> tuple:
    return tuple(machine([[bool(o)] for o in outputs], delta) for outputs, delta in (learned, network))


@settings(max_examples=150, deadline=None)
@given(machines(), machines(), st.integers(0, 2**32 - 1))
@example(*pair(([1, 0, 1, 0, 1, 1, 0], [[6, 0], [0, 0], [0, 4], [0, 0], [5, 1], [2, 5], [4, 2]]),
               ([1, 0, 0, 0, 1, 1, 0], [[0, 4], [0, 0], [0, 0], [0, 0], [5, 1], [0, 0], [0, 0]])), 100000)
@example(*pair(([0, 1, 1, 1, 0, 0, 0, 0], [[6, 7], [1, 2], [1, 0], [3, 1], [0, 0], [0, 0], [3, 0], [0, 2]]),
               ([1, 0, 0, 0], [[0, 1], [0, 0], [0, 0], [0, 0]])), 83)
def test_merging_never_adds_a_wrong_sampled_prefix_nor_a_state(learned: Machine, network: Machine, seed: int):
    """The two examples (found by an independent reader) catch a pass that forgets to re-walk the words a merge
    changed, or to update their counts: both then accept merges that add wrong prefixes."""
    rng = np.random.default_rng(seed)
    words = [tuple(int(a) for a in rng.integers(0, 2, size=rng.integers(0, 9))) for _ in range(40)]
    sample = sample_of(network, words)
    merged = merge_states(learned, sample, np.random.default_rng(seed))
    assert merged.size <= minimise_moore(learned).size
    assert wrong_count(merged, sample) <= wrong_count(learned, sample)


def test_a_state_the_samples_show_wrong_is_merged_away():
    """MOD3 with a fourth state, a copy of state 0 whose 'b' edge goes wrong (to state 1), entered from state 2 on
    'a': the sampled words reach it and its edge is wrong on them, so it is merged into state 0 and MOD3 comes
    back."""
    noisy = machine([[True], [False], [False], [True]], [[1, 0], [2, 1], [3, 2], [1, 1]])
    sample = sample_of(MOD3, every_word(2, 6))
    assert wrong_count(noisy, sample) > 0
    merged = merge_states(noisy, sample, np.random.default_rng(0))
    assert merged.size == 3 and machine_difference(merged, MOD3) is None


def test_a_minimal_machine_the_samples_tell_apart_keeps_every_state():
    sample = sample_of(MOD3, every_word(2, 4))
    merged = merge_states(MOD3, sample, np.random.default_rng(0))
    assert merged.size == 3 and machine_difference(merged, MOD3) is None


def test_a_state_no_sampled_word_reaches_is_merged():
    """A state only the word 'bb…b' of 5 b's reaches (from a b-chain), sampled words shorter than that."""
    chain = machine([[True], [True], [True], [True], [True], [False]],
                    [[0, 1], [0, 2], [0, 3], [0, 4], [0, 5], [0, 5]])
    everything = machine([[True]], [[0, 0]])
    sample = sample_of(everything, every_word(2, 4))
    merged = merge_states(chain, sample, np.random.default_rng(0))
    assert merged.size == 1 and wrong_count(merged, sample) == 0


def test_joined_samples_hold_both_samples_words_and_answers():
    a = sample_of(MOD3, [(0, 0, 1), ()])
    b = sample_of(MOD3, [(1, 0, 0, 0, 0)])
    both = joined(a, b)
    assert both.lengths.tolist() == [3, 0, 5]
    assert [both.word(k, int(n)) for k, n in enumerate(both.lengths)] == [(0, 0, 1), (), (1, 0, 0, 0, 0)]
    real = both.mask
    assert np.array_equal(both.truth[real], MOD3.run(both.strings)[real])


def test_merging_stops_at_its_deadline_with_the_merges_made_so_far(monkeypatch):
    """Two chains, 'aaa' and 'bbb', each one symbol short of a rejecting state that no sampled word (all of up to
    3 symbols, every one accepted) reaches: given time, merging cuts both and one state is left. A clock that
    ticks once per state tried and a deadline after two ticks (the rejecting state, which has no state with its
    outputs, then one chain's end) leave the other chain whole."""
    chains = machine([[True]] * 7 + [[False]], [[1, 4], [2, 0], [3, 0], [7, 0], [0, 5], [0, 6], [0, 7], [7, 7]])
    sample = sample_of(machine([[True]], [[0, 0]]), every_word(2, 3))
    assert merge_states(chains, sample, np.random.default_rng(0)).size == 1
    ticks = iter(range(10**6))
    monkeypatch.setattr(state_merging.time, "perf_counter", lambda: next(ticks))
    partial = merge_states(chains, sample, np.random.default_rng(0), deadline=1.5)
    assert 1 < partial.size < 8 and wrong_count(partial, sample) == 0
    assert merge_states(chains, sample, np.random.default_rng(0), deadline=-1.0).size == 8




def test_a_state_is_only_merged_into_one_with_its_outputs():
    """State 1 rejects where the 'network' accepts everything: merging it into state 0 would mend every word
    through it, but the outputs differ, and merging changes edges, never what a state outputs."""
    learned = machine([[True], [False]], [[1, 0], [1, 0]])
    sample = sample_of(machine([[True]], [[0, 0]]), every_word(2, 3))
    assert merge_states(learned, sample, np.random.default_rng(0)).size == 2


ONE_EXCEPTION = machine([[True], [True], [True], [False], [True]],  # accepts every word but those starting 'aaa'
                        [[1, 4], [2, 4], [3, 4], [3, 3], [4, 4]])  # (state 3 rejects from then on)
ALL = machine([[True]], [[0, 0]])


def test_a_state_worth_a_few_wrong_prefixes_is_merged_only_when_the_caller_keeps_it():
    """The network and the machine are both ONE_EXCEPTION; the sample is every word up to 4 symbols. Any merge
    among its accepting states (the a-chain 0, 1, 2 and the sink 4; state 3 is the only rejecting one) breaks
    the chain that rejects 'aaa', and with all of them made the machine accepts everything: wrong on 5 sampled
    prefixes ('aaa' in 'aaa', 'aaaa' and 'aaab'; 'aaaa' and 'aaab'), right on all others. merge_states never
    does that; merge_within does when the caller keeps it."""
    sample = sample_of(ONE_EXCEPTION, every_word(2, 4))
    assert merge_states(ONE_EXCEPTION, sample, np.random.default_rng(0)).size == 5
    merged = merge_within(ONE_EXCEPTION, sample, lambda m: True, np.random.default_rng(0))
    assert merged.size == 1 and machine_difference(merged, ALL) is None
    assert wrong_count(merged, sample) == 5
    assert merge_within(ONE_EXCEPTION, sample, lambda m: wrong_count(m, sample) == 0,
                        np.random.default_rng(0)).size == 5


def test_no_merge_costs_more_than_the_largest_allowance():
    """MOD3 on every word up to 8 symbols: its two rejecting states are told apart by many sampled prefixes
    (counted here for both directions), more than the largest allowance, so even a caller that keeps everything
    gets MOD3 back."""
    sample = sample_of(MOD3, every_word(2, 8))
    for s, into in ((1, 2), (2, 1)):
        redirected = machine([[False] if k else [True] for k in range(3)],
                             [[into if t == s else t for t in row] for row in MOD3.delta.tolist()])
        assert wrong_count(redirected, sample) > max(ALLOWANCES)
    merged = merge_within(MOD3, sample, lambda m: True, np.random.default_rng(0))
    assert merged.size == 3 and machine_difference(merged, MOD3) is None


@settings(max_examples=100, deadline=None)
@given(machines(), machines(), st.integers(0, 2**32 - 1), st.integers(0, 6))
def test_merging_at_a_cost_keeps_only_what_the_caller_keeps(learned: Machine, network: Machine, seed: int,
                                                           extra: int):
    """The caller keeps a merge while a second sample's wrong prefixes stay within ``extra`` of the machine's
    own: the result passes that test, and has no more states than the machine."""
    rng = np.random.default_rng(seed)

    def words() -> list[tuple[int, ...]]:
        return [tuple(int(a) for a in rng.integers(0, 2, size=rng.integers(0, 9))) for _ in range(30)]

    sample, check = sample_of(network, words()), sample_of(network, words())
    limit = wrong_count(learned, check) + extra
    merged = merge_within(learned, sample, lambda m: wrong_count(m, check) <= limit, np.random.default_rng(seed))
    assert merged.size <= minimise_moore(learned).size
    assert wrong_count(merged, check) <= limit
