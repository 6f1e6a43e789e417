"""Reading computed workbooks back, and comparing them with the numpy runtime."""

from __future__ import annotations

import numpy as np
import openpyxl

from fsm_lstm.model import Model
from fsm_lstm.runtime import run
from fsm_lstm.model import GATES
from fsm_lstm.sheet_layout import BLOCKS, FIRST_STEP_ROW, trace_layout
from fsm_lstm.words import encode

ERRORS = ("#NUM!", "#VALUE!", "#NAME?", "#REF!", "#DIV/0!", "#N/A", "Err:", "#NULL!")


def error_cells(path) -> list[str]:
    """Every cell of every sheet whose computed value is a spreadsheet error."""
    wb = openpyxl.load_workbook(path, data_only=True)
    return [f"{ws.title}!{c.coordinate}={c.value}" for ws in wb for row in ws.iter_rows() for c in row
            if isinstance(c.value, str) and c.value.startswith(ERRORS)]


def compare(sheets: dict, model: Model, word: tuple[str, ...]) -> float:
    """Largest difference between workbook cells and the float64 runtime; decoded text must match exactly.
    ``sheets`` maps 'Trace' and 'Run' to dicts of (row, column) -> computed value."""
    trace = run(model, encode([word], model.alphabet).reshape(1, -1), dtype=np.float64, record=True, raw=True)
    read = run(model, encode([word], model.alphabet).reshape(1, -1), dtype=np.float64).heads  # margins, by argmax
    lay = trace_layout(model)
    values, answers = sheets["Trace"], sheets["Run"]
    worst = 0.0
    for t in range(len(word) + 1):
        r = FIRST_STEP_ROW + t
        gates = [g for g in GATES[model.cell] if g != "h"]
        for k, cols in enumerate(lay.layers):
            H = model.layers[k].hidden_size
            for b in BLOCKS[model.cell]:
                if b in gates and t == 0:
                    continue
                got = np.array([values[(r, c)] for c in range(cols[b][0], cols[b][1] + 1)], dtype=float)
                if b in gates:
                    q = gates.index(b)
                    want = trace.gates[k][t - 1, 0, q * H:(q + 1) * H]
                else:
                    want = (trace.c if b == "c" else trace.h)[k][t, 0]
                worst = max(worst, float(np.abs(got - want).max()))
        logits = np.array([values[(r, c)] for c in range(lay.heads[0], lay.heads[1] + 1)], dtype=float)
        worst = max(worst, float(np.abs(logits - trace.heads[t, 0]).max()))
        truth = trace.heads[t, 0] > 0
        for kind in ("state", "next"):  # the CLI's words: names joined by spaces, '(none)'; empty without heads
            names = [h.partition(":")[2] for h, on in zip(model.heads, truth) if on and h.startswith(kind + ":")]
            want = (" ".join(names) or "(none)") if any(h.startswith(kind + ":") for h in model.heads) else None
            assert answers.get((r, lay.run[kind])) == want, (t, kind, answers.get((r, lay.run[kind])), want)
        if "accept" in model.heads:
            assert answers[(r, lay.run["accept"])] == bool(truth[model.heads.index("accept")]), t
        else:
            assert answers.get((r, lay.run["accept"])) is None, t
        outs = [m for m, h in enumerate(model.heads) if h.startswith("out:")]
        if outs and model.argmax_outputs:  # the one out: head whose margin is > 0 (none at t = 0 and on a tie)
            said = [model.heads[m][4:] for m in outs if read[t, 0, m] > 0]
            assert len(said) <= 1 and answers[(r, lay.run["output"])] == (said[0] if said else "(none)"), t
        elif outs:  # the first out: head with the largest logit, if that logit is > 0, and how many more are true
            best = max(outs, key=lambda m: (trace.heads[t, 0, m], -m))
            more = sum(1 for m in outs if truth[m]) - 1
            want = model.heads[best][4:] + (f" (+{more} more)" if more else "") if truth[best] else "(none)"
            assert answers[(r, lay.run["output"])] == want, (t, answers[(r, lay.run["output"])], want)
        if t:
            assert values[(r, 2)] == word[t - 1]
    return worst


def libreoffice_values(path) -> dict:
    """Sheet ('Trace', 'Run') -> (row, column) -> value, as cached in a workbook (by LibreOffice, Gnumeric or
    the writer itself)."""
    wb = openpyxl.load_workbook(path, data_only=True)
    return {name: {(c.row, c.column): c.value for row in wb[name].iter_rows() for c in row}
            for name in ("Trace", "Run")}


def formulas_values(path) -> dict:
    """Sheet ('Trace', 'Run') -> (row, column) -> value computed in-process by the `formulas` package."""
    import formulas
    from openpyxl.utils.cell import coordinate_from_string, column_index_from_string

    solution = formulas.ExcelModel().loads(str(path)).finish().calculate()
    out: dict[str, dict] = {"Trace": {}, "Run": {}}
    for key, value in solution.items():
        sheet, _, ref = key.rpartition("!")
        name = next((n for n in out if sheet.upper().endswith(f"{n.upper()}'")), None)
        if name is None or ":" in ref:
            continue
        letters, row = coordinate_from_string(ref)
        v = value.value[0, 0] if hasattr(value, "value") else value
        out[name][(row, column_index_from_string(letters))] = None if v == "" else (v.item() if hasattr(v, "item")
                                                                                     else v)
    return out
