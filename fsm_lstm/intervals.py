"""Interval arithmetic shared by the two provers (``certify`` for compiled networks, ``interval_step`` for
trained ones): the sigmoid, evaluated in float64 with relative accuracy everywhere, and the interval product."""

from __future__ import annotations

import numpy as np

__all__ = ["ROUNDOFF", "interval_product", "sigmoid"]

# The unit round-off the margins use. The bounds themselves are computed in float64 without directed rounding,
# and their own error obeys the same gamma_n and elementwise bounds as the run they bound: for a float32 run it
# is 2^29 times below the margins; for a float64 run it is as large, so its margins take 4 * 2^-53 (the run's
# rounding, the analysis's own, and a factor 2 to spare).
ROUNDOFF = {"float32": 2.0 ** -24, "float64": 2.0 ** -51}


def sigmoid(z: np.ndarray) -> np.ndarray:
    """sigmoid in float64 to a few units of float64 round-off *relative to its value*, also where it is tiny
    (0.5 + 0.5 tanh(z / 2) loses all relative accuracy below z = -20 and gives 0 below z = -37)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def interval_product(alo: np.ndarray, ahi: np.ndarray, blo: np.ndarray, bhi: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """[alo, ahi] * [blo, bhi] elementwise; a bound of 0 times an infinite bound is 0 (the values themselves
    are finite). A NaN bound (a value that may be NaN) gives NaN bounds: never a tighter product."""
    pairs = [(alo, blo), (alo, bhi), (ahi, blo), (ahi, bhi)]
    with np.errstate(invalid="ignore"):
        products = np.stack([np.where(((a == 0) & np.isinf(b)) | (np.isinf(a) & (b == 0)), 0.0, a * b)
                             for a, b in pairs])
    return products.min(axis=0), products.max(axis=0)  # NaN wherever any of the four is
