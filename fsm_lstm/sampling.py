"""Sampled words and what the network says on them: the test sets of extraction's equivalence queries and of
its fidelity.

Words are tuples of inner symbol indices. A ``Sample`` holds them padded, with the network's outputs after
every prefix (each prefix is itself a word), so that one batched run answers many questions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .queries import Network

__all__ = ["Batch", "Runner", "Sample", "Word", "final_truth", "guided_words", "joined", "observe", "observe_batch",
           "random_words", "variations"]

Word = tuple[int, ...]


def random_words(rng: np.random.Generator, symbols: int, count: int, max_len: int, min_len: int = 0) -> list[Word]:
    """Uniform symbols, lengths uniform in [min_len, max_len]."""
    lengths = rng.integers(min_len, max_len + 1, size=count)
    return [tuple(rng.integers(0, symbols, size=int(n)).tolist()) for n in lengths]


def variations(rng: np.random.Generator, words: Sequence[Word], symbols: int) -> list[Word]:
    """Near neighbours of typical words: one symbol substituted, inserted or deleted, and an infix pumped."""
    out: list[Word] = []
    for w in words:
        n = len(w)
        a = int(rng.integers(symbols))
        pos = int(rng.integers(n + 1))
        out.append(w[:pos] + (a,) + w[pos:])
        if n:
            p = int(rng.integers(n))
            out.append(w[:p] + (a,) + w[p + 1:])
            out.append(w[:p] + w[p + 1:])
            i, j = sorted(int(x) for x in rng.integers(0, n + 1, size=2))
            if j > i:
                out.append(w[:i] + w[i:j] * int(rng.integers(2, 5)) + w[j:])
    return out


@dataclass(frozen=True)
class Sample:
    """strings (B, T) padded inner words, lengths (B,), truth (T+1, B, O) the network's outputs after every
    prefix; entries past a word's length are padding."""

    strings: np.ndarray
    lengths: np.ndarray
    truth: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """(T+1, B) True at every real prefix."""
        return np.arange(self.strings.shape[1] + 1)[:, None] <= self.lengths[None, :]

    def word(self, row: int, length: int) -> Word:
        """A prefix of one sampled word."""
        return tuple(int(a) for a in self.strings[row, :length])

    def final(self) -> np.ndarray:
        """(B, O) the network's outputs after each whole word."""
        return self.truth[self.lengths, np.arange(len(self.lengths))]


def joined(a: Sample, b: Sample) -> Sample:
    """One sample holding the words of both."""
    steps = max(a.strings.shape[1], b.strings.shape[1])
    strings = np.zeros((len(a.lengths) + len(b.lengths), steps), dtype=np.int64)
    truth = np.zeros((steps + 1, len(strings), a.truth.shape[2]), dtype=bool)
    for part, lo in ((a, 0), (b, len(a.lengths))):
        strings[lo:lo + len(part.lengths), :part.strings.shape[1]] = part.strings
        truth[:len(part.truth), lo:lo + len(part.lengths)] = part.truth
    return Sample(strings, np.concatenate([a.lengths, b.lengths]), truth)


Batch = tuple[np.ndarray, np.ndarray]  # (B, T) padded words and (B,) lengths, run together
Runner = Callable[[np.ndarray, list[Batch]], list[np.ndarray]]  # (columns, batches) -> observe_batch of each


def _walked(net: Network, strings: np.ndarray, lengths: np.ndarray
            ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    """(B, T) padded words run together as one batch, longest first: for each length t, the words' order, the
    states of the words with a prefix of length t (in that order), their recurrent products, and how many of
    them go on. A word is stepped only while it lasts, and each state's products serve both its end marker and
    its next symbol."""
    order = np.argsort(-lengths, kind="stable")  # the words still running at any step come first
    ends, symbols = lengths[order], strings[order]
    state = net.initial(len(lengths))
    for t in range(int(lengths.max(initial=0)) + 1):
        state = state[:int((ends >= t).sum())]  # the words with a prefix of length t
        products = net.products(state)
        going = int((ends > t).sum())
        yield order, state, products, going
        if going:
            state = net.step(state[:going], symbols[:going, t], products[:going])


def observe_batch(net: Network, columns: np.ndarray, strings: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(T + 1, B, len(columns)): the heads ``columns`` after every prefix of words run together as one batch
    (False past a word's end; :func:`_walked`)."""
    truth = np.zeros((int(lengths.max(initial=0)) + 1, len(lengths), len(columns)), dtype=bool)
    for t, (order, state, products, _) in enumerate(_walked(net, strings, lengths)):
        truth[t, order[:len(state)]] = net.logits(state, products)[:, columns] > 0
    return truth


def final_truth(net: Network, columns: np.ndarray, strings: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(B, len(columns)): the heads ``columns`` after each whole word alone (of (B, T) padded words; one word asked
    each in ``net.calls``). Cheaper than :func:`observe_batch` for a word classifier, which would read the end
    marker after every prefix."""
    out = np.zeros((len(lengths), len(columns)), dtype=bool)
    for order, state, products, going in _walked(net, strings, lengths):
        if going < len(state):  # the words that end here: the last rows still running
            out[order[going:len(state)]] = net.logits(state[going:], products[going:])[:, columns] > 0
    net.calls += len(lengths)
    return out


def observe(net: Network, columns: np.ndarray, words: Sequence[Word], chunk: int = 2048,
            run: Runner | None = None) -> Sample:
    """Run the words through the network, reading the output heads ``columns`` after every prefix, in batches of
    ``chunk`` words, longest first; ``run`` answers the batches (default: here, one after another). Every prefix
    counts as a word asked in ``net.calls``, as in :meth:`Network.walk`."""
    length = max((len(w) for w in words), default=0)
    strings = np.zeros((len(words), length), dtype=np.int64)
    lengths = np.array([len(w) for w in words], dtype=np.int64)
    for b, w in enumerate(words):
        strings[b, :len(w)] = w
    truth = np.zeros((length + 1, len(words), len(columns)), dtype=bool)
    net.calls += int((lengths + 1).sum())  # a verdict after every prefix, each one a word asked
    order = np.argsort(-lengths, kind="stable")  # longest first, so that each chunk stops at its own length
    chunks = [order[lo:lo + chunk] for lo in range(0, len(words), chunk)]
    batches = [(strings[rows, :int(lengths[rows].max())], lengths[rows]) for rows in chunks]
    answers = run(columns, batches) if run is not None else [observe_batch(net, columns, *b) for b in batches]
    for rows, part in zip(chunks, answers):
        truth[:len(part), rows] = part
    return Sample(strings, lengths, truth)


def guided_words(net: Network, next_columns: list[tuple[int, int]], rng: np.random.Generator, count: int,
                 length: int) -> list[Word]:
    """Words the network itself generates: at each step, mostly (90 %) a symbol its ``next:`` heads allow, so
    that sparse languages are covered too. ``next_columns`` pairs a head index with an inner symbol index."""
    if not next_columns or count < 1:
        return []
    heads = np.array([k for k, _ in next_columns])
    targets = np.array([a for _, a in next_columns])
    K = len(net.inner)
    state = net.initial(count)
    words = np.empty((count, length), dtype=np.int64)
    for t in range(length):
        allowed = np.zeros((count, K), dtype=bool)
        allowed[:, targets] = net.logits(state)[:, heads] > 0
        scores = np.where(allowed, rng.random(allowed.shape), -1.0)
        follow = allowed.any(axis=1) & (rng.random(count) < 0.9)
        words[:, t] = np.where(follow, scores.argmax(axis=1), rng.integers(0, K, size=count))
        state = net.step(state, words[:, t])
    net.calls += count * length  # the heads read after every prefix
    cut = rng.integers(0, length + 1, size=count)
    return [tuple(words[b, :int(cut[b])].tolist()) for b in range(count)]
