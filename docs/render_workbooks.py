"""Render the first page (the Run sheet) of every bundled workbook, sheets/NAME.xlsx, to docs/workbook-NAME.png:
LibreOffice prints each workbook to PDF, as its print setup says, and poppler's pdftoppm draws the page.
Run from the repository root after `fsm-lstm build --all`: python docs/render_workbooks.py [--dpi 80]
Needs LibreOffice and poppler-utils (apt-get install -y --no-install-recommends poppler-utils)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from fsm_lstm.libreoffice import to_pdf

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dpi", type=int, default=80)
    args = parser.parse_args()
    exe = shutil.which("pdftoppm")
    if exe is None:
        raise SystemExit("render_workbooks: pdftoppm is missing; apt-get install -y poppler-utils")
    books = sorted((ROOT / "sheets").glob("*.xlsx"))
    with tempfile.TemporaryDirectory() as tmp:
        for pdf in to_pdf(books, tmp):
            target = ROOT / "docs" / f"workbook-{pdf.stem}"
            subprocess.run([exe, "-png", "-r", str(args.dpi), "-f", "1", "-l", "1", "-singlefile", str(pdf),
                            str(target)], check=True)
            print(f"{target}.png")


if __name__ == "__main__":
    main()
