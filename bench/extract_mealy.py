"""Extraction from PyTorch networks trained with softmax cross-entropy on AALpy's random Mealy and Moore machines:
fsm-lstm's ``extract`` against AALpy's ``run_Lstar(automaton_type="mealy")``, side by side.

Each network (``SPECS``) is an ``nn.Embedding``, an ``nn.GRU`` or ``nn.LSTM`` and an ``nn.Linear`` over the
machine's outputs, trained in PyTorch on random words of 20 symbols with cross-entropy on the output after every
symbol (as AALpy's ``execute_sequence`` gives them), as people train such networks; one is trained for a few
steps only, on purpose. Networks are cached in ``bench/nets`` (``mealy_*.pt``).
  fsm-lstm  the state_dict imported with ``--argmax`` (``read_model(..., argmax=True)``), then
            ``extract(model, seed, time_limit=60)``; it reports the network word-queries it used;
  AALpy     ``run_Lstar(..., automaton_type="mealy")``; its SUL steps the network one symbol at a time (the
            numpy runtime) and answers the output whose logit is the largest; the equivalence oracle is AALpy's
            ``RandomWordEqOracle`` (words of 1-20 symbols), limited to as many network steps as fsm-lstm's
            word-queries (times ``--budget-factor``), and to ``--aalpy-time-limit`` seconds (default 120); when
            either runs out, AALpy's last hypothesis is the result (none before its first: error 100 %).
Both machines are judged on 2,000 held-out uniform random words of 1-20 symbols: the share of words on which the
machine's outputs differ from the network's (torch's argmax) after some symbol. The network's own error against
its AALpy machine is shown too. States are those of each learned Mealy machine. Times are medians of
``--repeat`` runs of the same seed (the machines and errors are the first run's); the ratio is AALpy's time over
fsm-lstm's, and varies between machines and with their load.

Run: python bench/extract_mealy.py [--only NAME ...] [--repeat N] [--budget-factor F] [--aalpy-time-limit S]
(needs PyTorch and AALpy)
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's fsm_lstm
from fsm_lstm.extract import extract  # noqa: E402
from fsm_lstm.importer import read_model  # noqa: E402
from fsm_lstm.model import Model  # noqa: E402
from fsm_lstm.outputs import output_word  # noqa: E402
from fsm_lstm.runtime import Stepper, run  # noqa: E402

NETS_DIR = Path(__file__).resolve().parent / "nets"
HELD_OUT = 2000
LENGTH = 20


@dataclass(frozen=True)
class Spec:
    """A machine from AALpy's generator (``kind``, states, inputs, outputs, seed) and the network trained on it."""

    name: str
    kind: str
    states: int
    inputs: int
    outputs: int
    cell: str
    hidden: int
    steps: int
    seed: int = 0


SPECS = [
    Spec("mealy6_gru16", "mealy", 6, 3, 3, "gru", 16, 600),
    Spec("mealy10_gru32", "mealy", 10, 4, 4, "gru", 32, 1200),
    Spec("moore12_gru32", "moore", 12, 4, 4, "gru", 32, 1500),
    Spec("mealy20_lstm64", "mealy", 20, 5, 4, "lstm", 64, 2500),
    Spec("mealy20_gru64_under", "mealy", 20, 5, 4, "gru", 64, 60),
]


def machine_of(spec: Spec) -> Any:
    """The AALpy machine, generated from its seed."""
    from aalpy.utils import generate_random_mealy_machine, generate_random_moore_machine

    random.seed(spec.seed)
    make = generate_random_mealy_machine if spec.kind == "mealy" else generate_random_moore_machine
    return make(spec.states, [f"i{k}" for k in range(spec.inputs)], [f"o{k}" for k in range(spec.outputs)],
                ensure_minimality=True)


def machine_outputs(machine: Any, word: tuple[str, ...]) -> list[str]:
    """AALpy's outputs after each symbol."""
    machine.reset_to_initial()
    return [str(o) for o in machine.execute_sequence(machine.initial_state, list(word))]


def trained(spec: Spec) -> tuple[Path, list[str], list[str], Any]:
    """The cached state_dict (trained on first use), its alphabet, its output labels and the AALpy machine."""
    import torch

    machine = machine_of(spec)
    alphabet = [f"i{k}" for k in range(spec.inputs)]
    path, info = NETS_DIR / f"mealy_{spec.name}.pt", NETS_DIR / f"mealy_{spec.name}.json"
    if path.exists() and info.exists():
        return path, alphabet, json.loads(info.read_text())["outputs"], machine
    rng = random.Random(spec.seed)
    words = [tuple(rng.choice(alphabet) for _ in range(LENGTH)) for _ in range(4000)]
    values = sorted({o for w in words for o in machine_outputs(machine, w)})
    cell = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[spec.cell]

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = torch.nn.Embedding(len(alphabet), 8)
            self.rnn = cell(8, spec.hidden, batch_first=True)
            self.head = torch.nn.Linear(spec.hidden, len(values))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.rnn(self.emb(x))[0])

    torch.manual_seed(spec.seed)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    x = torch.tensor([[alphabet.index(a) for a in w] for w in words])
    y = torch.tensor([[values.index(o) for o in machine_outputs(machine, w)] for w in words])
    for step in range(spec.steps):
        rows = torch.randint(0, len(words), (64,))
        loss = torch.nn.functional.cross_entropy(net(x[rows]).reshape(-1, len(values)), y[rows].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    NETS_DIR.mkdir(exist_ok=True)
    torch.save(net.state_dict(), path)
    info.write_text(json.dumps({"outputs": values, "loss": loss.item()}))
    return path, alphabet, values, machine


def network_outputs(model: Model, words: list[tuple[str, ...]]) -> list[list[str | None]]:
    """The network's output after each symbol of each word (equal lengths: one batch), by argmax."""
    index = {a: k for k, a in enumerate(model.alphabet)}
    heads = run(model, np.array([[index[a] for a in w] for w in words], np.int64)).heads
    values = [h[4:] for h in model.heads]
    return [[values[int(np.argmax(heads[t, b]))] if (heads[t, b] > 0).any() else None
             for t in range(1, len(w) + 1)] for b, w in enumerate(words)]


def held_out(alphabet: list[str], seed: int) -> list[tuple[str, ...]]:
    """The words both machines are judged on: uniform symbols, lengths uniform in 1-LENGTH."""
    rng = random.Random(seed + 1000)
    return [tuple(rng.choice(alphabet) for _ in range(rng.randint(1, LENGTH))) for _ in range(HELD_OUT)]


def error(said: dict[tuple[str, ...], list], words: list[tuple[str, ...]], outputs: Any) -> float:
    """Share of ``words`` on which ``outputs(word)`` differs from the network's answers ``said``."""
    return sum(outputs(w) != said[w] for w in words) / len(words)


def run_fsm_lstm(model: Model, seed: int) -> tuple[Any, float, int]:
    """fsm-lstm's extraction: the machine written, the seconds and the network word-queries."""
    t0 = time.perf_counter()
    result = extract(model, seed=seed, time_limit=60.0)
    return result.grammar, time.perf_counter() - t0, result.queries


def run_aalpy(model: Model, alphabet: list[str], budget: int, seed: int, time_limit: float) -> tuple[Any, float]:
    """AALpy's L* for Mealy machines with the network as SUL, at most ``budget`` network steps."""
    from aalpy.base import SUL
    from aalpy.learning_algs import run_Lstar
    from aalpy.oracles import RandomWordEqOracle

    stepper = Stepper(model)
    index = {a: k for k, a in enumerate(model.alphabet)}
    values = [h[4:] for h in model.heads]
    deadline = time.perf_counter() + time_limit

    class NetworkSUL(SUL):
        """The network one symbol at a time; its output is the out: head with the largest logit."""

        def __init__(self) -> None:
            super().__init__()
            self.steps = 0
            self.state = stepper.initial(1)

        def pre(self) -> None:
            self.state = stepper.initial(1)

        def post(self) -> None:
            pass

        def step(self, letter: str | None) -> str | None:
            if letter is None:
                return None
            if self.steps >= budget or time.perf_counter() > deadline:
                raise _OutOfBudget
            self.steps += 1
            self.state = stepper.step(self.state, np.array([index[letter]]))
            margins = stepper.heads(self.state)[0]
            return values[int(np.argmax(margins))] if (margins > 0).any() else None

    class BudgetOracle(RandomWordEqOracle):
        """Random words until a counterexample, the network-step budget or the time limit; it remembers the last
        hypothesis, which is the result when the budget runs out in the middle of a round."""

        hypothesis: Any = None

        def find_cex(self, hypothesis: Any) -> list[str] | None:
            self.hypothesis = hypothesis
            while sul.steps < budget and time.perf_counter() < deadline:
                self.reset_hyp_and_sul(hypothesis)
                inputs = []
                for _ in range(random.randint(1, LENGTH)):
                    inputs.append(random.choice(self.alphabet))
                    if self.sul.step(inputs[-1]) != hypothesis.step(inputs[-1]):
                        self.sul.post()
                        return inputs
                self.sul.post()
            return None

    random.seed(seed)
    sul = NetworkSUL()
    oracle = BudgetOracle(alphabet, sul, num_walks=1, min_walk_len=1, max_walk_len=LENGTH)
    t0 = time.perf_counter()
    try:
        learned = run_Lstar(alphabet, sul, oracle, automaton_type="mealy", print_level=0)
    except _OutOfBudget:
        learned = oracle.hypothesis
    return learned, time.perf_counter() - t0


class _OutOfBudget(Exception):
    """AALpy's network-step budget or time is spent."""


def aalpy_outputs(machine: Any) -> Any:
    """A learned AALpy Mealy machine's outputs after each symbol of a word, as a function of the word."""
    def outputs(word: tuple[str, ...]) -> list[str | None]:
        machine.reset_to_initial()
        return [None if o is None else str(o) for o in machine.execute_sequence(machine.initial_state, list(word))]
    return outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", help="network names")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget-factor", type=float, default=1.0)
    parser.add_argument("--aalpy-time-limit", type=float, default=120.0)
    args = parser.parse_args(argv)
    specs = [s for s in SPECS if not args.only or s.name in args.only]
    header = (f"{'network':<22} {'net err':>8} | {'fsm-lstm err':>12} {'states':>6} {'time':>7} {'queries':>9} | "
              f"{'AALpy err':>9} {'states':>6} {'time':>7} | {'ratio':>6}")
    print(header)
    print("-" * len(header))
    for spec in specs:
        path, alphabet, values, machine = trained(spec)
        model = read_model(path, alphabet, [f"out:{v}" for v in values], argmax=True)
        words = held_out(alphabet, args.seed)
        said: dict[tuple[str, ...], list] = {}
        for n in range(1, LENGTH + 1):  # one batch per length
            group = [w for w in words if len(w) == n]
            if group:
                said.update(zip(group, network_outputs(model, group)))
        net_err = error(said, words, lambda w: machine_outputs(machine, w))
        ours, theirs = [], []
        for _ in range(args.repeat):  # the same runs again: the median time
            grammar, seconds, queries = run_fsm_lstm(model, args.seed)
            ours.append((grammar, seconds, queries))
            learned, aalpy_seconds = run_aalpy(model, alphabet, int(queries * args.budget_factor), args.seed,
                                               args.aalpy_time_limit)
            theirs.append((learned, aalpy_seconds))
        grammar, _, queries = ours[0]
        learned = theirs[0][0]
        ours_err = error(said, words, lambda w: output_word(grammar, w)[1:])
        aalpy_err = error(said, words, aalpy_outputs(learned)) if learned is not None else 1.0
        aalpy_states = len(learned.states) if learned is not None else 0
        t_ours = statistics.median(s for _, s, _ in ours)
        t_aalpy = statistics.median(s for _, s in theirs)
        print(f"{spec.name:<22} {net_err:>8.2%} | {ours_err:>12.2%} {len(grammar.states):>6} {t_ours:>6.2f}s "
              f"{queries:>9,} | {aalpy_err:>9.2%} {aalpy_states:>6} {t_aalpy:>6.2f}s | "
              f"{t_aalpy / t_ours:>5.1f}x", flush=True)
    print("\nerr: share of 2,000 held-out words (1-20 symbols) on which the machine's outputs differ from the network's;"
          " net err: the network against its AALpy machine. Ratios vary between machines and with their load.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
