"""Compile + certify random DFAs of growing size over 4 symbols: time and peak memory, side by side.

Each size runs in a fresh process so that peak RSS belongs to that size alone; large models are compiled
sparse. The growth from one size to the next is printed beside that of a plainly linear numpy reference on 24
numbers per edge: on a machine whose caches hold the small sizes but not the large ones, linear work itself
grows by more than the size. Run: python bench/scale.py [--sizes 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's fsm_lstm


def one(states: int, symbols: int, seed: int) -> dict:
    import numpy as np

    from fsm_lstm.certify import certify
    from fsm_lstm.compiler import compile_grammar
    from fsm_lstm.generate import random_dfa

    g = random_dfa(np.random.default_rng(seed), states, symbols)
    t0, c0 = time.perf_counter(), time.process_time()
    model = compile_grammar(g)
    t1, c1 = time.perf_counter(), time.process_time()
    cert = certify(model)
    t2, c2 = time.perf_counter(), time.process_time()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    rss = cpu.ru_maxrss / 1024
    return {"states": states, "edges": len(model.units) - 1, "units": model.hidden_size,
            "reference_cpu": linear_reference(24 * (len(model.units) - 1)),
            "compile_s": t1 - t0, "certify_s": t2 - t1, "compile_cpu": c1 - c0, "certify_cpu": c2 - c1,
            "proven": cert.proven, "margin": cert.margin, "summary": cert.summary(),
            "cpu_s": cpu.ru_utime + cpu.ru_stime,
            "rss_mb": rss}


def linear_reference(n: int, rounds: int = 5) -> float:
    """CPU seconds of plainly linear numpy work on n numbers (a product, a sum and a sort of an eighth of them;
    about the number of certificate entries): how this machine's memory makes linear work grow with size."""
    import numpy as np

    a = np.random.default_rng(0).random(n)
    start = time.process_time()
    for _ in range(rounds):
        b = a * a + a
        np.sort(b[: n // 8])
    return (time.process_time() - start) / rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--symbols", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.symbols, args.seed)))
        return
    print(f"random DFAs over {args.symbols} symbols (minimised before compiling), seed {args.seed}")
    print("times are wall clock; CPU s (compile + certify, and the whole process with the DFA's generation) is what "
          "to compare on a shared machine")
    print(f"{'states':>7} {'edges':>7} {'units':>7} {'compile s':>10} {'certify s':>10} {'total s':>8} "
          f"{'CPU s':>13} {'process CPU':>11} {'peak RSS MB':>11}  proof")
    rows = []
    for n in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--symbols", str(args.symbols),
                              "--seed", str(args.seed)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout)
        total = r["compile_s"] + r["certify_s"]
        proof = f"proven (margin {r['margin']:.2f})" if r["proven"] else r["summary"][:150]
        cpu = f"{r['compile_cpu']:.2f} + {r['certify_cpu']:.2f}"
        print(f"{r['states']:>7} {r['edges']:>7} {r['units']:>7} {r['compile_s']:>10.3f} {r['certify_s']:>10.3f} "
              f"{total:>8.3f} {cpu:>13} {r['cpu_s']:>11.1f} {r['rss_mb']:>11.0f}  {proof}")
        rows.append((r["edges"], total, r["compile_cpu"] + r["certify_cpu"], r["rss_mb"], r["reference_cpu"]))
    print("growth from one size to the next (linear work grows with the edges; the reference is plainly linear numpy "
          "work on 24 numbers per edge, which shows what this machine's caches make of a tenfold size):")
    for (e0, t0, c0, m0, r0), (e1, t1, c1, m1, r1) in zip(rows, rows[1:]):
        print(f"  x{e1 / e0:.1f} edges: x{t1 / t0:.1f} time, x{c1 / c0:.1f} CPU, x{m1 / m0:.1f} peak RSS; "
              f"linear reference x{r1 / r0:.1f} CPU")


if __name__ == "__main__":
    main()
