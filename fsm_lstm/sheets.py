"""Workbooks whose formulas compute a model live: type a string, see the answer beside it, and every gate behind it.

Sheets: Run (the input cell, one row of answers per step, a one-line verdict and live charts), Guide, Trace
(every gate, cell, hidden value and head logit of every step), Grammar (transitions, units, heads, the picture)
and Weights (editable; everything follows). Every gate is a formula over Weights: SUMPRODUCT for the weighted
sums, sigmoid as (1+TANH(z/2))/2 (no overflow), EXACT to match symbols; no LET, LAMBDA or SEQUENCE, so
LibreOffice and Gnumeric compute it too. Defined names: ``input`` (the text-formatted string cell) and
``state``, ``accept``, ``next`` and, for models with ``out:`` heads, ``output`` (decoded columns of Run).
With an automaton (:mod:`sheet_automaton`), an Automaton sheet and, on Run, its live run beside the network's,
with the defined names ``automaton_state`` and ``agree``; with summary rows, a Summary sheet of text.

Every formula cell carries, as its cached value, what the numpy runtime computes for the default input, so
viewers that do not recalculate (previews, ``pandas.read_excel``) show the real trace.

User strings (grammar name, description, states, symbols, labels, the input) are always written as text cells,
never as formulas, whatever they start with (``=``, ``+``, ``-``, ``@``), and no formula embeds one: the decoded
columns read the names from a hidden row of text cells (row 5 of Trace). Strings a workbook cannot hold (control
characters other than tab, newline and carriage return; more than 32,767 characters) are refused with one line.

Limits, refused with the figure before anything is written: at most MAX_STEPS (5,000) trace rows, 16,384
columns and 1,048,576 rows per sheet (the spreadsheet format's own limits), MAX_CELLS (5 million) cells, and more
cells than the memory available holds while the workbook is written (BYTES_PER_CELL each).
"""

from __future__ import annotations

import os
import re
import zipfile

import numpy as np
import xlsxwriter
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from .atomic import atomic_path, output_path
from .automata import determinise, shortest_accepted
from .errors import UserError
from .grammar import Grammar
from .labels import parse_head
from .limits import MAX_COLUMNS
from .free_memory import available_memory
from .model import GATES, Model, readable_bytes, stored_grammar
from .reading import Reading, reading_of
from .sheet_automaton import (AUTOMATON_COLUMNS, NetworkAnswers, check_automaton, write_automaton_columns,
                              write_automaton_sheet)
from .sheet_charts import add_charts
from .sheet_formats import Formats, print_setup
from .sheet_input import typed_input
from .sheet_layout import (BLOCKS, FIRST_STEP_ROW, GATE_NAMES, NAME_ROW, NONE, SIGMOID, Computed, PlainFormulaSheet,
                           SheetWriter, TraceLayout, answer_kinds, col, compute, output_value, past_end, trace_layout,
                           unit_labels)
from .sheet_run import decoded_outputs, write_run
from .sheet_text import write_grammar, write_guide
from .sheet_weights import write_weights

__all__ = ["BYTES_PER_CELL", "MAX_CELLS", "MAX_ROWS", "MAX_STEPS", "MAX_TEXT", "SHEETS", "SUMMARY_WIDTHS",
           "WRITER_OPTIONS",
           "accepted_examples", "check_steps", "check_text", "check_workbook_room", "sample_input", "workbook_cells",
           "write_workbook"]

SHEETS = ("Run", "Guide", "Trace", "Grammar", "Weights")
MAX_STEPS = 5000  # trace rows
MAX_CELLS = 5_000_000  # cells of the whole workbook
BYTES_PER_CELL = 1000  # peak memory a cell adds while XlsxWriter writes (it keeps every cell until the end);
# measured: 730 bytes for a 4-unit LSTM's 5,000 steps, 840 for a 256-unit LSTM's trace rows
MAX_ROWS = 1_048_576
MAX_TEXT = 32_767  # characters in one cell
WRITER_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
                  "in_memory": True}


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


def workbook_cells(model: Model, steps: int) -> int:
    """The cells of a workbook of ``steps`` trace rows without an automaton (Trace and Run, and Weights), as
    ``write_workbook`` counts them against MAX_CELLS and the memory available."""
    return _size(model, steps)[0]


def _automaton_cells(d: Grammar, steps: int) -> int:
    """At most the cells an automaton adds: its table (with a Mealy machine's output per symbol) and its columns
    of Run."""
    return len(d.states) * (2 * len(d.alphabet) + 3) + len(AUTOMATON_COLUMNS) * (steps + FIRST_STEP_ROW)


def _size(model: Model, steps: int) -> tuple[int, int, int]:
    """(cells, columns of the widest sheet, rows of Weights) of a workbook of ``steps`` trace rows."""
    lay = trace_layout(model)
    columns = lay.last
    cells = (columns + len(lay.run)) * (steps + FIRST_STEP_ROW)
    widths = [len(model.alphabet)] + [layer.hidden_size for layer in model.layers[:-1]]
    weight_rows = 0
    for layer, width in zip(model.layers, widths):
        gh = layer.weight_ih.shape[0]
        columns = max(columns, 7 + width + layer.hidden_size)
        weight_rows += gh + 3
        cells += gh * (width + layer.hidden_size + 5)
    weight_rows += len(model.heads) + 2
    cells += len(model.heads) * (model.hidden_size + 3)
    return cells, columns, weight_rows


def _check_size(model: Model, steps: int) -> int:
    """Refuse a workbook over the format's row and column limits, or over MAX_CELLS cells; else its cells."""
    cells, columns, weight_rows = _size(model, steps)
    if columns > MAX_COLUMNS:
        raise UserError(f"the workbook needs {columns:,} columns; spreadsheets hold at most {MAX_COLUMNS:,} "
                        f"(the model has {model.hidden_size:,} units)")
    if max(weight_rows, steps + FIRST_STEP_ROW) > MAX_ROWS:
        raise UserError(f"the workbook needs {max(weight_rows, steps + FIRST_STEP_ROW):,} rows; spreadsheets hold "
                        f"at most {MAX_ROWS:,}")
    if cells > MAX_CELLS:
        fixed = _size(model, 0)[0]  # the weights, whatever the steps
        fix = (f"the weights alone take {fixed:,}: a workbook cannot show a network this large" if fixed > MAX_CELLS
               else "use fewer steps (a shorter input, --steps) or a smaller model")
        raise UserError(f"the workbook would have {cells:,} cells, over the limit of {MAX_CELLS:,}; {fix}")
    return cells


def check_workbook_room(model: Model) -> None:
    """Refuse, before any work, a model whose workbook would be over the limits (:func:`_check_size`) or the memory
    available with a single step: ``verify --report`` and ``extract --sheet`` ran minutes, then refused it."""
    _check_memory(_check_size(model, 1))


def _check_memory(cells: int) -> None:
    """Refuse a workbook larger than the memory available can hold while it is written."""
    need, free = cells * BYTES_PER_CELL, available_memory()
    if free is not None and need > free:
        raise UserError(f"the workbook would have {cells:,} cells and need about {readable_bytes(need)} of memory "
                        f"to write, more than the {readable_bytes(free)} available; use fewer steps (a shorter input, "
                        "--steps) or a smaller model")


def sample_input(model: Model) -> str:
    """A string to show in a new workbook: a longer one among the shortest accepted strings of the model's
    grammar, or a few symbols of its alphabet (a word classifier's markers aside) when it carries none."""
    reading = reading_of(model)
    for example in reversed(accepted_examples(model, 12)):  # a word classifier's: framed by its markers
        try:
            word = reading.strip(example)
        except UserError:  # a marker inside: no word of the classifier
            continue
        if word:
            return reading.typed(word, model.alphabet)
    return reading.typed(reading.inner(model.alphabet)[:4], model.alphabet)


def accepted_examples(model: Model, count: int) -> list[tuple[str, ...]]:
    """Up to ``count`` shortest accepted strings of the model's grammar (none without one)."""
    grammar = stored_grammar(model)
    if grammar is None:
        return []
    try:
        return shortest_accepted(determinise(grammar), count, max_length=20)
    except UserError:  # an NFA whose determinisation is too large
        return []


def write_workbook(model: Model, path: str | os.PathLike[str], text: str = "", steps: int | None = None,
                   title: str | None = None, automaton: Grammar | None = None,
                   summary: list[list[str]] | None = None, reading: Reading | None = None) -> None:
    """Write the workbook for ``model`` with ``text`` in the input cell and ``steps`` trace rows, atomically; with
    ``automaton``, an Automaton sheet holds its transition table and the Run sheet runs it beside the network;
    ``summary`` rows of text make a Summary sheet. ``reading`` (default: the model's meta) says whether the model is
    a word classifier, and the markers the sheet adds around the typed word."""
    check_steps(steps)
    reading = reading_of(model) if reading is None else reading
    word = reading.parse(text, model.alphabet)  # a word classifier's markers are added by the sheet
    read = reading.frame(word)
    marks = " with its markers" if len(read) > len(word) else ""
    if len(read) > MAX_STEPS:  # no --steps can hold it: say so rather than advise one over the limit
        raise UserError(f"the input has {len(read):,} symbols{marks}, over the limit of {MAX_STEPS:,} trace rows of a "
                        "workbook; give a shorter input")
    held = len(typed_input(model, reading).cached(word).encode("utf-16-le")) // 2  # Trace!B3, as spreadsheets count
    if held > MAX_TEXT:
        raise UserError(f"the input has {held:,} characters as the sheet holds it{marks}; a workbook cell holds at "
                        f"most {MAX_TEXT:,}: give a shorter input")
    steps = max(len(read), 30) if steps is None else steps
    if len(read) > steps:
        raise UserError(f"the input has {len(read)} symbols{marks} but the sheet has {steps} steps; pass --steps "
                        f"{len(read)}")
    check_steps(steps)
    grammar = stored_grammar(model)
    _check_strings(model, grammar, title)
    cells = _check_size(model, steps)
    if automaton is not None:
        automaton = check_automaton(automaton, MAX_ROWS, MAX_COLUMNS, MAX_CELLS, check_text)
        cells += _automaton_cells(automaton, steps)
    _check_memory(cells)
    output_path(path)  # a folder, pipe or device at the output path: refuse before the long part
    computed = compute(model, read)
    name = title or (grammar.name if grammar is not None else "model")
    with atomic_path(path) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), WRITER_OPTIONS)
        fmt = Formats(wb)
        names = SHEETS + (("Automaton",) if automaton is not None else ()) + (("Summary",) if summary else ())
        sheets = {n: SheetWriter(wb.add_worksheet(n, worksheet_class=PlainFormulaSheet)) for n in names}
        refs, heads_at = write_weights(sheets["Weights"], model, fmt)
        lay = trace_layout(model)
        _write_trace(sheets["Trace"], model, lay, refs, heads_at, computed, steps, name, fmt, reading)
        write_run(sheets["Run"], model, lay, computed, steps, name, fmt, reading)
        add_charts(wb, sheets["Run"].ws, model, lay, steps, FIRST_STEP_ROW,
                   7 if automaton is None else max(AUTOMATON_COLUMNS.values()) + 1)
        write_guide(sheets["Guide"], model, steps, reading, accepted_examples(model, 4),
                    _leaving_example(model), fmt)
        write_grammar(sheets["Grammar"], model, grammar, fmt)
        last = FIRST_STEP_ROW + steps
        for key, c in lay.run.items():
            if key in answer_kinds(model):
                wb.define_name(key, f"=Run!${col(c)}${FIRST_STEP_ROW}:${col(c)}${last}")
        if automaton is not None:
            table = write_automaton_sheet(sheets["Automaton"], automaton, fmt)
            write_automaton_columns(sheets["Run"], automaton, table, word, _network_answers(model, computed), steps,
                                    fmt, reading)
            for key, column in (("automaton_state", "automaton state"), ("agree", "agree")):
                c = AUTOMATON_COLUMNS[column]
                wb.define_name(key, f"=Run!${col(c)}${FIRST_STEP_ROW}:${col(c)}${last}")
            sheets["Trace"].ws.conditional_format(f"A{FIRST_STEP_ROW}:{col(lay.last)}{last}", {  # the gates behind it
                "type": "formula", "criteria": f"=$A{FIRST_STEP_ROW}+1=MATCH(FALSE,agree,0)", "format": fmt.parting})
        if summary:
            _write_summary(sheets["Summary"], summary, fmt)
        wb.define_name("input", "=Run!$B$2")
        wb.define_name("input_clean", "=Trace!$B$3")
        wb.define_name("input_length", "=Run!$F$2")
        wb.set_properties({"title": f"fsm-lstm: {name}"[:200]})
        sheets["Run"].ws.activate()
        wb.close()
        _make_reproducible(tmp)


SUMMARY_WIDTHS = (20, 14, 14)  # columns A, C and D of the Summary sheet; B is as wide as its table's names


def _write_summary(sh: SheetWriter, summary: list[list[str]], fmt: Formats) -> None:
    """The Summary sheet: a label in A, text in B, and the word-set table's figures in C and D. A sentence alone
    on its row is wrapped across B:D, so that nothing runs past the printed page or under a figure (a trial's
    print showed "every worc4,095")."""
    rows = [[check_text(value, "summary text") for value in row] for row in summary]
    names = max([len(row[1]) for row in rows if len(row) > 2] + [24])
    widths = (SUMMARY_WIDTHS[0], min(60, names + 2), *SUMMARY_WIDTHS[1:])
    for c, width in enumerate(widths):
        sh.ws.set_column(c, c, width)
    across = sum(widths[1:])
    for r, row in enumerate(rows, start=1):
        if row:
            sh.text(r, 1, row[0], fmt.label)
        if len(row) == 2 and len(row[1]) > widths[1]:
            sh.wrapped_text(r, 2, 4, row[1], fmt.wrap, across)
        else:
            for c, value in enumerate(row[1:], start=2):
                sh.text(r, c, value)
    print_setup(sh.ws)


def _network_answers(model: Model, v: Computed) -> NetworkAnswers:
    """The network's decoded accept, state names and output after every prefix."""
    on = v.heads > 0
    accepts = [bool(x) for x in on[:, model.heads.index("accept")]] if "accept" in model.heads else None
    kinds = [parse_head(h)[0] for h in model.heads]
    states = ["-"] * len(on) if "state" not in kinds else [
        " ".join(h.partition(":")[2] for h, o, k in zip(model.heads, row, kinds) if o and k == "state") or NONE
        for row in on]
    return NetworkAnswers(accepts, states, decoded_outputs(model, v.heads), model.argmax_outputs)


def _leaving_example(model: Model) -> tuple[str, ...] | None:
    """An accepted string cut at its last state that lacks an edge for some symbol, then that symbol: a string
    that leaves the grammar late (None when the grammar has no such state on the way)."""
    grammar = stored_grammar(model)
    examples = accepted_examples(model, 4)
    if grammar is None or not examples:
        return None
    d = determinise(grammar)
    state, found = d.start, None
    for k, a in enumerate(examples[-1] + ("",)):
        missing = [b for b in d.alphabet if all(x != b for x, _ in d.out_edges[state])]
        if missing:
            found = examples[-1][:k] + (missing[0],)
        if a:
            state = next(q for x, q in d.out_edges[state] if x == a)
    return found


def _write_trace(sh: SheetWriter, model: Model, lay: TraceLayout, refs, heads_at, v: Computed, steps: int,
                 name: str, fmt: Formats, reading: Reading) -> None:
    ws = sh.ws
    n = len(v.word)
    sh.text(1, 1, f"{name}: every gate of the network, step by step", fmt.title)
    sh.text(2, 1, "The input is typed on the Run sheet (cell B2). Every number below is a live formula over the "
                  "Weights sheet.", fmt.caption)
    sh.text(3, 1, "input", fmt.bold)
    typed = typed_input(model, reading)
    word = reading.strip(v.word)
    sh.formula(3, 2, typed.clean_formula(), typed.cached(word))
    if typed.framed:  # the word classifier's markers, read around the typed word, which may hold them too
        sh.text(4, 1, "markers", fmt.bold)
        sh.text(4, 2, reading.start or "")
        sh.text(4, 3, reading.end or "")
        sh.text(4, 4, "word", fmt.bold)
        on_the_way, unframed = typed.unframed_formulas()
        sh.formula(4, 5, on_the_way, typed.typed(word), fmt.hidden)  # a step towards F4, shown there whole
        sh.formula(4, 6, unframed, typed.typed(word))
    sh.text(6, 1, "step", fmt.header)
    sh.text(7, 1, "t", fmt.header)
    sh.text(7, 2, "symbol", fmt.header)
    _block_title(sh, 6, lay.onehot, "one-hot input", fmt)
    upright = max(len(a) for a in model.alphabet) <= 2  # a longer symbol is turned, as unit labels are: '</s>'
    for j, a in enumerate(model.alphabet):  # wrapped to '</ s>' in a column 3.5 wide
        sh.text(7, lay.onehot[0] + j, a, fmt.header if upright else fmt.rotated)
    longest = max([len(a) for a in model.alphabet] + [len(h) for h in model.heads] + [6])
    for k, cols in enumerate(lay.layers):
        labels = unit_labels(model, k)
        longest = max(longest, max(len(s) for s in labels))
        for b, (lo, hi) in cols.items():
            layer = f" (layer {k})" if len(model.layers) > 1 else ""
            _block_title(sh, 6, (lo, hi), f"{b}: {GATE_NAMES[b]}{layer}", fmt)
            for u, label in enumerate(labels):
                sh.text(7, lo + u, label, fmt.rotated)
    _block_title(sh, 6, lay.heads, "head logits (> 0: true" + ("; out: the largest)" if model.argmax_outputs else ")"),
                 fmt)
    for m, label in enumerate(model.heads):
        sh.text(7, lay.heads[0] + m, label, fmt.rotated)
        kind, arg = parse_head(label)
        value = arg if kind in ("state", "next") else output_value(label)
        if value is not None:
            sh.text(NAME_ROW, lay.heads[0] + m, value)
    for key, c in (("states", lay.decoded["state"]), ("next", lay.decoded["next"]), ("in alphabet", lay.known),
                   ("left", lay.stop), ("0 (threshold)", lay.zero)):
        sh.text(7, c, key, fmt.rotated)
    _block_title(sh, 6, (lay.decoded["state"], lay.zero), "helpers", fmt)
    ws.set_row(NAME_ROW - 1, None, None, {"hidden": True})
    ws.set_row(6, min(409, 12 + 6.2 * min(longest, 60)))

    state_heads = [m for m, h in enumerate(model.heads) if parse_head(h)[0] == "state"]
    next_heads = [m for m, h in enumerate(model.heads) if parse_head(h)[0] == "next"]
    for t in range(steps + 1):
        r = FIRST_STEP_ROW + t
        live = t <= n
        sh.number(r, 1, t, fmt.step)
        guard = past_end(r)
        if t == 0:
            for k, cols in enumerate(lay.layers):
                for b in ("c", "h"):
                    for cc in range(cols[b][0], cols[b][1] + 1) if b in cols else ():
                        sh.number(r, cc, 0, fmt.value)
        else:
            sh.formula(r, 2, f'=IF({guard},"",{typed.symbol_formula(r)})', v.word[t - 1] if live else "", fmt.symbol)
            for j, a in enumerate(model.alphabet):
                letter = col(lay.onehot[0] + j)
                sh.formula(r, lay.onehot[0] + j, f'=IF({guard},"",IF(EXACT($B{r},{letter}$7),1,0))',
                           (1 if v.word[t - 1] == a else 0) if live else "", fmt.onehot)
            sh.formula(r, lay.known, f'=IF({guard},"",SUM(${col(lay.onehot[0])}{r}:${col(lay.onehot[1])}{r}))',
                       1 if live else "", fmt.onehot)
            x_range = f"${col(lay.onehot[0])}{r}:${col(lay.onehot[1])}{r}"
            for k, (layer, cols, ref) in enumerate(zip(model.layers, lay.layers, refs)):
                _layer_formulas(sh, model.cell, layer.hidden_size, cols, ref, r, x_range, guard,
                                _layer_values(model, v, k, t) if live else None, fmt)
                x_range = f"${col(cols['h'][0])}{r}:${col(cols['h'][1])}{r}"
        h_last = f"${col(lay.layers[-1]['h'][0])}{r}:${col(lay.layers[-1]['h'][1])}{r}"
        for m in range(len(model.heads)):
            wr = heads_at.row + m
            weights = f"Weights!${col(heads_at.first)}${wr}:${col(heads_at.last)}${wr}"
            sh.formula(r, lay.heads[0] + m, f'=IF({guard},"",SUMPRODUCT({weights},{h_last})+Weights!'
                       f'${col(heads_at.bias)}${wr})', v.heads[t, m] if live else "", fmt.value)
        on = v.heads[t] > 0 if live else np.zeros(len(model.heads), bool)
        joined = {}
        for key, members in (("state", state_heads), ("next", next_heads)):
            parts = [(f"{col(lay.heads[0] + m)}{r}", f"{col(lay.heads[0] + m)}${NAME_ROW}") for m in members]
            joined[key] = " ".join(model.heads[m].partition(":")[2] for m in members if on[m])
            cached = joined[key] if live else ""
            sh.formula(r, lay.decoded[key], "=" + _joined_formula(parts, guard), cached if parts else "-", fmt.small)
        if t:
            left = f"{col(lay.known)}{r}=0" + (f',{col(lay.decoded["state"])}{r}=""' if state_heads else "")
            sh.formula(r, lay.stop, f'=IF({guard},"",IF(OR({left}),1,0))',
                       (0 if joined["state"] or not state_heads else 1) if live else "", fmt.onehot)
        sh.number(r, lay.zero, 0, fmt.onehot)
    _format_trace(sh, model, lay, steps, fmt, typed.framed)


def _block_title(sh: SheetWriter, r: int, span: tuple[int, int], title: str, fmt: Formats) -> None:
    lo, hi = span
    if hi > lo:
        sh.ws.merge_range(r - 1, lo - 1, r - 1, hi - 1, "", fmt.block)
    sh.text(r, lo, title, fmt.block)


def _layer_values(model: Model, v: Computed, k: int, t: int) -> dict[str, np.ndarray]:
    """Block -> the runtime's values of layer ``k`` at step ``t`` >= 1."""
    H = model.layers[k].hidden_size
    gates = [g for g in GATES[model.cell] if g != "h"]
    out = {g: v.gates[k][t - 1, q * H:(q + 1) * H] for q, g in enumerate(gates)}
    if v.c is not None:
        out["c"] = v.c[k][t]
    out["h"] = v.h[k][t]
    return out


def _joined_formula(parts: list[tuple[str, str]], guard: str) -> str:
    """The names whose logit cell is > 0, space-separated; ``parts`` pairs a logit cell with the cell holding its
    name (a user string is never embedded in a formula)."""
    if not parts:
        return '"-"'
    body = "&".join(f'IF({cell}>0," "&{name},"")' for cell, name in parts)
    return f'IF({guard},"",MID({body},2,{MAX_TEXT}))'


def _layer_formulas(sh: SheetWriter, cell: str, H: int, cols: dict[str, tuple[int, int]], ref, r: int,
                    x_range: str, guard: str, values: dict[str, np.ndarray] | None, fmt: Formats) -> None:
    """The formulas of one layer in Trace row ``r`` (the previous row holds the previous state)."""
    prev_h = f"${col(cols['h'][0])}{r - 1}:${col(cols['h'][1])}{r - 1}"

    def put(block: str, u: int, value: str) -> None:
        cached = "" if values is None else values[block][u]
        sh.formula(r, cols[block][0] + u, f'=IF({guard},"",{value})', cached, fmt.value)

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


def _format_trace(sh: SheetWriter, model: Model, lay: TraceLayout, steps: int, fmt: Formats, framed: bool) -> None:
    ws = sh.ws
    first, last = FIRST_STEP_ROW, FIRST_STEP_ROW + steps
    span = lambda a, b: f"{col(a)}{first}:{col(b)}{last}"  # noqa: E731
    gate_scale = {"type": "2_color_scale", "min_type": "num", "min_value": 0, "min_color": "#FFFFFF",
                  "max_type": "num", "max_value": 1, "max_color": "#5B9BD5"}
    signed = {"type": "3_color_scale", "min_type": "num", "min_value": -1, "min_color": "#E06666",
              "mid_type": "num", "mid_value": 0, "mid_color": "#FFFFFF", "max_type": "num", "max_value": 1,
              "max_color": "#5B9BD5"}
    logits = {"type": "3_color_scale", "min_type": "num", "min_value": -3, "min_color": "#F8CBAD",
              "mid_type": "num", "mid_value": 0, "mid_color": "#FFFFFF", "max_type": "num", "max_value": 3,
              "max_color": "#A9D08E"}
    # values under 0.001, zero aside, in scientific notation: one rule over every gate ("" fails ABS: no rule)
    lo, hi = lay.layers[0][BLOCKS[model.cell][0]][0], lay.layers[-1]["h"][1]
    corner = f"{col(lo)}{first + 1}"
    ws.conditional_format(f"{corner}:{col(hi)}{last}", {
        "type": "formula", "criteria": f"=AND({corner}<>0,ABS({corner})<0.001)", "format": fmt.tiny})
    for cols in lay.layers:
        for b, (lo, hi) in cols.items():
            ws.conditional_format(span(lo, hi), gate_scale if b in SIGMOID else signed)
    ws.conditional_format(span(*lay.heads), logits)
    ws.conditional_format(f"B{first + 1}:B{last}", {
        "type": "formula", "criteria": f'=AND($B{first + 1}<>"",${col(lay.known)}{first + 1}=0)',
        "format": fmt.bad_symbol})
    ws.freeze_panes(FIRST_STEP_ROW - 1, 2)
    ws.set_column(0, 0, 8 if framed else 5)  # room for the label 'markers'
    ws.set_column(1, 1, 8)
    ws.set_column(lay.onehot[0] - 1, lay.onehot[1] - 1, 3.5)
    ws.set_column(lay.layers[0][next(iter(lay.layers[0]))][0] - 1, lay.heads[1] - 1, 6.5)
    ws.set_column(lay.decoded["state"] - 1, lay.decoded["next"] - 1, 12)
    ws.set_column(lay.known - 1, lay.zero - 1, 3.5)
    print_setup(ws, rows=(5, 6), columns=(0, 1), pages_wide=max(1, min(4, round(lay.last / 60))))


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
    """Fix the timestamps stamped into a workbook, so the same model and input give the same bytes (a rebuilt
    sheets/ folder leaves git clean)."""
    with zipfile.ZipFile(path) as z:
        entries = [(info.filename, z.read(info)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>2000-01-01T00:00:00Z", data)
            z.writestr(zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
