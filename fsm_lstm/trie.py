"""Every word up to a length, in bounded memory: the prefix trie walked depth first in blocks of prefixes, with
prefixes whose hidden states are bitwise identical merged.

Blocks hold prefixes of one length in alphabetical order, and a block's children (each row followed by every
symbol, in order) come before the next block of its length, so the words of any one length are visited in
alphabetical order. Only one partly expanded block per length is kept, so memory is
(max_len + 1) x block rows, whatever the number of words. A row keeps its hidden state, the row of its parent
in the block below it and its last symbol, not its whole word (words of length l in every one of the max_len
live blocks would take rows x max_len^2 x 2 bytes: 4 GB at --max-len 1500 and a 100 MB budget): a failing
word is read back along the open blocks, which are always the path to it.

Merging: a prefix whose (hidden state, reference state) pair was already visited at the same or a smaller
length is dropped, since every continuation of it behaves exactly as the same continuation of the earlier,
shorter or alphabetically earlier prefix. A pair met again at a smaller length is walked again. So the
failure reported is the same with and without merging: the shortest failing word, and the alphabetically
first among those. Pairs are keyed by a 128-bit BLAKE2b digest of their bytes; the table of digests is capped
by the memory budget (beyond it, new pairs are simply not merged, which is always safe).

A deadline cuts the walk short. Every word is then run up to the shortest length at which a block still has
rows whose children were not generated (the words one symbol longer are the first incomplete ones); that length
is the walk's ``agreed`` length, and a failure found is real but need not be the shortest.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import UserError
from .model import readable_bytes
from .queries import Network
from .reference import Reference

__all__ = ["DIGEST_BYTES", "Failure", "TrieWalk", "block_rows", "closer", "walk_trie"]

DIGEST_BYTES = 150  # what one entry of the merge table costs, digest and dict slot included


@dataclass(frozen=True)
class Failure:
    """The first failing word found (inner symbol indices), the checked head's index and its logit."""

    word: tuple[int, ...]
    head: int
    logit: float


@dataclass(frozen=True)
class TrieWalk:
    """The outcome: the shortest failure (or None), the prefixes run, the length up to which every word agreed,
    ``seen``: each distinct (hidden state, reference state) pair met (its digest) with the shortest length it
    was met at (empty when merging was off), whether the walk ended (False: a deadline cut it short, and
    ``agreed`` is the length up to which every word was run), and the word whose judged head value lay nearest 0
    (as a :class:`Failure`, though it need not fail), to check for round-off."""

    failure: Failure | None
    prefixes: int
    agreed: int
    seen: dict[bytes, int]
    complete: bool = True
    closest: Failure | None = None  # the judged head value nearest 0 among the words run (:func:`closer`)

    @property
    def distinct(self) -> int:
        """Distinct pairs reached by the words up to the agreed length: the same however the walk was ordered
        or split."""
        return sum(1 for level in self.seen.values() if level <= self.agreed)


@dataclass
class _Block:
    level: int
    states: np.ndarray  # (B, D) packed hidden states
    dfa: np.ndarray  # (B,) reference state indices
    parents: np.ndarray  # (B,) each row's parent row in the block below it (rows in alphabetical order)
    symbols: np.ndarray  # (B,) each row's last inner symbol
    expanded: int = 0  # rows whose children were already generated


def block_rows(state_bytes: int, heads: int, max_len: int, symbols: int, memory: int) -> int:
    """Prefixes per block so that every live block (one per length) and one step's temporaries fit in half of
    ``memory``; refuses, naming the figures, when not even one parent's children fit."""
    # parents, symbols, dfa: 24 per length; per head, about 30 bytes of the check's temporaries (float32 logits,
    # judged values, their negation, signed margin and its absolute value for the round-off screen; bool masks)
    per_row = state_bytes * (max_len + 14) + 32 * heads + 24 * (max_len + 1) + 64
    rows = memory // 2 // per_row
    if rows < symbols:
        need = 2 * symbols * per_row  # half the budget is for the blocks
        raise UserError(f"the memory budget of {readable_bytes(memory)} cannot hold one block of prefixes "
                        f"({symbols} rows, each a state of {state_bytes:,} bytes for each of {max_len + 1} lengths and "
                        f"a step's temporaries: {readable_bytes(need)} with the half of the budget kept for the rest); "
                        "raise --memory or lower --max-len")
    return int(rows)


def walk_trie(net: Network, ref: Reference, max_len: int, memory: int = 2**30, merge: bool = True,
              progress: Callable[[str], None] | None = None, prefix: tuple[int, ...] = (),
              deadline: float = float("inf")) -> TrieWalk:
    """Check every word up to ``max_len`` (see the module doc) that starts with ``prefix`` (inner symbol
    indices); the failure is the shortest, then the alphabetically first. Counts prefixes run in ``net.calls``.
    ``deadline`` (a ``time.perf_counter()`` value) cuts the walk short (see the module doc)."""
    K = len(net.inner)
    rows = block_rows(net.start.nbytes, len(ref.columns), max_len, K, memory)
    parents_per_block = max(1, rows // K)
    seen: dict[bytes, int] = {}
    seen_cap = max(0, memory // 4 // DIGEST_BYTES) if merge else 0
    best: Failure | None = None
    closest: Failure | None = None
    prefixes = 1
    blocks = 0

    def keep(block: _Block) -> _Block:
        """Drop the rows met before at this length or a smaller one; record the others."""
        if not merge:
            return block
        kept = []
        states = np.ascontiguousarray(block.states)
        for r in range(len(states)):
            key = hashlib.blake2b(states[r].tobytes(), digest_size=16,
                                  person=int(block.dfa[r]).to_bytes(8, "little", signed=True)).digest()
            level = seen.get(key)
            if level is not None and level <= block.level:
                continue
            if level is not None or len(seen) < seen_cap:
                seen[key] = block.level
            kept.append(r)
        if len(kept) == len(states):
            return block
        idx = np.array(kept, dtype=np.int64)
        return _Block(block.level, states[idx], block.dfa[idx], block.parents[idx], block.symbols[idx])

    def word_of(block: _Block, row: int) -> tuple[int, ...]:
        """The word of a row of ``block``, read back along the open blocks below it (its path from the root)."""
        symbols = []
        for below in reversed(stack):
            symbols.append(int(block.symbols[row]))
            row, block = int(block.parents[row]), below
        return prefix + tuple(reversed(symbols))

    def check(block: _Block) -> None:
        nonlocal best, closest
        if not len(block.dfa):
            return
        logits = net.logits(block.states)
        values = logits[:, ref.columns]
        margin = np.abs(ref.signed(block.dfa, values, values))  # inf where a head is not judged
        r, h = np.unravel_index(int(np.argmin(margin)), margin.shape)
        if np.isfinite(margin[r, h]):
            closest = closer(closest, Failure(word_of(block, int(r)), int(h), float(values[r, h])))
        bad = ref.wrong(values > 0, block.dfa)
        failing = np.flatnonzero(bad.any(axis=1))
        if not failing.size:
            return
        r = int(failing[0])
        head = int(np.flatnonzero(bad[r])[0])
        word = word_of(block, r)
        if best is None or (len(word), word) < (len(best.word), best.word):
            best = Failure(word, head, float(values[r, head]))

    state, dfa = net.initial(1), np.array([ref.start])
    for a in prefix:
        state, dfa = net.step(state, np.array([a])), ref.table[dfa, [a]]
    stack: list[_Block] = []
    root = keep(_Block(len(prefix), state, dfa, np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int32)))
    check(root)
    stack.append(root)
    limit = max_len
    while stack:
        top = stack[-1]
        limit = max_len if best is None else min(max_len, len(best.word) - 1)
        if top.level >= limit or top.expanded >= len(top.dfa):
            stack.pop()
            continue
        if time.perf_counter() > deadline:
            break
        lo, hi = top.expanded, min(top.expanded + parents_per_block, len(top.dfa))
        top.expanded = hi
        n = hi - lo
        parents = np.repeat(np.arange(lo, hi), K)
        symbols = np.tile(np.arange(K), n)
        child = _Block(top.level + 1, net.step(top.states[parents], symbols), ref.table[top.dfa[parents], symbols],
                       parents, symbols.astype(np.int32))
        prefixes += len(parents)
        child = keep(child)
        check(child)
        stack.append(child)
        blocks += 1
        if progress and blocks % 64 == 0:
            progress(f"exhaustive: {prefixes:,} prefixes run, {len(seen):,} distinct states, "
                     f"{len(stack)} open blocks")
    net.calls += prefixes
    agreed = max_len if best is None else len(best.word) - 1
    if stack:  # cut short: the first length with rows whose children were not generated
        agreed = min(agreed, min(b.level for b in stack if b.level < limit and b.expanded < len(b.dfa)))
    return TrieWalk(best, prefixes, agreed, seen, complete=not stack, closest=closest)


def closer(a: Failure | None, b: Failure | None) -> Failure | None:
    """Of two words' judged values, the nearer 0 (then the shorter word, then the alphabetically first)."""
    if a is None or b is None:
        return a if b is None else b
    return min(a, b, key=lambda f: (abs(f.logit), len(f.word), f.word))
