"""``extract --method cluster`` on a large compiled network: a random 310-state DFA over 3 symbols
(``fsm_lstm.generate.random_dfa``, seed 0; 291 states once minimised), compiled to an LSTM of 874 units, which
keeps one hidden state per edge into a DFA state. Reports whether the DFA is recovered, the states, the
fidelity and the seconds (sampling for the fidelity included).

Run: python bench/cluster_compiled.py [--states N] [--symbols K] [--seed S]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's fsm_lstm
from fsm_lstm.automata import equivalent, minimise  # noqa: E402
from fsm_lstm.compiler import compile_grammar  # noqa: E402
from fsm_lstm.extract import extract  # noqa: E402
from fsm_lstm.generate import random_dfa  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--states", type=int, default=310)
    parser.add_argument("--symbols", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    g = random_dfa(np.random.default_rng(args.seed), args.states, args.symbols)
    model = compile_grammar(g)
    t0 = time.perf_counter()
    result = extract(model, method="cluster")
    seconds = time.perf_counter() - t0
    print(f"DFA: {args.states} states ({len(minimise(g).states)} minimal), {args.symbols} symbols; network: "
          f"{model.layers[0].hidden_size} units")
    print(f"cluster: {result.states} states, recovered: {'yes' if equivalent(result.grammar, g) else 'no'}, "
          f"fidelity {result.fidelity:.2%} on {result.held_out} words, {seconds:.1f} s, stopped: {result.stopped}")


if __name__ == "__main__":
    main()
