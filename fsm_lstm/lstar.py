"""Angluin's L* with the network as teacher, built to cope with large trained networks.

- Membership queries: an observation table whose rows (access words and their one-symbol extensions) keep
  their hidden states, so a query costs only the steps of its suffix; all rows x suffixes of a fill run as one
  batched walk down the trie of the suffixes.
- Closing only where the samples go: an extension row whose signature no access row has is a *loose* edge of
  the hypothesis, sent to the access row that differs in the fewest cells. It becomes a state of its own only
  when at least ``MIN_TRAFFIC`` sampled prefixes cross it (the busiest first), or when a counterexample's
  breakpoint falls on it. On a network that is not exactly finite-state, closing every new signature spends
  the state budget on rows no typical word reaches (measured: 5.9 % error at the 500-row cap within a second
  on rnn64_q20_s20, against about 4 % this way).
- Equivalence queries: the hypothesis is compared with the network on sampled words (uniform words, the
  user's typical words and their near neighbours, and words that reach every hypothesis state), all prefixes
  included. The shortest disagreement is the counterexample.
- Counterexamples are processed as Rivest and Schapire do: a binary search finds one new distinguishing
  suffix, so the table grows by one column per counterexample; when that suffix is a column already, the
  breakpoint is a loose edge, which is promoted instead.
- Limits: ``max_states``, a deadline, and a plateau: ``patience`` rounds in a row that raise the best
  validation agreement by less than ``PLATEAU_GAIN`` (not once it is 100 %: an exact network
  keeps going until the samples find no counterexample). On a network that is not exactly
  finite-state, L* otherwise chases irregularities until the deadline (measured: gru64_q6_s20 flat at
  99.85-99.9 % from round 110 to 350). When a limit is reached (or only loose edges too quiet to promote are
  left), the hypothesis returned is the smallest one whose agreement with the network on a separate
  validation sample is within ``OCCAM`` of the best seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .limits import PATIENCE, PLATEAU_GAIN
from .machine import Machine, machine_difference, minimise_moore
from .queries import Network
from .sampling import Sample, observe, random_words

__all__ = ["Learned", "MIN_TRAFFIC", "OCCAM", "Progress", "Word", "learn"]

Word = tuple[int, ...]
Progress = Callable[[str], None]
OCCAM = 0.005  # agreement (share of validation words) worth no extra states
MIN_TRAFFIC = 3  # sampled prefixes that must cross a loose edge before it becomes a state


@dataclass(frozen=True)
class Learned:
    """The learner's result: the machine, rounds of equivalence queries, why it stopped early (None when the
    samples found no counterexample; else "time-limit", "max-states" or "plateau"), its agreement with the network
    on the validation sample (the samples of its last round without one), and every round's (hypothesis states before
    minimisation, agreement)."""

    machine: Machine
    rounds: int
    stopped: str | None
    agreement: float
    history: tuple[tuple[int, float], ...] = ()


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

    def signatures(self) -> np.ndarray:
        """(rows,) one integer per distinct row of cells."""
        packed = np.packbits(self.cells.reshape(len(self.cells), -1), axis=1).astype(np.uint64)
        weights = np.random.default_rng(len(self.suffixes)).integers(1, 2**63, size=packed.shape[1], dtype=np.uint64)
        hashed = (packed * weights).sum(axis=1)  # wraps modulo 2**64: equal rows, equal sums; distinct, almost never
        _, first, ids = np.unique(hashed, return_index=True, return_inverse=True)
        ids = ids.reshape(-1)
        if not np.array_equal(packed, packed[first[ids]]):  # a collision: sort the rows themselves
            ids = np.unique(packed, axis=0, return_inverse=True)[1].reshape(-1)
        return ids

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

    def start(self, symbols: int) -> None:
        """The empty word as the first access row, with its one-symbol extensions."""
        if not self.access:
            self.add_rows([()])
            self.access = [self.index[()]]
            self.add_rows([(a,) for a in range(symbols)])

    def promote(self, words: Sequence[Word], symbols: int) -> None:
        """Make extension rows access rows (states), with their own extensions."""
        self.access += [self.index[w] for w in words]
        self.add_rows([w + (a,) for w in words for a in range(symbols)])

    def hypothesis(self, symbols: int, labels: tuple[str, ...], alphabet: tuple[str, ...]
                   ) -> tuple[Machine, dict[tuple[int, int], int], np.ndarray]:
        """The machine of the access rows; its loose edges, (state, symbol) -> extension row, for every extension
        whose signature no access row has (such an edge goes to the access row that differs in the fewest
        cells); and every row's signature."""
        sig = self.signatures()
        access = np.array(self.access)
        owner = np.full(int(sig.max()) + 1, -1, dtype=np.int64)
        owner[sig[access][::-1]] = np.arange(len(access))[::-1]
        rows = np.array([[self.index[self.words[r] + (a,)] for a in range(symbols)] for r in self.access])
        delta = owner[sig[rows]]
        k_loose, a_loose = np.nonzero(delta < 0)
        loose = {(int(k), int(a)): int(rows[k, a]) for k, a in zip(k_loose, a_loose)}
        if loose:
            def signs(rows: np.ndarray) -> np.ndarray:
                return self.cells[rows].reshape(len(rows), -1).astype(np.float32) * 2 - 1

            near = signs(rows[k_loose, a_loose]) @ signs(access).T  # agreements - disagreements
            delta[k_loose, a_loose] = near.argmax(axis=1)
        return Machine(self.cells[access, 0, :], delta, labels, alphabet), loose, sig

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


def _plateau(seen: list[tuple[float, Machine]], patience: int) -> bool:
    """Whether the last ``patience`` rounds raised the best agreement by less than PLATEAU_GAIN, below 100 %."""
    if len(seen) <= patience:
        return False
    before = max(agree for agree, _ in seen[:-patience])
    best = max(before, max(agree for agree, _ in seen[-patience:]))
    return best < 1.0 and best < before + PLATEAU_GAIN


def _confirmed(net: Network, columns: np.ndarray, machine: Machine, word: Word | None) -> Word | None:
    """``word`` if the network's answer after it differs from the machine's."""
    if word is None:
        return None
    said = net.final_logits([word])[0, columns] > 0
    return word if not np.array_equal(said, machine.outputs[machine.state_after(word)]) else None


def _traffic(machine: Machine, sample: Sample) -> np.ndarray:
    """(n, K) how many sampled prefixes cross each edge of the machine."""
    states = machine.states_along(sample.strings)[:-1]  # (T, B): the state before each symbol
    real = np.arange(sample.strings.shape[1])[:, None] < sample.lengths[None, :]
    K = machine.delta.shape[1]
    edges = states[real] * K + sample.strings.T[real]
    return np.bincount(edges, minlength=machine.size * K).reshape(machine.size, K)


def _tighten(table: _Table, sample: Sample, symbols: int, labels: tuple[str, ...], alphabet: tuple[str, ...],
             max_states: int, min_traffic: int) -> tuple[Machine, dict[tuple[int, int], int], bool]:
    """Promote loose extensions that at least ``min_traffic`` sampled prefixes cross, one per signature (the
    busiest first), until none is left or ``max_states`` is reached; the hypothesis, its loose edges, and
    whether room ran out."""
    while True:
        machine, loose, sig = table.hypothesis(symbols, labels, alphabet)
        room = max_states - len(table.access)
        if not loose or room <= 0:
            return machine, loose, bool(loose)
        traffic = _traffic(machine, sample)
        load: dict[int, int] = {}
        pick: dict[int, tuple[int, int]] = {}
        for (k, a), row in loose.items():
            s, t = int(sig[row]), int(traffic[k, a])
            load[s] = load.get(s, 0) + t
            if s not in pick or t > pick[s][0]:
                pick[s] = (t, row)
        chosen = sorted((-load[s], pick[s][1]) for s in load if load[s] >= min_traffic)
        if not chosen:
            return machine, loose, False
        table.promote([table.words[row] for _, row in chosen[:room]], symbols)


def learn(net: Network, columns: np.ndarray, labels: tuple[str, ...], base: Sample, rng: np.random.Generator,
          max_states: int = 500, deadline: float = float("inf"), probe_length: int = 20,
          reference: Machine | None = None, progress: Progress | None = None, validation: Sample | None = None,
          min_traffic: int = MIN_TRAFFIC, patience: int = PATIENCE) -> Learned:
    """Learn a Moore machine of the network's ``columns`` heads over its inner alphabet (see module doc).
    ``reference``, a machine read off the hidden states, adds one more equivalence check: its shortest
    difference from the hypothesis, once the network confirms it."""
    K = len(net.inner)
    table = _Table(net, columns)
    table.start(K)
    skip: set[Word] = set()
    seen: list[tuple[float, Machine]] = []
    rounds = 0
    threshold = min_traffic

    def history() -> tuple[tuple[int, float], ...]:
        return tuple((m.size, a) for a, m in seen)

    while True:
        rounds += 1
        machine, loose, full = _tighten(table, base, K, labels, net.inner, max_states, threshold)
        word, agree = _disagreement(base, machine, skip)
        if validation is not None:
            agree = _disagreement(validation, machine, set())[1]
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
            progress(f"L*: round {rounds}, {machine.size} states ({len(loose)} loose edges), "
                     f"{len(table.suffixes)} suffixes, agreement {agree:.2%} on the samples")
        if word is None and not loose:
            return Learned(minimise_moore(machine), rounds, None, agree, history())
        late = time.perf_counter() > deadline
        flat = _plateau(seen, patience)
        if late or flat or (word is None and full):
            agree, chosen = _occam(seen)
            why = "time-limit" if late else "plateau" if flat else "max-states"
            return Learned(minimise_moore(chosen), rounds, why, agree, history())
        if word is None:  # no counterexample: close the table, quiet edges included
            threshold = 0
            continue
        threshold = min_traffic
        suffix = table.distinguishing_suffix(machine, word)
        if suffix is None:
            skip.add(word)  # the network answered differently in another batch: rounding at a logit near 0
        elif suffix not in table.suffixes:
            table.add_suffix(suffix)
        else:  # the breakpoint crosses a loose edge: its extension becomes a state
            cut = len(word) - len(suffix) - 1
            edge = (machine.state_after(word[:cut]), word[cut])
            if edge not in loose:
                skip.add(word)
            elif len(table.access) < max_states:
                table.promote([table.words[loose[edge]]], K)
            else:
                agree, chosen = _occam(seen)
                return Learned(minimise_moore(chosen), rounds, "max-states", agree, history())
