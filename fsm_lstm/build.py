"""Build: compile and certify grammars, writing a model (``NAME.npz``) and a live workbook (``NAME.xlsx``) for
each into one folder. Every grammar is read and checked before anything is written."""

from __future__ import annotations

import os
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .certify import Certificate, certify
from .atomic import output_path
from .compiler import compile_grammar
from .errors import UserError
from .grammar import Grammar, empty_language_warning
from .grammar_files import load_grammar, resolve, shown_path
from .labels import parse_head
from .model import save_model
from .sheets import check_text, sample_input, write_workbook

__all__ = ["BuildResult", "Built", "Progress", "build", "plan"]

Progress = Callable[[int, int, str], None]  # (grammars done, grammars in all, the grammar at work)


@dataclass(frozen=True)
class Built:
    """One grammar built: its sizes, its certificate, the time taken and the two files written."""

    source: str
    grammar: str
    stem: str
    states: int
    edges: int
    units: int
    certificate: Certificate
    seconds: float
    model: Path
    workbook: Path
    warning: str | None = None  # the grammar's language is empty (grammar.empty_language_warning)

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"source": self.source, "grammar": self.grammar, "states": self.states, "edges": self.edges,
                "units": self.units, "certificate": self.certificate.to_dict(), "seconds": self.seconds,
                "model": str(self.model), "workbook": str(self.workbook),
                **({"warning": self.warning} if self.warning else {})}


@dataclass(frozen=True)
class BuildResult:
    """Every grammar built, in the order given."""

    built: tuple[Built, ...]

    @property
    def proven(self) -> bool:
        """True when every certificate holds."""
        return all(b.certificate.proven for b in self.built)

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"proven": self.proven, "grammars": [b.to_dict() for b in self.built]}


def _safe(name: str) -> bool:
    """Usable as a file name in the output folder: no path, no hidden file, no control character, and no format
    character (a right-to-left override wrote a name that reads as 'report.exe')."""
    return (not re.search(r"[/\\\x00-\x1f\x7f]", name) and not name.startswith(".") and 0 < len(name) <= 120
            and not any(unicodedata.category(c) == "Cf" for c in name))


def plan(specs: Sequence[str], out_dir: str | os.PathLike[str]) -> list[tuple[str, Grammar, str]]:
    """(spec, grammar, file stem) of every grammar, checked before anything is written: each loads, a workbook
    can hold its strings, it names its files safely, no two of them write the same files, and each file may be
    written (:func:`atomic.output_path`)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is not a folder; choose another output folder")
    if not out.exists() and out.suffix.lower() in (".npz", ".xlsx", ".toml", ".dot"):  # a file name, mistaken
        raise UserError(f"-o names the output folder, and {out} looks like a file name; build writes NAME.npz and "
                        f"NAME.xlsx into that folder (give -o {out.parent}, or rename the folder)")
    existing = out.is_dir()
    grammars = [load_grammar(s) for s in specs]
    steps: list[tuple[str, Grammar, str]] = []
    taken: dict[str, str] = {}
    taken_specs: dict[str, str] = {}
    named = [g.name if _safe(g.name) else Path(str(spec)).stem for spec, g in zip(specs, grammars)]
    shared = {n.casefold() for n in named if [m.casefold() for m in named].count(n.casefold()) > 1}
    for spec, g, name in zip(specs, grammars, named):
        where = shown_path(spec)
        for what, values in (("grammar name", [g.name]), ("description", [g.description]), ("state", g.states),
                             ("symbol", g.alphabet)):
            for value in values:
                check_text(value, f"{where}: {what}")  # the workbook could not hold it
        # output files are named after the grammar, or after its file when grammars share a name (LearnLib names
        # every file's graph g)
        stem = Path(str(spec)).stem if name.casefold() in shared and Path(str(spec)).suffix else name
        if not _safe(stem):
            raise UserError(f"{where}: cannot name output files after grammar {g.name!r}; rename it")
        key = stem.casefold()  # one file on a case-insensitive file system
        if key in taken and resolve(taken_specs[key]).resolve() == resolve(spec).resolve():
            raise UserError(f"{where} is given twice; give it once")
        if key in taken:
            raise UserError(f"{taken[key]} and {where} would both write {out / stem}.npz and .xlsx; give the "
                            "grammars different names, or build them into different folders")
        taken[key], taken_specs[key] = where, spec
        for suffix in (".npz", ".xlsx") if existing else ():  # a folder, device or link to another kind of
            output_path(out / f"{stem}{suffix}")  # file there: refused before anything is written
        steps.append((str(spec), g, stem))
    return steps


def build(specs: Sequence[str], out_dir: str | os.PathLike[str] = "sheets", unknown_start: bool = False,
          progress: Progress | None = None) -> BuildResult:
    """Compile and certify every grammar, and write its model and workbook into ``out_dir`` (created if needed;
    a folder created for nothing is removed again)."""
    out = Path(out_dir)
    steps = plan(specs, out)
    created = [p for p in (out, *out.parents) if not p.exists()]  # the folder first, then its parents
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the folder {out}: {exc.strerror}; choose another output folder") from None
    built = []
    try:
        for k, (spec, g, stem) in enumerate(steps):
            if progress:
                progress(k, len(steps), g.name)
            t0 = time.perf_counter()
            model = compile_grammar(g, unknown_start=unknown_start)
            cert = certify(model)
            target = out / f"{stem}.npz"
            save_model(model, target)
            write_workbook(model, target.with_suffix(".xlsx"), sample_input(model), title=g.name)
            built.append(Built(spec, g.name, stem, sum(parse_head(h)[0] == "state" for h in model.heads),
                               model.hidden_size - 1, model.hidden_size, cert, time.perf_counter() - t0, target,
                               target.with_suffix(".xlsx"), empty_language_warning(g, unknown_start)))
        if progress:
            progress(len(steps), len(steps), "done")
    finally:
        for folder in created:  # folders made for nothing are not left behind (rmdir keeps non-empty ones)
            try:
                folder.rmdir()
            except OSError:
                break
    return BuildResult(tuple(built))
