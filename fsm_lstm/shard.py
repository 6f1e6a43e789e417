"""Exhaustive verification sharded by prefix over a Dask cluster (a ``LocalCluster`` on this machine, or an
existing scheduler), and many verifications run side by side.

The words shorter than the shard length d are walked here; every word of length d starts a shard, and the
shards (grouped into a few tasks each, in alphabetical order) walk their subtrees on the workers. Each task
returns its shortest failure and the states it met; the shortest failure over all (then the alphabetically
first) is the serial walk's, and the distinct states up to the agreed length are the union of the tasks' own.
Dask is optional: ``pip install 'fsm-lstm[dask]'``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .errors import UserError
from .limits import MAX_LOCAL_WORKERS
from .model import Model
from .optional import require
from .queries import Network
from .reading import Reading
from .reference import Reference
from .threads import blas_threads
from .trie import Failure, TrieWalk, closer, walk_trie

__all__ = ["INSTALL_DASK", "TASKS_PER_WORKER", "WORKER_MALLOC", "check_cluster", "cluster_client",
           "shard_length", "sharded_walk", "worker_network"]

INSTALL_DASK = "pip install 'fsm-lstm[dask]'"
TASKS_PER_WORKER = 4
# glibc malloc settings of the LocalCluster's workers, set explicitly (a value inherited from this process would
# otherwise stay). Dask sets MALLOC_TRIM_THRESHOLD_=65536, which also turns off glibc's adaptive mmap
# threshold: every array over 128 KiB is then mapped and unmapped afresh, and a worker spent as much system
# time re-faulting pages as computing (the trie walk took 2x the CPU of a serial run). Here arrays up to
# 64 MiB come from the heap, which keeps up to 64 MiB free before returning memory to the system.
WORKER_MALLOC = {"MALLOC_TRIM_THRESHOLD_": str(64 << 20), "MALLOC_MMAP_THRESHOLD_": str(64 << 20),
                 "MALLOC_TOP_PAD_": str(64 << 20)}


def check_cluster(workers: int | None, scheduler: str | None) -> Any:
    """Refuse a bad worker count, both a worker count and a scheduler, or a missing Dask, in one line; return
    ``dask.distributed``."""
    if scheduler is not None and workers is not None:  # the workers were silently left unused
        raise UserError(f"give --workers N (a new local cluster) or --scheduler ADDRESS (an existing one), not both "
                        f"(--workers {workers}, --scheduler {scheduler})")
    if scheduler is None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise UserError(f"--workers takes a whole number of workers >= 1, not {workers!r}")
    if scheduler is None and workers > MAX_LOCAL_WORKERS:  # a million processes were started, one by one
        raise UserError(f"--workers {workers:,} is over the limit of {MAX_LOCAL_WORKERS} processes on this machine "
                        f"(it has {os.cpu_count() or 1} cores); for more, start a Dask cluster and give --scheduler")
    try:
        return require("distributed", "--workers and --scheduler (Dask)")
    except UserError:
        raise UserError(f"--workers and --scheduler need Dask: {INSTALL_DASK}") from None


@contextmanager
def cluster_client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A dask.distributed Client: to ``scheduler`` when given, else to a new LocalCluster of ``workers``
    single-threaded worker processes, closed on exit."""
    distributed = check_cluster(workers, scheduler)
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise UserError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({exc}); start one "
                            "with `dask scheduler` and give its address, e.g. tcp://host:8786") from None
        with client:
            yield client
        return
    import dask

    # dashboard_address=None still tries port 8787 (dask/distributed#8136) and warns when it is taken: any free port
    with dask.config.set({f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_MALLOC.items()}), \
            _environ(WORKER_MALLOC), distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                     dashboard_address=":0", silence_logs=50) as cluster, \
            distributed.Client(cluster) as client:
        yield client


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """This process's environment with ``values`` set, restored on exit: Dask's nanny lets a variable already in
    the environment (its own MALLOC_TRIM_THRESHOLD_, left there by an earlier cluster) override its config."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def shard_length(symbols: int, max_len: int, tasks: int) -> int:
    """The shortest prefix length d <= max_len whose words number at least ``tasks``."""
    d = 0
    while d < max_len and symbols ** d < tasks:
        d += 1
    return d


_NETWORK: list[tuple[Model, Reading, Network]] = []  # this worker's network for the latest model it was sent


def worker_network(model: Model, reading: Reading) -> Network:
    """The network for ``model`` read as ``reading``, built once per worker process for the model scattered to it
    (the model is kept with it, so a later model can never be mistaken for it)."""
    if not _NETWORK or _NETWORK[0][0] is not model or _NETWORK[0][1] != reading:
        _NETWORK[:] = [(model, reading, Network(model, reading))]
    return _NETWORK[0][2]


def _walk_shards(model: Model, reading: Reading, ref: Reference, prefixes: Sequence[tuple[int, ...]],
                 max_len: int, memory: int, merge: bool, until: float = float("inf")) -> TrieWalk:
    """One task: the subtrees under ``prefixes`` (in order), combined; ``until`` (a ``time.time()`` value, so that
    it means the same on every machine) cuts it short, leaving the rest of the prefixes unwalked."""
    net = worker_network(model, reading)
    deadline = time.perf_counter() + (until - time.time())
    best: Failure | None = None
    closest: Failure | None = None
    run = 0
    seen: dict[bytes, int] = {}
    cut: int | None = None  # when cut short: the length up to which every word of this task's subtrees was run
    with blas_threads(model):
        for k, prefix in enumerate(prefixes):
            limit = max_len if best is None else min(max_len, len(best.word) - 1)
            if len(prefix) > limit:
                break
            if time.perf_counter() > deadline:
                cut = len(prefix) - 1
                break
            walk = walk_trie(net, ref, limit, memory, merge, prefix=prefix, deadline=deadline)
            run += walk.prefixes
            _union(seen, walk.seen)
            closest = closer(closest, walk.closest)
            if walk.failure is not None and (best is None or _order(walk.failure) < _order(best)):
                best = walk.failure
            if not walk.complete:  # the prefixes after this one are not walked at all
                cut = walk.agreed if k + 1 == len(prefixes) else min(walk.agreed, len(prefixes[k + 1]) - 1)
                break
    agreed = max_len if best is None else len(best.word) - 1
    return TrieWalk(best, run, agreed if cut is None else min(agreed, cut), seen, complete=cut is None,
                    closest=closest)


def _order(f: Failure) -> tuple[int, tuple[int, ...]]:
    return len(f.word), f.word


def _union(into: dict[bytes, int], more: dict[bytes, int]) -> None:
    for key, level in more.items():
        if into.get(key, level + 1) > level:
            into[key] = level


def sharded_walk(client: Any, model: Model, reading: Reading, ref: Reference, max_len: int, memory: int,
                 merge: bool = True, progress: Callable[[str], None] | None = None,
                 deadline: float = float("inf")) -> TrieWalk:
    """:func:`trie.walk_trie` over every word up to ``max_len``, sharded by prefix over ``client``'s workers;
    the result is the serial walk's (the failure, the agreed length and the distinct states), with the
    prefixes run summed over the tasks. ``memory`` is the budget of each task; ``deadline`` (a
    ``time.perf_counter()`` value) cuts every task short, and the agreed length is then the least of theirs."""
    net = Network(model, reading)
    K = len(net.inner)
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    d = shard_length(K, max_len, TASKS_PER_WORKER * workers)
    head = walk_trie(net, ref, d - 1, memory, merge, deadline=deadline) if d else None
    if head is not None and (head.failure is not None or not head.complete):
        return head
    until = time.time() + (deadline - time.perf_counter())
    shards = [tuple(int(x) for x in digits) for digits in _words(K, d)]
    size = -(-len(shards) // (TASKS_PER_WORKER * workers))
    groups = [shards[k:k + size] for k in range(0, len(shards), size)]
    model_f, ref_f = client.scatter([model, ref], broadcast=True, hash=False)
    futures = [client.submit(_walk_shards, model_f, reading, ref_f, group, max_len, memory, merge, until, pure=False)
               for group in groups]
    best: Failure | None = None
    closest = None if head is None else head.closest
    run = 0 if head is None else head.prefixes
    seen: dict[bytes, int] = {} if head is None else dict(head.seen)
    cut: list[int] = []  # the agreed lengths of the tasks a deadline cut short
    for done, future in enumerate(futures, 1):
        part = future.result()
        run += part.prefixes
        _union(seen, part.seen)
        closest = closer(closest, part.closest)
        if part.failure is not None and (best is None or _order(part.failure) < _order(best)):
            best = part.failure
        if not part.complete:
            cut.append(part.agreed)
        if progress:
            progress(f"exhaustive: {done} of {len(futures)} tasks done ({run:,} prefixes run)")
    agreed = max_len if best is None else len(best.word) - 1
    return TrieWalk(best, run, min([agreed, *cut]), seen, complete=not cut, closest=closest)


def _words(symbols: int, length: int) -> Iterator[tuple[int, ...]]:
    """Every word of ``length`` symbols, in alphabetical order."""
    import itertools

    return itertools.product(range(symbols), repeat=length)
