"""The README's examples are real: every ``$ fsm-lstm ...`` command in its fenced blocks runs, in order, in a
fresh folder holding copies of grammars/ and examples/, and prints what the README shows (timings, query counts
and ``...`` elisions aside) with the exit code it shows (``(exit N)`` after the output; 0 when none is shown).
The documents link only to files of the repository."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fsm_lstm.model import load_model

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
TIMEOUT = 120  # seconds per command
SKIP = "# not run by the tests"  # a command carrying this comment is shown but not run


def fenced_blocks(text: str) -> list[str]:
    """The contents of every ``` fenced block."""
    return re.findall(r"^```[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def commands(text: str) -> list[tuple[str, str, int]]:
    """(command line, expected output, expected exit code) of every ``$ fsm-lstm`` line, in order."""
    found: list[tuple[str, list[str], int]] = []
    for block in fenced_blocks(text):
        current = None
        for line in block.splitlines():
            if line.startswith("$ "):
                current = (line[2:], [], 0)
                found.append(current)
            elif current is not None:
                current[1].append(line)
    out = []
    for command, lines, _ in found:
        while lines and not lines[-1].strip():
            lines.pop()
        code = 0
        if lines and (m := re.fullmatch(r"(.*?)\s*\(exit (\d+)\)", lines[-1])):
            lines[-1], code = m.group(1), int(m.group(2))
        out.append((command, "\n".join(lines), code))
    return out


def normalised(text: str) -> str:
    """Output with timings and query counts blanked and trailing white space dropped."""
    text = re.sub(r" *\b\d+\.\d+ ?s\b", " <time>", text)
    text = re.sub(r"\b[\d,]+ network queries", "<n> network queries", text)
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def matches(expected: str, actual: str) -> bool:
    """``actual`` matches ``expected``, where ``...`` in ``expected`` stands for any text (lines included)."""
    pattern = ".*?".join(re.escape(part) for part in normalised(expected).split("..."))
    return re.fullmatch(pattern, normalised(actual), re.DOTALL) is not None


COMMANDS = commands(README.read_text(encoding="utf-8"))


def test_the_readme_shows_commands_with_their_output():
    assert len(COMMANDS) >= 9 and all(cmd.startswith("fsm-lstm ") for cmd, _, _ in COMMANDS)
    assert sum(SKIP in cmd for cmd, _, _ in COMMANDS) <= 2


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A fresh working folder with copies of the repository's grammars and examples, shared by the commands
    in the README's order."""
    work = tmp_path_factory.mktemp("readme")
    for name in ("grammars", "examples"):
        shutil.copytree(ROOT / name, work / name)
    return work


@pytest.mark.parametrize("command, expected, code", COMMANDS, ids=[c for c, _, _ in COMMANDS])
def test_readme_command(command, expected, code, folder):
    if SKIP in command:
        pytest.skip(command.split(SKIP, 1)[1].strip() or "too slow for the tests")
    argv = shlex.split(command, comments=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "fsm_lstm.cli", *argv[1:]], cwd=folder, capture_output=True,
                          text=True, timeout=TIMEOUT, env=env)  # this checkout's fsm_lstm, whatever is installed
    actual = done.stdout + done.stderr
    assert matches(expected, actual), f"$ {command}\n--- the README shows:\n{expected}\n--- it prints:\n{actual}"
    assert done.returncode == code, actual


def test_example_models_are_what_make_examples_writes(tmp_path):
    from examples.make_examples import EXAMPLES, main

    main(str(tmp_path))
    for name in EXAMPLES:
        committed, fresh = load_model(ROOT / "examples" / name), load_model(tmp_path / name)
        assert committed.meta == fresh.meta
        for key, array in committed.arrays().items():
            assert np.array_equal(array, fresh.arrays()[key]), (name, key)


@pytest.mark.parametrize("doc", [README, *DOCS], ids=lambda p: p.name)
def test_documents_link_only_to_files_in_the_repository(doc):
    text = doc.read_text(encoding="utf-8")
    assert "/work/" not in text and "shared/" not in text and "DESIGN.md" not in text
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        path = (doc.parent / target).resolve()
        assert path.is_relative_to(ROOT) and path.exists(), f"{doc.name} links to {target}"


def test_the_python_api_document_runs(monkeypatch, capsys):
    """docs/python-api.md's Python blocks, run in order in one namespace from the repository's root: each asserts
    what it claims (the report's verdict and counterexample, the strategies' expected answers)."""
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "python-api.md").read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 3
    for block in blocks:
        exec(compile(block, "docs/python-api.md", "exec"), namespace)  # noqa: S102 - the repository's own text
    assert capsys.readouterr().out.startswith("heads checked: ")  # print(report) shows verify's text
