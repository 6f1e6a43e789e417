"""Weight matrices stored sparse: the CSR spelling of the ``.npz`` format, and helpers that treat dense and
sparse matrices alike.

A weight array ``NAME`` may be stored as four members instead of one: ``NAME.data`` (nnz floats),
``NAME.indices`` (nnz column indices), ``NAME.indptr`` (rows + 1 offsets) and ``NAME.shape`` (two integers), as
``scipy.sparse.csr_array`` holds them. Every part is checked (sizes from the ``.npy`` headers before anything
is decompressed, then offsets and indices) before the matrix is built.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from .errors import ModelError

__all__ = ["DENSE_LIMIT", "PARTS", "SPARSE_ABOVE", "SPARSE_PRODUCTS_ABOVE", "absolute_row_peaks", "absolute_row_sums",
           "as_csr", "csr_from_parts", "csr_parts",
           "csr_spans", "dense", "dense_numbers", "for_products", "is_sparse", "lookup", "nonzeros",
           "should_store_sparse", "sparse_or_dense"]

PARTS = ("data", "indices", "indptr", "shape")
SPARSE_ABOVE = 2**22  # matrices of more numbers than this (16 MiB of float32) are written sparse when mostly zero
DENSE_LIMIT = 2**40  # the largest rows x columns a CSR shape may declare


def csr_spans(ptr: np.ndarray, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each owner o, the positions ptr[o] .. ptr[o + 1] - 1 of a CSR offset array, as (owner position, flat
    position) pairs, in order."""
    counts = ptr[owners + 1] - ptr[owners]
    total = int(counts.sum())
    pos = np.repeat(np.arange(owners.size), counts)
    return pos, np.repeat(ptr[owners] - np.cumsum(counts) + counts, counts) + np.arange(total)


def is_sparse(a: Any) -> bool:
    """True for a scipy.sparse matrix or array."""
    return sp.issparse(a)


def as_csr(a: Any) -> sp.csr_array:
    """A CSR array with sorted indices and no duplicate entries (dense input converted; duplicates summed in
    the matrix's dtype, so that products and the proofs' entry look-ups read the same matrix)."""
    out = sp.csr_array(a)
    if not out.has_canonical_format:
        out = out.copy()
        out.sum_duplicates()
    out.sort_indices()
    return out


def absolute_row_sums(a: Any) -> np.ndarray:
    """(rows,) the sum of |a| along each row, added up in float64 (sparse or dense)."""
    if sp.issparse(a):
        return np.asarray(abs(a).sum(axis=1, dtype=np.float64), dtype=np.float64).reshape(-1)
    return np.abs(a).sum(axis=1, dtype=np.float64)


def absolute_row_peaks(a: Any) -> np.ndarray:
    """(rows,) the largest |a| of each row, 0 for a row of no columns (sparse or dense)."""
    if not a.shape[1]:
        return np.zeros(a.shape[0])
    peaks = abs(a).max(axis=1).toarray() if sp.issparse(a) else np.abs(a).max(axis=1)
    return np.asarray(peaks, dtype=np.float64).reshape(-1)


def dense(a: Any) -> np.ndarray:
    """The matrix as a dense numpy array (a sparse one is expanded: check its size first)."""
    return a.toarray() if sp.issparse(a) else np.asarray(a)


def dense_numbers(a: Any) -> int:
    """rows x columns: the numbers the dense form holds."""
    return math.prod(a.shape)


def should_store_sparse(a: Any) -> bool:
    """Large and mostly zero: over SPARSE_ABOVE numbers with at most a quarter of them non-zero."""
    if np.ndim(a) != 2 or dense_numbers(a) <= SPARSE_ABOVE:
        return False
    nnz = a.nnz if sp.issparse(a) else int(np.count_nonzero(a))
    return nnz * 4 <= dense_numbers(a)


SPARSE_PRODUCTS_ABOVE = 2**20  # numbers of a mostly zero dense matrix above which products use its CSR form


def for_products(a: Any) -> Any:
    """The form that matrix products should use: CSR for a sparse matrix, or for a large, mostly zero dense one
    (a quarter non-zero at most); the dense array otherwise."""
    if sp.issparse(a):
        return as_csr(a)
    if np.ndim(a) == 2 and a.size > SPARSE_PRODUCTS_ABOVE and np.count_nonzero(a) * 4 <= a.size:
        return as_csr(a)
    return a


def sparse_or_dense(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int],
                    dtype: type = np.float32) -> Any:
    """The matrix with these entries (duplicates summed): CSR when large, else dense."""
    if math.prod(shape) > SPARSE_ABOVE:
        return as_csr(sp.coo_array((values.astype(dtype), (rows, cols)), shape=shape))
    out = np.zeros(shape, dtype)
    np.add.at(out, (rows, cols), values.astype(dtype))
    return out


def nonzeros(a: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, columns, values) of the non-zero entries, in row-major order (a dense matrix takes one pass)."""
    if sp.issparse(a):
        m = as_csr(a)
        rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
        keep = m.data != 0
        return rows[keep], m.indices.astype(np.int64)[keep], m.data[keep]
    r, c = np.nonzero(a)
    return r, c, a[r, c]


def lookup(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, width: int, want_rows: np.ndarray,
           want_cols: np.ndarray) -> np.ndarray:
    """Entries (want_rows, want_cols) of the matrix whose non-zeros (row-major) are given; 0 elsewhere."""
    keys = rows.astype(np.int64) * width + cols
    want = want_rows.astype(np.int64) * width + want_cols
    pos = np.minimum(np.searchsorted(keys, want), max(len(keys) - 1, 0))
    found = (keys[pos] == want) if len(keys) else np.zeros(want.shape, bool)
    return np.where(found, values[pos] if len(keys) else 0, 0).astype(np.float64)


def csr_parts(a: Any) -> dict[str, np.ndarray]:
    """The four members of the CSR spelling, by suffix."""
    m = as_csr(a)
    return {"data": m.data, "indices": m.indices.astype(np.int64), "indptr": m.indptr.astype(np.int64),
            "shape": np.array(m.shape, dtype=np.int64)}


def csr_from_parts(name: str, parts: dict[str, np.ndarray]) -> sp.csr_array:
    """Build ``name`` from its parts, each checked; a ModelError names the first problem."""
    missing = [p for p in PARTS if p not in parts]
    if missing:
        raise ModelError(f"sparse array {name} lacks {', '.join(f'{name}.{p}' for p in missing)}; a CSR array needs "
                         f"{', '.join(f'{name}.{p}' for p in PARTS)}")
    data, indices, indptr, shape = (parts[p] for p in PARTS)
    if shape.ndim != 1 or shape.size != 2 or shape.dtype.kind not in "iu":
        raise ModelError(f"{name}.shape must hold two integers (rows, columns)")
    rows, cols = (int(x) for x in shape)
    if rows < 0 or cols < 0 or rows * cols > DENSE_LIMIT:
        raise ModelError(f"{name}.shape {(rows, cols)} is impossible or absurdly large")
    if data.ndim != 1 or data.dtype.kind != "f":
        raise ModelError(f"{name}.data must be a vector of floats")
    for part, arr in (("indices", indices), ("indptr", indptr)):
        if arr.ndim != 1 or arr.dtype.kind not in "iu":
            raise ModelError(f"{name}.{part} must be a vector of integers")
        if arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
            raise ModelError(f"{name}.{part} holds an offset beyond any array; offsets must fit in int64")
    # signed from here on: differences of unsigned offsets would wrap around instead of falling below 0
    indices, indptr = indices.astype(np.int64), indptr.astype(np.int64)
    if indices.size != data.size:
        raise ModelError(f"{name}.indices holds {indices.size:,} entries but {name}.data {data.size:,}; "
                         "they must match")
    if indptr.size != rows + 1:
        raise ModelError(f"{name}.indptr holds {indptr.size:,} offsets; shape {(rows, cols)} needs {rows + 1:,}")
    if indptr[0] != 0 or indptr[-1] != data.size or np.any(np.diff(indptr) < 0):
        raise ModelError(f"{name}.indptr must rise from 0 to {data.size:,} (the number of entries) without falling")
    if indices.size and (indices.min() < 0 or indices.max() >= cols):
        raise ModelError(f"{name}.indices must lie in 0..{cols - 1} (the columns of shape {(rows, cols)})")
    if not np.all(np.isfinite(data)):
        raise ModelError(f"{name}.data contains NaN or infinity")
    if data.dtype.itemsize < 4:  # scipy's sparse kernels have no float16: float32 holds every float16 exactly
        data = data.astype(np.float32)
    m = sp.csr_array((data, indices, indptr), shape=(rows, cols))
    m.sum_duplicates()
    m.sort_indices()
    return m
