"""Many models verified against one grammar: one verification per model, side by side on a Dask cluster (or one
after another without one)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from .grammar import Grammar
from .limits import EXHAUSTIVE_TIME
from .model import Model
from .shard import check_cluster, cluster_client
from .verify import Report, verify

__all__ = ["verify_many"]


def verify_many(models: Sequence[Model], grammar: Grammar, max_len: int | None = None, examples: int = 200,
                seed: int = 0, memory: int = 2**30, workers: int | None = None, scheduler: str | None = None,
                progress: Callable[[str], None] | None = None, time_limit: float = EXHAUSTIVE_TIME) -> list[Report]:
    """One :func:`verify.verify` report per model, in order; on the cluster of ``workers`` (a LocalCluster) or
    ``scheduler`` when either is given, one task per model. ``time_limit`` bounds each model's enumeration."""
    options = {"max_len": max_len, "examples": examples, "seed": seed, "memory": memory, "time_limit": time_limit}
    if workers is None and scheduler is None:
        reports = []
        for k, model in enumerate(models, 1):
            reports.append(verify(model, grammar, **options))
            if progress:
                progress(f"{k} of {len(models)} models verified")
        return reports
    check_cluster(workers, scheduler)
    with cluster_client(workers, scheduler) as client:
        grammar_f = client.scatter(grammar, broadcast=True, hash=False)
        futures = [client.submit(_verify_quietly, model, grammar_f, pure=False, **options) for model in models]
        reports = []
        for k, future in enumerate(futures, 1):
            reports.append(future.result())
            if progress:
                progress(f"{k} of {len(models)} models verified")
        return reports


def _verify_quietly(model: Model, grammar: Grammar, **options: Any) -> Report:
    """verify() on a worker, whose warnings would otherwise reach the terminal in the middle of the output."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return verify(model, grammar, **options)
