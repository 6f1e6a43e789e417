"""The Weights sheet of a workbook: every weight of the model in PyTorch layout, editable; the trace follows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .model import GATES, Model
from .sheet_formats import Formats, print_setup
from .sheet_layout import SheetWriter, col, unit_labels

__all__ = ["HeadRefs", "WeightRefs", "write_weights"]


@dataclass(frozen=True)
class WeightRefs:
    """Cell addresses (1-based) of one layer's weights on the Weights sheet."""

    first_row: int
    ih_cols: tuple[int, int]
    hh_cols: tuple[int, int]
    bias_ih_col: int
    bias_hh_col: int

    def row(self, gate: int, unit: int, hidden: int) -> int:
        return self.first_row + gate * hidden + unit

    def ih(self, r: int) -> str:
        return f"Weights!${col(self.ih_cols[0])}${r}:${col(self.ih_cols[1])}${r}"

    def hh(self, r: int) -> str:
        return f"Weights!${col(self.hh_cols[0])}${r}:${col(self.hh_cols[1])}${r}"

    def bias(self, r: int) -> str:
        return f"{self.bias_ih(r)}+{self.bias_hh(r)}"

    def bias_ih(self, r: int) -> str:
        return f"Weights!${col(self.bias_ih_col)}${r}"

    def bias_hh(self, r: int) -> str:
        return f"Weights!${col(self.bias_hh_col)}${r}"


@dataclass(frozen=True)
class HeadRefs:
    """Where the heads sit on the Weights sheet: row of head 0, weight columns first..last, bias column."""

    row: int
    first: int
    last: int
    bias: int


def write_weights(sh: SheetWriter, model: Model, fmt: Formats) -> tuple[list[WeightRefs], HeadRefs]:
    """Fill the Weights sheet (``sh`` is a 1-based sheet writer); return per-layer refs and the head block."""
    gates = GATES[model.cell]
    sh.text(1, 1, f"Weights in PyTorch nn.{model.cell.upper()} layout (gate order {', '.join(gates)}). "
            "Edit any number: the Run and Trace sheets follow.", fmt.title)
    refs = []
    r = 3
    inputs: Sequence[str] = model.alphabet
    widest = 0
    bias_cols: list[int] = []
    tables: list[int] = []  # each table's heading row: a printed page begins there, with the table's header
    for k, layer in enumerate(model.layers):
        H = layer.hidden_size
        width = len(inputs)
        ih = (4, 3 + width)
        hh = (ih[1] + 2, ih[1] + 1 + H)
        b_ih, b_hh = hh[1] + 2, hh[1] + 3
        widest = max(widest, b_hh)
        bias_cols += [b_ih, b_hh]
        tables.append(r)
        sh.text(r, 1, f"layer {k}", fmt.heading)
        sh.text(r, ih[0], f"weight_ih_l{k}: one column per {'symbol' if k == 0 else 'unit of layer ' + str(k - 1)}",
                fmt.bold)
        sh.text(r, hh[0], f"weight_hh_l{k}: one column per unit (previous h)", fmt.bold)
        header = r + 1
        for cell_col, text in [(1, "gate"), (2, "unit"), (3, "label"), (b_ih, f"bias_ih_l{k}"),
                               (b_hh, f"bias_hh_l{k}")]:
            sh.text(header, cell_col, text, fmt.header)
        for j, name in enumerate(inputs):
            sh.text(header, ih[0] + j, name, fmt.header)
        labels = unit_labels(model, k)
        for u in range(H):
            sh.text(header, hh[0] + u, f"u{u}", fmt.header)
        first = header + 1
        for q, gate in enumerate(gates):
            for u in range(H):
                row = first + q * H + u
                sh.text(row, 1, gate)
                sh.number(row, 2, u)
                sh.text(row, 3, labels[u])
                for j in range(width):
                    sh.number(row, ih[0] + j, layer.weight_ih[q * H + u, j], fmt.weight)
                for v in range(H):
                    sh.number(row, hh[0] + v, layer.weight_hh[q * H + u, v], fmt.weight)
                sh.number(row, b_ih, layer.bias_ih[q * H + u], fmt.weight)
                sh.number(row, b_hh, layer.bias_hh[q * H + u], fmt.weight)
        refs.append(WeightRefs(first, ih, hh, b_ih, b_hh))
        r = first + len(gates) * H + 1
        inputs = [f"u{u}" for u in range(H)]
    H = model.hidden_size
    tables.append(r)
    sh.text(r, 1, "heads", fmt.heading)
    sh.text(r, 4, "heads.weight: one column per unit of the last layer; a head is true when its logit > 0", fmt.bold)
    header = r + 1
    sh.text(header, 3, "head", fmt.header)
    for u in range(H):
        sh.text(header, 4 + u, f"u{u}", fmt.header)
    sh.text(header, 5 + H, "heads.bias", fmt.header)
    first = header + 1
    for m, label in enumerate(model.heads):
        sh.text(first + m, 3, label)
        for u in range(H):
            sh.number(first + m, 4 + u, model.head_weight[m, u], fmt.weight)
        sh.number(first + m, 5 + H, model.head_bias[m], fmt.weight)
    ws = sh.ws
    ws.freeze_panes(0, 3)
    ws.set_column(0, 1, 5)
    ws.set_column(2, 2, min(40, 2 + max([len(u) for u in model.units] + [len(h) for h in model.heads] + [10])))
    ws.set_column(3, max(widest, 5 + H), 8)
    for c in (*bias_cols, 5 + H):
        ws.set_column(c - 1, c - 1, 11)
    print_setup(ws, columns=(0, 2))
    # the heads' rows printed under another table's page had no column headings (trial 108); a table longer than
    # a page still has its header on its first page only
    ws.set_h_pagebreaks([t - 1 for t in tables[1:]])
    return refs, HeadRefs(first, 4, 3 + H, 5 + H)
