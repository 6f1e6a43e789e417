"""Render the first page (the Run sheet) of every bundled workbook, sheets/NAME.xlsx, to docs/workbook-NAME.png,
and of the Reber workbook with the input BTXSQTE typed in (it leaves the grammar at the unknown symbol Q) to
docs/workbook-reber-leaving.png: LibreOffice prints each workbook to PDF, as its print setup says (recalculating
first), and poppler's pdftoppm draws the page.
Run from the repository root after `fsm-lstm build --all`: python docs/render_workbooks.py [--dpi 80]
Needs LibreOffice and poppler-utils (apt-get install -y --no-install-recommends poppler-utils)."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from fsm_lstm.libreoffice import to_pdf

ROOT = Path(__file__).resolve().parent.parent


def typed(book: Path, text: str, out: Path) -> None:
    """A copy of ``book`` with ``text`` (plain letters) in the input cell Run!B2, the rest byte for byte (the
    charts kept as written; LibreOffice recalculates on load)."""
    with zipfile.ZipFile(book) as z, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as w:
        for info in z.infolist():
            data = z.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data, count = re.subn(rb'<c r="B2" (s="\d+") t="s"><v>\d+</v></c>',
                                      rb'<c r="B2" \1 t="inlineStr"><is><t>' + text.encode() + rb"</t></is></c>", data)
                assert count == 1, "the input cell of the Run sheet moved"
            w.writestr(info, data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dpi", type=int, default=80)
    args = parser.parse_args()
    exe = shutil.which("pdftoppm")
    if exe is None:
        raise SystemExit("render_workbooks: pdftoppm is missing; apt-get install -y poppler-utils")
    books = sorted((ROOT / "sheets").glob("*.xlsx"))
    with tempfile.TemporaryDirectory() as tmp:
        typed(ROOT / "sheets" / "reber.xlsx", "BTXSQTE", Path(tmp) / "reber-leaving.xlsx")
        for pdf in to_pdf([*books, Path(tmp) / "reber-leaving.xlsx"], tmp):
            target = ROOT / "docs" / f"workbook-{pdf.stem}"
            subprocess.run([exe, "-png", "-r", str(args.dpi), "-f", "1", "-l", "1", "-singlefile", str(pdf),
                            str(target)], check=True)
            print(f"{target}.png")


if __name__ == "__main__":
    main()
