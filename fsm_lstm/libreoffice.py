"""Recalculating workbooks with real LibreOffice, headless: every formula is computed afresh (the private profile
tells LibreOffice to recalculate on load, whatever values the file caches) and saved back as .xlsx with the new
values cached; printing workbooks to PDF, to count their pages; and exporting them to HTML, to read the cells as
shown."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .errors import UserError

__all__ = ["ALWAYS_RECALCULATE", "pdf_pages", "recalculate", "soffice", "to_html", "to_pdf"]

# LibreOffice's setting "recalculation on file load" for Excel and ODF files: 0 = always
ALWAYS_RECALCULATE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">\
<value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse">\
<value>0</value></prop></item>
</oor:items>
"""


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
    return _convert(books, out_dir, "xlsx:Calc MS Excel 2007 XML", ".xlsx", timeout)


def to_pdf(books: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str], timeout: float = 600
           ) -> list[Path]:
    """Print the workbooks to PDF in ``out_dir`` with LibreOffice (recalculated first), as its print setup says."""
    return _convert(books, out_dir, "pdf:calc_pdf_Export", ".pdf", timeout)


def to_html(books: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str], timeout: float = 600,
            recalculated: bool = True) -> list[Path]:
    """Export the workbooks to HTML in ``out_dir`` with LibreOffice: every sheet a table of the cells as LibreOffice
    shows them, number formats applied; recalculated first, or (``recalculated=False``) with the values the file
    caches, as LibreOffice opens an .xlsx file by default."""
    return _convert(books, out_dir, "html:HTML (StarCalc)", ".html", timeout, recalculated)


def pdf_pages(path: str | os.PathLike[str]) -> int:
    """The number of pages of a PDF: pdfinfo's count when it is installed, else the page objects counted."""
    exe = shutil.which("pdfinfo")
    if exe:
        done = subprocess.run([exe, str(path)], capture_output=True, text=True, check=False)
        found = re.search(r"^Pages:\s+(\d+)", done.stdout, re.M)
        if found:
            return int(found.group(1))
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", Path(path).read_bytes()))


def _convert(books: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str], target: str, suffix: str,
             timeout: float, recalculated: bool = True) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fsm-lstm-lo-") as profile:
        if recalculated:
            settings = Path(profile) / "user" / "registrymodifications.xcu"
            settings.parent.mkdir(parents=True)
            settings.write_text(ALWAYS_RECALCULATE)
        env = dict(os.environ, LC_ALL="C.UTF-8", HOME=profile)
        cmd = [soffice(), f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
               "--convert-to", target, "--outdir", str(out), *map(str, books)]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    results = [out / Path(b).with_suffix(suffix).name for b in books]
    missing = [p for p in results if not p.exists()]
    if done.returncode != 0 or missing:
        raise UserError(f"LibreOffice could not convert {', '.join(map(str, missing)) or 'the workbooks'}: "
                        f"{(done.stderr or done.stdout).strip()[:300]}")
    return results
