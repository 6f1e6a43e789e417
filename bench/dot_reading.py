"""Why the DOT reader keeps a fast scanner beside pydot: both read the same AALpy Mealy file (the same raw graph,
as the tests check), and this measures how long each takes, and the whole load_grammar.
Run: python bench/dot_reading.py [--sizes 100 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's fsm_lstm


def median_seconds(task, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        task()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    from aalpy.utils import generate_random_mealy_machine, save_automaton_to_file

    from fsm_lstm.dot_reader import parse_dot, pydot_graph, scan_dot

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"AALpy random Mealy machines, 10 inputs, 5 outputs; median of {args.repeat} runs")
    print(f"{'states':>7} {'edges':>6} {'scanner s':>10} {'pydot s':>8} {'parse_dot s':>12}")
    for n in args.sizes:
        random.seed(0)
        machine = generate_random_mealy_machine(n, [f"i{k}" for k in range(10)], [f"o{k}" for k in range(5)],
                                                ensure_minimality=False)
        with contextlib.redirect_stdout(io.StringIO()):
            text = save_automaton_to_file(machine, file_type="string")
        assert scan_dot(text) == pydot_graph(text)
        print(f"{n:>7} {n * 10:>6} {median_seconds(lambda: scan_dot(text), args.repeat):>10.3f} "
              f"{median_seconds(lambda: pydot_graph(text), args.repeat):>8.3f} "
              f"{median_seconds(lambda: parse_dot(text), args.repeat):>12.3f}")


if __name__ == "__main__":
    main()
