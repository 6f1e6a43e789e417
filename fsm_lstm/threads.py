"""BLAS threads for the batched runtime. OpenBLAS splits even tiny matrix products over every core; on a
busy 2-core machine its threads wait for each other and a (2048 x 31) @ (31 x 28) product took 16 ms instead
of 0.04 ms. Networks whose gate rows are few run single-threaded; large ones keep BLAS's own threads. Under one
thread, ``product`` lends BLAS a second thread for each large product."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from functools import cache
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController, threadpool_limits

from . import overlap
from .model import Model

__all__ = ["SINGLE_THREAD_BELOW", "WIDE_PRODUCT", "blas_threads", "one_blas_thread", "product", "single_blas_thread"]

SINGLE_THREAD_BELOW = 1024  # gate rows (G x H) of the widest layer
WIDE_PRODUCT = 1 << 24  # multiply-adds above which ``product`` lends a one-thread BLAS a second thread
_LENDING = ContextVar("fsm_lstm_lending", default=False)  # inside ``one_blas_thread``: large products may borrow


def single_blas_thread(model: Model) -> bool:
    """True for a network small enough to run with one BLAS thread."""
    return max(layer.weight_hh.shape[0] for layer in model.layers) < SINGLE_THREAD_BELOW


def blas_threads(model: Model) -> AbstractContextManager[object]:
    """A context in which the model's matrix products use the right number of BLAS threads."""
    return threadpool_limits(limits=1, user_api="blas") if single_blas_thread(model) else nullcontext()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """One BLAS thread, whatever the model: for work made of many small batches, such as L*'s membership
    queries. Measured on the 2-core machine under load (lstm256, 1,024 gate rows): a step of 16 rows took
    0.13 ms on one thread and 16 ms on two; of 8,192 rows, 128 ms and 179 ms. Inside it, ``product`` may lend
    large products a second thread; one thread set elsewhere (OPENBLAS_NUM_THREADS=1, a Dask worker) is left
    alone."""
    with threadpool_limits(limits=1, user_api="blas"):
        token = _LENDING.set(True)
        try:
            yield
        finally:
            _LENDING.reset(token)


# OpenBLAS's thread variables as they were when it was loaded (numpy loads it before this module): a variable
# set later, as Dask sets OMP_NUM_THREADS=1 for its workers, does not speak for this process
_STARTING_ENVIRON = {v: os.environ.get(v, "").strip() for v in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS",
                                                                 "OMP_NUM_THREADS")}


@cache
def _openblas() -> tuple[Any, ...]:
    """Controllers of the OpenBLAS libraries loaded (numpy's, and scipy's own copy), or none on one core or when
    the user asked OpenBLAS for one thread (OPENBLAS_NUM_THREADS, else GOTO_NUM_THREADS, else OMP_NUM_THREADS, as
    OpenBLAS reads them, set to 1): on a machine where another process keeps a core busy, two threads wait for
    each other (rnn256x2_q100_s28's extraction took 26.6 s lending, 13.1 s with OPENBLAS_NUM_THREADS=1)."""
    asked = next((value for value in _STARTING_ENVIRON.values() if value), "")
    if overlap.usable_cores() < 2 or asked == "1":
        return ()
    return tuple(ThreadpoolController().select(internal_api="openblas").lib_controllers)


def _set_threads(libs: tuple[Any, ...], n: int) -> None:
    """Set every OpenBLAS library's thread count."""
    for lib in libs:
        lib.set_num_threads(n)


def product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b; inside ``one_blas_thread``, a large product on two threads. L*'s many small products are fastest
    on one thread, but a (128 x 512) @ (512 x 512) one took 0.52 ms on one and 0.33 ms on two (switching costs
    about a microsecond). The choice depends on sizes and cores only, not on the machine's load, so that a run
    gives the same bits every time (two threads may round differently)."""
    libs = _openblas()
    with np.errstate(over="ignore"):  # weights near the float limit give inf, as in torch: no warning on stderr
        if not libs or not _LENDING.get() or a.shape[0] * b.size < WIDE_PRODUCT or libs[0].get_num_threads() != 1:
            return a @ b
        _set_threads(libs, 2)
        try:
            return a @ b
        finally:
            _set_threads(libs, 1)
