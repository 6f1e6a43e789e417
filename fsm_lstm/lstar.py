"""Angluin's L* with the network as teacher, built to cope with large trained networks.

- Membership queries: an observation table whose rows (access words and their one-symbol extensions) keep
  their hidden states, so a query costs only the steps of its suffix; all rows x suffixes of a fill run as one
  batched walk down the trie of the suffixes.
- Equivalence queries: the hypothesis is compared with the network on sampled words (uniform words, the
  user's typical words and their near neighbours, and words that reach every hypothesis state), all prefixes
  included. The shortest disagreement is the counterexample.
- Counterexamples are processed as Rivest and Schapire do: a binary search finds one new distinguishing
  suffix, so the table grows by one column per counterexample.
- Limits: ``max_states`` and a deadline. When one is reached, the hypothesis returned is the smallest one
  whose agreement with the network on the samples is within ``OCCAM`` of the best seen: on a network that is not
  exactly finite-state, L* keeps adding states for rare irregularities that do not generalise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .machine import Machine, machine_difference, minimise_moore
from .queries import Network
from .sampling import Sample, observe, random_words

__all__ = ["Learned", "OCCAM", "Progress", "Word", "learn"]

Word = tuple[int, ...]
Progress = Callable[[str], None]
OCCAM = 0.005  # agreement (share of sampled words) worth no extra states


@dataclass(frozen=True)
class Learned:
    """The learner's result: the machine, rounds of equivalence queries, why it stopped early (None when the
    samples found no counterexample), and its agreement with the network on the samples of its last round."""

    machine: Machine
    rounds: int
    stopped: str | None
    agreement: float


class _Table:
    """Rows (words with their packed hidden states) x suffixes, each cell the output vector after row·suffix."""

    def __init__(self, net: Network, columns: np.ndarray) -> None:
        self.net = net
        self.columns = columns
        self.width = len(columns)
        self.words: list[Word] = []
        self.index: dict[Word, int] = {}
        self.states = np.zeros((0, len(net.start)), dtype=net.start.dtype)
        self.cells = np.zeros((0, 0, self.width), dtype=bool)  # (rows, suffixes, O)
        self.suffixes: list[Word] = [()]
        self.access: list[int] = []  # rows of the access words, each with a distinct signature

    def signature(self, row: int) -> bytes:
        return self.cells[row].tobytes()

    def add_rows(self, words: Sequence[Word]) -> None:
        """Add rows whose one-shorter parents are rows already (the empty word needs none)."""
        words = [w for w in dict.fromkeys(words) if w not in self.index]
        if not words:
            return
        states = np.empty((len(words), self.states.shape[1]), dtype=self.states.dtype)
        empty = [k for k, w in enumerate(words) if not w]
        states[empty] = self.net.start
        grown = [k for k, w in enumerate(words) if w]
        if grown:
            parents = np.array([self.index[words[k][:-1]] for k in grown])
            symbols = np.array([words[k][-1] for k in grown])
            states[grown] = self.net.step(self.states[parents], symbols)
        base = len(self.words)
        for k, w in enumerate(words):
            self.index[w] = base + k
        self.words.extend(words)
        self.states = np.concatenate([self.states, states])
        cells = self.evaluate(states, self.suffixes)
        self.cells = np.concatenate([self.cells, cells]) if len(self.cells) else cells

    def add_suffix(self, suffix: Word) -> None:
        """A new column, filled for every row."""
        self.suffixes.append(suffix)
        column = self.evaluate(self.states, [suffix])
        self.cells = np.concatenate([self.cells, column], axis=1)

    def evaluate(self, states: np.ndarray, suffixes: Sequence[Word], budget: int = 1 << 27) -> np.ndarray:
        """(n, len(suffixes), O) outputs after each state followed by each suffix: one batched walk down the
        suffix trie per chunk of rows."""
        n = len(states)
        out = np.zeros((n, len(suffixes), self.width), dtype=bool)
        self.net.calls += n * len(suffixes)
        ends: dict[Word, list[int]] = {}
        for j, s in enumerate(suffixes):
            ends.setdefault(s, []).append(j)
        levels: list[list[Word]] = []
        for node in sorted({s[:d] for s in suffixes for d in range(len(s) + 1)}, key=len):
            while len(levels) <= len(node):
                levels.append([])
            levels[len(node)].append(node)
        widest = max(len(level) for level in levels)
        chunk = max(1, budget // max(1, widest * states.shape[1] * states.itemsize))
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            current = {(): states[lo:hi]}
            for depth, level in enumerate(levels):
                if depth:
                    parents = np.concatenate([current[node[:-1]] for node in level])
                    symbols = np.repeat([node[-1] for node in level], hi - lo)
                    stepped = self.net.step(parents, symbols)
                    current = {node: stepped[k * (hi - lo):(k + 1) * (hi - lo)] for k, node in enumerate(level)}
                done = [node for node in level if node in ends]
                if done:
                    logits = self.net.logits(np.concatenate([current[node] for node in done]))
                    values = logits[:, self.columns] > 0
                    for k, node in enumerate(done):
                        out[lo:hi, ends[node]] = values[k * (hi - lo):(k + 1) * (hi - lo), None, :]
        return out

    def close(self, symbols: int, max_states: int) -> bool:
        """Promote extension rows with new signatures until the table is closed; False if that would pass
        ``max_states`` access words."""
        if not self.access:
            self.add_rows([()])
            self.access = [self.index[()]]
            self.add_rows([(a,) for a in range(symbols)])
        while True:
            known = {self.signature(r) for r in self.access}
            fresh: dict[bytes, Word] = {}
            for r in self.access:
                for a in range(symbols):
                    w = self.words[r] + (a,)
                    sig = self.signature(self.index[w])
                    if sig not in known and sig not in fresh:
                        fresh[sig] = w
            if not fresh:
                return True
            room = max_states - len(self.access)
            promoted = sorted(fresh.values(), key=lambda w: (len(w), w))[:max(room, 0)]
            self.access += [self.index[w] for w in promoted]
            self.add_rows([w + (a,) for w in promoted for a in range(symbols)])
            if len(fresh) > room:
                return False

    def hypothesis(self, symbols: int, labels: tuple[str, ...], alphabet: tuple[str, ...]) -> Machine:
        """The machine of the access rows; an extension whose signature has no access row (a table stopped at
        ``max_states``) goes to the access row that differs in the fewest cells."""
        sigs = {self.signature(r): k for k, r in enumerate(self.access)}
        flat = self.cells[self.access].reshape(len(self.access), -1)
        delta = np.zeros((len(self.access), symbols), dtype=np.int64)
        for k, r in enumerate(self.access):
            for a in range(symbols):
                row = self.index[self.words[r] + (a,)]
                target = sigs.get(self.signature(row))
                if target is None:
                    target = int(np.argmin((flat != self.cells[row].reshape(-1)).sum(axis=1)))
                delta[k, a] = target
        outputs = self.cells[self.access, 0, :]
        return Machine(outputs, delta, labels, alphabet)

    def distinguishing_suffix(self, machine: Machine, word: Word) -> Word | None:
        """Rivest-Schapire: the suffix w[i+1:] at which replacing the prefix by its access word changes the
        network's answer, found by binary search; None if the network does not disagree with the hypothesis."""
        access = [self.words[r] for r in self.access]

        def answer(i: int) -> bytes:
            q = machine.state_after(word[:i])
            return (self.net.final_logits([access[q] + word[i:]])[0, self.columns] > 0).tobytes()

        lo, hi = 0, len(word)
        first = answer(0)
        if answer(hi) == first:
            return None
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if answer(mid) == first:
                lo = mid
            else:
                hi = mid
        return word[hi:]


def _disagreement(sample: Sample, machine: Machine, skip: set[Word]) -> tuple[Word | None, float]:
    """The shortest sampled prefix on which the machine and the network differ (not in ``skip``), and the
    share of whole sampled words on which they agree."""
    mine = machine.run(sample.strings)
    wrong = (mine != sample.truth).any(axis=-1) & sample.mask
    rows = np.arange(len(sample.lengths))
    agree = float(1.0 - wrong[sample.lengths, rows].mean()) if len(rows) else 1.0
    steps, cols = np.nonzero(wrong)
    for t, b in sorted(zip(steps.tolist(), cols.tolist())):
        word = sample.word(b, t)
        if word not in skip:
            return word, agree
    return None, agree


def _occam(seen: list[tuple[float, Machine]]) -> tuple[float, Machine]:
    """The smallest hypothesis whose agreement is within OCCAM of the best."""
    top = max(agree for agree, _ in seen)
    return min(((a, m) for a, m in seen if a >= top - OCCAM), key=lambda am: (am[1].size, -am[0]))


def _confirmed(net: Network, columns: np.ndarray, machine: Machine, word: Word | None) -> Word | None:
    """``word`` if the network's answer after it differs from the machine's."""
    if word is None:
        return None
    said = net.final_logits([word])[0, columns] > 0
    return word if not np.array_equal(said, machine.outputs[machine.state_after(word)]) else None


def learn(net: Network, columns: np.ndarray, labels: tuple[str, ...], base: Sample, rng: np.random.Generator,
          max_states: int = 500, deadline: float = float("inf"), probe_length: int = 20,
          reference: Machine | None = None, progress: Progress | None = None) -> Learned:
    """Learn a Moore machine of the network's ``columns`` heads over its inner alphabet (see module doc).
    ``reference``, a machine read off the hidden states, adds one more equivalence check: its shortest
    difference from the hypothesis, once the network confirms it."""
    K = len(net.inner)
    table = _Table(net, columns)
    skip: set[Word] = set()
    seen: list[tuple[float, Machine]] = []
    rounds = 0
    while True:
        rounds += 1
        closed = table.close(K, max_states)
        machine = table.hypothesis(K, labels, net.inner)
        word, agree = _disagreement(base, machine, skip)
        if word is None:
            access = [table.words[r] for r in table.access]
            count = max(200, 2 * len(access))
            probes = [access[int(q)] + w for q, w in zip(rng.integers(0, len(access), size=count),
                                                         random_words(rng, K, count, probe_length, 1))]
            word, _ = _disagreement(observe(net, columns, probes), machine, skip)
        if word is None and reference is not None:
            word = _confirmed(net, columns, machine, machine_difference(machine, reference))
            word = None if word in skip else word
        seen.append((agree, machine))
        if progress:
            progress(f"L*: round {rounds}, {machine.size} states, {len(table.suffixes)} suffixes, "
                     f"agreement {agree:.2%} on the samples")
        if word is None:
            return Learned(minimise_moore(machine), rounds, None if closed else "max-states", agree)
        if not closed or time.perf_counter() > deadline:
            agree, chosen = _occam(seen)
            return Learned(minimise_moore(chosen), rounds, "max-states" if not closed else "time-limit", agree)
        suffix = table.distinguishing_suffix(machine, word)
        if suffix is None or suffix in table.suffixes:
            skip.add(word)  # the network answered differently in another batch: rounding at a logit near 0
            continue
        table.add_suffix(suffix)
