"""Extraction against AALpy's L*, side by side, with the same network as the oracle of both.

For every bundled grammar, and for a lag-25 memory grammar (x^25 between two equal symbols), the compiled
network is stripped of its grammar and unit labels and handed to:
  fsm-lstm cluster  hidden-state quantisation + minimisation
  fsm-lstm lstar    our L*, membership queries batched, equivalence queries on sampled words and the
                    hidden-state machine
  AALpy L*          run_Lstar, Moore machine over the decoded heads, StatePrefixEqOracle
States are counted as complete Moore machines (a dead state included), so that all three are comparable.
Run: python bench/extract.py
"""

from __future__ import annotations

import dataclasses
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's fsm_lstm

from fsm_lstm.automata import equivalent, minimise
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.extract import extract, output_columns, to_grammar
from fsm_lstm.grammar import Grammar
from fsm_lstm.grammar_files import bundled_names, load_grammar
from fsm_lstm.machine import Machine, minimise_moore
from fsm_lstm.reading import Reading
from fsm_lstm.runtime import Stepper


def memory_grammar(lag: int) -> Grammar:
    """a x^lag a | b x^lag b: the last symbol repeats the first across a long gap."""
    edges = [("begin", "a", "a0"), ("begin", "b", "b0")]
    for tag in "ab":
        edges += [(f"{tag}{k}", "x", f"{tag}{k + 1}") for k in range(lag)]
        edges.append((f"{tag}{lag}", tag, "done"))
    states = ["begin"] + [f"{t}{k}" for t in "ab" for k in range(lag + 1)] + ["done"]
    return Grammar(name=f"memory{lag}", start="begin", accept=frozenset({"done"}), alphabet=("a", "b", "x"),
                   states=tuple(states), transitions=tuple(edges), description=f"lag-{lag} memory")


def moore_size(g: Grammar) -> int:
    """States of the minimal complete Moore machine over accept/next (the trim minimal DFA plus a dead state
    when some symbol leaves it)."""
    m = minimise(g)
    complete = all(len({a for a, _ in m.out_edges[s]}) == len(m.alphabet) for s in m.states)
    return len(m.states) + (0 if complete else 1)


def aalpy_lstar(model, seed: int) -> tuple[int, bool, float]:
    from aalpy.base import SUL
    from aalpy.learning_algs import run_Lstar
    from aalpy.oracles import StatePrefixEqOracle

    heads = output_columns(model, Reading())
    stepper = Stepper(model, np.float64)
    index = {a: k for k, a in enumerate(model.alphabet)}

    class NetworkSUL(SUL):
        def pre(self):
            self.state = stepper.initial(1)

        def post(self):
            pass

        def step(self, letter):
            if letter is not None:
                self.state = stepper.step(self.state, np.array([index[letter]]))
            return "".join("1" if v else "0" for v in stepper.heads(self.state)[0, heads] > 0)

    random.seed(seed)
    sul = NetworkSUL()
    oracle = StatePrefixEqOracle(list(model.alphabet), sul, walks_per_state=20, walk_len=15)
    t0 = time.perf_counter()
    learned = run_Lstar(list(model.alphabet), sul, oracle, automaton_type="moore", print_level=0)
    seconds = time.perf_counter() - t0
    return len(learned.states), learned, seconds


def aalpy_equivalent(learned, model, g: Grammar) -> bool:
    """Turn AALpy's Moore machine into ours and compare languages."""
    states = list(learned.states)
    pos = {id(s): k for k, s in enumerate(states)}
    order = [pos[id(learned.initial_state)]] + [k for k in range(len(states)) if k != pos[id(learned.initial_state)]]
    rank = {k: r for r, k in enumerate(order)}
    outputs = np.array([[c == "1" for c in states[k].output] for k in order])
    delta = np.array([[rank[pos[id(states[k].transitions[a])]] for a in model.alphabet] for k in order])
    machine = minimise_moore(Machine(outputs, delta, tuple(model.heads[h] for h in output_columns(model, Reading())),
                                     model.alphabet))
    return equivalent(to_grammar(machine), g)


def main() -> None:
    grammars = [load_grammar(n) for n in bundled_names()] + [memory_grammar(25)]
    print(f"{'grammar':<15} {'minimal':>7} | {'cluster':>7} {'exact':>5} {'s':>7} | {'lstar':>5} {'exact':>5} "
          f"{'s':>7} | {'AALpy':>5} {'exact':>5} {'s':>7} | {'speed-up vs AALpy':>17}")
    for g in grammars:
        model = compile_grammar(g)
        model = dataclasses.replace(model, units=tuple(f"u{k}" for k in range(model.hidden_size)), extra={})
        row = [g.name, moore_size(g)]
        times = []
        for method in ("cluster", "lstar"):
            t0 = time.perf_counter()
            result = extract(model, method)
            seconds = time.perf_counter() - t0
            row += [result.machine.size, equivalent(result.grammar, g), seconds]
            times.append(seconds)
        size, learned, seconds = aalpy_lstar(model, 0)
        row += [size, aalpy_equivalent(learned, model, g), seconds]
        speed = seconds / min(times)
        print(f"{row[0]:<15} {row[1]:>7} | {row[2]:>7} {str(row[3]):>5} {row[4]:>7.3f} | {row[5]:>5} "
              f"{str(row[6]):>5} {row[7]:>7.3f} | {row[8]:>5} {str(row[9]):>5} {row[10]:>7.3f} | {speed:>16.0f}x")


if __name__ == "__main__":
    main()
