"""Workbooks as a person uses them: values shown without recalculation, text input, charts, printed pages, and
the decoded output of Mealy and Moore models; every engine (LibreOffice, Gnumeric) recomputes them."""

from __future__ import annotations

import copy
import dataclasses
import html.parser
import itertools
import re
import subprocess
import warnings
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from fsm_lstm.cli import main
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.gnumeric import recalculate_gnumeric
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.libreoffice import pdf_pages, recalculate, to_html, to_pdf
from fsm_lstm.model import Model
from fsm_lstm.sheet_layout import FIRST_STEP_ROW, trace_layout
from fsm_lstm.sheets import write_workbook
from fsm_lstm.model import model_from_arrays
from tests.test_cells import torch_model
from tests.test_sheets import random_model
from tests.oracle import accepts
from tests.workbooks import compare, error_cells, libreoffice_values

TOLERANCE = 1e-9
OUTPUT_WORD = "1101001"


def pandas_values(path) -> dict:
    """Sheet -> (row, column) -> value, as pandas reads the file (no recalculation)."""
    frames = pd.read_excel(path, sheet_name=["Trace", "Run"], header=None)
    return {name: {(r + 1, c + 1): (None if pd.isna(v) else v) for (r, c), v in np.ndenumerate(frame.to_numpy())}
            for name, frame in frames.items()}


@pytest.mark.parametrize("kind", ["cli", "gru", "rnn", "random"])
def test_cached_values_read_by_openpyxl_and_pandas_equal_the_runtime(kind, tmp_path):
    """Straight from the writer: previews and pandas.read_excel see the runtime's trace."""
    path = tmp_path / f"{kind}.xlsx"
    if kind == "cli":
        assert main(["sheet", "reber", "-o", str(path), "--input", "BTSSXXTVVE"]) == 0
        model, word = compile_grammar(load_grammar("reber")), tuple("BTSSXXTVVE")
    else:
        model = random_model() if kind == "random" else model_from_arrays(torch_model(kind, 2)[1])
        word = tuple("abcabbca" * 3)
        write_workbook(model, path, "".join(word), steps=30)
    assert error_cells(path) == []
    assert compare(libreoffice_values(path), model, word) < TOLERANCE
    assert compare(pandas_values(path), model, word) < TOLERANCE


def poisoned(path: Path, out: Path) -> Path:
    """A copy whose cached Trace numbers are all 7: an engine that merely kept them would fail the comparison."""
    with zipfile.ZipFile(path) as z:
        entries = [(info.filename, z.read(info)) for info in z.infolist()]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            if name == "xl/worksheets/sheet3.xml":
                data, count = re.subn(rb"(</f>)<v>-?\d[0-9.eE+-]*</v>", rb"\1<v>7</v>", data)
                assert count > 100
            z.writestr(name, data)
    return out


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    """The workbooks below, recalculated in one LibreOffice run and by Gnumeric: name -> (written, LibreOffice's,
    Gnumeric's)."""
    src = tmp_path_factory.mktemp("use")
    reber = compile_grammar(load_grammar("reber"))
    write_workbook(reber, src / "r.xlsx", "BPVVE", steps=8)
    poisoned(src / "r.xlsx", src / "poisoned.xlsx")
    write_workbook(compile_grammar(load_grammar("tomita3")), src / "typed.xlsx", "1", steps=6)
    wb = openpyxl.load_workbook(src / "typed.xlsx")
    assert wb["Run"]["B2"].number_format == "@"
    wb["Run"]["B2"] = "0110"  # typed as text: the string 0110
    wb.save(src / "typed.xlsx")
    write_workbook(reber, src / "charts.xlsx", "BTXSE", steps=10)
    parity = compile_grammar(load_grammar("parity"))
    for scattered in (False, True):
        write_workbook(with_outputs(parity, scattered), src / f"outputs-{scattered}.xlsx", OUTPUT_WORD, steps=10)
    for scattered in (False, True):
        write_workbook(two_outputs(parity, scattered), src / f"outputs-two-{scattered}.xlsx", OUTPUT_WORD, steps=10)
    names = ["poisoned.xlsx", "typed.xlsx", "charts.xlsx", "outputs-False.xlsx", "outputs-True.xlsx",
             "outputs-two-False.xlsx", "outputs-two-True.xlsx"]
    lo = recalculate([src / n for n in names], tmp_path_factory.mktemp("use-lo"))
    gn = recalculate_gnumeric([src / n for n in names if n != "charts.xlsx"], tmp_path_factory.mktemp("use-gn"))
    return {n: (src / n, lo[k], next((p for p in gn if p.name == n), None)) for k, n in enumerate(names)}


def test_both_engines_recompute_rather_than_keep_cached_values(engines):
    model = compile_grammar(load_grammar("reber"))
    written, *recalculated = engines["poisoned.xlsx"]
    assert compare(libreoffice_values(written), model, tuple("BPVVE")) > 1  # the poison is there
    for out in recalculated:
        assert compare(libreoffice_values(out), model, tuple("BPVVE")) < TOLERANCE, out.parent.name


def test_typing_0110_as_text_gives_the_trace_of_0110(engines):
    """The input cell is text-formatted, so '0110' keeps its leading zero in every engine."""
    model = compile_grammar(load_grammar("tomita3"))
    for out in engines["typed.xlsx"][1:]:
        values = libreoffice_values(out)
        assert values["Run"][(2, 6)] == 4, out.parent.name  # four symbols, not the number 110
        assert compare(values, model, tuple("0110")) < TOLERANCE, out.parent.name


def chart_refs(path: Path) -> list[set[str]]:
    """The ranges each chart's series plot, per chart file (quotes and sheet-name spellings normalised)."""
    with zipfile.ZipFile(path) as z:
        names = sorted(n for n in z.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n))
        return [{ref.replace("'", "").replace("$", "") for ref in
                 re.findall(r"<c:val>\s*<c:numRef>\s*<c:f>([^<]+)</c:f>", z.read(n).decode())} for n in names]


def test_charts_plot_the_trace_and_survive_a_libreoffice_round_trip(engines):
    model = compile_grammar(load_grammar("reber"))
    path, back, _ = engines["charts.xlsx"]
    lay = trace_layout(model)
    column = lambda c: f"Trace!{openpyxl.utils.get_column_letter(c)}{FIRST_STEP_ROW}:"  # noqa: E731
    want = [{column(c) + f"{openpyxl.utils.get_column_letter(c)}{FIRST_STEP_ROW + 10}" for c in range(lo, hi + 1)}
            for lo, hi in (lay.layers[0]["h"], lay.layers[0]["c"], lay.heads)]
    want[2].add(column(lay.zero) + f"{openpyxl.utils.get_column_letter(lay.zero)}{FIRST_STEP_ROW + 10}")
    with zipfile.ZipFile(path) as z:
        drawing = z.read("xl/drawings/drawing1.xml").decode()
        assert drawing.count("<c:chart ") == 3
        assert all("<c:lineChart>" in z.read(f"xl/charts/chart{k}.xml").decode() for k in (1, 2, 3))
    assert sorted(map(sorted, chart_refs(path))) == sorted(map(sorted, want))
    assert sorted(map(sorted, chart_refs(back))) == sorted(map(sorted, want))


def test_a_chart_of_more_lines_than_the_format_holds_keeps_its_threshold(tmp_path):
    """A chart holds at most 255 series: with 300 heads the threshold line was dropped (and xlsxwriter warned on
    stderr); now the chart plots the first 254 heads and the threshold, and its title says so."""
    small = random_model(1)
    heads = tuple(f"out:{k}" for k in range(300))
    model = dataclasses.replace(small, heads=heads, head_weight=np.ones((300, 4), np.float32),
                                head_bias=np.zeros(300, np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_workbook(model, tmp_path / "many.xlsx", "abc", steps=3)
    lay = trace_layout(model)
    zero = f"Trace!{openpyxl.utils.get_column_letter(lay.zero)}{FIRST_STEP_ROW}:"
    refs = chart_refs(tmp_path / "many.xlsx")
    head_chart = [r for r in refs if any(ref.startswith(zero) for ref in r)]
    assert len(head_chart) == 1 and len(head_chart[0]) == 255
    with zipfile.ZipFile(tmp_path / "many.xlsx") as z:
        titles = " ".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/"))
    assert "the first 254 of 300" in titles


def only_sheet(path: Path, keep: str, out: Path) -> Path:
    """A copy in which every sheet but ``keep`` is hidden (hidden sheets are not printed)."""
    with zipfile.ZipFile(path) as z:
        entries = [(info.filename, z.read(info)) for info in z.infolist()]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            if name == "xl/workbook.xml":
                data = re.sub(rb'<sheet name="(?!' + keep.encode() + rb'")', rb'<sheet state="hidden" name="', data)
            z.writestr(name, data)
    return out


def test_printed_pages_of_the_reber_workbook(tmp_path):
    """Through LibreOffice's PDF export: the 30-step Run sheet on 1 page, the whole workbook on at most 7 (the
    heads' table of weights begins a page of its own)."""
    assert main(["sheet", "reber", "-o", str(tmp_path / "reber.xlsx")]) == 0
    assert openpyxl.load_workbook(tmp_path / "reber.xlsx")["Trace"].max_row == FIRST_STEP_ROW + 30
    run_only = only_sheet(tmp_path / "reber.xlsx", "Run", tmp_path / "run.xlsx")
    whole, run = to_pdf([tmp_path / "reber.xlsx", run_only], tmp_path / "pdf")
    assert pdf_pages(run) == 1
    assert 6 <= pdf_pages(whole) <= 7  # one page at least for each of Run, Guide, Trace, Grammar, Weights' 2 tables


class _Tables(html.parser.HTMLParser):
    """The tables of an HTML page as rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag == "td":
            self._cell = []
            span = int(dict(attrs).get("colspan") or 1)
            self.tables[-1][-1].extend([""] * (span - 1))  # a merged cell's other columns, empty

    def handle_endtag(self, tag) -> None:
        if tag == "td" and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data) -> None:
        if self._cell is not None:
            self._cell.append(data)


def shown_run_rows(path: Path, out: Path, recalculated: bool) -> list[list[str]]:
    """The Run sheet's step table as LibreOffice shows it (number formats applied), recalculated or as the file
    caches it: the header row, then one row per step, columns t, symbol, state, accept, next, output."""
    parser = _Tables()
    parser.feed(to_html([path], out, recalculated=recalculated)[0].read_text(errors="replace"))
    run = parser.tables[0]
    header = next(k for k, row in enumerate(run) if row[:2] == ["t", "symbol"])
    return [(row + [""] * 6)[:6] for row in run[header:]]


def test_run_sheet_shows_only_the_columns_the_heads_fill_as_libreoffice_shows_them(tmp_path):
    """Through LibreOffice's HTML export, cells as a person sees them, both as LibreOffice opens the file (its
    cached values: accept read 1 and 0) and recalculated: accept reads TRUE or FALSE, a column no head fills is
    empty on every row (a Mealy machine's accept and next read '-'), and every answer is blank past the end of the
    input. The expected answers come from the grammars."""
    mqtt = load_grammar("grammars/machines/mqtt.toml")
    tomita3 = load_grammar("tomita3")
    full = compile_grammar(tomita3)
    acc = full.heads.index("accept")
    accept_only = dataclasses.replace(full, heads=("accept",), head_weight=full.head_weight[[acc]],
                                      head_bias=full.head_bias[[acc]])
    said = {(p, a): (q, o) for (p, a, q), o in mqtt.edge_outputs}  # the Mealy machine's own table
    cases = [("mqtt", compile_grammar(mqtt), ("connect", "subscribe", "publish"), ("state", "output")),
             ("tomita3", full, tuple("1101"), ("state", "accept", "next")),
             ("accept_only", accept_only, tuple("1101"), ("accept",))]
    for (name, model, word, kinds), recalculated in itertools.product(cases, (False, True)):
        book = tmp_path / f"{name}.xlsx"
        write_workbook(model, book, " ".join(word), steps=6)
        rows = shown_run_rows(book, tmp_path / f"html{recalculated}", recalculated)
        columns = ("t", "symbol", "state", "accept", "next", "output")
        assert rows[0] == [c if c in ("t", "symbol", *kinds) else "" for c in columns], (name, rows[0])
        for t, row in enumerate(rows[1:8]):
            assert row[0] == str(t), (name, row)
            empty = [c for c, key in enumerate(columns) if c > 1 and (key not in kinds or t > len(word))]
            assert all(row[c] == "" for c in empty), (name, t, row)
            if t <= len(word) and "accept" in kinds:
                assert row[3] == ("TRUE" if accepts(tomita3, word[:t]) else "FALSE"), (name, t, row)
        if name == "mqtt":
            state, want = mqtt.start, [[mqtt.start, "(none)"]]  # state and output after each prefix
            for a in word:
                state, out = said[state, a]
                want.append([state, out])
            assert [r[2:6:3] for r in rows[1:len(word) + 2]] == want, rows


def accepted(g, word) -> bool:
    """The grammar's own semantics: some run of the automaton on ``word`` ends in an accepting state."""
    states = {g.start}
    for a in word:
        states = {q for s in states for b, q in g.out_edges[s] if b == a}
    return bool(states & g.accept)


def with_outputs(model: Model, scattered: bool) -> Model:
    """Parity with two output heads built by hand: out:odd copies the accept head (true exactly on accepted
    prefixes), out:never is the same head pushed down by 100 (never true, and never the largest). out:odd comes
    second, so the decoded column must find the second of its heads."""
    acc = model.heads.index("accept")
    rows, bias = model.head_weight[[acc, acc]], model.head_bias[[acc, acc]] - np.array([100, 0], np.float32)
    if scattered:  # one output head first, one last: the decoded column cannot use one block of columns
        fields = dict(head_weight=np.vstack([rows[:1], model.head_weight, rows[1:]]),
                      head_bias=np.concatenate([bias[:1], model.head_bias, bias[1:]]),
                      heads=("out:never", *model.heads, "out:odd"))
    else:
        fields = dict(head_weight=np.vstack([model.head_weight, rows]),
                      head_bias=np.concatenate([model.head_bias, bias]), heads=(*model.heads, "out:never", "out:odd"))
    out = copy.copy(model)  # set directly: out: labels are not yet in the model format's validator (issue 13)
    for key, value in fields.items():
        object.__setattr__(out, key, value)
    return out


def two_outputs(model: Model, scattered: bool) -> Model:
    """Parity with out:odd (the accept head) and out:twice (the accept head doubled: true on the same prefixes,
    with the larger logit): after an accepted prefix two outputs are true at once, which no machine gives.
    ``scattered``: out:odd first and out:twice last, so the formula cannot count over one block of columns."""
    acc = model.heads.index("accept")
    w, b = model.head_weight[[acc]], model.head_bias[[acc]]
    if scattered:
        fields = dict(head_weight=np.vstack([w, model.head_weight, 2 * w]),
                      head_bias=np.concatenate([b, model.head_bias, 2 * b]),
                      heads=("out:odd", *model.heads, "out:twice"))
    else:
        fields = dict(head_weight=np.vstack([model.head_weight, w, 2 * w]),
                      head_bias=np.concatenate([model.head_bias, b, 2 * b]),
                      heads=(*model.heads, "out:odd", "out:twice"))
    out = copy.copy(model)
    for key, value in fields.items():
        object.__setattr__(out, key, value)
    return out


@pytest.mark.parametrize("scattered", [False, True])
def test_two_true_output_heads_are_counted_in_every_engine(scattered, engines):
    """The output column says how many other out: heads are true beside the largest: it showed only the largest,
    so a Run sheet beside a machine said "agree" where verify, which judges every head, failed."""
    g = load_grammar("parity")
    model = two_outputs(compile_grammar(g), scattered)
    word = tuple(OUTPUT_WORD)
    want = ["twice (+1 more)" if accepted(g, word[:t]) else "(none)" for t in range(len(word) + 1)]
    for out in engines[f"outputs-two-{scattered}.xlsx"]:
        values = libreoffice_values(out)
        assert [values["Run"][(FIRST_STEP_ROW + t, 6)] for t in range(len(word) + 1)] == want, out
        assert compare(values, model, word) < TOLERANCE


@pytest.mark.parametrize("scattered", [False, True])
def test_output_heads_give_a_decoded_output_column(scattered, engines):
    g = load_grammar("parity")
    model = with_outputs(compile_grammar(g), scattered)
    word = tuple(OUTPUT_WORD)
    path = engines[f"outputs-{scattered}.xlsx"][0]
    wb = openpyxl.load_workbook(path)
    assert wb.defined_names["output"].attr_text == "Run!$F$8:$F$18"
    assert wb["Run"]["F7"].value == "output"
    want = ["odd" if accepted(g, word[:t]) else "(none)" for t in range(len(word) + 1)]
    assert want.count("odd") == 4  # the prefixes 1, 1101, 11010, 110100
    for out in engines[f"outputs-{scattered}.xlsx"]:
        values = libreoffice_values(out)
        assert [values["Run"][(FIRST_STEP_ROW + t, 6)] for t in range(len(word) + 1)] == want, out
        assert compare(values, model, word) < TOLERANCE


def test_trained_models_are_labelled_by_unit_number_and_the_guide_says_where_states_come_from(tmp_path):
    base = model_from_arrays(torch_model("lstm", 1)[1])
    model = Model(layers=base.layers, head_weight=base.head_weight, head_bias=base.head_bias,
                  alphabet=base.alphabet, heads=base.heads, units=base.units, extra={"trained": {"grammar": "x"}})
    path = tmp_path / "trained.xlsx"
    write_workbook(model, path, "abca", steps=6)
    wb = openpyxl.load_workbook(path)
    lay = trace_layout(model)
    h0, h1 = lay.layers[0]["h"]
    assert [wb["Trace"].cell(7, c).value for c in range(h0, h1 + 1)] == [f"unit {u}" for u in range(5)]
    guide = " ".join(str(c.value) for row in wb["Guide"].iter_rows() for c in row if c.value)
    assert "was trained" in guide and "fsm-lstm extract" in guide
    assert compare(libreoffice_values(path), model, tuple("abca")) < TOLERANCE


def test_the_grammar_picture_is_inserted_with_graphviz_and_explained_without(tmp_path, monkeypatch):
    model = compile_grammar(load_grammar("reber"))
    write_workbook(model, tmp_path / "with.xlsx", "BTXSE", steps=6)
    with zipfile.ZipFile(tmp_path / "with.xlsx") as z:
        media = [n for n in z.namelist() if n.startswith("xl/media/")]
        assert len(media) == 1 and z.read(media[0]).startswith(b"\x89PNG")
    monkeypatch.setattr("fsm_lstm.sheet_text.shutil.which", lambda name: None)
    write_workbook(model, tmp_path / "without.xlsx", "BTXSE", steps=6)
    with zipfile.ZipFile(tmp_path / "without.xlsx") as z:
        assert not [n for n in z.namelist() if n.startswith("xl/media/")]
    texts = [c.value for row in openpyxl.load_workbook(tmp_path / "without.xlsx")["Grammar"].iter_rows() for c in row]
    assert any(isinstance(t, str) and "Install Graphviz" in t for t in texts)


def _grammar_notes(path) -> list[str]:
    return [c.value for row in openpyxl.load_workbook(path)["Grammar"].iter_rows() for c in row
            if isinstance(c.value, str)]


def test_a_grammar_graphviz_cannot_draw_in_time_gets_a_note_not_an_error(tmp_path, monkeypatch):
    """A 110-state AALpy DFA (440 edges) kept Graphviz busy for over 300 s: its timeout gave an internal error."""
    def too_slow(cmd, **kw):
        raise subprocess.TimeoutExpired(cmd, kw.get("timeout"))
    monkeypatch.setattr("fsm_lstm.sheet_text.subprocess.run", too_slow)
    model = compile_grammar(load_grammar("reber"))
    write_workbook(model, tmp_path / "slow.xlsx", "BTXSE", steps=6)
    with zipfile.ZipFile(tmp_path / "slow.xlsx") as z:
        assert not [n for n in z.namelist() if n.startswith("xl/media/")]
    assert any("did not draw the grammar within" in t for t in _grammar_notes(tmp_path / "slow.xlsx"))


def test_a_grammar_with_too_many_edges_is_not_drawn(tmp_path, monkeypatch):
    def never(*args, **kw):
        raise AssertionError("Graphviz was run")
    monkeypatch.setattr("fsm_lstm.sheet_text.subprocess.run", never)
    monkeypatch.setattr("fsm_lstm.sheet_text.PICTURE_EDGES", 11)  # Reber has 12 edges
    write_workbook(compile_grammar(load_grammar("reber")), tmp_path / "big.xlsx", "BTXSE", steps=6)
    assert any("12 edges are too many to draw here (at most 11)" in t and "fsm-lstm draw" in t
               for t in _grammar_notes(tmp_path / "big.xlsx"))


def test_the_guide_describes_the_run_columns_each_kind_of_model_has(tmp_path):
    """The Guide named the state, accept and next columns for every model, a Mealy machine and a word classifier
    included, whose Run sheets leave some of them empty. Here each model's heads say which columns it fills."""
    full = compile_grammar(load_grammar("tomita3"))

    def keeping(keep) -> Model:
        rows = [k for k, h in enumerate(full.heads) if keep(h)]
        return dataclasses.replace(full, heads=tuple(full.heads[k] for k in rows), head_weight=full.head_weight[rows],
                                   head_bias=full.head_bias[rows])

    models = {"full": full, "accept": keeping(lambda h: h == "accept"),
              "accept_next": keeping(lambda h: not h.startswith("state:")),
              "next": keeping(lambda h: h.startswith("next:")),
              "mealy": compile_grammar(load_grammar("grammars/machines/mqtt.toml"))}
    for name, model in models.items():
        write_workbook(model, tmp_path / f"{name}.xlsx", "", steps=3)
        guide = " ".join(str(c.value) for row in openpyxl.load_workbook(tmp_path / f"{name}.xlsx")["Guide"].iter_rows()
                         for c in row if c.value)
        kinds = {"output" if h.startswith("out:") else h.partition(":")[0] for h in model.heads}
        for kind, description in (("state", "state: the states"), ("accept", "accept: TRUE when"),
                                  ("next", "next: the symbols"), ("output", "output: the machine's output")):
            assert (description in guide) == (kind in kinds), (name, kind)
        empty = [k for k in ("state", "accept", "next") if k not in kinds]
        if empty:
            said = re.search(r"The ([a-z, ]+?) columns? stays? empty", guide)
            assert said is not None and re.split(r", | and ", said.group(1)) == empty, (name, guide)
        else:
            assert "stay empty" not in guide and "stays empty" not in guide, name
        assert ("accepted, rejected" in guide) == ("accept" in kinds), name
        assert ("the output after the last symbol" in guide) == ("output" in kinds), name
        if "state" in kinds:  # a machine's string leaves the machine (it said "the grammar")
            place = "machine" if "output" in kinds else "grammar"
            assert f"leaves the {place}" in guide and f"left the {place}" in guide, (name, guide)
