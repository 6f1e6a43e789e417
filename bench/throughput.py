"""Throughput of the compiled Reber network: fsm-lstm's numpy runtime against torch.nn.LSTM, same weights.

Batch 2000 x 500 steps, float32, heads included on both sides; torch with its default threads and with one,
the ratios taken against the faster. Each round runs every runtime once, in turn, so that they share the
machine's load; the figures are the best of several rounds, and the float32 ratio is also given round by round.
The 1-minute load average before and after is printed (other jobs on the cores slow torch's threads most).
Run: python bench/throughput.py
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


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def rounds(runners: dict[str, object], repeats: int) -> dict[str, list[float]]:
    """Seconds of each runner in each round; every round runs each runner once, in turn, so that the runners
    share the machine's load (other jobs come and go on a shared machine)."""
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, fn in runners.items():
            times[name].append(timed(fn))
    return times


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
    runners = {f"fsm-lstm numpy {np.dtype(dtype).name}": (lambda dtype=dtype: run(model, strings, dtype=dtype))
               for dtype in (np.float32, np.float64)}
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        lstm = torch.nn.LSTM(len(g.alphabet), model.hidden_size)
        lstm.load_state_dict({k: torch.from_numpy(v) for k, v in model.arrays().items() if "_l0" in k})
        head_w, head_b = torch.from_numpy(model.head_weight), torch.from_numpy(model.head_bias)
        x = torch.nn.functional.one_hot(torch.from_numpy(strings.T), len(g.alphabet)).float()
        default_threads = torch.get_num_threads()

        def torch_run(threads: int) -> None:
            torch.set_num_threads(threads)
            with torch.no_grad():
                out, _ = lstm(x)
                (out @ head_w.T + head_b).numpy()
            torch.set_num_threads(default_threads)

        runners[f"torch.nn.LSTM cpu float32 ({default_threads} threads)"] = lambda: torch_run(default_threads)
        runners["torch.nn.LSTM cpu float32 (1 thread)"] = lambda: torch_run(1)
        with torch.no_grad():
            out, _ = lstm(x)
            same = np.array_equal((out @ head_w.T + head_b).numpy() > 0, run(model, strings).decoded()[1:])
    times = rounds(runners, args.repeats)
    print(f"compiled Reber ({model.hidden_size} units), batch {args.batch} x {args.steps} steps, "
          f"best of {args.repeats} "
          f"interleaved rounds; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
          f"({os.cpu_count()} cores)")
    print(f"{'runtime':<44} {'seconds':>8} {'Msymbols/s':>11} {'vs torch':>9}")
    best = {name: min(t) for name, t in times.items()}
    names = list(runners)
    if torch is not None:  # the faster torch last: the ratios' base
        names = names[:2] + sorted(names[2:], key=lambda name: -best[name])
    base = best[names[-1]] if torch is not None else None
    for name in names:
        ratio = f"{base / best[name]:8.2f}x" if base else "      n/a"
        print(f"{name:<44} {best[name]:8.3f} {symbols / best[name] / 1e6:11.2f} {ratio}")
    if torch is not None:
        torches = [times[name] for name in names[2:]]
        per_round = [min(round_times) / ours for ours, *round_times in zip(times["fsm-lstm numpy float32"], *torches)]
        print(f"float32 against the faster torch, round by round: median {np.median(per_round):.2f}x "
              f"(min {min(per_round):.2f}x, max {max(per_round):.2f}x)")
        print(f"decoded heads identical to torch: {same}")


if __name__ == "__main__":
    main()
