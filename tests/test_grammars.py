"""The bundled grammars mean what their sources say: checked against independent definitions."""

from __future__ import annotations

import re
from itertools import groupby

import networkx as nx
import pytest

from fsm_lstm.grammar_files import bundled_names, load_grammar
from tests.oracle import accepts, all_words


def runs(word: str) -> list[tuple[str, int]]:
    return [(ch, len(list(g))) for ch, g in groupby(word)]


def tomita3(w: str) -> bool:
    """No maximal odd run of 1s directly followed by a maximal odd run of 0s."""
    r = runs(w)
    return not any(a == ("1", a[1]) and a[1] % 2 and b[0] == "0" and b[1] % 2 for a, b in zip(r, r[1:]))


TOMITA = {
    "tomita1": lambda w: set(w) <= {"1"},
    "tomita2": lambda w: re.fullmatch("(10)*", w) is not None,
    "tomita3": tomita3,
    "tomita4": lambda w: "000" not in w,
    "tomita5": lambda w: w.count("0") % 2 == 0 and w.count("1") % 2 == 0,
    "tomita6": lambda w: (w.count("0") - w.count("1")) % 3 == 0,
    "tomita7": lambda w: re.fullmatch("0*1*0*1*", w) is not None,
    "parity": lambda w: w.count("1") % 2 == 1,
}

# Reber strings from the literature's diagram: B, then T S* X (X T* V ...) or P T* V ..., ending S E or V E.
REBER_IN = ["BTXSE", "BPVVE", "BTSXSE", "BPTVVE", "BTXXVVE", "BPVPSE", "BTSSXXVPSE", "BPTTTVPXVVE", "BTXXTTVVE"]
REBER_OUT = ["", "B", "BTE", "BPTTTE", "BTSSSE", "BE", "TXSE", "BTXSEE", "BPVE", "BTXXVPE"]


def test_all_bundled_grammars_are_present():
    expected = {"reber", "embedded_reber", "parity", "experiment2"} | {f"tomita{k}" for k in range(1, 8)}
    assert expected <= set(bundled_names())


def test_bundled_grammars_cite_their_source(bundled):
    assert re.search(r"(19|20)\d\d|seed \d{3}", bundled.description), bundled.description


def test_grammar_loads_as_networkx_multidigraph(bundled):
    g = bundled.graph
    assert isinstance(g, nx.MultiDiGraph)
    assert [n for n, d in g.nodes(data=True) if d["start"]] == [bundled.start]
    assert {n for n, d in g.nodes(data=True) if d["accept"]} == set(bundled.accept)
    assert sorted((p, d["symbol"], q) for p, q, d in g.edges(data=True)) == sorted(bundled.transitions)


@pytest.mark.parametrize("name", sorted(TOMITA))
def test_tomita_and_parity_match_their_definitions(name):
    g = load_grammar(name)
    for word in all_words("01", 10):
        assert accepts(g, word) == TOMITA[name]("".join(word)), "".join(word)


def test_reber_accepts_exactly_the_literature_examples():
    g = load_grammar("reber")
    for w in REBER_IN:
        assert accepts(g, w), w
    for w in REBER_OUT:
        assert not accepts(g, w), w


def test_embedded_reber_repeats_the_second_symbol_before_the_end():
    g = load_grammar("embedded_reber")
    for inner in REBER_IN:
        for x in "TP":
            assert accepts(g, "B" + x + inner + x + "E")
            assert not accepts(g, "B" + x + inner + ("P" if x == "T" else "T") + "E")


def test_experiment2_accepts_only_the_two_sequences():
    g = load_grammar("experiment2")
    accepted = {"".join(w) for w in all_words("01234", 5) if accepts(g, w)}
    assert accepted == {"30123", "40124"}
