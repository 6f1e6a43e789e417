"""The Reber workbook at 100 and 1,000 steps: file size, write time, and recalculation time in LibreOffice
(headless) and in Gnumeric (ssconvert --recalc). Each time is the median of --repeats runs; a recalculation
time is one program start plus loading, recalculating every formula and saving as .xlsx.
Targets: LibreOffice under 2 s at 100 steps and under 6 s at 1,000 steps; files under 2 MB. The first row,
a one-cell workbook, gives each program's start-up, load and save alone.
With --automaton-states N ..., also the same workbooks with a ring automaton of N states beside the network
(every symbol moves one state on; the automaton's columns look each state up over the whole table), timed in
LibreOffice only. Target: 1,000 steps with 1,000 states under 10 s.
Run: python bench/workbook.py [--steps 100 1000] [--repeats 3] [--automaton-states 10 100 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import xlsxwriter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's fsm_lstm

from fsm_lstm.compiler import compile_grammar
from fsm_lstm.gnumeric import recalculate_gnumeric
from fsm_lstm.grammar import Grammar
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
    parser.add_argument("--automaton-states", type=int, nargs="*", default=[])
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
    if args.automaton_states:
        automaton_rows(model, args)


def ring(model, n: int) -> Grammar:
    """A ring of ``n`` states over the model's alphabet: every symbol moves one state on; q0 accepts."""
    states = tuple(f"q{k}" for k in range(n))
    return Grammar(name=f"ring{n}", start="q0", accept=frozenset(["q0"]), alphabet=model.alphabet, states=states,
                   transitions=tuple((states[k], a, states[(k + 1) % n]) for k in range(n) for a in model.alphabet))


def automaton_rows(model, args) -> None:
    print(f"with a ring automaton beside the network; LibreOffice recalculation, median of {args.repeats}")
    print(f"{'steps':>6} {'states':>7} {'file MB':>8} {'write s':>8} {'LibreOffice s':>14}")
    with tempfile.TemporaryDirectory() as tmp:
        for steps in args.steps:
            word = "BT" + "S" * (steps - 5) + "XSE"
            for n in args.automaton_states:
                path = Path(tmp) / f"ring-{steps}-{n}.xlsx"
                write_s = median_seconds(lambda k: write_workbook(model, path, word, steps=steps,
                                                                  automaton=ring(model, n)), args.repeats)
                lo_s = median_seconds(lambda k: recalculate([path], Path(tmp) / f"lo{k}"), args.repeats)
                print(f"{steps:>6} {n:>7} {os.path.getsize(path) / 2**20:8.2f} {write_s:8.2f} {lo_s:14.2f}")


if __name__ == "__main__":
    main()
