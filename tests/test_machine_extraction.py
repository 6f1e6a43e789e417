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
