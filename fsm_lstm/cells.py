"""The plain recurrent cells besides the LSTM, one step at a time over a batch, in PyTorch's formulas.

GRU (nn.GRU, gates r, z, n):  r = sigmoid(x_r + W_hr h + b_hr), z = sigmoid(x_z + W_hz h + b_hz),
n = tanh(x_n + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h, where x_* = W_i* x + b_i*.
RNN (nn.RNN, tanh):  h' = tanh(W_ih x + b_ih + W_hh h + b_hh).
"""

from __future__ import annotations

import numpy as np

from .intervals import sigmoid
from .model import Layer
from .sparse_weights import dense

__all__ = ["PlainCell"]


class PlainCell:
    """A GRU or RNN layer with its weights cast once; ``project`` the inputs, then ``step``."""

    def __init__(self, cell: str, layer: Layer, dtype: type, one_hot: bool) -> None:
        self.cell = cell
        self.hidden = layer.hidden_size
        self.w_ih_t = dense(layer.weight_ih).astype(dtype).T.copy()
        self.b_ih = layer.bias_ih.astype(dtype)
        self.w_hh_t = dense(layer.weight_hh).astype(dtype).T.copy()
        self.b_hh = layer.bias_hh.astype(dtype)
        self.one_hot = one_hot

    def project(self, inputs: np.ndarray) -> np.ndarray:
        """W_ih x + b_ih for (…,) symbol indices (one-hot layer) or (…, H_prev) values."""
        if self.one_hot:
            return self.w_ih_t[inputs] + self.b_ih
        return inputs @ self.w_ih_t + self.b_ih

    def step(self, projected: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(new h, gate activations) from projected inputs (B, GH) and the previous h (B, H)."""
        rec = h @ self.w_hh_t + self.b_hh
        if self.cell == "rnn":
            return np.tanh(projected + rec), np.zeros((len(h), 0), h.dtype)
        H = self.hidden
        r = sigmoid(projected[:, :H] + rec[:, :H])
        z = sigmoid(projected[:, H:2 * H] + rec[:, H:2 * H])
        n = np.tanh(projected[:, 2 * H:] + r * rec[:, 2 * H:])
        return (1 - z) * n + z * h, np.concatenate([r, z, n], axis=1)
