"""Workbooks whose formulas compute a model live: type a string, watch every gate, cell, hidden value and head.

Sheets: Guide (how to read it), Grammar (transitions, units, heads), Weights (editable; the trace follows),
Trace (one row per step). Every gate is a formula over Weights: SUMPRODUCT for the weighted sums, sigmoid as
(1+TANH(z/2))/2 (no overflow), EXACT to match symbols; no LET, LAMBDA or SEQUENCE, so LibreOffice computes
it too. Defined names: ``input`` (the string cell) and ``state``, ``accept``, ``next`` (decoded columns).

User strings (grammar name, description, states, symbols, labels, the input) are always written as text cells,
never as formulas, whatever they start with (``=``, ``+``, ``-``, ``@``), and no formula embeds one: the decoded
columns read the names from a hidden row of text cells (row 5 of Trace). Strings a workbook cannot hold (control
characters other than tab, newline and carriage return; more than 32,767 characters) are refused with one line.

Limits, refused with the figure before anything is written: at most MAX_STEPS (5,000) trace rows, 16,384
columns and 1,048,576 rows per sheet (the spreadsheet format's own limits), and MAX_CELLS (5 million) cells.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.formatting.rule import ColorScaleRule, FormulaRule
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter as col
from openpyxl.workbook.defined_name import DefinedName

from .atomic import atomic_path, output_path
from .automata import shortest_accepted
from .errors import UserError
from .grammar import Grammar, determinised
from .labels import parse_head
from .model import GATES, Model, stored_grammar
from .words import format_word, parse_word

__all__ = ["BLOCKS", "BOLD", "CELL_GUIDE", "FIRST_STEP_ROW", "GATE_NAMES", "HEAD_FILL", "MAX_CELLS", "MAX_COLUMNS",
           "MAX_FORMULA", "MAX_ROWS", "MAX_STEPS", "MAX_TEXT", "NAME_ROW", "RED_FILL", "SIGMOID", "TraceLayout",
           "check_steps", "check_text", "sample_input", "trace_layout", "write_workbook"]

BLOCKS = {"lstm": ("i", "f", "g", "o", "c", "h"), "gru": ("r", "z", "n", "h"), "rnn": ("h",)}  # trace columns
SIGMOID = ("i", "f", "o", "r", "z")
GATE_NAMES = {"i": "input gate", "f": "forget gate", "g": "candidate", "o": "output gate", "c": "cell state",
              "h": "hidden output", "r": "reset gate", "z": "update gate", "n": "new state"}
FIRST_STEP_ROW = 8  # row of t = 0 in Trace
NAME_ROW = 5  # hidden Trace row: the state name or symbol of each head, read by the decoded columns
MAX_FORMULA = 8000  # Excel's limit is 8192 characters
MAX_STEPS = 5000  # trace rows
MAX_CELLS = 5_000_000  # cells of the whole workbook
MAX_COLUMNS = 16_384  # the spreadsheet format's limits
MAX_ROWS = 1_048_576
MAX_TEXT = 32_767  # characters in one cell

BOLD = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
RED_FILL = PatternFill("solid", fgColor="F4B6B6")


def _text(ws, row: int, column: int, value: str) -> Cell:
    """Write ``value`` as a text cell: never a formula, an error code or a hyperlink, whatever it starts with."""
    cell = ws.cell(row, column)
    cell.value = value
    cell.data_type = "s"
    return cell


def check_text(value: str, what: str) -> str:
    """``value`` if a workbook cell can hold it as text, else a UserError naming ``what``."""
    bad = ILLEGAL_CHARACTERS_RE.search(value)
    if bad:
        raise UserError(f"{what} {value[:60]!r} contains the control character U+{ord(bad.group()):04X}, which a "
                        "workbook cannot hold; rename it to write a workbook")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise UserError(f"{what} {value[:60]!r} contains a lone surrogate, which is not text; rename it")
    if len(value) > MAX_TEXT:
        raise UserError(f"{what} has {len(value):,} characters; a workbook cell holds at most {MAX_TEXT:,}")
    return value


def check_steps(steps: int | None) -> None:
    """Refuse a number of trace rows outside 1 .. MAX_STEPS (None means the default)."""
    if steps is None:
        return
    if steps < 1:
        raise UserError("--steps must be at least 1")
    if steps > MAX_STEPS:
        raise UserError(f"--steps {steps:,} is over the limit of {MAX_STEPS:,} trace rows; a workbook that long "
                        "is too slow to write and to recalculate")


def _single(alphabet: Sequence[str]) -> bool:
    """True when every symbol is one character that spreadsheets count as one (no surrogate pairs)."""
    return all(len(a) == 1 and ord(a) < 0x10000 for a in alphabet)


def _check_size(model: Model, steps: int) -> None:
    """Refuse a workbook over the format's row and column limits, or over MAX_CELLS cells."""
    lay = trace_layout(model)
    columns = lay.known
    cells = columns * (steps + FIRST_STEP_ROW)
    widths = [len(model.alphabet)] + [layer.hidden_size for layer in model.layers[:-1]]
    weight_rows = 0
    for layer, width in zip(model.layers, widths):
        gh = layer.weight_ih.shape[0]
        columns = max(columns, 7 + width + layer.hidden_size)
        weight_rows += gh + 3
        cells += gh * (width + layer.hidden_size + 5)
    weight_rows += len(model.heads) + 2
    cells += len(model.heads) * (model.hidden_size + 3)
    if columns > MAX_COLUMNS:
        raise UserError(f"the workbook needs {columns:,} columns; spreadsheets hold at most {MAX_COLUMNS:,} "
                        f"(the model has {model.hidden_size:,} units)")
    if max(weight_rows, steps + FIRST_STEP_ROW) > MAX_ROWS:
        raise UserError(f"the workbook needs {max(weight_rows, steps + FIRST_STEP_ROW):,} rows; spreadsheets hold "
                        f"at most {MAX_ROWS:,}")
    if cells > MAX_CELLS:
        raise UserError(f"the workbook would have {cells:,} cells, over the limit of {MAX_CELLS:,}; use fewer "
                        "--steps or a smaller model")


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
    _text(ws, 1, 1, f"Weights in PyTorch nn.{model.cell.upper()} layout (gate order {', '.join(gates)}). "
          "Edit any number: the Trace follows.").font = BOLD
    refs = []
    r = 3
    inputs: Sequence[str] = model.alphabet
    for k, layer in enumerate(model.layers):
        H = layer.hidden_size
        width = len(inputs)
        ih = (4, 3 + width)
        hh = (ih[1] + 2, ih[1] + 1 + H)
        b_ih, b_hh = hh[1] + 2, hh[1] + 3
        _text(ws, r, 1, f"layer {k}").font = BOLD
        _text(ws, r, ih[0], f"weight_ih_l{k}: one column per {'symbol' if k == 0 else 'unit of layer ' + str(k - 1)}")
        _text(ws, r, hh[0], f"weight_hh_l{k}: one column per unit (previous h)")
        header = r + 1
        for cell_col, text in [(1, "gate"), (2, "unit"), (3, "label"), (b_ih, f"bias_ih_l{k}"), (b_hh, f"bias_hh_l{k}")]:
            _text(ws, header, cell_col, text).font = BOLD
        for j, name in enumerate(inputs):
            _text(ws, header, ih[0] + j, name).font = BOLD
        labels = model.units if k == len(model.layers) - 1 else [f"l{k} u{u}" for u in range(H)]
        for u in range(H):
            _text(ws, header, hh[0] + u, f"u{u}").font = BOLD
        first = header + 1
        for q, gate in enumerate(gates):
            for u in range(H):
                row = first + q * H + u
                _text(ws, row, 1, gate)
                ws.cell(row, 2, u)
                _text(ws, row, 3, labels[u])
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
    _text(ws, r, 1, "heads").font = BOLD
    _text(ws, r, 4, "heads.weight: one column per unit of the last layer; a head is true when its logit > 0")
    header = r + 1
    _text(ws, header, 3, "head").font = BOLD
    for u in range(H):
        _text(ws, header, 4 + u, f"u{u}").font = BOLD
    _text(ws, header, 5 + H, "heads.bias").font = BOLD
    first = header + 1
    for m, label in enumerate(model.heads):
        _text(ws, first + m, 3, label)
        for u in range(H):
            ws.cell(first + m, 4 + u, float(model.head_weight[m, u]))
        ws.cell(first + m, 5 + H, float(model.head_bias[m]))
    ws.freeze_panes = "D1"
    ws.column_dimensions["C"].width = 24
    return refs, first, (4, 3 + H), 5 + H


def _decoded_formula(parts: list[tuple[str, str]], guard: str) -> str:
    """The names whose logit cell is > 0, space-separated; ``parts`` pairs a logit cell with the cell holding its
    name (a user string is never embedded in a formula)."""
    if not parts:
        return '"-"'
    body = "&".join(f'IF({cell}>0," "&{name},"")' for cell, name in parts)
    formula = f'IF({guard},"",MID({body},2,{MAX_TEXT}))'
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
    grammar = stored_grammar(model)
    if grammar is not None:
        try:
            examples = shortest_accepted(determinised(grammar), 12, max_length=20)
        except UserError:  # an NFA whose determinisation is too large: fall back to the alphabet
            examples = []
        if examples and examples[-1]:
            return format_word(examples[-1], model.alphabet)
    return format_word(model.alphabet[:4], model.alphabet)


def write_workbook(model: Model, path: str | os.PathLike[str], text: str = "", steps: int | None = None,
                   title: str | None = None) -> None:
    """Write the workbook for ``model`` with ``text`` in the input cell and ``steps`` trace rows, atomically."""
    check_steps(steps)
    word = parse_word(text, model.alphabet)
    if steps is None and len(word) > MAX_STEPS:
        raise UserError(f"the input has {len(word):,} symbols, over the limit of {MAX_STEPS:,} trace rows of a "
                        "workbook; give a shorter input")
    steps = max(len(word), 30) if steps is None else steps
    if len(word) > steps:
        raise UserError(f"the input has {len(word)} symbols but the sheet has {steps} steps; pass --steps {len(word)}")
    check_steps(steps)
    grammar = stored_grammar(model)
    _check_strings(model, grammar, title)
    _check_size(model, steps)
    output_path(path)  # a folder, pipe or device at the output path: refuse before the long part
    wb = Workbook()
    guide = wb.active
    guide.title = "Guide"
    grammar_ws, weights_ws, trace = (wb.create_sheet(n) for n in ("Grammar", "Weights", "Trace"))
    refs, head_row, head_cols, head_bias = _write_weights(weights_ws, model)
    single = _single(model.alphabet)
    sep = "" if single else " "
    name = title or (grammar.name if grammar is not None else "model")

    _text(trace, 1, 1, f"fsm-lstm: the {name} network, step by step").font = Font(bold=True, size=13)
    for r, label in ((2, "input"), (3, "symbols"), (4, "note")):
        _text(trace, r, 1, label).font = BOLD
    _text(trace, 2, 2, sep.join(word)).fill = PatternFill("solid", fgColor="FFF2CC")
    _text(trace, 2, 3, ("type symbols without spaces, e.g. " if single else "type symbols separated by spaces, e.g. ")
          + repr(sep.join(model.alphabet[:3])))
    _text(trace, 3, 4, "cleaned:")
    trace["E3"] = '=SUBSTITUTE(input," ","")' if single else "=TRIM(input)"
    trace["B3"] = "=LEN(input_clean)" if single else \
        '=IF(input_clean="",0,LEN(input_clean)-LEN(SUBSTITUTE(input_clean," ",""))+1)'

    K = len(model.alphabet)
    layout = trace_layout(model)
    onehot, layer_cols, heads_cols, dec, known_col = (layout.onehot, layout.layers, layout.heads, layout.decoded,
                                                      layout.known)

    # headers: block names (row 6) and labels (row 7)
    _text(trace, 6, 1, "step").font = BOLD
    _text(trace, 7, 1, "t").font = BOLD
    _text(trace, 7, 2, "symbol").font = BOLD
    _text(trace, 6, onehot[0], "one-hot input").font = BOLD
    for j, a in enumerate(model.alphabet):
        _text(trace, 7, onehot[0] + j, a).font = BOLD
    for k, cols in enumerate(layer_cols):
        labels = model.units if k == len(model.layers) - 1 else [f"l{k} u{u}" for u in range(model.layers[k].hidden_size)]
        for b, (lo, _) in cols.items():
            title_text = GATE_NAMES[b]
            _text(trace, 6, lo, f"{b}: {title_text}" + (f" (layer {k})" if len(model.layers) > 1 else "")).font = BOLD
            for u, label in enumerate(labels):
                cell = _text(trace, 7, lo + u, f"{b} {label}")
                cell.alignment = Alignment(text_rotation=90)
    _text(trace, 6, heads_cols[0], "head logits (> 0 means true)").font = BOLD
    for m, label in enumerate(model.heads):
        _text(trace, 7, heads_cols[0] + m, label).alignment = Alignment(text_rotation=90)
        kind, arg = parse_head(label)
        if kind in ("state", "next"):
            _text(trace, NAME_ROW, heads_cols[0] + m, arg)
    trace.row_dimensions[NAME_ROW].hidden = True
    for key, c in dec.items():
        _text(trace, 7, c, key).font = BOLD
        trace.cell(7, c).fill = HEAD_FILL
    _text(trace, 6, dec["state"], "decoded answers").font = BOLD
    _text(trace, 7, known_col, "in alphabet")
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
                       f'=IF({guard},"",{_token(r)})')
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
        name_of = {label: f"{col(heads_cols[0] + m)}${NAME_ROW}" for m, label in enumerate(model.heads)}
        states = [(cell, name_of[label]) for label, cell in logit.items() if parse_head(label)[0] == "state"]
        nexts = [(cell, name_of[label]) for label, cell in logit.items() if parse_head(label)[0] == "next"]
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
    _write_grammar(grammar_ws, model, grammar)
    wb.active = wb.sheetnames.index("Trace")
    with atomic_path(path) as tmp:
        wb.save(tmp)
        _make_reproducible(tmp)


def _token(r: int) -> str:
    """The formula for symbol number $A{r} of the space-separated cleaned input (any length: no padding)."""
    nth = lambda n: f'FIND(CHAR(1),SUBSTITUTE(input_clean," ",CHAR(1),{n}))'  # noqa: E731  position of space n
    start = f"IF($A{r}=1,1,{nth(f'$A{r}-1')}+1)"
    end = f"IFERROR({nth(f'$A{r}')},LEN(input_clean)+1)"
    return f"MID(input_clean,{start},{end}-{start})"


def _check_strings(model: Model, grammar, title: str | None) -> None:
    """Refuse, with one line, any user string that a workbook cell cannot hold."""
    if grammar is not None:
        check_text(grammar.name, "the grammar name")
        check_text(grammar.description, "the description")
        for s in grammar.states:
            check_text(s, "state")
    if title is not None:
        check_text(title, "the title")
    for what, values in (("symbol", model.alphabet), ("head label", model.heads), ("unit label", model.units)):
        for v in values:
            check_text(v, what)


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
         if single else " (separate them with spaces, e.g. ") + repr(("" if single else " ").join(model.alphabet[:3]))
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
        *_proof_guide(model),
    ]
    for r, (text, bold) in enumerate(lines, start=1):
        _text(ws, r, 1, text).font = Font(bold=bold, size=13 if r == 1 else 11)
    ws.column_dimensions["A"].width = 110


def _proof_guide(model: Model) -> list[tuple[str, bool]]:
    """For a model without a compiled grammar: which kind of proof its file records (compiled models are covered
    by the compiled certificate the Units section describes)."""
    if stored_grammar(model) is not None:
        return []
    proof = model.extra.get("proof")
    if isinstance(proof, dict) and proof.get("method") == "regions" and proof.get("proven") is True:
        clean = lambda v: ILLEGAL_CHARACTERS_RE.sub("", str(v))[:200]  # noqa: E731  (the meta is untrusted)
        said = (f"When it was trained (fsm-lstm train --certify), the region proof held against grammar "
                f"{clean(proof.get('grammar'))!r}: {clean(proof.get('summary'))}.")
    else:
        said = "The file records no proof: trained networks are proven only by the region proof."
    again = "fsm-lstm certify MODEL --grammar G checks a trained network for every length again (docs/region-proof.md)."
    return [("", False), ("Proof", True), (said, False), (again, False)]


def _write_grammar(ws, model: Model, g: Grammar | None) -> None:
    _text(ws, 1, 1, "Grammar").font = Font(bold=True, size=13)
    r = 3
    if g is not None:
        for key, value in [("name", g.name), ("description", g.description), ("start", g.start),
                           ("accepting", " ".join(s for s in g.states if s in g.accept)),
                           ("alphabet", " ".join(g.alphabet))]:
            _text(ws, r, 1, key).font = BOLD
            _text(ws, r, 2, value)
            r += 1
        r += 1
        _text(ws, r, 1, "transition table: row = state, column = symbol, cell = next state(s)").font = BOLD
        r += 1
        for j, a in enumerate(g.alphabet):
            _text(ws, r, 2 + j, a).font = BOLD
        for s in g.states:
            r += 1
            marks = ("-> " if s == g.start else "") + s + (" (accept)" if s in g.accept else "")
            _text(ws, r, 1, marks).font = BOLD
            targets: dict[str, list[str]] = {}
            for b, q in g.out_edges[s]:
                targets.setdefault(b, []).append(q)
            for j, a in enumerate(g.alphabet):
                _text(ws, r, 2 + j, " ".join(targets.get(a, ())))
        r += 2
    else:
        _text(ws, r, 1, "This model carries no grammar (trained or imported): its units have no edge labels.")
        r += 2
    _text(ws, r, 1, "units").font = BOLD
    for u, label in enumerate(model.units):
        _text(ws, r + 1 + u, 1, f"u{u}")
        _text(ws, r + 1 + u, 2, label)
    _text(ws, r, 4, "heads").font = BOLD
    for m, label in enumerate(model.heads):
        _text(ws, r + 1 + m, 4, label)
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 22
