"""Output names a user cannot regret: every output carries its format's extension, is a regular file or a new
path, and is not a file the same command reads; all checked before any work.

Without these checks ``compile g.toml -o g.toml`` replaced the grammar with a model, and ``extract m.npz -o
link.toml``, where ``link.toml`` is a symbolic link to ``m.npz``, replaced the model with a grammar. Files are
compared, not names: a link, a second hard link or another spelling of an input's path is that input.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from .atomic import output_path
from .draw import PICTURES
from .errors import UserError
from .grammar_files import FORMATS as GRAMMAR_FORMATS
from .grammar_files import resolve

__all__ = ["FORMATS", "OUTPUTS", "check_not_an_input", "check_not_read", "check_outputs", "expect_suffix"]

OUTPUTS = ("output", "report", "sheet")  # the command-line destinations that name files a command writes
# string arguments that are never files: a word, symbols, labels, lengths, an address (``convert``'s ``input`` is
# a file; ``sheet --input`` is the string in the input cell)
_NOT_FILES = frozenset({"string", "alphabet", "heads", "start_marker", "end_marker", "lengths", "scheduler"})
_MODEL = ((".npz",), "a model", "MODEL.npz")
_BOOK = ((".xlsx",), "a workbook", "BOOK.xlsx")
_GRAMMAR = (GRAMMAR_FORMATS, "an automaton", "OUT.toml or OUT.dot")
FORMATS: dict[tuple[str, str], tuple[tuple[str, ...], str, str]] = {  # (command, destination) -> extensions, ...
    ("compile", "output"): _MODEL, ("train", "output"): _MODEL, ("import", "output"): _MODEL,
    ("sheet", "output"): _BOOK, ("verify", "report"): _BOOK, ("extract", "sheet"): _BOOK,
    ("extract", "output"): _GRAMMAR, ("convert", "output"): (_GRAMMAR[0], "a grammar", _GRAMMAR[2]),
    ("plot", "output"): ((".png",), "a picture", "FILE.png"),
    ("draw", "output"): (tuple(PICTURES), "a picture", "FILE.svg, FILE.png or FILE.pdf"),
    ("export onnx", "output"): ((".onnx",), "an ONNX model", "MODEL.onnx"),
    ("export torch", "output"): ((".pt", ".pth"), "a torch file", "MODEL.pt"),
}


def expect_suffix(path: str, suffixes: Sequence[str], what: str, example: str) -> None:
    """Refuse an output ``path`` whose extension is none of ``suffixes`` (any case), before any work."""
    if Path(path).suffix.lower() not in suffixes:
        listed = ", ".join(suffixes[:-1]) + " or " + suffixes[-1] if len(suffixes) > 1 else suffixes[0]
        raise UserError(f"{path}: {what} is written as {listed}; name the output {example} (nothing was written)")


def _named_files(value: object) -> Iterator[str]:
    """The strings in an argument's value (a string or a list of them)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        yield from (v for v in value if isinstance(v, str))


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # either is missing, unreadable or not a path at all
        return False


def _bundled(spec: str) -> str:
    """The file a bundled grammar's name (``reber``) stands for, or ``spec`` itself."""
    try:
        return str(resolve(spec))
    except (UserError, OSError, ValueError):  # no bundled grammars, or not a path at all
        return spec


def _shown(spec: str) -> str:
    return spec if _bundled(spec) == spec else f"{spec} (bundled)"


def check_not_an_input(args: argparse.Namespace) -> None:
    """Refuse a command whose output (``OUTPUTS``) is the same file as any other argument naming an existing
    file, before any work: writing it would replace what the command reads."""
    words = {"input"} if _command_name(args) == "sheet" else set()  # sheet --input: a string, not a file
    given = {name: value for name, value in vars(args).items() if name not in _NOT_FILES and name not in words}
    outputs = [(name, path) for name in OUTPUTS for path in _named_files(given.get(name))]
    inputs = [path for name, value in given.items() if name not in OUTPUTS for path in _named_files(value)]
    for name, output in outputs:
        for path in inputs:
            if _same_file(output, path) or _same_file(output, _bundled(path)):
                path = _shown(path)
                flag = "-o" if name == "output" else f"--{name}"
                raise UserError(f"{flag} {output} is the file {path} that this command reads; write to another "
                                "name (nothing was written)")


def check_not_read(output: str, read: Sequence[Path]) -> None:
    """Refuse an output that is one of the files a command found it must read (after reading them, before writing):
    a TensorFlow.js shard or an ONNX external-data file named only inside the file given."""
    for path in read:
        if _same_file(output, str(path)):
            raise UserError(f"-o {output} is the file {path} that this command reads; write to another name "
                            "(nothing was written)")


def _command_name(args: argparse.Namespace) -> str:
    """The parsed command's name, with ``export``'s format (``export onnx``)."""
    command = str(getattr(args, "command", ""))
    return f"export {args.to}" if command == "export" else command


def check_outputs(args: argparse.Namespace) -> None:
    """Every output of the parsed command line: the extension of its format (:data:`FORMATS`), not one of the
    command's inputs (:func:`check_not_an_input`), and a regular file (a symbolic link only to a file of the
    same extension) or a new path in an existing folder (:func:`atomic.output_path`)."""
    command = _command_name(args)
    given = [(name, path) for name in OUTPUTS if isinstance(path := getattr(args, name, None), str)]
    for name, path in given:
        if (command, name) in FORMATS:
            expect_suffix(path, *FORMATS[command, name])
    check_not_an_input(args)  # before the kinds: a link to an input is best called that input
    for _, path in given:
        output_path(path)
