"""Batched numpy forward pass of a Model, in float32 or float64, from the zero initial state.
LSTM layers take the fast path below; GRU and RNN layers step through ``cells.PlainCell``.

Layer 0 reads one-hot symbols, so its input projection is a row gather. A gate whose recurrent weights
are all zero depends on the symbol alone: its activations are tabulated once per symbol and gathered
(a compiled model's forget, candidate and output gates are such gates). Sigmoid is 1 / (1 + exp(-z))
with the sign folded into the weights (exact); in float32 it is within 2 units of round-off of the true
value, inside the 8 units the certificate allows for every elementwise function. Every gate has its own
contiguous buffer: numpy is several times slower on strided column blocks. When the input gate is the only
dynamic gate (compiled networks), the layer runs in blocks of steps: a helper thread gathers every gate's
table for the next block (one ``np.take``) while this thread steps the current one, computing i * g as
g / (1 + exp(-z)), one pass fewer; for the last layer of a small network another helper turns each finished
block into head logits, and only two blocks of hidden states exist at a time (see :mod:`overlap`). Small
networks run with one BLAS thread: OpenBLAS's threads cost more than they save on (B x 13) @ (13 x 13)
products, and doubled the run time on a busy 2-core machine. (Splitting the batch over threads gains nothing:
the per-step calls are a few microseconds each and handing the GIL over costs as much; numexpr's fused
expressions were 15 times slower than numpy here on (2000 x 13) float32 blocks.)
Large, mostly zero weight matrices (sparse models) are multiplied in CSR form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .argmax_outputs import argmax_columns, margins, read_prefixes
from .cells import PlainCell
from .intervals import sigmoid
from .model import Layer, Model
from .overlap import Helpers, Task, helper_count
from .sparse_weights import as_csr, dense, for_products, is_sparse
from .threads import blas_threads, single_blas_thread

__all__ = ["HEAD_BLOCK", "PREFETCH_LIMIT", "STREAM_BLOCK", "Stepper", "Trace", "run", "state_rows"]

HEAD_BLOCK = 1 << 15  # rows of h turned into head logits at once
STREAM_BLOCK = 1 << 18  # hidden values (steps x batch x units) per block of steps in ``_run_fused``
PREFETCH_LIMIT = 1 << 22  # batch x units above which ``_run_fused`` gathers inline, into one set of tables



@dataclass
class Trace:
    """Per-step values. heads: (T+1, B, M) logits, row 0 the empty prefix. With ``record``: per layer,
    gates (T, B, 4H) in (i, f, g, o) order, c and h (T+1, B, H) with row 0 the zero state."""

    heads: np.ndarray
    gates: list[np.ndarray] | None = None
    c: list[np.ndarray] | None = None
    h: list[np.ndarray] | None = None

    def decoded(self) -> np.ndarray:
        """(T+1, B, M) bool: a head is true exactly when its logit is > 0."""
        return self.heads > 0


def _activate(z: np.ndarray, gate: int) -> np.ndarray:
    return np.tanh(z) if gate == 2 else sigmoid(z)


class _LayerPlan:
    """Tables for one layer. Columns are ordered dynamic gates first, then input-only (static) gates;
    for one-hot input a single (K, 4H) table holds the scaled pre-activations of the dynamic gates and
    the final activations of the static ones."""

    def __init__(self, layer: Layer, dtype: type, one_hot: bool) -> None:
        H = self.hidden = layer.hidden_size
        self.dtype = dtype
        w_hh = for_products(layer.weight_hh)
        sparse = is_sparse(w_hh)
        w_hh = w_hh.astype(dtype)
        w_ih = dense(layer.weight_ih).astype(dtype)
        bias = layer.bias_ih.astype(dtype) + layer.bias_hh.astype(dtype)
        blocks = [np.arange(q * H, (q + 1) * H) for q in range(4)]
        if sparse:
            static = [one_hot and w_hh.indptr[(q + 1) * H] == w_hh.indptr[q * H] for q in range(4)]
        else:
            static = [one_hot and not np.any(w_hh[b]) for b in blocks]
        self.dynamic = [q for q in range(4) if not static[q]]
        self.order = self.dynamic + [q for q in range(4) if static[q]]
        self.column = {q: slice(k * H, (k + 1) * H) for k, q in enumerate(self.order)}
        self.n_dyn = len(self.dynamic) * H
        rows = np.concatenate([blocks[q] for q in self.dynamic] or [np.zeros(0, np.int64)])
        # g rows keep their sign (tanh); sigmoid rows are negated so that sigmoid(z) = 1 / (1 + exp(-z))
        signs = [np.full(H, 1.0 if q == 2 else -1.0, dtype) for q in self.dynamic]
        scale = np.concatenate(signs or [np.zeros(0, dtype)])
        # sparse: the (D*H, H) rows kept as CSR, and h @ W.T computed as (W @ h.T).T
        self.w_hh_rows = as_csr(w_hh[rows].multiply(scale[:, None])).astype(dtype) if sparse else None
        self.w_hh_t = None if sparse else np.ascontiguousarray((w_hh[rows] * scale[:, None]).T)
        self.w_in_t = np.ascontiguousarray((w_ih[rows] * scale[:, None]).T)  # (K or H_prev, D*H)
        self.b_in = bias[rows] * scale
        self.table = None
        if one_hot:
            statics = [_activate(w_ih[blocks[q]].T + bias[blocks[q]], q) for q in self.order[len(self.dynamic):]]
            self.table = np.ascontiguousarray(np.concatenate([self.w_in_t + self.b_in, *statics], axis=1))
        # the compiled networks' case: the input gate is the only dynamic one, every table in one gather
        self.fused = self.table is not None and self.dynamic == [0]


class _Cell:
    """Preallocated buffers for stepping one layer over a batch of a fixed size."""

    def __init__(self, plan: _LayerPlan, batch: int) -> None:
        H, dtype = plan.hidden, plan.dtype
        self.plan = plan
        self.dyn = np.empty((batch, plan.n_dyn), dtype=dtype)
        self.statics = plan.order[len(plan.dynamic):]
        self.act = {q: np.empty((batch, H), dtype=dtype) for q in self.statics}
        self.single = len(plan.dynamic) == 1
        if self.single:
            self.act[plan.dynamic[0]] = self.dyn
        self.tables = {}
        self.dyn_table = None
        if plan.table is not None:
            self.tables = {q: np.ascontiguousarray(plan.table[:, plan.column[q]]) for q in self.statics}
            self.dyn_table = np.ascontiguousarray(plan.table[:, : plan.n_dyn])
        self.tmp = np.empty((batch, H), dtype=dtype)
        self.fused = plan.fused
        if self.fused:
            tables = plan.table.reshape(-1, len(plan.order), H)  # (K, 4, H)
            self.table3 = np.ascontiguousarray(tables.transpose(1, 0, 2))  # (4, K, H)
            self.product = np.empty((batch, H), dtype=dtype)

    def fused_step(self, gates: np.ndarray, c: np.ndarray, h: np.ndarray, h_out: np.ndarray) -> None:
        """One step of a one-hot layer whose input gate is its only dynamic gate, from its gathered tables
        ``gates`` (4, B, H) in (i, f, g, o) order, which it overwrites: i * g as g / (1 + exp(-z)) (the sign of z
        is folded into the weights)."""
        z, f, g, o = gates
        if self.plan.w_hh_rows is None:
            np.dot(h, self.plan.w_hh_t, out=self.product)  # as h @ W, without a new array each step
            z += self.product
        else:
            z += (self.plan.w_hh_rows @ h.T).T
        np.exp(z, out=z)
        z += 1.0
        np.divide(g, z, out=self.tmp)
        np.multiply(f, c, out=c)
        c += self.tmp
        np.tanh(c, out=h_out)
        h_out *= o

    def step(self, inputs: np.ndarray, c: np.ndarray, h: np.ndarray, h_out: np.ndarray) -> dict[int, np.ndarray]:
        """Advance c in place and write the new h into h_out; return the gate activations by index (i f g o).
        inputs: (B,) symbols for a one-hot layer, else (B, D*H) projected inputs."""
        plan, dyn, act, H = self.plan, self.dyn, self.act, self.plan.hidden
        if self.dyn_table is not None:
            np.take(self.dyn_table, inputs, axis=0, out=dyn, mode="clip")
            for q in self.statics:
                np.take(self.tables[q], inputs, axis=0, out=act[q], mode="clip")
        else:
            dyn[...] = inputs
        if plan.n_dyn:
            dyn += h @ plan.w_hh_t if plan.w_hh_rows is None else (plan.w_hh_rows @ h.T).T
            for k, q in enumerate(plan.dynamic):
                block = dyn if self.single else dyn[:, k * H:(k + 1) * H]
                if q == 2:
                    block = np.tanh(block, out=block if self.single else None)
                else:
                    block = np.exp(block, out=block if self.single else None)
                    block += 1.0
                    np.reciprocal(block, out=block)
                act[q] = block
        np.multiply(act[1], c, out=c)
        np.multiply(act[0], act[2], out=self.tmp)
        c += self.tmp
        np.tanh(c, out=h_out)
        h_out *= act[3]
        return act


def _span(steps: int, batch: int, hidden: int) -> int:
    """Steps per block of ``_run_fused``: about STREAM_BLOCK hidden values."""
    return max(1, min(steps, STREAM_BLOCK // max(1, batch * hidden)))


def _run_fused(cell: _Cell, symbols: np.ndarray, hs: np.ndarray | None, heads: _HeadsBehind | None) -> None:
    """Step a fused layer (see ``_Cell.fused_step``) over (T, B) symbols, in blocks of steps: a helper thread
    gathers the gate tables of the next block while this thread steps the current one (for a batch of more
    than PREFETCH_LIMIT values a step, inline, so that the tables exist only once). Each block's hidden
    states go to ``hs`` (T+1, B, H), or, when hs is None, to ``heads``, which turns them into head logits
    behind the recurrence and keeps only two blocks of hidden states."""
    plan, dtype, H = cell.plan, cell.plan.dtype, cell.plan.hidden
    steps, batch = symbols.shape
    span = _span(steps, batch, H)
    starts = list(range(0, steps, span))
    threads = helper_count(steps * batch * H) if batch * H <= PREFETCH_LIMIT else 0
    sets = min(2 if threads else 1, len(starts))
    tables = [np.empty((len(plan.order), span, batch, H), dtype=dtype) for _ in range(sets)]

    def gather(j: int) -> np.ndarray:
        t = starts[j]
        n = min(span, steps - t)
        np.take(cell.table3, symbols[t:t + n], axis=1, out=tables[j % len(tables)][:, :n], mode="clip")
        return tables[j % len(tables)]

    c = np.zeros((batch, H), dtype=dtype)
    h = hs[0] if hs is not None else np.zeros((batch, H), dtype=dtype)
    with Helpers(threads) as helpers:
        pending = helpers.submit(gather, 0) if starts else None
        for j, t in enumerate(starts):
            block = pending.result()  # type: ignore[union-attr]
            if threads and j + 1 < len(starts):  # ahead, into the tables of block j - 1, which is finished
                pending = helpers.submit(gather, j + 1)
            n = min(span, steps - t)
            out = hs[t + 1:t + 1 + n] if hs is not None else heads.buffer(j)  # type: ignore[union-attr]
            for k in range(n):
                cell.fused_step(block[:, k], c, h, out[k])
                h = out[k]
            if heads is not None:
                heads.submit(helpers, j, t, n)
            if not threads and j + 1 < len(starts):  # inline, after this block: one set of tables suffices
                pending = helpers.submit(gather, j + 1)
        if heads is not None:
            heads.finish()


def _run_steps(plan: _LayerPlan, inputs: np.ndarray, hs: np.ndarray, cs: np.ndarray | None,
               gates: np.ndarray | None) -> None:
    """Run one layer, writing into hs (and cs, gates). inputs: (T, B) symbols when ``plan.table`` is set,
    else (T, B, D*H) projected inputs."""
    H = plan.hidden
    steps, batch = inputs.shape[:2]
    cell = _Cell(plan, batch)
    if cell.fused and gates is None:
        _run_fused(cell, inputs, hs, None)
        return
    c = np.zeros((batch, H), dtype=plan.dtype)
    for t in range(steps):
        act = cell.step(inputs[t], c, hs[t], hs[t + 1])
        if cs is not None and gates is not None:
            cs[t + 1] = c
            for q in range(4):
                gates[t, :, q * H:(q + 1) * H] = act[q]


def _run_layer(plan: _LayerPlan, inputs: np.ndarray, record: bool
               ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Run one layer over (T, B) symbols or (T, B, H_prev) values."""
    H, dtype = plan.hidden, plan.dtype
    steps, batch = inputs.shape[:2]
    if plan.table is None:
        rows = inputs.reshape(steps * batch, inputs.shape[-1])  # explicit widths: an empty word has no rows
        inputs = (rows @ plan.w_in_t + plan.b_in).reshape(steps, batch, plan.w_in_t.shape[1])
    hs = np.zeros((steps + 1, batch, H), dtype=dtype)
    cs = np.zeros((steps + 1, batch, H), dtype=dtype) if record else None
    gates = np.empty((steps, batch, 4 * H), dtype=dtype) if record else None
    with np.errstate(over="ignore"):  # exp(-z) may overflow to inf, giving sigmoid 0 as it should
        _run_steps(plan, inputs, hs, cs, gates)
    return hs, cs, gates


def _run_plain(cell: PlainCell, inputs: np.ndarray, record: bool) -> tuple[np.ndarray, None, np.ndarray | None]:
    """Run a GRU or RNN layer over (T, B) symbols or (T, B, H_prev) values."""
    projected = cell.project(inputs)
    steps, batch = projected.shape[:2]
    hs = np.zeros((steps + 1, batch, cell.hidden), dtype=projected.dtype)
    gates = None
    for t in range(steps):
        hs[t + 1], act = cell.step(projected[t], hs[t])
        if record:
            gates = np.empty((steps, *act.shape), dtype=projected.dtype) if gates is None else gates
            gates[t] = act
    if record and gates is None:
        gates = np.zeros((0, batch, 0), dtype=projected.dtype)
    return hs, None, gates


def run(model: Model, strings: np.ndarray, dtype: type | None = None, record: bool = False, raw: bool = False
        ) -> Trace:
    """Run a (B, T) batch of symbol indices in ``dtype`` (default: the model's ``compute_dtype``). Shorter
    strings may be padded: outputs are causal. Small networks run with one BLAS thread (see :mod:`threads`).
    With ``argmax_outputs`` the out: heads hold their margins, 0 (no output) before the first symbol
    (:mod:`argmax_outputs`), unless ``raw`` asks for the logits."""
    dtype = model.compute_dtype if dtype is None else dtype
    with blas_threads(model):
        trace = _run(model, strings, dtype, record)
    if not raw:
        trace.heads = read_prefixes(model, trace.heads)
    return trace


def _run(model: Model, strings: np.ndarray, dtype: type, record: bool) -> Trace:
    strings = np.asarray(strings, dtype=np.int64)
    if strings.ndim == 1:
        strings = strings[None, :]
    if strings.size and (strings.min() < 0 or strings.max() >= len(model.alphabet)):
        raise ValueError(f"symbol indices must lie in 0..{len(model.alphabet) - 1}")
    values: np.ndarray = np.ascontiguousarray(strings.T)
    weight, bias = for_products(model.head_weight), model.head_bias.astype(dtype)
    weight = weight.astype(dtype) if is_sparse(weight) else np.ascontiguousarray(weight.astype(dtype).T)
    count, bias = len(bias), np.tile(bias, strings.shape[0])  # heads; one step's rows of bias (_block_heads)
    all_h, all_c, all_g = [], [], []
    for k, layer in enumerate(model.layers):
        inputs = values if k == 0 else values[1:]
        if model.cell == "lstm":
            plan = _LayerPlan(layer, dtype, one_hot=(k == 0))
            # heads behind the recurrence, no hidden states kept; not with BLAS's threads, which on a busy machine
            # make each block's head product wait for a core (a large model's blocks are a step or two)
            if k == len(model.layers) - 1 and plan.fused and not record and single_blas_thread(model):
                heads = _HeadsBehind(weight, bias, count, plan.hidden, *inputs.shape[:2])
                with np.errstate(over="ignore"):
                    _run_fused(_Cell(plan, inputs.shape[1]), inputs, None, heads)
                return Trace(heads=heads.logits)
            hs, cs, gates = _run_layer(plan, inputs, record)
        else:
            hs, cs, gates = _run_plain(PlainCell(model.cell, layer, dtype, one_hot=(k == 0)), inputs, record)
        all_h.append(hs)
        all_c.append(cs)
        all_g.append(gates)
        values = hs
    steps, batch, width = values.shape
    heads = np.empty((steps, batch, count), dtype=dtype)
    block = max(1, HEAD_BLOCK // max(1, batch))  # in blocks of steps, written in place: no full-size temporaries
    for t in range(0, steps, block):
        _block_heads(values[t:t + block], weight, bias, heads[t:t + block])
    if not record:
        return Trace(heads=heads)
    return Trace(heads=heads, gates=all_g, c=all_c, h=all_h)  # type: ignore[arg-type]


def _block_heads(values: np.ndarray, weight: np.ndarray, bias: np.ndarray, out: np.ndarray) -> None:
    """out (n, B, M) = the head logits of values (n, B, H): weight is the transposed dense (H, M) head matrix or
    the sparse (M, H) one; bias is the (M,) bias repeated B times (numpy adds a short bias row to every row of
    out several times slower than one long row to every step)."""
    rows = values.reshape(-1, values.shape[-1])
    if is_sparse(weight):
        out[...] = (weight @ rows.T).T.reshape(out.shape)
    else:  # as one 2-D product: numpy sends a 3-D matmul to BLAS slice by slice
        np.matmul(rows, weight, out=out.reshape(-1, out.shape[-1]))
    out.reshape(len(out), -1)[...] += bias


class _HeadsBehind:
    """Head logits (T+1, B, M) of a last layer's blocks of hidden states, computed by a helper while the
    recurrence goes on: only two blocks of hidden states exist at a time."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, heads: int, hidden: int, steps: int, batch: int
                 ) -> None:
        dtype = bias.dtype
        self.weight, self.bias = weight, bias
        self.logits = np.empty((steps + 1, batch, heads), dtype=dtype)
        _block_heads(np.zeros((1, batch, hidden), dtype=dtype), weight, bias, self.logits[:1])
        span = _span(steps, batch, hidden)
        self.blocks = [np.empty((span, batch, hidden), dtype=dtype) for _ in range(min(2, steps))]
        self.pending: dict[int, Task] = {}

    def buffer(self, j: int) -> np.ndarray:
        """Where block j's hidden states go (once the heads of block j - 2, which used it, are done)."""
        earlier = self.pending.pop(j - 2, None)
        if earlier is not None:
            earlier.result()
        return self.blocks[j % 2]

    def submit(self, helpers: Helpers, j: int, t: int, n: int) -> None:
        """Turn block j, steps t + 1 .. t + n, into head logits."""
        self.pending[j] = helpers.submit(_block_heads, self.blocks[j % 2][:n], self.weight, self.bias,
                                         self.logits[t + 1:t + 1 + n])

    def finish(self) -> None:
        """Wait for every block's heads (raising a helper's error)."""
        for task in self.pending.values():
            task.result()
        self.pending.clear()


class Stepper:
    """One step at a time over batches whose rows may be regrouped between steps (prefix-trie enumeration).

    A state is a list of (c, h) arrays per layer, each (B, H) (c is (B, 0) for GRU and RNN cells, which have
    none); rows can be selected with ``state_rows``."""

    def __init__(self, model: Model, dtype: type | None = None) -> None:
        self.model = model
        self.dtype = dtype = model.compute_dtype if dtype is None else dtype
        self.plans: list[_LayerPlan | PlainCell] = [
            _LayerPlan(layer, dtype, one_hot=(k == 0)) if model.cell == "lstm"
            else PlainCell(model.cell, layer, dtype, one_hot=(k == 0)) for k, layer in enumerate(model.layers)]
        head = for_products(model.head_weight)
        self.head_w = (head.astype(dtype) if is_sparse(head)  # dense: transposed, since a transposed view
                       else np.ascontiguousarray(head.astype(dtype).T))  # is ~30x slower
        self.head_b = model.head_bias.astype(dtype)
        self.out_columns = argmax_columns(model)

    def initial(self, batch: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """The zero state for ``batch`` rows."""
        width = lambda p: p.hidden if isinstance(p, _LayerPlan) else 0  # noqa: E731
        return [(np.zeros((batch, width(p)), self.dtype), np.zeros((batch, p.hidden), self.dtype)) for p in self.plans]

    def step(self, state: list[tuple[np.ndarray, np.ndarray]], symbols: np.ndarray
             ) -> list[tuple[np.ndarray, np.ndarray]]:
        """The state after reading one symbol per row (the input state is left unchanged)."""
        out = []
        values: np.ndarray = np.asarray(symbols, dtype=np.int64)
        with np.errstate(over="ignore"):
            for k, (plan, (c, h)) in enumerate(zip(self.plans, state)):
                if isinstance(plan, PlainCell):
                    h_new = plan.step(plan.project(values), h)[0]
                    out.append((c, h_new))
                    values = h_new
                    continue
                if k:
                    values = values @ plan.w_in_t + plan.b_in
                c_new, h_new = c.copy(), np.empty_like(h)
                _Cell(plan, len(c)).step(values, c_new, h, h_new)
                out.append((c_new, h_new))
                values = h_new
        return out

    def heads(self, state: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """(B, M) head logits of a state (the out: heads' margins with ``argmax_outputs``)."""
        h = state[-1][1]
        with np.errstate(over="ignore"):  # head weights near the float limit give inf, as in torch
            logits = (h @ self.head_w if not is_sparse(self.head_w) else (self.head_w @ h.T).T) + self.head_b
        return margins(logits, self.out_columns) if self.out_columns is not None else logits


def state_rows(state: list[tuple[np.ndarray, np.ndarray]], rows: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The same state restricted to (or repeated along) the given rows."""
    return [(c[rows], h[rows]) for c, h in state]
