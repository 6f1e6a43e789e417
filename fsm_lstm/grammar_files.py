"""Reading and writing grammar files by extension (.toml, .dot), and the bundled grammars."""

from __future__ import annotations

import os
from pathlib import Path

from .atomic import write_text_atomic
from .dot_format import parse_dot, to_dot
from .errors import GrammarError
from .grammar import Grammar
from .text_files import read_text_file
from .toml_format import load_toml, to_toml

__all__ = ["FORMATS", "MAX_GRAMMAR_BYTES", "bundled_dir", "bundled_names", "grammar_text", "load_grammar",
           "machine_names", "resolve", "save_grammar", "shown_path"]

FORMATS = (".toml", ".dot")
MAX_GRAMMAR_BYTES = 64 * 2**20  # a grammar file larger than this is refused before it is read


def bundled_dir() -> Path:
    """The folder of the grammar files shipped with fsm-lstm."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "grammars", here.parent / "grammars"):  # installed wheel, source checkout
        if candidate.is_dir():
            return candidate
    raise GrammarError(f"the bundled grammars are missing beside {here}; reinstall fsm-lstm")


def bundled_names() -> list[str]:
    """Names of the bundled grammars."""
    return sorted(p.stem for p in bundled_dir().glob("*.toml"))


def machine_names() -> list[str]:
    """Names of the bundled Moore and Mealy machines (``grammars/machines/``), loadable by name like the grammars."""
    return sorted(p.stem for p in (bundled_dir() / "machines").glob("*.toml"))


def _bundled_list() -> str:
    """The bundled grammars and machines, for messages."""
    return ", ".join(bundled_names() + machine_names())


def resolve(spec: str | os.PathLike[str]) -> Path:
    """A path as given, or the bundled grammar or machine of that name (``reber`` -> .../reber.toml). A bare name
    is bundled even where a file or folder of that name is in the working directory (a results folder ``reber/``
    hid the bundled grammar, and a file without an extension cannot be read as a grammar)."""
    path = Path(spec)
    if path.suffix or (_exists(path) and os.fspath(spec) != path.name):  # ./reber and reber/ are paths
        return path
    for bundled in (bundled_dir() / f"{path.name}.toml", bundled_dir() / "machines" / f"{path.name}.toml"):
        if _exists(bundled):
            return bundled
    return path


def _exists(path: Path, test: str = "exists") -> bool:
    """``path.exists()`` (or ``is_file``), False for a name the file system refuses (over 255 bytes)."""
    try:
        return bool(getattr(path, test)())
    except OSError:
        return False


def shown_path(spec: str | os.PathLike[str]) -> str:
    """The grammar as the user gave it, for messages: the path as typed, or ``NAME (bundled)``."""
    return f"{spec} (bundled)" if resolve(spec) != Path(spec) else str(spec)


def load_grammar(spec: str | os.PathLike[str]) -> Grammar:
    """Load a grammar file (.toml or .dot) or a bundled grammar by name."""
    path = resolve(spec)
    if not path.suffix and not _exists(path):
        beside = path.with_name(path.name + ".npz")
        model = f"; did you mean the model {beside}?" if _exists(beside, "is_file") else ""
        raise GrammarError(f"{path}: no such grammar file, and no bundled grammar of that name "
                           f"(bundled: {_bundled_list()}){model}")
    if path.suffix.lower() not in FORMATS:
        from .importer import import_hint

        hint = import_hint(path)
        if hint:
            raise GrammarError(hint)
        if path.is_dir():
            raise GrammarError(f"{path}: a folder, not a grammar file; give a .toml or .dot file in it, or a "
                               f"bundled name ({_bundled_list()})")
        raise GrammarError(f"{path}: unknown grammar format {path.suffix or '(no extension)'!r}; "
                           f"use a .toml or .dot file, or a bundled name ({_bundled_list()})")
    try:
        text = read_text_file(path, MAX_GRAMMAR_BYTES, "grammar file", GrammarError)
    except FileNotFoundError:
        raise GrammarError(f"{path}: no such file; check the path (bundled grammars: {_bundled_list()})") from None
    if path.suffix.lower() == ".dot":  # names may hold a carriage return: no newline translation
        return parse_dot(text, where=str(path))
    return load_toml(str(path), text.replace("\r\n", "\n").replace("\r", "\n"), default_name=path.stem)


def grammar_text(g: Grammar, suffix: str) -> str:
    """The grammar written in the format of ``suffix`` (any case)."""
    suffix = suffix.lower()
    if suffix not in FORMATS:
        raise GrammarError(f"cannot write grammars as {suffix or '(no extension)'!r}; use .toml or .dot")
    return to_toml(g) if suffix == ".toml" else to_dot(g)


def save_grammar(g: Grammar, path: str | os.PathLike[str]) -> None:
    """Write a grammar file atomically, in the format given by the extension."""
    write_text_atomic(path, grammar_text(g, Path(path).suffix))
