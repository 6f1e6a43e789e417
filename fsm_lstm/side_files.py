"""The files a reader opens besides the one it was given (a TensorFlow.js model's weight shards, an ONNX model's
external data): a command writing its output checks it is none of them, since ``import tj -o tj/weights.bin``
would replace the shard it reads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

__all__ = ["opened_beside", "side_file"]

_OPENED: ContextVar[list[Path] | None] = ContextVar("fsm_lstm_side_files", default=None)


@contextmanager
def opened_beside() -> Iterator[list[Path]]:
    """Within it, every :func:`side_file` is added to the list it gives."""
    opened: list[Path] = []
    token = _OPENED.set(opened)
    try:
        yield opened
    finally:
        _OPENED.reset(token)


def side_file(path: Path) -> Path:
    """``path``, noted as read (inside :func:`opened_beside`)."""
    opened = _OPENED.get()
    if opened is not None:
        opened.append(path)
    return path
