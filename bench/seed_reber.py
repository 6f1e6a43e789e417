"""The hand-derived Reber network of seed 000, replicated in numpy from the formulas in its text, against
fsm-lstm's compiled and certified network: the share of random Reber strings on which each predicts a wrong
next-symbol set at some prefix, and the first loop count at which each breaks. Run: python bench/seed_reber.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's fsm_lstm

from fsm_lstm.compiler import compile_grammar
from fsm_lstm.generate import walks
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.runtime import run
from fsm_lstm.semantics import Semantics

SEED_ORDER = "BTSXPVE"  # the seed's one-hot order


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def seed_predictions(word: str) -> list[set[str]]:
    """Predicted next-symbol sets after each prefix of ``word`` (which starts with B), by the seed's rules."""
    m = np.zeros(6)
    out = []
    for ch in word:
        x = {a: float(ch == a) for a in SEED_ORDER}
        B, T, S, X, P, V = (x[a] for a in "BTSXPV")
        eraser = np.array([0, sigmoid(10 * (0.5 - X)), sigmoid(30 * (0.65 - m[2])), sigmoid(10 * (0.5 - P)),
                           sigmoid(10 * (0.6 - m[4])), sigmoid(10 * (0.5 - S - V))])
        writer = np.array([np.tanh(5 * B), np.tanh(5 * T), np.tanh(0.55 * (T + X + P)), np.tanh(3 * S + 0.55 * V),
                           np.tanh(5 * V), np.tanh(0.55 * B + 0.7 * P + 5 * X)])
        filt = np.array([1, sigmoid(30 * (0.75 - m[5])), sigmoid(30 * (0.65 - m[5])), sigmoid(10 * (0.7 - m[1])),
                         sigmoid(10 * (0.6 - m[4])), sigmoid(30 * (0.65 - m[1]))])
        m = m * eraser + writer * filt
        reader = {"B": -1.0, "T": np.tanh(5 * (m[0] + m[5] - 0.7)), "S": np.tanh(5 * (m[1] + m[2] - 0.7)),
                  "X": np.tanh(5 * (m[1] + m[2] - 0.7)), "P": np.tanh(5 * (m[0] + m[4] - 0.7)),
                  "V": np.tanh(5 * (m[4] + m[5] - 0.7)), "E": np.tanh(5 * (m[3] - 0.7))}
        out.append({a for a, v in reader.items() if v > 0})
    return out


def truth(sem: Semantics, word: str) -> list[set[str]]:
    """The legal next symbols after each prefix that ends before the final symbol (the seed's task stops
    at E, so nothing is asked after it)."""
    g = sem.grammar
    legal = sem.next(sem.states(np.array([[g.symbol_index[a] for a in word]])))[1:-1, 0]
    return [{a for a, ok in zip(g.alphabet, row) if ok} for row in legal]


def wrong(predictions: list[set[str]], sem: Semantics, word: str) -> bool:
    return predictions[: len(word) - 1] != truth(sem, word)


def first_break(predict, sem: Semantics, make, limit: int = 300) -> int | None:
    for k in range(1, limit + 1):
        word = make(k)
        if wrong(predict(word), sem, word):
            return k
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strings", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    g = load_grammar("reber")
    sem = Semantics(g)
    model = compile_grammar(g)
    nxt = [k for k, h in enumerate(model.heads) if h.startswith("next:")]

    def ours(word: str) -> list[set[str]]:
        decoded = run(model, np.array([[g.alphabet.index(a) for a in word]])).decoded()[1:, 0]
        return [{model.heads[k][5:] for k in nxt if row[k]} for row in decoded]

    # random Reber strings: walks from the start that end in the accepting state
    rng = np.random.default_rng(args.seed)
    words = []
    while len(words) < args.strings:
        for row in walks(g, rng, 2000, 60):
            w = "".join(g.alphabet[i] for i in row)
            if "E" in w:
                words.append(w[: w.index("E") + 1])
    words = words[: args.strings]
    seed_wrong = sum(wrong(seed_predictions(w), sem, w) for w in words)
    our_wrong = sum(wrong(ours(w), sem, w) for w in words)
    loops = {"S loop: BT S^k XSE": lambda k: "BT" + "S" * k + "XSE",
             "T loop: BP T^k VVE": lambda k: "BP" + "T" * k + "VVE"}
    print(f"{len(words):,} random Reber strings (seed {args.seed}); a string counts as wrong if the predicted "
          "next-symbol set is wrong after any of its symbols but the final E")
    print(f"{'network':<36} {'wrong strings':>14} " + " ".join(f"{name + ' breaks at k':>28}" for name in loops))
    for name, predict, count in (("seed 000, hand-derived (replica)", seed_predictions, seed_wrong),
                                 ("fsm-lstm compiled + certified", ours, our_wrong)):
        breaks = [first_break(predict, sem, make) for make in loops.values()]
        shown = " ".join(f"{('never (k <= 300)' if b is None else str(b)):>28}" for b in breaks)
        print(f"{name:<36} {count / len(words):>13.2%} {shown}")


if __name__ == "__main__":
    main()
