"""The Reber workbook at 100 and 1,000 steps: file size, write time, and recalculation time in LibreOffice
(headless) and in Gnumeric (ssconvert --recalc). Each time is the median of --repeats runs; a recalculation
time is one program start plus loading, recalculating every formula and saving as .xlsx.
Targets: LibreOffice under 2 s at 100 steps and under 6 s at 1,000 steps; files under 2 MB. The first row,
a one-cell workbook, gives each program's start-up, load and save alone.
Run: python bench/workbook.py [--steps 100 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import xlsxwriter

from fsm_lstm.compiler import compile_grammar
from fsm_lstm.gnumeric import recalculate_gnumeric
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.libreoffice import recalculate
from fsm_lstm.sheets import write_workbook


def median_seconds(job: Callable[[int], object], repeats: int) -> float:
    times = []
    for k in range(repeats):
        t0 = time.perf_counter()
        job(k)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model = compile_grammar(load_grammar("reber"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.xlsx"  # the programs' own start-up, load and save, for scale
        book = xlsxwriter.Workbook(str(empty))
        book.add_worksheet().write_number(0, 0, 1)
        book.close()
        rows.append(("empty", os.path.getsize(empty), 0.0,
                     median_seconds(lambda k: recalculate([empty], Path(tmp) / f"lo-empty{k}"), args.repeats),
                     median_seconds(lambda k: recalculate_gnumeric([empty], Path(tmp) / f"gn-empty{k}"), args.repeats)))
        for steps in args.steps:
            word = "BT" + "S" * (steps - 5) + "XSE"
            path = Path(tmp) / f"reber-{steps}.xlsx"
            write_s = median_seconds(lambda k: write_workbook(model, path, word, steps=steps), args.repeats)
            lo_s = median_seconds(lambda k: recalculate([path], Path(tmp) / f"lo{k}"), args.repeats)
            gn_s = median_seconds(lambda k: recalculate_gnumeric([path], Path(tmp) / f"gn{k}"), args.repeats)
            rows.append((steps, os.path.getsize(path), write_s, lo_s, gn_s))
    print(f"Reber workbook ({model.hidden_size} units, {len(model.heads)} heads), input BT S...S XSE; "
          f"median of {args.repeats}")
    print(f"{'steps':>6} {'file MB':>8} {'write s':>8} {'LibreOffice s':>14} {'Gnumeric s':>11}")
    for steps, size, write_s, lo_s, gn_s in rows:
        print(f"{steps:>6} {size / 2**20:8.2f} {write_s:8.2f} {lo_s:14.2f} {gn_s:11.2f}")


if __name__ == "__main__":
    main()
