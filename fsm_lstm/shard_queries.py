"""Network queries over many words, sharded over a Dask cluster: the batches of :func:`sampling.observe` (longest
words first, ``chunk`` words each) are grouped into a few tasks per worker, in order; each worker builds the
network once per model and runs its batches exactly as a serial run would, so the answers are the serial ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .model import Model
from .reading import Reading
from .sampling import Batch, Runner, observe_batch
from .shard import TASKS_PER_WORKER, cluster_client, worker_network
from .threads import blas_threads

__all__ = ["cluster_runner", "observing_on"]


def cluster_runner(client: Any, model: Model, reading: Reading) -> Runner:
    """A :data:`sampling.Runner` that answers the batches on ``client``'s workers (the model sent once to each)."""
    model_f = client.scatter(model, broadcast=True, hash=False)
    workers = max(1, len(client.scheduler_info().get("workers", {})))

    def run(columns: np.ndarray, batches: list[Batch]) -> list[np.ndarray]:
        if not batches:
            return []
        size = -(-len(batches) // (TASKS_PER_WORKER * workers))
        futures = [client.submit(_observe_batches, model_f, reading, columns, batches[k:k + size], pure=False)
                   for k in range(0, len(batches), size)]
        return [truth for future in futures for truth in future.result()]

    return run


@contextmanager
def observing_on(workers: int | None, scheduler: str | None, model: Model, reading: Reading
                 ) -> Iterator[Runner | None]:
    """A runner on a LocalCluster of ``workers`` or the cluster at ``scheduler``; None (run here) without either."""
    if workers is None and scheduler is None:
        yield None
        return
    with cluster_client(workers, scheduler) as client:
        yield cluster_runner(client, model, reading)


def _observe_batches(model: Model, reading: Reading, columns: np.ndarray, batches: list[Batch]) -> list[np.ndarray]:
    """One task: every batch, in order, on this worker's network for the model."""
    net = worker_network(model, reading)
    with blas_threads(model):
        return [observe_batch(net, columns, strings, lengths) for strings, lengths in batches]
