"""Strings of symbols as written on the command line: no separators when every symbol is one character
(``BTXSE``), space-separated otherwise (``push pop``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from .errors import UserError
from .text_files import read_text_file

__all__ = ["MAX_WORDS_FILE", "counted", "encode", "format_word", "parse_word", "read_words", "symbols_count"]


def parse_word(text: str, alphabet: Sequence[str]) -> tuple[str, ...]:
    """Split ``text`` into symbols of ``alphabet``; unknown symbols raise a UserError naming the position."""
    single = all(len(a) == 1 for a in alphabet)
    parts = [ch for ch in text if not ch.isspace()] if single else text.split()
    known = set(alphabet)
    for pos, sym in enumerate(parts):
        if sym not in known:
            raise UserError(f"unknown symbol {sym!r} at position {pos + 1} of {text!r}; "
                            f"the alphabet is {' '.join(alphabet)}")
    return tuple(parts)


def format_word(word: Sequence[str], alphabet: Sequence[str]) -> str:
    """Write a word as on the command line."""
    return ("" if all(len(a) == 1 for a in alphabet) else " ").join(word)


def encode(words: Sequence[Sequence[str]], alphabet: Sequence[str], pad: int = 0) -> np.ndarray:
    """(B, T) int64 symbol indices of equal-length or padded words (padding with index ``pad``)."""
    index = {a: k for k, a in enumerate(alphabet)}
    length = max((len(w) for w in words), default=0)
    out = np.full((len(words), length), pad, dtype=np.int64)
    for b, w in enumerate(words):
        out[b, : len(w)] = [index[a] for a in w]
    return out


MAX_WORDS_FILE = 64 * 2**20  # bytes


def read_words(path: str | os.PathLike[str], parse: Callable[[str], tuple[str, ...]]) -> list[tuple[str, ...]]:
    """A words file: one word a line, each read by ``parse`` (e.g. :func:`parse_word` with the alphabet, or a
    reading's that drops a word classifier's markers); blank lines are skipped, and so are lines starting with
    ``#`` that are not words (a model whose alphabet has ``#`` in it reads ``# a #`` as a word)."""
    try:
        lines = read_text_file(path, MAX_WORDS_FILE, "words file").splitlines()
    except FileNotFoundError:
        raise UserError(f"{path}: no such words file") from None
    words = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            words.append(parse(line))
        except UserError as exc:
            if line.lstrip().startswith("#"):  # a comment
                continue
            raise UserError(f"{path}, line {number}: {exc}") from None
    if not words:
        raise UserError(f"{path}: no words; write one word a line, symbols separated by spaces (or written together "
                        "when every symbol is one character)")
    return words


def counted(n: int, noun: str) -> str:
    """``n`` of a noun with a plural in -s, in words: "1 state", "22 states", "4,000 states"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def symbols_count(n: int) -> str:
    """``n`` symbols, in words: "1 symbol", "22 symbols", "4,000 symbols"."""
    return counted(n, "symbol")
