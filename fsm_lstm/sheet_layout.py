"""Where everything sits in a workbook, and the writer every sheet uses: the columns of the Trace and Run sheets,
the rows of the steps, the values the runtime computes for the cells, and a 1-based XlsxWriter sheet whose text
is always text."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

from .errors import UserError
from .labels import parse_head
from .model import Model, default_units
from .runtime import run
from .words import encode

__all__ = ["BLOCKS", "BOLD_PER_WIDTH", "Computed", "FIRST_STEP_ROW", "GATE_NAMES", "ITALIC_PER_WIDTH", "MAX_FORMULA",
           "NAME_ROW", "NONE", "PlainFormulaSheet", "SIGMOID", "SheetWriter", "TraceLayout", "answer_kinds",
           "beyond_the_sheet", "col", "compute", "fitting_width", "left_behind", "numbered_units", "output_value",
           "past_end", "single_characters", "trace_layout", "unit_labels", "wrapped_height"]

BLOCKS = {"lstm": ("i", "f", "g", "o", "c", "h"), "gru": ("r", "z", "n", "h"), "rnn": ("h",)}  # trace columns
SIGMOID = ("i", "f", "o", "r", "z")
GATE_NAMES = {"i": "input gate", "f": "forget gate", "g": "candidate", "o": "output gate", "c": "cell state",
              "h": "hidden output", "r": "reset gate", "z": "update gate", "n": "new state"}
FIRST_STEP_ROW = 8  # row of t = 0 on Run and on Trace
NAME_ROW = 5  # hidden Trace row: the state name, symbol or output of each head, read by the decoded columns
MAX_FORMULA = 8000  # Excel's limit is 8192 characters
# characters of 10-point text per unit of column width, as LibreOffice prints them (measured 1.16 and 1.27 on the
# Run sheet's A:F), a little less: a row sized with them has room for its last line
BOLD_PER_WIDTH = 1.1
ITALIC_PER_WIDTH = 1.2
NONE = "(none)"  # the decoded answer when no head of the kind is true, as the CLI prints it


def col(c: int) -> str:
    """The letters of 1-based column ``c``."""
    return xl_col_to_name(c - 1)


def output_value(label: str) -> str | None:
    """The value of an output head ``out:VALUE`` (Mealy and Moore machines), else None."""
    return label[4:] if label.startswith("out:") and len(label) > 4 else None


def answer_kinds(model: Model) -> tuple[str, ...]:
    """The Run sheet's answer columns the model's heads fill (state, accept, next, output, in that order); the
    others stay empty."""
    kinds = {"output" if output_value(h) else parse_head(h)[0] for h in model.heads}
    return tuple(k for k in ("state", "accept", "next", "output") if k in kinds)


def left_behind(model: Model) -> str:
    """What a string leaves when no state head is true: a Mealy or Moore machine's (out: heads), else the
    grammar."""
    return "machine" if "output" in answer_kinds(model) else "grammar"


def single_characters(alphabet: Sequence[str]) -> bool:
    """True when every symbol is one character that spreadsheets count as one (no surrogate pairs)."""
    return all(len(a) == 1 and ord(a) < 0x10000 for a in alphabet)


@dataclass(frozen=True)
class TraceLayout:
    """Column numbers (1-based). On Trace, row FIRST_STEP_ROW + t holds step t: the symbol in column 2, then
    the one-hot input, the blocks of every layer, the head logits and helper columns. On Run the same row holds
    the decoded answers of step t, in the columns ``run`` names."""

    onehot: tuple[int, int]
    layers: list[dict[str, tuple[int, int]]]  # per layer: block -> (first, last) column, blocks i f g o c h
    heads: tuple[int, int]
    decoded: dict[str, int]  # Trace: the state and next names joined ('' when none), before Run shows them
    known: int  # Trace: 1 when the symbol is in the alphabet, 0 when not
    stop: int  # Trace: 1 when the string has left the grammar (or the alphabet) at this step
    zero: int  # Trace: the decision threshold 0, for the chart of the head logits
    run: dict[str, int]  # Run: t, symbol, state, accept, next and (with out: heads) output

    @property
    def last(self) -> int:
        """The last column of Trace."""
        return self.zero


def trace_layout(model: Model) -> TraceLayout:
    """Where everything sits on the Trace and Run sheets of ``model``'s workbook."""
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
    decoded = {"state": heads[1] + 1, "next": heads[1] + 2}
    run_cols = {"t": 1, "symbol": 2, "state": 3, "accept": 4, "next": 5}
    if "output" in answer_kinds(model):
        run_cols["output"] = 6
    return TraceLayout(onehot, layers, heads, decoded, heads[1] + 3, heads[1] + 4, heads[1] + 5, run_cols)


class PlainFormulaSheet(Worksheet):
    """XlsxWriter's worksheet without its search for Excel 365 function names to prefix with ``_xlfn.`` (some 30
    regular expressions over every formula, most of the writing time): these workbooks use none of those
    functions, which LibreOffice and Gnumeric could not compute anyway."""

    def _prepare_formula(self, formula, expand_future_functions=False):
        return formula[1:] if formula.startswith("=") else formula


class SheetWriter:
    """An XlsxWriter worksheet addressed by 1-based rows and columns, with text that is always text."""

    def __init__(self, ws) -> None:
        self.ws = ws

    def text(self, r: int, c: int, value: str, fmt=None) -> None:
        """A text cell: never a formula, an error code or a hyperlink, whatever it starts with."""
        if value == "":
            self.ws.write_blank(r - 1, c - 1, None, fmt)
        else:
            self.ws.write_string(r - 1, c - 1, value, fmt)

    def wrapped_text(self, r: int, c: int, last: int, value: str, fmt, per_line: float) -> None:
        """A text cell merged across columns ``c`` to ``last`` (one column: not merged) and wrapped, its row as
        tall as ``per_line`` characters a line need."""
        if last > c:
            self.ws.merge_range(r - 1, c - 1, r - 1, last - 1, "", fmt)
        self.ws.set_row(r - 1, wrapped_height(value, per_line))
        self.text(r, c, value, fmt)

    def number(self, r: int, c: int, value: float, fmt=None) -> None:
        self.ws.write_number(r - 1, c - 1, float(value), fmt)

    def formula(self, r: int, c: int, formula: str, value, fmt=None) -> None:
        """A formula with ``value`` cached (a Python bool becomes a spreadsheet boolean)."""
        if len(formula) > MAX_FORMULA:
            raise UserError(f"a formula of the workbook needs {len(formula)} characters, over the spreadsheet "
                            "limit; the model has too many heads of one kind for a workbook")
        if isinstance(value, (float, np.floating)):
            value = float(value)
        self.ws.write_formula(r - 1, c - 1, formula, fmt, value)

    def array_formula(self, r: int, c: int, formula: str, value, fmt=None) -> None:
        """A one-cell array formula (evaluated element-wise, as Gnumeric needs for EXACT over a range)."""
        if len(formula) > MAX_FORMULA:
            raise UserError(f"a formula of the workbook needs {len(formula)} characters, over the spreadsheet limit")
        self.ws.write_array_formula(r - 1, c - 1, r - 1, c - 1, formula, fmt, value)


@dataclass(frozen=True)
class Computed:
    """What the runtime computes for the default input, in float64: the values cached in the formula cells."""

    word: tuple[str, ...]
    gates: list[np.ndarray | None]  # per layer (T, G*H); None for a plain RNN
    c: list[np.ndarray] | None  # per layer (T+1, H)
    h: list[np.ndarray]
    heads: np.ndarray  # (T+1, M) logits (also the out: heads of an argmax reading: the formulas compute logits)


def compute(model: Model, word: tuple[str, ...]) -> Computed:
    trace = run(model, encode([word], model.alphabet).reshape(1, -1), dtype=np.float64, record=True, raw=True)
    lstm = model.cell == "lstm"
    return Computed(word, [None if g is None else g[:, 0] for g in trace.gates],
                     [c[:, 0] for c in trace.c] if lstm else None, [h[:, 0] for h in trace.h], trace.heads[:, 0])


def past_end(r: int) -> str:
    return f"$A{r}>input_length"


def fitting_width(texts: Sequence[str], least: int, most: int) -> int:
    """A column width that shows the longest of ``texts`` whole, within ``least`` and ``most`` characters."""
    return min(most, max([least, *(len(t) + 2 for t in texts)]))


def wrapped_height(text: str, per_line: float, points: float = 10) -> float:
    """The height in points of a row that shows ``text`` in a font of ``points`` wrapped at ``per_line``
    characters, whole words to a line: spreadsheets do not size wrapped rows on load, nor when a formula's text
    changes."""
    return 1.5 * points * max(1, len(textwrap.wrap(text, max(1, int(per_line))))) + 1


def beyond_the_sheet(steps: int, length: int | None = None, framed: bool = False) -> str:
    """The answer, as a formula's text, for an input longer than the sheet's ``steps``: none (given ``length``, the
    text itself). The head at the last row answers a prefix, not the input (a 32-symbol word on a 30-step sheet
    said "rejected" where the network accepts it). ``framed``: the network reads markers around the word, which
    the count (``input_length``) includes, and the text says so (a 31-symbol word "had 33 symbols": trial 108)."""
    count = '"&input_length&"' if length is None else str(length)
    read = f"the network reads {count} symbols (the word and its markers)" if framed else \
        f"the input has {count} symbols"
    text = f"no answer: {read} and this sheet {steps} steps (see the note)"
    return text if length is not None else f'"{text}"'


def numbered_units(model: Model) -> bool:
    """True when the units are labelled by number: a trained model's, or a model's without labels of its own."""
    return "trained" in model.extra or model.units == default_units(model.hidden_size)


def unit_labels(model: Model, k: int) -> list[str]:
    """Labels of the units of layer ``k``: the model's own for the last layer of a compiled or imported model,
    the unit numbers for a trained one, and 'l0 u3' style before the last layer (and on it, where it has no labels
    of its own: 'l1 u3' after 'l0 u3', not 'unit 3')."""
    last, numbered = k == len(model.layers) - 1, numbered_units(model)
    if last and len(model.layers) == 1 and numbered:
        return list(default_units(model.hidden_size))
    if last and not numbered:
        return list(model.units)
    return [f"l{k} u{u}" for u in range(model.layers[k].hidden_size)]
