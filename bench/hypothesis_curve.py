"""Every hypothesis one L* run goes through, with its validation agreement and its error on the bench's held-out
words: the curve a pick rule chooses from (issue 10).

For each competition network of ``bench/extract_real.py`` (the same held-out words, seed and limits), one
``fsm_lstm.extract.extract(model, method="lstar")`` run is recorded round by round: the hypothesis' states (minimal
complete DFA), its agreement on the run's validation sample, and its error against the network on the 2,000
held-out words (never seen by the run). The per-word validation verdicts are saved too (``--out`` NPZ) so that
pick rules can be compared offline without rerunning.

Run: python bench/hypothesis_curve.py [--only NAME ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's fsm_lstm
from competition_nets import NETS, NETS_DIR, competition_nets, held_out_words, network_verdicts  # noqa: E402
from extract_real import HELD_OUT, NEAR  # noqa: E402

from fsm_lstm.machine import Machine, minimise_moore  # noqa: E402
from fsm_lstm.sampling import Sample  # noqa: E402

extract_module = importlib.import_module("fsm_lstm.extract")  # the module, not the function fsm_lstm exports
lstar = importlib.import_module("fsm_lstm.lstar")


def right_words(machine: Machine, sample: Sample) -> np.ndarray:
    """(B,) bool: the machine gives the network's outputs after each whole word."""
    mine = machine.run(sample.strings)[sample.lengths, np.arange(len(sample.lengths))]
    return (mine == sample.final()).all(axis=-1)


def record(model: Any, seed: int, max_states: int, time_limit: float, patience: int
           ) -> tuple[list[Machine], Sample, Any]:
    """One extraction, with every hypothesis it judged on its validation sample, and that sample."""
    captured: dict[str, Any] = {"machines": []}
    right, learn = lstar._right, extract_module.learn

    def spy_right(sample: Sample, machine: Machine, every_prefix: bool = False) -> Any:
        if sample is captured.get("validation"):
            captured["machines"].append(machine)
        return right(sample, machine, every_prefix)

    def spy_learn(*args: Any, **kwargs: Any) -> Any:
        captured["validation"] = kwargs["validation"]
        return learn(*args, **kwargs)

    lstar._right, extract_module.learn = spy_right, spy_learn
    try:
        result = extract_module.extract(model, method="lstar", seed=seed, max_states=max_states,
                                        time_limit=time_limit, patience=patience)
    finally:
        lstar._right, extract_module.learn = right, learn
    return captured["machines"], captured["validation"], result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", metavar="NAME")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-states", type=int, default=500)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--patience", type=int, default=10**6, help="L*'s patience (default: no plateau stop)")
    parser.add_argument("--out", type=Path, default=Path("curves"))
    args = parser.parse_args()
    specs = NETS + NEAR
    if args.only:
        specs = tuple(s for s in specs if s.name in args.only)
    args.out.mkdir(parents=True, exist_ok=True)
    for net in competition_nets(specs, NETS_DIR):
        words = held_out_words(net.grammar, np.random.default_rng([args.seed, 12345]), HELD_OUT, net.spec.lengths)
        truth = network_verdicts(net.model, words)
        machines, validation, result = record(net.model, args.seed, args.max_states, args.time_limit,
                                              args.patience)
        alphabet, labels = result.machine.alphabet, result.machine.labels
        index = {a: k for k, a in enumerate(alphabet)}
        longest = max(len(w) for w in words)
        strings = np.zeros((len(words), longest), dtype=np.int64)
        for b, w in enumerate(words):
            strings[b, :len(w)] = [index[a] for a in w]
        lengths = np.array([len(w) for w in words])
        accept = labels.index("accept")
        rows = []
        val = []
        for k, m in enumerate(machines):
            small = minimise_moore(m)
            said = small.run(strings)[lengths, np.arange(len(words)), accept]
            right = right_words(small, validation)
            val.append(right)
            rows.append({"round": k + 1, "raw": m.size, "states": small.size, "validation": float(right.mean()),
                         "error": float(np.mean(said != truth))})
        chosen_said = result.machine.run(strings)[lengths, np.arange(len(words)), accept]
        summary = {"name": net.spec.name, "states": result.states, "stopped": result.stopped,
                   "seconds": result.seconds, "queries": result.queries, "validation_words": len(validation.lengths),
                   "error": float(np.mean(chosen_said != truth)), "rounds": rows}
        (args.out / f"{net.spec.name}.json").write_text(json.dumps(summary, indent=1))
        np.savez_compressed(args.out / f"{net.spec.name}.npz", right=np.array(val))
        best = min(rows, key=lambda r: r["error"]) if rows else None
        print(f"{net.spec.name}: picked {result.states} states, error {summary['error']:.2%}, "
              f"{result.stopped}, {result.seconds:.1f} s, {len(rows)} rounds"
              + (f"; lowest held-out error {best['error']:.2%} at {best['states']} states" if best else ""),
              flush=True)


if __name__ == "__main__":
    main()
