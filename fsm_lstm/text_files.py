"""Reading a text file a user names (a grammar, a words file): a regular file only (a pipe would block or never
end, a device never ends), at most ``limit`` bytes, UTF-8 with or without a byte-order mark; anything else is
one line that says what is wrong."""

from __future__ import annotations

import os
import stat

from .errors import UserError

__all__ = ["read_text_file"]


def read_text_file(path: str | os.PathLike[str], limit: int, what: str, error: type[UserError] = UserError) -> str:
    """The text of ``path``, ``what`` naming the kind of file in messages ("grammar file"), raised as ``error``.
    A missing file raises FileNotFoundError, for the caller's own advice."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a pipe or device?)"
            raise error(f"{path}: is {kind}; give a {what}")
        if info.st_size > limit:
            raise error(f"{path}: {info.st_size:,} bytes, over the limit of {limit:,} for a {what}")
        with open(path, "rb") as fh:
            raw = fh.read(limit + 1)
        if len(raw) > limit:  # it grew since
            raise error(f"{path}: over the limit of {limit:,} bytes for a {what}")
        return raw.decode("utf-8-sig")  # a byte-order mark, as editors write, is not text
    except FileNotFoundError:
        raise
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text; save the file as UTF-8") from None
    except OSError as exc:
        raise error(f"{path}: cannot read it ({exc.strerror}); check the path and permissions") from None
