"""Compile + certify random Mealy machines (AALpy's generate_random_mealy_machine) of 10, 100 and 1,000 states
over 10 inputs and 5 outputs: time and peak memory. The target of issue 13: 1,000 states in under 10 s.

Each size runs in a fresh process, so that its peak RSS is its own; the DOT file AALpy writes is loaded as a
user would load it. A size the dense weights cannot hold (weight_hh is 4H x H float32, H = edges + 1) is
reported as refused, with the reason; ``--max-array N`` raises FSM_LSTM_MAX_ARRAY for the run.
Run: python bench/mealy.py [--sizes 10 100 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's fsm_lstm


def one(states: int, inputs: int, outputs: int, seed: int) -> dict:
    from aalpy.utils import generate_random_mealy_machine, save_automaton_to_file

    from fsm_lstm.certify import certify
    from fsm_lstm.compiler import compile_grammar
    from fsm_lstm.errors import UserError
    from fsm_lstm.grammar_files import load_grammar

    random.seed(seed)
    machine = generate_random_mealy_machine(states, [f"i{k}" for k in range(inputs)],
                                            [f"o{k}" for k in range(outputs)], ensure_minimality=False)
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()):
        save_automaton_to_file(machine, str(Path(folder) / "m"), "dot")
        t0 = time.perf_counter()
        g = load_grammar(Path(folder) / "m.dot")
        t1 = time.perf_counter()
    out = {"states": states, "edges": len(g.transitions), "load_s": t1 - t0}
    tracemalloc.start()
    try:
        t1 = time.perf_counter()
        model = compile_grammar(g)
        t2 = time.perf_counter()
        cert = certify(model)
        t3 = time.perf_counter()
    except UserError as exc:
        tracemalloc.stop()
        return {**out, "refused": str(exc)}
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {**out, "units": model.hidden_size, "compile_s": t2 - t1, "certify_s": t3 - t2, "proven": cert.proven,
            "margin": cert.margin, "configurations": cert.configurations, "traced_mb": traced / 2**20,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--inputs", type=int, default=10)
    parser.add_argument("--outputs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the median is shown (default 3)")
    parser.add_argument("--max-array", type=int, help="FSM_LSTM_MAX_ARRAY for the runs (default: the library's)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.inputs, args.outputs, args.seed)))
        return
    root = str(Path(__file__).resolve().parent.parent)  # this checkout's fsm_lstm, not an installed one
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
               **({"FSM_LSTM_MAX_ARRAY": str(args.max_array)} if args.max_array else {}))
    print(f"random Mealy machines (AALpy), {args.inputs} inputs, {args.outputs} outputs, seed {args.seed}; "
          f"median of {args.repeat} runs, each in a fresh process")
    print(f"{'states':>7} {'edges':>6} {'units':>6} {'load s':>7} {'compile s':>10} {'certify s':>10} "
          f"{'total s':>8} {'peak MB':>8} {'RSS MB':>7}  proof")
    for n in args.sizes:
        runs = []
        for _ in range(args.repeat):
            done = subprocess.run([sys.executable, __file__, "--one", str(n), "--inputs", str(args.inputs),
                                   "--outputs", str(args.outputs), "--seed", str(args.seed)],
                                  capture_output=True, text=True, check=True, env=env)
            runs.append(json.loads(done.stdout))
        r = runs[0]
        if "refused" in r:
            print(f"{n:>7} {r['edges']:>6} {'-':>6} {statistics.median(x['load_s'] for x in runs):>7.2f}  "
                  f"refused: {r['refused']}")
            continue
        med = {k: statistics.median(x[k] for x in runs) for k in ("load_s", "compile_s", "certify_s", "traced_mb",
                                                                   "rss_mb")}
        total = statistics.median(x["compile_s"] + x["certify_s"] for x in runs)
        print(f"{n:>7} {r['edges']:>6} {r['units']:>6} {med['load_s']:>7.2f} {med['compile_s']:>10.3f} "
              f"{med['certify_s']:>10.3f} {total:>8.3f} {med['traced_mb']:>8.1f} {med['rss_mb']:>7.0f}  "
              f"{'proven' if all(x['proven'] for x in runs) else 'NOT PROVEN'} (margin {r['margin']:.2f}, "
              f"{r['configurations']:,} configurations)")


if __name__ == "__main__":
    main()
