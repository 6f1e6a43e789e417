"""Recalculating workbooks with real LibreOffice, headless: every formula is computed afresh (a workbook
written by openpyxl has no cached values) and saved back as .xlsx with the values cached."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .errors import UserError

__all__ = ["recalculate", "soffice"]


def soffice() -> str:
    """Path of LibreOffice's soffice, or a UserError saying how to install it."""
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        raise UserError("LibreOffice is not installed; install it with "
                        "apt-get install -y --no-install-recommends libreoffice-calc-nogui")
    return exe


def recalculate(books: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str], timeout: float = 600
                ) -> list[Path]:
    """Convert the workbooks to .xlsx in ``out_dir`` with LibreOffice, which recalculates every formula."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fsm-lstm-lo-") as profile:
        env = dict(os.environ, LC_ALL="C.UTF-8", HOME=profile)
        cmd = [soffice(), f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
               "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out), *map(str, books)]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    results = [out / Path(b).name for b in books]
    missing = [p for p in results if not p.exists()]
    if done.returncode != 0 or missing:
        raise UserError(f"LibreOffice could not recalculate {', '.join(map(str, missing)) or 'the workbooks'}: "
                        f"{(done.stderr or done.stdout).strip()[:300]}")
    return results
