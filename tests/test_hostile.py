"""Hostile inputs: the contract is exit 2, one line on stderr, no traceback, and nothing the user had is lost.

The committed corpus is tests/hostile/files/ (regenerate with ``python -m tests.hostile.make``); the zip bomb and
the 4 TiB header are generated (tests/hostile/make.py) and run in a subprocess under RLIMIT_AS, so a regression
fails the test instead of exhausting the machine.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fsm_lstm import atomic
from fsm_lstm.automata import equivalent
from fsm_lstm.cli import main
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.dot_format import parse_dot, to_dot
from fsm_lstm.errors import GrammarError, ModelError, UserError
from fsm_lstm.grammar import Grammar, structural_warnings
from fsm_lstm.grammar_files import load_grammar, save_grammar
from fsm_lstm.libreoffice import recalculate
from fsm_lstm.model import Layer, Model, load_model, save_model
from fsm_lstm.regex import regex_grammar
from fsm_lstm.sheets import MAX_STEPS, write_workbook
from fsm_lstm.toml_format import parse_toml, to_toml
from tests.hostile.make import chain, heads_bomb, huge_header, random_dfa, torch_bomb, zip_bomb
from tests.oracle import accepts, all_words
from tests.workbooks import compare, error_cells, libreoffice_values

FILES = Path(__file__).resolve().parent / "hostile" / "files"
REPO = Path(__file__).resolve().parent.parent
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """main() in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(code: int, err: str, expect: int = 2) -> None:
    assert code == expect, err
    assert "Traceback" not in err and 1 <= err.count("\n") <= 2, err
    assert err.startswith("fsm-lstm: error: "), err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# ----- the committed corpus --------------------------------------------------------------------------------------
# file -> expected exit codes of check, compile and sheet (None: not run); model files: every command exits 2
GRAMMAR_CASES = {
    "regex_nested_300.toml": (0, 0, None), "regex_plain_600.toml": (0, None, None),
    "regex_alternation_3000.toml": (0, 0, None), "toml_formula_names.toml": (0, 0, 0),
    "toml_control_names.toml": (0, 0, 2), "dot_keyword_names.dot": (0, 0, 0), "dot_subgraph.dot": (0, 0, 0),
    "dot_html_labels.dot": (0, 0, 0),
    "toml_exponential_nfa.toml": (2, 0, None),
}
MODEL_COMMANDS = [["run", "{f}", ""], ["certify", "{f}"], ["sheet", "{f}", "-o", "{tmp}/out.xlsx"],
                  ["verify", "{f}", "--examples", "0", "--max-len", "2"]]


def corpus_cases() -> list[tuple[str, list[str], int]]:
    cases = []
    for path in sorted(FILES.iterdir()):
        name = path.name
        if name.startswith("."):
            continue
        if path.suffix in (".toml", ".dot"):
            check, comp, sheet = GRAMMAR_CASES.get(name, (2, 2, 2))
            for argv, code in ((["check", "{f}"], check), (["compile", "{f}", "-o", "{tmp}/out.npz"], comp),
                               (["sheet", "{f}", "-o", "{tmp}/out.xlsx"], sheet)):
                if code is not None:
                    cases.append((name, argv, code))
        elif path.suffix == ".npz":
            cases += [(name, argv, 2) for argv in MODEL_COMMANDS]
        elif path.suffix == ".pt":
            cases.append((name, ["import", "{f}", "-o", "{tmp}/out.npz", "--alphabet", "a", "--heads", "accept"], 2))
    return cases


def test_corpus_covers_every_category():
    names = {p.name for p in FILES.iterdir()}
    for prefix in ("regex_", "toml_", "dot_", "npz_", "pt_"):
        assert sum(n.startswith(prefix) for n in names) >= 1, prefix
    assert len(names) >= 40
    assert set(GRAMMAR_CASES) <= names


@pytest.mark.parametrize("name, argv, code", corpus_cases(), ids=lambda x: x if isinstance(x, str) else None)
def test_corpus_file_exits_cleanly_and_keeps_every_file(name, argv, code, tmp_path):
    source = FILES / name
    before_source = hashlib.sha256(source.read_bytes()).hexdigest()
    for existing in ("out.npz", "out.xlsx", "keep.txt"):
        (tmp_path / existing).write_bytes(b"precious " + existing.encode())
    before = snapshot(tmp_path)
    got, out, err = run_cli([a.replace("{f}", str(source)).replace("{tmp}", str(tmp_path)) for a in argv])
    assert "Traceback" not in err and err.count("\n") <= 2, err
    assert got == code, (got, err)
    if code == 2:
        assert_one_line_error(got, err)
        assert snapshot(tmp_path) == before  # nothing the user had is lost, nothing is left behind
    else:
        after = snapshot(tmp_path)
        assert set(after) == set(before)  # no temporary file left
        assert after["keep.txt"] == before["keep.txt"]
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before_source


def test_console_script_on_corpus_files_prints_no_traceback(tmp_path):
    for name in ("regex_exponential_dfa.toml", "npz_object_pickle.npz", "dot_truncated_in_attributes.dot",
                 "toml_nested_arrays.toml", "pt_garbage.pt"):
        argv = ["import", str(FILES / name), "-o", str(tmp_path / "o.npz"), "--alphabet", "a", "--heads",
                "accept"] if name.endswith(".pt") else ["run" if name.endswith(".npz") else "check", str(FILES / name)]
        if name.endswith(".npz"):
            argv.append("")
        done = subprocess.run([sys.executable, "-m", "fsm_lstm.cli", *argv], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr


# ----- 1. formula injection into workbooks -----------------------------------------------------------------------
HOSTILE_STATES = ["=ZQ1+1", "+ZQ2", "-ZQ3", "@ZQ4", 'ZQ"5', '=HYPERLINK("http://zq.example","ZQ")', "#N/A ZQ"]
HOSTILE_SYMBOLS = ["=ZQa", "+ZQb", "-ZQc", "@ZQd", 'ZQ"e']


def hostile_grammar() -> Grammar:
    s = HOSTILE_STATES
    edges = [(s[k], HOSTILE_SYMBOLS[k % len(HOSTILE_SYMBOLS)], s[(k + 1) % len(s)]) for k in range(len(s))]
    edges.append((s[2], HOSTILE_SYMBOLS[0], s[5]))
    return Grammar(name='=ZQ("name")', start=s[0], accept=frozenset({s[3], s[6]}), alphabet=tuple(HOSTILE_SYMBOLS),
                   states=tuple(s), transitions=tuple(edges), description="+ZQ description '=1' @x")


def hostile_single_grammar() -> Grammar:
    states = ("=ZQs", "+ZQt", '"ZQ')
    return Grammar(name="@ZQsingle", start=states[0], accept=frozenset({states[2]}), alphabet=("=", "+", "-", "@", '"'),
                   states=states, transitions=((states[0], "=", states[1]), (states[1], "+", states[2]),
                                               (states[2], '"', states[0]), (states[1], "@", states[1]),
                                               (states[0], "-", states[2])))


def hostile_model() -> Model:
    """A model that carries no grammar, with formula-like unit and head labels."""
    rng = np.random.default_rng(0)
    H, K = 3, 2
    shapes = ((4 * H, K), (4 * H, H), (4 * H,), (4 * H,))
    layer = Layer(*(rng.normal(size=shape).astype(np.float32) for shape in shapes))
    return Model(layers=(layer,), head_weight=rng.normal(size=(3, H)).astype(np.float32),
                 head_bias=np.zeros(3, np.float32), alphabet=("=ZQx", "@ZQy"),
                 heads=("accept", "state:=ZQ(1)", "next:@ZQy"), units=("=ZQu0", "+ZQu1", '-ZQ"u2'))


def formula_cells(path) -> dict[tuple[str, str], str]:
    wb = openpyxl.load_workbook(path)
    return {(ws.title, c.coordinate): c.value for ws in wb for row in ws.iter_rows() for c in row
            if c.data_type == "f"}


def text_values(path) -> set[str]:
    wb = openpyxl.load_workbook(path)
    return {c.value for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str)
            and c.data_type != "f"}


@pytest.fixture(scope="module")
def injected(tmp_path_factory):
    """Hostile workbooks written by `fsm-lstm sheet` and by write_workbook, recalculated in one LibreOffice run."""
    src = tmp_path_factory.mktemp("injected")
    cases = {}
    g = hostile_grammar()
    save_grammar(g, src / "names.toml")
    word = (HOSTILE_SYMBOLS[0], HOSTILE_SYMBOLS[1], HOSTILE_SYMBOLS[2], HOSTILE_SYMBOLS[0], HOSTILE_SYMBOLS[3])
    assert run_cli(["sheet", src / "names.toml", "-o", src / "names.xlsx", "--input", " ".join(word), "--steps",
                    "8"])[0] == 0
    cases["names.xlsx"] = (compile_grammar(load_grammar(src / "names.toml")), word)
    long_word = tuple(HOSTILE_SYMBOLS[(k * 7) % 5] for k in range(120))  # 600+ characters of multi-character symbols
    model = compile_grammar(load_grammar(src / "names.toml"))
    write_workbook(model, src / "long.xlsx", " ".join(long_word), steps=120)
    cases["long.xlsx"] = (model, long_word)
    single = hostile_single_grammar()
    save_grammar(single, src / "single.dot")
    assert run_cli(["sheet", src / "single.dot", "-o", src / "single.xlsx", "--input", '=+"-@+', "--steps",
                    "7"])[0] == 0
    cases["single.xlsx"] = (compile_grammar(load_grammar(src / "single.dot")), tuple('=+"-@+'))
    model = hostile_model()
    write_workbook(model, src / "model.xlsx", "=ZQx @ZQy @ZQy =ZQx", steps=6)
    cases["model.xlsx"] = (model, ("=ZQx", "@ZQy", "@ZQy", "=ZQx"))
    paths = [src / name for name in cases]
    written = {p.name: formula_cells(p) for p in paths}
    out = recalculate(paths, tmp_path_factory.mktemp("injected-recalculated"))
    return {p.name: (cases[p.name][0], cases[p.name][1], src / p.name, p, written[p.name]) for p in out}


def test_user_strings_never_become_formulas(injected):
    for name, (_, _, original, recalculated, written) in injected.items():
        assert written, name
        assert {sheet for sheet, _ in written} == {"Run", "Trace"}, name  # only the run and the trace compute
        for path in (original, recalculated):
            formulas = formula_cells(path)
            assert set(formulas) == set(written), name  # LibreOffice turned no text into a formula
            for cell, text in formulas.items():
                assert "ZQ" not in text and "HYPERLINK" not in text.upper(), (name, cell, text)
            wb = openpyxl.load_workbook(path)
            assert all(not ws._hyperlinks for ws in wb), name
            assert not any(c.hyperlink for ws in wb for row in ws.iter_rows() for c in row), name
    texts = text_values(injected["names.xlsx"][3])
    for s in [*HOSTILE_STATES, *HOSTILE_SYMBOLS, '=ZQ("name")', "+ZQ description '=1' @x"]:
        assert s in texts, s  # written as text, unchanged


def test_recalculated_hostile_workbooks_match_the_runtime(injected):
    for name, (model, word, _, recalculated, _) in injected.items():
        wb = openpyxl.load_workbook(recalculated, data_only=True)  # text such as '#N/A ZQ' is a name, not an error
        assert not [c.coordinate for ws in wb for row in ws.iter_rows() for c in row if c.data_type == "e"], name
        assert [c for c in error_cells(recalculated) if "ZQ" not in c] == [], name
        assert compare(libreoffice_values(recalculated), model, word) < 1e-9, name


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["=", "+", "-", "@", "", '"', "#"]), st.text(max_size=6)),
                min_size=3, max_size=3, unique_by=lambda t: t[0] + t[1]),
       st.lists(st.text(min_size=1, max_size=4).filter(lambda s: not any(ch.isspace() for ch in s)),
                min_size=2, max_size=2, unique=True))
def test_any_names_are_written_as_text_or_refused(states, symbols):
    states = [f"{lead}ZQ{rest}" for lead, rest in states]
    symbols = [f"{s}ZQ" for s in symbols]
    g = Grammar(name=states[0], start=states[0], accept=frozenset(states[1:2]), alphabet=tuple(symbols),
                states=tuple(states), transitions=((states[0], symbols[0], states[1]), (states[1], symbols[1],
                                                                                          states[2])))
    model = compile_grammar(g)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "b.xlsx"
        try:
            write_workbook(model, path, "", steps=3)
        except UserError as exc:  # control characters: refused with one line, nothing written
            assert "\n" not in str(exc) and "control character" in str(exc)
            assert list(Path(folder).iterdir()) == []
            return
        formulas = formula_cells(path)
        assert formulas and all(sheet in ("Run", "Trace") and "ZQ" not in text for (sheet, _), text in formulas.items())


# ----- 2. writes that never destroy --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["folder", "fifo", "socket", "chardev"])
@pytest.mark.parametrize("command", ["compile", "sheet", "convert"])
def test_special_files_at_the_output_path_are_refused_untouched(kind, command, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", lambda *a: pytest.fail("os.replace must not be reached"))
    if kind == "folder":
        target = tmp_path / "out.npz"
        target.mkdir()
        (target / "inside.txt").write_text("keep")
    elif kind == "fifo":
        target = tmp_path / "out.npz"
        os.mkfifo(target)
    elif kind == "socket":
        target = tmp_path / "s.npz"
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(target))
    else:
        target = tmp_path / "null.npz"  # a link to /dev/null (os.replace is patched to fail the test)
        target.symlink_to("/dev/null")
    suffix = {"compile": ".npz", "sheet": ".xlsx", "convert": ".toml"}[command]
    if target.suffix != suffix:
        os.rename(target, target.with_suffix(suffix))
        target = target.with_suffix(suffix)
    before = os.lstat(target)
    dev_before = os.stat("/dev/null")
    argv = {"compile": ["compile", "parity", "-o", target], "sheet": ["sheet", "parity", "-o", target],
            "convert": ["convert", "parity", "-o", target]}[command]
    code, _, err = run_cli(argv)
    assert_one_line_error(code, err)
    assert "not a file" in err
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (before.st_mode, before.st_ino, before.st_rdev)
    assert os.stat("/dev/null").st_rdev == dev_before.st_rdev
    if kind == "folder":
        assert [p.name for p in target.iterdir()] == ["inside.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_a_symlink_is_followed_and_kept(tmp_path):
    real = tmp_path / "real.toml"
    real.write_text("old")
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    assert run_cli(["convert", "parity", "-o", link])[0] == 0
    assert link.is_symlink() and load_grammar(real).name == "parity"


@pytest.mark.parametrize(("argv", "kept"), [
    (["compile", "parity", "-o", "{d}/model.npz"], "notes.txt"),
    (["convert", "parity", "-o", "{d}/model.npz"], None),  # the name itself is wrong: refused as before
    (["extract", "parity", "-o", "{d}/out.toml"], "notes.txt"),
    (["sheet", "parity", "-o", "{d}/out.xlsx"], "notes.xlsx.bak"),
])
def test_a_symlink_to_a_file_of_another_kind_is_refused(argv, kept, tmp_path):
    """A link named like the output (model.npz) to a user's file of another kind (notes.txt): writing through
    it replaced the notes with a model. The file the link names must carry the format's extension too."""
    real = tmp_path / (kept or "notes.txt")
    real.write_text("my lab notes")
    link = Path(argv[-1].format(d=tmp_path))
    link.symlink_to(real)
    before = snapshot(tmp_path)
    code, out, err = run_cli([a.format(d=tmp_path) for a in argv])
    assert_one_line_error(code, err)
    if kept:
        assert f"is a symbolic link to {real}, a file of another kind" in err and "Remove the link" in err
    assert snapshot(tmp_path) == before and link.is_symlink()


@pytest.mark.parametrize("linked", ["parity.npz", "parity.xlsx"])
def test_build_refuses_a_link_in_its_folder_to_a_file_of_another_kind(linked, tmp_path):
    """build -o FOLDER wrote FOLDER/parity.npz through a link there to the user's notes.txt; now every file
    build would write is checked before the first is written."""
    (tmp_path / "notes.txt").write_text("my lab notes")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / linked).symlink_to(tmp_path / "notes.txt")
    code, out, err = run_cli(["build", "reber", "parity", "-o", tmp_path / "out"])
    assert_one_line_error(code, err)
    assert f"{linked} is a symbolic link to {tmp_path / 'notes.txt'}, a file of another kind" in err
    assert (tmp_path / "notes.txt").read_text() == "my lab notes"
    assert [p.name for p in (tmp_path / "out").iterdir()] == [linked]


def test_a_library_write_through_a_link_to_another_kind_is_refused(tmp_path):
    from fsm_lstm.atomic import write_text_atomic

    (tmp_path / "notes.txt").write_text("keep")
    (tmp_path / "g.toml").symlink_to(tmp_path / "notes.txt")
    with pytest.raises(UserError, match="a file of another kind"):
        write_text_atomic(tmp_path / "g.toml", "name = 'x'")
    (tmp_path / "dangling.npz").symlink_to(tmp_path / "missing.txt")  # a link to a file not yet there
    with pytest.raises(UserError, match="a file of another kind"):
        write_text_atomic(tmp_path / "dangling.npz", "x")
    assert not (tmp_path / "missing.txt").exists()
    (tmp_path / "real.TOML").write_text("old")  # the same extension, in another case: followed
    (tmp_path / "h.toml").symlink_to(tmp_path / "real.TOML")
    write_text_atomic(tmp_path / "h.toml", "new")
    assert (tmp_path / "real.TOML").read_text() == "new" and (tmp_path / "notes.txt").read_text() == "keep"


def test_every_output_folder_is_checked_before_any_is_written(tmp_path):
    """extract -o OUT.toml --sheet missing/BOOK.xlsx wrote OUT.toml (replacing the user's), then stopped on the
    missing folder of the workbook."""
    save_model(compile_grammar(load_grammar("parity")), tmp_path / "m.npz")
    (tmp_path / "out.toml").write_text("my hand-written grammar")
    before = snapshot(tmp_path)
    code, out, err = run_cli(["extract", tmp_path / "m.npz", "-o", tmp_path / "out.toml", "--sheet",
                              tmp_path / "missing" / "book.xlsx"])
    assert_one_line_error(code, err)
    assert "folder" in err and "does not exist" in err and out == ""
    assert snapshot(tmp_path) == before


# Every command's output with a wrong extension (the inputs need not exist: the names are checked first).
WRONG_EXTENSIONS = {
    ("compile", "output"): ["compile", "parity", "-o", "{d}/m.toml"],
    ("train", "output"): ["train", "parity", "-o", "{d}/m.pt"],
    ("import", "output"): ["import", "{d}/in.pt", "-o", "{d}/m.onnx", "--alphabet", "a b", "--heads", "accept"],
    ("sheet", "output"): ["sheet", "parity", "-o", "{d}/b.xls"],
    ("verify", "report"): ["verify", "parity", "--report", "{d}/b.csv"],
    ("extract", "sheet"): ["extract", "parity", "-o", "{d}/a.toml", "--sheet", "{d}/b.ods"],
    ("extract", "output"): ["extract", "parity", "-o", "{d}/a.npz"],
    ("convert", "output"): ["convert", "parity", "-o", "{d}/a.json"],
    ("plot", "output"): ["plot", "parity", "0101", "-o", "{d}/p.jpg"],
    ("draw", "output"): ["draw", "parity", "-o", "{d}/p.gif"],
    ("export onnx", "output"): ["export", "parity", "--to", "onnx", "-o", "{d}/m.pt"],
    ("export torch", "output"): ["export", "parity", "--to", "torch", "-o", "{d}/m.onnx"],
}


def test_every_output_of_every_command_has_a_format():
    """A command that writes a file (an -o, --report or --sheet destination) is in output_names.FORMATS, and
    this test names a wrong extension for each."""
    import argparse

    from fsm_lstm.cli import build_parser
    from fsm_lstm.output_names import FORMATS, OUTPUTS

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    writes = set()
    for command, parser in sub.choices.items():
        for action in parser._actions:
            if action.dest in OUTPUTS:
                tos = next((a.choices for a in parser._actions if a.dest == "to"), None)
                writes |= {(f"{command} {to}", action.dest) for to in tos} if tos else {(command, action.dest)}
    assert writes == set(FORMATS) == set(WRONG_EXTENSIONS)


@pytest.mark.parametrize("case", sorted(WRONG_EXTENSIONS), ids=" ".join)
def test_a_wrong_extension_is_refused_before_any_work(case, tmp_path):
    (tmp_path / "in.pt").write_bytes(b"not read")
    argv = [a.format(d=tmp_path) for a in WRONG_EXTENSIONS[case]]
    code, out, err = run_cli(argv)
    assert_one_line_error(code, err)
    assert "is written as" in err and out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.pt"]


def test_an_extension_in_capitals_is_its_format(tmp_path):
    assert run_cli(["compile", "parity", "-o", tmp_path / "P.NPZ"])[0] == 0
    assert load_model(tmp_path / "P.NPZ").heads == compile_grammar(load_grammar("parity")).heads
    for name in ("P.TOML", "P.Dot"):  # grammars too: it was accepted by the check, then refused by the writer
        assert run_cli(["convert", "parity", "-o", tmp_path / name])[0] == 0
        assert equivalent(load_grammar(tmp_path / name), load_grammar("parity"))


def test_a_bundled_grammar_named_as_input_is_not_written_over(tmp_path, monkeypatch):
    """``convert tomita3 -o .../grammars/tomita3.toml`` reads the file it would write (a copy of the bundled
    folder stands in for it, so that a regression cannot touch the real one)."""
    import shutil

    from fsm_lstm import grammar_files

    folder = tmp_path / "grammars"
    shutil.copytree(grammar_files.bundled_dir(), folder)
    monkeypatch.setattr(grammar_files, "bundled_dir", lambda: folder)
    before = snapshot(folder)
    for argv in (["convert", "tomita3", "-o", folder / "tomita3.toml"],
                 ["extract", "parity", "-o", folder / "parity.toml"]):
        code, out, err = run_cli(argv)
        assert_one_line_error(code, err)
        assert "(bundled) that this command reads" in err and out == ""
    assert snapshot(folder) == before


@pytest.mark.parametrize(("command", "alias"), [("convert", alias) for alias in ("same", "spelling", "symlink",
                                                                                   "hardlink")]
                         + [(c, alias) for c in ("extract", "compile", "verify") for alias in ("symlink", "hardlink")])
def test_an_output_that_is_an_input_is_refused_untouched(command, alias, tmp_path, monkeypatch):
    """compile g.toml -o g.toml once replaced the grammar with a model; a link, a second name or another
    spelling of an input's path is that input."""
    monkeypatch.chdir(tmp_path)
    save_grammar(load_grammar("parity"), tmp_path / "g.toml")
    save_model(compile_grammar(load_grammar("parity")), tmp_path / "m.npz")
    read, written = {"convert": ("g.toml", "o.toml"), "extract": ("m.npz", "o.toml"),
                     "compile": ("g.toml", "o.npz"), "verify": ("m.npz", "o.xlsx")}[command]
    output = {"same": read, "spelling": f"./{read}", "symlink": written, "hardlink": written}[alias]
    if alias == "symlink":
        (tmp_path / written).symlink_to(read)
    elif alias == "hardlink":
        os.link(read, written)
    before = snapshot(tmp_path)
    argv = {"convert": ["convert", read, "-o", output], "extract": ["extract", read, "-o", output],
            "compile": ["compile", read, "-o", output], "verify": ["verify", read, "--report", output]}[command]
    code, out, err = run_cli(argv)
    assert_one_line_error(code, err)
    assert f"is the file {read} that this command reads" in err and out == ""
    assert snapshot(tmp_path) == before


def test_string_arguments_are_not_taken_for_inputs(tmp_path, monkeypatch):
    """Only arguments that name files are compared with the outputs: ``sheet --input`` is the string in the input
    cell, ``--alphabet`` a list of symbols, while ``convert``'s IN is a file."""
    import argparse

    from fsm_lstm.output_names import check_not_an_input

    monkeypatch.chdir(tmp_path)
    for name in ("o.xlsx", "o.toml", "o.npz"):
        (tmp_path / name).write_bytes(b"x")
    check_not_an_input(argparse.Namespace(command="sheet", source="parity", input="o.xlsx", output="o.xlsx"))
    check_not_an_input(argparse.Namespace(command="import", file="m.pt", alphabet="o.npz", heads="accept",
                                          output="o.npz"))
    with pytest.raises(UserError, match="is the file o.toml that this command reads"):
        check_not_an_input(argparse.Namespace(command="convert", input="o.toml", output="o.toml"))


@pytest.mark.parametrize("code_", [errno.ENOSPC, errno.EACCES, errno.EROFS, errno.EISDIR])
def test_filesystem_errors_become_one_line(code_, tmp_path, monkeypatch):
    target = tmp_path / "m.npz"
    target.write_bytes(b"precious")
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError(code_, os.strerror(code_))))
    code, _, err = run_cli(["compile", "parity", "-o", target])
    assert_one_line_error(code, err)
    assert os.strerror(code_) in err
    assert snapshot(tmp_path) == {"m.npz": b"precious"}


def test_output_turned_into_a_folder_during_the_write_is_left_alone(tmp_path):
    target = tmp_path / "g.toml"
    target.write_text("old")

    def writer(tmp):
        tmp.write_text("new")
        target.unlink()
        target.mkdir()  # someone swaps in a folder while we write

    with pytest.raises(UserError, match="is a folder"):
        atomic.write_atomic(target, writer)
    assert target.is_dir() and sorted(p.name for p in tmp_path.iterdir()) == ["g.toml"]


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 130)])
def test_signals_leave_no_temporary_file_and_keep_the_old_output(sig, code, tmp_path):
    target = tmp_path / "book.xlsx"
    target.write_bytes(b"precious")
    # a test run in the background of a shell inherits SIGINT ignored, and Python then keeps it ignored: restore it
    proc = subprocess.Popen([sys.executable, "-m", "fsm_lstm.cli", "sheet", "embedded_reber", "-o", str(target),
                             "--steps", "2500"], stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".book.xlsx.*.tmp")):  # the temporary file exists: the write has begun
        assert proc.poll() is None and time.monotonic() < deadline, "the write never started"
        time.sleep(0.005)
    proc.send_signal(sig)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == code, err
    assert "Traceback" not in err and err.count("\n") == 1
    assert snapshot(tmp_path) == {"book.xlsx": b"precious"}


def test_build_leaves_no_empty_folder_and_names_files_safely(tmp_path):
    code, _, err = run_cli(["build", tmp_path / "bad.toml", "--out-dir", tmp_path / "new" / "deeper"])
    assert_one_line_error(code, err)
    assert list(tmp_path.iterdir()) == []
    g = load_grammar("parity").with_changes(name="../../escaped")
    save_grammar(g, tmp_path / "sneaky.toml")
    assert run_cli(["build", tmp_path / "sneaky.toml", "--out-dir", tmp_path / "out"])[0] == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["sneaky.npz", "sneaky.xlsx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "sneaky.toml"]
    g = load_grammar("parity").with_changes(name="report\u202excod.exe")  # reads as 'reportexe.docx'
    save_grammar(g, tmp_path / "spoof.toml")
    assert run_cli(["build", tmp_path / "spoof.toml", "--out-dir", tmp_path / "out2"])[0] == 0
    assert sorted(p.name for p in (tmp_path / "out2").iterdir()) == ["spoof.npz", "spoof.xlsx"]


# ----- 3. resource limits (subprocess under RLIMIT_AS) --------------------------------------------------------------
LIMITED = """
import resource, sys
from fsm_lstm.cli import main
size = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
limit = size + {extra} * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
code = main(sys.argv[1:])
print(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])  # peak RSS of this process, kB
sys.exit(code)
"""


def run_limited(argv: list, extra_mb: int = 700, env: dict | None = None) -> tuple[int, str, float, int]:
    """The command in a fresh process whose address space may grow by only ``extra_mb`` MB:
    (exit code, stderr, seconds, peak RSS in kB)."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", LIMITED.format(extra=extra_mb), *map(str, argv)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})
    rss = int(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else -1
    return done.returncode, done.stderr, time.perf_counter() - t0, rss


def test_zip_bomb_is_refused_before_decompressing(tmp_path):
    bomb = zip_bomb(tmp_path / "bomb.npz", gib=4)
    assert bomb.stat().st_size < 10 * 2**20
    for argv in (["run", bomb, ""], ["verify", bomb], ["sheet", bomb, "-o", tmp_path / "b.xlsx"]):
        code, err, seconds, rss = run_limited(argv)
        assert code == 2 and "over the limit" in err and "Traceback" not in err and err.count("\n") == 1, err
        assert rss < 300_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.npz"]


def test_shapes_that_cannot_fit_meta_are_refused_before_decompressing(tmp_path):
    """heads.weight declared (16384, 16384) in a 2 MB file, within the array limits: it was decompressed (2.2 GB,
    8 s) before its shape was found not to fit meta's 16 heads."""
    bomb = heads_bomb(tmp_path / "bomb.npz")
    assert bomb.stat().st_size < 10 * 2**20
    code, err, _, rss = run_limited(["run", bomb, "BTXSE"])
    assert code == 2 and "heads.weight (16384, 16384) / heads.bias (16,) do not fit 16 head labels" in err, err
    assert err.count("\n") == 1 and rss < 300_000


def test_terabyte_header_and_exotic_arrays_are_refused(tmp_path):
    code, err, _, rss = run_limited(["certify", huge_header(tmp_path / "h.npz")])
    assert code == 2 and "1,099,511,627,776 numbers" in err and err.count("\n") == 1, err
    path = tmp_path / "many.npz"
    np.savez(path, **{f"x{k}": np.zeros(1) for k in range(5000)})
    with pytest.raises(ModelError, match="members, over the limit"):
        load_model(path)


def test_array_limit_is_configurable_and_documented_in_the_message(tmp_path, monkeypatch):
    save_model(compile_grammar(load_grammar("reber")), tmp_path / "r.npz")
    monkeypatch.setenv("FSM_LSTM_MAX_ARRAY", "100")
    with pytest.raises(ModelError, match="over the limit of 100 per array.*FSM_LSTM_MAX_ARRAY"):
        load_model(tmp_path / "r.npz")
    code, _, err = run_cli(["compile", "reber", "-o", tmp_path / "x.npz"])
    assert_one_line_error(code, err)
    assert "676 float32 numbers" in err and not (tmp_path / "x.npz").exists()


def test_compile_writes_a_large_network_sparse_and_refuses_one_too_large_with_the_figure(tmp_path):
    grammar = random_dfa(tmp_path / "big.toml", 10_000)
    # dense, weight_hh would be 4H x H = 6 billion numbers; sparse, it fits in the same address-space limit
    code, err, seconds, rss = run_limited(["compile", grammar, "-o", tmp_path / "big.npz"])
    assert code == 0, err
    with np.load(tmp_path / "big.npz") as data:
        assert "weight_hh_l0.indptr" in data.files and "weight_hh_l0" not in data.files
    code, err, seconds, rss = run_limited(["compile", grammar, "-o", tmp_path / "big2.npz"],
                                          env={"FSM_LSTM_MAX_ARRAY": "100000"})
    assert code == 2 and "weight_ih is 4H x K" in err and "100,000" in err and err.count("\n") == 1, err
    assert not (tmp_path / "big2.npz").exists()


def test_sheet_steps_over_the_limit_are_refused_with_the_figure(tmp_path):
    code, err, seconds, _ = run_limited(["sheet", "reber", "-o", tmp_path / "b.xlsx", "--steps", "300000"],
                                        extra_mb=300)
    assert code == 2 and f"{MAX_STEPS:,}" in err and "300,000" in err, err
    assert list(tmp_path.iterdir()) == []


def test_check_is_linear_in_the_edges(tmp_path, monkeypatch):
    g = load_grammar(chain(tmp_path / "chain.toml", 20_000))
    calls = []
    original = Grammar.reachable
    monkeypatch.setattr(Grammar, "reachable", lambda self, *a: calls.append(1) or original(self, *a))
    structural_warnings(g.with_changes(accept=frozenset({"s5"})))
    assert len(calls) == 1


def test_dot_for_the_slow_parser_is_bounded_in_size(tmp_path, monkeypatch, capsys):
    """25,000 edges inside a subgraph (706 KB) ran for minutes in pydot, which reads about 8 KB a second: DOT the
    fast scanner cannot read is refused above 64 KiB before pydot is called; below it, it is read."""
    import fsm_lstm.dot_reader as dot_reader

    def dot(n: int) -> str:
        edges = "\n".join(f's{i} -> s{(i + 1) % n} [label="a"];' for i in range(n))
        return f'digraph g {{\nsubgraph cluster0 {{\n{edges}\n}}\n__start0 -> s0;\ns0 [shape=doublecircle];\n}}\n'

    (tmp_path / "small.dot").write_text(dot(20))
    assert main(["check", str(tmp_path / "small.dot")]) == 0
    capsys.readouterr()
    (tmp_path / "big.dot").write_text(dot(3000))
    assert len(dot(3000)) > 1 << 16
    monkeypatch.setattr(dot_reader, "pydot_graph", lambda *a: pytest.fail("pydot was called"))
    assert main(["check", str(tmp_path / "big.dot")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "which fsm-lstm reads up to 65,536 characters" in err


# ----- 4. no traceback anywhere --------------------------------------------------------------------------------------
def test_unexpected_exception_is_one_line_with_exit_3(monkeypatch, capsys):
    import fsm_lstm.cli as cli

    def broken(args):
        raise ValueError("boom\nsecond line")

    monkeypatch.setattr(cli, "cmd_check", broken)
    assert main(["check", "reber"]) == 3
    err = capsys.readouterr().err
    assert err == ("fsm-lstm: internal error: ValueError: boom (please report this; rerun with --debug for the "
                   "traceback)\n")
    assert main(["--debug", "check", "reber"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "ValueError: boom" in err and err.endswith("for the traceback)\n")
    assert main(["check", "reber", "--debug"]) == 3 and "Traceback" in capsys.readouterr().err


@pytest.mark.parametrize("exc, code, needle", [(MemoryError(), 2, "out of memory"),
                                               (KeyboardInterrupt(), 130, "interrupted"),
                                               (RecursionError("deep"), 3, "internal error: RecursionError")])
def test_memory_errors_and_interrupts_are_one_line(exc, code, needle, monkeypatch, capsys):
    import fsm_lstm.cli as cli

    monkeypatch.setattr(cli, "cmd_check", lambda args: (_ for _ in ()).throw(exc))
    assert main(["check", "reber"]) == code
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_signal_a_library_wrapped_in_its_own_exception_is_still_a_signal(monkeypatch, capsys):
    """SIGTERM inside hypothesis' generation came out as 'internal error: FlakyStrategyDefinition' (exit 3)."""
    import fsm_lstm.cli as cli
    from fsm_lstm.errors import Terminated

    def wrapped(args):
        try:
            raise Terminated(15)
        except Terminated as inner:
            raise RuntimeError("Inconsistent data generation") from inner

    monkeypatch.setattr(cli, "cmd_check", wrapped)
    assert main(["check", "reber"]) == 143
    assert capsys.readouterr().err == "fsm-lstm: terminated by signal 15; no partial output was left\n"


def test_error_messages_are_one_line_even_with_newlines_in_names(tmp_path):
    path = tmp_path / "g.dot"
    path.write_text('digraph g { __start0 -> "a\nb"; "a\nb" -> c [label="x\ny"]; }')
    code, _, err = run_cli(["check", path])
    assert_one_line_error(code, err)
    assert err.count("\n") == 1 and "\\n" in err


@pytest.mark.parametrize("pattern", ["(" * 300 + "a" + ")" * 300, "ab" * 300,
                                     "|".join("ab"[k % 2] for k in range(3000)), "((((a*)*)*)*)*b" * 20])
def test_deep_long_and_wide_regexes_compile(pattern):
    g = regex_grammar(pattern)
    assert g.states


def test_every_prefix_of_a_dot_file_is_read_or_refused_with_the_file_named():
    text = to_dot(load_grammar("reber"))
    for end in range(len(text)):
        try:
            parse_dot(text[:end], "r.dot")
        except GrammarError as exc:
            assert str(exc).startswith("r.dot") and "\n" not in str(exc)


def test_dot_label_errors_name_the_file(tmp_path):
    for label in (" ", "x y"):
        path = tmp_path / "w.dot"
        path.write_text(f'digraph g {{ __start0 -> a; a -> b [label="{label}"]; }}')
        with pytest.raises(GrammarError) as info:
            load_grammar(path)
        assert str(info.value).startswith(str(path))


# ----- 5. round trips -----------------------------------------------------------------------------------------------
SPECIAL = ["node", "Graph", "strict", "edge", "__start0", "__start9", "dead", "n0", 'q"uote', "back\\slash", "del\x7f",
           "\r", "line\nbreak", "😀", "-> x", "[label]", "{}", "=1+1", "a|b", "a+b", " ", "\x00", "\u2028"]
names = st.one_of(st.sampled_from(SPECIAL), st.text(max_size=6))
symbols = st.one_of(st.sampled_from(["a", "😀", "=", '"', "\\", "\x7f", "]", "{", "->", "é"]),
                    st.text(min_size=1, max_size=3)).filter(lambda s: not any(ch.isspace() for ch in s))


@st.composite
def named_grammars(draw):
    states = draw(st.lists(names, min_size=1, max_size=6, unique=True))
    alphabet = draw(st.lists(symbols, min_size=1, max_size=3, unique=True))
    edges = draw(st.lists(st.tuples(st.sampled_from(states), st.sampled_from(alphabet), st.sampled_from(states)),
                          max_size=12, unique=True))
    return dict(name=draw(names), description=draw(names), start=states[0], states=tuple(states),
                alphabet=tuple(alphabet), transitions=tuple(edges),
                accept=frozenset(draw(st.sets(st.sampled_from(states)))))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(named_grammars())
def test_any_names_survive_toml_dot_toml_compile_and_model_meta(fields):
    try:
        g = Grammar(**fields)
    except GrammarError as exc:  # refused when made: only an empty state name
        assert "" in fields["states"] and "not allowed" in str(exc)
        return
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        save_grammar(g, folder / "g.toml")
        g1 = load_grammar(folder / "g.toml")
        assert g1 == g
        save_grammar(g1, folder / "g.dot")
        g2 = load_grammar(folder / "g.dot")
        assert (g2.name, g2.description, g2.start, g2.alphabet) == (g.name, g.description, g.start, g.alphabet)
        assert g2.states[:len(g.states)] == g.states and g2.accept == g.accept and equivalent(g2, g)
        save_grammar(g2, folder / "back.toml")
        g3 = load_grammar(folder / "back.toml")
        assert g3 == g2
        assert parse_dot(to_dot(g, complete=False)) == g  # without the sink for AALpy the DOT is exact too
        try:
            models = [compile_grammar(x) for x in (g, g3)]
        except UserError as exc:  # e.g. a determinisation over the limit: refused, never a traceback
            assert "\n" not in str(exc)
            return
        metas = []
        for k, model in enumerate(models):
            save_model(model, folder / f"m{k}.npz")
            metas.append(load_model(folder / f"m{k}.npz").meta)
        assert metas[0] == metas[1] == models[0].meta
        assert parse_toml(metas[0]["grammar"]).alphabet == g.alphabet


def test_empty_state_name_is_refused_not_renamed(tmp_path):
    for text, path in (('start = ""\naccept = []\ntransitions = [["", "a", ""]]\n', tmp_path / "e.toml"),
                       ('digraph g { a [label=""]; __start0 -> a; a -> a [label="x"]; }', tmp_path / "e.dot")):
        path.write_text(text)
        with pytest.raises(GrammarError, match="empty|not allowed"):
            load_grammar(path)


def test_lone_surrogates_are_refused_when_written(tmp_path):
    g = load_grammar("parity")
    with pytest.raises(GrammarError, match="surrogate"):
        to_toml(g.with_changes(description="\ud800"))
    model = compile_grammar(g)
    with pytest.raises(ModelError, match="surrogate"):
        save_model(Model(layers=model.layers, head_weight=model.head_weight, head_bias=model.head_bias,
                         alphabet=model.alphabet, heads=model.heads, units=("\udc00",) + model.units[1:]),
                   tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


# ----- 6. regex features ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern", ["a{2,3}", "(ab){0,2}c", "a{2,}", "(a|bc){1,}a", "[a-c]+", "[ab-]c", "^a*b$",
                                     "(a|b){3}", "a{0}b", "(){3}a", "(a?){2,4}", "[a-b]{2}", "b{0,1}a{1,1}"])
def test_counted_repetition_ranges_and_anchors_match_python_re(pattern):
    g = regex_grammar(pattern, alphabet=list("abc-"))
    for word in all_words("abc-", 6):
        assert accepts(g, word) == (re.fullmatch(pattern, "".join(word)) is not None), (pattern, word)


def test_negated_class_means_the_other_symbols_of_the_alphabet():
    g = regex_grammar("[^a]b", alphabet=list("abc"))
    assert ["".join(w) for w in all_words("abc", 2) if accepts(g, w)] == ["bb", "cb"]


@pytest.mark.parametrize("pattern, needle", [
    ("a{3,2}", "swap"), ("a{", "not closed"), ("a{x}", "whole numbers"), ("a}", "unmatched '}'"),
    ("a]", "unmatched ']'"),
    ("b^a", "anchor"), ("a$b", "anchor"), ("(a$)", "anchor"), ("[z-a]", "backwards"), ("{2}", "nothing to repeat"),
    ("a{2000}", "over 1,000"), ("[^a]", "needs an explicit `alphabet`"), ("[\x01-\U0010ffff]", "spans"),
    ("(a|b)*a(a|b){30}", "over the limit"), ("(" + "|".join("a" * 3000) + ")*", "over the limit"),
])
def test_unsupported_or_oversized_regex_is_refused_with_a_clear_line(pattern, needle):
    with pytest.raises(GrammarError) as info:
        regex_grammar(pattern)
    assert needle in str(info.value) and "\n" not in str(info.value)


# ----- 7. wrong or misleading output ---------------------------------------------------------------------------------
def test_check_tells_an_empty_language_from_a_long_shortest_string(tmp_path):
    code, out, _ = run_cli(["check", chain(tmp_path / "long.toml", 80)])
    assert code == 0 and "shortest accepted string has 79 symbols" in out and "language is empty" not in out
    empty = tmp_path / "empty.toml"
    empty.write_text('start = "a"\naccept = ["c"]\ntransitions = [["a", "x", "b"], ["c", "x", "c"]]\n')
    code, out, _ = run_cli(["check", empty])
    assert code == 0 and "(the language is empty)" in out


# ----- 8. fuzzing: random bytes and structured-but-wrong inputs ---------------------------------------------------
def fuzz_cli(suffix: str, data: bytes, commands: list[list[str]]) -> list[int]:
    """Write ``data`` to a file and run the commands on it: exit 0 or 2 (1 only for a failed proof), at most two
    lines on stderr, no traceback, no temporary file left. Returns the exit codes."""
    codes = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"x{suffix}"
        path.write_bytes(data)
        for argv in commands:
            code, _, err = run_cli([a.replace("{f}", str(path)).replace("{tmp}", folder) for a in argv])
            assert code in (0, 1, 2) and "Traceback" not in err and err.count("\n") <= 2, (argv, code, err)
            assert code != 1 or argv[0] in ("verify", "certify"), (argv, err)
            codes.append(code)
        assert {p.name for p in Path(folder).iterdir()} <= {path.name, "o.npz"}  # no temporary file left
    return codes


GRAMMAR_COMMANDS = [["check", "{f}"], ["run", "{f}", ""], ["compile", "{f}", "-o", "{tmp}/o.npz"]]
MODEL_COMMANDS_FUZZ = [["run", "{f}", ""], ["certify", "{f}"], ["verify", "{f}", "--examples", "0", "--max-len", "2"]]


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(v) if isinstance(v, str) else str(v)


toml_values = st.recursive(st.one_of(st.text(max_size=5), st.integers(-5, 5), st.booleans(), st.sampled_from(
    ["a", "b", "s0", "", "x y", "(a|b)*", "a{2}", "[a-c]", ".", "=A1"])), lambda inner: st.lists(inner, max_size=4),
    max_leaves=12)
TOML_KEYS = ["name", "description", "start", "accept", "alphabet", "states", "transitions", "regex", "transition"]
GOOD_TOML = {"start": "a", "accept": ["b"], "transitions": [["a", "x", "b"], ["b", "y", "a"], ["b", "x", "c"]]}


def _toml_text(changes: dict, dropped: list[str], base: bool) -> bytes:
    data = {**(GOOD_TOML if base else {}), **changes}
    return "".join(f"{k} = {_toml_value(v)}\n" for k, v in data.items() if k not in dropped).encode()


structured_toml = st.builds(_toml_text, st.dictionaries(st.sampled_from(TOML_KEYS), toml_values, max_size=3),
                            st.lists(st.sampled_from(TOML_KEYS), max_size=2), st.booleans())

DOT_WORDS = ["digraph", "strict", "graph", "node", "edge", "subgraph", "{", "}", "[", "]", "->", "--", "=", ";", ",",
             "label", "shape", "doublecircle", "__start0", "__start1", "a", "b", '"a"', '"x y"', '""', '"\\"', "1",
             "alphabet", '"a b"', "comment", "\n", "/*", "*/", "//", "#", '"']
structured_dot = st.builds(lambda words, prefixed, closed: (('digraph g {\n__start0 -> a;\na -> b [label="x"];\n'
                                                             if prefixed else "") + " ".join(words)
                                                            + ("\n}\n" if closed else "")).encode(),
                           st.lists(st.sampled_from(DOT_WORDS), max_size=30), st.booleans(), st.booleans())

ARRAY_NAMES = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l1", "heads.weight",
               "heads.bias", "meta", "other"]


def _array(dtype: str, shape: tuple[int, ...], fill: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.full(shape, fill).astype(dtype)


arrays = st.builds(_array, st.sampled_from(["f4", "f8", "f2", "i4", "U3", "c8", "?"]),
                   st.lists(st.integers(0, 6), max_size=3).map(tuple), st.sampled_from([0, 1, -2.5, np.nan, np.inf]))
metas = st.fixed_dictionaries({}, optional={
    "alphabet": st.one_of(st.lists(st.sampled_from(["a", "b", "", "a b", "=x"]), max_size=3), st.integers()),
    "heads": st.lists(st.sampled_from(["accept", "next:a", "state:q", "state:", "weird", "next:z"]), max_size=4),
    "units": st.lists(st.text(max_size=3), max_size=4), "cell": st.sampled_from(["lstm", "gru", "rnn", "x", 3]),
    "grammar": st.one_of(st.sampled_from(['start = "a"\naccept = []\ntransitions = [["a", "a", "a"]]\n', "junk"]),
                         st.integers()),
    "unknown_start": st.one_of(st.booleans(), st.integers())})


PARITY = compile_grammar(load_grammar("parity"))


def _npz_bytes(members: dict[str, np.ndarray], meta: dict, base: bool) -> bytes:
    if base:  # the real parity network with a few members or meta keys changed
        members = {**PARITY.arrays(), **members}
        meta = {**PARITY.meta, **meta}
    buffer = io.BytesIO()
    np.savez(buffer, **{**members, "meta": np.array(json.dumps(meta))})
    return buffer.getvalue()


structured_npz = st.builds(_npz_bytes, st.dictionaries(st.sampled_from(ARRAY_NAMES), arrays, max_size=2), metas,
                           st.booleans())
random_npz = st.one_of(st.binary(max_size=400), st.binary(max_size=300).map(lambda b: b"PK\x03\x04" + b))

# name -> (strategy of file contents, suffix, commands); bench/hostile.py runs the same with 2000 examples
FUZZ_CASES = {
    "random bytes as TOML": (st.binary(max_size=400), ".toml", GRAMMAR_COMMANDS),
    "random bytes as DOT": (st.binary(max_size=400), ".dot", GRAMMAR_COMMANDS),
    "random bytes as .npz": (random_npz, ".npz", MODEL_COMMANDS_FUZZ),
    "structured TOML": (structured_toml, ".toml", GRAMMAR_COMMANDS),
    "structured DOT": (structured_dot, ".dot", GRAMMAR_COMMANDS),
    "structured .npz": (structured_npz, ".npz", MODEL_COMMANDS_FUZZ),
}


@pytest.mark.parametrize("case", sorted(FUZZ_CASES))
def test_fuzzed_inputs_exit_cleanly(case):
    strategy, suffix, commands = FUZZ_CASES[case]

    def run(data: bytes) -> None:
        fuzz_cli(suffix, data, commands)

    FUZZ(given(strategy)(run))()


def test_a_torch_archive_declaring_gigabytes_is_refused_before_torch_reads_it(tmp_path):
    """A 2 MB .pt whose record declares 2 GiB (deflated zeros): torch.load allocated 2.9 GB before the limits
    applied to what it returned."""
    pytest.importorskip("torch")
    bomb = torch_bomb(tmp_path / "bomb.pt", gib=2)
    assert bomb.stat().st_size < 10 * 2**20
    code, err, _, rss = run_limited(["import", bomb, "-o", tmp_path / "x.npz", "--alphabet", "a b", "--heads",
                                     "accept"], extra_mb=1500)
    assert code == 2 and "declares 2,147,48" in err and err.count("\n") == 1, err
    assert rss < 1_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.pt"]


def test_check_shows_bidi_controls_escaped_not_obeyed(tmp_path, capsys):
    """A right-to-left override in a state name or description reordered the rest of check's line."""
    path = tmp_path / "g.toml"
    path.write_text('name = "g"\ndescription = "safe \\u202e txt.exe"\nstart = "s\\u2066"\naccept = ["s\\u2066"]\n'
                    'transitions = [["s\\u2066", "a", "s\\u2066"]]\n')
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\\u202e" in out and "\\u2066" in out and "\u202e" not in out and "\u2066" not in out


def test_weights_near_the_float32_limit_give_no_warnings_on_stderr(tmp_path, capsys):
    """Products of weights near 3e38 overflow to inf, as in torch; extract printed numpy's RuntimeWarning and the
    line of fsm-lstm's source that raised it. Under warnings-as-errors every command must still finish."""
    import dataclasses
    import warnings

    m = compile_grammar(load_grammar("tomita3"))
    layer = m.layers[0]  # scaled until a gate's or a head's sum reaches 1.6e38, just under half the float32 range
    reach = max((np.abs(layer.weight_hh).sum(axis=1) + np.abs(layer.weight_ih).max(axis=1) + np.abs(layer.bias_ih)
                 + np.abs(layer.bias_hh)).max(), (np.abs(m.head_weight).sum(axis=1) + np.abs(m.head_bias)).max())
    scale = np.float32(1.6e38 / reach)
    big = dataclasses.replace(layer, **{name: getattr(layer, name) * scale
                                        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})
    save_model(dataclasses.replace(m, layers=(big,), head_weight=m.head_weight * scale,
                                   head_bias=m.head_bias * scale), tmp_path / "h.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for args in (["run", "h.npz", "0101"], ["extract", "h.npz", "-o", "x.toml", "--time-limit", "5"],
                     ["extract", "h.npz", "-o", "y.toml", "--method", "cluster", "--time-limit", "5"],
                     ["verify", "h.npz", "--grammar", "tomita3", "--max-len", "4"]):
            assert main([*args[:1], str(tmp_path / args[1]), *[str(tmp_path / a) if a.endswith(".toml") else a
                                                                  for a in args[2:]]]) in (0, 1), args
    assert "Warning" not in capsys.readouterr().err
