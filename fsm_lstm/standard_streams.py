"""Standard output and error whose reader may go away (``fsm-lstm verify M --grammar G | head``): what is written
after that is dropped, so that the command finishes and exits with its verdict's code. Catching the broken pipe
where it surfaced instead would end the command there, with no verdict to exit with (it exited 0 on a failing
network)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["readers_may_leave"]


class _Dropping:
    """A text stream that, once its reader has gone, sends the rest to the null device."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._drop()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._drop()

    def _drop(self) -> None:
        """The stream's file descriptor becomes the null device; the stream's buffer drains there."""
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def readers_may_leave() -> Iterator[None]:
    """Within it, sys.stdout and sys.stderr drop what their readers no longer take. Leaving, both are flushed as far
    as they can be (a caller that must know of a full disk flushes inside)."""
    streams = sys.stdout, sys.stderr
    # a stream closed when the process started (`>&-`) is None, and print() then writes nothing: left so
    sys.stdout, sys.stderr = (None if s is None else _Dropping(s) for s in streams)  # type: ignore[assignment]
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except OSError:
                pass
        sys.stdout, sys.stderr = streams
