"""GRU and plain RNN cells, one or more layers: the runtime is PyTorch's, and verify and extract take them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_lstm.automata import equivalent
from fsm_lstm.errors import UserError
from fsm_lstm.gnumeric import recalculate_gnumeric
from fsm_lstm.libreoffice import recalculate
from fsm_lstm.extract import extract
from fsm_lstm.verify import judge
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.model import load_model, model_from_arrays, save_model
from fsm_lstm.runtime import Stepper, run
from fsm_lstm.sheets import write_workbook
from fsm_lstm.train import TrainConfig, train
from fsm_lstm.verify import verify
from tests.workbooks import compare, error_cells, formulas_values, libreoffice_values

MODULES = {"gru": torch.nn.GRU, "rnn": torch.nn.RNN, "lstm": torch.nn.LSTM}


def torch_model(cell: str, layers: int, hidden: int = 5, seed: int = 0):
    torch.manual_seed(seed)
    net = MODULES[cell](3, hidden, num_layers=layers)
    arrays = {k: v.detach().numpy() * 2 for k, v in net.state_dict().items()}
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.mul_(2)
    rng = np.random.default_rng(seed)
    arrays["heads.weight"] = rng.normal(size=(3, hidden)).astype(np.float32)
    arrays["heads.bias"] = rng.normal(size=3).astype(np.float32)
    arrays["meta"] = np.array(json.dumps({"alphabet": ["a", "b", "c"], "heads": ["accept", "next:a", "next:b"],
                                          "units": [f"u{k}" for k in range(hidden)], "cell": cell}))
    return net, arrays


@pytest.mark.parametrize("cell", ["gru", "rnn", "lstm"])
@pytest.mark.parametrize("layers", [1, 2])
def test_random_models_decode_like_torch(cell, layers, tmp_path):
    net, arrays = torch_model(cell, layers)
    np.savez(tmp_path / "m.npz", **arrays)
    model = load_model(tmp_path / "m.npz")
    strings = np.random.default_rng(1).integers(0, 3, size=(16, 80))
    x = torch.nn.functional.one_hot(torch.from_numpy(strings.T), 3).float()
    with torch.no_grad():
        out, _ = net(x)
        logits = out @ torch.from_numpy(arrays["heads.weight"]).T + torch.from_numpy(arrays["heads.bias"])
    ours = run(model, strings)
    assert np.array_equal(ours.decoded()[1:], logits.numpy() > 0)
    assert np.allclose(ours.heads[1:], logits.numpy(), atol=1e-4)
    # the step-by-step runtime agrees with the sequence runtime
    stepper = Stepper(model)
    state = stepper.initial(len(strings))
    for t in range(strings.shape[1]):
        state = stepper.step(state, strings[:, t])
    assert np.allclose(stepper.heads(state), ours.heads[-1], atol=1e-5)


@settings(max_examples=12, deadline=None)
@given(cell=st.sampled_from(["gru", "rnn", "lstm"]), layers=st.integers(1, 3), seed=st.integers(0, 100))
def test_the_empty_word_gives_the_head_biases_on_any_number_of_layers(cell, layers, seed):
    """Before any symbol every layer's state is zero, so the heads are the head biases. A model of 2 layers or
    more once failed on the empty word (run, sheet and verify all stopped with an internal error)."""
    _, arrays = torch_model(cell, layers, seed=seed)
    model = model_from_arrays(arrays)
    for dtype in (np.float32, np.float64):
        trace = run(model, np.zeros((2, 0), dtype=np.int64), dtype=dtype)
        assert trace.heads.shape == (1, 2, 3)
        assert np.allclose(trace.heads, arrays["heads.bias"], atol=1e-6)


def test_the_empty_word_runs_from_the_command_line_on_two_layers(tmp_path, capsys):
    from fsm_lstm.cli import main

    _, arrays = torch_model("lstm", 2)
    np.savez(tmp_path / "m.npz", **arrays)
    assert main(["run", str(tmp_path / "m.npz"), "", "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)  # one record: the empty prefix
    logits = [record["logits"][head] for head in ("accept", "next:a", "next:b")]
    assert np.allclose(logits, arrays["heads.bias"], atol=1e-6)
    assert record["accept"] == (arrays["heads.bias"][0] > 0)


def test_gru_shapes_are_checked(tmp_path):
    _, arrays = torch_model("gru", 1)
    arrays["weight_hh_l0"] = arrays["weight_hh_l0"][:10]
    with pytest.raises(UserError, match=r"nn.GRU layout"):
        model_from_arrays(arrays)


def test_verify_finds_a_short_counterexample_in_a_random_gru():
    model = model_from_arrays(torch_model("gru", 2)[1])
    grammar = load_grammar("tomita1").with_changes(alphabet=("a", "b", "c"), states=("q0",), start="q0",
                                                   accept=frozenset({"q0"}), transitions=(("q0", "a", "q0"),))
    report = verify(model, grammar, max_len=4, examples=20)
    assert not report.passed and len(report.counterexample.word) <= 2


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_trained_gru_and_rnn_extract_to_their_grammar_or_a_real_error(cell, tmp_path):
    g = load_grammar("tomita4")
    model, result = train(g, TrainConfig(task="accept", cell=cell, hidden=8, samples=1500, epochs=150))
    assert result.accuracy == 1.0 and model.cell == cell
    save_model(model, tmp_path / "m.npz")
    extracted = extract(load_model(tmp_path / "m.npz")).grammar
    verdict = judge(model, extracted, g)
    assert verdict.status in ("proven", "agrees", "fails")
    if verdict.status in ("proven", "agrees"):
        assert equivalent(extracted, g)
    else:
        assert verdict.counterexample is not None


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_gru_and_rnn_workbooks_recalculate_to_the_runtime_in_libreoffice_and_gnumeric(cell, tmp_path):
    model = model_from_arrays(torch_model(cell, 2)[1])
    word = tuple("abcab" * 8)
    write_workbook(model, tmp_path / f"{cell}.xlsx", "".join(word), steps=40)
    for recalculated in (recalculate([tmp_path / f"{cell}.xlsx"], tmp_path / "out")[0],
                         recalculate_gnumeric([tmp_path / f"{cell}.xlsx"], tmp_path / "gnumeric")[0]):
        assert error_cells(recalculated) == []
        assert compare(libreoffice_values(recalculated), model, word) < 1e-9


def test_gru_workbook_formulas_follow_pytorch(tmp_path):
    model = model_from_arrays(torch_model("gru", 1)[1])
    write_workbook(model, tmp_path / "g.xlsx", "abc", steps=3)
    assert compare(formulas_values(tmp_path / "g.xlsx"), model, tuple("abc")) < 1e-9
