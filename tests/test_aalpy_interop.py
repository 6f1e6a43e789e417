"""DOT files cross between fsm-lstm and AALpy in both directions."""

from __future__ import annotations

import itertools
import json

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


def _swap_state_names(automaton, a: str, b: str) -> None:
    for state in automaton.states:
        state.state_id = {a: b, b: a}.get(state.state_id, state.state_id)


@pytest.mark.parametrize("kind", ["dfa", "mealy", "moore"])
def test_a_machine_aalpy_names_differently_is_no_counterexample(kind, tmp_path, capsys):
    """AALpy names every machine's states s0, s1, ...: a learned machine equal to the compiled one but for the
    names of its states must not be a 'FAIL ... head state:s1', and one that differs must still fail."""
    import random

    from aalpy.utils import generate_random_dfa, generate_random_mealy_machine, generate_random_moore_machine

    from fsm_lstm.cli import main

    random.seed(3)
    machine = {"dfa": lambda: generate_random_dfa(5, ["x", "y"], num_accepting_states=2),
               "mealy": lambda: generate_random_mealy_machine(5, ["x", "y"], ["o", "p"]),
               "moore": lambda: generate_random_moore_machine(5, ["x", "y"], ["o", "p"])}[kind]()
    save_automaton_to_file(machine, str(tmp_path / "m"), "dot")
    names = [s.state_id for s in machine.states]
    _swap_state_names(machine, names[0], names[1])  # the same machine, two states' names swapped
    save_automaton_to_file(machine, str(tmp_path / "renamed"), "dot")
    assert main(["compile", str(tmp_path / "m.dot"), "-o", str(tmp_path / "m.npz")]) == 0
    argv = ["verify", str(tmp_path / "m.npz"), "--max-len", "4", "--examples", "20", "--grammar"]
    assert main(argv + [str(tmp_path / "renamed.dot")]) == 0
    out = capsys.readouterr().out
    assert "state heads not judged" in out and "PASS" in out
    machine = load_automaton_from_file(str(tmp_path / "m.dot"), kind)  # the original names, another output
    first = machine.states[0]
    if kind == "dfa":
        first.is_accepting = not first.is_accepting
    elif kind == "moore":
        first.output = "o" if first.output == "p" else "p"
    else:
        first.output_fun["x"] = "o" if first.output_fun["x"] == "p" else "p"
    save_automaton_to_file(machine, str(tmp_path / "changed"), "dot")
    capsys.readouterr()  # AALpy prints "Model saved to ..."
    assert main(argv + [str(tmp_path / "changed.dot"), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["counterexample"]["head"].startswith(("accept", "out:"))
    assert any(h.startswith("state:") for h in report["heads_checked"])



@pytest.mark.parametrize("kind", ["mealy", "moore"])
def test_backslashes_in_outputs_cross_both_ways(kind, tmp_path):
    """AALpy writes text raw: its 'back\\slash' was read as 'backslash', and fsm-lstm's 'C:\\temp', written
    'C:\\\\temp', was loaded by AALpy with two backslashes. (AALpy cannot write an output ending in a backslash,
    nor read its own '\\n' as two characters: those are left out.)"""
    from aalpy.automata import MealyMachine, MealyState, MooreMachine, MooreState

    from fsm_lstm.cli import main
    from fsm_lstm.outputs import output_word

    outputs = ["back\\slash", "C:\\temp", "\\d+\\.\\w", "plain"]
    if kind == "mealy":
        states = [MealyState(f"s{k}") for k in range(2)]
        for k, s in enumerate(states):
            for j, a in enumerate("ab"):
                s.transitions[a] = states[(k + j) % 2]
                s.output_fun[a] = outputs[2 * k + j]
        machine = MealyMachine(states[0], states)
    else:
        states = [MooreState(f"s{k}", output=outputs[k]) for k in range(3)]
        for k, s in enumerate(states):
            for j, a in enumerate("ab"):
                s.transitions[a] = states[(k + j + 1) % 3]
        machine = MooreMachine(states[0], states)
    words = [w for n in range(5) for w in itertools.product("ab", repeat=n)]

    def said(automaton, word):
        automaton.reset_to_initial()
        return [automaton.step(a) for a in word]

    save_automaton_to_file(machine, str(tmp_path / "theirs"), "dot")
    ours = load_grammar(tmp_path / "theirs.dot")
    for word in words:
        assert output_word(ours, word)[1:] == said(machine, word), word
    assert main(["convert", str(tmp_path / "theirs.dot"), "-o", str(tmp_path / "back.dot")]) == 0
    back = load_automaton_from_file(str(tmp_path / "back.dot"), kind)
    for word in words:
        assert said(back, word) == said(machine, word), word


def test_a_bar_in_a_moore_output_reads_back_in_aalpy_and_in_fsm_lstm(tmp_path):
    """AALpy writes 's1|+CMD|x' and splits at the first bar; fsm-lstm wrote the output '+CMD\\|x', which AALpy
    read as another output (the extracted machine differed from AALpy's on 4,363 of 5,000 words)."""
    from fsm_lstm.grammar import Grammar

    g = Grammar(name="m", start="s0", accept=frozenset(), alphabet=("go", "stop"), states=("s0", "s1"),
                transitions=(("s0", "go", "s1"), ("s0", "stop", "s0"), ("s1", "go", "s0"), ("s1", "stop", "s1")),
                state_outputs=(("s0", "+CMD|x"), ("s1", "a|b|c")))
    save_grammar(g, tmp_path / "m.dot")
    theirs = load_automaton_from_file(str(tmp_path / "m.dot"), "moore")
    ours = load_grammar(tmp_path / "m.dot")
    outputs = dict(g.state_outputs)
    for word in itertools.product(("go", "stop"), repeat=4):
        state, expected = "s0", []
        for a in word:
            state = next(q for p, x, q in g.transitions if p == state and x == a)
            expected.append(outputs[state])
        assert theirs.execute_sequence(theirs.initial_state, list(word)) == expected
    assert dict(ours.state_outputs) == outputs and theirs.initial_state.output == "+CMD|x"


def test_aalpy_mealy_outputs_are_read_as_aalpy_reads_them(tmp_path, capsys):
    """A trial: AALpy writes and reads labels raw, but fsm-lstm decoded 'C:\\\\srv' to 'C:\\srv' and '\\n' to a line
    break, so two of AALpy's outputs became one and the compiled, certified network had 1 state where AALpy's
    machine has 2. A file AALpy wrote (a start edge labelled "", no graph attributes) is now read raw. Outputs with
    white space at an end, which AALpy keeps and an fsm-lstm output cannot hold, are refused, not stripped."""
    from aalpy.automata import MealyMachine, MealyState

    from fsm_lstm.cli import main
    from fsm_lstm.outputs import minimal_machine, output_word

    def machine(pair: tuple[str, str]) -> MealyMachine:  # a swaps the states, b answers one of the pair
        states = [MealyState(f"s{k}") for k in range(2)]
        for k, s in enumerate(states):
            s.transitions.update(a=states[1 - k], b=s)
            s.output_fun.update(a="x", b=pair[k])
        return MealyMachine(states[0], states)

    words = [w for n in range(6) for w in itertools.product("ab", repeat=n)]
    for k, pair in enumerate([("C:\\\\srv", "C:\\srv"), ("x\\ny", "x\\ly"), ("a\\\\", "a\\b")]):
        theirs = machine(pair)
        save_automaton_to_file(theirs, str(tmp_path / f"m{k}"), "dot")
        ours = load_grammar(tmp_path / f"m{k}.dot")
        assert len(minimal_machine(ours).states) == 2, pair  # two outputs, two states, as in AALpy
        for word in words:
            theirs.reset_to_initial()
            assert output_word(ours, word)[1:] == [theirs.step(a) for a in word], (pair, word)
    save_automaton_to_file(machine(("ok ", "ok")), str(tmp_path / "spaced"), "dot")
    assert main(["check", str(tmp_path / "spaced.dot")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has the output 'ok ', with white space at an end, in a file AALpy wrote" in err
    (tmp_path / "hand.dot").write_text((tmp_path / "spaced.dot").read_text().replace("{", "{\nrankdir=LR;", 1))
    assert main(["check", str(tmp_path / "hand.dot")]) == 2  # not AALpy's, but the two would still become one
    assert "the outputs 'ok ' and 'ok' differ only in white space at their ends" in capsys.readouterr().err
    (tmp_path / "one.dot").write_text((tmp_path / "hand.dot").read_text().replace('b/ok"', 'b/fine"'))
    assert output_word(load_grammar(tmp_path / "one.dot"), ("b",)) == [None, "ok"]  # not AALpy's: spaces dropped
    learnlib = ('digraph g {\n s0 [shape="circle" label="0"];\n s1 [shape="circle" label="1"];\n'
                ' s0 -> s1 [label="a / x"];\n s1 -> s0 [label="a / y z"];\n'
                ' __start0 [label="" shape="none" width="0" height="0"];\n __start0 -> s0;\n}\n')
    (tmp_path / "ll.dot").write_text(learnlib)
    assert output_word(load_grammar(tmp_path / "ll.dot"), ("a", "a")) == [None, "x", "y z"]


def test_aalpy_mealy_outputs_holding_a_colon_load_once_the_inputs_are_declared(tmp_path, capsys):
    """'req/ratio:0.5' reads as a stochastic Mealy edge; declaring the inputs says it is not."""
    from fsm_lstm.cli import main
    from fsm_lstm.outputs import output_word

    text = ('digraph m {\ngraph [alphabet="req ack"];\ns0 [label="s0"];\ns0 -> s0 [label="req/ratio:0.5"];\n'
            's0 -> s0 [label="ack/time:12"];\n__start0 [label="", shape=none];\n__start0 -> s0 [label=""];\n}\n')
    (tmp_path / "m.dot").write_text(text.replace('graph [alphabet="req ack"];\n', ""))
    assert main(["check", str(tmp_path / "m.dot")]) == 2
    assert 'declare the symbols: graph [alphabet="req ..."]' in capsys.readouterr().err
    (tmp_path / "m.dot").write_text(text)
    assert output_word(load_grammar(tmp_path / "m.dot"), ("req", "ack")) == [None, "ratio:0.5", "time:12"]


def test_a_state_whose_id_begins_with_start_is_a_state_when_its_edges_are_labelled(tmp_path):
    """AALpy saved a machine with a state named __start1 (its start state), which fsm-lstm took for a second
    start marker ("found 3 start markers"). AALpy's marker is __start0; a node with labelled edges is a state."""
    from aalpy.automata import MealyMachine, MealyState

    from fsm_lstm.outputs import output_word

    states = [MealyState("__start1"), MealyState("s0")]
    for k, s in enumerate(states):
        s.transitions.update(a=states[1 - k], b=s)
        s.output_fun.update(a="x", b="yz"[k])
    machine = MealyMachine(states[0], states)
    save_automaton_to_file(machine, str(tmp_path / "m"), "dot")
    ours = load_grammar(tmp_path / "m.dot")
    assert ours.start == "__start1" and set(ours.states) == {"__start1", "s0"}
    for word in [w for n in range(5) for w in itertools.product("ab", repeat=n)]:
        machine.reset_to_initial()
        assert output_word(ours, word)[1:] == [machine.step(a) for a in word], word


def test_aalpy_moore_outputs_are_read_as_aalpy_reads_them(tmp_path):
    """AALpy writes a Moore state's label NAME|OUTPUT raw: the output <b> read as a record port (refused as an
    empty output), and C:\\\\srv as one backslash (a trial). Files AALpy wrote are read as AALpy reads them."""
    from aalpy.automata import MooreMachine, MooreState

    from fsm_lstm.outputs import minimal_machine, output_word

    outputs = ["<b>", "C:\\\\srv", "C:\\srv", "{x}", "a|b"]
    states = [MooreState(f"s{k}", output=o) for k, o in enumerate(outputs)]
    for k, s in enumerate(states):
        s.transitions.update(a=states[(k + 1) % len(states)], b=s)
    machine = MooreMachine(states[0], states)
    save_automaton_to_file(machine, str(tmp_path / "m"), "dot")
    ours = load_grammar(tmp_path / "m.dot")
    assert len(minimal_machine(ours).states) == len(outputs)
    for word in [w for n in range(7) for w in itertools.product("ab", repeat=n)]:
        machine.reset_to_initial()
        assert output_word(ours, word) == [machine.initial_state.output] + [machine.step(a) for a in word], word
