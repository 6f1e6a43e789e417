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
from .sparse_weights import absolute_row_sums

__all__ = ["FACTOR", "SCREEN", "float64_value", "near_round_off", "round_off_text"]

FACTOR = 8  # a float32 logit at most this many times its distance from the float64 one is near round-off
SCREEN = 2.0 ** -10  # values beyond this share of the heads' scale are not run again (float32 keeps 2^-24)


def float64_value(net: Network, word: Sequence[int], column: int, value: float) -> float | None:
    """The head ``column``'s value after the inner ``word`` (as ``net`` reads it) in float64; None when the
    network runs in float64 already, or when the float32 ``value`` lies beyond ``SCREEN`` of the heads' scale
    (twice the largest |bias| + sum of |weights| of a head, whose h lie in [-1, 1]; twice, for an argmax margin),
    so far from 0 that its sign is not in doubt (a float64 copy of a large network is not made for nothing)."""
    model = net.model
    if model.compute_dtype is np.float64:
        return None
    scale = 2 * float(np.max(absolute_row_sums(model.head_weight) + np.abs(model.head_bias), initial=0.0))
    if abs(value) > SCREEN * scale:
        return None
    return float(Network(model, net.reading, np.float64).walk(list(word))[-1, column])


def near_round_off(value: float, wide: float | None) -> bool:
    """Whether a float32 ``value`` is within round-off of 0, judged by the float64 one (``wide``)."""
    if wide is None:
        return False
    return (value > 0) != (wide > 0) or abs(value) <= FACTOR * abs(value - wide)


def round_off_text(value: float, wide: float) -> str:
    """'within float32 round-off of 0: in float64 it is X, ...' for a verdict :func:`near_round_off` flags."""
    if (value > 0) != (wide > 0):
        return (f"within float32 round-off of 0: in float64 it is {wide:.4g}, on the other side of 0, and another "
                "float32 implementation (torch's nn.LSTM, say) may round it to either side")
    return (f"within float32 round-off of 0: in float64 it is {wide:.4g}, on the same side, but it moved by more than "
            f"1/{FACTOR} of itself, so that another float32 implementation may round it to the other side")
