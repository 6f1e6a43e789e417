"""Keras-style models for the import tests, without Keras: a numpy re-implementation of Keras' documented
equations, and writers of the three file layouts Keras and TensorFlow.js use (.keras archive, legacy .h5,
TensorFlow.js model.json + shards), written with json, zipfile and h5py only.

A model is a list of (class_name, config, weights) triples after an input of ``K`` one-hot symbols (or token
ids, when the first layer is an Embedding). Weights are named as Keras names them: kernel, recurrent_kernel,
bias, embeddings.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import h5py
import numpy as np

ORDER = ("kernel", "recurrent_kernel", "bias", "embeddings")
RECURRENT = ("LSTM", "GRU", "SimpleRNN")


# ----- Keras' documented equations, float64 ---------------------------------------------------------
def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _act(name, z):
    if name in (None, "linear"):
        return z
    if name == "sigmoid":
        return _sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    if name == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise ValueError(name)


def keras_forward(layers, K: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pre-activation z, output y) of the last Dense, each (B, T, M), for (B, T) symbol ids."""
    ids = np.asarray(ids)
    x = np.eye(K)[ids]
    z = None
    for cls, cfg, w in layers:
        w = {k: np.asarray(v, np.float64) for k, v in w.items()}
        if cls == "Embedding":
            x = w["embeddings"][ids]
        elif cls in RECURRENT:
            H = cfg["units"]
            B, T = x.shape[:2]
            h, c = np.zeros((B, H)), np.zeros((B, H))
            outs = []
            for t in range(T):
                xt = x[:, t]
                if cls == "LSTM":  # z = x W + h U + b; blocks i, f, c, o
                    a = xt @ w["kernel"] + h @ w["recurrent_kernel"] + w.get("bias", 0)
                    i, f, g, o = (a[:, q * H:(q + 1) * H] for q in range(4))
                    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
                    h = _sigmoid(o) * np.tanh(c)
                elif cls == "GRU":  # reset_after=True; blocks z, r, h; bias rows (input, recurrent)
                    b = w.get("bias", np.zeros((2, 3 * H)))
                    mx = xt @ w["kernel"] + b[0]
                    mh = h @ w["recurrent_kernel"] + b[1]
                    zz = _sigmoid(mx[:, :H] + mh[:, :H])
                    r = _sigmoid(mx[:, H:2 * H] + mh[:, H:2 * H])
                    hh = np.tanh(mx[:, 2 * H:] + r * mh[:, 2 * H:])
                    h = zz * h + (1 - zz) * hh
                else:  # SimpleRNN
                    h = np.tanh(xt @ w["kernel"] + h @ w["recurrent_kernel"] + w.get("bias", 0))
                outs.append(h)
            x = np.stack(outs, axis=1) if outs else np.zeros((B, 0, H))
            if not cfg.get("return_sequences", False):
                x = x[:, -1:]
        elif cls == "Dense":
            z = x @ w["kernel"] + w.get("bias", 0)
            x = _act(cfg.get("activation"), z)
        elif cls == "Dropout":
            continue
        else:
            raise ValueError(cls)
    return z, x


# ----- configs ---------------------------------------------------------------------------------------
def _snake(name: str) -> str:
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def layer_names(layers) -> list[str]:
    """Keras-style unique names: lstm, lstm_1, dense, dense_1, ..."""
    used: dict[str, int] = {}
    out = []
    for cls, cfg, _ in layers:
        base = _snake(cls)
        used[base] = used.get(base, -1) + 1
        out.append(cfg.get("name") or (base if used[base] == 0 else f"{base}_{used[base]}"))
    return out


def full_config(cls: str, cfg: dict, name: str) -> dict:
    """A layer config with Keras 3's defaults filled in."""
    base = {"name": name, "trainable": True,
            "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                      "registered_name": None}}
    if cls in RECURRENT:
        base.update({"return_sequences": True, "return_state": False, "go_backwards": False, "stateful": False,
                     "unroll": False, "activation": "tanh", "use_bias": True, "dropout": 0.0,
                     "recurrent_dropout": 0.0})
        if cls != "SimpleRNN":
            base["recurrent_activation"] = "sigmoid"
        if cls == "GRU":
            base["reset_after"] = True
        if cls == "LSTM":
            base["unit_forget_bias"] = True
    elif cls == "Dense":
        base.update({"activation": "linear", "use_bias": True, "quantization_config": None})
    elif cls == "Embedding":
        base.update({"mask_zero": False, "quantization_config": None})
    elif cls == "Dropout":
        base.update({"rate": 0.5})
    base.update(cfg)
    base["name"] = name
    return base


def model_config(layers, K: int, functional: bool = False, flavour: str = "keras3") -> dict:
    """A Sequential (or Functional) model config as Keras 3 (or TensorFlow.js, ``flavour='tfjs'``) writes it."""
    ids = bool(layers) and layers[0][0] == "Embedding"
    names = layer_names(layers)
    records = []
    for (cls, cfg, _), name in zip(layers, names):
        rec = {"class_name": cls, "config": full_config(cls, cfg, name)}
        if flavour == "keras3":
            rec.update({"module": "keras.layers", "registered_name": None})
        records.append(rec)
    shape = [None, None] if ids else [None, None, K]
    inp = {"class_name": "InputLayer", "config": {"batch_shape": shape, "dtype": "int32" if ids else "float32",
                                                  "name": "input_layer"}}
    if flavour == "keras3":
        inp.update({"module": "keras.layers", "registered_name": None})
    if not functional:
        return {"class_name": "Sequential", "config": {"name": "sequential", "layers": [inp, *records]},
                **({"module": "keras", "registered_name": None} if flavour == "keras3" else {})}
    prev = "input_layer"
    for rec in records:
        rec["name"] = rec["config"]["name"]
        rec["inbound_nodes"] = [{"args": [{"class_name": "__keras_tensor__", "config": {
            "shape": [None, None, None], "dtype": "float32", "keras_history": [prev, 0, 0]}}], "kwargs": {}}]
        prev = rec["name"]
    inp["name"] = "input_layer"
    inp["inbound_nodes"] = []
    return {"class_name": "Functional", "module": "keras.src.models.functional", "registered_name": "Functional",
            "config": {"name": "functional", "layers": [inp, *records], "input_layers": [["input_layer", 0, 0]],
                       "output_layers": [[prev, 0, 0]]}}


def _weights(cls: str, w: dict) -> list[tuple[str, np.ndarray]]:
    return [(k, np.asarray(w[k], np.float32)) for k in ORDER if k in w]


# ----- the three file layouts ------------------------------------------------------------------------
def write_keras(path: Path, layers, K: int, functional: bool = False, config: dict | None = None) -> Path:
    """A Keras 3 ``.keras`` archive: config.json, metadata.json, model.weights.h5."""
    config = config or model_config(layers, K, functional)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        root = f.create_group("layers")
        used: dict[str, int] = {}
        keys = [("input_layer", "InputLayer", {})] if functional else []
        keys += [(name, cls, w) for (cls, _, w), name in zip(layers, layer_names(layers))]
        for name, cls, w in keys:
            base = _snake(cls)
            used[base] = used.get(base, -1) + 1
            g = root.create_group(base if used[base] == 0 else f"{base}_{used[base]}")
            own = g.create_group("vars")
            own.attrs["name"] = name
            holder = own
            if cls in RECURRENT:
                holder = g.create_group("cell").create_group("vars")
                holder.attrs["name"] = f"{base}_cell"
            for k, (_, arr) in enumerate(_weights(cls, w)):
                holder.create_dataset(str(k), data=arr)
        f.create_group("vars").attrs["name"] = "sequential"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", buf.getvalue())
    return path


def write_h5(path: Path, layers, K: int, config: dict | None = None) -> Path:
    """A legacy ``.h5`` model: model_config attribute and model_weights/<layer>/<model>/<layer>/<weight>."""
    config = config or model_config(layers, K)
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["backend"] = "torch"
        group = f.create_group("model_weights")
        names = layer_names(layers)
        group.attrs["layer_names"] = np.array([n.encode() for n in names])
        for (cls, _, w), name in zip(layers, names):
            g = group.create_group(name)
            cell = f"{name}/{_snake(cls)}_cell/" if cls in RECURRENT else f"{name}/"
            wnames = []
            for kind, arr in _weights(cls, w):
                wname = f"sequential/{cell}{kind}"
                g.create_dataset(wname, data=arr)
                wnames.append(wname.encode())
            g.attrs["weight_names"] = np.array(wnames)
    return path


def tfjs_quantized(arr: np.ndarray, dtype: str) -> tuple[bytes, dict, np.ndarray]:
    """A weight as ``tensorflowjs_converter --quantize_{dtype}`` stores it (tensorflowjs/quantization.py: affine
    uint8/uint16 over [min, max], q = round((w - min) / scale); float16 by rounding), its manifest entry, and the
    float32 values TensorFlow.js decodes it to (tfjs-core io_utils decodeWeight: v * scale + min in JavaScript
    doubles, stored in a Float32Array), computed here one value at a time in Python floats."""
    flat = np.asarray(arr, np.float32).ravel()
    if dtype == "float16":
        half = flat.astype("<f2")
        return half.tobytes(), {"dtype": "float16"}, half.astype(np.float32).reshape(arr.shape)
    top = 255 if dtype == "uint8" else 65535
    low, high = float(flat.min(initial=0.0)), float(flat.max(initial=0.0))
    scale = (high - low) / top if high > low else 1.0
    q = np.clip(np.round((flat.astype(np.float64) - low) / scale), 0, top).astype("<u1" if top == 255 else "<u2")
    decoded = np.array([np.float32(float(v) * scale + low) for v in q.tolist()], np.float32).reshape(arr.shape)
    return q.tobytes(), {"dtype": dtype, "scale": scale, "min": low}, decoded


def write_tfjs(folder: Path, layers, K: int, shards: int = 2, manifest_edit=None, quantize: str | None = None
               ) -> Path:
    """A TensorFlow.js Layers model: model.json and ``shards`` binary shards of little-endian float32 (or of
    ``quantize``d weights, :func:`tfjs_quantized`)."""
    folder.mkdir(parents=True, exist_ok=True)
    specs, blobs = [], []
    for (cls, _, w), name in zip(layers, layer_names(layers)):
        for kind, arr in _weights(cls, w):
            specs.append({"name": f"{name}/{kind}", "shape": list(arr.shape), "dtype": "float32"})
            if quantize:
                data, specs[-1]["quantization"], _ = tfjs_quantized(arr, quantize)
                blobs.append(data)
            else:
                blobs.append(arr.astype("<f4").tobytes())
    data = b"".join(blobs)
    cut = [len(data) * k // shards for k in range(shards + 1)]
    paths = []
    for k in range(shards):
        paths.append(f"group1-shard{k + 1}of{shards}.bin")
        (folder / paths[-1]).write_bytes(data[cut[k]:cut[k + 1]])
    doc = {"format": "layers-model", "generatedBy": "tests", "convertedBy": None,
           "modelTopology": {"class_name": "Sequential", "config": model_config(layers, K, flavour="tfjs")["config"],
                             "keras_version": "tfjs-layers 4.22.0", "backend": "tensor_flow.js"},
           "weightsManifest": [{"paths": paths, "weights": specs}]}
    if manifest_edit:
        manifest_edit(doc)
    (folder / "model.json").write_text(json.dumps(doc))
    return folder / "model.json"


# ----- random models ---------------------------------------------------------------------------------
def random_layers(rng: np.random.Generator, cell: str, K: int, hidden: list[int], dense: list[int],
                  activation: str = "linear", embedding: int | None = None, use_bias: bool = True,
                  scale: float = 0.5) -> list:
    """Embedding? -> recurrent layers -> dense layers, with normal random float32 weights."""
    G = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[cell]
    normal = rng.normal
    rng = type("F32", (), {"normal": staticmethod(lambda *a: normal(*a).astype(np.float32))})()
    layers = []
    width = K
    if embedding:
        layers.append(("Embedding", {"input_dim": K, "output_dim": embedding},
                       {"embeddings": rng.normal(0, scale, (K, embedding))}))
        width = embedding
    for H in hidden:
        w = {"kernel": rng.normal(0, scale, (width, G * H)), "recurrent_kernel": rng.normal(0, scale, (H, G * H))}
        if use_bias:
            w["bias"] = rng.normal(0, scale, (2, 3 * H) if cell == "GRU" else (G * H,))
        layers.append((cell, {"units": H, "return_sequences": True, "use_bias": use_bias}, w))
        width = H
    for k, M in enumerate(dense):
        act = activation if k == len(dense) - 1 else "linear"
        layers.append(("Dense", {"units": M, "activation": act},
                       {"kernel": rng.normal(0, scale, (width, M)), "bias": rng.normal(0, scale, M)}))
        width = M
    return layers
