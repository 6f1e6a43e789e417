"""Which of L*'s hypotheses to return, and when to stop: paired tests on the same validation words.

Each hypothesis is judged by the validation words it gets right (one bool per word). Two hypotheses are compared
on the words where exactly one of them is right (McNemar's paired test, normal approximation): ``a`` is
*significantly better* than ``b`` when ``a``'s extra right words exceed ``b``'s by more than ``z`` times the
square root of the words they disagree on (the standard deviation of that excess if both were equally good).
``z`` is the one-sided normal quantile of ``SIGNIFICANCE`` split over the comparisons made (Bonferroni), so a
rule that makes many comparisons is not fooled by the luckiest of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

from .limits import SIGNIFICANCE

__all__ = ["best_index", "pick", "plateau", "quantile"]


def quantile(comparisons: int, significance: float = SIGNIFICANCE) -> float:
    """The one-sided normal quantile for ``significance`` split over ``comparisons`` tests (at least one)."""
    return NormalDist().inv_cdf(1.0 - significance / max(comparisons, 1))


def _beats(right: np.ndarray, z: float) -> np.ndarray:
    """(R, R) bool: hypothesis g is significantly better than h (rows g, columns h) on (R, N) right words."""
    ones = right.astype(np.float64)
    only = ones @ (1.0 - ones).T  # only[g, h]: words g gets right and h wrong
    return only - only.T > z * np.sqrt(only + only.T)


def best_index(right: np.ndarray) -> int:
    """The first hypothesis with the most validation words right."""
    return int(np.argmax(right.sum(axis=1)))


def pick(right: np.ndarray, sizes: Sequence[int], significance: float = SIGNIFICANCE) -> int:
    """The hypothesis to return: the one with the fewest states among those that no other hypothesis is
    significantly better than (the best is always among them), most words right among equals."""
    count = len(right)
    beaten = _beats(right, quantile(count - 1, significance)).any(axis=0)
    scores = right.sum(axis=1)
    return min((k for k in range(count) if not beaten[k]), key=lambda k: (sizes[k], -scores[k], k))


def plateau(right: np.ndarray, patience: int, significance: float = SIGNIFICANCE) -> bool:
    """Whether none of the last ``patience`` hypotheses is significantly better than the best one before them,
    while that best is wrong on some validation word (an exact hypothesis can still be reached)."""
    if len(right) <= patience:
        return False
    before = right[best_index(right[:-patience])]
    if before.all() or right[-patience:].all(axis=1).any():
        return False
    z = quantile(patience, significance)
    ahead = (right[-patience:] & ~before).sum(axis=1)
    behind = (~right[-patience:] & before).sum(axis=1)
    return not bool((ahead - behind > z * np.sqrt(ahead + behind)).any())
