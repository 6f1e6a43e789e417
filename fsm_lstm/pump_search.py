"""Counterexamples after a failed proof: is the network really wrong, and if nothing is found, what was searched?

A region proof that fails names a word w and the reference state q it reaches: the region there is too wide to
decide a head, or its image escapes. Either the boxes are only too coarse, or the network really goes wrong
somewhere: a cell that creeps a little at every turn of a loop until a head flips, perhaps only once a few more
symbols follow the loop. This module looks for such a word on the network itself, judging every prefix against
the grammar's semantics (for a word classifier, every prefix read as a whole word):

1. every string up to the longest length whose strings fit a budget of ``strings`` (``trie.walk_trie``: batched,
   identical hidden states merged);
2. pumped strings prefix · loop^k · suffix (``Pumped``), from these (prefix, loop) stems:

   - w's own loops, w[:i] (w[i:j])^k w[j:], wherever the reference automaton is in the same state after w[:i]
     and after w[:j] (the rest of w is kept as a suffix);
   - the cycles through q, after a shortest word that reaches q and after w;
   - w then every short word repeated; w, a detour of one or two symbols, then a short loop.

   Each stem is run to the length the budget allows, every prefix judged (a drift that flips a head after
   thousands of turns); at the counts k = 0, 1, ..., 12, then growing by half, every suffix of up to a few
   symbols (as many lengths as fit 64 suffixes) and the kept rest of w are appended and judged.

The shortest wrong word found is run again alone, one step at a time, and cut at its first wrong prefix: that is
the counterexample, and its decomposition is cut with it, so that prefix + loop * count + suffix is exactly it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import UserError
from .queries import Network, Word
from .reference import Reference
from .threads import blas_threads
from .trie import TrieWalk, walk_trie

__all__ = ["EXHAUSTIVE_STRINGS", "EXHAUSTIVE_WORK", "MAX_PUMP_LENGTH", "PumpResult", "Pumped", "WORK",
           "exhaustive_depth", "pump_counterexample", "pumped", "stems", "strings_up_to"]

MAX_PUMP_LENGTH = 4000
WORK = 1e10  # multiply-adds the pumped strings may spend: half on the stems, half on the suffixes
EXHAUSTIVE_STRINGS = 2**16  # strings the enumeration runs at most ...
EXHAUSTIVE_WORK = 2e9  # ... and fewer when their multiply-adds would exceed this
_MAX_STEMS = 256
_LOOP_LIMIT = 12  # the longest loop of w that is pumped
_CYCLE_LIMIT = 8  # the longest cycle through q that is pumped ...
_CYCLES = 32  # ... and how many at most
_CYCLE_WORDS = 4096  # words enumerated to find them
_SUFFIX_WORDS = 64  # every suffix up to the longest length whose words fit this count
_EVERY_COUNT = 12  # counts followed by suffixes: every one up to this, then growing by half
_CONFIRM = 8  # wrong words found that are run again alone, shortest first, before giving up
_MEMORY = 2**27  # bytes the enumeration may hold


@dataclass(frozen=True)
class Pumped:
    """A word written prefix · loop^count · suffix (inner symbol indices)."""

    prefix: Word
    loop: Word
    count: int
    suffix: Word

    @property
    def word(self) -> Word:
        """The word itself."""
        return self.prefix + self.loop * self.count + self.suffix

    def cut(self, length: int) -> Pumped:
        """Its first ``length`` symbols, written the same way (fewer turns of the loop, or a shorter suffix)."""
        body = len(self.prefix) + len(self.loop) * self.count
        if length >= body:
            return pumped(self.prefix, self.loop, self.count, self.suffix[:length - body])
        if length <= len(self.prefix):
            return pumped(self.prefix[:length], self.loop, 0, ())
        turns, rest = divmod(length - len(self.prefix), len(self.loop))
        return pumped(self.prefix, self.loop, turns, self.loop[:rest])


def pumped(prefix: Sequence[int], loop: Sequence[int], count: int, suffix: Sequence[int]) -> Pumped:
    """``Pumped``, with whole turns of the loop that end the prefix or begin the suffix counted as turns (the same
    word: '0 1 1' then '1' twice is '0' then '1' four times)."""
    prefix, loop, suffix = tuple(prefix), tuple(loop), tuple(suffix)
    n = len(loop)
    while n and len(prefix) >= n and prefix[-n:] == loop:
        prefix, count = prefix[:-n], count + 1
    while n and len(suffix) >= n and suffix[:n] == loop:
        suffix, count = suffix[n:], count + 1
    return Pumped(prefix, loop, count, suffix)


@dataclass(frozen=True)
class PumpResult:
    """``found``: the counterexample, confirmed on the network (its last prefix is the first wrong one), or None;
    ``head``: a checked head that is wrong there; ``how``: "enumerated" or "pumped". What was run: every one of
    the ``strings`` strings up to length ``max_len``, and ``words`` pumped strings (every prefix judged) of at most
    ``length`` symbols."""

    found: Pumped | None
    head: int
    strings: int
    max_len: int
    words: int
    length: int
    how: str = ""
    late: bool = False  # the time limit cut the pumped strings short

    @property
    def word(self) -> Word | None:
        """The counterexample, or None."""
        return None if self.found is None else self.found.word

    @property
    def loop(self) -> Word:
        """The counterexample's loop (empty when it was enumerated)."""
        return () if self.found is None else self.found.loop

    def pieces(self) -> tuple[Word, int, Word]:
        """(prefix, turns of ``loop``, suffix) of the counterexample: word = prefix + loop * turns + suffix."""
        assert self.found is not None
        return self.found.prefix, self.found.count, self.found.suffix

    def searched(self) -> str:
        """What was run, for a message: '65,535 strings up to length 15 and 9,876 pumped strings up to 4,000
        symbols'."""
        pumped = f"{self.words:,} pumped strings up to {self.length:,} symbols" if self.words else "no pumped strings"
        return (f"{self.strings:,} strings up to length {self.max_len} and {pumped}"
                + (" (cut short by the time limit)" if self.late else ""))


def exhaustive_depth(symbols: int, weights: int, strings: int = EXHAUSTIVE_STRINGS, cap: int = 64) -> int:
    """The longest length L whose strings (every string up to L, the empty one included: ``strings_up_to``) fit
    in ``strings`` and in ``EXHAUSTIVE_WORK`` multiply-adds of a network of ``weights`` weights; at most ``cap``."""
    budget = max(1, min(strings, int(EXHAUSTIVE_WORK // max(weights, 1))))
    level = 0
    while level < cap and strings_up_to(symbols, level + 1) <= budget:
        level += 1
    return level


def strings_up_to(symbols: int, length: int) -> int:
    """How many strings of ``symbols`` symbols have at most ``length`` symbols."""
    return sum(symbols ** k for k in range(length + 1))


def pump_counterexample(network: Network, ref: Reference, word: Sequence[int], max_length: int = MAX_PUMP_LENGTH,
                        time_limit: float = 30.0, work: float = WORK, strings: int = EXHAUSTIVE_STRINGS
                        ) -> PumpResult:
    """Search for a word on which ``network`` disagrees with ``ref``, near ``word`` (inner symbol indices, the word
    where a proof failed) as the module doc says: every string up to the length ``strings`` allows, then the
    pumped strings, stems run to ``max_length`` symbols at most and cut so that the work stays within ``work``
    multiply-adds (the same search on every machine); ``time_limit`` is only a safety net (the result then says
    how far it got)."""
    with blas_threads(network.model):  # many small batches: BLAS threads would only wait for each other
        return _search(network, ref, tuple(int(a) for a in word), max_length, time.perf_counter() + time_limit, work,
                       strings)


def _search(network: Network, ref: Reference, word: Word, max_length: int, deadline: float, work: float,
            strings: int) -> PumpResult:
    weights = sum(layer.weight_ih.size + layer.weight_hh.size for layer in network.model.layers)
    K = len(network.inner)
    walk, depth = _enumerate(network, ref, exhaustive_depth(K, weights, strings))
    total = strings_up_to(K, depth)
    if walk.failure is not None:
        confirmed = _confirm(network, ref, [pumped(walk.failure.word, (), 0, ())])
        if confirmed is not None:
            return PumpResult(*confirmed, total, depth, 0, 0, "enumerated")
    search = _Search(network, ref, weights, deadline)
    triples = stems(word, ref, K)
    if triples:
        search.run(triples, _suffixes(K), max_length, work)
    late = time.perf_counter() > deadline  # before the confirmation, which is not part of the search
    confirmed = _confirm(network, ref, list(search.wrong.values()))
    if confirmed is None:
        return PumpResult(None, -1, total, depth, search.words, search.length, late=late)
    return PumpResult(*confirmed, total, depth, search.words, search.length, "pumped")


def _enumerate(network: Network, ref: Reference, depth: int) -> tuple[TrieWalk, int]:
    """Every string up to ``depth`` (or less, when a block of prefixes that long does not fit ``_MEMORY``)."""
    while True:
        try:
            return walk_trie(network, ref, depth, _MEMORY, merge=False), depth  # hashing costs more than it saves
        except UserError:
            if depth == 0:
                raise
            depth -= 1


def stems(word: Word, ref: Reference, symbols: int, limit: int = _MAX_STEMS) -> list[tuple[Word, Word, Word]]:
    """(prefix, loop, kept suffix) triples to pump, in the order the module doc lists them, the loop cut to its
    root (pumping 0 1 covers pumping 0 1 0 1) and whole turns moved out of the prefix and the kept suffix (counts
    then start earlier: ``pumped``), without repeats; the first ``limit``."""
    out: dict[tuple[Word, Word, Word], None] = {}
    for prefix, loop, kept in _candidates(word, ref, symbols):
        p = pumped(prefix, _root(loop), 0, kept)
        out.setdefault((p.prefix, p.loop, p.suffix), None)
        if len(out) >= limit:
            break
    return list(out)


def _candidates(word: Word, ref: Reference, symbols: int) -> Iterator[tuple[Word, Word, Word]]:
    states = ref.walk(word)
    for length in range(1, min(_LOOP_LIMIT, len(word)) + 1):  # w's own loops, the rest of w kept
        for i in range(len(word) - length, -1, -1):
            if states[i] == states[i + length]:
                yield word[:i], word[i:i + length], word[i + length:]
    q = int(states[-1])
    cycles = _cycles(ref, q, symbols)
    for prefix in dict.fromkeys((_shortest_word(ref, q), word)):
        for cycle in cycles:
            yield prefix, cycle, ()
    extra_length = 3 if symbols <= 3 else 2 if symbols <= 8 else 1
    loops = [loop for length in range(1, extra_length + 1) for loop in itertools.product(range(symbols), repeat=length)
             if len(set(loop)) == len(loop) or length == 1]  # aa, aaa are a's own loop
    for loop in loops:
        yield word, loop, ()
    for u in (u for length in (1, 2) for u in itertools.product(range(symbols), repeat=length)):
        for loop in loops:  # a short detour first (the drift may live in a state w does not end in)
            if len(loop) <= 2 and loop[0] != u[-1]:
                yield word + u, loop, ()


def _root(loop: Word) -> Word:
    """The shortest u with loop = u^n."""
    n = len(loop)
    return next(loop[:p] for p in range(1, n + 1) if n % p == 0 and loop[:p] * (n // p) == loop)


def _cycles(ref: Reference, q: int, symbols: int) -> list[Word]:
    """Words that lead the reference automaton from q back to q, shortest first, none a power of a shorter one."""
    out: list[Word] = []
    words, states = np.zeros((1, 0), dtype=np.int64), np.array([q])
    for _ in range(_CYCLE_LIMIT):
        if not symbols or len(words) * symbols > _CYCLE_WORDS:
            break
        words = np.hstack([np.repeat(words, symbols, axis=0), np.tile(np.arange(symbols), len(words))[:, None]])
        states = ref.table[np.repeat(states, symbols), words[:, -1]]
        for row in words[states == q]:
            cycle = tuple(int(a) for a in row)
            if _root(cycle) == cycle and len(out) < _CYCLES:
                out.append(cycle)
    return out


def _shortest_word(ref: Reference, q: int) -> Word:
    """A shortest word that leads the reference automaton from its start to q (breadth first)."""
    parent: dict[int, tuple[int, int]] = {ref.start: (-1, -1)}
    level = [ref.start]
    while q not in parent and level:
        nxt = []
        for s in level:
            for a, t in enumerate(ref.table[s]):
                if int(t) not in parent:
                    parent[int(t)] = (s, a)
                    nxt.append(int(t))
        level = nxt
    out = []
    while q in parent and parent[q][0] >= 0:
        q, a = parent[q]
        out.append(a)
    return tuple(reversed(out))


def _suffixes(symbols: int) -> list[Word]:
    """Every word of 1 to S symbols, S the longest length whose words fit ``_SUFFIX_WORDS`` (0 beyond 64 symbols)."""
    out: list[Word] = []
    for length in itertools.count(1):
        if not symbols or len(out) + symbols ** length > _SUFFIX_WORDS:
            return out
        out += itertools.product(range(symbols), repeat=length)


def _counts(most: int, allowed: int) -> list[int]:
    """The turns of a loop after which suffixes are tried: 0 to ``_EVERY_COUNT``, then growing by half up to
    ``most``; at most ``allowed`` of them (the small ones, then an even spread of the rest)."""
    if most < 0:
        return []
    counts = list(range(min(most, _EVERY_COUNT) + 1))
    while counts[-1] < most:
        counts.append(min(most, counts[-1] + (counts[-1] + 1) // 2))
    if len(counts) <= allowed:
        return counts
    head = counts[:max(1, allowed // 2)]
    rest = counts[len(head):]
    picks = np.unique(np.linspace(0, len(rest) - 1, max(1, allowed - len(head))).round().astype(int))
    return head + [rest[k] for k in picks]


class _Search:
    """Pumped strings run in batches; keeps the wrong words found (shortest first) and counts what it ran."""

    def __init__(self, network: Network, ref: Reference, weights: int, deadline: float) -> None:
        self.network, self.ref, self.weights, self.deadline = network, ref, max(weights, 1), deadline
        self.wrong: dict[Word, Pumped] = {}
        self.words = 0
        self.length = 0

    def judge(self, states: np.ndarray, q: np.ndarray, written: Callable[[int], Pumped]) -> bool:
        """Judge a batch of states; keep the shortest wrong row's word (``written(row)``); any wrong?"""
        bad = self.ref.wrong(self.network.logits(states)[:, self.ref.columns] > 0, q).any(axis=1)
        rows = np.flatnonzero(bad)
        if rows.size:
            found = min((written(int(r)) for r in rows[:_CONFIRM]), key=lambda p: len(p.word))
            self.wrong.setdefault(found.word, found)
        return bool(rows.size)

    def run(self, triples: list[tuple[Word, Word, Word]], short: list[Word], max_length: int, work: float,
            counts: Callable[[int, int], list[int]] = _counts) -> None:
        """Run every stem prefix · loop^∞ to the length half of ``work`` allows (at most ``max_length``), judging
        every prefix; then after the turns ``counts(most, allowed)`` every suffix in ``short`` and the stem's
        kept one. A wrong word found among the suffixes at a count beyond the first ones is narrowed down: the
        counts in between are tried too."""
        if time.perf_counter() > self.deadline:  # the enumeration before took the time: no stem is run
            return
        B = len(triples)
        max_length = max(1, min(max_length, int(work / 2 // (B * self.weights))))
        nodes = max(1, len(short) + max(len(kept) for _, _, kept in triples))
        allowed = max(1, int(work / 2 // (B * nodes * self.weights)))
        points = self.run_stems(triples, max_length, lambda most: counts(most, allowed))
        for b, (prefix, loop, kept) in enumerate(triples):
            if points[b] and time.perf_counter() < self.deadline:
                self.run_suffixes(prefix, loop, points[b], short + [kept] if kept else short)
        if not self.wrong:
            return
        best = min(self.wrong.values(), key=lambda p: len(p.word))
        b = next((b for b, (prefix, loop, _) in enumerate(triples) if (prefix, loop) == (best.prefix, best.loop)),
                 None)
        if b is None or not best.suffix:
            return
        prefix, loop, kept = triples[b]
        below = best.count - max(map(len, short + [kept])) // len(loop)  # the suffix may have begun with turns
        before = max((k for k, _, _ in points[b] if k < below), default=best.count)
        if best.count - before > 1 and time.perf_counter() < self.deadline:
            between = self.run_stems([triples[b]], len(prefix) + len(loop) * (best.count - 1),
                                     lambda _: list(range(before + 1, best.count)))[0]
            self.run_suffixes(prefix, loop, between, short + [kept] if kept else short)

    def run_stems(self, triples: list[tuple[Word, Word, Word]], max_length: int, counts: Callable[[int], list[int]]
                  ) -> list[list[tuple[int, np.ndarray, int]]]:
        """Run the stems batched, judging every prefix, until one is wrong or ``max_length``; return, per stem,
        the (turns, state, reference state) after each count ``counts(most turns)`` asks for."""
        B = len(triples)
        words = np.empty((B, max_length), dtype=np.int64)
        whole = [Pumped(prefix, loop, max_length // len(loop) + 1, ()) for prefix, loop, _ in triples]
        at: dict[int, list[tuple[int, int]]] = {}  # step -> (stem, turns) to save there
        for b, (prefix, loop, _) in enumerate(triples):
            words[b] = whole[b].word[:max_length]
            most = (max_length - len(prefix)) // len(loop)
            for k in counts(most):
                if 0 <= k <= most:
                    at.setdefault(len(prefix) + k * len(loop), []).append((b, k))
        points: list[list[tuple[int, np.ndarray, int]]] = [[] for _ in range(B)]
        state = self.network.initial(B)
        q = np.full(B, self.ref.start, dtype=np.int64)
        t = 0
        while True:
            for b, k in at.get(t, ()):
                points[b].append((k, state[b].copy(), int(q[b])))
            self.length = max(self.length, t)
            if self.judge(state, q, lambda r: whole[r].cut(t)) or t >= max_length:
                break
            if time.perf_counter() > self.deadline:
                break
            state = self.network.step(state, words[:, t])
            q = self.ref.table[q, words[:, t]]
            t += 1
        self.words += B
        return points

    def run_suffixes(self, prefix: Word, loop: Word, points: list[tuple[int, np.ndarray, int]],
                     suffixes: list[Word]) -> None:
        """From every saved point (turns, state, reference state) of one stem, run every suffix (their prefix
        tree, level by level), judging every node."""
        levels = _tree(suffixes)
        turns = np.array([k for k, _, _ in points])
        state = np.stack([s for _, s, _ in points])
        q = np.array([r for _, _, r in points])
        base = len(prefix)
        previous: list[Word] = [()]
        for nodes, parents, symbols in levels:
            n = len(nodes)
            rows = (np.arange(len(points))[:, None] * len(previous) + np.asarray(parents)[None, :]).ravel()
            step = np.tile(np.asarray(symbols), len(points))
            state = self.network.step(state[rows], step)
            q = self.ref.table[q[rows], step]
            self.words += len(points) * n
            self.length = max(self.length, base + len(loop) * int(turns.max()) + len(nodes[0]))
            self.judge(state, q, lambda r: pumped(prefix, loop, int(turns[r // n]), nodes[r % n]))
            previous = nodes


def _tree(words: list[Word]) -> list[tuple[list[Word], list[int], list[int]]]:
    """The prefix tree of ``words``, level by level: (the nodes of length d, each one's parent's index among the
    nodes of length d - 1, its last symbol)."""
    levels: list[tuple[list[Word], list[int], list[int]]] = []
    previous = {(): 0}
    for d in range(1, max(map(len, words), default=0) + 1):
        nodes = list(dict.fromkeys(w[:d] for w in words if len(w) >= d))
        levels.append((nodes, [previous[w[:-1]] for w in nodes], [w[-1] for w in nodes]))
        previous = {w: k for k, w in enumerate(nodes)}
    return levels


def _confirm(network: Network, ref: Reference, found: Sequence[Pumped]) -> tuple[Pumped, int] | None:
    """The first of ``found`` (shortest first) that the network, run alone one step at a time, gets wrong at some
    prefix: that word cut at its first wrong prefix, and the wrong head."""
    for candidate in sorted(found, key=lambda p: (len(p.word), p.word))[:_CONFIRM]:
        word = candidate.word
        bad = ref.wrong(network.walk(word)[:, ref.columns] > 0, ref.walk(word))
        rows = np.flatnonzero(bad.any(axis=1))
        if rows.size:
            t = int(rows[0])
            return candidate.cut(t), int(np.flatnonzero(bad[t])[0])
    return None
