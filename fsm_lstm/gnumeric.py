"""Recalculating workbooks with Gnumeric, a third spreadsheet engine: ``ssconvert --recalc`` computes every
formula afresh and saves the workbook as .xlsx with the new values cached."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .errors import UserError

__all__ = ["recalculate_gnumeric", "ssconvert"]


def ssconvert() -> str:
    """Path of Gnumeric's ssconvert, or a UserError saying how to install it."""
    exe = shutil.which("ssconvert")
    if exe is None:
        raise UserError("Gnumeric is not installed; install it with "
                        "apt-get install -y --no-install-recommends gnumeric")
    return exe


def recalculate_gnumeric(books: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str],
                         timeout: float = 600) -> list[Path]:
    """Recalculate each workbook with Gnumeric into ``out_dir`` (same file names)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="fsm-lstm-gnumeric-") as home:
        env = dict(os.environ, HOME=home, LC_ALL="C.UTF-8")
        for book in books:
            target = out / Path(book).name
            cmd = [ssconvert(), "--recalc", "--export-type=Gnumeric_Excel:xlsx2", str(book), str(target)]
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
            if done.returncode != 0 or not target.exists():
                raise UserError(f"Gnumeric could not recalculate {book}: {(done.stderr or done.stdout).strip()[:300]}")
            results.append(target)
    return results
