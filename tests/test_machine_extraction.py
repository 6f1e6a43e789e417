"""Extraction of Moore and Mealy machines from networks with out: heads: extract(compile(M)) is M, minimal, for
AALpy's random machines; a GRU trained on a Mealy machine's outputs extracts back to it."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_lstm.cli import main
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.extract import extract
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.outputs import minimal_machine, output_difference
from tests.test_machines import KINDS, aalpy_machine, saved


@settings(max_examples=12, deadline=None)
@given(kind=st.sampled_from(sorted(KINDS)), states=st.integers(1, 12), inputs=st.integers(1, 4),
       outputs=st.integers(2, 4), seed=st.integers(0, 10**6), minimal=st.booleans(),
       method=st.sampled_from(["lstar", "cluster"]))
def test_extracting_a_compiled_machine_gives_it_back_minimal(kind, states, inputs, outputs, seed, minimal, method,
                                                              tmp_path_factory):
    machine = aalpy_machine(kind, states, inputs, outputs, seed, minimal=minimal)
    g = load_grammar(saved(machine, tmp_path_factory.mktemp("x") / "m.dot"))
    result = extract(compile_grammar(g), method, time_limit=30)
    back = result.grammar
    assert back.machine == kind and result.fidelity == 1.0
    assert output_difference(back, g) is None  # the same outputs on every word (breadth first over pairs)
    machine.minimize()  # AALpy's minimal machine: an independent count of the states
    assert len(back.states) == len(machine.states) == len(minimal_machine(g).states)
    assert len(back.transitions) == len(machine.states) * inputs


def test_a_partial_moore_machine_extracts_to_its_trim_part():
    from fsm_lstm.toml_format import parse_toml

    g = parse_toml('start = "a"\ntransitions = [["a", "x", "b"], ["b", "x", "a"], ["b", "y", "b"], ["c", "x", "a"]]\n'
                   '[outputs]\na = "0"\nb = "1"\nc = "0"\n')
    back = extract(compile_grammar(g), "cluster").grammar
    assert output_difference(back, g) is None and len(back.states) == 2 and len(back.transitions) == 3


def test_a_gru_trained_on_mqtt_outputs_extracts_back_to_mqtt(tmp_path):
    pytest.importorskip("torch")
    model, out = tmp_path / "mqtt.npz", tmp_path / "mqtt.toml"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "mqtt", "-o", str(model), "--cell", "gru", "--hidden", "16", "--samples", "1000",
                     "--epochs", "60", "--seed", "0"]) == 0
        main(["extract", str(model), "-o", str(out)])
    mqtt = load_grammar("mqtt")
    back = load_grammar(out)
    assert back.machine == "mealy" and len(back.states) == 3
    assert output_difference(back, mqtt) is None


def test_train_task_output_needs_a_machine(tmp_path, capsys):
    assert main(["train", "parity", "-o", str(tmp_path / "p.npz"), "--task", "output"]) == 2
    assert "--task output trains the outputs of a Moore or Mealy machine" in capsys.readouterr().err
    assert main(["train", "coffee", "-o", str(tmp_path / "p.npz"), "--task", "next"]) == 2
    assert "train its outputs with --task output" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_the_machine_fidelity_is_measured_on_is_the_automaton_written(data):
    """Extraction measures fidelity on ``_as_written(m)``: the written automaton, judged as ``verify`` judges it
    (by the grammar's semantics), must give the same heads after every word, whatever sets of out: heads the
    states hold (several, or none, as a trained network's may), and whatever accept and next: heads, which the
    written acceptor derives from its language (a network's next:) true where no accepted word goes on: the
    fidelity was the extractor's machine's, 100 %, where the file's was 99.5 %)."""
    import numpy as np

    from fsm_lstm.errors import GrammarError
    from fsm_lstm.extract import _as_written, to_grammar
    from fsm_lstm.outputs import NoOutputError
    from fsm_lstm.machine import Machine
    from fsm_lstm.semantics import Semantics

    n, k = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 3))
    kind = data.draw(st.sampled_from(["out", "accept and next", "next"]))
    if kind == "out":
        labels = tuple(f"out:v{j}" for j in range(data.draw(st.integers(1, 3))))
    else:
        nexts = data.draw(st.lists(st.sampled_from("abc"[:k]), min_size=kind == "next", unique=True))
        labels = (*(["accept"] if kind != "next" else []), *(f"next:{a}" for a in nexts))
    o = len(labels)
    outputs = np.array(data.draw(st.lists(st.lists(st.booleans(), min_size=o, max_size=o), min_size=n, max_size=n)))
    delta = np.array(data.draw(st.lists(st.lists(st.integers(0, n - 1), min_size=k, max_size=k), min_size=n,
                                        max_size=n)))
    machine = Machine(outputs, delta, labels, tuple("abc"[:k]))
    try:
        grammar = to_grammar(machine)
    except (GrammarError, NoOutputError):  # no output ever: nothing to write
        return
    strings = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).integers(0, k, size=(50, 8))
    written = Semantics(grammar).expected_heads(labels, strings)
    assert grammar.alphabet == machine.alphabet
    assert np.array_equal(_as_written(machine, grammar).run(strings), written)


def test_a_network_with_two_out_heads_true_at_once_gets_a_fidelity_true_of_the_file(tmp_path, capsys):
    """mqtt compiled, with one out: head made true after every symbol: after most words two heads are true, which
    no Mealy machine can say. The fidelity reported must be that of the automaton written, judged head by head
    after every prefix of words drawn as the held-out ones are; it was that of the extractor's own machine of head
    sets (100 %)."""
    import json
    from dataclasses import replace

    import numpy as np

    from fsm_lstm.model import save_model
    from fsm_lstm.runtime import run
    from fsm_lstm.semantics import Semantics

    g = load_grammar("mqtt")
    model = compile_grammar(g)
    head = model.heads.index(f"out:{g.output_values[0]}")
    weights, bias = model.head_weight.copy(), model.head_bias.copy()
    weights[head], bias[head] = 0.0, 5.0
    path, out = tmp_path / "two.npz", tmp_path / "two.dot"
    save_model(replace(model, head_weight=weights, head_bias=bias), path)
    assert main(["extract", str(path), "-o", str(out), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    rng = np.random.default_rng(7)
    K, words = len(model.alphabet), 2000
    lengths = rng.integers(0, 21, size=words)
    strings = rng.integers(0, K, size=(words, 20))
    said = run(replace(model, head_weight=weights, head_bias=bias), strings).decoded()
    columns = [j for j, h in enumerate(model.heads) if h.startswith("out:")]
    wanted = Semantics(load_grammar(out)).expected_heads([model.heads[j] for j in columns], strings)
    final = np.arange(words)
    inside = np.arange(21)[:, None] <= lengths[None, :]  # a word agrees when every prefix of it does
    agree = ((said[:, :, columns] == wanted).all(axis=2) | ~inside).all(axis=0).mean()
    several = (said[lengths, final][:, columns].sum(axis=1) > 1).mean()
    assert report["below_min_fidelity"] and abs(report["fidelity"] - agree) < 0.05 and report["fidelity"] < 0.5
    assert abs(report["several_outputs"] - several) < 0.05 and several > 0.5
    main(["extract", str(path), "-o", str(out)])
    assert "2 or more out: heads true at once" in capsys.readouterr().out


def test_a_next_head_the_written_acceptor_cannot_give_costs_fidelity(tmp_path, capsys):
    """tomita3 compiled, with next:1 made true after every prefix: the file written can only say tomita3's
    language, whose next:1 is false after a dead prefix. The fidelity said was the extractor's machine's, 100 %,
    and extract exited 0; it is the file's."""
    import dataclasses

    from fsm_lstm.automata import equivalent
    from fsm_lstm.cli import main
    from fsm_lstm.compiler import compile_grammar
    from fsm_lstm.extract import extract
    from fsm_lstm.grammar_files import load_grammar
    from fsm_lstm.model import save_model

    model = compile_grammar(load_grammar("tomita3"))
    k = model.heads.index("next:1")
    weight, bias = model.head_weight.copy(), model.head_bias.copy()
    weight[k], bias[k] = 0.0, 5.0
    always = dataclasses.replace(model, head_weight=weight, head_bias=bias, extra={})
    result = extract(always)
    assert equivalent(result.grammar, load_grammar("tomita3"))  # the language is learned exactly
    assert result.fidelity < 0.9  # most random words reach the dead state, where next:1 is false in the file
    save_model(always, tmp_path / "m.npz")
    assert main(["extract", str(tmp_path / "m.npz"), "-o", str(tmp_path / "x.toml")]) == 1
    assert "below --min-fidelity" in capsys.readouterr().out
