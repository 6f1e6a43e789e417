"""Verdicts within round-off of 0: a head is true when its logit is > 0 in the arithmetic the network runs in
(``meta.precision``, float32 by default), but two float32 implementations may round a logit within a few units of
round-off of 0 to different sides (a trial's 1-unit LSTM: fsm-lstm, torch's LSTMCell and onnxruntime gave
+1.19e-07 after 'a', torch's nn.LSTM -1.19e-07, float64 -1.82e-08). Such a verdict is checked again in float64:
it is *near round-off* when float64 puts the logit on the other side of 0, or when the two differ by more than
an eighth of the float32 logit."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .queries import Network

__all__ = ["FACTOR", "float64_value", "near_round_off", "round_off_text"]

FACTOR = 8  # a float32 logit at most this many times its distance from the float64 one is near round-off


def float64_value(net: Network, word: Sequence[int], column: int) -> float | None:
    """The head ``column``'s value after the inner ``word`` (as ``net`` reads it) in float64, or None when the
    network runs in float64 already."""
    if net.model.compute_dtype is np.float64:
        return None
    return float(Network(net.model, net.reading, np.float64).walk(list(word))[-1, column])


def near_round_off(value: float, wide: float | None) -> bool:
    """Whether a float32 ``value`` is within round-off of 0, judged by the float64 one (``wide``)."""
    if wide is None:
        return False
    return (value > 0) != (wide > 0) or abs(value) <= FACTOR * abs(value - wide)


def round_off_text(value: float, wide: float) -> str:
    """'within float32 round-off of 0: in float64 it is X, ...' for a verdict :func:`near_round_off` flags."""
    other = (value > 0) != (wide > 0)
    side = ", on the other side of 0" if other else ""
    return (f"within float32 round-off of 0: in float64 it is {wide:.4g}{side}, and another float32 implementation "
            "(torch's nn.LSTM, say) may round it to either side")
