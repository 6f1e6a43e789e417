"""The region proof's verdict on saved trained networks (``bench/certify_trained.py --save DIR`` writes them as
GRAMMAR_CELL_plain.npz and GRAMMAR_CELL_certify.npz): "proven", "wrong" (a counterexample confirmed on the network,
with how it was found) or "not proven" (and what the search after the failed proof ran), and the proof's time.

Run: python bench/prove_saved.py DIR [--only tomita6_lstm_certify ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.model import load_model
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dir", type=Path)
    parser.add_argument("--only", nargs="*", help="file stems to prove (default: every .npz)")
    args = parser.parse_args()
    for path in sorted(args.dir.glob("*.npz")):
        if args.only and path.stem not in args.only:
            continue
        model = load_model(path)
        grammar = load_grammar(path.stem.split("_")[0])
        t0 = time.perf_counter()
        proof = prove_regions(model, grammar)
        print(f"{path.stem:24} {time.perf_counter() - t0:6.2f} s  {verdict(proof)}", flush=True)


if __name__ == "__main__":
    main()
