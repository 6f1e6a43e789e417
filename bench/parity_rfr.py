"""Seed 002's research question (OpenAI's parity warm-up): train an LSTM on 100,000 random bit strings of
length 50, and separately on lengths drawn from 1-50, supervising only the answer at the end of each string.
Report test accuracy on lengths up to 200, and whether the extracted automaton is the 2-state parity machine.
Run: python bench/parity_rfr.py [--samples 100000] [--epochs 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's fsm_lstm

from fsm_lstm.automata import equivalent
from fsm_lstm.extract import extract
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.runtime import run
from fsm_lstm.train import TrainConfig, train


def accuracy_by_length(model, rng: np.random.Generator, lengths: range, per_length: int = 200) -> float:
    """Share of random strings whose final accept head equals the parity, over the given lengths."""
    right = total = 0
    for n in lengths:
        strings = rng.integers(0, 2, size=(per_length, n))
        decided = run(model, strings).decoded()[-1, :, model.heads.index("accept")]
        right += int((decided == (strings.sum(axis=1) % 2 == 1)).sum())
        total += per_length
    return right / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    parity = load_grammar("parity")
    print(f"parity, {args.samples:,} training strings, {args.hidden}-unit LSTM, at most {args.epochs} epochs, "
          f"loss on the final answer only, seed {args.seed}")
    print(f"{'training lengths':<18} {'epochs':>6} {'train s':>8} {'acc 1-50':>9} {'acc 51-100':>11} "
          f"{'acc 101-200':>12}  extracted automaton")
    for label, lengths in (("fixed 50", (50, 50)), ("random 1-50", (1, 50))):
        config = TrainConfig(task="accept", hidden=args.hidden, samples=args.samples, epochs=args.epochs,
                             lengths=lengths, seed=args.seed, leave=0.5, batch=200, heldout=1000,
                             final_only=True, learning_rate=0.005)
        t0 = time.perf_counter()
        model, result = train(parity, config)
        seconds = time.perf_counter() - t0
        rng = np.random.default_rng(args.seed + 1)
        accs = [accuracy_by_length(model, rng, r) for r in (range(1, 51), range(51, 101), range(101, 201, 5))]
        extracted = extract(model, "cluster").grammar
        same = equivalent(extracted, parity) and len(extracted.states) == 2
        verdict = "the 2-state parity automaton" if same else f"{len(extracted.states)} states, not parity"
        print(f"{label:<18} {result.epochs:>6} {seconds:>8.1f} {accs[0]:>9.1%} {accs[1]:>11.1%} {accs[2]:>12.1%}"
              f"  {verdict}")


if __name__ == "__main__":
    main()
