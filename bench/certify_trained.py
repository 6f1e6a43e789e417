"""Region proofs of trained networks: for each grammar x cell, does plain training give a network the region proof
certifies, does ``train --certify`` give one, how long the proof takes (median of 3) and how many regions it uses.
A failure is "wrong at N sym" when pumping the failing word found a counterexample confirmed on the network, else
"coarse" (no counterexample found: the regions may only be too coarse).
Every network is trained for the accept head. Every proven network is also cross-checked on the network itself:
every string up to length 18 (6 for reber's 7 symbols) and 300 pumped strings of 2,000 symbols must agree with the
grammar (a disagreement is a false proof and is counted).

Run: python bench/certify_trained.py [--grammars tomita1 parity ...] [--cells lstm gru rnn] [--hidden 8]
     [--epochs 50] [--samples 1500] [--seed 0] [--restarts 3] [--budget SECONDS]
     [--large [64 ...]] [--save DIR] [--no-plain]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from fsm_lstm.certified_training import CertifyConfig, train_certified
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.model import save_model
from fsm_lstm.region_proof import prove_regions
from fsm_lstm.runtime import run
from fsm_lstm.semantics import Semantics
from fsm_lstm.train import TrainConfig, train

GRAMMARS = ("tomita1", "tomita2", "tomita3", "tomita4", "tomita5", "tomita6", "tomita7", "parity", "reber")


def timed_proof(model, grammar, repeats: int = 3):
    """The proof and the median of ``repeats`` timings."""
    times, proof = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        proof = prove_regions(model, grammar)
        times.append(time.perf_counter() - t0)
    return proof, statistics.median(times)


def every_string(K: int, budget: int = 300_000, longest: int = 18) -> np.ndarray:
    """Every string of the longest length L <= ``longest`` with K**L <= ``budget`` (its prefixes are every
    shorter string), as a (K**L, L) array."""
    length = max(1, min(longest, int(np.log(budget) / np.log(max(K, 2)))))
    return np.indices((K,) * length).reshape(length, -1).T.copy()


def disagrees(model, grammar, strings: np.ndarray) -> bool:
    """Does any head of the network differ from the grammar's own answer on any prefix of ``strings``?"""
    expected = Semantics(grammar).expected_heads(model.heads, strings)
    return bool(((run(model, strings).heads > 0) != expected).any())


def false_proof(model, grammar, seed: int = 0) -> bool:
    """Does anything contradict the proof: every string up to the length ``every_string`` allows (18 for two
    symbols), or pumped strings of 2,000 symbols? The network is run directly, never through ``verify`` (which
    would take the region proof's word for it)."""
    if disagrees(model, grammar, every_string(len(grammar.alphabet))):
        return True
    rng = np.random.default_rng(seed)
    K = len(grammar.alphabet)
    strings = rng.integers(0, K, size=(300, 2000))
    for b in range(200):
        loop = rng.integers(0, K, size=rng.integers(1, 6))
        prefix = rng.integers(0, K, size=rng.integers(0, 6))
        strings[b] = np.concatenate([prefix, np.tile(loop, 2000)])[:2000]
    return disagrees(model, grammar, strings)


def certify_config(cell: str, restarts: int | None, budget: float | None) -> CertifyConfig:
    """``fsm-lstm train --certify``'s configuration for ``cell`` with its ``--restarts`` and ``--budget``."""
    config = CertifyConfig.for_cell(cell)
    return replace(config, restarts=config.restarts if restarts is None else restarts, budget=budget)


def why(proof) -> str:
    """Why a proof failed: the network is wrong (a confirmed counterexample of N symbols), or the regions are
    too coarse (head, escape or budget; no counterexample found by pumping)."""
    failure = proof.failure
    if failure.confirmed:
        return f"wrong at {len(failure.counter_word or failure.word)} sym"
    return f"coarse {failure.kind}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grammars", nargs="+", default=list(GRAMMARS))
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru", "rnn"])
    parser.add_argument("--hidden", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--samples", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--restarts", type=int, help="as train --certify --restarts: fresh seeds SEED+1, ... after "
                        "an unproven attempt (default: train's, 3); the table says the seed and the attempts made")
    parser.add_argument("--budget", type=float, metavar="SECONDS", help="as train --certify --budget, per row")
    parser.add_argument("--no-plain", action="store_true", help="train --certify networks only (the plain column "
                        "says 'skipped')")
    parser.add_argument("--large", type=int, nargs="*", metavar="HIDDEN",
                        help="add timing rows for parity at these hidden sizes (--large alone: 64)")
    parser.add_argument("--save", metavar="DIR", help="write every trained network there (NAME_CELL_plain.npz, "
                        "NAME_CELL_certify.npz), to prove them again later")
    args = parser.parse_args()
    large = [] if args.large is None else args.large or [64]
    if args.save:
        Path(args.save).mkdir(parents=True, exist_ok=True)
    print(f"{'grammar':9} {'cell':5} {'plain':>22} {'--certify':>40} {'proof s':>8} {'regions':>8} {'false':>6}")
    proven = {cell: 0 for cell in args.cells}
    false_proofs = 0
    for name in args.grammars:
        g = load_grammar(name)
        for cell in args.cells:
            config = TrainConfig(task="accept", cell=cell, hidden=args.hidden, epochs=args.epochs,
                                 samples=args.samples, seed=args.seed)
            plain = None if args.no_plain else train(g, config)[0]
            plain_proof = None if plain is None else prove_regions(plain, g)
            model, result = train_certified(g, config, certify_config(cell, args.restarts, args.budget))
            if args.save:
                save_model(model, Path(args.save) / f"{name}_{cell}_certify.npz")
            if args.save and plain is not None:
                save_model(plain, Path(args.save) / f"{name}_{cell}_plain.npz")
            cert_proof, seconds = timed_proof(model, g)
            tried = [(m, p) for m, p in ((plain, plain_proof), (model, cert_proof)) if p is not None]
            wrong = any(false_proof(m, g) for m, p in tried if p.proven)
            false_proofs += wrong
            proven[cell] += any(p.proven for _, p in tried)
            plain_text = ("skipped" if plain_proof is None else "proven" if plain_proof.proven else
                          f"no ({why(plain_proof)})")
            cert_text = (f"proven after {result.train.epochs} epochs" if cert_proof.proven else
                         f"no ({why(cert_proof)}, {result.train.epochs} ep, acc {result.train.accuracy:.3f})")
            cert_text += f", seed {result.seed} ({result.runs} tried)" if result.runs > 1 else ""
            print(f"{name:9} {cell:5} {plain_text:>22} {cert_text:>40} {seconds:8.3f} {cert_proof.regions:8d} "
                  f"{'YES' if wrong else 'no':>6}", flush=True)
    for cell, count in proven.items():
        print(f"{cell}: {count} of {len(args.grammars)} grammars certified")
    print(f"false proofs: {false_proofs}")
    for hidden in large:
        g = load_grammar("parity")
        for cell in args.cells:
            model, result = train_certified(g, TrainConfig(task="accept", cell=cell, hidden=hidden, epochs=args.epochs,
                                                           samples=args.samples, seed=args.seed),
                                            certify_config(cell, args.restarts, args.budget))
            proof, seconds = timed_proof(model, g)
            print(f"parity {cell} hidden {hidden}: {proof.summary()}; proof {seconds:.3f} s (median of 3)", flush=True)


if __name__ == "__main__":
    main()
