"""The automaton beside the network: after LibreOffice and Gnumeric recalculation, the automaton's columns on Run
equal the automaton's own run, walked here over the grammar's transitions; verify --report marks where a leaky
network parts from its grammar, and its Summary says which string it shows; hostile state names stay text. GRU, RNN
and two-layer models run beside an automaton; beside a Mealy or Moore machine agree compares outputs (a blanked output
reads (none)), and beside a model without out: heads states, or the workbook is refused; a word classifier is
compared on the whole word, and one with start and end markers reads them on rows where the automaton reads nothing.
The extraction Summary names the words each figure was measured on."""

from __future__ import annotations

import itertools
import tempfile
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examples.make_examples import LEAK_REPEATS, leaky_reber
from fsm_lstm.cli import main
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.gnumeric import recalculate_gnumeric
from fsm_lstm.grammar import Grammar
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.libreoffice import recalculate
from fsm_lstm.model import save_model
from fsm_lstm.outputs import output_word
from fsm_lstm.reading import reading_of
from fsm_lstm.sheet_layout import FIRST_STEP_ROW
from fsm_lstm.runtime import run
from fsm_lstm.sheet_summary import disagreements
from fsm_lstm.sheets import write_workbook
from fsm_lstm.words import encode
from tests.workbooks import error_cells

HOSTILE = """name = "hostile"
start = "=1+1"
accept = ["=1+1"]
alphabet = ["0", "1"]
transitions = [
  ["=1+1", "0", "=1+1"], ["=1+1", "1", "\\"q'"],
  ["\\"q'", "1", "@SUM(A1)"], ["@SUM(A1)", "0", "=1+1"], ["@SUM(A1)", "1", "\\"q'"],
]
"""
STATE, ACCEPT, AGREE, NEXT, OUTPUT = 7, 8, 9, 13, 14
# a string the automaton reads to the end, one that leaves it (no 0 from "q'), one with an unknown symbol
TYPED = {"inside": "0110110", "leaving": "1011", "unknown": "01x1",
         "blanks": "0\t1 1\n0\r\n1\u00a01"}  # as `run` reads it: 011011 (each blank was an unknown symbol)


def walk(g, word: str) -> list[tuple[str, bool]]:
    """The automaton's own run, from its transition list: (state or '(none)', accepting) after each prefix."""
    state, out = g.start, [(g.start, g.start in g.accept)]
    for a in word:
        targets = [q for p, b, q in g.transitions if p == state and b == a] if state else []
        state = targets[0] if targets else None
        out.append((state, state in g.accept) if state else ("(none)", False))
    return out


def column(ws, c: int, n: int) -> list:
    return [ws.cell(FIRST_STEP_ROW + t, c).value for t in range(n + 1)]


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    """name -> (written, LibreOffice's, Gnumeric's)."""
    src = tmp_path_factory.mktemp("automaton")
    (src / "hostile.toml").write_text(HOSTILE)
    model = compile_grammar(load_grammar("tomita3"))
    for name, text in TYPED.items():
        write_workbook(model, src / f"{name}.xlsx", "0", steps=10, automaton=load_grammar(src / "hostile.toml"))
        wb = openpyxl.load_workbook(src / f"{name}.xlsx")
        wb["Run"]["B2"] = text  # typed: the cached values of the writer no longer apply
        wb.save(src / f"{name}.xlsx")
    save_model(leaky_reber(), src / "leaky.npz")
    assert main(["verify", str(src / "leaky.npz"), "--max-len", "3", "--examples", "300", "--seed", "3", "--json",
                 "--report", str(src / "leaky.xlsx")]) == 1
    wb = openpyxl.load_workbook(src / "leaky.xlsx")
    wb["Run"]["B2"] = "BTSSXXTVVE"  # a Reber string the network gets right
    wb.save(src / "leaky-right.xlsx")
    wb = openpyxl.load_workbook(src / "leaky.xlsx")
    wb["Run"].cell(FIRST_STEP_ROW + 1, AGREE).value = "=1/0"  # an agree cell a spreadsheet could not compute
    wb.save(src / "leaky-broken.xlsx")
    one = Grammar(name="all", start="q", accept=frozenset({"q"}), alphabet=("0", "1"), states=("q",),
                  transitions=(("q", "0", "q"), ("q", "1", "q")))
    write_workbook(model, src / "one-state.xlsx", "0101", steps=6, automaton=one)  # tomita3 rejects 010
    names = [*(f"{n}.xlsx" for n in TYPED), "leaky.xlsx", "leaky-right.xlsx", "leaky-broken.xlsx", "one-state.xlsx"]
    lo = recalculate([src / n for n in names], tmp_path_factory.mktemp("automaton-lo"))
    gn = recalculate_gnumeric([src / n for n in names], tmp_path_factory.mktemp("automaton-gn"))
    return {n: (src / n, lo[k], gn[k]) for k, n in enumerate(names)}


@pytest.mark.parametrize("typed", sorted(TYPED))
def test_the_automaton_state_column_is_the_automatons_own_run_in_every_engine(typed, books, tmp_path):
    (tmp_path / "h.toml").write_text(HOSTILE)
    g = load_grammar(tmp_path / "h.toml")
    word = "".join(TYPED[typed].split())  # the symbols `run` reads
    assert typed != "blanks" or word == "011011"
    want = walk(g, word)
    assert typed != "leaving" or want[-1][0] == "(none)"
    for engine in books[f"{typed}.xlsx"][1:]:
        assert error_cells(engine) == [], engine
        run = openpyxl.load_workbook(engine, data_only=True)["Run"]
        n = len(word)
        assert run["F2"].value == n, engine
        assert column(run, STATE, n) == [s for s, _ in want], engine
        assert column(run, ACCEPT, n) == [a for _, a in want], engine
        legal = [" ".join(a for a in g.alphabet if any(p == s and b == a for p, b, _ in g.transitions)) or None
                 for s, _ in want]
        assert [v or None for v in column(run, NEXT, n)] == legal, engine  # '' from Gnumeric, None from LibreOffice
        assert run.cell(FIRST_STEP_ROW + n + 1, STATE).value in (None, "")  # past the end: blank


def test_hostile_state_names_are_text_cells(books):
    written = books["inside.xlsx"][0]
    table = openpyxl.load_workbook(written)["Automaton"]
    names = [table.cell(r, 1) for r in range(4, 7)]
    assert [c.value for c in names] == ["=1+1", "\"q'", "@SUM(A1)"]
    assert all(c.data_type == "s" for c in names)
    targets = [table.cell(r, c) for r in range(4, 7) for c in (3, 4) if table.cell(r, c).value]
    assert targets and all(cell.data_type == "s" for cell in targets)
    for engine in books["inside.xlsx"][1:]:  # an engine that evaluated "=1+1" would show 2
        assert openpyxl.load_workbook(engine, data_only=True)["Automaton"]["A4"].value == "=1+1"


def test_verify_report_agree_turns_false_exactly_at_the_failing_step(books):
    n = LEAK_REPEATS + 2  # 'BT' then the S loop: the leak makes accept wrongly true after LEAK_REPEATS loops
    for path in books["leaky.xlsx"]:  # cached by the writer, then LibreOffice's and Gnumeric's
        wb = openpyxl.load_workbook(path, data_only=True)
        run = wb["Run"]
        assert run["B2"].value == "BT" + "S" * LEAK_REPEATS
        assert column(run, AGREE, n) == [True] * n + [False], path
        assert run["A6"].value.startswith(f"they part at step {n} (symbol S): network says accept, automaton says "
                                          "reject"), path
    names = openpyxl.load_workbook(books["leaky.xlsx"][0]).defined_names
    assert names["agree"].attr_text.startswith("Run!$I$8:") and names["automaton_state"].attr_text.startswith(
        "Run!$G$8:")


def test_verify_report_says_which_string_it_shows_and_why(books, tmp_path):
    summary = {r[0]: r[1] for r in openpyxl.load_workbook(books["leaky.xlsx"][0])["Summary"].iter_rows(values_only=True)
               if r and r[0]}
    assert summary["verification"] == "reber: FAIL" and summary["input shown"] == "BT" + "S" * LEAK_REPEATS
    assert summary["why this input"].startswith(f"the counterexample: the shortest failing string found "
                                                f"({LEAK_REPEATS + 2} symbols), confirmed on the network")
    assert main(["verify", "reber", "--max-len", "5", "--examples", "20", "--report", str(tmp_path / "p.xlsx")]) == 0
    book = openpyxl.load_workbook(tmp_path / "p.xlsx")
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True) if r and r[0]}
    reber = load_grammar("reber")
    accepted = [w for n in range(6) for w in map("".join, itertools.product(reber.alphabet, repeat=n))
                if walk(reber, w)[-1][1]]
    last = max(accepted, key=lambda w: (len(w), [reber.alphabet.index(a) for a in w]))
    assert book["Run"]["B2"].value == summary["input shown"] == last
    assert summary["verification"] == "reber: PASS"
    assert "strings 'reber' accepts up to length 5, the length up to which every string was checked exhaustively" in \
        summary["why this input"] and "It is not the longest string checked" in summary["why this input"]


def test_typing_a_string_the_network_gets_right_makes_agree_all_true(books):
    for engine in books["leaky-right.xlsx"][1:]:
        run = openpyxl.load_workbook(engine, data_only=True)["Run"]
        assert column(run, AGREE, 10) == [True] * 11, engine
        assert run["A6"].value == "network and automaton agree on accept after every prefix (10 symbols)", engine


def test_the_sentence_is_green_where_they_agree_and_red_where_they_part(books):
    """It was red either way: 'network and automaton agree ...' read as a warning. The first row that disagrees
    has the sentence's colours, not the bright red the legend gives to symbols outside the alphabet (trial 108)."""
    sheet = openpyxl.load_workbook(books["leaky.xlsx"][0])["Run"]
    assert sheet["A6"].font.color.rgb.endswith("006100")  # green, as written
    rules = [(str(cells.sqref), rule) for cells in sheet.conditional_formatting for rule in cells.rules]
    parting = [rule for cells, rule in rules if cells == "A6"]
    assert [(r.operator, r.text) for r in parting] == [("beginsWith", "they part"),
                                                       ("beginsWith", "no comparison: the agree column holds errors")]
    assert all(r.dxf.font.color.rgb.endswith("C00000") for r in parting)  # red where they part or cannot compare
    row = [rule for cells, rule in rules if rule.formula and "MATCH(FALSE" in rule.formula[0]]
    assert len(row) == 1 and row[0].dxf.fill.bgColor.rgb == parting[0].dxf.fill.bgColor.rgb
    symbol = [rule for cells, rule in rules if rule.formula and "Trace!" in rule.formula[0]]
    assert symbol and symbol[0].dxf.fill.bgColor.rgb != row[0].dxf.fill.bgColor.rgb


def test_a_one_state_automaton_is_read_in_every_engine(books):
    """Gnumeric answered INDEX over a one-cell range with #REF! in every automaton column, and the sentence then
    said that network and automaton agree (trial 108): the table's ranges now span two rows at least."""
    for engine in books["one-state.xlsx"][1:]:
        assert error_cells(engine) == [], engine
        run = openpyxl.load_workbook(engine, data_only=True)["Run"]
        assert column(run, STATE, 4) == ["q"] * 5, engine
        assert run["A6"].value == "they part at step 3 (symbol 0): network says reject, automaton says accept " \
                                  "(state q)", engine


def test_an_agree_column_with_errors_is_not_called_agreement(books):
    for engine in books["leaky-broken.xlsx"][1:]:
        assert openpyxl.load_workbook(engine, data_only=True)["Run"]["A6"].value == \
            "no comparison: the agree column holds errors", engine


def test_sheet_command_takes_an_automaton_and_refuses_a_missing_one(tmp_path):
    out = tmp_path / "b.xlsx"
    assert main(["sheet", "reber", "--automaton", "reber", "-o", str(out), "--input", "BTXSE"]) == 0
    run = openpyxl.load_workbook(out, data_only=True)["Run"]  # the writer's cached values
    assert column(run, STATE, 5) == [s for s, _ in walk(load_grammar("reber"), "BTXSE")]
    assert run["A6"].value == "network and automaton agree on accept after every prefix (5 symbols)"
    assert main(["sheet", "reber", "--automaton", str(tmp_path / "nowhere.toml"), "-o", str(tmp_path / "c.xlsx")]) == 2
    assert not Path(tmp_path / "c.xlsx").exists()


def test_extract_sheet_lists_real_disagreements_shortest_first(tmp_path):
    """Leaky Reber cut to 4 states: a poor automaton (exit 1). Every listed word is a real disagreement: the
    automaton's own run (walked over the written grammar file) differs from Reber's answer, which the network
    gives on these short words (its leak needs LEAK_REPEATS S's in a row), as the runtime confirms."""
    save_model(leaky_reber(), tmp_path / "leaky.npz")
    assert main(["extract", str(tmp_path / "leaky.npz"), "--max-states", "4", "-o", str(tmp_path / "x.toml"),
                 "--sheet", str(tmp_path / "x.xlsx")]) == 1
    extracted, reber = load_grammar(tmp_path / "x.toml"), load_grammar("reber")
    rows = list(openpyxl.load_workbook(tmp_path / "x.xlsx")["Summary"].iter_rows(values_only=True))
    words = [r[1] for r in rows[rows.index(next(r for r in rows if r[0] == "disagreements")) + 1:]]
    assert words and all(isinstance(w, str) for w in words)
    assert [len(w) for w in words] == sorted(len(w) for w in words)
    model = leaky_reber()
    for w in words:
        assert "S" * LEAK_REPEATS not in w
        assert walk(extracted, w)[-1][1] != walk(reber, w)[-1][1], w
        heads = run(model, encode([tuple(w)], model.alphabet)).heads
        assert bool(heads[len(w), 0, model.heads.index("accept")] > 0) == walk(reber, w)[-1][1], w
    names = openpyxl.load_workbook(tmp_path / "x.xlsx", data_only=True)
    assert names["Run"]["B2"].value == words[0]
    assert names["Run"]["A6"].value.startswith(f"they part at step {len(words[0])} ")
    # every figure names its words: the fidelity the extractor's held-out words, the counts the words searched
    label = {r[0]: r for r in rows if r and r[0]}
    assert "held-out" in label["fidelity"][1] and "not on the words searched below" in label["fidelity"][1]
    sets = rows[rows.index(label["searched"]) + 1:rows.index(label["disagreements"])]
    longest = int(sets[0][1].removeprefix("every word up to length "))
    every = [w for n in range(longest + 1) for w in map("".join, itertools.product(reber.alphabet, repeat=n))]
    wrong = sum(walk(extracted, w)[-1][1] != walk(reber, w)[-1][1] for w in every)  # the network is Reber here
    assert (sets[0][2], sets[0][3]) == (f"{len(every):,}", f"{wrong:,}")
    count = lambda text: int(text.replace(",", ""))  # noqa: E731
    own = next(s for s in sets if s[1] == "the 500 shortest words the model's own grammar accepts")
    if not extracted.accept:  # an automaton that accepts nothing parts from the network on every word Reber accepts
        assert own[2] == own[3] == "500"
    found, checked = (count(x) for x in label["disagreements"][1].split(" words;")[0].split(" of "))
    assert len(words) == min(found, 50)
    assert max(count(s[3]) for s in sets) <= found <= sum(count(s[3]) for s in sets)
    assert label["agreement"][1].startswith(f"{1 - found / checked:.2%} of the {checked:,} distinct words searched")


@pytest.mark.parametrize("argmax", [False, True])
def test_a_machines_summary_lists_the_words_whose_output_differs(argmax):
    """mqtt compiled, then one edge's output changed in the machine it is compared with: the disagreements are
    exactly the words whose last symbol crosses that edge, found here by walking mqtt (output_word). Read by
    argmax (every out: logit moved by the same amount, which keeps the largest), the same words."""
    mqtt = load_grammar("mqtt")
    model = compile_grammar(mqtt)
    if argmax:
        outs = np.array([h.startswith("out:") for h in model.heads])
        model = replace(model, head_bias=model.head_bias + 2.0 * outs, extra={"argmax_outputs": True})
    edge = ("connected", "publish", "connected")
    changed = replace(mqtt, edge_outputs=tuple((e, "SUBACK" if e == edge else v) for e, v in mqtt.edge_outputs))
    found = disagreements(model, changed, seed=1)
    step = {(p, a): q for p, a, q in mqtt.transitions}

    def crosses_last(word):
        state = mqtt.start
        for a in word[:-1]:
            state = step[state, a]
        return bool(word) and (state, word[-1], step[state, word[-1]]) == edge

    words = [w for n in range(6) for w in itertools.product(mqtt.alphabet, repeat=n)]
    assert (found.sets[0].what, found.sets[0].words) == ("every word up to length 5", len(words))
    assert found.sets[0].disagree == sum(map(crosses_last, words)) > 0
    assert all(crosses_last(w) and output_word(mqtt, w)[-1] == "PUBACK" for w in found.words)
    assert list(found.words) == [w for w in sorted(words, key=lambda w: (len(w), w)) if crosses_last(w)][:50]
    none = disagreements(model, mqtt, seed=1)
    assert none.disagree == 0 and none.shown == none.example and 5 <= len(none.example) <= 12
    assert set(none.example) <= set(mqtt.alphabet)


@settings(max_examples=15, deadline=None)
@given(word=st.text(alphabet="01", max_size=12))  # the writer refuses unknown symbols as input
def test_cached_automaton_columns_are_the_automatons_own_run(word, tmp_path_factory):
    """As written (no recalculation): viewers that do not recalculate see the automaton's run and the agreement."""
    folder = tmp_path_factory.mktemp("cached")
    (folder / "h.toml").write_text(HOSTILE)
    g = load_grammar(folder / "h.toml")
    model = compile_grammar(load_grammar("tomita3"))
    write_workbook(model, folder / "b.xlsx", word, steps=12, automaton=g)
    run_sheet = openpyxl.load_workbook(folder / "b.xlsx", data_only=True)["Run"]
    want = walk(g, word)
    assert column(run_sheet, STATE, len(word)) == [s for s, _ in want]
    assert column(run_sheet, ACCEPT, len(word)) == [a for _, a in want]
    network = column(run_sheet, 4, len(word))
    assert column(run_sheet, AGREE, len(word)) == [n == a for n, (_, a) in zip(network, want)]


def test_a_state_name_a_workbook_cannot_hold_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "bad.toml").write_text('name = "bad"\nstart = "a\\u0001"\naccept = []\nalphabet = ["B"]\n'
                                       'transitions = [["a\\u0001", "B", "a\\u0001"]]\n')
    assert main(["sheet", "reber", "--automaton", str(tmp_path / "bad.toml"), "-o", str(tmp_path / "b.xlsx")]) == 2
    err = capsys.readouterr().err
    assert "automaton state" in err and "U+0001" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "b.xlsx").exists()


# (c) GRU, RNN and two-layer models: random networks (tests/test_cells.py, checked there against torch) over a, b, c
# beside an automaton over the same symbols, so that agree is TRUE on some steps and FALSE on others.
ABC = """name = "abc"
start = "even"
accept = ["even"]
alphabet = ["a", "b", "c"]
transitions = [["even", "a", "odd"], ["odd", "a", "even"], ["even", "b", "even"], ["odd", "b", "odd"],
               ["even", "c", "even"]]
"""
CELLS = {"gru-1": ("gru", 1, 2), "rnn-2": ("rnn", 2, 2), "lstm-2": ("lstm", 2, 2)}  # cell, layers, seed
CELL_WORD = "bcabacacab"  # typed after writing; the third c, read in state odd, leaves the automaton (step 8)


@pytest.fixture(scope="module")
def cell_books(tmp_path_factory):
    """name -> (model, LibreOffice's and Gnumeric's recalculations of its workbook with CELL_WORD typed in, the
    automaton)."""
    from fsm_lstm.model import model_from_arrays
    from tests.test_cells import torch_model
    src = tmp_path_factory.mktemp("cells")
    (src / "abc.toml").write_text(ABC)
    models = {}
    for name, (cell, layers, seed) in CELLS.items():
        models[name] = model_from_arrays(torch_model(cell, layers, seed=seed)[1])
        write_workbook(models[name], src / f"{name}.xlsx", "a", steps=12, automaton=load_grammar(src / "abc.toml"))
        wb = openpyxl.load_workbook(src / f"{name}.xlsx")
        wb["Run"]["B2"] = CELL_WORD
        wb.save(src / f"{name}.xlsx")
    books = [src / f"{n}.xlsx" for n in CELLS]
    lo = recalculate(books, tmp_path_factory.mktemp("cells-lo"))
    gn = recalculate_gnumeric(books, tmp_path_factory.mktemp("cells-gn"))
    return {n: (models[n], (lo[k], gn[k]), load_grammar(src / "abc.toml")) for k, n in enumerate(CELLS)}


@pytest.mark.parametrize("name", sorted(CELLS))
def test_gru_rnn_and_two_layer_models_run_beside_the_automaton(name, cell_books):
    model, books, g = cell_books[name]
    cell, layers, _ = CELLS[name]
    assert (model.cell, len(model.layers)) == (cell, layers)
    n = len(CELL_WORD)
    want = walk(g, CELL_WORD)
    assert want[6][0] == "even" and want[7][0] == "odd" and want[8][0] == "(none)"
    heads = run(model, encode([tuple(CELL_WORD)], model.alphabet)).heads[:, 0, model.heads.index("accept")] > 0
    agree = [bool(h) == a for h, (_, a) in zip(heads, want)]
    assert True in agree and False in agree  # both kinds of step are checked
    k = agree.index(False)
    for book in books:  # LibreOffice's, then Gnumeric's
        assert error_cells(book) == [], book
        sheet = openpyxl.load_workbook(book, data_only=True)["Run"]
        assert column(sheet, STATE, n) == [s for s, _ in want], book
        assert column(sheet, ACCEPT, n) == [a for _, a in want], book
        assert column(sheet, AGREE, n) == agree, book
        assert sheet["A6"].value.startswith(f"they part at step {k}" + ("" if k == 0 else
                                                                        f" (symbol {CELL_WORD[k - 1]})")), book


# (a) Mealy and Moore machines: agree compares the network's decoded output with the automaton's output. Each
# compiled machine runs beside its own grammar with one output changed (to a formula-like text for Mealy).
MACHINE_WORDS = {"mqtt": "connect subscribe publish connect publish", "coffee": "coin button take coin take button"}


def edited(name: str):
    """The bundled machine with one output changed: Mealy subscribed -publish-> says '=1+1', Moore brewing 'tea'."""
    g = load_grammar(name)
    if g.machine == "mealy":
        return replace(g, edge_outputs=tuple((e, "=1+1" if e == ("subscribed", "publish", "subscribed") else v)
                                             for e, v in g.edge_outputs))
    return replace(g, state_outputs=tuple((s, "tea" if s == "brewing" else v) for s, v in g.state_outputs))


def walk_outputs(g, word: list[str]) -> list[str]:
    """The machine's own outputs after each prefix, from its transition list: the state's (Moore) or the crossed
    edge's (Mealy; none before the first symbol); '(none)' once it has no transition."""
    moore, mealy = dict(g.state_outputs), dict(g.edge_outputs)
    state, out = g.start, [moore.get(g.start, "(none)")]
    for a in word:
        edge = next(((p, b, q) for p, b, q in g.transitions if p == state and b == a), None)
        state = edge[2] if edge else None
        out.append("(none)" if edge is None else moore[state] if moore else mealy[edge])
    return out


@pytest.fixture(scope="module")
def machine_books(tmp_path_factory):
    """(machine, automaton edited?) -> LibreOffice's and Gnumeric's recalculations, the words typed after writing."""
    src = tmp_path_factory.mktemp("machines")
    keys = [(name, changed) for name in MACHINE_WORDS for changed in (False, True)]
    for name, changed in keys:
        path = src / f"{name}-{changed}.xlsx"
        g = load_grammar(name)
        write_workbook(compile_grammar(g), path, g.alphabet[0], steps=8, automaton=edited(name) if changed else g)
        wb = openpyxl.load_workbook(path)
        wb["Run"]["B2"] = MACHINE_WORDS[name]
        wb.save(path)
    # mqtt with the output of subscribed -publish-> blanked on the Automaton sheet, as a person would
    g = load_grammar("mqtt")
    path = src / "mqtt-blank.xlsx"
    write_workbook(compile_grammar(g), path, g.alphabet[0], steps=8, automaton=g)
    wb = openpyxl.load_workbook(path)
    table = wb["Automaton"]
    c = next(c for c in range(1, table.max_column + 1) if table.cell(3, c).value == "output on publish")
    r = next(r for r in range(4, table.max_row + 1) if table.cell(r, 1).value == "subscribed")
    table.cell(r, c).value = None
    wb["Run"]["B2"] = MACHINE_WORDS["mqtt"]
    wb.save(path)
    keys.append(("mqtt", "blank"))
    books = [src / f"{n}-{c}.xlsx" for n, c in keys]
    lo = recalculate(books, tmp_path_factory.mktemp("machines-lo"))
    gn = recalculate_gnumeric(books, tmp_path_factory.mktemp("machines-gn"))
    return dict(zip(keys, zip(lo, gn)))


def test_a_blanked_output_cell_reads_none_as_the_runtime_says(machine_books):
    """A Mealy edge without an output: the automaton output is '(none)', as fsm-lstm says when there is none."""
    word = MACHINE_WORDS["mqtt"].split()
    silenced = ("subscribed", "publish", "subscribed")
    blank = load_grammar("mqtt").with_changes(edge_outputs=tuple(
        (e, "(none)" if e == silenced else v) for e, v in load_grammar("mqtt").edge_outputs))
    automaton = walk_outputs(blank, word)
    network = walk_outputs(load_grammar("mqtt"), word)
    assert automaton[3] == "(none)" != network[3]  # the third symbol crosses the blanked edge
    for book in machine_books["mqtt", "blank"]:
        assert error_cells(book) == [], book
        sheet = openpyxl.load_workbook(book, data_only=True)["Run"]
        assert column(sheet, OUTPUT, len(word)) == automaton, book
        assert column(sheet, AGREE, len(word)) == [a == b for a, b in zip(network, automaton)], book


@pytest.mark.parametrize("name", sorted(MACHINE_WORDS))
@pytest.mark.parametrize("changed", [False, True])
def test_agree_compares_a_machines_outputs(name, changed, machine_books):
    for book in machine_books[name, changed]:
        check_machine_book(book, name, changed)


def check_machine_book(book, name: str, changed: bool) -> None:
    assert error_cells(book) == []
    sheet = openpyxl.load_workbook(book, data_only=True)["Run"]
    word = MACHINE_WORDS[name].split()
    n = len(word)
    network = walk_outputs(load_grammar(name), word)  # the compiled machine computes its grammar's outputs
    automaton = walk_outputs(edited(name) if changed else load_grammar(name), word)
    assert sheet.cell(7, OUTPUT).value == "automaton output"
    assert column(sheet, 6, n) == network
    assert column(sheet, OUTPUT, n) == automaton
    agree = [a == b for a, b in zip(network, automaton)]
    assert column(sheet, AGREE, n) == agree
    assert (False in agree) == changed
    if changed:
        k = agree.index(False)
        state = walk(load_grammar(name), word[:k])[-1][0]
        assert sheet["A6"].value == (f"they part at step {k} (symbol {word[k - 1]}): network says output "
                                     f"{network[k]}, automaton says output {automaton[k]} (state {state})")
    else:
        assert sheet["A6"].value == f"network and automaton agree on the output after every prefix ({n} symbols)"


def test_a_machines_accept_column_is_empty_and_narrow_an_acceptors_shown(machine_books, books):
    """A Mealy or Moore machine accepts nothing: its 'automaton accept' column read FALSE on every row. Hiding it
    hid the colour legend's swatches too, which live in that column (H2:H5): its values are hidden instead."""
    for name in MACHINE_WORDS:
        sheet = openpyxl.load_workbook(machine_books[name, False][0])["Run"]
        assert not sheet.cell(7, 8).value and not sheet.column_dimensions["H"].hidden
        assert sheet.column_dimensions["H"].width <= 4 and sheet.cell(FIRST_STEP_ROW, 8).number_format == ";;;"
        swatches = [sheet.cell(r, 8).fill.fgColor.rgb for r in range(2, 6)]
        assert sum(rgb not in (None, "00000000") for rgb in swatches) >= 3, swatches
    sheet = openpyxl.load_workbook(books["inside.xlsx"][0])["Run"]
    assert sheet.cell(7, 8).value == "automaton accept" and not sheet.column_dimensions["H"].hidden


def test_machine_outputs_on_the_automaton_sheet_are_text(machine_books):
    for book in machine_books["mqtt", True]:
        table = openpyxl.load_workbook(book, data_only=True)["Automaton"]
        cells = [c for row in table.iter_rows(min_row=4) for c in row if c.value == "=1+1"]
        assert len(cells) == 1 and cells[0].data_type == "s", book  # kept as text: not evaluated to 2


# (b) word classifiers: the parity network read as a final-only model beside an automaton of odd length. They
# disagree on many prefixes, but only the whole word counts: agree is "-" on every other row.
ODD_LENGTH = """name = "odd-length"
start = "e"
accept = ["o"]
transitions = [["e", "0", "o"], ["e", "1", "o"], ["o", "0", "e"], ["o", "1", "e"]]
"""
WORDS = {"same": "11001", "differ": "1100101"}  # odd length and three 1s; odd length and four 1s


@pytest.fixture(scope="module")
def word_books(tmp_path_factory):
    """word key -> (LibreOffice's, Gnumeric's) recalculation of a final-only parity workbook with the word typed."""
    src = tmp_path_factory.mktemp("words")
    (src / "odd.toml").write_text(ODD_LENGTH)
    model = compile_grammar(load_grammar("parity"))
    model = replace(model, extra={**model.extra, "final_only": True})
    for key in WORDS:
        write_workbook(model, src / f"{key}.xlsx", "0", steps=9, automaton=load_grammar(src / "odd.toml"))
        wb = openpyxl.load_workbook(src / f"{key}.xlsx")
        wb["Run"]["B2"] = WORDS[key]
        wb.save(src / f"{key}.xlsx")
    books = [src / f"{key}.xlsx" for key in WORDS]
    lo = recalculate(books, tmp_path_factory.mktemp("words-lo"))
    gn = recalculate_gnumeric(books, tmp_path_factory.mktemp("words-gn"))
    return {key: (lo[k], gn[k]) for k, key in enumerate(WORDS)}


@pytest.mark.parametrize("key", sorted(WORDS))
def test_a_word_classifier_is_compared_on_the_whole_word_only(key, word_books, tmp_path):
    (tmp_path / "odd.toml").write_text(ODD_LENGTH)
    word = WORDS[key]
    network = [a for _, a in walk(load_grammar("parity"), word)]  # the compiled parity network's accept
    automaton = [a for _, a in walk(load_grammar(tmp_path / "odd.toml"), word)]
    assert any(x != y for x, y in zip(network[:-1], automaton[:-1]))  # per prefix, they would part early
    assert (network[-1] == automaton[-1]) == (key == "same")
    n = len(word)
    for book in word_books[key]:
        assert error_cells(book) == []
        sheet = openpyxl.load_workbook(book, data_only=True)["Run"]
        assert column(sheet, AGREE, n) == ["-"] * n + [key == "same"], book
        assert sheet.cell(FIRST_STEP_ROW + n + 1, AGREE).value in (None, ""), book
        assert sheet["A6"].value == (f"network and automaton agree on the whole word ({n} symbols)" if key == "same"
                                     else f"they part at step {n} (symbol 1): network says reject, automaton says "
                                     "accept (state o)"), book


# (d) word classifiers that frame each word with markers, as the competition-style networks do: the network
# reads <s> w </s> (or ^w$), the automaton reads w. A compiled network of "an even number of a's", framed, beside an
# automaton of odd length; one word they agree on and one they do not, in both spellings of the alphabet.
FRAMED = {"spaced": ("<s>", "</s>", "a", "b"), "single": ("^", "$", "0", "1"),  # start, end, the counted, the other
          "words": ("<s>", "</s>", "push", "pop")}
FRAMED_WORDS = {"agree": (1, 1, 0), "differ": (1, 1, 0, 1, 0)}  # as indices into (the other, the counted)
# how a person may type a word into Run!B2, as on the command line: the markers optional, written apart or not;
# one-character inner symbols with or without spaces (a typed marker was read twice; 'baa' was an unknown symbol);
# tabs, line breaks and no-break spaces as spaces, as `run` reads them ({2}: joined by no-break spaces; they were
# unknown symbols)
TYPINGS = {"spaced": {"apart": "{0}", "together": "{1}", "marked": "<s> {0} </s>", "marked-together": "<s>{1}</s>",
                      "blanks": "\t<s>\u00a0{2}\n</s>\r\n"},
           "single": {"together": "{1}", "marked": "^{1}$", "blanks": "\t^{2}$\n"},
           "words": {"apart": "{0}", "marked": "<s> {0} </s>", "blanks": "<s>\t{2}\u00a0</s>"}}


def framed_grammar(key: str) -> str:
    start, end, a, b = FRAMED[key]
    return (f'name = "framed"\nstart = "begin"\naccept = ["yes"]\ntransitions = [["begin", "{start}", "e"], '
            f'["e", "{a}", "o"], ["e", "{b}", "e"], ["o", "{a}", "e"], ["o", "{b}", "o"], ["e", "{end}", "yes"], '
            f'["o", "{end}", "no"], ["no", "{start}", "yes"]]\n')  # "no" reaches "yes": not a dead state


def odd_length(key: str) -> str:
    _, _, a, b = FRAMED[key]
    return (f'name = "odd"\nstart = "e"\naccept = ["o"]\ntransitions = [["e", "{a}", "o"], ["e", "{b}", "o"], '
            f'["o", "{a}", "e"], ["o", "{b}", "e"]]\n')


def framed_word(key: str, which: str) -> list[str]:
    _, _, a, b = FRAMED[key]
    return [(b, a)[k] for k in FRAMED_WORDS[which]]


@pytest.fixture(scope="module")
def framed_books(tmp_path_factory):
    """(spelling, word) -> (model, framed grammar, odd-length automaton, LibreOffice's, Gnumeric's recalculation)."""
    src = tmp_path_factory.mktemp("framed")
    keys = [(key, which, typing) for key in FRAMED for which in FRAMED_WORDS for typing in TYPINGS[key]]
    models, grammars = {}, {}
    for key in FRAMED:
        (src / f"{key}.toml").write_text(framed_grammar(key))
        (src / f"{key}-odd.toml").write_text(odd_length(key))
        grammars[key] = load_grammar(src / f"{key}.toml"), load_grammar(src / f"{key}-odd.toml")
        model = compile_grammar(grammars[key][0])
        start, end, _, _ = FRAMED[key]
        models[key] = replace(model, extra={**model.extra, "final_only": True, "start_marker": start,
                                            "end_marker": end})
    books = []
    for j, (key, which, typing) in enumerate(keys):
        books.append(src / f"{key}-{which}-{j}.xlsx")
        write_workbook(models[key], books[-1], "", steps=9, automaton=grammars[key][1])
        wb = openpyxl.load_workbook(books[-1])
        word = framed_word(key, which)
        wb["Run"]["B2"] = TYPINGS[key][typing].format(" ".join(word), "".join(word), "\u00a0".join(word))
        wb.save(books[-1])
    lo = recalculate(books, tmp_path_factory.mktemp("framed-lo"))
    gn = recalculate_gnumeric(books, tmp_path_factory.mktemp("framed-gn"))
    return {k: (models[k[0]], *grammars[k[0]], lo[j], gn[j]) for j, k in enumerate(keys)}


@pytest.mark.parametrize("key, which, typing", [(k, w, t) for k in FRAMED for w in FRAMED_WORDS for t in TYPINGS[k]])
def test_a_framed_word_classifier_reads_the_markers_and_the_automaton_the_word(key, which, typing, framed_books):
    model, framed, automaton, *engines = framed_books[key, which, typing]
    start, end, _, _ = FRAMED[key]
    word = framed_word(key, which)
    typed = TYPINGS[key][typing].format(" ".join(word), "".join(word), "\u00a0".join(word))
    assert reading_of(model).parse(typed, model.alphabet) == tuple(word)  # as `run` reads it
    read = [start, *word, end]
    network = walk(framed, read)[-1][1]  # the compiled network computes its grammar; the runtime confirms it
    heads = run(model, encode([tuple(read)], model.alphabet)).heads[-1, 0, model.heads.index("accept")]
    assert bool(heads > 0) == network
    inner = walk(automaton, word)
    assert (network == inner[-1][1]) == (which == "agree")
    n = len(read)
    for book in engines:
        assert error_cells(book) == [], book
        sheet = openpyxl.load_workbook(book, data_only=True)["Run"]
        assert column(sheet, 2, n)[1:] == read, book  # the marker rows are the network's first and last steps
        assert sheet["F2"].value == n, book
        # the automaton reads the word alone: '-' on the marker rows
        assert column(sheet, STATE, n) == [inner[0][0], "-", *(s for s, _ in inner[1:]), "-"], book
        assert column(sheet, ACCEPT, n) == [inner[0][1], "-", *(a for _, a in inner[1:]), "-"], book
        assert column(sheet, AGREE, n) == ["-"] * n + [which == "agree"], book  # only the whole word is compared
        assert sheet.cell(FIRST_STEP_ROW + n + 1, AGREE).value in (None, ""), book
        say = lambda b: "accept" if b else "reject"  # noqa: E731
        assert sheet["A6"].value == (
            f"network and automaton agree on the whole word ({len(word)} symbols)" if which == "agree" else
            f"they part at step {n} (symbol {end}): network says {say(network)}, automaton says "
            f"{say(inner[-1][1])} (state {inner[-1][0]})"), book


@settings(max_examples=15, deadline=None)
@given(word=st.lists(st.sampled_from("ab"), max_size=8), ends=st.sampled_from(["both", "start", "end"]))
def test_cached_columns_of_a_framed_word_classifier_are_the_automatons_run_on_the_word(word, ends, tmp_path_factory):
    """As written: the marker rows (one or both) show '-', the others the automaton's run on the word alone, and
    agree the network's accept after the framed word (the compiled grammar's) against the automaton's."""
    folder = tmp_path_factory.mktemp("framed-cached")
    (folder / "framed.toml").write_text(framed_grammar("spaced"))
    (folder / "odd.toml").write_text(odd_length("spaced"))
    framed, automaton = load_grammar(folder / "framed.toml"), load_grammar(folder / "odd.toml")
    markers = {"start_marker": "<s>", "end_marker": "</s>"}
    markers = {k: v for k, v in markers.items() if ends == "both" or k.startswith(ends)}
    model = compile_grammar(framed)
    model = replace(model, extra={**model.extra, "final_only": True, **markers})
    write_workbook(model, folder / "b.xlsx", " ".join(word), steps=10, automaton=automaton)
    sheet = openpyxl.load_workbook(folder / "b.xlsx", data_only=True)["Run"]
    read = ["<s>"] * ("start_marker" in markers) + word + ["</s>"] * ("end_marker" in markers)
    inner = walk(automaton, "".join(word))
    states = [inner[0][0]] + ["-"] * ("start_marker" in markers) + [s for s, _ in inner[1:]] + \
        ["-"] * ("end_marker" in markers)
    assert column(sheet, 2, len(read))[1:] == read
    assert column(sheet, STATE, len(read)) == states
    network = walk(framed, read)[-1][1]
    assert column(sheet, AGREE, len(read)) == ["-"] * len(read) + [network == inner[-1][1]]


def test_verify_report_and_extract_sheet_take_a_framed_word_classifier(tmp_path):
    """The commands that refused these models: the report's input is the inner counterexample, not framed."""
    (tmp_path / "framed.toml").write_text(framed_grammar("spaced"))
    (tmp_path / "odd.toml").write_text(odd_length("spaced"))
    model = compile_grammar(load_grammar(tmp_path / "framed.toml"))
    save_model(replace(model, extra={**model.extra, "final_only": True, "start_marker": "<s>", "end_marker": "</s>"}),
               tmp_path / "m.npz")
    assert main(["verify", str(tmp_path / "m.npz"), "--grammar", str(tmp_path / "odd.toml"), "--max-len", "3",
                 "--report", str(tmp_path / "v.xlsx")]) == 1
    sheet = openpyxl.load_workbook(tmp_path / "v.xlsx", data_only=True)["Run"]
    assert sheet["B2"].value in (None, "")  # the empty word: an even number of a's, and not of odd length
    assert sheet["A6"].value == "they part at step 2 (symbol </s>): network says accept, automaton says reject " \
                                "(state e)"
    assert main(["extract", str(tmp_path / "m.npz"), "-o", str(tmp_path / "x.toml"), "--sheet",
                 str(tmp_path / "x.xlsx")]) == 0
    extracted = load_grammar(tmp_path / "x.toml")
    assert "<s>" not in extracted.alphabet and "</s>" not in extracted.alphabet
    book = openpyxl.load_workbook(tmp_path / "x.xlsx", data_only=True)
    assert book["Run"]["A6"].value.startswith("network and automaton agree on the whole word")
    summary = {r[0]: r for r in book["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert summary["disagreements"][1] == "none among the words searched"  # the words were read framed
    assert "(read as <s> WORD </s>)" in summary["agreement"][1]


# (e) a machine beside a model without out: heads: a machine accepts nothing, so accept says nothing about it. With
# state heads the states are compared; with neither out: nor state heads the workbook is refused in one line.
def test_a_machine_beside_a_model_with_state_heads_compares_states():
    """Reber's network beside a Moore machine of Reber's states whose V from s2 goes to s5 instead of s4."""
    reber = load_grammar("reber")
    moved = tuple((p, a, "s5" if (p, a) == ("s2", "V") else q) for p, a, q in reber.transitions)
    machine = reber.with_changes(name="moved", accept=frozenset(), transitions=moved,
                                 state_outputs=tuple((s, s.upper()) for s in reber.states))
    word = "BPVVE"
    network, automaton = [s for s, _ in walk(reber, word)], [s for s, _ in walk(machine, word)]
    agree = [a == b for a, b in zip(network, automaton)]
    k = agree.index(False)
    assert k == 3 and all(agree[:k])
    with tempfile.TemporaryDirectory() as folder:
        write_workbook(compile_grammar(reber), Path(folder) / "b.xlsx", " ".join(word), steps=6, automaton=machine)
        sheet = openpyxl.load_workbook(Path(folder) / "b.xlsx", data_only=True)["Run"]
    assert column(sheet, STATE, len(word)) == automaton
    assert column(sheet, AGREE, len(word)) == agree
    assert sheet["A6"].value == f"they part at step {k} (symbol V): network says state s4, automaton says state s5"


def test_a_machine_beside_a_model_without_out_or_state_heads_is_refused_in_one_line(tmp_path, capsys):
    from fsm_lstm.model import model_from_arrays
    from tests.test_cells import torch_model
    model = model_from_arrays(torch_model("lstm", 1, seed=0)[1])  # heads: accept, next:a, next:b
    save_model(model, tmp_path / "m.npz")
    assert main(["sheet", str(tmp_path / "m.npz"), "--automaton", "coffee", "-o", str(tmp_path / "b.xlsx")]) == 2
    err = capsys.readouterr().err.strip()
    assert "Moore machine, which accepts nothing" in err and "give an acceptor" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "b.xlsx").exists()


def test_a_report_on_a_network_with_two_outputs_at_once_parts_where_verify_fails(tmp_path, capsys):
    """mqtt compiled, with a head out:EXTRA true wherever out:SUBACK is (half its logit, so never the largest):
    verify fails, and its report's Run sheet must not say the network and the machine agree (its output column
    showed only the largest out: logit's value, SUBACK, the machine's own)."""
    import json

    import numpy as np

    g = load_grammar("mqtt")
    model = compile_grammar(g)
    copied = model.heads.index("out:SUBACK")
    save_model(replace(model, heads=(*model.heads, "out:EXTRA"),
                       head_weight=np.vstack([model.head_weight, model.head_weight[copied] / 2]),
                       head_bias=np.append(model.head_bias, model.head_bias[copied] / 2)), tmp_path / "two.npz")
    assert main(["verify", str(tmp_path / "two.npz"), "--grammar", "mqtt", "--max-len", "3", "--json",
                 "--report", str(tmp_path / "two.xlsx")]) == 1
    found = json.loads(capsys.readouterr().out)["counterexample"]
    n = found["length"]
    assert found["head"] == "out:EXTRA" and found["actual"] and n > 0
    sheet = openpyxl.load_workbook(tmp_path / "two.xlsx", data_only=True)["Run"]
    assert column(sheet, AGREE, n)[-1] is False
    assert sheet["A6"].value.startswith(f"they part at step {n}")
    assert sheet.cell(FIRST_STEP_ROW + n, 6).value == "SUBACK (+1 more)"
    # the machine itself: the sentence names what agree compared
    write_workbook(model, tmp_path / "right.xlsx", "connect", steps=4, automaton=g)
    sentence = openpyxl.load_workbook(tmp_path / "right.xlsx", data_only=True)["Run"]["A6"].value
    assert sentence == "network and automaton agree on the output after every prefix (1 symbol)"


def test_an_automaton_over_other_symbols_is_warned_of(tmp_path, capsys):
    """It was accepted without a word: every row of the Run sheet then read '(none)' for the automaton."""
    save_model(compile_grammar(load_grammar("tomita3")), tmp_path / "t3.npz")
    assert main(["sheet", str(tmp_path / "t3.npz"), "-o", str(tmp_path / "a.xlsx"), "--automaton", "reber"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "read different symbols: only the model's '0', '1'" in err[0]
    assert "only the automaton's 'B', 'T', 'P', 'S', 'X' ..." in err[0]
    assert main(["sheet", str(tmp_path / "t3.npz"), "-o", str(tmp_path / "b.xlsx"), "--automaton", "tomita4"]) == 0
    assert capsys.readouterr().err == ""


def test_a_nonempty_reading_compares_nothing_on_the_empty_word(tmp_path):
    """meta.nonempty: the empty prefix's agree cell is "-" (per prefix), and a word classifier's empty word is not
    compared; as written and after LibreOffice recalculates with the word typed in. Without it, the network
    (compiled from 'an even number of a, but not the empty word') parts from the automaton ('an even number of a')
    at step 0."""
    from tests.test_nonempty import EVEN, EVEN_NONEMPTY
    model = compile_grammar(EVEN_NONEMPTY)
    cases = {"prefix": ({"nonempty": True}, "ab", ["-", True, True]), "prefix-empty": ({"nonempty": True}, "", ["-"]),
             "word": ({"nonempty": True, "final_only": True}, "ab", ["-", "-", True]),
             "word-empty": ({"nonempty": True, "final_only": True}, "", ["-"]),
             "plain": ({}, "", [False])}
    names = []
    for name, (meta, word, _) in cases.items():
        write_workbook(replace(model, extra={**model.extra, **meta}), tmp_path / f"{name}.xlsx", word, steps=4,
                       automaton=EVEN)
        cached = openpyxl.load_workbook(tmp_path / f"{name}.xlsx", data_only=True)["Run"]
        assert column(cached, AGREE, len(word)) == cases[name][2], name
        typed = openpyxl.load_workbook(tmp_path / f"{name}.xlsx")
        typed["Run"]["B2"] = word or None
        typed.save(tmp_path / f"typed-{name}.xlsx")
        names.append(f"typed-{name}.xlsx")
    lo = recalculate([tmp_path / n for n in names], tmp_path / "lo")
    for (name, (_, word, want)), book in zip(cases.items(), lo):
        ws = openpyxl.load_workbook(book, data_only=True)["Run"]
        assert column(ws, AGREE, len(word)) == want, name
        sentence = ws["A6"].value
        if name.endswith("empty"):
            assert sentence == "the empty word is not judged (--nonempty)", sentence
        else:
            assert sentence.startswith("network and automaton agree") == (name != "plain"), sentence
        assert sentence == openpyxl.load_workbook(tmp_path / f"{name}.xlsx", data_only=True)["Run"]["A6"].value


def test_every_header_of_the_run_sheet_fits_its_row(tmp_path):
    """A wrapped header ('automaton accept' in a column 10 wide) needs two lines; bottom-aligned in a one-line row,
    it grew up into the legend above (characters per unit of width as LibreOffice prints bold text: 1.16)."""
    model = compile_grammar(load_grammar("tomita3"))
    write_workbook(model, tmp_path / "b.xlsx", "01", steps=4, automaton=load_grammar("tomita3"))
    ws = openpyxl.load_workbook(tmp_path / "b.xlsx")["Run"]
    headers = [cell for cell in ws[7] if isinstance(cell.value, str) and cell.value]
    assert "automaton accept" in [cell.value for cell in headers]
    for cell in headers:
        width = ws.column_dimensions[cell.column_letter].width
        lines = len(textwrap.wrap(cell.value, int(1.16 * width)))
        assert (ws.row_dimensions[7].height or 15) >= 13 * lines, cell.value


def test_long_state_names_and_outputs_fit_their_columns(tmp_path):
    """TLS-learning names ('waiting_for_client_hello_message') were cut at both ends of centred cells 18 wide. A
    column's width is counted in characters (the width of '0' in the default font): it must hold the longest."""

    name, outputs = "waiting_for_client_hello_message", ("ServerHello+Certificate+Done", "ConnectionClosedException")
    g = Grammar(name="tls", start=name, accept=frozenset(), alphabet=("ClientHelloRSA", "ApplicationData"),
                states=(name, "handshake_in_progress"),
                transitions=((name, "ClientHelloRSA", "handshake_in_progress"), (name, "ApplicationData", name),
                             ("handshake_in_progress", "ClientHelloRSA", name),
                             ("handshake_in_progress", "ApplicationData", "handshake_in_progress")),
                edge_outputs=(((name, "ClientHelloRSA", "handshake_in_progress"), outputs[0]),
                              ((name, "ApplicationData", name), outputs[1]),
                              (("handshake_in_progress", "ClientHelloRSA", name), outputs[1]),
                              (("handshake_in_progress", "ApplicationData", "handshake_in_progress"), outputs[0])))
    write_workbook(compile_grammar(g), tmp_path / "t.xlsx", "ClientHelloRSA", steps=4, automaton=g)
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx")["Run"]
    headers = {cell.value: cell.column_letter for cell in ws[7] if cell.value}
    for header, longest in (("state", name), ("automaton state", name), ("output", outputs[0]),
                            ("automaton output", outputs[0]), ("automaton next", "ClientHelloRSA ApplicationData")):
        assert ws.column_dimensions[headers[header]].width >= len(longest), header
