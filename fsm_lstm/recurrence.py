"""One recurrent step split in two, so that a state followed by several symbols pays for its recurrent matrix
products once: ``products`` computes every layer's W_hh h for a batch of states, ``children`` finishes the
step from them for one symbol per row. A state stepped by the end marker (to read a word-level verdict) and by
the next symbol, or a node of a suffix trie and its children, then costs one product instead of one per
symbol; the products of rows kept for long (an observation table's) can be kept with them.

The operations are :class:`runtime.Stepper`'s, in the same order, on the same prepared weights (the LSTM's
sign-folded gates and one-hot tables, the plain cells' weights), so that a step gives the same bits either way.
The elementwise work is done in place, on the gathered one-hot rows (for a 512-unit GRU it cost about half as
much as the recurrent product before).
"""

from __future__ import annotations

import numpy as np

from .cells import PlainCell
from .runtime import Stepper
from .threads import product

__all__ = ["SplitStep", "State"]

State = list[tuple[np.ndarray, np.ndarray]]  # per layer (c, h), as the stepper keeps them


class SplitStep:
    """A stepper's step as ``products`` (per state) and ``children`` (per state and symbol)."""

    def __init__(self, stepper: Stepper) -> None:
        self.plans = stepper.plans
        self.widths = [p.w_hh_t.shape[1] if isinstance(p, PlainCell) else p.n_dyn for p in self.plans]
        self.width = sum(self.widths)
        first = self.plans[0]  # W_ih x + b_ih of a one-hot symbol, as ``PlainCell.project`` adds them
        self.projected = first.w_ih_t + first.b_ih if isinstance(first, PlainCell) else None

    def products(self, state: State) -> np.ndarray:
        """(B, width): every layer's recurrent products of the states, side by side."""
        parts = []
        for plan, (_, h) in zip(self.plans, state):
            if isinstance(plan, PlainCell):
                part = product(h, plan.w_hh_t)
                part += plan.b_hh
                parts.append(part)
            elif plan.n_dyn:
                parts.append(product(h, plan.w_hh_t) if plan.w_hh_rows is None
                             else np.ascontiguousarray((plan.w_hh_rows @ h.T).T))
        if len(parts) == 1:  # one layer: no copy
            return parts[0]
        dtype = state[0][1].dtype
        return np.concatenate(parts, axis=1) if parts else np.zeros((len(state[0][1]), 0), dtype)

    def children(self, state: State, products: np.ndarray, symbols: np.ndarray) -> State:
        """The states after one model symbol per row, from the rows' ``products``."""
        out: State = []
        values: np.ndarray = np.asarray(symbols, dtype=np.int64)
        col = 0
        with np.errstate(over="ignore"):
            for k, (plan, (c, h)) in enumerate(zip(self.plans, state)):
                rec = products[:, col:col + self.widths[k]]
                col += self.widths[k]
                if isinstance(plan, PlainCell):
                    projected = (np.take(self.projected, values, axis=0, mode="clip") if k == 0
                                 else product(values, plan.w_ih_t) + plan.b_ih)
                    h_new = _plain_children(plan.cell, projected, rec, h)
                    out.append((c, h_new))
                else:
                    c_new, h_new = _lstm_children(plan, values if k else None, values if not k else None, rec, c)
                    out.append((c_new, h_new))
                values = h_new
        return out


def _lstm_children(plan: object, inputs: np.ndarray | None, symbols: np.ndarray | None, rec: np.ndarray,
                   c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One LSTM layer's (c, h) after a step, as ``runtime._Cell.step`` computes it: the gates' scaled
    pre-activations from the one-hot table (``symbols``) or the previous layer's h (``inputs``), plus ``rec``;
    tanh for g, 1 / (1 + exp(z)) for the sign-folded sigmoid gates; the static gates' activations from the table."""
    n_dyn = plan.n_dyn  # type: ignore[attr-defined]
    if symbols is not None:
        pre = np.take(plan.table, symbols, axis=0, mode="clip")  # type: ignore[attr-defined]
    else:
        pre = product(inputs, plan.w_in_t) + plan.b_in  # type: ignore[attr-defined,operator]
    dyn = pre[:, :n_dyn]
    dyn += rec
    act: dict[int, np.ndarray] = {}
    for q in plan.order:  # type: ignore[attr-defined]
        block = pre[:, plan.column[q]]  # type: ignore[attr-defined]
        if q in plan.dynamic:  # type: ignore[attr-defined]
            if q == 2:
                np.tanh(block, out=block)
            else:
                np.exp(block, out=block)
                block += 1.0
                np.reciprocal(block, out=block)
        act[q] = block
    c_new = act[1] * c
    c_new += act[0] * act[2]
    h_new = np.tanh(c_new)
    h_new *= act[3]
    return c_new, h_new


def _plain_children(cell: str, pre: np.ndarray, rec: np.ndarray, h: np.ndarray) -> np.ndarray:
    """A GRU's or tanh RNN's new h, as ``cells.PlainCell.step`` computes it, in place on the projected inputs
    ``pre`` (B, GH): r, z = sigmoid(pre + rec), n = tanh(pre_n + r * rec_n), h' = (1 - z) * n + z * h."""
    if cell == "rnn":
        pre += rec
        return np.tanh(pre, out=pre)
    H = h.shape[1]
    gates = pre[:, :2 * H]
    gates += rec[:, :2 * H]
    np.negative(gates, out=gates)  # sigmoid(x) = 1 / (1 + exp(-x)), as intervals.sigmoid computes it
    np.exp(gates, out=gates)
    gates += 1.0
    np.divide(1.0, gates, out=gates)
    r, z = pre[:, :H], pre[:, H:2 * H]
    n = r * rec[:, 2 * H:]
    n += pre[:, 2 * H:]
    np.tanh(n, out=n)
    out = 1 - z
    out *= n
    out += z * h
    return out
