"""When L* stops improving: paired tests of its hypotheses on the same validation words.

Each hypothesis is judged by the validation words it gets right (one bool per word). Two hypotheses are compared
on the words where exactly one of them is right (McNemar's paired test, normal approximation with continuity
correction): ``a`` is *significantly better* than ``b`` when ``a``'s extra right words, less one, exceed ``b``'s
by more than ``z`` times the square root of the words they disagree on (the standard deviation of that excess if
both were equally good). Without the correction a test on a few words is too eager (3 of 3 words passed a 5 %
test that way 12.5 % of the time); with it the exact size stays within the nominal level (checked for up to 400
disagreeing words at 1, 10 and 50 comparisons).
``z`` is the one-sided normal quantile of ``SIGNIFICANCE`` split over the comparisons made (Bonferroni): the
plateau asks whether any of several hypotheses is better, and must not be fooled by the luckiest of them.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from .limits import SIGNIFICANCE

__all__ = ["best_index", "plateau", "quantile"]


def quantile(comparisons: int, significance: float = SIGNIFICANCE) -> float:
    """The one-sided normal quantile for ``significance`` split over ``comparisons`` tests (at least one)."""
    return NormalDist().inv_cdf(1.0 - significance / max(comparisons, 1))


def best_index(right: np.ndarray) -> int:
    """The first hypothesis with the most validation words right."""
    return int(np.argmax(right.sum(axis=1)))


def _ahead(right: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per hypothesis (rows of ``right``): the words it gets right and ``other`` wrong, and the reverse."""
    return (right & ~other).sum(axis=-1), (~right & other).sum(axis=-1)


def plateau(right: np.ndarray, patience: int, significance: float = SIGNIFICANCE) -> bool:
    """Whether none of the last ``patience`` hypotheses is significantly better than the best one before them,
    while that best is wrong on some validation word (an exact hypothesis can still be reached)."""
    if len(right) <= patience:
        return False
    before = right[best_index(right[:-patience])]
    if before.all() or right[-patience:].all(axis=1).any():
        return False
    ahead, behind = _ahead(right[-patience:], before)
    return not bool((ahead - behind - 1 > quantile(patience, significance) * np.sqrt(ahead + behind)).any())
