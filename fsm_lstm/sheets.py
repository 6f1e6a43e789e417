"""Workbooks whose formulas compute a model live: type a string, watch every gate, cell, hidden value and head.

Sheets: Guide (how to read it), Grammar (transitions, units, heads), Weights (editable; the trace follows),
Trace (one row per step). Every gate is a formula over Weights: SUMPRODUCT for the weighted sums, sigmoid as
(1+TANH(z/2))/2 (no overflow), EXACT to match symbols; no LET, LAMBDA or SEQUENCE, so LibreOffice computes
it too. Defined names: ``input`` (the string cell) and ``state``, ``accept``, ``next`` (decoded columns).
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.formatting.rule import ColorScaleRule, FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter as col
from openpyxl.workbook.defined_name import DefinedName

from .atomic import atomic_path
from .automata import shortest_accepted
from .certify import model_grammar
from .errors import UserError
from .model import GATES, Model
from .words import format_word, parse_word

BLOCKS = {"lstm": ("i", "f", "g", "o", "c", "h"), "gru": ("r", "z", "n", "h"), "rnn": ("h",)}  # trace columns
SIGMOID = ("i", "f", "o", "r", "z")
GATE_NAMES = {"i": "input gate", "f": "forget gate", "g": "candidate", "o": "output gate", "c": "cell state",
              "h": "hidden output", "r": "reset gate", "z": "update gate", "n": "new state"}
FIRST_STEP_ROW = 8  # row of t = 0 in Trace
SPLIT = 100  # width used to cut space-separated symbols out of the input
MAX_FORMULA = 8000  # Excel's limit is 8192 characters

BOLD = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
RED_FILL = PatternFill("solid", fgColor="F4B6B6")


@dataclass
class _WeightRefs:
    """Cell addresses of one layer's weights on the Weights sheet."""

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


def _write_weights(ws, model: Model) -> tuple[list[_WeightRefs], int, tuple[int, int], int]:
    """Fill the Weights sheet; return per-layer refs and the head block (first row, weight columns, bias column)."""
    gates = GATES[model.cell]
    ws["A1"] = (f"Weights in PyTorch nn.{model.cell.upper()} layout (gate order {', '.join(gates)}). "
                "Edit any number: the Trace follows.")
    ws["A1"].font = BOLD
    refs = []
    r = 3
    inputs: Sequence[str] = model.alphabet
    for k, layer in enumerate(model.layers):
        H = layer.hidden_size
        width = len(inputs)
        ih = (4, 3 + width)
        hh = (ih[1] + 2, ih[1] + 1 + H)
        b_ih, b_hh = hh[1] + 2, hh[1] + 3
        ws.cell(r, 1, f"layer {k}").font = BOLD
        ws.cell(r, ih[0], f"weight_ih_l{k}: one column per {'symbol' if k == 0 else 'unit of layer ' + str(k - 1)}")
        ws.cell(r, hh[0], f"weight_hh_l{k}: one column per unit (previous h)")
        header = r + 1
        for cell_col, text in [(1, "gate"), (2, "unit"), (3, "label"), (b_ih, f"bias_ih_l{k}"), (b_hh, f"bias_hh_l{k}")]:
            ws.cell(header, cell_col, text).font = BOLD
        for j, name in enumerate(inputs):
            ws.cell(header, ih[0] + j, name).font = BOLD
        labels = model.units if k == len(model.layers) - 1 else [f"l{k} u{u}" for u in range(H)]
        for u in range(H):
            ws.cell(header, hh[0] + u, f"u{u}").font = BOLD
        first = header + 1
        for q, gate in enumerate(gates):
            for u in range(H):
                row = first + q * H + u
                ws.cell(row, 1, gate)
                ws.cell(row, 2, u)
                ws.cell(row, 3, labels[u])
                for j in range(width):
                    ws.cell(row, ih[0] + j, float(layer.weight_ih[q * H + u, j]))
                for v in range(H):
                    ws.cell(row, hh[0] + v, float(layer.weight_hh[q * H + u, v]))
                ws.cell(row, b_ih, float(layer.bias_ih[q * H + u]))
                ws.cell(row, b_hh, float(layer.bias_hh[q * H + u]))
        refs.append(_WeightRefs(first, ih, hh, b_ih, b_hh))
        r = first + len(gates) * H + 1
        inputs = [f"u{u}" for u in range(H)]
    H = model.hidden_size
    ws.cell(r, 1, "heads").font = BOLD
    ws.cell(r, 4, "heads.weight: one column per unit of the last layer; a head is true when its logit > 0")
    header = r + 1
    ws.cell(header, 3, "head").font = BOLD
    for u in range(H):
        ws.cell(header, 4 + u, f"u{u}").font = BOLD
    ws.cell(header, 5 + H, "heads.bias").font = BOLD
    first = header + 1
    for m, label in enumerate(model.heads):
        ws.cell(first + m, 3, label)
        for u in range(H):
            ws.cell(first + m, 4 + u, float(model.head_weight[m, u]))
        ws.cell(first + m, 5 + H, float(model.head_bias[m]))
    ws.freeze_panes = "D1"
    ws.column_dimensions["C"].width = 24
    return refs, first, (4, 3 + H), 5 + H


def _decoded_formula(parts: list[tuple[str, str]], guard: str) -> str:
    """TRIM of the names whose logit cell is > 0, space-separated."""
    if not parts:
        return '"-"'
    body = "&".join(f'IF({cell}>0,"{name} ","")' for cell, name in parts)
    formula = f'IF({guard},"",TRIM({body}))'
    if len(formula) > MAX_FORMULA:
        raise UserError(f"a decoded column needs a formula of {len(formula)} characters, over the spreadsheet limit; "
                        "the model has too many heads of one kind for a workbook")
    return formula


@dataclass(frozen=True)
class TraceLayout:
    """Column numbers (1-based) of the Trace sheet; row FIRST_STEP_ROW + t holds step t."""

    onehot: tuple[int, int]
    layers: list[dict[str, tuple[int, int]]]  # per layer: block -> (first, last) column, blocks i f g o c h
    heads: tuple[int, int]
    decoded: dict[str, int]
    known: int


def trace_layout(model: Model) -> TraceLayout:
    """Where everything sits on the Trace sheet of ``model``'s workbook."""
    K = len(model.alphabet)
    onehot = (3, 2 + K)
    layers = []
    c0 = onehot[1] + 1
    for layer in model.layers:
        H = layer.hidden_size
        blocks = BLOCKS[model.cell]
        layers.append({b: (c0 + k * H, c0 + (k + 1) * H - 1) for k, b in enumerate(blocks)})
        c0 += len(blocks) * H
    heads = (c0, c0 + len(model.heads) - 1)
    decoded = {"state": heads[1] + 1, "accept": heads[1] + 2, "next": heads[1] + 3}
    return TraceLayout(onehot, layers, heads, decoded, heads[1] + 4)


def sample_input(model: Model) -> str:
    """A string to show in a new workbook: a longer one among the shortest accepted strings of the model's
    grammar, or a few symbols of its alphabet when it carries none."""
    if model.extra.get("grammar"):
        examples = shortest_accepted(model_grammar(model), 12, max_length=20)
        if examples and examples[-1]:
            return format_word(examples[-1], model.alphabet)
    return format_word(model.alphabet[:4], model.alphabet)


def write_workbook(model: Model, path: str | os.PathLike[str], text: str = "", steps: int | None = None,
                   title: str | None = None) -> None:
    """Write the workbook for ``model`` with ``text`` in the input cell and ``steps`` trace rows, atomically."""
    word = parse_word(text, model.alphabet)
    steps = max(len(word), 30) if steps is None else steps
    if steps < 1:
        raise UserError("--steps must be at least 1")
    if len(word) > steps:
        raise UserError(f"the input has {len(word)} symbols but the sheet has {steps} steps; pass --steps {len(word)}")
    wb = Workbook()
    guide = wb.active
    guide.title = "Guide"
    grammar_ws, weights_ws, trace = (wb.create_sheet(n) for n in ("Grammar", "Weights", "Trace"))
    refs, head_row, head_cols, head_bias = _write_weights(weights_ws, model)
    single = all(len(a) == 1 for a in model.alphabet)
    name = title or (model_grammar(model).name if model.extra.get("grammar") else "model")

    trace["A1"] = f"fsm-lstm: the {name} network, step by step"
    trace["A1"].font = Font(bold=True, size=13)
    trace["A2"], trace["A3"], trace["A4"] = "input", "symbols", "note"
    for c in ("A2", "A3", "A4"):
        trace[c].font = BOLD
    trace["B2"] = format_word(word, model.alphabet)
    trace["B2"].fill = PatternFill("solid", fgColor="FFF2CC")
    trace["C2"] = ("type symbols without spaces, e.g. " if single else "type symbols separated by spaces, e.g. ") + \
        repr(format_word(model.alphabet[:3], model.alphabet))
    trace["D3"] = "cleaned:"
    trace["E3"] = '=SUBSTITUTE(input," ","")' if single else "=TRIM(input)"
    trace["B3"] = "=LEN(input_clean)" if single else \
        '=IF(input_clean="",0,LEN(input_clean)-LEN(SUBSTITUTE(input_clean," ",""))+1)'

    K = len(model.alphabet)
    layout = trace_layout(model)
    onehot, layer_cols, heads_cols, dec, known_col = (layout.onehot, layout.layers, layout.heads, layout.decoded,
                                                      layout.known)

    # headers: block names (row 6) and labels (row 7)
    trace.cell(6, 1, "step").font = BOLD
    trace.cell(7, 1, "t").font = BOLD
    trace.cell(7, 2, "symbol").font = BOLD
    trace.cell(6, onehot[0], "one-hot input").font = BOLD
    for j, a in enumerate(model.alphabet):
        trace.cell(7, onehot[0] + j, a).font = BOLD
    for k, cols in enumerate(layer_cols):
        labels = model.units if k == len(model.layers) - 1 else [f"l{k} u{u}" for u in range(model.layers[k].hidden_size)]
        for b, (lo, _) in cols.items():
            title_text = GATE_NAMES[b]
            trace.cell(6, lo, f"{b}: {title_text}" + (f" (layer {k})" if len(model.layers) > 1 else "")).font = BOLD
            for u, label in enumerate(labels):
                cell = trace.cell(7, lo + u, f"{b} {label}")
                cell.alignment = Alignment(text_rotation=90)
    trace.cell(6, heads_cols[0], "head logits (> 0 means true)").font = BOLD
    for m, label in enumerate(model.heads):
        trace.cell(7, heads_cols[0] + m, label).alignment = Alignment(text_rotation=90)
    for key, c in dec.items():
        trace.cell(7, c, key).font = BOLD
        trace.cell(7, c).fill = HEAD_FILL
    trace.cell(6, dec["state"], "decoded answers").font = BOLD
    trace.cell(7, known_col, "in alphabet")
    trace.row_dimensions[7].height = 120

    last = FIRST_STEP_ROW + steps
    for t in range(steps + 1):
        r = FIRST_STEP_ROW + t
        trace.cell(r, 1, t)
        guard = f"$A{r}>input_length"
        if t == 0:
            for k, cols in enumerate(layer_cols):
                for b in ("c", "h"):
                    for cc in range(cols[b][0], cols[b][1] + 1) if b in cols else ():
                        trace.cell(r, cc, 0)
        else:
            trace.cell(r, 2, f'=IF({guard},"",MID(input_clean,$A{r},1))' if single else
                       f'=IF({guard},"",TRIM(MID(SUBSTITUTE(input_clean," ",REPT(" ",{SPLIT})),'
                       f'($A{r}-1)*{SPLIT}+1,{SPLIT})))')
            for j in range(K):
                letter = col(onehot[0] + j)
                trace.cell(r, onehot[0] + j, f'=IF({guard},"",IF(EXACT($B{r},{letter}$7),1,0))')
            trace.cell(r, known_col, f'=IF({guard},"",SUM(${col(onehot[0])}{r}:${col(onehot[1])}{r}))')
            x_range = f"${col(onehot[0])}{r}:${col(onehot[1])}{r}"
            for layer, cols, ref in zip(model.layers, layer_cols, refs):
                _layer_formulas(trace, model.cell, layer.hidden_size, cols, ref, r, x_range, guard)
                x_range = f"${col(cols['h'][0])}{r}:${col(cols['h'][1])}{r}"
        h_last = f"${col(layer_cols[-1]['h'][0])}{r}:${col(layer_cols[-1]['h'][1])}{r}"
        for m in range(len(model.heads)):
            wr = head_row + m
            weights = f"Weights!${col(head_cols[0])}${wr}:${col(head_cols[1])}${wr}"
            trace.cell(r, heads_cols[0] + m,
                       f'=IF({guard},"",SUMPRODUCT({weights},{h_last})+Weights!${col(head_bias)}${wr})')
        logit = {label: f"{col(heads_cols[0] + m)}{r}" for m, label in enumerate(model.heads)}
        states = [(cell, label[6:]) for label, cell in logit.items() if label.startswith("state:")]
        nexts = [(cell, label[5:]) for label, cell in logit.items() if label.startswith("next:")]
        trace.cell(r, dec["state"], "=" + _decoded_formula(states, guard))
        trace.cell(r, dec["next"], "=" + _decoded_formula(nexts, guard))
        acc = logit.get("accept")
        trace.cell(r, dec["accept"], f'=IF({guard},"",IF({acc}>0,"TRUE","FALSE"))' if acc else '="-"')

    trace["B4"] = (f'=IF(input_length>{steps},"The input has "&input_length&" symbols; this sheet shows the first '
                   f'{steps}. Make a longer one: fsm-lstm sheet MODEL -o BOOK.xlsx --steps N","")'
                   f'&IF(COUNTIF({col(known_col)}{FIRST_STEP_ROW + 1}:{col(known_col)}{last},0)>0,'
                   f'" Symbols outside the alphabet are marked red; the network reads them as an all-zero input.","")')
    trace["B4"].font = Font(bold=True, color="C00000")
    _format_trace(trace, layer_cols, onehot, heads_cols, known_col, last)
    for key, c in dec.items():
        wb.defined_names[key] = DefinedName(key, attr_text=f"Trace!${col(c)}${FIRST_STEP_ROW}:${col(c)}${last}")
    wb.defined_names["input"] = DefinedName("input", attr_text="Trace!$B$2")
    wb.defined_names["input_clean"] = DefinedName("input_clean", attr_text="Trace!$E$3")
    wb.defined_names["input_length"] = DefinedName("input_length", attr_text="Trace!$B$3")
    _write_guide(guide, model, steps, single)
    _write_grammar(grammar_ws, model)
    wb.active = wb.sheetnames.index("Trace")
    with atomic_path(path) as tmp:
        wb.save(tmp)
        _make_reproducible(tmp)


def _make_reproducible(path: os.PathLike[str]) -> None:
    """Fix the timestamps that openpyxl and zipfile stamp into a workbook, so the same model and input give
    the same bytes (a rebuilt sheets/ folder leaves git clean)."""
    with zipfile.ZipFile(path) as z:
        entries = [(info.filename, z.read(info)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>2000-01-01T00:00:00Z", data)
            z.writestr(zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)


def _layer_formulas(ws, cell: str, H: int, cols: dict[str, tuple[int, int]], ref: _WeightRefs, r: int,
                    x_range: str, guard: str) -> None:
    """The formulas of one layer in Trace row ``r`` (the previous row holds the previous state)."""
    prev_h = f"${col(cols['h'][0])}{r - 1}:${col(cols['h'][1])}{r - 1}"
    put = lambda block, u, value: ws.cell(r, cols[block][0] + u, f'=IF({guard},"",{value})')  # noqa: E731
    sig = lambda z: f"(1+TANH(({z})/2))/2"  # noqa: E731
    for q, gate in enumerate(GATES[cell]):
        for u in range(H):
            wr = ref.row(q, u, H)
            x_part, h_part = f"SUMPRODUCT({ref.ih(wr)},{x_range})", f"SUMPRODUCT({ref.hh(wr)},{prev_h})"
            if gate == "n":  # GRU: the reset gate scales the recurrent part, bias included
                r_cell = f"{col(cols['r'][0] + u)}{r}"
                put(gate, u, f"TANH({x_part}+{ref.bias_ih(wr)}+{r_cell}*({h_part}+{ref.bias_hh(wr)}))")
            else:
                z = f"{x_part}+{h_part}+{ref.bias(wr)}"
                put(gate, u, sig(z) if gate in SIGMOID else f"TANH({z})")
    for u in range(H):
        at = {b: f"{col(cols[b][0] + u)}{r}" for b in cols}
        before = {b: f"{col(cols[b][0] + u)}{r - 1}" for b in cols}
        if cell == "lstm":
            put("c", u, f"{at['f']}*{before['c']}+{at['i']}*{at['g']}")
            put("h", u, f"{at['o']}*TANH({at['c']})")
        elif cell == "gru":
            put("h", u, f"(1-{at['z']})*{at['n']}+{at['z']}*{before['h']}")


def _format_trace(ws, layer_cols, onehot, heads_cols, known_col, last) -> None:
    first = FIRST_STEP_ROW
    span = lambda a, b: f"{col(a)}{first}:{col(b)}{last}"  # noqa: E731
    gate_scale = ColorScaleRule(start_type="num", start_value=0, start_color="FFFFFF",
                                end_type="num", end_value=1, end_color="2F75B5")
    signed = ColorScaleRule(start_type="num", start_value=-1, start_color="C00000", mid_type="num", mid_value=0,
                            mid_color="FFFFFF", end_type="num", end_value=1, end_color="2F75B5")
    logits = ColorScaleRule(start_type="num", start_value=-3, start_color="F8CBAD", mid_type="num", mid_value=0,
                            mid_color="FFFFFF", end_type="num", end_value=3, end_color="A9D08E")
    for cols in layer_cols:
        for b, (lo, hi) in cols.items():
            ws.conditional_formatting.add(span(lo, hi), gate_scale if b in SIGMOID else signed)
    ws.conditional_formatting.add(span(*heads_cols), logits)
    ws.conditional_formatting.add(f"B{first + 1}:B{last}", FormulaRule(
        formula=[f'AND($B{first + 1}<>"",SUM(${col(onehot[0])}{first + 1}:${col(onehot[1])}{first + 1})=0)'],
        fill=RED_FILL))
    ws.freeze_panes = f"{col(onehot[0])}{first}"
    ws.column_dimensions["B"].width = 9
    ws.column_dimensions[col(known_col)].hidden = True
    for c in range(onehot[0], heads_cols[1] + 1):
        ws.column_dimensions[col(c)].width = 6.5
    for c in range(heads_cols[1] + 1, heads_cols[1] + 4):
        ws.column_dimensions[col(c)].width = 14


CELL_GUIDE = {
    "lstm": [("i, f, g, o: input gate, forget gate, candidate and output gate of every unit (nn.LSTM).", False),
             ("c: the cell state, c = f * c(previous) + i * g.   h: the output, h = o * TANH(c).", False)],
    "gru": [("r, z: reset and update gates; n = TANH(x part + r * (h part)) (nn.GRU).", False),
            ("h: the output, h = (1 - z) * n + z * h(previous).", False)],
    "rnn": [("h: the output, h = TANH(W_ih x + b_ih + W_hh h(previous) + b_hh) (nn.RNN).", False)],
}


def _write_guide(ws, model: Model, steps: int, single: bool) -> None:
    lines = [
        ("fsm-lstm workbook", True),
        ("This workbook runs a recurrent network (PyTorch nn.LSTM layout) with spreadsheet formulas.", False),
        ("", False),
        ("What to type", True),
        ("Go to the Trace sheet and type a string into the yellow cell B2 (named 'input').", False),
        ("Symbols: " + " ".join(model.alphabet) + (" (type them without spaces, e.g. "
         if single else " (separate them with spaces, e.g. ") + repr(format_word(model.alphabet[:3], model.alphabet))
         + ").", False),
        (f"The sheet has {steps} steps; longer strings are cut, and a note says so.", False),
        ("", False),
        ("How to read the Trace", True),
        ("One row per step t. Row t = 0 is the empty prefix, before any symbol.", False),
        ("one-hot: 1 under the symbol read at this step. A red symbol is not in the alphabet.", False),
        *CELL_GUIDE[model.cell],
        ("Sigmoid is written (1+TANH(z/2))/2, which never overflows.", False),
        ("Colours: gates go from white (0) to blue (1); c, g, n and h from red (-1) through white to blue (+1).",
         False),
        ("head logits: a head is true when its logit is > 0 (green), false when < 0 (red).", False),
        ("decoded answers: state = the states the network believes in, accept = whether the prefix is accepted,", False),
        ("next = the symbols that may legally follow. Their columns are named 'state', 'accept' and 'next'.", False),
        ("", False),
        ("Units", True),
        ("A compiled network has one unit per grammar edge ('edge p -a-> q' fires when that edge was just", False),
        ("crossed) and a unit 'started'. The Grammar sheet lists the edges; the Weights sheet holds every weight.", False),
        ("Change any weight on the Weights sheet and the Trace recomputes.", False),
    ]
    for r, (text, bold) in enumerate(lines, start=1):
        ws.cell(r, 1, text).font = Font(bold=bold, size=13 if r == 1 else 11)
    ws.column_dimensions["A"].width = 110


def _write_grammar(ws, model: Model) -> None:
    ws["A1"] = "Grammar"
    ws["A1"].font = Font(bold=True, size=13)
    r = 3
    if model.extra.get("grammar"):
        g = model_grammar(model)
        for key, value in [("name", g.name), ("description", g.description), ("start", g.start),
                           ("accepting", " ".join(s for s in g.states if s in g.accept)),
                           ("alphabet", " ".join(g.alphabet))]:
            ws.cell(r, 1, key).font = BOLD
            ws.cell(r, 2, value)
            r += 1
        r += 1
        ws.cell(r, 1, "transition table: row = state, column = symbol, cell = next state(s)").font = BOLD
        r += 1
        for j, a in enumerate(g.alphabet):
            ws.cell(r, 2 + j, a).font = BOLD
        for s in g.states:
            r += 1
            marks = ("-> " if s == g.start else "") + s + (" (accept)" if s in g.accept else "")
            ws.cell(r, 1, marks).font = BOLD
            for j, a in enumerate(g.alphabet):
                targets = [q for b, q in g.out_edges[s] if b == a]
                ws.cell(r, 2 + j, " ".join(targets))
        r += 2
    else:
        ws.cell(r, 1, "This model carries no grammar (trained or imported): its units have no edge labels.")
        r += 2
    ws.cell(r, 1, "units").font = BOLD
    for u, label in enumerate(model.units):
        ws.cell(r + 1 + u, 1, f"u{u}")
        ws.cell(r + 1 + u, 2, label)
    ws.cell(r, 4, "heads").font = BOLD
    for m, label in enumerate(model.heads):
        ws.cell(r + 1 + m, 4, label)
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 22
