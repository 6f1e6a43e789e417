"""Heatmaps of a model's gates, cell states and hidden values over the steps of one string, in the spirit of
seed 003, with the decoded states written above the steps (matplotlib, the ``plot`` extra)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .atomic import atomic_path
from .decode import decode
from .errors import UserError
from .limits import MAX_PLOT_SYMBOLS
from .model import GATES, Model
from .optional import require
from .runtime import run
from .words import encode

__all__ = ["DPI", "figure_size", "plot_trace", "recorded_gates"]

DPI = 100


def recorded_gates(cell: str) -> tuple[str, ...]:
    """The gates the runtime records (a plain RNN has none besides h itself)."""
    return () if cell == "rnn" else GATES[cell]


def figure_size(model: Model, steps: int) -> tuple[float, float]:
    """Width and height in inches for a string of ``steps`` symbols."""
    blocks = sum(len(recorded_gates(model.cell)) + (2 if model.cell == "lstm" else 1) for _ in model.layers) + 1
    return max(6.0, 1.5 + 0.3 * (steps + 1)), 1.2 + 1.6 * blocks


def plot_trace(model: Model, word: Sequence[str], path: str | os.PathLike[str]) -> tuple[int, int]:
    """Write the PNG; return its size in pixels. A string over ``MAX_PLOT_SYMBOLS`` is refused."""
    if len(word) > MAX_PLOT_SYMBOLS:
        raise UserError(f"the string has {len(word):,} symbols; plot draws at most {MAX_PLOT_SYMBOLS:,} (30 pixels "
                        "each): plot a part of it, or follow a longer one with `run --json` or a workbook (`sheet`)")
    require("matplotlib", "plotting").use("Agg")
    plt = require("matplotlib.pyplot", "plotting")
    trace = run(model, encode([tuple(word)], model.alphabet).reshape(1, -1), dtype=np.float64, record=True)
    panels: list[tuple[str, np.ndarray, tuple[float, float]]] = []
    for k, layer in enumerate(model.layers):
        H = layer.hidden_size
        tag = f" (layer {k})" if len(model.layers) > 1 else ""
        for q, name in enumerate(recorded_gates(model.cell)):
            gate = trace.gates[k][:, 0, q * H:(q + 1) * H]
            panels.append((f"gate {name}{tag}", np.vstack([np.full(H, np.nan), gate]).T, (0.0, 1.0)))
        if trace.c[k] is not None:
            panels.append((f"cell c{tag}", trace.c[k][:, 0].T, (-1.0, 1.0)))
        panels.append((f"hidden h{tag}", trace.h[k][:, 0].T, (-1.0, 1.0)))
    title = "head values (> 0: true; out: margins, 0 at t = 0)" if model.argmax_outputs else "head logits (> 0: true)"
    panels.append((title, trace.heads[:, 0].T, (-4.0, 4.0)))
    width, height = figure_size(model, len(word))
    fig, axes = plt.subplots(len(panels), 1, figsize=(width, height), dpi=DPI, squeeze=False)
    ticks = ["ε"] + list(word)
    for ax, (title, data, (lo, hi)) in zip(axes[:, 0], panels):
        ax.imshow(data, aspect="auto", cmap="RdBu" if lo < 0 else "Blues", vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(title, fontsize=9, loc="left", pad=28 if ax is axes[0, 0] else 6)
        labels = model.heads if title.startswith("head") else (model.units if data.shape[0] == len(model.units)
                                                               else [])
        ax.set_yticks(range(len(labels)) if len(labels) <= 40 else [])
        ax.set_yticklabels(labels if len(labels) <= 40 else [], fontsize=6)
        ax.set_xticks(range(len(ticks)))
        ax.set_xticklabels(ticks, fontsize=7)
    answers = [decode(model, row) for row in trace.decoded()[:, 0]]
    top = axes[0, 0]
    for t, ans in enumerate(answers):
        if ans.states is not None:
            top.text(t, -0.8, " ".join(ans.states) or "∅", rotation=90, fontsize=6, ha="center", va="bottom")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    plt.close(fig)
    return int(round(width * DPI)), int(round(height * DPI))
