"""Sound affine-form (zonotope) images of one network step and of the heads, for LSTM, GRU and RNN layers.

An affine form bounds a batch of vectors as x = center + gens @ e + r with e in [-1, 1]^m shared by every unit of
one form and |r| <= rem per unit: the units stay correlated through e, so a box that a step shears or rotates is
not wrapped into a wider box (the wrapping effect of ``interval_step``). Every affine operation is exact on the
form; each sigmoid and tanh is replaced by its tightest sound slope on the input's range (the smaller of the
derivatives at the two ends: the function minus that line is then monotone) plus an interval, each product of
two forms keeps its two linear terms and bounds the rest; everything else goes into ``rem``.

Rounding: the margins ``interval_step`` uses for the runtime's float32 (or float64) forward pass, gamma_n *
(sum |w||x| + |b|) per dot product and 8 units of round-off per elementwise result (taken on every product too),
so every state the runtime computes from a state in the form lies in the image. A GRU's candidate input W_in x +
b_in gets its own dot-product margin besides (the recurrent sum's margin is multiplied by the reset gate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .interval_step import _Affine
from .interval_step import _Layer as _IntervalLayer
from .argmax_outputs import argmax_columns, margin_bounds
from .intervals import ROUNDOFF, sigmoid
from .model import Model

__all__ = ["AffineForm", "AffineNet"]


@dataclass
class AffineForm:
    """x = center + gens @ e + r, e in [-1, 1]^m, |r| <= rem: center (B, n), gens (B, n, m), rem (B, n)."""

    center: np.ndarray
    gens: np.ndarray
    rem: np.ndarray

    def radius(self) -> np.ndarray:
        return np.abs(self.gens).sum(axis=2) + self.rem

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        rad = self.radius()
        return self.center - rad, self.center + rad

    def magnitude(self) -> np.ndarray:
        return np.abs(self.center) + self.radius()

    def part(self, columns: slice) -> AffineForm:
        return AffineForm(self.center[:, columns], self.gens[:, columns], self.rem[:, columns])


def _rem(value: np.ndarray) -> np.ndarray:
    """A remainder bound: NaN (0 times an infinite bound) becomes an infinite bound, and an infinite one stays so
    (nan_to_num's default would make it the largest float, whose sums with the centre overflow to NaN)."""
    return np.nan_to_num(value, nan=np.inf, posinf=np.inf)


def _add(a: AffineForm, b: AffineForm, extra: np.ndarray | float = 0.0) -> AffineForm:
    return AffineForm(a.center + b.center, a.gens + b.gens, _rem(a.rem + b.rem + extra))


def _scale(a: AffineForm, factor: float) -> AffineForm:
    return AffineForm(factor * a.center, factor * a.gens, abs(factor) * a.rem)


def _shift(a: AffineForm, value: float) -> AffineForm:
    return AffineForm(a.center + value, a.gens, a.rem)


def _round(a: AffineForm, eps: float) -> AffineForm:
    """Widen by the runtime's rounding of an elementwise result: eps * (1 + |value|)."""
    return AffineForm(a.center, a.gens, _rem(a.rem + eps * (1 + a.magnitude())))


def _product(a: AffineForm, b: AffineForm, eps: float) -> AffineForm:
    """a * b elementwise: ca cb + ca (gb e) + cb (ga e) + (the rest, bounded), rounded."""
    ra, rb = a.radius(), b.radius()
    with np.errstate(invalid="ignore"):
        rem = np.abs(a.center) * b.rem + np.abs(b.center) * a.rem + ra * rb
    out = AffineForm(a.center * b.center, a.center[..., None] * b.gens + b.center[..., None] * a.gens, _rem(rem))
    return _round(out, eps)


def _activation(a: AffineForm, kind: str, eps: float) -> AffineForm:
    """sigmoid or tanh of a form: slope s = the smaller derivative at the range's two ends (f - s x is then
    nondecreasing on the range, so it lies between its values at the ends), clipped to the function's range."""
    f = sigmoid if kind == "sigmoid" else np.tanh
    low, high = (0.0, 1.0) if kind == "sigmoid" else (-1.0, 1.0)
    lo, hi = a.bounds()
    finite = np.isfinite(lo) & np.isfinite(hi)
    lo_f, hi_f = np.where(finite, lo, 0.0), np.where(finite, hi, 0.0)
    fl, fh = f(lo_f), f(hi_f)
    deriv = (lambda v: v * (1 - v)) if kind == "sigmoid" else (lambda v: 1 - v * v)
    slope = np.where(finite, np.maximum(np.minimum(deriv(fl), deriv(fh)) * (1 - 1e-9), 0.0), 0.0)
    # on the range, f(x) - slope x lies in [f(lo) - slope lo, f(hi) - slope hi] (widened for float64)
    d_lo = fl - slope * lo_f
    d_hi = fh - slope * hi_f
    pad = 1e-12 * (1 + np.abs(fl) + np.abs(fh) + slope * (np.abs(lo_f) + np.abs(hi_f)))
    d_lo, d_hi = d_lo - pad, d_hi + pad
    # where the range is unbounded: the whole range of f
    d_lo, d_hi = np.where(finite, d_lo, low), np.where(finite, d_hi, high)
    center = slope * a.center + (d_lo + d_hi) / 2
    center = np.where(finite, center, np.where(np.isnan(lo) | np.isnan(hi), np.nan, (low + high) / 2))  # NaN stays
    out = AffineForm(center, slope[..., None] * a.gens,
                     np.where(finite, slope * a.rem + (d_hi - d_lo) / 2, (high - low) / 2))
    return _round(out, eps)


class _Linear(_Affine):
    """x -> W x + b on forms, widened by gamma_n * (sum |w||x| + |b| + others) for the runtime's dot product (the
    weights and rounding constants as ``interval_step`` takes them)."""

    def __call__(self, x: AffineForm, others: np.ndarray | float = 0.0) -> AffineForm:  # type: ignore[override]
        with np.errstate(invalid="ignore", over="ignore"):
            center = x.center @ self.w_t + self.b
            gens = np.einsum("ij,bjm->bim", self.w, x.gens)
            total = x.magnitude() @ self.w_abs_t + np.abs(self.b) + others
            rem = x.rem @ self.w_abs_t + self.gamma * total + self.tiny
        rem = _rem(rem)
        if not (total <= self.limit).all():  # a sum that may overflow: the whole line, or NaN
            center, rem = self.overflowed(*x.bounds(), others, total, center, rem)
        return AffineForm(center, gens, rem)


class _Layer(_IntervalLayer):
    """One layer's step on forms; its weights as ``interval_step`` takes them."""

    linear = _Linear

    def _inputs(self, x: AffineForm | None, symbols: np.ndarray,  # type: ignore[override]
                m: int) -> tuple[AffineForm, np.ndarray]:
        """The input projection W_ih x + b_ih as a form (exact: its rounding is in the recurrent sum's) and its
        magnitude."""
        if self.one_hot:
            center = self.w_ih_t[symbols] + self.b_ih
            return (AffineForm(center, np.zeros(center.shape + (m,)), np.zeros_like(center)),
                    self.w_ih_abs_t[symbols] + np.abs(self.b_ih))
        center = x.center @ self.w_ih_t + self.b_ih
        gens = np.einsum("ji,bjm->bim", self.w_ih_t, x.gens)
        return (AffineForm(center, gens, _rem(x.rem @ self.w_ih_abs_t)),
                x.magnitude() @ self.w_ih_abs_t + np.abs(self.b_ih))

    def step(self, state: AffineForm, x: AffineForm | None,  # type: ignore[override]
             symbols: np.ndarray) -> AffineForm:
        H, eps = self.hidden, self.eps
        m = state.gens.shape[2]
        inp, mag = self._inputs(x, symbols, m)
        if self.cell == "lstm":
            c, h = state.part(slice(0, H)), state.part(slice(H, 2 * H))
            z = _add(self.rec(h, mag), inp)
            gate = lambda q, kind: _activation(z.part(slice(q * H, (q + 1) * H)), kind, eps)  # noqa: E731
            i, f, g, o = gate(0, "sigmoid"), gate(1, "sigmoid"), gate(2, "tanh"), gate(3, "sigmoid")
            new_c = _round(_add(_product(f, c, eps), _product(i, g, eps)), eps)
            new_h = _product(o, _activation(new_c, "tanh", eps), eps)
            return _concat([new_c, new_h])
        rec = self.rec(state, mag)
        if self.cell == "rnn":
            return _activation(_add(rec, inp), "tanh", eps)
        block = lambda a, q: a.part(slice(q * H, (q + 1) * H))  # noqa: E731
        r = _activation(_add(block(rec, 0), block(inp, 0)), "sigmoid", eps)
        zg = _activation(_add(block(rec, 1), block(inp, 1)), "sigmoid", eps)
        # the input part of n is not scaled by r: its own dot product's rounding is added here, since the share
        # of it in rec's remainder is multiplied by r, which may be near 0
        n_in = block(inp, 2)
        n_in = AffineForm(n_in.center, n_in.gens, n_in.rem + self.rec.gamma * mag[:, 2 * H:3 * H])
        n = _activation(_round(_add(_product(r, block(rec, 2), eps), n_in), eps), "tanh", eps)
        # h' = (1 - z) n + z h = n + z (h - n)
        diff = _round(_add(state, _scale(n, -1.0)), eps)
        return _round(_add(n, _product(zg, diff, eps)), eps)


def _concat(forms: list[AffineForm]) -> AffineForm:
    return AffineForm(np.concatenate([f.center for f in forms], axis=1),
                      np.concatenate([f.gens for f in forms], axis=1), np.concatenate([f.rem for f in forms], axis=1))


class AffineNet:
    """Affine-form images of the whole network's step and heads, over batches of forms of whole states
    (every layer's c, LSTM only, then h, as ``queries.Network`` packs them)."""

    def __init__(self, model: Model, precision: str = "float32") -> None:
        dtype = np.float32 if precision == "float32" else np.float64
        u = ROUNDOFF[precision]
        self.layers = [_Layer(model, k, dtype, u) for k in range(len(model.layers))]
        self.width = sum(layer.width for layer in self.layers)
        self.heads = _Linear(model.head_weight, model.head_bias, dtype, u, 2)
        self.out_columns = argmax_columns(model)

    def step(self, state: AffineForm, symbols: np.ndarray) -> AffineForm:
        """Forms (B, D) after one model symbol per form (B,)."""
        out, col, x = [], 0, None
        for layer in self.layers:
            new = layer.step(state.part(slice(col, col + layer.width)), x, symbols)
            out.append(new)
            x = new.part(slice(layer.width - layer.hidden, layer.width))
            col += layer.width
        return _concat(out)

    def logits(self, state: AffineForm) -> tuple[np.ndarray, np.ndarray]:
        """(B, M) bounds of the head logits."""
        H = self.layers[-1].hidden
        lo, hi = self.heads(state.part(slice(self.width - H, self.width))).bounds()
        if self.out_columns is not None:  # bounds on the out: heads' margins (argmax_outputs)
            return margin_bounds(lo, hi, self.out_columns)
        return lo, hi
