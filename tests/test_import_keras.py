"""Import of Keras models (.keras archives and legacy .h5): exact, or one clear line and exit 2.

Hand-written files (h5py, in the layouts Keras writes) are checked against a numpy re-implementation of Keras'
documented equations (tests/keras_files.py) and always run; real Keras files (Keras 3 on the torch backend) are
checked against Keras itself when Keras is installed."""

from __future__ import annotations

import io
import itertools
import json
import os
import signal
import time
import warnings
import zipfile

import h5py
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fsm_lstm import h5_snapshot
from fsm_lstm.cli import main
from fsm_lstm.errors import UserError
from fsm_lstm.import_keras import cell_weights
from fsm_lstm.importer import read_model
from fsm_lstm.model import load_model
from fsm_lstm.runtime import run
from tests.keras_files import keras_forward, model_config, random_layers, write_h5, write_keras
from tests.test_import_torch import cli_error, run_verify_extract, words

CELLS = ("LSTM", "GRU", "SimpleRNN")
PYTORCH = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "rnn"}


def expected(layers, K, strings, labels: int):
    """(logits, decisions) the source means after every prefix: (T, B, M) each, from Keras' equations."""
    z, y = keras_forward([(c, {**cfg, "return_sequences": True} if c in CELLS else cfg, w)
                          for c, cfg, w in layers], K, strings)  # every step: step t is the prefix of length t+1
    act = layers[-1][1].get("activation", "linear")
    if z.shape[-1] == 2 and labels == 1 and act in ("linear", "softmax"):
        logits, decisions = z[..., 1:] - z[..., :1], (y[..., 1:] > 0.5 if act == "softmax" else z[..., 1:] > z[..., :1])
    elif act == "softmax":
        logits, decisions = np.stack([z[..., 0] - z[..., 1], z[..., 1] - z[..., 0]], -1), y > 0.5
    else:
        logits, decisions = z, (y > 0.5 if act == "sigmoid" else y > 0 if act == "tanh" else z > 0)
    return logits.transpose(1, 0, 2), decisions.transpose(1, 0, 2)


def check_same(model, layers, K, strings, labels, atol: float = 1e-5, margin: float = 0.0) -> None:
    """Our float32 logits agree with the float64 equations to ``atol``, and every decoded head agrees (for
    random searches: every head whose logit is farther than ``margin`` from 0, beyond float32 rounding)."""
    logits, decisions = expected(layers, K, strings, labels)
    got = run(model, strings).heads[1:]
    assert got.shape == logits.shape
    assert np.allclose(got, logits, atol=atol), np.abs(got - logits).max()
    clear = np.abs(logits) > margin
    assert np.array_equal((got > 0)[clear], decisions[clear])


def write(kind: str, tmp_path, layers, K, **kw):
    if kind == "keras":
        return write_keras(tmp_path / "m.keras", layers, K, **kw)
    return write_h5(tmp_path / "m.h5", layers, K, **{k: v for k, v in kw.items() if k != "functional"})


VARIANTS = {  # name: (K, hidden, dense, activation, embedding, use_bias, labels, functional)
    "one-hot, 2 dense, sigmoid": (4, [5, 3], [6, 3], "sigmoid", None, True, 3, False),
    "embedding, 2-way softmax, 1 label": (5, [4], [2], "softmax", 3, True, 1, True),
    "embedding, 2-way softmax, 2 labels": (3, [4, 4], [2], "softmax", 6, True, 2, False),
    "no biases, linear, 2 outputs 1 label": (2, [3], [4, 2], "linear", None, False, 1, True),
}


@pytest.mark.parametrize("kind", ["keras", "h5"])
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_hand_written_files_match_the_keras_equations(kind, cell, variant, tmp_path, capsys):
    K, hidden, dense, act, emb, bias, labels, functional = VARIANTS[variant]
    rng = np.random.default_rng(len(variant) + len(cell))
    layers = random_layers(rng, cell, K, hidden, dense, act, emb, bias)
    path = write(kind, tmp_path, layers, K, functional=functional)
    alphabet = " ".join(f"s{k}" for k in range(K))
    heads = " ".join(["accept", "state:a", "state:b"][:labels])
    assert main(["import", str(path), "-o", str(tmp_path / "m.npz"), "--alphabet", alphabet, "--heads", heads]) == 0
    out = capsys.readouterr().out
    model = load_model(tmp_path / "m.npz")
    assert model.cell == PYTORCH[cell] and len(model.layers) == len(hidden)
    sizes = ", ".join(map(str, hidden)) if len(set(hidden)) > 1 else str(hidden[0])  # each layer's, when they differ
    assert f" with {len(hidden)} layer{'s' if len(hidden) > 1 else ''} of {sizes} units," in out
    assert model.extra["imported"]["format"] == ("keras" if kind == "keras" else "keras-h5")
    assert len(model.extra["imported"]["layers"]) == len(layers)
    if len(dense) > 1:
        assert "composed" in out
    if emb:
        assert "folded" in out
    check_same(model, layers, K, words(K, seed=K), labels)


@settings(max_examples=25, deadline=None)
@given(cell=st.sampled_from(CELLS), K=st.integers(1, 5), hidden=st.lists(st.integers(1, 5), min_size=1, max_size=2),
       dense=st.lists(st.integers(1, 4), min_size=1, max_size=2),
       act=st.sampled_from(["linear", "sigmoid", "tanh", "softmax"]),
       emb=st.one_of(st.none(), st.integers(1, 4)), bias=st.booleans(), kind=st.sampled_from(["keras", "h5"]),
       seed=st.integers(0, 2**16))
def test_random_keras_models_import_exactly(cell, K, hidden, dense, act, emb, bias, kind, seed, tmp_path_factory):
    if act == "softmax":
        dense[-1] = 2
    labels = 1 if dense[-1] == 2 and act in ("linear", "softmax") and seed % 2 else dense[-1]
    layers = random_layers(np.random.default_rng(seed), cell, K, hidden, dense, act, emb, bias)
    folder = tmp_path_factory.mktemp("k")
    path = write(kind, folder, layers, K, functional=bool(seed % 3 == 0))
    model = read_model(path, [f"s{k}" for k in range(K)], [f"state:q{k}" for k in range(labels)])
    check_same(model, layers, K, words(K, seed=seed, count=50), labels, atol=3e-5, margin=1e-4)


def test_last_step_only_models_are_final_only(tmp_path, capsys):
    rng = np.random.default_rng(7)
    layers = random_layers(rng, "LSTM", 3, [4, 4], [1])
    layers[1] = (layers[1][0], {**layers[1][1], "return_sequences": False}, layers[1][2])
    path = write_h5(tmp_path / "m.h5", layers, 3)
    assert main(["import", str(path), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c", "--heads", "accept"]) == 0
    assert "last step" in capsys.readouterr().out
    model = load_model(tmp_path / "m.npz")
    assert model.extra["final_only"] is True
    strings = words(3)
    for length in (1, 7, 30):  # the model's one output for each prefix is our heads after its last symbol
        z, _ = keras_forward(layers, 3, strings[:, :length])
        assert np.allclose(run(model, strings[:, :length]).heads[-1], z[:, -1], atol=1e-5)


def test_an_activation_layer_after_a_dense_layer(tmp_path):
    layers = random_layers(np.random.default_rng(10), "LSTM", 3, [4], [2], "linear")
    with_layer = layers + [("Activation", {"activation": "softmax"}, {})]
    path = write_keras(tmp_path / "m.keras", with_layer, 3)
    model = read_model(path, "a b c".split(), ["accept"])
    assert model.extra["imported"]["layers"][-1] == "activation (Activation)"
    check_same(model, _with(layers, 1, activation="softmax"), 3, words(3), 1)


def test_masking_that_never_masks_is_read(tmp_path):
    rng = np.random.default_rng(8)
    layers = random_layers(rng, "GRU", 3, [4], [2], "linear")
    masked = [("Masking", {"mask_value": 0.0}, {})] + layers
    path = write_keras(tmp_path / "m.keras", masked, 3)
    model = read_model(path, "a b c".split(), ["accept", "next:a"])
    assert any("Masking" in n for n in model.extra["imported"]["notes"])
    check_same(model, layers, 3, words(3), 2)


@pytest.mark.parametrize("kind", ["keras", "h5"])
def test_multi_layer_files_run_verify_and_extract(kind, tmp_path, capsys):
    layers = random_layers(np.random.default_rng(12), "GRU", 2, [3, 3], [1], embedding=2)
    z, _ = keras_forward(layers, 2, np.array([[0, 1, 1, 0]]))
    run_verify_extract(write(kind, tmp_path, layers, 2), tmp_path, capsys, (z[0, :, 0] > 0).tolist())


# ----- refusals ------------------------------------------------------------------------------------------------
def _layers(cell="LSTM", **kw):
    return random_layers(np.random.default_rng(9), cell, 3, [4], [2], **kw)


def _with(layers, index, **cfg):
    out = list(layers)
    cls, old, w = out[index]
    out[index] = (cls, {**old, **cfg}, w)
    return out


def _config_edit(fn):
    def make(layers):
        config = model_config(layers, 3)
        fn(config["config"]["layers"])
        return config
    return make


REFUSED = {
    "gru reset_after=False": (lambda: _with(_layers("GRU"), 0, reset_after=False), None, "reset_after=False"),
    "hard_sigmoid": (lambda: _with(_layers(), 0, recurrent_activation="hard_sigmoid"), None,
                     "hard_sigmoid differs): retrain with recurrent_activation='sigmoid'"),
    "relu rnn": (lambda: _with(_layers("SimpleRNN"), 0, activation="relu"), None,
                 "activation relu; fsm-lstm runs tanh only (PyTorch's cells): retrain with activation='tanh'"),
    "go_backwards": (lambda: _with(_layers(), 0, go_backwards=True), None, "retrain with go_backwards=False"),
    "stateful": (lambda: _with(_layers(), 0, stateful=True), None, "a model built with stateful=False"),
    "time_major": (lambda: _with(_layers("GRU"), 0, time_major=True), None,  # tf.keras 2 writes it (trial 106)
                   "time_major=True; it reads its input time first"),
    "relu head": (lambda: _with(_layers(), 1, activation="relu"), None, "activation relu"),
    "softmax over 3": (lambda: random_layers(np.random.default_rng(1), "LSTM", 3, [4], [3], "softmax"), None,
                       "softmax over 3"),
    "relu between dense": (lambda: _with(random_layers(np.random.default_rng(1), "GRU", 3, [4], [3, 2]), 1,
                                         activation="relu"), None,
                           "can be composed with the next one, and the heads must be one affine map of the units"),
    "mask_zero": (lambda: _with(_layers(embedding=2), 0, mask_zero=True), None, "mask_zero"),
    "masking that masks": (lambda: (lambda ls: [ls[0], ("Masking", {"mask_value": 0.25}, {}), *ls[1:]])(
        _layers(embedding=2)), None, None),
    "bidirectional": (_layers, _config_edit(lambda ls: ls[1].update(class_name="Bidirectional")),
                      "Bidirectional; it also reads right to left, which no left-to-right network can hold; retrain"),
    "lambda": (_layers, _config_edit(lambda ls: ls.insert(1, {"class_name": "Lambda", "module": "keras.layers",
                                                              "config": {"name": "fn", "function": "..."}})),
               "never executes"),
    "custom": (_layers, _config_edit(lambda ls: ls[1].update(module="my_project.layers", registered_name="X>LSTM")),
               "custom object"),
    "mixed precision": (_layers, _config_edit(lambda ls: ls[1]["config"]["dtype"]["config"].update(
        name="mixed_float16")), "mixed_float16"),
    "conv": (_layers, _config_edit(lambda ls: ls.insert(1, {"class_name": "Conv1D", "config": {"name": "c"}})),
             "Conv1D"),
    "subclassed": (_layers, lambda layers: {"class_name": "MyModel", "config": {}}, "subclassed"),
    "stacked cells listing none": (_layers, _config_edit(lambda ls: _stacked(ls, [])), "lists no cells"),
    "a stacked custom cell": (_layers, _config_edit(lambda ls: _stacked(ls, [{"class_name": "PeepholeLSTMCell",
                                                                               "config": {"units": 4}}])),
                              "is an RNN of PeepholeLSTMCell; fsm-lstm reads an RNN of LSTMCell, GRUCell"),
    "a stack in a stack": (_layers, _config_edit(lambda ls: _stacked(ls, [{"class_name": "StackedRNNCells",
                                                                           "config": {"cells": [ls[1]]}}])),
                           "is an RNN of stacked cells that holds another stack; fsm-lstm reads one stack"),
    "weights of one cell of two": (_layers, _config_edit(lambda ls: _stacked(ls, [ls[1], ls[1]])), "layer 'lstm'"),
    "a TimeDistributed LoRA Dense": (_layers, _config_edit(lambda ls: ls.__setitem__(2, {
        "class_name": "TimeDistributed", "module": "keras.layers", "registered_name": None,
        "config": {"name": ls[2]["config"]["name"], "layer": {**ls[2], "config": {**ls[2]["config"], "lora_rank": 1}}}
    })), "has lora_rank set; quantized or LoRA layers are not read exactly"),
}


def test_the_weights_of_stacked_cells_are_told_apart_by_their_paths():
    """Legacy .h5 and TF.js list a stacked RNN's weights under one path per cell, in the cells' order; a count of
    paths other than the cells' is refused."""
    names = ["rnn/cells/lstm_cell/kernel", "rnn/cells/lstm_cell/bias", "rnn/cells/lstm_cell_1/kernel",
             "rnn/cells/lstm_cell_1/bias"]
    assert cell_weights("rnn", names, (0, 2)) == names[:2] and cell_weights("rnn", names, (1, 2)) == names[2:]
    for count in (1, 3):
        with pytest.raises(UserError, match=f"stores weights for 2 cell.s. under as many paths, and its config "
                                            f"stacks {count}"):
            cell_weights("rnn", names, (0, count))


def _stacked(records: list, cells: list) -> None:
    """Turn the recurrent layer (records[1]) into an RNN of a StackedRNNCells of ``cells``, keeping its name (and
    so its stored weights, which are one cell's)."""
    cells = [{"class_name": f"{c['class_name']}Cell", "config": c["config"]} if c.get("class_name") == "LSTM" else c
             for c in cells]
    records[1] = {"class_name": "RNN", "module": "keras.layers", "registered_name": None, "config": {
        "name": records[1]["config"]["name"], "return_sequences": True,
        "cell": {"class_name": "StackedRNNCells", "module": "keras.layers", "registered_name": None,
                 "config": {"cells": cells}}}}


@pytest.mark.parametrize("kind", ["keras", "h5"])
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_unrepresentable_models_are_refused_by_name(case, kind, tmp_path, capsys):
    make_layers, make_config, needle = REFUSED[case]
    layers = make_layers()
    config = make_config(layers) if make_config else None
    if case == "masking that masks":  # the Masking value equals a whole embedding row
        layers[0][2]["embeddings"][1] = 0.25
        needle = "masks some symbol"
    path = write(kind, tmp_path, layers, 3, config=config)
    heads = "accept next:a" if case != "softmax over 3" else "accept next:a next:b"
    err = cli_error(["import", str(path), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c", "--heads", heads],
                    capsys)
    assert needle in err and str(path) in err
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("kind", ["keras", "h5"])
@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_a_softmax_over_a_machines_outputs_is_read_by_its_largest_probability(kind, cell, tmp_path):
    """Every output labelled out:VALUE: the output is Keras's argmax (numpy's of its softmax, from the Keras
    equations), after every symbol; a tie is measure-zero for random weights."""
    layers = random_layers(np.random.default_rng(4), cell, 3, [5], [4], "softmax")
    path = write(kind, tmp_path, layers, 3)
    model = read_model(path, ["a", "b", "c"], ["out:w", "out:x", "out:y", "out:z"])
    assert model.argmax_outputs
    strings = np.random.default_rng(5).integers(0, 3, size=(200, 12))
    _, probabilities = keras_forward(layers, 3, strings)
    said = run(model, strings).heads[1:].transpose(1, 0, 2) > 0  # (B, T, 4): the margins' signs
    assert np.array_equal(said, probabilities.argmax(-1)[..., None] == np.arange(4))


def _keras_bytes(tmp_path):
    return write_keras(tmp_path / "good.keras", _layers(), 3).read_bytes()


def _put(path, data: bytes):
    path.write_bytes(data)
    return path


def _rezip(tmp_path, name, drop=(), replace=None, extra=()):
    """The test's .keras archive with members dropped, replaced, or (``extra``) added after the others."""
    with zipfile.ZipFile(io.BytesIO(_keras_bytes(tmp_path))) as src, zipfile.ZipFile(tmp_path / name, "w") as dst:
        for item in src.namelist():
            if item in drop:
                continue
            dst.writestr(item, (replace or {}).get(item, src.read(item)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns of a duplicate name
            for item, data in extra:
                dst.writestr(item, data)
    return tmp_path / name


def _weights_edit(tmp_path, name, fn):
    with zipfile.ZipFile(io.BytesIO(_keras_bytes(tmp_path))) as src:
        data = src.read("model.weights.h5")
    buf = io.BytesIO(data)
    with h5py.File(buf, "a") as f:
        fn(f)
    return _rezip(tmp_path, name, replace={"model.weights.h5": buf.getvalue()})


def _replace_dataset(path, make):
    def fn(f):
        del f[path]
        make(f, path)
    return fn


BAD_ARCHIVES = {
    "not a zip": (lambda p: _put(p / "x.keras", b"PK\x03\x04 garbage"), "not a .keras"),
    "truncated": (lambda p: _put(p / "x.keras", _keras_bytes(p)[:300]), "not a .keras"),
    "empty": (lambda p: _put(p / "x.keras", b""), "not a .keras"),
    "no config": (lambda p: _rezip(p, "x.keras", drop=("config.json",)), "needs config.json"),
    "no weights": (lambda p: _rezip(p, "x.keras", drop=("model.weights.h5",)), "needs model.weights.h5"),
    "config not json": (lambda p: _rezip(p, "x.keras", replace={"config.json": b"{nope"}), "not valid JSON"),
    "config a list": (lambda p: _rezip(p, "x.keras", replace={"config.json": b"[]"}), "not a JSON object"),
    "config twice": (lambda p: _rezip(p, "x.keras", extra=[("config.json", b"{}")]), "holds config.json twice"),
    "no class": (lambda p: _rezip(p, "x.keras", replace={"config.json": b'{"config": {}}'}), "names no class_name"),
    "weights not h5": (lambda p: _rezip(p, "x.keras", replace={"model.weights.h5": b"hello"}), "not an HDF5"),
    "wrong shape": (lambda p: _weights_edit(p, "x.keras", _replace_dataset(
        "layers/lstm/cell/vars/0", lambda f, k: f.create_dataset(k, data=np.zeros((3, 15), "f4")))), "shape (3, 15)"),
    "1-D kernel": (lambda p: _weights_edit(p, "x.keras", _replace_dataset(
        "layers/lstm/cell/vars/0", lambda f, k: f.create_dataset(k, data=np.zeros(48, "f4")))), "shape (48,)"),
    "int weights": (lambda p: _weights_edit(p, "x.keras", _replace_dataset(
        "layers/dense/vars/1", lambda f, k: f.create_dataset(k, data=np.zeros(2, "i4")))), "int32"),
    "nan": (lambda p: _weights_edit(p, "x.keras", _replace_dataset(
        "layers/dense/vars/1", lambda f, k: f.create_dataset(k, data=np.array([np.nan, 0], "f4")))), "NaN"),
    "huge declared shape": (lambda p: _weights_edit(p, "x.keras", _replace_dataset(
        "layers/dense/vars/1", lambda f, k: f.create_dataset(k, shape=(1 << 31,), dtype="f4"))), "declares"),
    "external link": (lambda p: _weights_edit(p, "x.keras", _replace_dataset(
        "layers/dense/vars/1", lambda f, k: f.__setitem__(k, h5py.ExternalLink("/etc/passwd", "/x")))),
        "follows no links"),
    "soft link": (lambda p: _weights_edit(p, "x.keras", _replace_dataset(
        "layers/dense/vars/1", lambda f, k: f.__setitem__(k, h5py.SoftLink("/layers/lstm/cell/vars/2")))),
        "follows no links"),
    "missing var": (lambda p: _weights_edit(p, "x.keras", lambda f: f.__delitem__("layers/dense/vars/1")),
                    "stored variables"),
    "renamed layer": (lambda p: _weights_edit(p, "x.keras",
                                              lambda f: f["layers/lstm/vars"].attrs.__setitem__("name", "other")),
                      "holds layer 'other'"),
}


@pytest.mark.parametrize("case", sorted(BAD_ARCHIVES))
def test_bad_keras_archives_get_one_line(case, tmp_path, capsys):
    make, needle = BAD_ARCHIVES[case]
    path = make(tmp_path)
    err = cli_error(["import", str(path), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c", "--heads",
                     "accept next:a"], capsys)
    assert needle in err


def test_bad_legacy_h5_files_get_one_line(tmp_path, capsys):
    layers = _layers()
    (tmp_path / "garbage.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 50)
    with h5py.File(tmp_path / "weights_only.h5", "w") as f:
        f.attrs["layer_names"] = np.array([b"lstm"])
    write_h5(tmp_path / "no_group.h5", layers, 3)
    with h5py.File(tmp_path / "no_group.h5", "a") as f:
        del f["model_weights"]
    write_h5(tmp_path / "bad_json.h5", layers, 3)
    with h5py.File(tmp_path / "bad_json.h5", "a") as f:
        f.attrs["model_config"] = "{not json"
    write_h5(tmp_path / "missing.h5", layers, 3)
    with h5py.File(tmp_path / "missing.h5", "a") as f:
        del f["model_weights/dense"]
    write_h5(tmp_path / "empty.h5", layers, 3)
    with h5py.File(tmp_path / "empty.h5", "a") as f:  # a dataspace of no shape was "0 numbers, at most 67,108,864"
        names = []
        f["model_weights"].visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        del f["model_weights"][names[0]]
        f["model_weights"].create_dataset(names[0], data=h5py.Empty("f4"))
    write_h5(tmp_path / "cut.h5", layers, 3)
    data = (tmp_path / "cut.h5").read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 3])
    for name, needle in (("garbage", "not an HDF5"), ("weights_only", "weights only"), ("no_group", "model_weights"),
                         ("bad_json", "not valid JSON"), ("missing", "no group for layer 'dense'"),
                         ("empty", "has an empty dataspace (no shape, no numbers)"), ("cut", "")):
        err = cli_error(["import", str(tmp_path / f"{name}.h5"), "-o", str(tmp_path / "m.npz"), "--alphabet",
                         "a b c", "--heads", "accept next:a"], capsys)
        assert needle in err


def test_an_hdf5_file_that_hangs_the_hdf5_library(tmp_path, capsys, monkeypatch):
    """16 bytes inserted into model_config's text on the global heap make HDF5 1.14 loop forever in
    attrs['model_config']; the child process that reads it is stopped after TIMEOUT seconds."""
    monkeypatch.setattr(h5_snapshot, "TIMEOUT", 3.0)
    data = write_h5(tmp_path / "good.h5", random_layers(np.random.default_rng(0), "GRU", 3, [4], [2],
                                                        embedding=3), 3).read_bytes()
    at = data.index(b'"use_bias"')
    (tmp_path / "hang.h5").write_bytes(data[:at] + bytes.fromhex("db9b1a37e7b23c2189ac9aa738012682") + data[at:])
    started = time.monotonic()
    cli_error(["import", str(tmp_path / "hang.h5"), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c",
               "--heads", "accept"], capsys)
    assert time.monotonic() - started < 10


def _sleep(source):
    time.sleep(60)


def _crash(source):
    os.kill(os.getpid(), signal.SIGSEGV)


@pytest.mark.parametrize("child, needle", [(_sleep, "longer than 1 s"), (_crash, f"signal {int(signal.SIGSEGV)}")])
def test_a_hanging_or_crashing_hdf5_reader_gives_one_line(child, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(h5_snapshot, "TIMEOUT", 1.0)
    monkeypatch.setattr(h5_snapshot, "_snapshot", child)
    for path in (write_h5(tmp_path / "m.h5", _layers(), 3), write_keras(tmp_path / "m.keras", _layers(), 3)):
        err = cli_error(["import", str(path), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c", "--heads",
                         "accept next:a"], capsys)
        assert needle in err


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_mutated_h5_files_import_or_give_one_user_error(data, tmp_path_factory):
    good = write_h5(tmp_path_factory.mktemp("h") / "m.h5", _layers(), 3).read_bytes()
    at = data.draw(st.integers(0, len(good) - 1))
    change = data.draw(st.sampled_from(["flip", "cut", "insert"]))
    noise = data.draw(st.binary(min_size=1, max_size=16))
    bad = {"flip": good[:at] + noise + good[at + len(noise):], "cut": good[:at],
           "insert": good[:at] + noise + good[at:]}[change]
    path = tmp_path_factory.mktemp("h") / "bad.h5"
    path.write_bytes(bad)
    h5_snapshot.TIMEOUT, before = 5.0, h5_snapshot.TIMEOUT
    try:
        read_model(path, ["a", "b", "c"], ["accept", "next:a"])
    except UserError as exc:
        assert "\n" not in str(exc)
    finally:
        h5_snapshot.TIMEOUT = before


def test_functional_models_must_be_one_chain(tmp_path, capsys):
    layers = _layers()
    config = model_config(layers, 3, functional=True)
    config["config"]["layers"][2]["inbound_nodes"][0]["args"].append(
        {"class_name": "__keras_tensor__", "config": {"keras_history": ["input_layer", 0, 0]}})
    path = write_keras(tmp_path / "m.keras", layers, 3, functional=True, config=config)
    err = cli_error(["import", str(path), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c", "--heads",
                     "accept next:a"], capsys)
    assert "reads 2 layers" in err


# ----- real Keras ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    module = pytest.importorskip("keras")
    import logging

    logging.getLogger("absl").setLevel(logging.ERROR)  # "HDF5 is a legacy format" on every .h5 save
    return module


def _real(keras, cell, embedding, functional, head, last, seed):
    L = keras.layers
    rec = {"LSTM": L.LSTM, "GRU": L.GRU, "SimpleRNN": L.SimpleRNN}[cell]
    keras.utils.set_random_seed(seed)
    inp = keras.Input((None,), dtype="int32") if embedding else keras.Input((None, 4))
    x = L.Embedding(4, 5)(inp) if embedding else L.Masking(0.0)(inp)
    x = rec(6, return_sequences=True)(x)
    x = L.Dropout(0.3)(x)
    x = rec(5, return_sequences=not last)(x)
    x = L.Dense(7)(x)
    out = L.Dense(2, activation="softmax")(x) if head == "softmax" else L.Dense(3, activation="sigmoid")(x)
    model = keras.Model(inp, out)
    if not functional:
        model = keras.Sequential([keras.Input(inp.shape[1:], dtype=inp.dtype), *model.layers[1:]])
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.normal(0, 0.6, size=tuple(w.shape)).astype("float32"))
    return model


def _weights_of(model):
    """The real model's layers as (class, config, weights) triples for the numpy reference."""
    out = []
    for layer in model.layers:
        cls = type(layer).__name__
        if cls in ("InputLayer", "Masking"):
            continue
        cfg = {k: v for k, v in layer.get_config().items() if k in ("units", "activation", "return_sequences")}
        names = {"Embedding": ["embeddings"], "Dense": ["kernel", "bias"]}.get(cls, ["kernel", "recurrent_kernel",
                                                                                   "bias"])
        out.append((cls, cfg, dict(zip(names, [np.asarray(w.numpy()) for w in layer.weights]))))
    return out


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("embedding, functional, head, last", [
    (False, False, "sigmoid", False), (True, True, "softmax", False), (True, False, "softmax", True)])
def test_real_keras_files_import_exactly(keras, cell, embedding, functional, head, last, tmp_path):
    model = _real(keras, cell, embedding, functional, head, last, seed=len(cell))
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.h5")
    strings = words(4, count=200)
    feed = strings if embedding else np.eye(4, dtype="float32")[strings]
    heads = ["accept"] if head == "softmax" else ["accept", "next:a", "next:b"]
    lengths = (1, 9, 30) if last else (30,)
    predicted = {n: model.predict(feed[:, :n], batch_size=len(feed), verbose=0) for n in lengths}
    for path in (tmp_path / "m.keras", tmp_path / "m.h5"):
        ours = read_model(path, list("abcd"), heads)
        assert ours.cell == PYTORCH[cell] and bool(ours.extra.get("final_only")) == last
        for length in lengths:
            y = predicted[length]
            got = run(ours, strings[:, :length]).heads
            got = got[-1] if last else got[1:].transpose(1, 0, 2)
            p = 1 / (1 + np.exp(-got.astype(np.float64)))
            want = y[..., 1:] if head == "softmax" else y
            assert np.allclose(p, want, atol=1e-5)
            assert np.array_equal(got > 0, want > 0.5)
    # the numpy reference of Keras' equations agrees with Keras itself
    z, y_ref = keras_forward(_weights_of(model), 4, strings)
    assert np.allclose(y_ref[:, -1] if last else y_ref, predicted[30], atol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
def test_real_keras_time_distributed_dense_imports_as_a_dense(keras, cell, tmp_path, capsys):
    """TimeDistributed(Dense) is the same Dense at every step (old Keras code writes it for sequence outputs):
    a Keras model Embedding -> recurrent -> TimeDistributed(Dense(6)) -> TimeDistributed(Dropout) ->
    TimeDistributed(Dense(4, softmax)) imports from .keras and .h5 with the output Keras predicts (argmax) after
    every symbol of 200 words; a TimeDistributed of another layer is refused in one line."""
    L = keras.layers
    keras.utils.set_random_seed(3)
    rec = {"LSTM": L.LSTM, "GRU": L.GRU, "SimpleRNN": L.SimpleRNN}[cell]
    model = keras.Sequential([keras.Input((None,), dtype="int32"), L.Embedding(3, 4), rec(5, return_sequences=True),
                              L.TimeDistributed(L.Dense(6)), L.TimeDistributed(L.Dropout(0.2)),
                              L.TimeDistributed(L.Dense(4, activation="softmax"))])
    rng = np.random.default_rng(4)
    for w in model.weights:
        w.assign(rng.normal(0, 0.8, size=tuple(w.shape)).astype("float32"))
    strings = words(3, count=200)
    want = model.predict(strings, batch_size=len(strings), verbose=0)  # (B, T, 4)
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.h5")
    for path in (tmp_path / "m.keras", tmp_path / "m.h5"):
        assert main(["import", str(path), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c", "--heads",
                     "out:w out:x out:y out:z"]) == 0
        assert "(TimeDistributed Dense)" in capsys.readouterr().out
        ours = load_model(tmp_path / "m.npz")
        logits = run(ours, strings, raw=True).heads[1:].transpose(1, 0, 2)
        assert np.allclose(np.exp(logits) / np.exp(logits).sum(-1, keepdims=True), want, atol=1e-5)
        clear = np.sort(want, axis=-1)[..., -1] - np.sort(want, axis=-1)[..., -2] > 1e-5  # no near tie
        decided = run(ours, strings).heads[1:].transpose(1, 0, 2) > 0  # the margins: the argmax reading
        assert np.array_equal(decided.argmax(-1)[clear], want.argmax(-1)[clear]) and clear.mean() > 0.99
        assert (decided.sum(-1)[clear] == 1).all()
    other = keras.Sequential([keras.Input((None, 3)), rec(5, return_sequences=True),
                              L.TimeDistributed(L.Dense(2)), L.TimeDistributed(L.Reshape((2, 1)))])
    other.save(tmp_path / "o.keras")
    err = cli_error(["import", str(tmp_path / "o.keras"), "-o", str(tmp_path / "o.npz"), "--alphabet", "a b c",
                     "--heads", "accept"], capsys)
    assert "is a TimeDistributed of Reshape; fsm-lstm reads TimeDistributed Dense, Activation and Dropout" in err


@pytest.mark.parametrize("cell", CELLS)
def test_real_keras_rnn_of_a_cell_imports_as_its_layer(keras, cell, tmp_path, capsys):
    """keras.layers.RNN(LSTMCell(n)) is the LSTM layer of that cell: two such layers (the last returning its last
    step only) import from .keras and .h5 with the verdict Keras predicts after each of 200 words."""
    L = keras.layers
    keras.utils.set_random_seed(5)
    of = {"LSTM": L.LSTMCell, "GRU": L.GRUCell, "SimpleRNN": L.SimpleRNNCell}[cell]
    model = keras.Sequential([keras.Input((None,), dtype="int32"), L.Embedding(3, 4),
                              L.RNN(of(5), return_sequences=True), L.RNN(of(4)), L.Dense(1, activation="sigmoid")])
    rng = np.random.default_rng(6)
    for w in model.weights:
        w.assign(rng.normal(0, 0.8, size=tuple(w.shape)).astype("float32"))
    strings = words(3, count=200)
    for length in (1, 7, 30):
        want = model.predict(strings[:, :length], batch_size=len(strings), verbose=0)[:, 0]
        for path in (tmp_path / "m.keras", tmp_path / "m.h5"):
            if not path.exists():
                model.save(path)
                assert main(["import", str(path), "-o", str(tmp_path / f"{path.suffix[1:]}.npz"), "--alphabet",
                             "a b c", "--heads", "accept"]) == 0
                assert f"(RNN of {cell})" in capsys.readouterr().out
            ours = load_model(tmp_path / f"{path.suffix[1:]}.npz")
            assert ours.extra.get("final_only") and len(ours.layers) == 2
            z = run(ours, strings[:, :length]).heads[-1, :, 0].astype(np.float64)
            assert np.allclose(1 / (1 + np.exp(-z)), want, atol=1e-5)
            assert np.array_equal((z > 0)[np.abs(want - 0.5) > 1e-5], (want > 0.5)[np.abs(want - 0.5) > 1e-5])


@pytest.mark.parametrize("cell", CELLS)
def test_real_keras_rnn_of_stacked_cells_imports_as_stacked_layers(keras, cell, tmp_path, capsys):
    """keras.layers.RNN([cell, cell, cell]) (StackedRNNCells: each cell reads the one below at every step) is three
    stacked layers: one of 5, 3 and 4 units, returning every step, imports from .keras and .h5 with the logits
    Keras predicts after every symbol of 200 words, and two returning the last step only with Keras' verdicts;
    an RNN of two kinds of cell is refused in one line."""
    L = keras.layers
    keras.utils.set_random_seed(7)
    of = {"LSTM": L.LSTMCell, "GRU": L.GRUCell, "SimpleRNN": L.SimpleRNNCell}[cell]
    model = keras.Sequential([keras.Input((None, 3)), L.RNN([of(5), of(3), of(4)], return_sequences=True),
                              L.Dense(2)])
    rng = np.random.default_rng(8)
    for w in model.weights:
        w.assign(rng.normal(0, 0.8, size=tuple(w.shape)).astype("float32"))
    strings = words(3, count=200)
    want = model.predict(np.eye(3, dtype="float32")[strings], batch_size=len(strings), verbose=0)  # (B, T, 2)
    for path in (tmp_path / "m.keras", tmp_path / "m.h5"):
        model.save(path)
        assert main(["import", str(path), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c",
                     "--heads", "out:x out:y"]) == 0
        assert f"(RNN of 3 stacked {cell})" in capsys.readouterr().out
        ours = load_model(tmp_path / "m.npz")
        assert [layer.hidden_size for layer in ours.layers] == [5, 3, 4]
        logits = run(ours, strings, raw=True).heads[1:].transpose(1, 0, 2)
        assert np.allclose(logits, want, atol=1e-5)
    last = keras.Sequential([keras.Input((None, 3)), L.RNN([of(3), of(2)]), L.Dense(1)])  # the last step only
    for w in last.weights:
        w.assign(rng.normal(0, 0.8, size=tuple(w.shape)).astype("float32"))
    last.save(tmp_path / "l.keras")
    assert main(["import", str(tmp_path / "l.keras"), "-o", str(tmp_path / "l.npz"), "--alphabet", "a b c",
                 "--heads", "accept"]) == 0
    ours = load_model(tmp_path / "l.npz")
    assert ours.extra.get("final_only")
    for length in (1, 9):
        want = last.predict(np.eye(3, dtype="float32")[strings[:, :length]], batch_size=len(strings), verbose=0)
        assert np.allclose(run(ours, strings[:, :length], raw=True).heads[-1], want, atol=1e-5)
    one = keras.Sequential([keras.Input((None, 3)), L.RNN(L.StackedRNNCells([of(4)]), return_sequences=True),
                            L.Dense(1)])  # a stack of one cell keeps its weights as a stack does
    want = one.predict(np.eye(3, dtype="float32")[strings], batch_size=len(strings), verbose=0)
    for path in (tmp_path / "one.keras", tmp_path / "one.h5"):
        one.save(path)
        assert main(["import", str(path), "-o", str(tmp_path / "one.npz"), "--alphabet", "a b c",
                     "--heads", "accept"]) == 0
        assert f"(RNN of 1 stacked {cell})" in capsys.readouterr().out
        assert np.allclose(run(load_model(tmp_path / "one.npz"), strings, raw=True).heads[1:].transpose(1, 0, 2), want,
                           atol=1e-5)
    other = {"LSTM": L.GRUCell, "GRU": L.SimpleRNNCell, "SimpleRNN": L.LSTMCell}[cell]
    mixed = keras.Sequential([keras.Input((None, 3)), L.RNN([of(3), other(2)]), L.Dense(1)])
    mixed.save(tmp_path / "s.keras")
    err = cli_error(["import", str(tmp_path / "s.keras"), "-o", str(tmp_path / "s.npz"), "--alphabet", "a b c",
                     "--heads", "accept"], capsys)
    assert "fsm-lstm reads one kind of cell in every layer" in err


def test_real_keras_log_softmax_outputs_and_the_messages_a_keras_user_meets(keras, tmp_path, capsys):
    """A trial's Keras user: Dense(3, log_softmax) over out: labels was refused though the docs read it (it is
    read by argmax, as a softmax is); a 2-way log_softmax with one label is 'output 1 > output 0'; a 3-class
    model without return_sequences was told to leave out --final-only, which it had not given; a ReLU in an
    Activation layer was blamed on the linear Dense before it."""
    L = keras.layers
    keras.utils.set_random_seed(8)
    strings = words(3, count=200)

    def saved(name, *layers):
        model = keras.Sequential([keras.Input((None,), dtype="int32"), L.Embedding(3, 4), *layers])
        rng = np.random.default_rng(len(name))
        for w in model.weights:
            w.assign(rng.normal(0, 0.8, size=tuple(w.shape)).astype("float32"))
        model.save(tmp_path / f"{name}.keras")
        return model, str(tmp_path / f"{name}.keras")

    model, path = saved("logsm", L.GRU(5, return_sequences=True), L.Dense(3, activation="log_softmax"))
    want = model.predict(strings, batch_size=len(strings), verbose=0).argmax(-1)
    assert main(["import", path, "-o", str(tmp_path / "a.npz"), "--alphabet", "a b c", "--heads", "out:x out:y out:z"
                 ]) == 0
    capsys.readouterr()
    margins = run(load_model(tmp_path / "a.npz"), strings).heads[1:].transpose(1, 0, 2)
    assert np.array_equal(margins.argmax(-1), want) and ((margins > 0).sum(-1) == 1).mean() > 0.99
    model, path = saved("logsm2", L.GRU(5, return_sequences=True), L.Dense(2, activation="log_softmax"))
    y = model.predict(strings, batch_size=len(strings), verbose=0)
    assert main(["import", path, "-o", str(tmp_path / "b.npz"), "--alphabet", "a b c", "--heads", "accept"]) == 0
    capsys.readouterr()
    z = run(load_model(tmp_path / "b.npz"), strings).heads[1:, :, 0].T
    assert np.allclose(z, y[..., 1] - y[..., 0], atol=1e-5)  # log p1 - log p0 = z1 - z0
    _, path = saved("last", L.GRU(5), L.Dense(3, activation="softmax"))
    err = cli_error(["import", path, "-o", str(tmp_path / "c.npz"), "--alphabet", "a b c", "--heads",
                     "out:x out:y out:z"], capsys)
    assert "outputs its last step only" in err and "return_sequences=True" in err and "--final-only" not in err
    err = cli_error(["import", path, "-o", str(tmp_path / "c.npz"), "--alphabet", "a b c", "--heads", "accept"],
                    capsys)  # the same advice, not "label every output out:VALUE", which leads back here
    assert "outputs its last step only" in err and "return_sequences=True" in err and "out:VALUE heads" in err
    model, path = saved("relu", L.GRU(5, return_sequences=True), L.Dense(4, name="proj"),
                        L.Activation("relu", name="act"), L.Dense(1))
    err = cli_error(["import", path, "-o", str(tmp_path / "d.npz"), "--alphabet", "a b c", "--heads", "accept"],
                    capsys)
    assert "dense layer 'proj' is followed by activation layer 'act' (relu)" in err, err


def _functional_masked(keras, masking: bool):
    """A real Keras 3 Functional model with a Masking layer (one-hot input) or an Embedding(mask_zero=True):
    Keras writes the mask as NotEqual/Any op nodes passed to the LSTM as its ``mask`` argument."""
    L = keras.layers
    keras.utils.set_random_seed(7)
    inp = keras.Input((None, 3)) if masking else keras.Input((None,), dtype="int32")
    x = L.Masking(0.0)(inp) if masking else L.Embedding(3, 4, mask_zero=True)(inp)
    x = L.LSTM(4, return_sequences=True)(x)
    x = L.LSTM(3, return_sequences=True)(x)
    return keras.Model(inp, L.Dense(1, activation="sigmoid")(x))


def test_real_functional_masking_that_never_masks_is_read_exactly(keras, tmp_path):
    model = _functional_masked(keras, masking=True)
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.h5")  # Keras itself cannot load this one back ("Unknown layer: 'NotEqual'")
    strings = words(3, count=100, longest=12)
    want = model.predict(np.eye(3, dtype="float32")[strings], verbose=0)[..., 0]  # no one-hot row is all 0
    for path in (tmp_path / "m.keras", tmp_path / "m.h5"):
        ours = read_model(path, list("abc"), ["accept"])
        got = run(ours, strings).heads[1:, :, 0].T.astype(np.float64)
        assert np.allclose(1 / (1 + np.exp(-got)), want, atol=1e-5)
        assert np.array_equal(got > 0, want > 0.5)


def test_real_functional_mask_zero_imports_with_its_padding_symbol_unused(keras, tmp_path, capsys):
    """Embedding(mask_zero=True) skips the steps of id 0 (padding). A network that reads every symbol cannot
    skip one, so the import is refused, naming --unused; with id 0's symbol unused the model is exact on every
    word without it (ids 1 and 2, checked against model.predict; a mask never acts there), and the padding
    symbol is out of its alphabet, so verify and extract never try it (a trial's dead end)."""
    model = _functional_masked(keras, masking=False)
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.h5")
    err = cli_error(["import", str(tmp_path / "m.keras"), "-o", str(tmp_path / "m.npz"), "--alphabet", "pad a b",
                     "--heads", "accept"], capsys)
    assert "skips the steps of input 0 ('pad': an Embedding with mask_zero=True)" in err
    assert "import with --unused pad" in err or "import with --unused 'pad'" in err
    strings = 1 + words(2, count=60, longest=10)  # ids 1 and 2 only
    want = model.predict(strings, verbose=0)[..., 0]
    for path in (tmp_path / "m.keras", tmp_path / "m.h5"):
        assert main(["import", str(path), "-o", str(tmp_path / "m.npz"), "--alphabet", "pad a b", "--heads",
                     "accept", "--unused", "pad"]) == 0
        assert "pad left out of the alphabet (--unused)" in capsys.readouterr().out
        ours = load_model(tmp_path / "m.npz")
        assert ours.alphabet == ("a", "b")
        got = run(ours, strings - 1).heads[1:, :, 0].T.astype(np.float64)
        assert np.allclose(1 / (1 + np.exp(-got)), want, atol=1e-5)
    for unused, needle in (("c", "--unused 'c' is not in --alphabet"), ("pad a b", "leaves no symbol")):
        err = cli_error(["import", str(tmp_path / "m.keras"), "-o", str(tmp_path / "x.npz"), "--alphabet", "pad a b",
                         "--heads", "accept", "--unused", unused], capsys)
        assert needle in err


@pytest.mark.parametrize("edit, needle", [
    (lambda ops: ops["NotEqual"]["inbound_nodes"][0]["args"].__setitem__(1, 1.0), "does not belong to a Masking"),
    (lambda ops: ops["Any"]["config"].__setitem__("axis", 1), "reduces axis 1"),
    (lambda ops: ops["Any"].__setitem__("class_name", "Greater"), "masks only from a Masking layer"),
])
def test_masks_other_than_a_masking_layers_are_refused(keras, edit, needle, tmp_path, capsys):
    _functional_masked(keras, masking=True).save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    edit({layer["class_name"]: layer for layer in config["config"]["layers"]})
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "bad.keras", "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    err = cli_error(["import", str(tmp_path / "bad.keras"), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c",
                     "--heads", "accept"], capsys)
    assert needle in err


def _masking_before_embedding(keras, dtype: str, value: float, masking: bool = True):
    """Masking(value) on a word of ids, then Embedding(3, 4), an LSTM and a sigmoid head (real Keras)."""
    L = keras.layers
    keras.utils.set_random_seed(5)
    layers = [L.Masking(value)] if masking else []
    return keras.Sequential([keras.Input((None,), dtype=dtype), *layers, L.Embedding(3, 4),
                             L.LSTM(4, return_sequences=True), L.Dense(1, activation="sigmoid")])


@pytest.mark.parametrize("dtype", ["int32", "float32"])
@pytest.mark.parametrize("value", [0.0, 1.0, 2.0, 3.0, 0.5])
def test_masking_before_an_embedding_is_read_exactly_when_keras_ignores_it(keras, dtype, value, tmp_path, capsys):
    """Keras decides: the model is read exactly when Keras gives every word up to length 3 the same answers as
    the model without the Masking layer, and refused in one line otherwise (Masking compares a whole word of
    ids with mask_value, and zeroes a word made only of that id)."""
    model = _masking_before_embedding(keras, dtype, value)
    plain = _masking_before_embedding(keras, dtype, value, masking=False)
    plain.set_weights(model.get_weights())
    every = [np.array(list(itertools.product(range(3), repeat=n))) for n in (1, 2, 3)]
    want = [model.predict(w.astype(dtype), verbose=0)[..., 0] for w in every]
    ignored = all(np.allclose(y, plain.predict(w.astype(dtype), verbose=0)[..., 0], atol=1e-7)
                  for w, y in zip(every, want))
    assert ignored == (value not in (1.0, 2.0))  # symbols 1 and 2 are the ids a masked word turns into 0
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.h5")
    capsys.readouterr()  # Keras' own warnings
    for path in (tmp_path / "m.keras", tmp_path / "m.h5"):
        argv = ["import", str(path), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c", "--heads", "accept"]
        if not ignored:
            assert f"turns a word made only of symbol {value:g} into symbol 0's word" in cli_error(argv, capsys)
            continue
        assert main(argv) == 0
        ours = load_model(tmp_path / "m.npz")
        for w, y in zip(every, want):
            got = run(ours, w).heads[1:, :, 0].T.astype(np.float64)
            assert np.allclose(1 / (1 + np.exp(-got)), y, atol=1e-6)
            assert np.array_equal(got > 0, y > 0.5)


def test_a_fixed_number_of_time_steps_imports_with_a_note(keras, tmp_path):
    """keras.Input((10, 4)) fixes the length Keras was built for; the import says fsm-lstm runs every length, and
    at that length its heads are Keras's."""
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((10, 4)), keras.layers.GRU(5, return_sequences=True),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.save(tmp_path / "m.keras")
    ours = read_model(tmp_path / "m.keras", list("abcd"), ["accept"])
    assert any("the input declares 10 time steps" in n for n in ours.extra["imported"]["notes"])
    strings = words(4, count=50)[:, :10]
    y = model.predict(np.eye(4, dtype="float32")[strings], verbose=0)
    got = run(ours, strings).heads[1:].transpose(1, 0, 2).astype(np.float64)
    assert np.allclose(1 / (1 + np.exp(-got)), y, atol=1e-5)
    free = keras.Sequential([keras.Input((None, 4)), *model.layers])
    free.save(tmp_path / "free.keras")
    assert not any("time steps" in n for n in read_model(tmp_path / "free.keras", list("abcd"), ["accept"])
                   .extra["imported"]["notes"])

