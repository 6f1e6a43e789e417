"""Sound interval images of one network step and of the heads, for LSTM, GRU and RNN layers of any depth.

A state is packed as ``queries.Network`` packs it: every layer's c (LSTM only) then h, side by side. Given a
batch of boxes [lo, hi] (B, D) and one symbol per box, ``step`` returns boxes that contain every state the
runtime (``runtime.Stepper``) can compute from a state inside the box, *including the rounding of a float32 (or
float64) forward pass*: each dot product is widened by gamma_n * (sum |w||x| + |bias|) (n terms, any order of
summation), and each elementwise result (sigmoid, tanh, products, sums) by 8 units of round-off times its
magnitude plus one. The weights are those the runtime uses: cast to the precision, then widened exactly to
float64. The endpoints are computed in float64: for a float32 run their own error is far inside these margins;
for a float64 run the margins take 4 units of 2^-53 (``ROUNDOFF``), covering the run's rounding and their own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .argmax_outputs import argmax_columns, margin_bounds
from .intervals import ROUNDOFF, interval_product, sigmoid
from .model import Model

__all__ = ["IntervalNet"]

_TINY = 1e-300  # keeps radii of exact points non-negative after float64 subtraction


class _Affine:
    """x -> W x + b over boxes, with the rounding of a dot product of ``terms`` terms."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, dtype: type, u: float, extra_terms: int) -> None:
        with np.errstate(over="ignore"):  # past the range (--precision float32 of a float64 model): infinite, as
            self.w = weight.astype(dtype).astype(np.float64)  # in that run; so is a folded bias past it
            self.b = bias.astype(dtype).astype(np.float64)
        self.w_abs_t = np.abs(self.w).T.copy()
        self.w_t = self.w.T.copy()
        n = weight.shape[1] + extra_terms
        self.gamma = 1.01 * n * u / (1 - n * u)
        # gamma_n is relative and fails for products that underflow: each keeps only an absolute accuracy of
        # half the smallest subnormal
        self.tiny = n * float(np.finfo(dtype).smallest_subnormal)
        # past it a partial sum may overflow (``overflowed``)
        self.limit = float(np.finfo(dtype).max) / 2

    def __call__(self, lo: np.ndarray, hi: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mid, radius) of W x + b + others for x in [lo, hi]; ``others`` bounds |terms added in the same sum|."""
        mid, rad = (lo + hi) / 2, (hi - lo) / 2
        mag = np.maximum(np.abs(lo), np.abs(hi))
        with np.errstate(invalid="ignore", over="ignore"):
            zmid = mid @ self.w_t + self.b
            total = mag @ self.w_abs_t + np.abs(self.b) + others
            zrad = rad @ self.w_abs_t + self.gamma * total + self.tiny
        return self.overflowed(lo, hi, others, total, zmid, zrad)

    def overflowed(self, lo: np.ndarray, hi: np.ndarray, others: Any, total: np.ndarray, mid: np.ndarray,
                   rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mid, radius) where no partial sum can overflow; elsewhere the whole line, (0, inf), when it can overflow
        one way only (inf plus finite terms stays inf), and NaN when it can overflow both ways: inf - inf is NaN,
        which the provers refuse ("may hold NaN"). The terms that can be positive and negative are bounded apart
        (``others``, the terms added to the same sum, on both sides)."""
        overflow = ~(total <= self.limit)  # NaN bounds too
        if not overflow.any():
            return mid, rad
        x_up, x_down = np.maximum(hi, 0.0), np.maximum(-lo, 0.0)
        w_pos, w_neg = np.maximum(self.w_t, 0.0), np.maximum(-self.w_t, 0.0)
        with np.errstate(invalid="ignore", over="ignore"):
            up = x_up @ w_pos + x_down @ w_neg + np.maximum(self.b, 0.0) + others
            down = x_up @ w_neg + x_down @ w_pos + np.maximum(-self.b, 0.0) + others
        both = ~(up <= self.limit) & ~(down <= self.limit)
        return np.where(overflow, np.where(both, np.nan, 0.0), mid), np.where(overflow, np.inf, rad)


class _Layer:
    """One layer: input (one-hot symbols for layer 0, else the previous layer's h box) -> its new state box."""

    linear = _Affine  # the recurrent sum's map (``affine_step`` puts its own form of it here)

    def __init__(self, model: Model, k: int, dtype: type, u: float) -> None:
        layer = model.layers[k]
        self.cell = model.cell
        self.hidden = H = layer.hidden_size
        self.one_hot = k == 0
        self.eps = 8 * u
        with np.errstate(over="ignore"):  # infinite past the range, as in that run (``_Affine``)
            w_ih = layer.weight_ih.astype(dtype).astype(np.float64)
            b_ih = layer.bias_ih.astype(dtype).astype(np.float64)
            b_hh = layer.bias_hh.astype(dtype).astype(np.float64)
        fold = self.cell == "lstm"  # the LSTM runtime adds both biases into one; GRU/RNN keep b_hh in the sum
        extra = 4 if self.one_hot else layer.weight_ih.shape[1] + 4
        self.rec = self.linear(layer.weight_hh, (b_ih + b_hh) if fold else b_hh, dtype, u, extra)
        self.w_ih_t = w_ih.T.copy()
        self.w_ih_abs_t = np.abs(w_ih).T.copy()
        self.b_ih = np.zeros_like(b_ih) if fold else b_ih
        self.width = (2 * H) if self.cell == "lstm" else H

    def _inputs(self, x_lo: np.ndarray | None, x_hi: np.ndarray | None, symbols: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mid, radius, magnitude) of the input projection W_ih x + b_ih (the bias only when not folded)."""
        if self.one_hot:
            mid = self.w_ih_t[symbols] + self.b_ih
            return mid, np.zeros_like(mid), np.abs(self.w_ih_t[symbols]) + np.abs(self.b_ih)
        mid, rad = (x_lo + x_hi) / 2, (x_hi - x_lo) / 2
        mag = np.maximum(np.abs(x_lo), np.abs(x_hi))
        return mid @ self.w_ih_t + self.b_ih, rad @ self.w_ih_abs_t, mag @ self.w_ih_abs_t + np.abs(self.b_ih)

    def step(self, lo: np.ndarray, hi: np.ndarray, x_lo: np.ndarray | None, x_hi: np.ndarray | None,
             symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The new state box of this layer from its old state box (lo, hi) and the input."""
        H, eps = self.hidden, self.eps
        imid, irad, imag = self._inputs(x_lo, x_hi, symbols)
        if self.cell == "lstm":
            c_lo, c_hi, h_lo, h_hi = lo[:, :H], hi[:, :H], lo[:, H:], hi[:, H:]
            zmid, zrad = self.rec(h_lo, h_hi, imag)
            zmid, zrad = zmid + imid, zrad + irad
            zlo, zhi = zmid - zrad, zmid + zrad
            acts = []
            for q, f in enumerate((sigmoid, sigmoid, np.tanh, sigmoid)):  # sigmoid in [0, 1], tanh in [-1, 1]
                bound = (0.0, 1.0) if q != 2 else (-1.0, 1.0)
                acts.append((np.clip(f(zlo[:, q * H:(q + 1) * H]) - eps, *bound),
                             np.clip(f(zhi[:, q * H:(q + 1) * H]) + eps, *bound)))
            (i_lo, i_hi), (f_lo, f_hi), (g_lo, g_hi), (o_lo, o_hi) = acts
            fc_lo, fc_hi = interval_product(f_lo, f_hi, c_lo, c_hi)
            ig_lo, ig_hi = interval_product(i_lo, i_hi, g_lo, g_hi)
            nc_lo, nc_hi = fc_lo + ig_lo, fc_hi + ig_hi
            nc_lo, nc_hi = nc_lo - eps * (2 + np.abs(nc_lo)), nc_hi + eps * (2 + np.abs(nc_hi))
            nh_lo, nh_hi = interval_product(o_lo, o_hi, np.tanh(nc_lo) - eps, np.tanh(nc_hi) + eps)
            return np.concatenate([nc_lo, nh_lo - eps], axis=1), np.concatenate([nc_hi, nh_hi + eps], axis=1)
        rmid, rrad = self.rec(lo, hi, imag)  # W_hh h + b_hh, widened for the input added to it
        if self.cell == "rnn":
            zmid, zrad = rmid + imid, rrad + irad
            return np.tanh(zmid - zrad) - eps, np.tanh(zmid + zrad) + eps
        z = lambda q: (zm := rmid[:, q * H:(q + 1) * H] + imid[:, q * H:(q + 1) * H],  # noqa: E731
                       zr := rrad[:, q * H:(q + 1) * H] + irad[:, q * H:(q + 1) * H], zm - zr, zm + zr)[2:]
        r_lo, r_hi = (v + s * eps for v, s in zip(map(sigmoid, z(0)), (-1, 1)))
        z_lo, z_hi = (np.clip(v + s * eps, 0.0, 1.0) for v, s in zip(map(sigmoid, z(1)), (-1, 1)))
        n_rec_lo, n_rec_hi = rmid[:, 2 * H:] - rrad[:, 2 * H:], rmid[:, 2 * H:] + rrad[:, 2 * H:]
        p_lo, p_hi = interval_product(r_lo, r_hi, n_rec_lo, n_rec_hi)
        p_mag = np.maximum(np.abs(p_lo), np.abs(p_hi))
        # the candidate's input W_in x + b_in is not scaled by r: its own dot product's rounding (gamma_n) is
        # added here, since its share of the recurrent sum's radius was multiplied by r; eps for the sum
        n_err = eps * (p_mag + imag[:, 2 * H:]) + self.rec.gamma * imag[:, 2 * H:]
        n_in_lo = p_lo + imid[:, 2 * H:] - irad[:, 2 * H:] - n_err
        n_in_hi = p_hi + imid[:, 2 * H:] + irad[:, 2 * H:] + n_err
        n_lo, n_hi = np.tanh(n_in_lo) - eps, np.tanh(n_in_hi) + eps
        # h' = (1 - z) n + z h grows with n and h for each z in [0, 1] and is linear in z: the extremes lie
        # at the ends of z's interval
        new_lo = np.minimum((1 - z_lo) * n_lo + z_lo * lo, (1 - z_hi) * n_lo + z_hi * lo)
        new_hi = np.maximum((1 - z_lo) * n_hi + z_lo * hi, (1 - z_hi) * n_hi + z_hi * hi)
        mag = np.maximum(np.maximum(np.abs(n_lo), np.abs(n_hi)), np.maximum(np.abs(lo), np.abs(hi)))
        return new_lo - eps * (2 + mag), new_hi + eps * (2 + mag)


class IntervalNet:
    """Interval images of the whole network's step and heads, over batches of boxes."""

    def __init__(self, model: Model, precision: str = "float32") -> None:
        dtype = np.float32 if precision == "float32" else np.float64
        u = ROUNDOFF[precision]
        self.layers = [_Layer(model, k, dtype, u) for k in range(len(model.layers))]
        self.width = sum(layer.width for layer in self.layers)
        # LSTM cell values are unbounded (h = o tanh(c) is not): a region may let them run to infinity
        self.unbounded = np.concatenate([np.arange(layer.width) < (layer.hidden if layer.cell == "lstm" else 0)
                                         for layer in self.layers])
        self.heads = _Affine(model.head_weight, model.head_bias, dtype, u, 2)
        self.out_columns = argmax_columns(model)

    def step(self, lo: np.ndarray, hi: np.ndarray, symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (B, D) after one model symbol per box (B,)."""
        out_lo, out_hi, col = [], [], 0
        x_lo = x_hi = None
        for layer in self.layers:
            part = slice(col, col + layer.width)
            n_lo, n_hi = layer.step(lo[:, part], hi[:, part], x_lo, x_hi, symbols)
            out_lo.append(n_lo)
            out_hi.append(n_hi)
            x_lo, x_hi = n_lo[:, -layer.hidden:], n_hi[:, -layer.hidden:]
            col += layer.width
        return np.concatenate(out_lo, axis=1), np.concatenate(out_hi, axis=1)

    def logits(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, M) bounds of the head logits over boxes of whole states."""
        H = self.layers[-1].hidden
        mid, rad = self.heads(lo[:, -H:], hi[:, -H:], 0.0)
        if self.out_columns is not None:  # bounds on the out: heads' margins (argmax_outputs)
            return margin_bounds(mid - rad, mid + rad, self.out_columns)
        return mid - rad, mid + rad
