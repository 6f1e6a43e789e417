"""TensorFlow.js Layers models: ``model.json`` (``modelTopology``, a Keras model config, and ``weightsManifest``)
plus binary weight shards of little-endian float32, named relative to model.json. A shard path that is
absolute, a URL, or leads outside model.json's folder (``..``, a symlink) is refused. The layers are read by the
Keras rules (``import_keras.network_from_config``); a weight ``a/b/kernel`` belongs to the first layer named
among its path parts (``lstm/lstm_cell/kernel`` and ``lstm_LSTM1/kernel`` both work)."""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from .errors import UserError
from .import_common import MAX_BYTES, Network, declared_shape, first_line
from .import_keras import _layer_dicts, _layer_name, network_from_config

__all__ = ["read_tfjs"]


def read_tfjs(path: Path) -> Network:
    """A TensorFlow.js Layers model: ``path`` is model.json or a folder holding it."""
    model_json = path / "model.json" if path.is_dir() else path
    if not model_json.is_file():
        raise UserError("no model.json here; give a TensorFlow.js model.json or its folder")
    if model_json.stat().st_size > MAX_BYTES:
        raise UserError(f"model.json is larger than {MAX_BYTES:,} bytes")
    try:
        doc = json.loads(model_json.read_bytes())
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise UserError(f"model.json is not valid JSON ({first_line(exc)})") from None
    if not isinstance(doc, dict):
        raise UserError("model.json is not a JSON object")
    if doc.get("format") not in (None, "layers-model"):
        raise UserError(f"model.json has format {doc.get('format')!r}; fsm-lstm reads TensorFlow.js Layers models "
                        "(a graph model has no layer config)")
    topology = doc.get("modelTopology")
    if isinstance(topology, dict) and isinstance(topology.get("model_config"), dict):
        topology = topology["model_config"]
    if not isinstance(topology, dict):
        raise UserError("model.json has no modelTopology object")
    weights = _read_weights(model_json.parent, doc.get("weightsManifest"))
    try:
        names = {_layer_name(layer) for layer in _layer_dicts(topology)}
        return network_from_config(topology, _Weights(weights, names), "tfjs")
    except RecursionError:
        raise UserError("modelTopology is nested too deeply") from None


def _shard(root: Path, rel: Any) -> Path:
    """A shard path from the manifest, resolved inside ``root`` (never outside it)."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "://" in rel or rel.startswith("/") \
            or re.match(r"^[A-Za-z]:", rel) or ".." in PurePosixPath(rel).parts:
        raise UserError(f"shard path {rel!r} is not a plain relative path inside model.json's folder")
    full = (root / rel).resolve()
    if not full.is_relative_to(root):
        raise UserError(f"shard path {rel!r} leads outside model.json's folder")
    if not full.is_file():
        raise UserError(f"shard {rel!r} is not a regular file" if full.exists() else f"shard {rel!r} is missing")
    return full


def _read_weights(folder: Path, manifest: Any) -> dict[str, np.ndarray]:
    """Every weight of the manifest; shard sizes are checked against the declared shapes before reading."""
    if not isinstance(manifest, list) or not all(isinstance(g, dict) for g in manifest):
        raise UserError("model.json has no weightsManifest list")
    root = folder.resolve()
    out: dict[str, np.ndarray] = {}
    for g, group in enumerate(manifest):
        paths, specs = group.get("paths"), group.get("weights")
        if not isinstance(paths, list) or not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            raise UserError(f"weightsManifest[{g}] needs lists `paths` and `weights`")
        entries, total = [], 0
        for spec in specs:
            name = spec.get("name")
            if not isinstance(name, str) or not name:
                raise UserError(f"a weight of weightsManifest[{g}] has no name")
            if spec.get("quantization") is not None:
                raise UserError(f"weight {name!r} is quantized; fsm-lstm reads float32 weights exactly or not at all")
            if spec.get("dtype", "float32") != "float32":
                raise UserError(f"weight {name!r} has dtype {spec.get('dtype')!r}; TensorFlow.js weights are read "
                                "as float32")
            shape = declared_shape(f"weight {name!r}", spec.get("shape"))
            count = int(np.prod(shape, dtype=np.int64))
            entries.append((name, shape, total, count))
            total += 4 * count
        files = [_shard(root, p) for p in paths]
        size = sum(f.stat().st_size for f in files)
        if size != total:
            raise UserError(f"the shards of weightsManifest[{g}] hold {size:,} bytes but its weights declare "
                            f"{total:,}")
        if total > MAX_BYTES:
            raise UserError(f"weightsManifest[{g}] declares {total:,} bytes; fsm-lstm reads at most {MAX_BYTES:,}")
        data = b"".join(f.read_bytes() for f in files)
        if len(data) != total:
            raise UserError(f"the shards of weightsManifest[{g}] changed while being read")
        for name, shape, offset, count in entries:
            if name in out:
                raise UserError(f"weight {name!r} appears twice in the manifest")
            out[name] = np.frombuffer(data, "<f4", count=count, offset=offset).astype(np.float32).reshape(shape)
    return out


class _Weights:
    """Weights by layer: ``prefix/.../layer/.../kind`` goes to the first run of path parts that names a layer (the
    longest, where several do: a layer may be named ``encoder/lstm``)."""

    def __init__(self, weights: dict[str, np.ndarray], names: set[str]) -> None:
        self.by_layer: dict[str, dict[str, np.ndarray]] = {}
        for wname, arr in weights.items():
            parts = wname.split("/")
            runs = (["/".join(parts[i:j]) for j in range(len(parts) - 1, i, -1)] for i in range(len(parts) - 1))
            layer = next((name for run in runs for name in run if name in names), None)
            if layer is None:
                raise UserError(f"weight {wname!r} belongs to no layer of modelTopology")
            kind = parts[-1].split(":")[0]
            held = self.by_layer.setdefault(layer, {})
            if kind in held:
                raise UserError(f"layer {layer!r} has two weights named {kind}")
            held[kind] = arr

    def __call__(self, index: int, name: str, cls: str, kinds: tuple[str, ...]) -> dict[str, Any]:
        held = self.by_layer.get(name, {})
        if set(held) != set(kinds):
            raise UserError(f"layer {name!r} has weights {', '.join(sorted(held)) or 'none'} in the manifest, "
                            f"expected {', '.join(kinds)}")
        return held
