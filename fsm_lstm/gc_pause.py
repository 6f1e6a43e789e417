"""Python's cyclic garbage collector paused around builds that allocate millions of small acyclic objects
(edge tuples, names, dictionary entries): each collection would walk all of them again, for nothing, since
reference counting frees them."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block (also as a decorator), and restore its state afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
