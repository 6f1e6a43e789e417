"""The certificate's step entries, built a chunk of configurations at a time, and grouped into classes.

An *entry* is a (configuration k, symbol a, unit u) whose step differs from the dead-configuration baseline:
u is ``started``, one of k's units, a unit that one of k's units feeds (a non-zero weight from its column into
one of u's four gate rows), or one of the successor configuration's units. Its key is ``(k * K + a) * H + u``.

Two entries whose step inputs are bitwise equal (the unit's row constants, the symbol, whether u was and should
be on, and the weights from k's units into u's gate rows) have equal images, so one representative per class is
stepped: the entry of smallest key. The inputs split into a part that does not depend on the symbol (per
*configuration unit* (k, u): the row profile, "was on", the weight codes) and a part that does (the symbol, and
"should be on"). Nothing of size (entries x ...) is held except the sorted keys themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from .row_groups import row_ids
from .sparse_weights import csr_spans

__all__ = ["EntryClasses", "entry_classes", "in_sorted", "sorted_distinct"]


@dataclass
class EntryClasses:
    """The representatives, in increasing key order, and what the baseline extremes need of every entry."""

    pair: np.ndarray  # (R,) configuration * K + symbol
    unit: np.ndarray  # (R,)
    prev_on: np.ndarray  # (R,) bool: the unit was on (one of the configuration's units, or started)
    next_on: np.ndarray  # (R,) bool: it should be on (one of the successor's units, or started)
    codes: np.ndarray  # (R, 4, width): value code + 1 of the weight from each of k's units into each gate row
    keys: np.ndarray  # sorted keys of every entry
    most: int  # the most entries one (configuration, symbol) pair has


def sorted_distinct(a: np.ndarray) -> np.ndarray:
    """np.unique of integers, by sorting (numpy's hash-based unique is many times slower on millions)."""
    a = np.sort(a, kind="stable")
    return a[np.concatenate([[True], a[1:] != a[:-1]])] if a.size else a


def in_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.isin(a, b) for integers, ``b`` sorted."""
    if not b.size:
        return np.zeros(np.shape(a), bool)
    pos = np.minimum(np.searchsorted(b, a), b.size - 1)
    return b[pos] == a


def _first_of_each(labels: np.ndarray) -> np.ndarray:
    """The position of the first occurrence of each distinct label (non-negative integers)."""
    if not labels.size:
        return np.zeros(0, np.int64)
    if int(labels.max()) >= 4 * labels.size:  # sparse labels: sort instead of a table
        return np.unique(labels, return_index=True)[1]
    first = np.full(int(labels.max()) + 1, labels.size)
    np.minimum.at(first, labels, np.arange(labels.size))
    return first[first < labels.size]


class _ClassIds:
    """Global ids of the symbol-independent inputs (profile, was on, weight codes), equal across chunks."""

    def __init__(self) -> None:
        self.ids: dict[bytes, int] = {}

    def of(self, columns: list[np.ndarray]) -> np.ndarray:
        """The id of each row of int64 columns (new rows get the next ids)."""
        if not columns[0].size:
            return np.zeros(0, np.int64)
        columns = [np.asarray(c, dtype=np.int64) for c in columns]
        first, group = row_ids(columns)
        distinct = np.stack([c[first] for c in columns], axis=1)
        local = np.array([self.ids.setdefault(row.tobytes(), len(self.ids)) for row in distinct], dtype=np.int64)
        return local[group]


def entry_classes(H: int, K: int, cfg_ptr: np.ndarray, cfg_flat: np.ndarray, succ: np.ndarray,
                  started: np.ndarray, nz_rows: np.ndarray, nz_cols: np.ndarray, value_codes: np.ndarray,
                  profile: np.ndarray, budget: int) -> EntryClasses:
    """Every entry's class, a chunk of configurations at a time (about ``budget`` numbers per chunk): the
    configuration k owns units cfg_flat[cfg_ptr[k]:cfg_ptr[k + 1]], succ (n_cfg, K) gives its successors,
    weight_hh's non-zeros are (nz_rows, nz_cols) with value codes 1, 2, ..., and profile (H,) numbers the
    units whose four rows' constants are equal."""
    n_cfg = cfg_ptr.size - 1
    sizes = np.diff(cfg_ptr)
    width = max(int(sizes.max(initial=0)), 1)
    is_started = np.zeros(H, bool)
    is_started[started] = True
    # weight_hh by column: each column's rows and value codes (non-zeros come row-major, so rows stay sorted)
    by_col = np.argsort(nz_cols, kind="stable")
    col_ptr = np.searchsorted(nz_cols[by_col], np.arange(H + 1))
    col_rows, col_codes = nz_rows[by_col], value_codes[by_col]
    # an upper bound on each configuration's entries, to cut the configurations into chunks
    feeds = np.diff(col_ptr)
    fed_sum = np.concatenate([[0], np.cumsum(feeds[cfg_flat])])[cfg_ptr]
    estimate = K * (np.diff(fed_sum) + sizes + started.size + width) * (4 * width + 8)
    bounds = np.searchsorted(np.cumsum(estimate), np.arange(budget, int(estimate.sum()) + budget, budget))
    bounds = np.unique(np.concatenate([[0], np.minimum(bounds + 1, n_cfg), [n_cfg]]))
    ids = _ClassIds()
    firsts, keys_parts, most = [], [], 0
    for k0, k1 in pairwise(bounds):
        chunk = _Chunk(H, K, width, int(k0), int(k1), cfg_ptr, cfg_flat, succ, started, is_started,
                       col_ptr, col_rows, col_codes, profile, ids)
        keys_parts.append(chunk.keys)
        most = max(most, chunk.most)
        firsts.append(chunk.firsts())
    keys = np.concatenate(keys_parts) if keys_parts else np.zeros(0, np.int64)
    # chunks come in increasing key order: a class's first entry over all chunks is its first in the first chunk
    cls, key, prev_on, codes = (np.concatenate(parts) for parts in zip(*firsts)) if firsts else (
        np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool), np.zeros((0, 4 * width), np.int64))
    first = _first_of_each(cls)
    first = first[np.argsort(key[first])]
    rep = key[first]
    return EntryClasses(rep // H, rep % H, prev_on[first], (cls[first] & 1).astype(bool),
                        codes[first].reshape(-1, 4, width), keys, most)


class _Chunk:
    """The entries of configurations k0 .. k1 - 1, their keys in increasing order and their classes."""

    def __init__(self, H: int, K: int, width: int, k0: int, k1: int, cfg_ptr: np.ndarray, cfg_flat: np.ndarray,
                 succ: np.ndarray, started: np.ndarray, is_started: np.ndarray, col_ptr: np.ndarray,
                 col_rows: np.ndarray, col_codes: np.ndarray, profile: np.ndarray, ids: _ClassIds) -> None:
        self.H, self.K = H, K
        configs = np.arange(k0, k1)
        # the configurations' own units, with their slot (position in the configuration)
        own_pos, own_flat = csr_spans(cfg_ptr, configs)
        k_own, u_own = configs[own_pos], cfg_flat[own_flat]
        slot = own_flat - cfg_ptr[k_own]
        # the weights their columns carry: (configuration, fed unit, gate, slot, code)
        nz_pos, nz_flat = csr_spans(col_ptr, u_own)
        k_fed, u_fed = k_own[nz_pos], col_rows[nz_flat] % H
        cell = (col_rows[nz_flat] // H) * width + slot[nz_pos]
        # configuration units: own, fed and started, as sorted keys k * H + u
        cu = sorted_distinct(np.concatenate([k_own * H + u_own, k_fed * H + u_fed,
                                       (configs[:, None] * H + started[None, :]).ravel()]))
        cu_k, cu_u = cu // H, cu % H
        codes = np.zeros((4 * width, cu.size), np.int64)  # one row per (gate, slot): read contiguously
        codes[cell, np.searchsorted(cu, k_fed * H + u_fed)] = col_codes[nz_flat]
        prev_on = in_sorted(cu, np.sort(k_own * H + u_own)) | is_started[cu_u]
        cu_class = ids.of([profile[cu_u], prev_on, *codes])
        self.cu_codes, self.cu_prev_on = codes, prev_on
        # every entry of a pair (k, a): k's configuration units, in unit order, for a = 0 .. K-1
        per_k = np.bincount(cu_k - k0, minlength=configs.size)
        first_cu = np.concatenate([[0], np.cumsum(per_k)])[:-1]
        block = K * per_k
        t = np.arange(int(block.sum())) - np.repeat(np.cumsum(block) - block, block)
        a = t // np.repeat(np.maximum(per_k, 1), block)
        e_cu = np.repeat(first_cu, block) + t % np.repeat(np.maximum(per_k, 1), block)
        keys = (cu_k[e_cu] * K + a) * H + cu_u[e_cu]
        # the successors' units: on next; those outside k's configuration units are entries too (no weights)
        pairs = (configs[:, None] * K + np.arange(K)[None, :]).ravel()
        s_pos, s_flat = csr_spans(cfg_ptr, succ.reshape(-1)[pairs])
        succ_keys = np.sort(pairs[s_pos] * H + cfg_flat[s_flat])
        next_on = in_sorted(keys, succ_keys) | is_started[cu_u[e_cu]]
        cls = (cu_class[e_cu] * K + a) * 2 + next_on
        source = e_cu  # the configuration unit whose codes an entry has (-1: none, all zero)
        extra = succ_keys[~in_sorted(succ_keys, keys)]
        if extra.size:
            eu = extra % H
            zero_class = ids.of([profile[eu], *np.zeros((1 + 4 * width, eu.size), np.int64)])
            keys = np.concatenate([keys, extra])
            cls = np.concatenate([cls, (zero_class * K + (extra // H) % K) * 2 + 1])
            source = np.concatenate([source, np.full(extra.size, -1)])
            order = np.argsort(keys, kind="stable")
            keys, cls, source = keys[order], cls[order], source[order]
        self.keys, self.cls, self.source = keys, cls, source
        self.most = int(np.bincount(keys // H - k0 * K, minlength=1).max()) if keys.size else 0
        self.width = width

    def firsts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Each class met in the chunk, with its entry of smallest key: (class, key, was on, weight codes)."""
        first = _first_of_each(self.cls)
        src = self.source[first]
        codes = np.where((src >= 0)[:, None], self.cu_codes[:, np.maximum(src, 0)].T, 0) if src.size else \
            np.zeros((0, self.cu_codes.shape[0]), np.int64)
        return self.cls[first], self.keys[first], (src >= 0) & self.cu_prev_on[np.maximum(src, 0)], codes
