"""The documented .npz format: round trips, PyTorch compatibility, and clear errors for bad files."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from fsm_lstm.compiler import compile_grammar
from fsm_lstm.errors import ModelError
from fsm_lstm.generate import walks
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.model import load_model, save_model
from fsm_lstm.runtime import run


def torch_heads(model, strings: np.ndarray) -> np.ndarray:
    """Decoded heads from torch.nn.LSTM loaded with the file's arrays by their PyTorch names."""
    path_arrays = model.arrays()
    layers = len(model.layers)
    lstm = torch.nn.LSTM(len(model.alphabet), model.hidden_size, num_layers=layers)
    state = {k: torch.from_numpy(v) for k, v in path_arrays.items() if not k.startswith("heads.")}
    lstm.load_state_dict(state)
    head = torch.nn.Linear(model.hidden_size, len(model.heads))
    head.load_state_dict({"weight": torch.from_numpy(path_arrays["heads.weight"]),
                          "bias": torch.from_numpy(path_arrays["heads.bias"])})
    x = torch.nn.functional.one_hot(torch.from_numpy(strings.T), len(model.alphabet)).float()
    with torch.no_grad():
        out, _ = lstm(x)
        logits = head(torch.cat([torch.zeros(1, *out.shape[1:]), out]))
    return logits.numpy() > 0


def test_save_load_round_trip_is_exact_and_needs_no_pickle(tmp_path):
    model = compile_grammar(load_grammar("reber"))
    path = tmp_path / "reber.npz"
    save_model(model, path)
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        assert data["weight_ih_l0"].shape == (4 * 13, 7) and data["weight_hh_l0"].shape == (52, 13)
        assert data["heads.weight"].shape == (len(meta["heads"]), 13)
    assert meta["alphabet"] == list("BTPSXVE") and meta["cell"] == "lstm"
    assert "edge s1 -S-> s1" in meta["units"] and "next:E" in meta["heads"]
    back = load_model(path)
    for name, arr in model.arrays().items():
        assert np.array_equal(back.arrays()[name], arr)
    assert back.meta == model.meta


@pytest.mark.parametrize("name", ["reber", "embedded_reber", "tomita3", "experiment2"])
def test_torch_lstm_with_the_same_arrays_decodes_identically(name):
    g = load_grammar(name)
    model = compile_grammar(g)
    strings = walks(g, np.random.default_rng(1), 16, 300, leave=0.02)
    assert np.array_equal(torch_heads(model, strings), run(model, strings).decoded())


def test_multi_layer_random_lstm_matches_torch_logits():
    """The runtime is a faithful nn.LSTM for any weights and layers, not only compiled ones."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 5, num_layers=2)
    arrays = {k: v.detach().numpy() for k, v in lstm.state_dict().items()}
    arrays["heads.weight"] = np.random.default_rng(0).normal(size=(2, 5)).astype(np.float32)
    arrays["heads.bias"] = np.zeros(2, np.float32)
    arrays["meta"] = np.array(json.dumps({"alphabet": ["a", "b", "c"], "heads": ["accept", "next:a"],
                                          "units": [f"u{k}" for k in range(5)], "cell": "lstm"}))
    from fsm_lstm.model import model_from_arrays
    model = model_from_arrays(arrays)
    strings = np.random.default_rng(2).integers(0, 3, size=(7, 40))
    x = torch.nn.functional.one_hot(torch.from_numpy(strings.T), 3).double()
    with torch.no_grad():
        out, _ = lstm.double()(x)
    ours = run(model, strings, dtype=np.float64, record=True)
    assert np.allclose(ours.h[-1][1:], out.numpy(), atol=1e-6)


def write(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("mutate, needle", [
    (lambda a: a.pop("meta"), "no `meta`"),
    (lambda a: a.update(meta=np.array("{not json")), "not valid JSON"),
    (lambda a: a.update(meta=np.array("[" * 200_000 + "]" * 200_000)), "not valid JSON"),  # RecursionError: exit 3
    (lambda a: a.update(meta=np.array('{"alphabet": ' + "9" * 5000 + "}")), "not valid JSON"),  # int limit: exit 3
    (lambda a: a.update(weight_hh_l0=a["weight_hh_l0"][:, :-1]), "weight_hh_l0 has shape"),
    (lambda a: a.update(meta=np.array([str(a["meta"])])), "`meta` is an array of shape (1,)"),  # "not valid JSON"
    # no hidden units: every command but certify crashed (exit 3)
    (lambda a: (a.update({k: np.zeros(s, np.float32) for k, s in (("weight_ih_l0", (0, 7)), ("weight_hh_l0", (0, 0)),
                ("bias_ih_l0", (0,)), ("bias_hh_l0", (0,)), ("heads.weight", (len(a["heads.bias"]), 0)))}),
                a.update(meta=np.array(json.dumps({**json.loads(str(a["meta"])), "units": []})))),
     "layer 0 has no hidden units"),
    # Reber's network has 13 units and 7 symbols: a wrong row count must not change what H is said to be
    (lambda a: a.update(weight_hh_l0=a["weight_hh_l0"][:-4]), "expected (52, 13) (4H x H with H=13, K=7,"),
    (lambda a: a.update(weight_ih_l0=a["weight_ih_l0"][:, :-1]), "expected (52, 7) (4H x K with H=13, K=7,"),
    (lambda a: a.update(weight_hh_l0=a["weight_hh_l0"][:, :-1]), "expected (52, 13) (4H x H with H=13, K=7,"),
    (lambda a: a["bias_ih_l0"].__setitem__(0, np.nan), "NaN"),
    (lambda a: a.update(meta=np.array(json.dumps({**json.loads(str(a["meta"])), "cell": "transformer"}))),
     "unknown cell"),
    (lambda a: a.pop("heads.bias"), "heads.bias"),
    (lambda a: a.update(meta=np.array(json.dumps({**json.loads(str(a["meta"])), "units": ["x"]}))),
     "for the last layer"),
    (lambda a: a.update(meta=np.array(json.dumps({**json.loads(str(a["meta"])), "heads": ["weird"] * 16}))),
     "is not 'accept'"),
    (lambda a: a.update(meta=np.array(json.dumps({**json.loads(str(a["meta"])),
                                                  "heads": ["accept"] * 2 + json.loads(str(a["meta"]))["heads"][2:]}))),
     "names 'accept' twice"),
])
def test_bad_model_files_get_clear_errors(tmp_path, mutate, needle):
    arrays = compile_grammar(load_grammar("reber")).arrays()
    arrays = {k: v.copy() for k, v in arrays.items()}
    arrays["meta"] = np.array(json.dumps(compile_grammar(load_grammar("reber")).meta))
    mutate(arrays)
    path = write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelError) as info:
        load_model(path)
    assert needle in str(info.value) and str(path) in str(info.value) and "\n" not in str(info.value)


def test_not_a_model_file(tmp_path):
    path = tmp_path / "x.npz"
    path.write_text("hello")
    with pytest.raises(ModelError, match="not a model .npz"):
        load_model(path)
    with pytest.raises(ModelError, match="no such model file"):
        load_model(tmp_path / "absent.npz")


def test_save_model_is_atomic_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "m.npz"
    target.write_bytes(b"precious")
    with pytest.raises(Exception):
        save_model("not a model", target)  # type: ignore[arg-type]
    assert target.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


@pytest.mark.parametrize("edit, needle", [
    (lambda a: a.update(weight_ih_l2=a["weight_ih_l0"]), "weight_ih_l2 belongs to no layer: the layers are l0 to l0"),
    (lambda a: a.update(bias_hh_l1=a["bias_hh_l0"]), "bias_hh_l1 belongs to no layer"),
])
def test_an_array_of_no_layer_is_refused_not_left_out(edit, needle, tmp_path):
    """weight_ih_l2 beside a one-layer model was left out without a word (certify then passed)."""
    arrays = {k: v.copy() for k, v in compile_grammar(load_grammar("reber")).arrays().items()}
    arrays["meta"] = np.array(json.dumps(compile_grammar(load_grammar("reber")).meta))
    edit(arrays)
    with pytest.raises(ModelError, match=needle):
        load_model(write(tmp_path / "m.npz", **arrays))


def test_an_array_held_twice_is_refused(tmp_path):
    """Two weight_hh_l0.npy members: numpy's last one won, silently."""
    import zipfile

    path = tmp_path / "m.npz"
    save_model(compile_grammar(load_grammar("reber")), path)
    with zipfile.ZipFile(path) as z:
        member = z.read("weight_hh_l0.npy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name
        with zipfile.ZipFile(path, "a") as z:
            z.writestr("weight_hh_l0.npy", member)
    with pytest.raises(ModelError, match="holds array weight_hh_l0 twice"):
        load_model(path)
