"""Workbooks: recalculated by real LibreOffice and by the `formulas` package, they equal the numpy runtime."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import openpyxl
import pytest
import torch

from fsm_lstm.automata import shortest_accepted
from fsm_lstm.cli import main
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.grammar_files import bundled_names, load_grammar
from fsm_lstm.gnumeric import recalculate_gnumeric
from fsm_lstm.libreoffice import recalculate
from fsm_lstm.model import Layer, Model, save_model
from fsm_lstm.grammar import Grammar
from fsm_lstm.reading import Reading
from fsm_lstm.sheet_layout import FIRST_STEP_ROW, trace_layout
from fsm_lstm.errors import UserError
from fsm_lstm.sheets import BYTES_PER_CELL, sample_input, workbook_cells, write_workbook
from tests.oracle import live_states
from tests.workbooks import ERRORS, compare, error_cells, formulas_values, libreoffice_values

TOLERANCE = 1e-9
REPO = Path(__file__).resolve().parent.parent


def pumped_word(g, length: int) -> tuple[str, ...]:
    """A path from the start into a cycle, then the cycle over and over, ``length`` symbols in all; a finite
    language has no cycle, so then its longest walk is followed by arbitrary symbols."""
    paths = {g.start: ()}
    order = [g.start]
    for s in order:
        for a, q in g.out_edges[s]:
            if q not in paths:
                paths[q] = paths[s] + (a,)
                order.append(q)
    for s in order:  # the first state that lies on a cycle
        back = {q: (a,) for a, q in g.out_edges[s]}
        frontier = list(back)
        while frontier and s not in back:
            p = frontier.pop(0)
            for a, q in g.out_edges[p]:
                if q not in back:
                    back[q] = back[p] + (a,)
                    frontier.append(q)
        if s in back:
            word = paths[s] + back[s] * length
            return word[:length]
    longest = max(paths.values(), key=len)
    return (longest + tuple(g.alphabet) * length)[:length]


def leaving_word(g) -> tuple[str, ...]:
    """An accepted string followed by a symbol that leaves the grammar, then more symbols."""
    base = shortest_accepted(g, 1)[0]
    live = live_states(g)
    state = g.start
    for a in base:
        state = next(q for b, q in g.out_edges[state] if b == a)
    bad = next((a for a in g.alphabet if all(b != a or q not in live for b, q in g.out_edges[state])), None)
    if bad is None:  # every symbol is legal here (e.g. parity): there is no leaving the grammar
        return base + tuple(g.alphabet) * 3
    return base + (bad,) + tuple(g.alphabet)


def random_model(layers: int = 2) -> Model:
    torch.manual_seed(7)
    lstm = torch.nn.LSTM(3, 4, num_layers=layers)
    sd = {k: v.detach().numpy() * 3 for k, v in lstm.state_dict().items()}  # larger weights: saturated gates too
    heads = ("accept", "next:a", "next:c", "state:x")
    rng = np.random.default_rng(3)
    return Model(layers=tuple(Layer(*(sd[f"{n}_l{k}"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
                              for k in range(layers)),
                 head_weight=rng.normal(size=(4, 4)).astype(np.float32), head_bias=np.zeros(4, np.float32),
                 alphabet=("a", "b", "c"), heads=heads, units=tuple(f"r{u}" for u in range(4)))


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    """Every bundled grammar with three strings, plus a random 2-layer model, a 1-layer one with an accept head
    alone, and that one as word classifiers (markers and inner symbols of one character or more): file name ->
    (model, word, path)."""
    src = tmp_path_factory.mktemp("books")
    cases = {}
    for name in bundled_names():
        g = load_grammar(name)
        model = compile_grammar(g)
        for kind, word, steps in [("pumped", pumped_word(g, 200), 200), ("leaving", leaving_word(g), 30),
                                  ("empty", (), 5)]:
            path = src / f"{name}-{kind}.xlsx"
            write_workbook(model, path, " ".join(word), steps=steps)
            cases[path.name] = (model, word, path)
    rand = random_model()
    word = tuple("abcabbca" * 5)
    write_workbook(rand, src / "random.xlsx", "".join(word), steps=40)
    cases["random.xlsx"] = (rand, word, src / "random.xlsx")
    one = random_model(1)  # an accept head alone, as trained classifiers have: no state or next columns to decode
    accept_only = Model(layers=one.layers, head_weight=one.head_weight[:1], head_bias=one.head_bias[:1],
                        alphabet=one.alphabet, heads=("accept",))
    write_workbook(accept_only, src / "accept-only.xlsx", "".join(word[:9]), steps=12)
    cases["accept-only.xlsx"] = (accept_only, word[:9], src / "accept-only.xlsx")
    layer = accept_only.layers[0]  # a fourth input column, for two inner symbols and the markers
    four = (replace(layer, weight_ih=np.concatenate([layer.weight_ih, -layer.weight_ih[:, :1]], axis=1)),)
    for start, end, letters in [("<s>", "</s>", "ab"), ("^", "$", "ab"), ("<s>", "</s>", ("push", "pop"))]:
        framed = replace(accept_only, layers=four, alphabet=(start, *letters, end),
                         extra={"final_only": True, "start_marker": start, "end_marker": end})
        inner = (letters[0], letters[1], letters[1], letters[0])  # word classifiers: typed bare, read framed
        path = src / f"framed-{len(start)}-{len(letters[0])}.xlsx"
        write_workbook(framed, path, ("" if len(letters[0]) == 1 else " ").join(inner), steps=8)
        cases[path.name] = (framed, (start, *inner, end), path)
    coffee = compile_grammar(load_grammar("coffee"))  # read by argmax: the same outputs with every logit moved
    bias = coffee.head_bias + np.array([2.5 if h.startswith("out:") else 0.0 for h in coffee.heads], np.float32)
    argmax = replace(coffee, head_bias=bias, extra={"argmax_outputs": True})
    word = ("coin", "take", "button", "take", "coin", "coin", "button", "button", "take")
    for shown, steps in ((word, 12), ((), 3)):  # the empty word: no output before the first symbol
        path = src / f"argmax-{len(shown)}.xlsx"
        write_workbook(argmax, path, " ".join(shown), steps=steps)
        cases[path.name] = (argmax, shown, path)
    return cases


@pytest.fixture(scope="module")
def recalculated(books, tmp_path_factory):
    """The books recalculated in one LibreOffice run."""
    out = recalculate([c[2] for c in books.values()], tmp_path_factory.mktemp("recalculated"))
    return {p.name: (books[p.name][0], books[p.name][1], p) for p in out}


@pytest.fixture(scope="module")
def gnumeric_recalculated(books, tmp_path_factory):
    """The books recalculated by Gnumeric."""
    out = recalculate_gnumeric([c[2] for c in books.values()], tmp_path_factory.mktemp("gnumeric"))
    return {p.name: (books[p.name][0], books[p.name][1], p) for p in out}


def test_libreoffice_recalculation_equals_numpy_on_every_bundled_grammar(recalculated):
    assert len(recalculated) == 3 * len(bundled_names()) + 7
    for name, (model, word, path) in sorted(recalculated.items()):
        worst = compare(libreoffice_values(path), model, word)
        assert worst < TOLERANCE, (name, worst)


def test_gnumeric_recalculation_equals_numpy_on_every_bundled_grammar(gnumeric_recalculated):
    assert len(gnumeric_recalculated) == 3 * len(bundled_names()) + 7
    for name, (model, word, path) in sorted(gnumeric_recalculated.items()):
        values = libreoffice_values(path)  # Run and Trace: the only sheets with formulas
        assert [v for cells in values.values() for v in cells.values() if str(v).startswith(ERRORS)] == [], name
        worst = compare(values, model, word)
        assert worst < TOLERANCE, (name, worst)


def test_no_error_cells_after_recalculation(recalculated):
    for name, (_, _, path) in recalculated.items():
        assert error_cells(path) == [], name


def test_cached_values_as_written_equal_the_runtime(books):
    """No recalculation at all: the values the writer cached are the runtime's, cell for cell (the short books:
    the long ones hold the same kind of cells, only more)."""
    for name, (model, word, path) in sorted(books.items()):
        if "pumped" in name:
            continue
        assert error_cells(path) == [], name
        assert compare(libreoffice_values(path), model, word) < TOLERANCE, name


def test_every_formula_cell_caches_the_value_libreoffice_computes(books, recalculated):
    """A viewer that does not recalculate shows each formula's cached value: it must be LibreOffice's, text cells
    included (the decoded state and next columns of a model without such heads showed "" for ="-")."""
    for name, (_, _, path) in sorted(books.items()):
        if "pumped" in name:
            continue
        written, formulas = openpyxl.load_workbook(path, data_only=True), openpyxl.load_workbook(path)
        computed = openpyxl.load_workbook(recalculated[name][2], data_only=True)
        for sheet in ("Run", "Trace"):
            for row in formulas[sheet].iter_rows():
                for cell in row:
                    if not (isinstance(cell.value, str) and cell.value.startswith("=")):
                        continue
                    mine, theirs = written[sheet][cell.coordinate].value, computed[sheet][cell.coordinate].value
                    if isinstance(theirs, (int, float)) and not isinstance(theirs, bool):
                        assert mine == pytest.approx(theirs, abs=TOLERANCE), (name, sheet, cell.coordinate)
                    else:
                        assert (mine or "") == (theirs or ""), (name, sheet, cell.coordinate, cell.value)


def test_pumped_workbooks_really_run_200_steps(recalculated):
    model, word, path = recalculated["reber-pumped.xlsx"]
    assert len(word) == 200 and word.count("S") > 190
    values = libreoffice_values(path)
    lay = trace_layout(model)
    assert values["Run"][(FIRST_STEP_ROW + 200, lay.run["state"])] == "s1"


@pytest.mark.parametrize("name, word", [("reber", "BTXXVE"), ("parity", "1101"), ("tomita3", "0110")])
def test_formulas_package_evaluates_to_numpy(tmp_path, name, word):
    model = compile_grammar(load_grammar(name))
    path = tmp_path / f"{name}.xlsx"
    write_workbook(model, path, word, steps=len(word))
    assert compare(formulas_values(path), model, tuple(word)) < TOLERANCE


def test_workbook_contract_names_formulas_and_presentation(tmp_path):
    model = compile_grammar(load_grammar("reber"))
    path = tmp_path / "r.xlsx"
    write_workbook(model, path, "BTXSE", steps=12)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Run", "Guide", "Trace", "Grammar", "Weights"]
    for key in ("input", "state", "accept", "next"):
        assert key in wb.defined_names
    assert "output" not in wb.defined_names  # reber has no out: heads
    assert wb.defined_names["input"].attr_text == "Run!$B$2"
    assert wb.defined_names["state"].attr_text == "Run!$C$8:$C$20"
    assert wb["Run"]["B2"].number_format == "@" and wb["Run"]["B2"].value == "BTXSE"
    ws = wb["Trace"]
    formulas = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=")]
    text = "\n".join(formulas)
    assert not re.search(r"\b(LET|LAMBDA|SEQUENCE|EXP)\(", text)
    assert "EXACT(" in text and "SUMPRODUCT(Weights!" in text and "(1+TANH((" in text
    lay = trace_layout(model)
    gate = ws.cell(FIRST_STEP_ROW + 1, lay.layers[0]["i"][0]).value
    assert gate.startswith('=IF($A9>input_length,"",(1+TANH((SUMPRODUCT(Weights!')
    assert ws.freeze_panes == "C8" and wb["Run"].freeze_panes == "A8"
    assert len(ws.conditional_formatting) >= 8
    assert ws.cell(FIRST_STEP_ROW + 1, lay.layers[0]["h"][0]).number_format == "0.000"
    for sheet in wb:  # print setup: landscape, fit to the page width
        assert sheet.page_setup.orientation == "landscape", sheet.title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title
        tall = 1 if sheet.title == "Guide" else 0  # the Guide on one page; the others as long as they need
        assert int(sheet.page_setup.fitToHeight if sheet.page_setup.fitToHeight is not None else 1) == tall
    assert ws.print_title_rows.replace("$", "") == "6:7" and ws.print_title_cols.replace("$", "") == "A:B"
    with zipfile.ZipFile(path) as z:  # cached values: a viewer that does not recalculate shows the trace
        assert "<v>" in z.read("xl/worksheets/sheet3.xml").decode().split("</f>")[1][:40]


def test_the_same_workbook_has_the_same_bytes(tmp_path):
    """`build --all` is reproducible: the same model and input give the same bytes (picture included)."""
    model = compile_grammar(load_grammar("embedded_reber"))
    for name in ("a.xlsx", "b.xlsx"):
        write_workbook(model, tmp_path / name, sample_input(model), title="embedded_reber")
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


def test_edited_weights_and_inputs_are_followed(tmp_path):
    """Zero the weight that lets the S loop see the T into s1, type a new string: the recalculated trace follows."""
    model = compile_grammar(load_grammar("reber"))
    path = tmp_path / "r.xlsx"
    write_workbook(model, path, "BPVVE", steps=12)
    wb = openpyxl.load_workbook(path)
    ws = wb["Weights"]
    loop, entry = model.units.index("edge s1 -S-> s1"), model.units.index("edge s0 -T-> s1")
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "i" and ws.cell(r, 2).value == loop)
    column = next(c for c in range(1, ws.max_column + 1) if ws.cell(row - loop - 1, c).value == f"u{entry}")
    assert ws.cell(row, column).value > 0
    ws.cell(row, column).value = 0
    wb["Run"]["B2"] = "BTSSQ"
    wb.save(path)
    values = libreoffice_values(recalculate([path], tmp_path / "out")[0])
    lay = trace_layout(model)
    states = [values["Run"][(FIRST_STEP_ROW + t, lay.run["state"])] for t in range(6)]
    assert states[:3] == ["begin", "s0", "s1"] and states[3] != "s1"  # the broken edge never fires
    assert values["Trace"][(FIRST_STEP_ROW + 5, 2)] == "Q" and values["Trace"][(FIRST_STEP_ROW + 5, lay.known)] == 0
    assert values["Run"][(FIRST_STEP_ROW + 5, lay.run["symbol"])] == "Q"
    assert values["Run"].get((4, 1)) in (None, "")  # the legend explains the red symbol: no note
    assert "symbol not in the alphabet (read as an all-zero input)" in values["Run"].values()


def test_long_input_gets_a_note(tmp_path):
    model = compile_grammar(load_grammar("parity"))
    path = tmp_path / "p.xlsx"
    write_workbook(model, path, "1", steps=4)
    wb = openpyxl.load_workbook(path)
    wb["Run"]["B2"] = "1111111"
    wb.save(path)
    values = libreoffice_values(recalculate([path], tmp_path / "out")[0])
    assert "has 7 symbols; this sheet shows the first 4" in values["Run"][(4, 1)]


@pytest.mark.parametrize("final_only", [False, True])
def test_an_input_longer_than_the_sheet_gets_no_answer(final_only, tmp_path):
    """Seven 1s are odd (accepted), but the head at the last of 4 rows reads four, even: the sheet said
    "rejected", and the automaton's line that both agree on the whole word (a trial, on a 32-symbol word)."""
    g = load_grammar("parity")
    # a word classifier's automaton that accepts every word: it differs from the network on the last row shown
    # (four 1s), which said "they part at step 4" though both accept the seven 1s typed
    everything = g.with_changes(accept=frozenset(g.states)) if final_only else g
    path = tmp_path / "p.xlsx"
    write_workbook(compile_grammar(g), path, "1", steps=4, automaton=everything, reading=Reading(final_only=final_only))
    wb = openpyxl.load_workbook(path)
    wb["Run"]["B2"] = "1111111"
    wb.save(path)
    values = libreoffice_values(recalculate([path], tmp_path / "out")[0])
    no_answer = "no answer: the input has 7 symbols and this sheet 4 steps (see the note)"
    assert values["Run"][(3, 1)] == no_answer and values["Run"][(6, 1)] == no_answer


def test_multi_character_symbols_are_space_separated(tmp_path):
    path = tmp_path / "stack.toml"
    path.write_text('start = "e"\naccept = ["e"]\ntransitions = [["e", "push", "one"], ["one", "pop", "e"]]\n')
    model = compile_grammar(load_grammar(path))
    book = tmp_path / "s.xlsx"
    write_workbook(model, book, "push pop push", steps=5)
    values = libreoffice_values(recalculate([book], tmp_path / "out")[0])
    assert compare(values, model, ("push", "pop", "push")) < TOLERANCE


@pytest.mark.parametrize("argv, needle", [
    (["sheet", "reber", "-o", "/nonexistent-dir/b.xlsx"], "does not exist"),
    (["sheet", "reber", "-o", "{tmp}/b.xlsx", "--input", "BTX" * 20, "--steps", "10"], "--steps 60"),
    (["sheet", "reber", "-o", "{tmp}/b.xlsx", "--input", "BTZ"], "unknown symbol 'Z'"),
])
def test_sheet_bad_input_is_one_line_and_leaves_nothing(argv, needle, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_committed_workbooks_are_current(tmp_path):
    """sheets/*.xlsx are what `fsm-lstm build` writes today (compared cell by cell, not byte by byte)."""
    for name in bundled_names():
        committed = REPO / "sheets" / f"{name}.xlsx"
        assert committed.exists(), f"run: fsm-lstm build {name}"
        fresh = tmp_path / f"{name}.xlsx"
        model = compile_grammar(load_grammar(name))
        write_workbook(model, fresh, sample_input(model), title=name)
        a, b = openpyxl.load_workbook(committed), openpyxl.load_workbook(fresh)
        assert a.sheetnames == b.sheetnames == ["Run", "Guide", "Trace", "Grammar", "Weights"]
        for sheet in a.sheetnames:
            cells_a = [(c.coordinate, c.value) for row in a[sheet].iter_rows() for c in row if c.value is not None]
            cells_b = [(c.coordinate, c.value) for row in b[sheet].iter_rows() for c in row if c.value is not None]
            assert cells_a == cells_b, f"sheets/{name}.xlsx is stale: run fsm-lstm build {name}"


@pytest.mark.parametrize(("name", "accepts"), [("reber", True), ("coffee", False), ("mqtt", False)])
def test_the_legend_lists_only_colours_the_model_can_show(name, accepts, tmp_path):
    """A Mealy or Moore machine has outputs, not accepted or rejected prefixes."""
    model = compile_grammar(load_grammar(name))
    write_workbook(model, tmp_path / "b.xlsx", "", steps=3)
    sheet = openpyxl.load_workbook(tmp_path / "b.xlsx")["Run"]
    texts = [sheet.cell(r, c).value for r in range(1, 9) for c in (9, 10)]  # columns I and J
    assert ("accepted prefix" in texts) == ("rejected prefix" in texts) == accepts
    assert "symbol not in the alphabet (read as an all-zero input)" in texts and "type the input here (text)" in texts
    guide = " ".join(str(c.value) for row in openpyxl.load_workbook(tmp_path / "b.xlsx")["Guide"].iter_rows()
                     for c in row if c.value)
    assert ("accepted prefix" in guide) == accepts and "red symbol = not in the alphabet" in guide


def test_a_workbook_larger_than_the_memory_available_is_refused_and_the_old_file_kept(tmp_path, capsys, monkeypatch):
    book = tmp_path / "b.xlsx"
    book.write_bytes(b"the user's own file")
    monkeypatch.setattr("fsm_lstm.sheets.available_memory", lambda: 10 * 2**20)
    assert main(["sheet", "reber", "-o", str(book), "--steps", "300"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "need about" in err and "more than the 10.0 MiB available" in err, err
    assert book.read_bytes() == b"the user's own file" and list(tmp_path.iterdir()) == [book]


def test_an_automatons_cells_count_towards_the_memory_a_workbook_needs(tmp_path, monkeypatch):
    grammar = load_grammar("reber")
    model = compile_grammar(grammar)
    fits = (workbook_cells(model, 40) + 10) * BYTES_PER_CELL  # the workbook alone, and not its automaton's cells
    monkeypatch.setattr("fsm_lstm.sheets.available_memory", lambda: fits)
    write_workbook(model, tmp_path / "alone.xlsx", steps=40)
    with pytest.raises(UserError, match="need about .* of memory to write"):
        write_workbook(model, tmp_path / "beside.xlsx", steps=40, automaton=grammar)
    assert not (tmp_path / "beside.xlsx").exists()


_MEASURE = """
import re, sys
import fsm_lstm.sheets as sheets
from tests.test_region_proof import random_model
def status(field):
    with open("/proc/self/status") as fh:
        return int(re.search(field + r":\\s+(\\d+) kB", fh.read()).group(1)) * 1024
model, steps = random_model("lstm", 4, 2, 1.0, 0, ("a", "b", "c")), int(sys.argv[2])
sheets.write_workbook(model, sys.argv[1] + "/warm.xlsx", "a b", steps=10)  # imports and caches, not cells
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # the peak resident memory starts again from now
before = status("VmRSS")
sheets.write_workbook(model, sys.argv[1] + "/big.xlsx", "a b c", steps=steps)
print(status("VmHWM") - before, sheets.workbook_cells(model, steps))
"""


def test_writing_a_workbook_needs_no_more_memory_than_the_estimate_that_refuses_it(tmp_path):
    """The peak memory a workbook of 2,000 steps adds (Linux's VmHWM, reset just before, over VmRSS then) is
    within BYTES_PER_CELL per cell, the estimate ``sheet`` refuses a workbook by."""
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(tmp_path), "2000"], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parent.parent)
    grown, cells = map(int, out.stdout.split())
    assert cells > 100_000
    assert 0 < grown <= cells * BYTES_PER_CELL, (grown, cells, grown / cells)


def test_a_word_classifiers_guide_says_what_its_run_sheet_says(tmp_path):
    """A trial's word classifier: the Guide said "Separate the symbols with spaces. The alphabet is x y z <s> </s>"
    and explained accept per prefix, where the Run sheet says to type the word without spaces and that only the
    answer after the whole word counts."""
    from tests.test_verdicts import marked

    compiled = compile_grammar(marked(load_grammar("tomita3")))  # carries its grammar: the Guide shows examples
    model = replace(compiled, extra={**compiled.extra, "final_only": True, "start_marker": "<s>", "end_marker": "</s>"})
    write_workbook(model, tmp_path / "w.xlsx", "0 1 1", steps=8)
    book = openpyxl.load_workbook(tmp_path / "w.xlsx")
    guide = " ".join(str(c.value) for row in book["Guide"].iter_rows() for c in row if c.value)
    run = " ".join(str(c.value) for row in book["Run"].iter_rows(max_row=6) for c in row if isinstance(c.value, str))
    assert "Type the symbols without spaces. Alphabet: 0 1." in run
    assert "Type the symbols without spaces. The alphabet is 0 1. A word classifier: type the word; the network " \
           "also reads '<s>' before it and '</s>' after it" in guide
    assert "Separate the symbols" not in guide and "<s> </s>" not in guide
    assert "This network is a word classifier: only its answer after the whole word counts" in guide
    # its examples as a person types them (tomita3 accepts these four shortest words), none with a marker inside
    assert "Strings of the language (accepted): '' (the empty word), '0', '1', '00'." in guide
    assert "leaves the grammar:" not in guide
    write_workbook(compile_grammar(load_grammar("tomita3")), tmp_path / "p.xlsx", "011", steps=8)
    plain = " ".join(str(c.value) for row in openpyxl.load_workbook(tmp_path / "p.xlsx")["Guide"].iter_rows()
                     for c in row if c.value)
    assert "Type the symbols without spaces. The alphabet is 0 1. The sheet has 8 steps" in plain
    assert "word classifier" not in plain


def test_an_input_no_sheet_can_hold_is_refused_without_advice_it_would_refuse(tmp_path, capsys):
    """5,001 symbols at --steps 5000 were told to "pass --steps 5001", then refused as over the limit; an input
    whose text is over a cell's 32,767 characters was cut in the cell, so that the live sheet read another word."""
    from fsm_lstm.sheets import MAX_STEPS, MAX_TEXT

    book = tmp_path / "b.xlsx"
    assert main(["sheet", "parity", "-o", str(book), "--input", "1" * (MAX_STEPS + 1), "--steps", str(MAX_STEPS)]) == 2
    err = capsys.readouterr().err
    assert f"over the limit of {MAX_STEPS:,} trace rows" in err and "pass --steps" not in err
    long = "y" * (MAX_TEXT // 2 + 1)  # two such symbols: one row each, but over one cell's text
    model = Model(layers=(Layer(np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32), np.zeros(4, np.float32),
                                np.zeros(4, np.float32)),), head_weight=np.zeros((1, 1), np.float32),
                  head_bias=np.zeros(1, np.float32), alphabet=("a", long), heads=("accept",))
    save_model(model, tmp_path / "m.npz")
    assert main(["sheet", str(tmp_path / "m.npz"), "-o", str(book), "--input", f"{long} {long}"]) == 2
    err = capsys.readouterr().err
    assert f"a workbook cell holds at most {MAX_TEXT:,}" in err and err.count("\n") == 1
    assert not book.exists()


def test_the_units_of_a_multi_layer_model_without_labels_are_numbered_by_layer(tmp_path):
    """Layer 0's units were 'l0 u0 ...' and the last layer's 'unit 0 ...' in one Trace sheet (a trial's 2-layer
    GRU); a model's own labels (compiled) stay."""
    f32 = np.float32
    def layer(K):
        return Layer(np.ones((12, K), f32), np.ones((12, 4), f32), np.zeros(12, f32), np.zeros(12, f32))

    model = Model(layers=(layer(2), layer(4)), head_weight=np.ones((1, 4), f32), head_bias=np.zeros(1, f32),
                  alphabet=("a", "b"), heads=("accept",), cell="gru")
    book = tmp_path / "g.xlsx"
    write_workbook(model, book, "ab")
    wb = openpyxl.load_workbook(book)
    guide = [row[0] for row in openpyxl.load_workbook(book)["Guide"].iter_rows(values_only=True) if row[0]]
    assert any("was not compiled from a grammar" in line and "labelled by number" in line for line in guide)
    for name in ("Trace", "Weights", "Grammar"):
        texts = {c.value for row in wb[name].iter_rows() for c in row if isinstance(c.value, str)}
        shown = {"l1 u3"} if name == "Grammar" else {"l0 u3", "l1 u3"}  # Grammar lists the last layer's units
        assert shown <= texts and not any(t.startswith("unit ") for t in texts), name
    compiled = compile_grammar(load_grammar("parity"))
    book = tmp_path / "p.xlsx"
    write_workbook(compiled, book, "1")
    texts = {c.value for row in openpyxl.load_workbook(book)["Trace"].iter_rows() for c in row}
    assert set(compiled.units) <= texts


def test_an_imported_models_guide_says_so_and_gives_its_import_notes_as_text(tmp_path):
    """The Guide of an imported network described compiled edge units and no import; the Weights sheet showed an
    embedding folded into weight_ih without a word (a trial). The notes are untrusted: written as text."""
    model = compile_grammar(load_grammar("parity"))
    model = Model(layers=model.layers, head_weight=model.head_weight, head_bias=model.head_bias,
                  alphabet=model.alphabet, heads=model.heads,
                  extra={"imported": {"format": "onnx", "notes": ["embedding of 5 symbols folded", "=1+1"]}})
    book = tmp_path / "i.xlsx"
    write_workbook(model, book, "1")
    guide = [row[0] for row in openpyxl.load_workbook(book)["Guide"].iter_rows(values_only=True) if row[0]]
    assert any("This network was imported (fsm-lstm import)" in line for line in guide)
    assert any(line.startswith("It was read from onnx.") for line in guide)
    assert "Import note: embedding of 5 symbols folded" in guide and "Import note: =1+1" in guide
    assert not any("one unit per grammar edge" in line for line in guide)
    for notes in (5, "abc", {"a": 1}):  # a hand-edited meta: no crash, no note per character
        write_workbook(replace(model, extra={"imported": {"format": 7, "notes": notes}}), book, "1")
        guide = [row[0] for row in openpyxl.load_workbook(book)["Guide"].iter_rows(values_only=True) if row[0]]
        assert not any(line.startswith("Import note") for line in guide)
        assert any(line.startswith("It was read from another framework.") for line in guide)


def test_the_verdict_row_holds_the_longest_verdict_it_can_show(tmp_path):
    """The 16-point verdict row was two lines whatever the model: a long output (or symbol) was cut off. Characters
    per unit of width of bold 10-point text as LibreOffice prints it: 1.16 (so 0.725 at 16 points)."""
    import textwrap

    model = compile_grammar(load_grammar("mqtt"))
    long = "out:" + "a-rather-long-output-name-" * 6
    model = replace(model, heads=tuple(long if h == "out:CONNACK" else h for h in model.heads))
    write_workbook(model, tmp_path / "m.xlsx", "", steps=30)
    ws = openpyxl.load_workbook(tmp_path / "m.xlsx")["Run"]
    width = sum(ws.column_dimensions[c].width for c in "ABCDEF")
    outputs = sum(h.startswith("out:") for h in model.heads)
    verdict = f"output: {long[4:]} (+{outputs - 1} more)"
    lines = len(textwrap.wrap(verdict, int(1.16 * width * 10 / 16)))
    assert lines >= 3 and ws.row_dimensions[3].height >= lines * 1.3 * 16


def test_a_network_too_large_for_a_workbook_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    """verify --report and extract --sheet ran the whole verification or extraction (9 s and 427 MB, 23 s and
    1.7 GB), then refused the workbook and dropped the verdict; the message advised --steps, which they lack."""
    import importlib

    verify_module, extract_module = (importlib.import_module(f"fsm_lstm.{m}") for m in ("verify", "extract"))
    rng = np.random.default_rng(0)
    H = 1200  # 4H x (H + K) weights: 5.8 million cells on the Weights sheet alone
    layer = Layer(*(rng.normal(size=s).astype(np.float32) for s in ((4 * H, 3), (4 * H, H), (4 * H,), (4 * H,))))
    save_model(Model(layers=(layer,), head_weight=np.ones((1, H), np.float32), head_bias=np.zeros(1, np.float32),
                     alphabet=("a", "b", "c"), heads=("accept",)), tmp_path / "big.npz")
    monkeypatch.setattr(verify_module, "verify", lambda *a, **k: pytest.fail("verify ran"))
    monkeypatch.setattr(extract_module, "extract", lambda *a, **k: pytest.fail("extract ran"))
    for argv in (["verify", str(tmp_path / "big.npz"), "--grammar", "tomita3", "--report", str(tmp_path / "r.xlsx")],
                 ["extract", str(tmp_path / "big.npz"), "-o", str(tmp_path / "x.toml"), "--sheet",
                  str(tmp_path / "s.xlsx")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "the weights alone take" in err and "--steps" not in err
    assert not list(tmp_path.glob("*.xlsx")) and not (tmp_path / "x.toml").exists()


@pytest.mark.parametrize("length", [4, 60, 300])
def test_the_input_cell_shows_a_long_input_whole(tmp_path, length):
    """Printed, a 32-symbol input was cut at the edge of B2:D2, and with it the last symbols that made it a
    counterexample (a trial). The cell wraps, and a row sized for the input's lines (12-point regular text, at
    most 1.16 characters of bold per unit of width, so fewer of regular) holds it; a short input keeps the
    default height, which a spreadsheet sizes as a person types."""
    import textwrap

    word = "".join("01"[k % 3 == 0] for k in range(length))
    write_workbook(compile_grammar(load_grammar("tomita3")), tmp_path / "t.xlsx", word, steps=length)
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx")["Run"]
    assert ws["B2"].value == word and ws["B2"].alignment.wrap_text and "B2:D2" in map(str, ws.merged_cells.ranges)
    width = sum(ws.column_dimensions[c].width for c in "BCD")
    lines = len(textwrap.wrap(word, int(1.16 * width * 10 / 12)))
    if lines == 1:
        assert ws.row_dimensions[2].height is None
    else:
        assert length >= 60 and ws.row_dimensions[2].height >= lines * 1.3 * 12


def test_a_word_classifier_s_run_sheet_colours_only_the_answer_after_the_whole_word(tmp_path):
    """Its t = 0 row's accept TRUE, coloured green like an answer, read as one (trial 104); only the row after the
    whole word is coloured now, and the legend and the Guide say "word"."""
    model = compile_grammar(load_grammar("tomita3"))
    write_workbook(replace(model, extra={**model.extra, "final_only": True}), tmp_path / "w.xlsx", "0110", steps=6)
    write_workbook(model, tmp_path / "p.xlsx", "0110", steps=6)
    for name, rows, kind in (("w", "=", "word"), ("p", "<=", "prefix")):
        book = openpyxl.load_workbook(tmp_path / f"{name}.xlsx")
        sheet = book["Run"]
        rules = [rule.formula[0] for cells in sheet.conditional_formatting for rule in cells.rules
                 if str(cells.sqref).startswith("D")]
        assert sorted(rules) == [f"AND($A8{rows}$F$2,$D8={v})" for v in ("FALSE", "TRUE")]
        texts = [sheet.cell(r, 9).value for r in range(1, 9)]
        assert f"accepted {kind}" in texts and f"rejected {kind}" in texts
        guide = " ".join(str(c.value) for row in book["Guide"].iter_rows() for c in row if c.value)
        assert f"green accept = accepted {kind}{' (its last row only)' if name == 'w' else ''}, pink" in guide
    cached = openpyxl.load_workbook(tmp_path / "w.xlsx", data_only=True)["Run"]
    assert cached["F2"].value == 4 and cached["A12"].value == 4  # the rule's row: t = 4, after the whole word
    for extra, judged in (({"nonempty": True}, ",$A8>0"),  # the empty word's row is not judged: not coloured
                          ({"nonempty": True, "final_only": True, "start_marker": "0"}, ",$A8>1")):
        write_workbook(replace(model, extra={**model.extra, **extra}), tmp_path / "n.xlsx", "11", steps=6)
        sheet = openpyxl.load_workbook(tmp_path / "n.xlsx")["Run"]
        assert all(rule.formula[0].endswith(f"{judged})") for cells in sheet.conditional_formatting
                   for rule in cells.rules if str(cells.sqref).startswith("D"))


def test_every_sheet_prints_landscape_fitted_and_each_weights_table_begins_a_page(tmp_path):
    """The Automaton and Summary sheets had no page setup (portrait, cut across pages), and the heads' rows of the
    Weights sheet printed under another table's page without column headings (trial 108)."""
    model = compile_grammar(load_grammar("mqtt"))
    summary = [["verification", "mqtt: PASS"], ["why", "a long sentence " * 20], ["searched", "word set", "n", "d"],
               ["", "the 500 shortest words the automaton accepts", "500", "0"]]
    write_workbook(model, tmp_path / "b.xlsx", "", steps=4, automaton=load_grammar("mqtt"), summary=summary)
    book = openpyxl.load_workbook(tmp_path / "b.xlsx")
    for sheet in book.worksheets:
        wide = 1 if sheet.page_setup.fitToWidth is None else sheet.page_setup.fitToWidth  # 1 page: the default
        fitted = sheet.sheet_properties.pageSetUpPr.fitToPage and wide <= (4 if sheet.title == "Trace" else 1)
        assert sheet.page_setup.orientation == "landscape" and fitted, sheet.title
    weights = book["Weights"]
    heads = next(r for r in range(1, weights.max_row + 1) if weights.cell(r, 1).value == "heads")
    assert [b.id for b in weights.row_breaks.brk] == [heads - 1]  # the page breaks above the heads' heading
    s = book["Summary"]
    assert s.column_dimensions["B"].width >= len("the 500 shortest words the automaton accepts")  # the names fit
    assert ("B2:D2" in {str(m) for m in s.merged_cells.ranges}) and s["B2"].alignment.wrap_text  # the sentence


def test_a_framed_word_longer_than_the_sheet_is_counted_with_its_markers_said(tmp_path):
    """A 31-symbol word "had 33 symbols" (trial 108): the count includes the markers the network reads, and the
    sheet now says so; in LibreOffice's recalculation too."""
    path = tmp_path / "w.xlsx"
    framed = Grammar(name="framed", start="b", accept=frozenset({"e"}), alphabet=("<s>", "1", "</s>"),
                     states=("b", "w", "e"), transitions=(("b", "<s>", "w"), ("w", "1", "w"), ("w", "</s>", "e")))
    ones = Grammar(name="ones", start="q", accept=frozenset({"q"}), alphabet=("1",), states=("q",),
                   transitions=(("q", "1", "q"),))  # the automaton beside it: row 6 says the same
    write_workbook(compile_grammar(framed), path, "1", steps=6,
                   reading=Reading(final_only=True, start="<s>", end="</s>"), automaton=ones)
    wb = openpyxl.load_workbook(path)
    wb["Run"]["B2"] = "11111"  # 5 symbols, 7 with the markers: more than the sheet's 6 steps
    wb.save(path)
    values = libreoffice_values(recalculate([path], tmp_path / "out")[0])
    no_answer = "no answer: the network reads 7 symbols (the word and its markers) and this sheet 6 steps (see the " \
                "note)"
    assert values["Run"][(3, 1)] == no_answer and values["Run"][(6, 1)] == no_answer
    assert "The network reads 7 symbols (the word and its markers); this sheet shows the first 6" in \
        values["Run"][(4, 1)]


def test_the_grammar_sheet_of_a_machine_lists_its_outputs(tmp_path):
    """Only the picture showed a Mealy or Moore machine's outputs (trial 108): the table now gives a Moore
    state's output in a column of its own and a Mealy edge's after its target, as the grammar file has them."""
    for name in ("coffee", "mqtt"):
        g = load_grammar(name)
        write_workbook(compile_grammar(g), tmp_path / f"{name}.xlsx", "", steps=2)
        rows = [[v for v in row if v is not None]
                for row in openpyxl.load_workbook(tmp_path / f"{name}.xlsx")["Grammar"].iter_rows(values_only=True)]
        start = next(k for k, row in enumerate(rows) if row and str(row[0]).startswith("transition table"))
        header, table = rows[start + 1], {row[0].removeprefix("-> "): row[1:] for row in rows[start + 2:start + 2 +
                                                                                               len(g.states)]}
        if name == "coffee":
            assert header == [*g.alphabet, "output"]
            assert {s: cells[-1] for s, cells in table.items()} == dict(g.state_outputs)
        else:
            assert header == list(g.alphabet)
            for (p, a, q), out in g.edge_outputs:
                assert table[p][g.alphabet.index(a)] == f"{q} / {out}"
        sheet = openpyxl.load_workbook(tmp_path / f"{name}.xlsx")["Grammar"]
        widths = {c: d.width for d in sheet.column_dimensions.values() for c in range(d.min, d.max + 1)}
        for j, cells in enumerate(zip(header, *table.values())):  # each column shows its longest cell whole
            assert widths[2 + j] >= max(map(len, cells)), (name, cells)  # (mqtt's printed "ed / CONCLO")


def test_charts_print_whole_and_never_in_the_repeated_header_rows(tmp_path):
    """A 200-step Run sheet printed its head-logit chart cut in two, and a fragment of the first chart at the top
    of every page, since it began on the header row each page repeats (trial 108). The charts now begin under it,
    and on a table longer than them each one ends a page."""
    import re
    import zipfile

    for steps, breaks in ((30, []), (200, [20, 33, 46])):  # tomita3 compiles to an LSTM: h, c and the heads
        write_workbook(compile_grammar(load_grammar("tomita3")), tmp_path / f"s{steps}.xlsx", "0110", steps=steps)
        run = openpyxl.load_workbook(tmp_path / f"s{steps}.xlsx")["Run"]
        assert [b.id for b in run.row_breaks.brk] == breaks
        repeated = int(run.print_title_rows.split(":")[-1].lstrip("$"))  # 1-based: the last row every page repeats
        with zipfile.ZipFile(tmp_path / f"s{steps}.xlsx") as z:
            drawing = z.read("xl/drawings/drawing1.xml").decode()
        rows = [int(r) for r in re.findall(r"<xdr:from>.*?<xdr:row>(\d+)</xdr:row>", drawing, re.S)]  # 0-based
        assert len(rows) == 3 and min(rows) >= repeated and all(b - 13 in rows for b in breaks)
