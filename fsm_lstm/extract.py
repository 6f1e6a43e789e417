"""Finite-state machines extracted from any model, seeing only what a trained model carries: the weights,
the alphabet and the head labels (never a stored grammar nor the unit labels).

Two methods, both producing a Moore machine whose output is the decoded ``accept``/``next:*`` heads:

- ``cluster``: explore the reachable hidden states breadth first in batches, one representative per cell of a
  quantisation (each unit's h cut into a few levels, or a fine grid over c and h); minimise; keep the
  quantisation whose machine agrees best with the network on sampled strings;
- ``lstar``: Angluin's L* (suffixes of counterexamples added to the columns), membership queries answered
  by the batched network, equivalence queries answered in the hidden-state space: the hypothesis is compared
  with the clustered hidden-state machine, and a difference counts once the network confirms it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .automata import minimise, renumber, shortest_difference, trim
from .errors import UserError
from .grammar import Grammar
from .model import Model
from .reference import reference_for
from .runtime import Stepper, run, state_rows
from .verify import check_word, verify
from .words import format_word



@dataclass(frozen=True)
class Machine:
    """A Moore machine over the model's alphabet: outputs (n, O) bool per state, delta (n, K), start 0."""

    outputs: np.ndarray
    delta: np.ndarray
    labels: tuple[str, ...]
    alphabet: tuple[str, ...]

    def run(self, strings: np.ndarray) -> np.ndarray:
        """(T+1, B, O) outputs along a (B, T) batch."""
        state = np.zeros(len(strings), dtype=np.int64)
        out = [self.outputs[state]]
        for t in range(strings.shape[1]):
            state = self.delta[state, strings[:, t]]
            out.append(self.outputs[state])
        return np.stack(out)


def output_heads(model: Model) -> np.ndarray:
    """Indices of the heads that define the machine: accept and next:*."""
    cols = [k for k, h in enumerate(model.heads) if h == "accept" or h.startswith("next:")]
    if not cols:
        raise UserError("extraction needs an 'accept' or 'next:SYMBOL' head; this model has only "
                        f"{', '.join(model.heads)}")
    return np.array(cols, dtype=np.int64)


def minimise_moore(m: Machine) -> Machine:
    """Merge states with equal outputs and equal futures; keep the states reachable from state 0."""
    classes = np.unique(m.outputs, axis=0, return_inverse=True)[1].reshape(-1)
    count = int(classes.max()) + 1
    while True:
        signature = np.column_stack([classes, classes[m.delta]])
        classes = np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
        if int(classes.max()) + 1 == count:
            break
        count = int(classes.max()) + 1
    order, seen = [int(classes[0])], {int(classes[0])}
    rep = {}
    for s, c in enumerate(classes):
        rep.setdefault(int(c), s)
    for c in order:
        for a in range(m.delta.shape[1]):
            nxt = int(classes[m.delta[rep[c], a]])
            if nxt not in seen:
                seen.add(nxt)
                order.append(nxt)
    index = {c: k for k, c in enumerate(order)}
    delta = np.array([[index[int(classes[m.delta[rep[c], a]])] for a in range(m.delta.shape[1])] for c in order])
    return Machine(m.outputs[[rep[c] for c in order]], delta.reshape(len(order), -1), m.labels, m.alphabet)


def grid_key(radius: float) -> Callable[[list[tuple[np.ndarray, np.ndarray]]], np.ndarray]:
    """Cells of side ``radius`` over every layer's c and h (exact for well separated, contracting states)."""
    return lambda st: np.round(np.concatenate([a for c, h in st for a in (c, h)], axis=1) / radius) + 0.0


def level_key(levels: int) -> Callable[[list[tuple[np.ndarray, np.ndarray]]], np.ndarray]:
    """Each unit's h cut into ``levels`` equal bins of [-1, 1] (Omlin and Giles' quantisation); finite for
    any network, so it also tames trained networks whose cells drift."""
    def key(st: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        h = np.concatenate([h for _, h in st], axis=1)
        return np.clip(np.floor((h + 1) / 2 * levels), 0, levels - 1)
    return key


QUANTISERS = [("levels", 3), ("levels", 2), ("levels", 4), ("levels", 6), ("grid", 0.1), ("grid", 0.02)]


def explore(model: Model, key: Callable[[list[tuple[np.ndarray, np.ndarray]]], np.ndarray],
            max_states: int = 5000) -> Machine | None:
    """Breadth-first exploration of the hidden states, one representative per cell of ``key``, one batched
    step per level; None if more than ``max_states`` cells appear."""
    stepper = Stepper(model, np.float64)
    heads = output_heads(model)
    K = len(model.alphabet)
    states = stepper.initial(1)
    cells = {key(states)[0].tobytes(): 0}
    reps = [states]
    outputs = [stepper.heads(states)[0, heads] > 0]
    delta: list[list[int]] = []
    frontier = [0]
    while frontier:
        batch = [reps[k] for k in frontier]
        merged = [(np.concatenate([b[layer][0] for b in batch]), np.concatenate([b[layer][1] for b in batch]))
                  for layer in range(len(model.layers))]
        rows = np.repeat(np.arange(len(frontier)), K)
        stepped = stepper.step(state_rows(merged, rows), np.tile(np.arange(K), len(frontier)))
        keys = key(stepped)
        logits = stepper.heads(stepped)[:, heads] > 0
        nxt = []
        for j, source in enumerate(frontier):
            row = []
            for a in range(K):
                r = j * K + a
                k = keys[r].tobytes()
                if k not in cells:
                    if len(cells) >= max_states:
                        return None
                    cells[k] = len(reps)
                    reps.append(state_rows(stepped, np.array([r])))
                    outputs.append(logits[r])
                    nxt.append(cells[k])
                row.append(cells[k])
            while len(delta) <= source:
                delta.append([])
            delta[source] = row
        frontier = nxt
    machine = Machine(np.array(outputs), np.array(delta, dtype=np.int64).reshape(len(reps), K),
                      tuple(model.heads[k] for k in heads), model.alphabet)
    return minimise_moore(machine)


def sample_strings(model: Model, seed: int, count: int = 400, length: int = 30) -> np.ndarray:
    """Strings to check a machine against the network: half uniformly random, half generated by the network
    itself (mostly symbols its next heads allow), so that its own language is covered too."""
    rng = np.random.default_rng(seed)
    uniform = rng.integers(0, len(model.alphabet), size=(count // 2, length))
    guided_count = count - count // 2
    stepper = Stepper(model, np.float64)
    next_cols = [(k, model.alphabet.index(h[5:])) for k, h in enumerate(model.heads) if h.startswith("next:")]
    state = stepper.initial(guided_count)
    guided = np.empty((guided_count, length), dtype=np.int64)
    for t in range(length):
        choice = rng.integers(0, len(model.alphabet), size=guided_count)
        if next_cols:
            logits = stepper.heads(state)
            allowed = np.zeros((guided_count, len(model.alphabet)), bool)
            for k, a in next_cols:
                allowed[:, a] = logits[:, k] > 0
            scores = np.where(allowed, rng.random(allowed.shape), -1.0)
            follow = allowed.any(axis=1) & (rng.random(guided_count) < 0.9)
            choice = np.where(follow, scores.argmax(axis=1), choice)
        guided[:, t] = choice
        state = stepper.step(state, choice)
    return np.concatenate([uniform, guided])


def agreement(model: Model, machine: Machine, strings: np.ndarray) -> float:
    """Fraction of (string, prefix) pairs on which the machine's outputs equal the network's decoded heads."""
    heads = output_heads(model)
    same = (run(model, strings).decoded()[..., heads] == machine.run(strings)).all(axis=-1)
    return float(same.mean())


def extract_by_clustering(model: Model, seed: int = 0, max_states: int = 2000) -> Machine:
    """Explore the hidden states under several quantisations and keep the machine that agrees best with the
    network on sampled strings (fewest states among equals); stop at the first perfect one."""
    strings = sample_strings(model, seed)
    best: tuple[float, int, Machine] | None = None
    for kind, size in QUANTISERS:
        machine = explore(model, level_key(int(size)) if kind == "levels" else grid_key(size), max_states)
        if machine is None:
            continue
        score = agreement(model, machine, strings)
        if best is None or (score, -len(machine.outputs)) > (best[0], -best[1]):
            best = (score, len(machine.outputs), machine)
        if score == 1.0:
            break
    if best is None:
        raise UserError(f"every quantisation of the hidden states gave more than {max_states} cells")
    return best[2]


# ----- L* -------------------------------------------------------------------------------------------
class _Oracle:
    """Membership queries answered by the network in batches, with a cache."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.heads = output_heads(model)
        self.cache: dict[tuple[int, ...], tuple[bool, ...]] = {}

    def ask(self, words: Sequence[tuple[int, ...]]) -> None:
        todo = sorted({w for w in words if w not in self.cache}, key=len)
        for start in range(0, len(todo), 4096):
            chunk = todo[start:start + 4096]
            length = max(len(w) for w in chunk)
            batch = np.zeros((len(chunk), length), dtype=np.int64)
            for b, w in enumerate(chunk):
                batch[b, :len(w)] = w
            decoded = run(self.model, batch).decoded()[..., self.heads]
            for b, w in enumerate(chunk):
                self.cache[w] = tuple(decoded[len(w), b].tolist())

    def __getitem__(self, word: tuple[int, ...]) -> tuple[bool, ...]:
        return self.cache[word]


def extract_by_lstar(model: Model, seed: int = 0, max_rounds: int = 50, max_states: int = 300) -> Machine:
    """L* with the network as membership oracle and the hidden-state machine as equivalence oracle. A network
    that is no finite-state machine on the strings tried stops the learner at ``max_states`` states."""
    K = len(model.alphabet)
    oracle = _Oracle(model)
    reference = extract_by_clustering(model, seed)
    prefixes: list[tuple[int, ...]] = [()]
    suffixes: list[tuple[int, ...]] = [()]
    for _ in range(max_rounds):
        while True:  # close the table
            extended = [s + (a,) for s in prefixes for a in range(K)]
            oracle.ask([p + e for p in prefixes + extended for e in suffixes])
            row = lambda p: tuple(oracle[p + e] for e in suffixes)  # noqa: E731
            rows = {row(p): p for p in reversed(prefixes)}
            missing = {}
            for x in extended:
                missing.setdefault(row(x), x) if row(x) not in rows else None
            if not missing or len(prefixes) >= max_states:
                break
            prefixes += list(missing.values())
        index = {r: k for k, r in enumerate(dict.fromkeys(row(p) for p in prefixes))}
        access = {k: rows[r] for r, k in index.items()}
        delta = np.array([[index.get(row(access[k] + (a,)), 0) for a in range(K)] for k in range(len(index))])
        outputs = np.array([[*oracle[access[k]]] for k in range(len(index))], dtype=bool)
        hypothesis = Machine(outputs, delta, tuple(model.heads[k] for k in oracle.heads), model.alphabet)
        counter = _counterexample(hypothesis, reference, oracle)
        if counter is None or len(prefixes) >= max_states:
            return minimise_moore(hypothesis)
        for k in range(len(counter) + 1):
            if counter[k:] not in suffixes:
                suffixes.append(counter[k:])
    raise UserError(f"L* did not converge in {max_rounds} rounds")


def _counterexample(hypothesis: Machine, reference: Machine, oracle: _Oracle) -> tuple[int, ...] | None:
    """The shortest string on which the hypothesis and the hidden-state machine differ, if the network
    confirms that the hypothesis is wrong there."""
    word = _difference(hypothesis, reference)
    if word is None:
        return None
    oracle.ask([word])
    return word if oracle[word] != tuple(_machine_output(hypothesis, word)) else None


def _machine_output(m: Machine, word: tuple[int, ...]) -> list[bool]:
    s = 0
    for a in word:
        s = m.delta[s, a]
    return m.outputs[s].tolist()


def _difference(m1: Machine, m2: Machine) -> tuple[int, ...] | None:
    """The shortest string after which two Moore machines give different outputs."""
    parent: dict[tuple[int, int], tuple[tuple[int, int], int] | None] = {(0, 0): None}
    todo = deque([(0, 0)])
    while todo:
        pair = todo.popleft()
        if not np.array_equal(m1.outputs[pair[0]], m2.outputs[pair[1]]):
            word = []
            while parent[pair] is not None:
                pair, a = parent[pair]  # type: ignore[misc]
                word.append(a)
            return tuple(reversed(word))
        for a in range(m1.delta.shape[1]):
            nxt = (int(m1.delta[pair[0], a]), int(m2.delta[pair[1], a]))
            if nxt not in parent:
                parent[nxt] = (pair, a)
                todo.append(nxt)
    return None


# ----- machines as grammars -----------------------------------------------------------------------
def to_grammar(m: Machine, name: str = "extracted", description: str = "") -> Grammar:
    """A grammar with the machine's behaviour: with an accept head, its language (then minimised); with only
    next heads, edges for the legal symbols and acceptance where no symbol may follow."""
    labels = list(m.labels)
    states = [f"q{k}" for k in range(len(m.outputs))]
    if "accept" in labels:
        acc = m.outputs[:, labels.index("accept")]
        edges = [(states[s], a, states[int(m.delta[s, k])]) for s in range(len(states))
                 for k, a in enumerate(m.alphabet)]
    else:
        legal = {a: labels.index(f"next:{a}") for a in m.alphabet if f"next:{a}" in labels}
        acc = ~m.outputs[:, list(legal.values())].any(axis=1)
        edges = [(states[s], a, states[int(m.delta[s, m.alphabet.index(a)])]) for s in range(len(states))
                 for a, col in legal.items() if m.outputs[s, col]]
    g = Grammar(name=name, start=states[0], accept=frozenset(s for s, f in zip(states, acc) if f),
                alphabet=m.alphabet, states=tuple(states), transitions=tuple(edges), description=description)
    return renumber(minimise(g))


def compare_with(extracted: Grammar, reference: Grammar, by_language: bool) -> tuple[str, ...] | None:
    """The shortest string telling the two apart (by language, or by prefix language for next-only models)."""
    if by_language:
        return shortest_difference(extracted, reference)
    close = lambda g: (lambda t: t.with_changes(accept=frozenset(t.states)))(trim(g))  # noqa: E731
    return shortest_difference(close(extracted), close(reference))


def extract(model: Model, method: str = "cluster", seed: int = 0) -> tuple[Machine, Grammar]:
    """Extract the machine and its minimal grammar."""
    if method == "cluster":
        machine = extract_by_clustering(model, seed)
    elif method == "lstar":
        machine = extract_by_lstar(model, seed)
    else:
        raise UserError(f"unknown extraction method {method!r}; use cluster or lstar")
    return machine, to_grammar(machine, description=f"extracted by fsm-lstm ({method})")


def confirm(model: Model, reference: Grammar, word: tuple[str, ...]) -> tuple[int, str] | None:
    """Run the network on ``word``: the first (step, head) where it disagrees with the reference, if any."""
    found = check_word(model, reference_for(model, reference), tuple(word))
    return None if found is None else (found.step, found.head)


@dataclass(frozen=True)
class Verdict:
    """How an extracted grammar relates to a reference, and what the network itself does there."""

    equivalent: bool
    difference: str | None = None
    model_error: str | None = None
    step: int | None = None
    head: str | None = None
    text: str = ""


def judge(model: Model, extracted: Grammar, reference: Grammar, examples: int = 200) -> Verdict:
    """Equivalent, or the shortest distinguishing string; confirmed on the network, and if the network is right
    there (the extraction erred), a string the network really gets wrong, searched by ``verify``."""
    diff = compare_with(extracted, reference, by_language="accept" in model.heads)
    if diff is None:
        return Verdict(True, text=f"equivalent to {reference.name}")
    shown = format_word(diff, model.alphabet)
    found = confirm(model, reference, diff)
    if found is not None:
        return Verdict(False, shown, shown, found[0], found[1],
                       f"not equivalent to {reference.name}: shortest difference {shown!r}, confirmed on the "
                       f"network (head {found[1]} is wrong at step {found[0]})")
    report = verify(model, reference, examples=examples)
    if report.counterexample is not None:
        c = report.counterexample
        wrong = format_word(c.word, model.alphabet)
        return Verdict(False, shown, wrong, c.step, c.head,
                       f"not equivalent to {reference.name}: the extraction differs at {shown!r} where the network "
                       f"is right, but the network gets {wrong!r} wrong (head {c.head} at step {c.step})")
    return Verdict(False, shown, None, None, None,
                   f"the extraction differs from {reference.name} at {shown!r}, where the network is right; no "
                   f"string the network gets wrong was found, so the extraction is imperfect there")
