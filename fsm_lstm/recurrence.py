"""One recurrent step split in two, so that a state followed by several symbols pays for its recurrent matrix
products once: ``products`` computes every layer's W_hh h for a batch of states, ``children`` finishes the
step from them for one symbol per row. A state stepped by the end marker (to read a word-level verdict) and by
the next symbol, or a node of a suffix trie and its children, then costs one product instead of one per
symbol; the products of rows kept for long (an observation table's) can be kept with them.

The operations are :class:`runtime.Stepper`'s, in the same order, on the same prepared weights (the LSTM's
sign-folded gates and one-hot tables, the plain cells' weights), so that a step gives the same bits either way.
The elementwise work is done in place, one gate at a time, on contiguous blocks of rows of about ``_CHUNK``
values: numpy ran 2-3x slower on column slices of a (B, 3H) gate array, and a block's gates stay in the L2
cache (a 256-unit GRU's step of 2,048 rows: 4.5 ms before, 1.9 ms so).
"""

from __future__ import annotations

import numpy as np

from .cells import PlainCell
from .runtime import Stepper
from .threads import product

__all__ = ["SplitStep", "State", "rows_of"]

State = list[tuple[np.ndarray, np.ndarray]]  # per layer (c, h), as the stepper keeps them


_CHUNK = 1 << 15  # hidden values per block of rows in ``children``: a block's gates stay in the L2 cache


class SplitStep:
    """A stepper's step as ``products`` (per state) and ``children`` (per state and symbol)."""

    def __init__(self, stepper: Stepper) -> None:
        self.plans = stepper.plans
        self.widths = [p.w_hh_t.shape[1] if isinstance(p, PlainCell) else p.n_dyn for p in self.plans]
        self.width = sum(self.widths)
        first = self.plans[0]  # its gates' inputs by symbol, one contiguous (K, H) table per gate
        if isinstance(first, PlainCell):  # W_ih x + b_ih of a one-hot symbol, as ``PlainCell.project`` adds them
            table = first.w_ih_t + first.b_ih
            H = first.hidden
        else:  # the LSTM's scaled pre-activations (dynamic gates) and activations (static gates)
            table, H = first.table, first.hidden
        self.tables = [np.ascontiguousarray(table[:, k * H:(k + 1) * H]) for k in range(table.shape[1] // H)]

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

    def children(self, state: State, products: np.ndarray, symbols: np.ndarray,
                 rows: np.ndarray | None = None) -> State:
        """The states after one model symbol per row, from the rows' ``products``; with ``rows``, of those rows
        of ``state`` and ``products`` (each layer takes only what its cell reads: an LSTM its c, a GRU its h, a
        tanh RNN neither)."""
        out: State = []
        values: np.ndarray = np.asarray(symbols, dtype=np.int64)
        col = 0
        if rows is not None:
            products = rows_of(products, rows)
        with np.errstate(over="ignore"):
            for k, (plan, (c, h)) in enumerate(zip(self.plans, state)):
                rec = products[:, col:col + self.widths[k]]
                col += self.widths[k]
                if rows is not None:
                    c = rows_of(c, rows)
                    h = rows_of(h, rows) if isinstance(plan, PlainCell) and plan.cell == "gru" else h[:0]
                if isinstance(plan, PlainCell):
                    inputs = _Inputs(self.tables, values) if k == 0 else _Inputs(
                        [], None, product(values, plan.w_ih_t) + plan.b_ih)
                    out.append((c, _plain_children(plan.cell, inputs, rec, h)))
                else:
                    inputs = _Inputs(self.tables, values) if k == 0 else _Inputs(
                        [], None, product(values, plan.w_in_t) + plan.b_in)  # type: ignore[attr-defined]
                    out.append(_lstm_children(plan, inputs, rec, c))
                values = out[-1][1]
        return out


class _Inputs:
    """A layer's projected inputs, one gate's block of rows at a time, each a new contiguous (rows, H) array:
    gathered by symbol from per-gate tables (the first layer), or copied from the (B, G) product of the layer
    below. Contiguous blocks matter: numpy's elementwise work on a column slice of a (B, G) array ran 2-3x
    slower."""

    def __init__(self, tables: list[np.ndarray], symbols: np.ndarray | None, full: np.ndarray | None = None) -> None:
        self.tables, self.symbols, self.full = tables, symbols, full

    def block(self, gate: int, rows: slice, hidden: int) -> np.ndarray:
        """Gate ``gate``'s (in the layer's column order) inputs of ``rows``."""
        if self.full is None:
            return np.take(self.tables[gate], self.symbols[rows], axis=0, mode="clip")  # type: ignore[index]
        return self.full[rows, gate * hidden:(gate + 1) * hidden].copy()


def rows_of(a: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``a[index]``: a view when the index is a run of consecutive rows (from row 0 on)."""
    if len(index) and index[0] >= 0 and index[-1] - index[0] == len(index) - 1 and (np.diff(index) == 1).all():
        return a[index[0]:index[-1] + 1]
    return a[index]


def _row_blocks(batch: int, hidden: int) -> list[slice]:
    """Blocks of rows of about ``_CHUNK`` hidden values each (at least 64 rows)."""
    rows = max(64, _CHUNK // max(1, hidden))
    return [slice(lo, lo + rows) for lo in range(0, batch, rows)]


def _sigmoid(z: np.ndarray) -> None:
    """sigmoid in place, as ``intervals.sigmoid`` computes it: 1 / (1 + exp(-z))."""
    np.negative(z, out=z)
    np.exp(z, out=z)
    z += 1.0
    np.divide(1.0, z, out=z)


def _lstm_children(plan: object, inputs: _Inputs, rec: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One LSTM layer's (c, h) after a step, as ``runtime._Cell.step`` computes it: the gates' scaled
    pre-activations plus ``rec``; tanh for g, 1 / (1 + exp(z)) for the sign-folded sigmoid gates; the static
    gates' activations from the table."""
    H = c.shape[1]
    c_new, h_new = np.empty_like(c), np.empty_like(c)
    dynamic = set(plan.dynamic)  # type: ignore[attr-defined]
    for rows in _row_blocks(len(c), H):
        act: dict[int, np.ndarray] = {}
        for k, q in enumerate(plan.order):  # type: ignore[attr-defined]
            block = inputs.block(k, rows, H)
            if q in dynamic:
                block += rec[rows, k * H:(k + 1) * H]
                if q == 2:
                    np.tanh(block, out=block)
                else:
                    np.exp(block, out=block)
                    block += 1.0
                    np.reciprocal(block, out=block)
            act[q] = block
        c_rows, h_rows = c_new[rows], h_new[rows]
        np.multiply(act[1], c[rows], out=c_rows)
        act[0] *= act[2]
        c_rows += act[0]
        np.tanh(c_rows, out=h_rows)
        h_rows *= act[3]
    return c_new, h_new


def _plain_children(cell: str, inputs: _Inputs, rec: np.ndarray, h: np.ndarray) -> np.ndarray:
    """A GRU's or tanh RNN's new h, as ``cells.PlainCell.step`` computes it, from the projected ``inputs`` and
    the recurrent products ``rec`` (B, GH): r, z = sigmoid(x + rec), n = tanh(x_n + r * rec_n),
    h' = (1 - z) * n + z * h."""
    H = h.shape[1]
    out = np.empty((len(rec), H), dtype=rec.dtype)  # (h itself may be left out for an RNN, which does not read it)
    for rows in _row_blocks(len(rec), H):
        if cell == "rnn":
            x = inputs.block(0, rows, H)
            x += rec[rows]
            np.tanh(x, out=out[rows])
            continue
        r = inputs.block(0, rows, H)
        r += rec[rows, :H]
        _sigmoid(r)
        z = inputs.block(1, rows, H)
        z += rec[rows, H:2 * H]
        _sigmoid(z)
        r *= rec[rows, 2 * H:]
        r += inputs.block(2, rows, H)
        np.tanh(r, out=r)
        mine = out[rows]
        np.subtract(1, z, out=mine)
        mine *= r
        z *= h[rows]
        mine += z
    return out
