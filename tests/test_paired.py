"""The paired tests that find L*'s plateau (fsm_lstm.paired), checked against a plain count of the words two
hypotheses disagree on, and by simulation for their error rates."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fsm_lstm.paired import best_index, plateau, quantile


def better(a: np.ndarray, b: np.ndarray, z: float) -> bool:
    """McNemar by counting, with continuity correction: a's extra right words, less one, exceed b's by more than
    z standard deviations."""
    only_a = sum(1 for x, y in zip(a, b) if x and not y)
    only_b = sum(1 for x, y in zip(a, b) if y and not x)
    return only_a - only_b - 1 > z * math.sqrt(only_a + only_b)


rights = st.integers(1, 8).flatmap(lambda r: st.integers(0, 60).flatmap(
    lambda n: arrays(bool, (r, n), elements=st.booleans())))


def test_the_quantile_is_the_one_sided_normal_one_split_over_the_comparisons():
    assert abs(quantile(1, 0.05) - 1.6449) < 1e-3  # tables: the 95 % one-sided normal quantile
    assert abs(quantile(10, 0.05) - 2.5758) < 1e-3  # 0.005 one-sided: the 99.5 % quantile
    assert quantile(0, 0.05) == quantile(1, 0.05)


def _simulated(rng: np.random.Generator, p_before: float, p_after: float, words: int) -> np.ndarray:
    return np.stack([rng.random(words) < p_before, rng.random(words) < p_after])


def test_progress_is_seen_by_mistake_at_about_the_significance_level_and_real_progress_almost_always():
    """Two hypotheses each right on a word with probability 0.9, independently: the second looks significantly
    better (no plateau) in about 5 % of validation samples (one-sided test at 0.05), never much more. A second
    one truly 3 points better (0.93) is seen almost always on 4,000 words: its excess is about 120 words with a
    standard deviation of about 25 (624 disagreements), against a threshold of 1.645 * 25 = 41, a power of
    0.999."""
    rng = np.random.default_rng(1)
    trials = 1000
    wrongly = sum(not plateau(_simulated(rng, 0.9, 0.9, 4000), 1) for _ in range(trials))
    assert wrongly <= 0.05 * trials + 3 * math.sqrt(0.05 * 0.95 * trials)
    assert wrongly >= 0.05 * trials - 3 * math.sqrt(0.05 * 0.95 * trials)  # the level is used, not wasted
    found = sum(not plateau(_simulated(rng, 0.9, 0.93, 4000), 1) for _ in range(200))
    assert found >= 0.98 * 200


def test_the_first_of_equally_right_hypotheses_is_the_best():
    right = np.zeros((3, 10), dtype=bool)
    right[1:, :4] = True
    assert best_index(right) == 1


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


def _progress_seen(ahead: int, behind: int) -> bool:
    """Whether a hypothesis right on ``ahead`` words the one before got wrong, and wrong on ``behind`` it got
    right, is taken for progress at patience 1 (a last word both get wrong keeps either from being exact)."""
    before = np.array([False] * ahead + [True] * behind + [False])
    return not plateau(np.stack([before, ~before & (np.arange(len(before)) < ahead + behind)]), 1)


def test_the_exact_chance_of_seeing_progress_that_is_not_there_stays_within_the_level():
    """Two equally good hypotheses that disagree on n words: the first is ahead on a ~ Binomial(n, 1/2) of them.
    The exact chance that the test calls that progress, summed from the binomial, is at most 5 % for every n up
    to 150; without the continuity correction, 3 words of 3 ahead (chance 1/8) already passed."""
    assert not _progress_seen(3, 0)
    for n in range(1, 151):
        size = sum(math.comb(n, a) for a in range(n + 1) if _progress_seen(a, n - a)) / 2 ** n
        assert size <= 0.05, (n, size)



def test_the_plateau_comes_sooner_once_every_recent_hypothesis_has_outgrown_the_chosen_one():
    """L*'s shorter wait (fsm_lstm.lstar._outgrown): 20 rounds at the default patience of 50, when each of them has
    at least 4 times the states of the hypothesis that would be written and none is significantly better."""
    from types import SimpleNamespace

    from fsm_lstm.lstar import _outgrown as outgrown_of

    def _outgrown(seen, patience):  # as L* calls it, with the validation verdicts stacked
        return outgrown_of(seen, np.stack([r for r, _ in seen]), patience)

    rng = np.random.default_rng(0)
    base = np.ones(1000, dtype=bool)
    base[:20] = False  # the first hypothesis: 5 states, right on 980 words

    def noisy() -> np.ndarray:  # as good, give or take a word or two
        r = base.copy()
        r[rng.integers(0, 1000, size=2)] ^= True
        return r

    seen = [(base, SimpleNamespace(size=5))] + [(noisy(), SimpleNamespace(size=30)) for _ in range(20)]
    assert _outgrown(seen, 50)
    assert not _outgrown(seen[:-1], 50)  # 19 rounds are not enough
    assert not _outgrown(seen, 100)  # the window grows with the patience
    small = seen[:10] + [(noisy(), SimpleNamespace(size=19))] + seen[11:]  # one of them under 4 x 5 states
    assert not _outgrown(small, 50)
    exact = [(np.ones(1000, dtype=bool), SimpleNamespace(size=5))] + seen[1:]
    assert not _outgrown(exact, 50)  # as the plateau: never while the best before is right on every word

