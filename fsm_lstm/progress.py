"""Progress of long work on the command line: a status line and, where the total is known, a bar, drawn with
``rich`` on stderr only when stderr is a terminal. Piped or captured output stays clean.

Library functions report through plain callbacks (``progress=...``); :meth:`ProgressDisplay.line` and
:meth:`ProgressDisplay.advance` are such callbacks, and :meth:`ProgressDisplay.callback` gives None when nothing is
shown, so that the library skips the reporting altogether.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["ProgressDisplay", "shows_progress"]

_F = TypeVar("_F", bound=Callable[..., None])


def shows_progress() -> bool:
    """True when stderr is a terminal, where a progress display may be drawn."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


class ProgressDisplay:
    """One piece of long work on stderr: ``with ProgressDisplay("verifying") as shown: ...``. Disabled (every
    method a no-op) unless ``enabled`` and stderr is a terminal; it disappears when the work ends."""

    def __init__(self, description: str, total: int | None = None, enabled: bool = True) -> None:
        self.enabled = enabled and shows_progress()
        self.description = description
        self.total = total
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> ProgressDisplay:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                                 console=Console(file=sys.stderr), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def line(self, text: str) -> None:
        """Show ``text`` as the status."""
        if self._bar is not None:
            self._bar.update(self._task, description=text)

    def advance(self, done: int, total: int | None = None, text: str | None = None) -> None:
        """``done`` of ``total`` steps (total as before when None), with ``text`` as the status when given."""
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=self.total if total is None else total,
                             description=self.description if text is None else text)
            if total is not None:
                self.total = total

    def callback(self, method: _F) -> _F | None:
        """``method`` (one of this display's) when something is shown, else None."""
        return method if self._bar is not None else None
