"""L*'s observation table with the network as teacher, filled only as far as the hypothesis needs.

Rows are words with their packed hidden states and those states' recurrent products (every query from a row
starts from them: :mod:`recurrence`): the access words (the hypothesis's states, whose rows are
always complete and pairwise distinct) and their one-symbol extensions (the edges). A cell is the output vector
after row·suffix; a query costs only the steps of its suffix. A fill asks exactly the missing cells (a cell is
never asked twice), all of them in one batched walk down the trie of (row, suffix prefix) nodes, so that the
suffixes a row asks share the steps of their common prefixes.

In a ``lazy`` table an extension row is *sifted*, not filled: it is asked only the suffixes that tell apart
the access rows still consistent with what it has answered so far (the most even split per step of the suffix
first, as a discrimination tree would), until one access row is left (its edge goes there) or none (a *loose*
edge: a state the table does not have yet). On lstm256_q100_s25, at the end of L* (451 states, 92 suffixes),
a sifted row had answered a median of 10 suffixes. A row is *complete* once every cell is known; the learner
completes the rows whose edges the samples use, so that whether such an edge is loose is decided on every
suffix. A table that is not lazy completes every row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .machine import Machine
from .queries import Network

__all__ = ["ObservationTable", "Word"]

Word = tuple[int, ...]


class ObservationTable:
    """Rows x suffixes of the network's outputs; ``known`` marks the cells asked so far."""

    def __init__(self, net: Network, columns: np.ndarray, symbols: int, lazy: bool = True) -> None:
        self.net = net
        self.lazy = lazy
        self._signs: tuple[tuple[int, int], np.ndarray] = ((-1, -1), np.zeros((0, 0), dtype=np.float32))
        self.columns = columns
        self.symbols = symbols
        self.width = len(columns)
        self.words: list[Word] = []
        self.index: dict[Word, int] = {}
        self._states = np.zeros((64, len(net.start)), dtype=net.start.dtype)  # rows' states, room to grow
        self._products = np.zeros((64, net.split.width), dtype=net.start.dtype)  # and their recurrent products
        self._sifted = np.zeros((64, 3), dtype=np.int64)  # per row: last sift's answer (-2: none yet), access
        # rows and known cells then (known cells are never forgotten: the same count is the same cells)
        self.cells = np.zeros((0, 1, self.width), dtype=bool)  # (rows, suffixes, O)
        self.known = np.zeros((0, 1), dtype=bool)  # (rows, suffixes)
        self.suffixes: list[Word] = [()]
        self._padded = np.zeros((0, 0), dtype=np.int64)  # the suffixes as zero-padded rows, and their lengths
        self._lengths = np.zeros(0, dtype=np.int64)
        self.access: list[int] = []  # rows of the access words: complete, pairwise distinct
        self.extensions = np.zeros((0, symbols), dtype=np.int64)  # (access, K) rows of their extensions
        self.add_rows([()])
        self.access = [0]
        self._extend([()])

    # ----- growing the table ---------------------------------------------------------------------------
    def add_rows(self, words: Sequence[Word]) -> None:
        """Add rows whose one-shorter parents are rows already (the empty word needs none); only their
        outputs (the empty suffix) are asked."""
        words = [w for w in dict.fromkeys(words) if w not in self.index]
        if not words:
            return
        states = np.empty((len(words), self._states.shape[1]), dtype=self._states.dtype)
        grown = [k for k, w in enumerate(words) if w]
        states[[k for k, w in enumerate(words) if not w]] = self.net.start
        if grown:
            parents = np.array([self.index[words[k][:-1]] for k in grown])
            symbols = np.array([words[k][-1] for k in grown])
            states[grown] = self.net.step(self.states[parents], symbols, self.products[parents])
        base = len(self.words)
        for k, w in enumerate(words):
            self.index[w] = base + k
        self.words.extend(words)
        self._states = _room(self._states, len(self.words))
        self._products = _room(self._products, len(self.words))
        self._states[base:len(self.words)] = states
        self._products[base:len(self.words)] = self.net.products(states)
        self._sifted = _room(self._sifted, len(self.words))
        self._sifted[base:len(self.words)] = (-2, 0, 0)
        self.cells = np.concatenate([self.cells, np.zeros((len(words), *self.cells.shape[1:]), dtype=bool)])
        self.known = np.concatenate([self.known, np.zeros((len(words), self.known.shape[1]), dtype=bool)])
        self.fill(np.arange(base, base + len(words)), [0])

    @property
    def states(self) -> np.ndarray:
        """(rows, D) the rows' packed hidden states."""
        return self._states[:len(self.words)]

    @property
    def products(self) -> np.ndarray:
        """(rows, R) the recurrent products of the rows' states (:meth:`Network.products`): every query
        from a row starts from them."""
        return self._products[:len(self.words)]

    def add_suffix(self, suffix: Word) -> None:
        """A new column, asked of the access rows (the other rows are asked when sifting needs it)."""
        self.suffixes.append(suffix)
        self.cells = np.concatenate([self.cells, np.zeros((len(self.cells), 1, self.width), dtype=bool)], axis=1)
        self.known = np.concatenate([self.known, np.zeros((len(self.known), 1), dtype=bool)], axis=1)
        self.fill(self.access, [len(self.suffixes) - 1])

    def promote(self, rows: Sequence[int]) -> None:
        """Make extension rows access rows (states), completed, with their own extensions. Each must be
        complete-able to a row no access row has (a loose edge)."""
        self.fill(rows)
        self.access += list(rows)
        self._extend([self.words[r] for r in rows])

    def _extend(self, words: Sequence[Word]) -> None:
        extended = [w + (a,) for w in words for a in range(self.symbols)]
        self.add_rows(extended)
        block = np.array([self.index[w] for w in extended], dtype=np.int64).reshape(len(words), self.symbols)
        self.extensions = np.concatenate([self.extensions, block])

    # ----- asking the network ----------------------------------------------------------------------------
    def fill(self, rows: Sequence[int] | np.ndarray, columns: Sequence[int] | None = None) -> bool:
        """Ask the cells of ``rows`` in ``columns`` (default: every column) that are not known yet, as one
        batched walk; known cells are kept as they are. Whether anything was asked."""
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.arange(len(self.suffixes)) if columns is None else np.asarray(columns, dtype=np.int64)
        if not len(rows) or not len(cols):
            return False
        missing = ~self.known[np.ix_(rows, cols)]
        if not missing.any():
            return False
        which, col = np.nonzero(missing)
        self._ask_each(rows[which], cols[col])
        return True

    def complete(self, row: int) -> bool:
        """Whether every cell of the row is known."""
        return bool(self.known[row].all())

    # ----- reading the hypothesis off the table ------------------------------------------------------------
    def _access_signs(self) -> np.ndarray:
        """(n, S*O) the access rows' cells as -1/+1 (cached: access cells never change once asked)."""
        key = (len(self.access), len(self.suffixes))
        if self._signs[0] != key:
            cells = self.cells[self.access].reshape(len(self.access), -1)
            self._signs = (key, cells.astype(np.float32) * 2 - 1)
        return self._signs[1]

    def disagreements(self, rows: np.ndarray, start: int = 0) -> np.ndarray:
        """(len(rows), n - start) how many known cells of each row differ from each access row from ``start`` on."""
        signs = self._access_signs()[start:]
        out = np.empty((len(rows), len(signs)), dtype=np.float32)
        for lo in range(0, len(rows), 4096):  # bounded temporaries
            part = rows[lo:lo + 4096]
            known = np.repeat(self.known[part], self.width, axis=1)
            mine = np.where(known, self.cells[part].reshape(len(part), -1) * 2.0 - 1.0, 0.0).astype(np.float32)
            out[lo:lo + len(part)] = (known.sum(axis=1)[:, None] - mine @ signs.T) / 2  # (known - agree + differ) / 2
        return out

    def sift(self, rows: np.ndarray) -> np.ndarray:
        """Ask each row the suffixes that split the access rows it is still consistent with, the most even
        split per step of the suffix first, until at most one is left; all rows are asked together. The access
        row (as a state index) each row is consistent with, or -1 for none."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.full(len(rows), -1, dtype=np.int64)
        complete = self.known[rows].all(axis=1)
        out[complete] = self._exact_match(rows[complete])
        index = np.flatnonzero(~complete)  # a complete row has nothing left to answer
        if not len(index):
            return out
        bits = (self._access_signs() + 1) / 2
        cost = np.repeat([len(s) + 1.0 for s in self.suffixes], self.width).astype(np.float32)  # steps to ask
        access = np.array(self.access)
        consistent = self._consistent(rows[index])
        asked = rows[index]
        while True:
            size = consistent.sum(axis=1)
            settled = size <= 1
            out[index[settled]] = np.where(size[settled] == 1, consistent[settled].argmax(axis=1), -1)
            index, consistent, size = index[~settled], consistent[~settled], size[~settled]
            if not len(index):
                break
            pending = rows[index]
            ones = consistent.astype(np.float32) @ bits
            column = (np.minimum(ones, size[:, None] - ones) / cost).argmax(axis=1) // self.width
            self._ask_each(pending, column)
            for o in range(self.width):  # the access rows that answer the new cell as the row did
                answers = self.cells[pending, column, o][:, None]
                consistent &= self.cells[access[:, None], column[None, :], o].T == answers
        self._sifted[asked, 0] = out[~complete]
        self._sifted[asked, 1] = len(self.access)
        self._sifted[asked, 2] = self.known[asked].sum(axis=1)
        return out

    def _consistent(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), access) whether each row's known cells agree with each access row's. A row that has not
        been asked anything since its last sift keeps that answer, and is compared with the newer access rows
        only."""
        A = len(self.access)
        consistent = np.zeros((len(rows), A), dtype=bool)
        answer, then, known = self._sifted[rows].T
        same = (answer > -2) & (known == self.known[rows].sum(axis=1))
        kept, fresh = np.flatnonzero(same), np.flatnonzero(~same)
        if len(fresh):
            consistent[fresh] = self.disagreements(rows[fresh]) == 0
        if len(kept):
            hit = kept[answer[kept] >= 0]
            consistent[hit, answer[hit]] = True
            start = int(then[kept].min())
            if start < A:
                newer = (self.disagreements(rows[kept], start) == 0) & (np.arange(start, A) >= then[kept][:, None])
                consistent[kept, start:] |= newer
        return consistent

    def _ask_each(self, rows: np.ndarray, columns: np.ndarray, chunk: int = 8192) -> None:
        """Ask each row its own column (a row may ask several), all walking together down the trie of (row,
        suffix prefix) nodes: one batched step per depth for the distinct nodes there, each node's recurrent
        products computed once for its children and for the end marker of the cells that end at it; in chunks
        of about ``chunk`` cells, whole rows each."""
        if len(self._padded) != len(self.suffixes):  # the suffixes as rows of symbols, zero-padded
            width = max(len(s) for s in self.suffixes)
            self._padded = np.zeros((len(self.suffixes), width), dtype=np.int64)
            for j, suffix in enumerate(self.suffixes):
                self._padded[j, :len(suffix)] = suffix
            self._lengths = np.array([len(s) for s in self.suffixes], dtype=np.int64)
        padded = self._padded[columns]
        if len(np.unique(rows)) == len(rows):  # one cell per row: longest first, so every step takes a prefix
            order = np.argsort(-self._lengths[columns], kind="stable")
        else:
            order = np.lexsort([*padded.T[::-1], rows])  # by row, then suffix
        rows, columns = rows[order], columns[order]
        lo = 0
        while lo < len(rows):
            hi = min(len(rows), lo + chunk)
            while hi < len(rows) and rows[hi] == rows[hi - 1]:  # a row's cells share its trie: one chunk
                hi += 1
            self._walk(rows[lo:hi], columns[lo:hi])
            lo = hi

    def _walk(self, rows: np.ndarray, cols: np.ndarray) -> None:
        """One chunk of :meth:`_ask_each`, its cells sorted so that the cells that share a node are neighbours
        at every depth (by row, then suffix; or, one cell per row, longest first). The states stay unpacked, and
        a step whose nodes are a run of the last step's takes them without a copy."""
        lengths, padded = self._lengths[cols], self._padded[cols]
        new = np.ones(len(rows), dtype=bool)
        new[1:] = rows[1:] != rows[:-1]
        node = np.cumsum(new) - 1  # depth 0: the rows themselves
        states, products = self.net.unpack(self.states, rows[new]), self.products[rows[new]]
        answers = np.zeros((len(rows), self.width), dtype=bool)
        deepest = int(lengths.max(initial=0))
        for t in range(deepest + 1):
            if t:
                alive = np.flatnonzero(lengths >= t)
                symbols = padded[alive, t - 1]
                new = np.ones(len(alive), dtype=bool)
                new[1:] = (node[alive[1:]] != node[alive[:-1]]) | (symbols[1:] != symbols[:-1])
                parents = node[alive[new]]
                states = self.net.advance(states, symbols[new], products, parents)
                node[alive] = np.cumsum(new) - 1
                if t < deepest or self.net.end is not None:  # for children, or the end marker
                    products = self.net.state_products(states)
            ending = np.flatnonzero(lengths == t)
            if len(ending):
                at = node[ending]
                answers[ending] = self.net.judge(states, products, at)[:, self.columns] > 0
        self.net.calls += len(rows)
        self.cells[rows, cols] = answers
        self.known[rows, cols] = True

    def hypothesis(self, labels: tuple[str, ...], alphabet: tuple[str, ...]
                   ) -> tuple[Machine, dict[tuple[int, int], int]]:
        """The machine of the access rows after sifting (``lazy``) or completing every extension row, and its
        loose edges, (state, symbol) -> extension row, for every extension consistent with no access row (such
        an edge goes to the access row whose known cells differ least)."""
        rows = self.extensions.reshape(-1)
        if not self.lazy:
            self.fill(rows)
        delta = self.sift(rows)  # nothing left to ask of complete rows
        open_ = np.flatnonzero(delta < 0)
        if len(open_):
            delta[open_] = self.disagreements(rows[open_]).argmin(axis=1)
        is_loose = np.zeros(len(rows), dtype=bool)
        is_loose[open_] = True
        k_loose, a_loose = np.nonzero(is_loose.reshape(self.extensions.shape))
        loose = {(int(k), int(a)): int(self.extensions[k, a]) for k, a in zip(k_loose, a_loose)}
        return Machine(self.cells[self.access, 0, :], delta.reshape(self.extensions.shape), labels, alphabet), loose

    def _exact_match(self, rows: np.ndarray) -> np.ndarray:
        """For complete rows: the access row (as a state index) with the very same cells, else -1."""
        if not len(rows):
            return np.zeros(0, dtype=np.int64)

        def keys(r: np.ndarray) -> np.ndarray:
            packed = np.ascontiguousarray(np.packbits(self.cells[r].reshape(len(r), self.cells[0].size), axis=1))
            return packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1)

        mine, theirs = keys(rows), keys(np.array(self.access))
        order = np.argsort(theirs)
        at = np.minimum(np.searchsorted(theirs[order], mine), len(order) - 1)
        return np.where(theirs[order][at] == mine, order[at], -1)

    def is_new(self, row: int) -> bool:
        """Whether the row's known cells differ from every access row."""
        return bool(self.disagreements(np.array([row])).min() > 0)

    def target(self, row: int) -> int:
        """The access row (as a state index) whose cells differ least from the row's known cells."""
        return int(self.disagreements(np.array([row])).argmin())

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


def _room(buffer: np.ndarray, rows: int) -> np.ndarray:
    """``buffer`` with room for ``rows`` rows (doubled when it grows, so that rows are copied O(1) times)."""
    if rows <= len(buffer):
        return buffer
    grown = np.empty((max(rows, 2 * len(buffer)), *buffer.shape[1:]), dtype=buffer.dtype)
    grown[:len(buffer)] = buffer
    return grown
