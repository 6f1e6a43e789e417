"""Pictures of grammars through Graphviz's ``dot`` program."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .atomic import atomic_path
from .dot_format import to_dot
from .errors import UserError
from .grammar import Grammar

__all__ = ["PICTURES", "draw"]

PICTURES = {".svg": "svg", ".png": "png", ".pdf": "pdf"}


def draw(g: Grammar, path: str | os.PathLike[str]) -> None:
    """Render the grammar to .svg, .png or .pdf (by extension), atomically."""
    fmt = PICTURES.get(Path(path).suffix.lower())
    if fmt is None:
        raise UserError(f"cannot draw to {path}: use a .svg, .png or .pdf file name")
    exe = shutil.which("dot")
    if exe is None:
        raise UserError("drawing needs Graphviz's `dot` program; install it (apt-get install graphviz)")
    with atomic_path(path) as tmp:
        done = subprocess.run([exe, f"-T{fmt}", "-o", str(tmp)], input=to_dot(g, complete=False).encode(),
                              capture_output=True, check=False)
        if done.returncode != 0:
            raise UserError(f"Graphviz failed to draw {path}: {done.stderr.decode(errors='replace').strip()}")
