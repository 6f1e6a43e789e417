"""Atomic output: write to a temporary file in the target folder, then rename over the target.

Output goes only to a regular file or to a new path: a folder, named pipe, device or socket at the output path
is refused before anything is written, and checked again just before the rename. A symbolic link is followed
and the file it names is replaced when that file has the link's extension (the command line first refuses an
output that is one of its inputs: :mod:`output_names`). The temporary file is removed on any error, on Ctrl-C
(KeyboardInterrupt) and on SIGTERM/SIGHUP (turned into :class:`Terminated` while a write is in progress); only
SIGKILL can leave one behind, and even then never a partial target. Filesystem errors become one-line UserErrors.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import signal
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import Terminated, UserError

__all__ = ["atomic_path", "output_path", "terminate_as_exception", "write_atomic", "write_error", "write_text_atomic"]

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
_HINTS = {errno.ENOSPC: "free some space or choose another folder", errno.EDQUOT: "free some space or choose "
          "another folder", errno.EROFS: "the file system is read-only; choose another folder",
          errno.EACCES: "check the permissions or choose another path", errno.EPERM: "check the permissions or "
          "choose another path", errno.ENAMETOOLONG: "choose a shorter name"}


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def output_path(target: str | os.PathLike[str]) -> Path:
    """The file that writing ``target`` replaces: ``target`` itself or, for a symbolic link, the file it names
    (only when that carries the same extension: a link ``model.npz`` to the user's ``notes.txt`` is refused).

    Raises a UserError, and touches nothing, when that is anything but a regular file or a new path in an
    existing folder."""
    given = Path(target)
    path = given
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            path = Path(os.path.realpath(path))
            info = os.stat(path)
    except FileNotFoundError:  # a new path, or a link to one
        _same_kind(given, path)
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise UserError(f"cannot write {given}: folder {folder} does not exist; create it or choose another "
                            "path") from None
        return path
    except OSError as exc:
        raise UserError(f"cannot write {given}: {exc.strerror}; choose another path") from None
    if not stat.S_ISREG(info.st_mode):
        hint = "give a file name inside it" if stat.S_ISDIR(info.st_mode) else "choose a regular file"
        raise UserError(f"cannot write {given}: it is {_kind(info.st_mode)}, not a file; {hint} (nothing was "
                        "written)")
    _same_kind(given, path)
    return path


def _same_kind(given: Path, path: Path) -> None:
    """Refuse a symbolic link ``given`` to a file ``path`` (existing or not) with another extension."""
    if path.suffix.lower() != given.suffix.lower():
        raise UserError(f"{given} is a symbolic link to {path}, a file of another kind; writing would go to that "
                        "file. Remove the link or name another output (nothing was written)")


def write_error(target: str | os.PathLike[str], exc: OSError) -> UserError:
    """The one-line UserError for a filesystem error met while writing ``target``."""
    reason = exc.strerror or type(exc).__name__
    hint = _HINTS.get(exc.errno or 0, "choose another path")
    return UserError(f"cannot write {target}: {reason}; {hint} (nothing was written)")


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def terminate_as_exception() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Terminated` inside the block (main thread only; signals that
    already have a handler, or are ignored, are left alone)."""
    installed: list[signal.Signals] = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is not None and signal.getsignal(sig) == signal.SIG_DFL:
                signal.signal(sig, _raise_terminated)
                installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            signal.signal(sig, signal.SIG_DFL)


_SIGNALS = {s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None}


def _block_signals() -> set[signal.Signals] | None:
    """Hold back SIGINT, SIGTERM and SIGHUP (main thread only); return the mask to restore."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)


def _unblock_signals(previous: set[signal.Signals] | None) -> None:
    """Restore the signal mask (idempotent); a signal that arrived meanwhile is delivered now."""
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it over ``target``, else delete it."""
    target = Path(target)
    final = output_path(target)
    folder = final.parent if str(final.parent) else Path(".")
    with terminate_as_exception():
        # The name is chosen before the file exists, so that a signal handled at any point (Python runs handlers
        # in the main thread even when another thread received the signal) finds it in ``tmp_path``.
        tmp_path: Path | None = None
        blocked = _block_signals()
        try:
            tmp_path = folder / f".{final.name[:80]}.{secrets.token_hex(8)}.tmp"
            try:
                os.close(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except OSError as exc:
                tmp_path = None if exc.errno == errno.EEXIST else tmp_path
                raise write_error(target, exc) from None
            _unblock_signals(blocked)  # a pending signal fires here, inside the try that removes the file
            yield tmp_path
            if output_path(target) != final:  # replaced meanwhile by a link elsewhere: refuse, keep both
                raise UserError(f"cannot write {target}: it changed while it was being written; try again")
            os.chmod(tmp_path, _mode_for(final))
            os.replace(tmp_path, final)
        except BaseException as exc:
            if tmp_path is not None:
                with contextlib.suppress(OSError):
                    tmp_path.unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.errno is not None:
                raise write_error(target, exc) from None
            raise
        finally:
            _unblock_signals(blocked)


def _mode_for(target: Path) -> int:
    """Keep an existing file's permissions; a new file gets the usual 0666 less the umask."""
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def write_atomic(target: str | os.PathLike[str], writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_path)`` and move the result onto ``target`` atomically."""
    with atomic_path(target) as tmp:
        writer(tmp)


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    write_atomic(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
