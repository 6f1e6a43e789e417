"""Grammar files: TOML and DOT round trips, regexes, and a clear one-line error for every malformed file."""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_lstm.automata import equivalent
from fsm_lstm.cli import main
from fsm_lstm.dot_format import parse_dot, to_dot
from fsm_lstm.errors import GrammarError
from fsm_lstm.grammar_files import load_grammar, save_grammar
from fsm_lstm.regex import regex_grammar
from fsm_lstm.toml_format import parse_toml, to_toml
from tests.oracle import accepts, all_words
from tests.strategies import grammars

GOOD = '''name = "g"
start = "a"
accept = ["b"]
transitions = [["a", "x", "b"], ["b", "y", "a"]]
'''

# (file text, words the one-line message must contain)
MALFORMED = {
    "toml_syntax": ('name = "g"\nstart = \n', ["not valid TOML", "line 2"]),
    "no_start": ('accept = ["b"]\ntransitions = [["a", "x", "b"]]\n', ["no `start`"]),
    "no_transitions": ('start = "a"\naccept = ["a"]\n', ["no `transitions`"]),
    "no_accept": ('start = "a"\ntransitions = [["a", "x", "b"]]\n', ["no `accept`"]),
    "start_not_string": ('start = 3\naccept = []\ntransitions = [["a", "x", "b"]]\n', ["`start` must be a string"]),
    "unknown_key": (GOOD + 'transition = []\n', ["unknown key `transition`", "did you mean `transitions`"]),
    "pair_not_triple": ('start = "a"\naccept = []\ntransitions = [\n  ["a", "x"],\n]\n',
                        ["transitions[0]", "line 4", "[\"from\", \"symbol\", \"to\"]"]),
    "number_in_triple": ('start = "a"\naccept = []\ntransitions = [["a", 1, "b"]]\n', ["transitions[0]"]),
    "symbol_with_space": ('start = "a"\naccept = []\ntransitions = [["a", "x y", "b"]]\n', ["white space"]),
    "empty_symbol": ('start = "a"\naccept = []\ntransitions = [["a", "", "b"]]\n', ["empty"]),
    "symbol_not_in_alphabet": ('start = "a"\naccept = []\nalphabet = ["x"]\n'
                               'transitions = [\n ["a", "x", "b"],\n ["b", "z", "a"],\n]\n',
                               ["transitions[1]", "line 6", "'z'", "alphabet"]),
    "duplicate_edge": ('start = "a"\naccept = []\ntransitions = [\n ["a", "x", "b"],\n ["a", "x", "b"],\n]\n',
                       ["repeats the edge", "line 5", "delete the duplicate"]),
    "start_missing": ('start = "zz"\naccept = []\ntransitions = [["a", "x", "b"]]\n', ["'zz'", "does not appear"]),
    "accept_unknown": ('start = "a"\naccept = ["nowhere"]\ntransitions = [["a", "x", "b"]]\n', ["'nowhere'"]),
    "empty_alphabet": ('start = "a"\naccept = []\nalphabet = []\ntransitions = []\n', ["`alphabet` is empty"]),
    "duplicate_symbol": ('start = "a"\naccept = []\nalphabet = ["x", "x"]\ntransitions = []\n', ["listed twice"]),
    "regex_and_transitions": ('regex = "ab"\nstart = "a"\n', ["cannot be combined"]),
    "regex_unbalanced": ('regex = "(ab"\n', ["missing ')'"]),
    "regex_dangling_star": ('regex = "*a"\n', ["nothing to repeat"]),
    "unknown_state_in_states": ('start = "a"\naccept = []\nstates = ["a"]\ntransitions = [["a", "x", "b"]]\n',
                                ["unknown state 'b'"]),
    "accept_not_list": ('start = "a"\naccept = "b"\ntransitions = [["a", "x", "b"]]\n', ["`accept` must be a list"]),
    "accept_twice": ('start = "a"\naccept = ["b", "b"]\ntransitions = [["a", "x", "b"]]\n',
                     ["'b' is listed twice in `accept`"]),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_file_gets_one_line_error_naming_file_and_fix(case, tmp_path):
    text, needles = MALFORMED[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text)
    with pytest.raises(GrammarError) as info:
        load_grammar(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(str(path))
    for needle in needles:
        assert needle in msg, msg


@pytest.mark.parametrize("case", ["duplicate_edge", "toml_syntax", "unknown_key"])
def test_cli_reports_bad_grammar_in_one_line_with_exit_2(case, tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(MALFORMED[case][0])
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and str(path) in err


def test_missing_file_wrong_extension_and_not_utf8(tmp_path):
    with pytest.raises(GrammarError, match="no such file"):
        load_grammar(tmp_path / "absent.toml")
    other = tmp_path / "g.yaml"
    other.write_text("x")
    with pytest.raises(GrammarError, match="use a .toml or .dot"):
        load_grammar(other)
    binary = tmp_path / "g.toml"
    binary.write_bytes(b"\xff\xfe\x00name")
    with pytest.raises(GrammarError, match="UTF-8"):
        load_grammar(binary)
    with pytest.raises(GrammarError, match="no bundled grammar"):
        load_grammar("no_such_grammar")


@settings(max_examples=60, deadline=None)
@given(grammars(max_states=12, max_symbols=4))
def test_toml_round_trip_is_exact(g):
    assert parse_toml(to_toml(g)) == g


@settings(max_examples=60, deadline=None)
@given(grammars(max_states=12, max_symbols=4))
def test_dot_round_trip_keeps_the_language(g):
    back = parse_dot(to_dot(g))
    assert back.start == g.start
    assert equivalent(back, g)
    if g.is_deterministic:  # written complete for AALpy: every state has every symbol
        assert all(len({a for a, _ in back.out_edges[s]}) == len(back.alphabet) for s in back.states)


def test_reads_dot_in_the_aalpy_convention():
    # as AALpy 2.0's save_automaton_to_file writes a DFA (and pydot-based versions before it, unquoted)
    text = '''digraph learnedModel {
s0 [label="s0", shape=doublecircle];
s1 [label=s1];
s0 -> s1  [label=1];
s0 -> s0  [label="0"];
s1 -> s0  [label=1];
s1 -> s1  [label=0];
__start0 [shape=none, label=""];
__start0 -> s0 [label=""];
}
'''
    g = parse_dot(text)
    assert g.start == "s0" and g.accept == {"s0"}
    for word in all_words("01", 6):
        assert accepts(g, word) == (word.count("1") % 2 == 0)


@pytest.mark.parametrize("text, needle", [
    ("graph g { a -- b }", "expected 'digraph'"),
    ("digraph g { a -> b [label=x]; }", "start markers"),
    ('digraph g { __start0 -> a; a -> b; }', "has no label"),
    ('digraph g { __start0 -> a; a -> b [label="x" ', "missing ']'"),
])
def test_bad_dot_gets_clear_error(text, needle):
    with pytest.raises(GrammarError, match=needle):
        parse_dot(text, "x.dot")


def test_convert_toml_dot_toml_keeps_the_language(tmp_path):
    dot, back = tmp_path / "r.dot", tmp_path / "r.toml"
    assert main(["convert", "reber", "-o", str(dot)]) == 0
    assert main(["convert", str(dot), "-o", str(back)]) == 0
    assert equivalent(load_grammar(back), load_grammar("reber"))


TEXTS = st.text(st.characters(blacklist_categories=("Cs",)), max_size=10)  # any text but lone surrogates


@settings(max_examples=40, deadline=None)
@given(grammars(max_states=6, max_symbols=4), TEXTS, TEXTS, st.data())
def test_convert_toml_dot_toml_keeps_every_documented_key(g, name, description, data):
    states = data.draw(st.lists(TEXTS.filter(bool), min_size=len(g.states), max_size=len(g.states), unique=True))
    rename = dict(zip(g.states, states))
    alphabet = data.draw(st.permutations(g.alphabet + ("unused",)))  # an order of its own and an unused symbol
    g = g.with_changes(name=name, description=description, alphabet=tuple(alphabet), start=rename[g.start],
                       states=tuple(states), accept=frozenset(rename[s] for s in g.accept),
                       transitions=tuple((rename[p], a, rename[q]) for p, a, q in g.transitions))
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()):
        toml, dot, back = (str(Path(folder) / f) for f in ("g.toml", "g.dot", "back.toml"))
        save_grammar(g, toml)
        assert main(["convert", toml, "-o", dot]) == 0
        assert main(["convert", dot, "-o", back]) == 0
        again = load_grammar(back)
    assert (again.name, again.description, again.alphabet, again.start, again.accept) == (
        g.name, g.description, g.alphabet, g.start, g.accept)
    assert set(g.states) <= set(again.states) and equivalent(again, g)  # DOT may add a sink for AALpy


def test_save_grammar_writes_atomically_and_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "g.toml"
    target.write_text("old")
    with pytest.raises(GrammarError):
        save_grammar(load_grammar("parity"), tmp_path / "g.txt")
    save_grammar(load_grammar("parity"), target)
    assert load_grammar(target) == load_grammar("parity").with_changes()
    assert [p.name for p in tmp_path.iterdir()] == ["g.toml"]


@pytest.mark.parametrize("pattern", ["1*", "(10)*", "0*1*0*1*", "(0|11)+1?", "[01]0?", "(0|)1", "0(1|0)*1",
                                     "((00)*1)?"])
def test_regex_grammar_matches_python_re(pattern):
    g = regex_grammar(pattern, alphabet=["0", "1"])
    for word in all_words("01", 8):
        assert accepts(g, word) == (re.fullmatch(pattern, "".join(word)) is not None), (pattern, word)


def test_regex_dot_means_any_symbol_of_the_alphabet():
    g = regex_grammar("a.b", alphabet=["a", "b", "c"])
    assert [("".join(w)) for w in all_words("abc", 3) if accepts(g, w)] == ["aab", "abb", "acb"]


def test_a_bare_bundled_name_is_bundled_even_beside_a_folder_or_file_of_that_name(tmp_path, monkeypatch, capsys):
    """A results folder ``reber/`` hid the bundled grammar, with a message that named ``reber`` as a bundled name
    to use; a path with a folder in it is still a path."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reber").mkdir()
    (tmp_path / "parity").write_text("not a grammar")
    assert load_grammar("reber").name == "reber" and load_grammar("parity").name == "parity"
    assert main(["check", "reber"]) == 0 and "reber (bundled)" in capsys.readouterr().out
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "parity").write_text("")
    for path in ("sub/parity", "./parity", "reber/"):
        with pytest.raises(GrammarError, match="unknown grammar format|a folder, not a grammar file|not a regular"):
            load_grammar(path)


def test_a_model_written_as_upper_case_npz_is_read_back(tmp_path, capsys):
    """Outputs take an extension in any case; `run y.NPZ` answered "unknown grammar format '.NPZ'"."""
    model = str(tmp_path / "y.NPZ")
    assert main(["compile", "tomita3", "-o", model]) == 0
    capsys.readouterr()
    assert main(["run", model, "0101"]) == 0 and main(["verify", model, "--max-len", "2"]) == 0
    assert "PASS" in capsys.readouterr().out
