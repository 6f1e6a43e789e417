"""Exhaustive verification throughput: every string over Reber's 7 symbols up to length 8 (6.7 million
prefixes), checked against the semantics. Side by side: fsm-lstm's prefix trie (one batched step per level),
a per-string loop (extrapolated from a sample), and torch.nn.LSTM on every length-8 string in one batch
(all prefixes come out of its sequence output). Run: python bench/exhaustive.py
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from fsm_lstm.queries import Network
from fsm_lstm.reading import Reading
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.reference import reference_for
from fsm_lstm.verify import check_word, exhaustive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-len", type=int, default=8)
    parser.add_argument("--sample", type=int, default=3000, help="strings timed in the per-string loop")
    args = parser.parse_args()
    grammar = load_grammar("reber")
    model = compile_grammar(grammar)
    ref = reference_for(model, grammar)
    K, L = len(grammar.alphabet), args.max_len
    prefixes = sum(K ** k for k in range(L + 1))
    rows = []

    t0 = time.perf_counter()
    found, run_prefixes, depth = exhaustive(Network(model, Reading()), ref, L)
    trie = time.perf_counter() - t0
    assert found is None and run_prefixes == prefixes and depth == L
    rows.append(("fsm-lstm prefix trie (numpy float32)", trie, prefixes))

    words = list(itertools.islice(itertools.product(grammar.alphabet, repeat=L), args.sample))
    t0 = time.perf_counter()
    for w in words:
        assert check_word(Network(model, Reading()), ref, w) is None
    per_string = (time.perf_counter() - t0) / len(words) * K ** L
    rows.append((f"per-string loop (extrapolated from {len(words)})", per_string, prefixes))

    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        lstm = torch.nn.LSTM(K, model.hidden_size)
        lstm.load_state_dict({k: torch.from_numpy(v) for k, v in model.arrays().items() if "_l0" in k})
        head_w, head_b = torch.from_numpy(model.head_weight), torch.from_numpy(model.head_bias)
        grid = np.indices((K,) * L).reshape(L, -1)  # every string of length L, one per column
        t0 = time.perf_counter()
        with torch.no_grad():
            bad = 0
            for start in range(0, grid.shape[1], 500_000):
                chunk = torch.from_numpy(grid[:, start:start + 500_000])
                out, _ = lstm(torch.nn.functional.one_hot(chunk, K).float())
                decoded = (out @ head_w.T + head_b).numpy()[..., ref.columns] > 0
                states = np.empty(chunk.shape, dtype=np.int64)
                s = np.full(chunk.shape[1], ref.start)
                for t in range(L):
                    s = ref.table[s, grid[t, start:start + 500_000]]
                    states[t] = s
                bad += int((decoded != ref.truth[states]).any())
        rows.append((f"torch.nn.LSTM, all {K ** L:,} strings of length {L} ({torch.get_num_threads()} threads)",
                     time.perf_counter() - t0, K ** L * L))
        assert bad == 0
    print(f"every string over Reber's {K} symbols up to length {L}: {prefixes:,} prefixes")
    print(f"{'method':<58} {'seconds':>8} {'M prefixes/s':>13} {'vs trie':>8}")
    for name, secs, work in rows:
        print(f"{name:<58} {secs:8.2f} {prefixes / secs / 1e6:13.2f} {secs / trie:7.1f}x")


if __name__ == "__main__":
    main()
