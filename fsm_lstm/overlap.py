"""Helper threads that run large numpy calls beside the thread stepping a recurrence.

numpy releases the GIL inside a gather (``np.take``) and a matrix product, so a table gather for coming steps
and the head products of finished steps can run on another core while the calling thread makes its many
small per-step calls. Splitting the per-step calls themselves over threads gains nothing: each call is a few
microseconds, and handing the GIL back and forth costs as much. A call that no helper has started when its
result is wanted runs on the calling thread (other jobs may hold the cores). Without a second core, when the
load average leaves no core free, or for small work, the calls run inline, in order; either way the results
are the same.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

__all__ = ["HELPERS_ABOVE", "Helpers", "Task", "helper_count", "usable_cores"]

HELPERS_ABOVE = 1 << 18  # numbers computed per layer (steps x batch x units) above which helpers pay


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _idle_cores() -> float:
    """The cores less the 1-minute load average (this process's own work included): about how many are free."""
    try:
        return usable_cores() - os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on this system
        return float(usable_cores())


def helper_count(numbers: int) -> int:
    """How many helper threads to use for a layer of ``numbers`` values: 2 when there is enough work and the
    load average leaves a core free, else 0 (inline). With other jobs on every core the helpers only compete
    with them: on a 2-core machine at load average 4.5 a run took 86 ms with helpers and 78 ms inline."""
    return 2 if numbers > HELPERS_ABOVE and usable_cores() > 1 and _idle_cores() > 0 else 0


class Task:
    """A call handed to the helpers. ``result()`` runs it on the calling thread instead when no helper has
    started it yet (on a busy machine the helpers may get no core), so the caller never waits for a call that
    is not running."""

    def __init__(self, future: Future[Any], fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.future, self.fn, self.args = future, fn, args

    def result(self) -> Any:
        """The call's value (raising its error)."""
        if self.future.cancel():
            return self.fn(*self.args)
        return self.future.result()


class Helpers:
    """A context that runs submitted calls on ``threads`` helper threads, or inline when ``threads`` is 0."""

    def __init__(self, threads: int) -> None:
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="fsm-lstm") if threads else None

    def submit(self, fn: Callable[..., Any], *args: Any) -> Task:
        if self._pool is not None:
            return Task(self._pool.submit(fn, *args), fn, args)
        done: Future[Any] = Future()
        try:
            done.set_result(fn(*args))
        except BaseException as error:  # handed back by result(), as the pool would
            done.set_exception(error)
        return Task(done, fn, args)

    def __enter__(self) -> Helpers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
