"""Independent, definitional implementations to test against: plain Python sets, no numpy, no shared code."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import product

from fsm_lstm.grammar import Grammar
from fsm_lstm.machine import Machine
from fsm_lstm.sampling import Sample


def step(g: Grammar, states: set[str], a: str) -> set[str]:
    return {q for p, b, q in g.transitions if p in states and b == a}


def states_after(g: Grammar, word: Sequence[str], initial: set[str] | None = None) -> set[str]:
    current = {g.start} if initial is None else set(initial)
    for a in word:
        current = step(g, current, a)
    return current


def live_states(g: Grammar) -> set[str]:
    """States from which an accepting state is reachable (fixed point of the definition)."""
    live = set(g.accept)
    changed = True
    while changed:
        changed = False
        for p, _, q in g.transitions:
            if q in live and p not in live:
                live.add(p)
                changed = True
    return live


def accepts(g: Grammar, word: Sequence[str]) -> bool:
    return bool(states_after(g, word) & g.accept)


def next_symbols(g: Grammar, states: set[str]) -> set[str]:
    """Symbols a such that some state in ``states`` has an a-edge into a live state."""
    live = live_states(g)
    return {a for p, a, q in g.transitions if p in states and q in live}


def all_words(alphabet: Sequence[str], max_len: int) -> Iterable[tuple[str, ...]]:
    for n in range(max_len + 1):
        yield from product(alphabet, repeat=n)


def wrong_count(machine: Machine, sample: Sample) -> int:
    """Prefixes of the sampled words where the machine's outputs differ from the sample's, counted word by word."""
    count = 0
    for b, n in enumerate(sample.lengths):
        state = 0
        for t in range(int(n) + 1):
            if t:
                state = int(machine.delta[state, sample.strings[b, t - 1]])
            count += bool((machine.outputs[state] != sample.truth[t, b]).any())
    return count
