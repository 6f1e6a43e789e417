"""The paired tests that pick L*'s hypothesis and find its plateau (fsm_lstm.pick), checked against a plain
count of the words two hypotheses disagree on, and by simulation for their error rates."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fsm_lstm.pick import best_index, pick, plateau, quantile


def better(a: np.ndarray, b: np.ndarray, z: float) -> bool:
    """McNemar by counting: a's extra right words exceed b's by more than z standard deviations."""
    only_a = sum(1 for x, y in zip(a, b) if x and not y)
    only_b = sum(1 for x, y in zip(a, b) if y and not x)
    return only_a - only_b > z * math.sqrt(only_a + only_b)


rights = st.integers(1, 8).flatmap(lambda r: st.integers(0, 60).flatmap(
    lambda n: arrays(bool, (r, n), elements=st.booleans())))


def test_the_quantile_is_the_one_sided_normal_one_split_over_the_comparisons():
    assert abs(quantile(1, 0.05) - 1.6449) < 1e-3  # tables: the 95 % one-sided normal quantile
    assert abs(quantile(10, 0.05) - 2.5758) < 1e-3  # 0.005 one-sided: the 99.5 % quantile
    assert quantile(0, 0.05) == quantile(1, 0.05)


@settings(max_examples=200)
@given(rights, st.data())
def test_the_pick_is_the_smallest_the_best_does_not_beat(right, data):
    sizes = data.draw(st.lists(st.integers(1, 50), min_size=len(right), max_size=len(right)))
    chosen = pick(right, sizes)
    z = quantile(1)
    top = right.sum(axis=1).max()
    best = right[[r.sum() == top for r in right].index(True)]
    assert not better(best, right[chosen], z)
    assert sizes[chosen] <= min(s for s, r in zip(sizes, right) if r.sum() == top)
    assert all(better(best, right[k], z) for k in range(len(right)) if sizes[k] < sizes[chosen])


@given(arrays(bool, 40, elements=st.booleans()), st.lists(st.integers(1, 50), min_size=2, max_size=6))
def test_equally_right_hypotheses_give_the_smallest(row, sizes):
    right = np.stack([row] * len(sizes))
    assert sizes[pick(right, sizes)] == min(sizes)
    assert best_index(right) == 0


def test_a_hypothesis_clearly_worse_than_a_larger_one_is_not_picked():
    right = np.ones((2, 1000), dtype=bool)
    right[0, :100] = False  # the 3-state hypothesis is wrong on 100 words the 30-state one gets right
    assert pick(right, [3, 30]) == 1
    right[0, 10:100] = True  # wrong on 10: 10 > 1.645 * sqrt(10), still beaten (one comparison)
    assert pick(right, [3, 30]) == 1
    right[0, :10] = True
    right[1, :4] = False  # now the larger one is wrong on 4 words: the smaller wins
    assert pick(right, [3, 30]) == 0
    right[1, :4] = True
    right[0, :2] = False  # the smaller is wrong on 2: 2 < 1.645 * sqrt(2), not significant
    assert pick(right, [3, 30]) == 0


def _simulated(rng: np.random.Generator, p_small: float, p_large: float, words: int) -> np.ndarray:
    return np.stack([rng.random(words) < p_small, rng.random(words) < p_large])


def test_an_equally_good_smaller_hypothesis_is_rejected_at_about_the_significance_level():
    """Two hypotheses each right on a word with probability 0.9, independently: the larger one looks
    significantly better in about 5 % of validation samples (one-sided test at 0.05), never much more. A larger
    one truly 3 points better (0.93) is found better almost always on 4,000 words: its excess is about 120 words
    with a standard deviation of about 25 (624 disagreements), against a threshold of 1.645 * 25 = 41, a power
    of 0.999."""
    rng = np.random.default_rng(1)
    trials = 1000
    wrongly = sum(pick(_simulated(rng, 0.9, 0.9, 4000), [3, 30]) == 1 for _ in range(trials))
    assert wrongly <= 0.05 * trials + 3 * math.sqrt(0.05 * 0.95 * trials)
    assert wrongly >= 0.05 * trials - 3 * math.sqrt(0.05 * 0.95 * trials)  # the level is used, not wasted
    found = sum(pick(_simulated(rng, 0.9, 0.93, 4000), [3, 30]) == 1 for _ in range(200))
    assert found >= 0.98 * 200


@settings(max_examples=200)
@given(rights, st.integers(1, 5))
def test_a_plateau_is_when_no_recent_hypothesis_beats_the_best_before_them(right, patience):
    flat = plateau(right, patience)
    if len(right) <= patience:
        assert not flat
        return
    before = right[int(np.argmax(right[:-patience].sum(axis=1)))]
    z = quantile(patience)
    exact = before.all() or right[-patience:].all(axis=1).any()
    assert flat == (not exact and not any(better(r, before, z) for r in right[-patience:]))


def test_a_plateau_never_comes_while_an_exact_hypothesis_is_in_sight():
    right = np.ones((5, 100), dtype=bool)
    assert not plateau(right, 2)
    right[:, 0] = False
    assert plateau(right, 2)
    right[-1, 0] = True  # the last hypothesis is exact on the sample
    assert not plateau(right, 2)
