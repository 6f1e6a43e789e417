"""BLAS threads for the batched runtime. OpenBLAS splits even tiny matrix products over every core; on a
busy 2-core machine its threads wait for each other and a (2048 x 31) @ (31 x 28) product took 16 ms instead
of 0.04 ms. Networks whose gate rows are few run single-threaded; large ones keep BLAS's own threads."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from threadpoolctl import threadpool_limits

from .model import Model

__all__ = ["SINGLE_THREAD_BELOW", "blas_threads", "one_blas_thread", "single_blas_thread"]

SINGLE_THREAD_BELOW = 1024  # gate rows (G x H) of the widest layer


def single_blas_thread(model: Model) -> bool:
    """True for a network small enough to run with one BLAS thread."""
    return max(layer.weight_hh.shape[0] for layer in model.layers) < SINGLE_THREAD_BELOW


def blas_threads(model: Model) -> AbstractContextManager[object]:
    """A context in which the model's matrix products use the right number of BLAS threads."""
    return threadpool_limits(limits=1, user_api="blas") if single_blas_thread(model) else nullcontext()


def one_blas_thread() -> AbstractContextManager[object]:
    """One BLAS thread, whatever the model: for work made of many small batches, such as L*'s membership
    queries. Measured on the 2-core machine under load (lstm256, 1,024 gate rows): a step of 16 rows took
    0.13 ms on one thread and 16 ms on two; of 8,192 rows, 128 ms and 179 ms."""
    return threadpool_limits(limits=1, user_api="blas")
