"""The Reber workbook at 100 and 1,000 steps: file size, LibreOffice headless recalculation time, and in-process
evaluation time with the `formulas` package, side by side. Run: python bench/workbook.py [--skip-formulas-above N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from fsm_lstm.compiler import compile_grammar
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.libreoffice import recalculate
from fsm_lstm.sheets import write_workbook


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--skip-formulas-above", type=int, default=10_000,
                        help="leave out the formulas package above this many steps (it is slow)")
    args = parser.parse_args()
    model = compile_grammar(load_grammar("reber"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for steps in args.steps:
            word = "BT" + "S" * (steps - 5) + "XSE"
            path = Path(tmp) / f"reber-{steps}.xlsx"
            t0 = time.perf_counter()
            write_workbook(model, path, word, steps=steps)
            write_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            recalculate([path], Path(tmp) / "out")
            lo_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            recalculate([path], Path(tmp) / "out2")
            lo_s = min(lo_s, time.perf_counter() - t0)
            formulas_s = None
            if steps <= args.skip_formulas_above:
                import formulas
                t0 = time.perf_counter()
                formulas.ExcelModel().loads(str(path)).finish().calculate()
                formulas_s = time.perf_counter() - t0
            rows.append((steps, os.path.getsize(path), write_s, lo_s, formulas_s))
    print(f"Reber workbook ({model.hidden_size} units, {len(model.heads)} heads), input BT S...S XSE")
    print(f"{'steps':>6} {'file MB':>8} {'write s':>8} {'LibreOffice s':>14} {'formulas s':>11}")
    for steps, size, write_s, lo_s, formulas_s in rows:
        f = f"{formulas_s:11.1f}" if formulas_s is not None else "    skipped"
        print(f"{steps:>6} {size / 2**20:8.2f} {write_s:8.2f} {lo_s:14.2f} {f}")
    print("LibreOffice time is one headless start plus load, recalculation and save (best of two).")


if __name__ == "__main__":
    main()
