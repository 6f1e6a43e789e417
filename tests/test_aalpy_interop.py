"""DOT files cross between fsm-lstm and AALpy in both directions."""

from __future__ import annotations

import pytest
from aalpy.utils import load_automaton_from_file, save_automaton_to_file

from fsm_lstm.automata import equivalent
from fsm_lstm.grammar_files import load_grammar, save_grammar
from tests.oracle import accepts, all_words


@pytest.mark.parametrize("name", ["reber", "tomita3", "tomita7", "experiment2", "parity"])
def test_our_dot_loads_in_aalpy_and_aalpys_dot_loads_in_ours(name, tmp_path):
    g = load_grammar(name)
    ours = tmp_path / f"{name}.dot"
    save_grammar(g, ours)
    dfa = load_automaton_from_file(str(ours), "dfa")
    for word in all_words(g.alphabet, 4 if len(g.alphabet) > 2 else 8):
        dfa.reset_to_initial()
        inputs = [int(a) if a.isdigit() else a for a in word]  # AALpy reads digit labels as ints
        out = dfa.execute_sequence(dfa.initial_state, inputs) if word else [dfa.initial_state.is_accepting]
        assert out[-1] == accepts(g, word), word
    save_automaton_to_file(dfa, str(tmp_path / "back"), "dot")
    assert equivalent(load_grammar(tmp_path / "back.dot"), g)


def test_names_that_are_not_identifiers_survive_through_labels(tmp_path):
    g = load_grammar("parity").with_changes()
    odd = g.with_changes(states=("even", "odd state"), accept=frozenset({"odd state"}),
                         transitions=tuple((p.replace("odd", "odd state"), a, q.replace("odd", "odd state"))
                                           for p, a, q in g.transitions))
    save_grammar(odd, tmp_path / "o.dot")
    assert load_grammar(tmp_path / "o.dot").states == ("even", "odd state")
    assert load_automaton_from_file(str(tmp_path / "o.dot"), "dfa").states
