"""A word is typed the same way to every command (run, sheet --input, extract --words): without separators when
every symbol of the word is one character, space-separated otherwise, a word classifier's markers optional."""

from __future__ import annotations

import os
import textwrap
from dataclasses import replace

import numpy as np
import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsm_lstm.cli import main
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.errors import UserError
from fsm_lstm.grammar import Grammar
from fsm_lstm.libreoffice import recalculate
from fsm_lstm.model import Layer, Model, save_model
from fsm_lstm.reading import Reading
from fsm_lstm.sheet_layout import FIRST_STEP_ROW
from fsm_lstm.sheets import write_workbook
from fsm_lstm.words import parse_word, read_words
from tests.oracle import accepts

FRAMED = ("<s>", "a", "b", "</s>")
WORD_LEVEL = Reading(True, "<s>", "</s>")


@given(st.lists(st.sampled_from("ab"), max_size=12))
def test_a_word_over_one_character_symbols_reads_alike_unspaced_spaced_and_framed(word):
    expected = tuple(word)
    spaced = " ".join(word)
    for text in ("".join(word), spaced, f"<s> {spaced} </s>".replace("  ", " "), f"{spaced} </s>".strip()):
        assert WORD_LEVEL.parse(text, FRAMED) == expected
    assert Reading().parse("".join(word), ("a", "b")) == expected  # no markers: the alphabet's own rule


def test_markers_are_recognised_as_symbols_of_their_own_not_inside_a_word():
    """One-character markers, as ``^`` and ``$``, may be written unspaced; a marker spelled with the word's own
    characters ("10", "11") is one only as a separate symbol, so ``110`` is the word 1 1 0."""
    carets = Reading(True, "^", "$")
    assert carets.parse("^0110$", ("^", "0", "1", "$")) == carets.parse("0110", ("^", "0", "1", "$")) == tuple("0110")
    digits = Reading(True, "10", "11")
    alphabet = ("10", "0", "1", "11")
    assert digits.parse("110", alphabet) == ("1", "1", "0")
    assert digits.parse("10 1 1 0 11", alphabet) == ("1", "1", "0")


def test_multi_character_symbols_need_spaces():
    assert Reading().parse("push pop", ("push", "pop")) == ("push", "pop")
    with pytest.raises(UserError, match="unknown symbol 'pushpop'"):
        Reading().parse("pushpop", ("push", "pop"))


def test_a_words_file_reads_each_line_as_the_command_line_does(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("abb\n# a comment\n\n<s> a b </s>\nb a\n")
    assert read_words(path, lambda text: WORD_LEVEL.parse(text, FRAMED)) == [("a", "b", "b"), ("a", "b"), ("b", "a")]
    path.write_text("ab\nabc\n")
    with pytest.raises(UserError, match=r"words.txt, line 2: unknown symbol 'c' at position 3 of 'abc'"):
        read_words(path, lambda text: parse_word(text, ("a", "b")))


def test_a_line_starting_with_hash_is_a_word_when_the_alphabet_has_that_symbol(tmp_path):
    """'#' as a symbol (an end marker, say): its words were skipped as comments."""
    path = tmp_path / "words.txt"
    path.write_text("# a comment\n# a #\n#\na #\n")
    assert read_words(path, lambda text: parse_word(text, ("a", "#"))) == [("#", "a", "#"), ("#",), ("a", "#")]
    with pytest.raises(UserError, match=r"words.txt, line 4: unknown symbol '#'"):  # lines 1-3 are comments there
        read_words(path, lambda text: parse_word(text, ("a", "b")))


def test_sheet_takes_a_word_classifiers_input_unspaced_as_run_does(tmp_path, capsys):
    """`run m.npz aba` worked while `sheet m.npz --input aba` said "unknown symbol 'aba'"."""
    framed = Grammar(name="framed", start="begin", accept=frozenset({"yes"}), alphabet=FRAMED,
                     states=("begin", "e", "o", "yes", "no"),
                     transitions=(("begin", "<s>", "e"), ("e", "a", "o"), ("e", "b", "e"), ("o", "a", "e"),
                                  ("o", "b", "o"), ("e", "</s>", "yes"), ("o", "</s>", "no"), ("no", "<s>", "yes")))
    model = compile_grammar(framed)
    save_model(replace(model, extra={**model.extra, "final_only": True, "start_marker": "<s>", "end_marker": "</s>"}),
               tmp_path / "m.npz")
    assert main(["run", str(tmp_path / "m.npz"), "aba", "--json"]) == 0
    assert '"word": "aba", "read": "<s> a b a </s>"' in capsys.readouterr().out  # the word as typed
    assert main(["sheet", str(tmp_path / "m.npz"), "-o", str(tmp_path / "b.xlsx"), "--input", "aba"]) == 0
    assert openpyxl.load_workbook(tmp_path / "b.xlsx")["Run"]["B2"].value == "aba"  # as a person types it


def test_a_words_file_that_is_a_pipe_or_device_is_refused_before_it_is_opened(tmp_path, capsys):
    """A FIFO with no writer hung `extract --words` forever, and one with a writer was read past the size limit
    (its size is 0 to stat); a device such as /dev/zero never ends."""
    fifo = tmp_path / "words.fifo"
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero", tmp_path):
        with pytest.raises(UserError, match=r"is (not a regular file \(a pipe or device\?\)|a folder); give a words"):
            read_words(path, lambda text: parse_word(text, ("a", "b")))
    model = tmp_path / "m.npz"
    assert main(["compile", "tomita3", "-o", str(model)]) == 0
    capsys.readouterr()
    assert main(["extract", str(model), "--words", str(fifo), "-o", str(tmp_path / "x.toml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a regular file" in err


def test_a_byte_order_mark_is_not_a_symbol(tmp_path):
    path = tmp_path / "words.txt"
    path.write_bytes("\ufeffab\nba\n".encode())
    assert read_words(path, lambda text: parse_word(text, ("a", "b"))) == [("a", "b"), ("b", "a")]


@pytest.mark.parametrize("text", ["<s> aab </s>", "<s>aab</s>", "<s>aab", "aab</s>", " <s> a ab</s> "])
def test_markers_of_several_characters_may_frame_an_unspaced_word(text):
    """`run m.npz "<s> aab </s>"` said "unknown symbol 'aab'" on a word classifier whose inner symbols are one
    character each."""
    assert WORD_LEVEL.parse(text, FRAMED) == ("a", "a", "b")


@pytest.mark.parametrize("text, marker", [("</s> <s>", "</s>"), ("a</s>b", "</s>"), ("a <s> b", "<s>"),
                                          ("<s><s>ab", "<s>"), ("ab</s> </s>", "</s>"), ("<s> <s>ab", "<s>"),
                                          ("<s>ab</s> </s>", "</s>")])
def test_a_marker_out_of_place_is_refused_with_the_framing(text, marker):
    """A marker typed twice, once apart and once attached ('<s> <s>ab'), was read as one: the network reads
    '<s> <s> a b </s>' otherwise than '<s> a b </s>'."""
    with pytest.raises(UserError, match=f"the marker '{marker}' is out of place in .*; markers frame a word "
                                        r"\(<s> WORD </s>\), once each, and may be left out"):
        WORD_LEVEL.parse(text, FRAMED)


def _classifier(alphabet: tuple[str, ...], start: str, end: str) -> Model:
    """A small random LSTM word classifier over ``alphabet`` framed by ``start`` and ``end``."""
    rng = np.random.default_rng(len(alphabet))
    H, K = 3, len(alphabet)
    layer = Layer(*(rng.normal(size=s).astype(np.float32) for s in ((4 * H, K), (4 * H, H), (4 * H,), (4 * H,))))
    return Model(layers=(layer,), head_weight=rng.normal(size=(1, H)).astype(np.float32),
                 head_bias=np.zeros(1, np.float32), alphabet=alphabet, heads=("accept",),
                 extra={"final_only": True, "start_marker": start, "end_marker": end})


# (alphabet, start, end, what is typed into Run!B2): the workbook must read what `run` reads (a review found the
# sheet stripping marker text from inside symbols: '2 11' with markers 0 and 1 was read 0 2 1 1)
TYPED = [(("0", "11", "2", "1"), "0", "1", "2 11"), (("0", "11", "2", "1"), "0", "1", "0 11 1"),
         (("10", "1", "0", "11"), "10", "11", "1011"), (("10", "1", "0", "11"), "10", "11", "10 101 11"),
         (("^", "a", "b", "</s>"), "^", "</s>", "a a b"), (("^", "a", "b", "</s>"), "^", "</s>", "^ a b </s>"),
         (("<s>", "a", "b", "</s>"), "<s>", "</s>", " <s>aab</s> "), (("<s>", "a", "b", "</s>"), "<s>", "</s>", "<s>"),
         (("^", "0", "1", "$"), "^", "$", "^01$"), (("^", "0", "1", "$"), "^", "$", "0 1"),
         (("<s>", "push", "pop", "</s>"), "<s>", "</s>", "<s> push pop </s>")]
INSIDE = [(("^", "0", "1", "$"), "^", "$", "^^01"), (("<s>", "push", "pop", "</s>"), "<s>", "</s>", "<s> <s> pop"),
          (("<s>", "push", "pop", "</s>"), "<s>", "</s>", "<s> push <s> " + "pop " * 9)]  # longer than the sheet too


@pytest.fixture(scope="module")
def typed_books(tmp_path_factory):
    """Each case's workbook with the text typed into Run!B2, recalculated by LibreOffice."""
    src = tmp_path_factory.mktemp("typed")
    paths = []
    for k, (alphabet, start, end, text) in enumerate(TYPED + INSIDE):
        paths.append(src / f"t{k}.xlsx")
        write_workbook(_classifier(alphabet, start, end), paths[-1], "", steps=8)
        wb = openpyxl.load_workbook(paths[-1])
        wb["Run"]["B2"] = text
        wb.save(paths[-1])
    return recalculate(paths, tmp_path_factory.mktemp("typed-lo"))


@pytest.mark.parametrize("k", range(len(TYPED)))
def test_a_workbook_reads_a_typed_word_as_run_does(k, typed_books):
    alphabet, start, end, text = TYPED[k]
    reading = Reading(True, start, end)
    read = list(reading.frame(reading.parse(text, alphabet)))
    wb = openpyxl.load_workbook(typed_books[k], data_only=True)
    assert wb["Run"]["F2"].value == len(read), text
    assert [wb["Trace"].cell(FIRST_STEP_ROW + t, 2).value for t in range(1, len(read) + 1)] == read, text
    assert not wb["Run"]["A4"].value, text  # no red symbol, no marker inside


@pytest.mark.parametrize("k", range(len(INSIDE)))
def test_a_marker_typed_inside_the_word_is_noted_where_run_refuses_it(k, typed_books):
    alphabet, start, end, text = INSIDE[k]
    with pytest.raises(UserError, match="is out of place"):
        Reading(True, start, end).parse(text, alphabet)
    wb = openpyxl.load_workbook(typed_books[len(TYPED) + k], data_only=True)
    assert "A marker typed inside the word is read there; fsm-lstm run refuses such a word." in wb["Run"]["A4"].value


# characters of 10-point text per unit of column width, measured on LibreOffice's PDF of a Run sheet (bold 1.16,
# italic 1.27): a wrapped cell whose text needs more lines than its row holds is cut off on screen and on paper
PER_WIDTH = {"bold": 1.16, "italic": 1.27}


@pytest.mark.parametrize("k", range(len(TYPED + INSIDE)))
def test_the_run_sheets_sentences_fit_their_rows(k, typed_books):
    """The verdict (16 points), the note and the hint under it, each wrapped across A:F, as recalculated."""
    wb = openpyxl.load_workbook(typed_books[k])
    values = openpyxl.load_workbook(typed_books[k], data_only=True)["Run"]
    ws = wb["Run"]
    width = sum(ws.column_dimensions[c].width for c in "ABCDEF")
    for row, kind, points in ((3, "bold", 16), (4, "bold", 10), (5, "italic", 10)):
        text = values[f"A{row}"].value or ""
        assert any(f"A{row}:F{row}" == str(m) for m in ws.merged_cells.ranges) and ws[f"A{row}"].alignment.wrap_text
        lines = len(textwrap.wrap(text, int(PER_WIDTH[kind] * width * 10 / points))) or 1
        assert ws.row_dimensions[row].height >= lines * 1.3 * points, (row, text)  # a line is 1.3 font sizes tall
    if k == len(TYPED + INSIDE) - 1:  # both notes at once, on two lines at least
        assert values["A4"].value.startswith("The network reads 13 symbols (the word and its markers); this sheet "
                                             "shows the first 8.")
        assert values["A3"].value.startswith("no answer")


@pytest.mark.parametrize("k", range(len(TYPED)))
def test_the_trace_sheets_marker_row_reads_cleanly(k, typed_books):
    """'markers' fits column A, the word is shown once (F4: E4 is a hidden step towards it), and a one-hot header
    longer than two characters is turned rather than wrapped ('</ s>')."""
    alphabet = TYPED[k][0]
    ws = openpyxl.load_workbook(typed_books[k])["Trace"]
    assert ws["A4"].value == "markers" and len("markers") <= PER_WIDTH["bold"] * ws.column_dimensions["A"].width
    assert ws["E4"].number_format == ";;;" and ws["F4"].number_format != ";;;"
    headers = [cell for cell in ws[7] if cell.value in alphabet]
    assert len(headers) == len(alphabet)
    for cell in headers:
        assert (cell.alignment.textRotation == 90) == (max(map(len, alphabet)) > 2), cell.value


MARKERS = {"none": (None, None), "long": ("<s>", "</s>"), "short": ("^", "$"), "mixed": ("^", "</s>"),
           "spelled": ("10", "11")}  # 'spelled': markers the inner symbols 0 and 1 can spell


@given(markers=st.sampled_from(sorted(MARKERS)), inner=st.sampled_from(["01", "ab", "push pop"]),
       data=st.data())
def test_a_word_written_as_typed_reads_back_as_itself(markers, inner, data):
    """Reading.typed gave 'aa' for a classifier framed by '^' and '</s>', where parse needs 'a a': verify --report
    then exited 2 ("unknown symbol 'aa'") before printing its verdict."""
    start, end = MARKERS[markers]
    symbols = inner.split() if " " in inner else list(inner)
    if markers == "spelled" and inner != "01":
        return
    alphabet = (*([start] if start else []), *symbols, *([end] if end else []))
    reading = Reading(start is not None, start, end)
    word = tuple(data.draw(st.lists(st.sampled_from(symbols), max_size=8)))
    typed = reading.typed(word, alphabet)
    assert reading.parse(typed, alphabet) == word
    assert not any(m and m in typed.split() for m in (start, end))  # without its markers


@pytest.mark.parametrize("markers", ["mixed", "spelled"])
def test_a_framed_models_default_and_report_inputs_are_its_words(markers, tmp_path, capsys):
    """The default workbook input of a compiled word classifier was its example with the markers glued on
    ('10011011': another word where inner symbols spell them); verify --report exited 2 on '^ ... </s>'."""
    start, end = MARKERS[markers]
    a, b = ("0", "1") if markers == "spelled" else ("a", "b")
    g = Grammar(name="framed", start="begin", accept=frozenset({"yes"}), alphabet=(start, a, b, end),
                states=("begin", "e", "o", "yes"),
                transitions=(("begin", start, "e"), ("e", a, "o"), ("e", b, "e"), ("o", a, "e"), ("o", b, "o"),
                             ("e", end, "yes")))
    model = compile_grammar(g)
    model = replace(model, extra={**model.extra, "final_only": True, "start_marker": start, "end_marker": end})
    from fsm_lstm.sheets import sample_input
    reading = Reading(True, start, end)
    shown = sample_input(model)
    word = reading.parse(shown, model.alphabet)
    assert start not in shown.split() and accepts(g, reading.frame(word))
    save_model(model, tmp_path / "m.npz")
    (tmp_path / "odd.toml").write_text(f'start = "e"\naccept = ["o"]\ntransitions = [["e", "{a}", "o"], '
                                       f'["e", "{b}", "e"], ["o", "{a}", "e"], ["o", "{b}", "o"]]\n')
    assert main(["verify", str(tmp_path / "m.npz"), "--grammar", str(tmp_path / "odd.toml"), "--report",
                 str(tmp_path / "r.xlsx")]) == 1
    out = capsys.readouterr().out
    assert "FAIL: counterexample ''" in out and "wrote " in out  # the empty word: even 'a's, the grammar says odd



def test_the_region_proof_and_verify_show_a_counterexample_alike(tmp_path, capsys):
    """The region proof wrote words with its own rule ('aa' for a classifier framed by '^' and '</s>', which
    `run` refuses), verify with Reading.typed ('a a'): the same counterexample two ways on adjacent lines."""
    start, end = MARKERS["mixed"]
    g = Grammar(name="framed", start="begin", accept=frozenset({"yes"}), alphabet=(start, "a", "b", end),
                states=("begin", "e", "o", "yes"),
                transitions=(("begin", start, "e"), ("e", "a", "o"), ("e", "b", "e"), ("o", "a", "e"), ("o", "b", "o"),
                             ("e", end, "yes")))
    model = replace(compile_grammar(g), extra={"final_only": True, "start_marker": start, "end_marker": end})
    save_model(model, tmp_path / "m.npz")  # without its grammar: certify runs the region proof
    (tmp_path / "mod4.toml").write_text('start = "0"\naccept = ["0"]\ntransitions = [["0", "a", "1"], ["1", "a", "2"], '
                                        '["2", "a", "3"], ["3", "a", "0"], ["0", "b", "0"], ["1", "b", "1"], '
                                        '["2", "b", "2"], ["3", "b", "3"]]\n')
    argv = [str(tmp_path / "m.npz"), "--grammar", str(tmp_path / "mod4.toml")]
    assert main(["certify", *argv]) == 1
    certified = capsys.readouterr().out
    assert main(["verify", *argv]) == 1
    verified = capsys.readouterr().out
    assert "after 'a a' (2 symbols), confirmed on the network" in certified  # two a's: even, but not 0 mod 4
    assert "FAIL: counterexample 'a a' (2 symbols)" in verified
    assert main(["run", str(tmp_path / "m.npz"), "a a"]) == 0
