"""Import of TensorFlow.js Layers models (model.json + little-endian float32 shards), checked against the numpy
re-implementation of Keras' equations; hostile manifests get one line and exit 2."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fsm_lstm.cli import main
from fsm_lstm.importer import read_model
from fsm_lstm.model import load_model
from tests.keras_files import keras_forward, random_layers, tfjs_quantized, write_tfjs
from tests.test_import_keras import CELLS, PYTORCH, check_same
from tests.test_import_torch import cli_error, run_verify_extract, words


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("embedding, dense, act, labels, shards", [
    (None, [3], "sigmoid", 3, 1), (4, [5, 2], "softmax", 1, 3), (2, [2], "linear", 1, 2)])
def test_tfjs_models_match_the_keras_equations(cell, embedding, dense, act, labels, shards, tmp_path, capsys):
    layers = random_layers(np.random.default_rng(len(cell) + shards), cell, 3, [4, 3], dense, act, embedding)
    model_json = write_tfjs(tmp_path / "web", layers, 3, shards=shards)
    heads = " ".join(["accept", "next:a", "next:b"][:labels])
    for given_path in (model_json, model_json.parent):  # model.json, or its folder
        assert main(["import", str(given_path), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c",
                     "--heads", heads]) == 0
        assert "from tfjs" in capsys.readouterr().out
        model = load_model(tmp_path / "m.npz")
        assert model.cell == PYTORCH[cell] and model.extra["imported"]["format"] == "tfjs"
        check_same(model, layers, 3, words(3, seed=shards), labels)


@settings(max_examples=20, deadline=None)
@given(cell=st.sampled_from(CELLS), K=st.integers(1, 4), hidden=st.lists(st.integers(1, 5), min_size=1, max_size=2),
       outputs=st.integers(1, 3), emb=st.one_of(st.none(), st.integers(1, 4)), shards=st.integers(1, 4),
       seed=st.integers(0, 2**16))
def test_random_tfjs_models_import_exactly(cell, K, hidden, outputs, emb, shards, seed, tmp_path_factory):
    layers = random_layers(np.random.default_rng(seed), cell, K, hidden, [outputs], "sigmoid", emb)
    model_json = write_tfjs(tmp_path_factory.mktemp("t"), layers, K, shards=shards)
    model = read_model(model_json, [f"s{k}" for k in range(K)], [f"state:q{k}" for k in range(outputs)])
    check_same(model, layers, K, words(K, seed=seed, count=50), outputs, atol=3e-5, margin=1e-4)


@pytest.mark.parametrize("quantize", ["uint8", "uint16", "float16"])
@pytest.mark.parametrize("cell", CELLS)
def test_quantized_tfjs_weights_import_as_the_values_tfjs_decodes(quantize, cell, tmp_path):
    """tensorflowjs_converter --quantize_*: the shards hold uint8, uint16 or float16 values, which TF.js decodes
    to float32 before running the model. The import gives exactly those float32 weights (checked against the
    decoding done value by value in the test), and the model the Keras equations give with them."""
    layers = random_layers(np.random.default_rng(len(cell) + len(quantize)), cell, 3, [4], [2], "sigmoid", 2)
    model_json = write_tfjs(tmp_path / "web", layers, 3, quantize=quantize)
    decoded = [(cls, config, {k: tfjs_quantized(v, quantize)[2] for k, v in w.items()}) for cls, config, w in layers]
    model = read_model(model_json, "a b c".split(), ["accept", "next:a"])
    check_same(model, decoded, 3, words(3), 2)
    plain = read_model(write_tfjs(tmp_path / "plain", decoded, 3), "a b c".split(), ["accept", "next:a"])
    assert all(np.array_equal(v, plain.arrays()[k]) for k, v in model.arrays().items())  # the same bits


def test_options_tfjs_left_unset_are_null_and_read_as_tfjs_defaults(tmp_path):
    """TF.js's model.save turns an option left undefined into null (convertTsToPythonic), e.g. an Embedding's
    mask_zero; TF.js then runs its default: false, but true for use_bias (the biases are in the shard and are
    used). Such files were refused ("mask_zero = None")."""
    layers = random_layers(np.random.default_rng(5), "LSTM", 3, [4], [1], "sigmoid", 2)

    def edit(doc):
        for layer in doc["modelTopology"]["config"]["layers"]:
            if layer["class_name"] == "Embedding":
                layer["config"]["mask_zero"] = None
            if layer["class_name"] == "LSTM":
                layer["config"].update(go_backwards=None, stateful=None, use_bias=None)
            if layer["class_name"] == "Dense":
                layer["config"]["use_bias"] = None  # TF.js's default is true (``args.useBias ?? true``)

    model_json = write_tfjs(tmp_path, layers, 3, manifest_edit=edit)
    check_same(read_model(model_json, "a b c".split(), ["accept"]), layers, 3, words(3), 1)


def test_converter_style_weight_names_and_model_config_wrapper(tmp_path):
    """tensorflowjs_converter names weights lstm/lstm_cell/kernel and may wrap the config in model_config."""
    layers = random_layers(np.random.default_rng(3), "GRU", 3, [4], [2])

    def edit(doc):
        doc["modelTopology"] = {"model_config": doc["modelTopology"], "training_config": {"loss": "mse"}}
        for spec in doc["weightsManifest"][0]["weights"]:
            layer, kind = spec["name"].split("/")
            spec["name"] = f"sequential/{layer}/{layer}_cell/{kind}" if layer.startswith("gru") else spec["name"]

    model_json = write_tfjs(tmp_path, layers, 3, manifest_edit=edit)
    check_same(read_model(model_json, "a b c".split(), ["accept", "next:a"]), layers, 3, words(3), 2)


def test_layer_names_with_slashes_and_a_sequential_input_shape(tmp_path):
    """TF.js and tf.keras 2 allow a layer named 'encoder/gru' (its weights 'encoder/gru/gru_cell/kernel'): it was
    refused ("belongs to no layer"). A Sequential's first layer that declares batch_input_shape [null, 12] got no
    note of its 12 time steps, which an InputLayer's got."""
    layers = random_layers(np.random.default_rng(3), "GRU", 3, [4], [2])

    def edit(doc):
        renamed = {}
        config = doc["modelTopology"]["config"]
        config["layers"] = [layer for layer in config["layers"] if layer["class_name"] != "InputLayer"]
        for k, layer in enumerate(config["layers"]):
            renamed[layer["config"]["name"]] = f"block{k}/{layer['config']['name']}"
            layer["config"]["name"] = renamed[layer["config"]["name"]]
            if k == 0:  # the Sequential form of tf.keras 2 and TF.js, without an InputLayer
                layer["config"]["batch_input_shape"] = [None, 12, 3]
        for spec in doc["weightsManifest"][0]["weights"]:
            layer, kind = spec["name"].split("/")
            spec["name"] = f"{renamed[layer]}/{layer}_cell/{kind}" if layer.startswith("gru") else \
                f"{renamed[layer]}/{kind}"

    model_json = write_tfjs(tmp_path, layers, 3, manifest_edit=edit)
    model = read_model(model_json, "a b c".split(), ["accept", "next:a"])
    check_same(model, layers, 3, words(3), 2)
    assert any("the input declares 12 time steps" in n for n in model.extra["imported"]["notes"])


@pytest.mark.parametrize("cell", CELLS)
def test_an_rnn_of_stacked_cells_and_a_time_distributed_dense_named_as_tfjs_names_them(cell, tmp_path, capsys):
    """TF.js's RNN of a StackedRNNCells builds cell i in name scope RNNCell_i (weights rnn_RNN1/RNNCell_0/kernel);
    a TimeDistributed's Dense may keep its own name (dense_Dense1/kernel). Written so, two recurrent layers and a
    Dense give the Keras equations' logits after every symbol (both were refused)."""
    layers = random_layers(np.random.default_rng(len(cell)), cell, 3, [4, 3], [2])
    cell_keys = ("units", "activation", "recurrent_activation", "use_bias", "reset_after", "unit_forget_bias")

    def edit(doc):
        records = doc["modelTopology"]["config"]["layers"]
        recurrent = [r for r in records if r["class_name"] == cell]
        dense = next(r for r in records if r["class_name"] == "Dense")
        cells = [{"class_name": f"{cell}Cell", "config": {k: v for k, v in r["config"].items() if k in cell_keys}
                  | {"name": f"cell{k}"}} for k, r in enumerate(recurrent)]
        stacked = {"class_name": "RNN", "config": {
            "name": "rnn_RNN1", "return_sequences": True, "return_state": False, "go_backwards": False,
            "stateful": False, "unroll": False, "cell": {"class_name": "StackedRNNCells", "config": {"cells": cells}}}}
        wrapped = {"class_name": "TimeDistributed", "config": {"name": "time_distributed_TimeDistributed1",
                                                                "layer": {"class_name": "Dense",
                                                                          "config": dense["config"]}}}
        doc["modelTopology"]["config"]["layers"] = [records[0], stacked, wrapped]
        names = {r["config"]["name"]: f"rnn_RNN1/RNNCell_{k}" for k, r in enumerate(recurrent)}
        names[dense["config"]["name"]] = dense["config"]["name"]  # the inner Dense's own name
        for spec in doc["weightsManifest"][0]["weights"]:
            layer, kind = spec["name"].split("/")
            spec["name"] = f"{names[layer]}/{kind}"

    model_json = write_tfjs(tmp_path / "web", layers, 3, manifest_edit=edit)
    assert main(["import", str(model_json), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c",
                 "--heads", "accept next:a"]) == 0
    assert f"(RNN of 2 stacked {cell}), time_distributed_TimeDistributed1 (TimeDistributed Dense)" in \
        capsys.readouterr().out
    check_same(load_model(tmp_path / "m.npz"), layers, 3, words(3), 2)


def test_multi_layer_models_run_verify_and_extract(tmp_path, capsys):
    layers = random_layers(np.random.default_rng(12), "LSTM", 2, [3, 2], [2, 1])
    z, _ = keras_forward(layers, 2, np.array([[0, 1, 1, 0]]))
    run_verify_extract(write_tfjs(tmp_path / "web", layers, 2), tmp_path, capsys, (z[0, :, 0] > 0).tolist())


def _layers():
    return random_layers(np.random.default_rng(5), "LSTM", 3, [4], [2])


def _spec(doc, k=0):
    return doc["weightsManifest"][0]["weights"][k]


BAD_MANIFESTS = {
    "dot-dot path": (lambda d: d["weightsManifest"][0]["paths"].__setitem__(0, "../secret.bin"),
                     "not a plain relative"),
    "absolute path": (lambda d: d["weightsManifest"][0]["paths"].__setitem__(0, "/etc/passwd"), "not a plain relative"),
    "url": (lambda d: d["weightsManifest"][0]["paths"].__setitem__(0, "https://example.invalid/w.bin"),
            "not a plain relative"),
    "missing shard": (lambda d: d["weightsManifest"][0]["paths"].__setitem__(0, "nothere.bin"), "is missing"),
    "null byte": (lambda d: d["weightsManifest"][0]["paths"].__setitem__(0, "a\x00b"), "not a plain relative"),
    "name too long": (lambda d: d["weightsManifest"][0]["paths"].__setitem__(0, "a" * 5000), "'" + "a" * 200 + "...'"),
    "folder shard": (lambda d: d["weightsManifest"][0]["paths"].__setitem__(0, "."), "'.' is not a regular file"),
    "quantized to int4": (lambda d: _spec(d).update(quantization={"dtype": "int4"}), "has quantization 'int4'"),
    "quantized, no scale": (lambda d: _spec(d).update(quantization={"dtype": "uint8", "min": 0}),
                            "without finite numbers `scale` and `min`"),
    "quantized, scale 1e400": (lambda d: _spec(d).update(quantization={"dtype": "uint8", "scale": 10**400, "min": 0}),
                               "without finite numbers"),
    "quantized, NaN min": (lambda d: _spec(d).update(quantization={"dtype": "uint16", "scale": 1, "min": float("nan")}),
                           "without finite numbers"),
    "quantized, sizes": (lambda d: _spec(d).update(quantization={"dtype": "uint8", "scale": 0.1, "min": 0}),
                         "declare"),  # the float32 shard is larger than the uint8 weight declares
    "int32": (lambda d: _spec(d).update(dtype="int32"), "int32"),
    "huge shape": (lambda d: _spec(d).update(shape=[100000, 100000]), "declares 10,000,000,000"),
    "astronomic shape": (lambda d: _spec(d).update(shape=[10**4000, 10**4000]), "declares about 10^8000 numbers"),
    "negative shape": (lambda d: _spec(d).update(shape=[-3, 16]), "whole numbers >= 0"),
    "float shape": (lambda d: _spec(d).update(shape=[3.5, 16]), "whole numbers >= 0"),
    "lying shape": (lambda d: _spec(d).update(shape=[3, 17]), "declare"),
    "wrong shape": (lambda d: (_spec(d).update(shape=[4, 16]), _spec(d, 1).update(shape=[3, 16])), "shape (4, 16)"),
    "unknown weight": (lambda d: _spec(d).update(name="ghost/kernel"), "belongs to no layer"),
    "duplicate": (lambda d: _spec(d, 1).update(name=_spec(d)["name"]), "appears twice"),
    "same kind twice": (lambda d: _spec(d, 1).update(name="model/lstm/kernel"), "two weights named kernel"),
    "graph model": (lambda d: d.update(format="graph-model"), "graph model"),
    "no manifest": (lambda d: d.pop("weightsManifest"), "no weightsManifest"),
    "no topology": (lambda d: d.pop("modelTopology"), "no modelTopology"),
    "hard sigmoid": (lambda d: d["modelTopology"]["config"]["layers"][1]["config"].update(
        recurrent_activation="hard_sigmoid"), "hard_sigmoid"),
    "gru without reset_after": (None, "reset_after"),
    "time major": (lambda d: d["modelTopology"]["config"]["layers"][1]["config"].update(time_major=True),
                   "time_major=True; it reads its input time first"),  # tf.keras 2's option (trial 106)
}


@pytest.mark.parametrize("case", sorted(BAD_MANIFESTS))
def test_bad_manifests_get_one_line(case, tmp_path, capsys):
    edit, needle = BAD_MANIFESTS[case]
    (tmp_path / "secret.bin").write_bytes(b"\x00" * 4 * 48)
    if case == "gru without reset_after":
        layers = random_layers(np.random.default_rng(5), "GRU", 3, [4], [2])
        edit = lambda d: d["modelTopology"]["config"]["layers"][1]["config"].pop("reset_after")  # noqa: E731
    else:
        layers = _layers()
    model_json = write_tfjs(tmp_path / "web", layers, 3, shards=1, manifest_edit=edit)
    err = cli_error(["import", str(model_json), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c",
                     "--heads", "accept next:a"], capsys)
    assert needle in err
    assert not (tmp_path / "m.npz").exists()


def test_bad_files_get_one_line(tmp_path, capsys):
    web = write_tfjs(tmp_path / "web", _layers(), 3, shards=1).parent
    shard = web / "group1-shard1of1.bin"
    data = shard.read_bytes()
    argv = ["import", str(web), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c", "--heads", "accept next:a"]
    shard.write_bytes(data[:-4])
    assert f"hold {len(data) - 4} bytes but its weights declare {len(data)}" in cli_error(argv, capsys)
    shard.write_bytes(data + b"\x00" * 4)
    assert f"hold {len(data) + 4} bytes" in cli_error(argv, capsys)
    shard.write_bytes(data[:-4] + np.float32(np.nan).tobytes())
    assert "NaN" in cli_error(argv, capsys)
    shard.unlink()
    os.symlink(tmp_path / "outside.bin", shard)  # a symlink that leads out of the folder
    (tmp_path / "outside.bin").write_bytes(data)
    assert "leads outside" in cli_error(argv, capsys)
    (web / "model.json").write_text("{nope")
    assert "not valid JSON" in cli_error(argv, capsys)
    (web / "model.json").write_text("[1, 2]")
    assert "not a JSON object" in cli_error(argv, capsys)
    (web / "model.json").unlink()
    assert "no model.json" in cli_error(argv, capsys)
    doc = {"modelTopology": {"class_name": "Sequential", "config": {"layers": "x"}}, "weightsManifest": []}
    (web / "model.json").write_text(json.dumps(doc))
    assert "no list of layers" in cli_error(argv, capsys)


def test_a_loop_of_links_and_an_output_over_a_shard_get_one_line(tmp_path, capsys):
    """A shard path through a loop of symbolic links (it crashed: exit 3), and -o naming the shard itself, which
    import replaced before reading it back (the model was lost)."""
    web = write_tfjs(tmp_path / "web", _layers(), 3, shards=1).parent
    argv = ["--alphabet", "a b c", "--heads", "accept next:a"]
    shard = web / "group1-shard1of1.bin"
    data = shard.read_bytes()
    shard.rename(web / "w.npz")
    doc = json.loads((web / "model.json").read_text())
    doc["weightsManifest"][0]["paths"] = ["w.npz"]
    (web / "model.json").write_text(json.dumps(doc))
    assert "is the file" in cli_error(["import", str(web), "-o", str(web / "w.npz"), *argv], capsys)
    assert (web / "w.npz").read_bytes() == data
    assert main(["import", str(web), "-o", str(tmp_path / "m.npz"), *argv]) == 0
    os.symlink("loop2", web / "loop1")
    os.symlink("loop1", web / "loop2")
    doc["weightsManifest"][0]["paths"] = ["loop1"]
    (web / "model.json").write_text(json.dumps(doc))
    assert "'loop1' is missing, or not a file that can be opened" in cli_error(["import", str(web), "-o",
                                                                              str(tmp_path / "x.npz"), *argv], capsys)
