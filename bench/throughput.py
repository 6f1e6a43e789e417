"""Throughput of the compiled Reber network: fsm-lstm's numpy runtime against torch.nn.LSTM, same weights.

Batch 2000 x 500 steps, float32, heads included on both sides; best of several runs; torch with its default
threads and with one, the ratios taken against the faster; the 1-minute load average before and after (other
jobs on the cores slow torch's threads most). Run: python bench/throughput.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's fsm_lstm

from fsm_lstm.compiler import compile_grammar
from fsm_lstm.generate import walks
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.runtime import run


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    g = load_grammar("reber")
    model = compile_grammar(g)
    strings = walks(g, np.random.default_rng(0), args.batch, args.steps, leave=0.01)
    symbols = args.batch * args.steps
    rows = []
    for dtype in (np.float32, np.float64):
        secs = best_of(lambda: run(model, strings, dtype=dtype), args.repeats)
        rows.append((f"fsm-lstm numpy {np.dtype(dtype).name}", secs))
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        lstm = torch.nn.LSTM(len(g.alphabet), model.hidden_size)
        lstm.load_state_dict({k: torch.from_numpy(v) for k, v in model.arrays().items() if "_l0" in k})
        head_w, head_b = torch.from_numpy(model.head_weight), torch.from_numpy(model.head_bias)
        x = torch.nn.functional.one_hot(torch.from_numpy(strings.T), len(g.alphabet)).float()

        def torch_run() -> None:
            with torch.no_grad():
                out, _ = lstm(x)
                (out @ head_w.T + head_b).numpy()

        threads = torch.get_num_threads()
        torch_rows = [(f"torch.nn.LSTM cpu float32 ({threads} threads)", best_of(torch_run, args.repeats))]
        torch.set_num_threads(1)
        torch_rows.append(("torch.nn.LSTM cpu float32 (1 thread)", best_of(torch_run, args.repeats)))
        torch.set_num_threads(threads)
        rows.extend(sorted(torch_rows, key=lambda row: -row[1]))  # the faster torch last: the ratios' base
        with torch.no_grad():
            out, _ = lstm(x)
            same = np.array_equal((out @ head_w.T + head_b).numpy() > 0, run(model, strings).decoded()[1:])
    print(f"compiled Reber ({model.hidden_size} units), batch {args.batch} x {args.steps} steps, best of {args.repeats}; "
          f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after ({os.cpu_count()} cores)")
    print(f"{'runtime':<44} {'seconds':>8} {'Msymbols/s':>11} {'vs torch':>9}")
    base = rows[-1][1] if torch is not None else None
    for name, secs in rows:
        ratio = f"{base / secs:8.2f}x" if base else "      n/a"
        print(f"{name:<44} {secs:8.3f} {symbols / secs / 1e6:11.2f} {ratio}")
    if torch is not None:
        print(f"decoded heads identical to torch: {same}")


if __name__ == "__main__":
    main()
