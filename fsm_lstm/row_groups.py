"""Rows grouped by bitwise equality, fast: by a 64-bit hash of each row, checked against each group's first row."""

from __future__ import annotations

import numpy as np

__all__ = ["row_ids"]


def row_ids(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Rows grouped by bitwise equality, the rows given as columns (1-d arrays of 8-byte numbers, of equal
    length, each read contiguously): the first row of each group, and each row's group. Rows are grouped by a
    64-bit hash, then checked against their group's first row; a collision (never seen) falls back to sorting
    the rows' bytes."""
    bits = [np.ascontiguousarray(c).view(np.uint64) for c in columns]
    _, first, group = np.unique(_hash_rows(bits), return_index=True, return_inverse=True)
    group = group.ravel()
    if not all((c == c[first][group]).all() for c in bits):
        rows = np.stack(bits, axis=1)
        _, first, group = np.unique(rows.view(np.dtype((np.void, rows.shape[1] * 8))).ravel(), return_index=True,
                                    return_inverse=True)
        group = group.ravel()
    return first, group


def _hash_rows(columns: list[np.ndarray]) -> np.ndarray:
    """A 64-bit FNV-style hash of each row, from uint64 columns."""
    h = np.full(columns[0].size if columns else 0, 0xCBF29CE484222325, np.uint64)
    for c in columns:
        h = (h ^ c) * np.uint64(0x100000001B3)
        h ^= h >> np.uint64(29)
    return h
