"""The region proof's verdict on saved trained networks (``bench/certify_trained.py --save DIR`` writes them as
GRAMMAR_CELL_plain.npz and GRAMMAR_CELL_certify.npz): "proven", "wrong" (a counterexample confirmed on the network,
with how it was found) or "not proven" (and what the search after the failed proof ran), and the proof's time.

``--drift N`` searches further where the verdict is "not proven" without a counterexample: every loop of up to 3
symbols (at most 64 loops) is run N symbols from the start, every prefix judged, then every word of up to 12
symbols (fewer for bigger alphabets: 4,096 words at most) after each loop's end; the first wrong word is printed.

Run: python bench/prove_saved.py DIR [--only tomita6_lstm_certify ...] [--drift 1000000]
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from pathlib import Path

import numpy as np

from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.model import load_model
from fsm_lstm.queries import Network
from fsm_lstm.reading import reading_of
from fsm_lstm.reference import reference_for
from fsm_lstm.region_proof import prove_regions


def verdict(proof) -> str:
    """One short phrase for the table."""
    if proof.proven:
        return f"proven ({proof.regions} regions)"
    failure = proof.failure
    if failure.counterexample is not None:
        prefix, loop, count, suffix = (" ".join(part) if isinstance(part, tuple) else part
                                       for part in failure.decomposition)
        how = f"{prefix!r} + {loop!r} x {count:,} + {suffix!r}" if loop and count else "enumerated"
        return f"wrong ({len(failure.counter_word)} symbols: {how})"
    if failure.confirmed:
        return f"wrong ({len(failure.word)} symbols, in the proof itself)"
    return f"not proven ({failure.kind}; searched {failure.searched})"


def drift_search(model, grammar, symbols: int) -> str:
    """Loops of up to 3 symbols run ``symbols`` symbols, then the words of up to 12 symbols after each (see the
    module's text), on the float32 runtime: the first wrong word found, or what was searched."""
    reading = reading_of(model)
    ref = reference_for(model, grammar, False, reading)
    net = Network(model, reading, np.float32)
    K = len(net.inner)
    loops = [w for n in (1, 2, 3) for w in itertools.product(range(K), repeat=n)][:64]
    text = lambda word: " ".join(net.inner[a] for a in word)  # noqa: E731
    wrong = lambda state, q: ((net.logits(state)[:, ref.columns] > 0) != ref.truth[q]).any(axis=1)  # noqa: E731
    state, q = net.initial(len(loops)), np.full(len(loops), ref.start)
    for t in range(symbols):
        a = np.array([loop[t % len(loop)] for loop in loops])
        state, q = net.step(state, a), ref.table[q, a]
        bad = np.flatnonzero(wrong(state, q))
        if len(bad):
            return f"wrong after {t + 1:,} symbols of the loop {text(loops[bad[0]])!r}"
    length = max(1, min(12, int(math.log(4096) / math.log(max(K, 2)))))
    words = np.indices((K,) * length).reshape(length, -1).T
    for b, loop in enumerate(loops):
        s, p = np.repeat(state[b:b + 1], len(words), axis=0), np.full(len(words), q[b])
        for t in range(length):
            s, p = net.step(s, words[:, t]), ref.table[p, words[:, t]]
            bad = np.flatnonzero(wrong(s, p))
            if len(bad):
                after = text(words[bad[0], :t + 1])
                return f"wrong after {symbols:,} symbols of the loop {text(loop)!r} then {after!r}"
    return f"right on {len(loops)} loops of {symbols:,} symbols, every prefix, and the words up to {length} after each"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dir", type=Path)
    parser.add_argument("--only", nargs="*", help="file stems to prove (default: every .npz)")
    parser.add_argument("--drift", type=int, default=0, metavar="N",
                        help="after a proof that fails with no counterexample, run loops N symbols long")
    args = parser.parse_args()
    for path in sorted(args.dir.glob("*.npz")):
        if args.only and path.stem not in args.only:
            continue
        model = load_model(path)
        grammar = load_grammar(path.stem.split("_")[0])
        t0 = time.perf_counter()
        proof = prove_regions(model, grammar)
        print(f"{path.stem:24} {time.perf_counter() - t0:6.2f} s  {verdict(proof)}", flush=True)
        if args.drift and not proof.proven and not proof.failure.confirmed:
            print(f"{'':24} drift: {drift_search(model, grammar, args.drift)}", flush=True)


if __name__ == "__main__":
    main()
