"""Exhaustive verification: every string over Reber's 7 symbols up to a length, checked against the semantics on
the compiled Reber network, in bounded memory. Each row runs in a fresh process, so that its peak RSS is its own.

- the prefix trie walked depth first in blocks, merging bitwise identical hidden states (the default), and
  without merging, to length 8 (6.7 million prefixes);
- merged, to length 12 (16 billion strings): time, peak RSS and distinct states;
- sharded on a Dask LocalCluster of 1 and of 2 workers (cluster start-up excluded): the speed-up;
- with --baselines, also a per-string loop (extrapolated) and torch.nn.LSTM on every length-8 string.

Run: python bench/exhaustive.py [--baselines]
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's fsm_lstm


def one(max_len: int, merge: bool, workers: int) -> dict:
    from fsm_lstm.compiler import compile_grammar
    from fsm_lstm.grammar_files import load_grammar
    from fsm_lstm.queries import Network
    from fsm_lstm.reading import Reading
    from fsm_lstm.reference import reference_for
    from fsm_lstm.threads import blas_threads
    from fsm_lstm.trie import walk_trie

    grammar = load_grammar("reber")
    model = compile_grammar(grammar)
    ref = reference_for(model, grammar)
    if workers:
        import distributed

        from fsm_lstm.shard import sharded_walk

        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None,
                                      silence_logs=50) as cluster, distributed.Client(cluster) as client:
            client.run(lambda: None)  # workers up before the clock starts
            t0 = time.perf_counter()
            walk = sharded_walk(client, model, Reading(), ref, max_len, 2**30, merge)
            seconds = time.perf_counter() - t0
    else:
        with blas_threads(model):
            t0 = time.perf_counter()
            walk = walk_trie(Network(model, Reading()), ref, max_len, 2**30, merge)
            seconds = time.perf_counter() - t0
    assert walk.failure is None and walk.agreed == max_len
    return {"seconds": seconds, "run": walk.prefixes, "distinct": walk.distinct,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def fresh(max_len: int, merge: bool, workers: int = 0) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", json.dumps([max_len, merge, workers])],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def baselines(max_len: int, sample: int) -> list[tuple[str, float]]:
    """A per-string loop (extrapolated from ``sample`` strings) and torch.nn.LSTM on every string of the length."""
    from fsm_lstm.compiler import compile_grammar
    from fsm_lstm.grammar_files import load_grammar
    from fsm_lstm.queries import Network
    from fsm_lstm.reading import Reading
    from fsm_lstm.reference import reference_for
    from fsm_lstm.verify import check_word

    grammar = load_grammar("reber")
    model = compile_grammar(grammar)
    ref = reference_for(model, grammar)
    K, L = len(grammar.alphabet), max_len
    rows = []
    words = list(itertools.islice(itertools.product(grammar.alphabet, repeat=L), sample))
    t0 = time.perf_counter()
    for w in words:
        assert check_word(Network(model, Reading()), ref, w) is None
    rows.append((f"per-string loop (extrapolated from {len(words)})", (time.perf_counter() - t0) / len(words) * K ** L))
    import torch

    lstm = torch.nn.LSTM(K, model.hidden_size)
    lstm.load_state_dict({k: torch.from_numpy(v) for k, v in model.arrays().items() if "_l0" in k})
    head_w, head_b = torch.from_numpy(model.head_weight), torch.from_numpy(model.head_bias)
    grid = np.indices((K,) * L).reshape(L, -1)
    t0 = time.perf_counter()
    with torch.no_grad():
        for start in range(0, grid.shape[1], 500_000):
            chunk = torch.from_numpy(grid[:, start:start + 500_000])
            out, _ = lstm(torch.nn.functional.one_hot(chunk, K).float())
            decoded = (out @ head_w.T + head_b).numpy()[..., ref.columns] > 0
            s = np.full(chunk.shape[1], ref.start)
            for t in range(L):
                s = ref.table[s, grid[t, start:start + 500_000]]
                assert not (decoded[t] != ref.truth[s]).any()
    rows.append((f"torch.nn.LSTM, all {K ** L:,} strings of length {L}", time.perf_counter() - t0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baselines", action="store_true", help="also time a per-string loop and torch")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(*json.loads(args.one))))
        return
    print("compiled Reber (7 symbols), every string up to the length; fresh process per row")
    print(f"{'walk':<44} {'length':>6} {'seconds':>8} {'prefixes run':>13} {'distinct':>9} {'peak RSS MB':>11}")
    print("(peak RSS of the process that runs the walk; with Dask, of the client, the workers aside)")
    for label, L, merge, workers in (("merged (default)", 8, True, 0), ("not merged (--no-merge)", 8, False, 0),
                                     ("merged (default)", 12, True, 0),
                                     ("not merged, Dask LocalCluster, 1 worker", 8, False, 1),
                                     ("not merged, Dask LocalCluster, 2 workers", 8, False, 2)):
        r = fresh(L, merge, workers)
        print(f"{label:<44} {L:>6} {r['seconds']:>8.2f} {r['run']:>13,} {r['distinct']:>9,} {r['rss_mb']:>11.0f}")
    if args.baselines:
        for name, secs in baselines(8, 3000):
            print(f"{name:<60} {secs:8.2f} s")


if __name__ == "__main__":
    main()
