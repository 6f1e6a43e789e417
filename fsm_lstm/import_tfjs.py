"""TensorFlow.js Layers models: ``model.json`` (``modelTopology``, a Keras model config, and ``weightsManifest``)
plus binary weight shards of little-endian float32 (or quantized by ``tensorflowjs_converter`` to uint8, uint16
or float16, decoded to the float32 values TensorFlow.js computes with), named relative to model.json. A shard
path that is absolute, a URL, or leads outside model.json's folder (``..``, a symlink) is refused. The layers
are read by the Keras rules (``import_keras.network_from_config``); a weight ``a/b/kernel`` belongs to the first
layer named among its path parts (``lstm/lstm_cell/kernel`` and ``lstm_LSTM1/kernel`` both work), or that
wraps the layer named (a TimeDistributed's Dense, an RNN's cell); the cells of an RNN of stacked cells are told
apart by their path (``rnn_RNN1/RNNCell_0/kernel``)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from .errors import UserError
from .import_common import MAX_BYTES, Network, declared_shape, first_line
from .import_keras import _layer_dicts, _layer_name, network_from_config, weight_kinds
from .side_files import side_file

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
        return network_from_config(topology, _Weights(weights, _layer_dicts(topology)), "tfjs")
    except RecursionError:
        raise UserError("modelTopology is nested too deeply") from None


def _clipped(text: Any) -> Any:
    """A manifest's text as a message shows it: at most 200 characters."""
    return text[:200] + "..." if isinstance(text, str) and len(text) > 200 else text


def _shard(root: Path, rel: Any) -> Path:
    """A shard path from the manifest, resolved inside ``root`` (never outside it)."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "://" in rel or rel.startswith("/") \
            or re.match(r"^[A-Za-z]:", rel) or ".." in PurePosixPath(rel).parts or "\0" in rel:
        raise UserError(f"shard path {_clipped(rel)!r} is not a plain relative path inside model.json's folder")
    try:
        full = (root / rel).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a name too long, a loop of links
        raise UserError(f"shard {_clipped(rel)!r} is missing, or not a file that can be opened, beside "
                        "model.json") from None
    if not full.is_relative_to(root):
        raise UserError(f"shard path {_clipped(rel)!r} leads outside model.json's folder")
    if not full.is_file():
        raise UserError(f"shard {_clipped(rel)!r} is not a regular file")
    return side_file(full)


def _read_weights(folder: Path, manifest: Any) -> dict[str, np.ndarray]:
    """Every weight of the manifest; shard sizes are checked against the declared shapes before reading."""
    if not isinstance(manifest, list) or not all(isinstance(g, dict) for g in manifest):
        raise UserError("model.json has no weightsManifest list")
    root = folder.resolve()
    out: dict[str, np.ndarray] = {}
    decoded = 0  # bytes of float32 the weights of every group decode to
    for g, group in enumerate(manifest):
        paths, specs = group.get("paths"), group.get("weights")
        if not isinstance(paths, list) or not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            raise UserError(f"weightsManifest[{g}] needs lists `paths` and `weights`")
        entries, total = [], 0
        for spec in specs:
            name = spec.get("name")
            if not isinstance(name, str) or not name:
                raise UserError(f"a weight of weightsManifest[{g}] has no name")
            if spec.get("dtype", "float32") != "float32":
                raise UserError(f"weight {name!r} has dtype {spec.get('dtype')!r}; TensorFlow.js weights are read "
                                "as float32")
            stored = _stored_as(name, spec.get("quantization"))
            shape = declared_shape(f"weight {name!r}", spec.get("shape"))
            count = int(np.prod(shape, dtype=np.int64))
            entries.append((name, shape, total, count, stored))
            total += stored.bytes * count
            decoded += 4 * count
            if decoded > MAX_BYTES:
                raise UserError(f"the weights decode to more than {MAX_BYTES:,} bytes of float32; fsm-lstm reads at "
                                f"most {MAX_BYTES:,}")
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
        for name, shape, offset, count, stored in entries:
            if name in out:
                raise UserError(f"weight {name!r} appears twice in the manifest")
            out[name] = stored.decode(np.frombuffer(data, stored.dtype, count=count, offset=offset)).reshape(shape)
    return out


@dataclass(frozen=True)
class _Stored:
    """How a weight's values are stored in its shard, and how TensorFlow.js decodes them to float32
    (``decodeWeight`` in tfjs-core's io_utils): uint8 and uint16 as float32(v * scale + min), the product and
    the sum each rounded to a double as in JavaScript; float16 widened, exactly."""

    dtype: str
    bytes: int
    scale: float | None = None
    min: float | None = None

    def decode(self, raw: np.ndarray) -> np.ndarray:
        if self.scale is None or self.min is None:
            return raw.astype(np.float32)
        with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, as in a Float32Array
            return (raw.astype(np.float64) * self.scale + self.min).astype(np.float32)


_FLOAT32 = _Stored("<f4", 4)


def _stored_as(name: str, quantization: Any) -> _Stored:
    """The storage of a weight with this ``quantization`` entry (None: float32), or one line on why it is not
    one TensorFlow.js reads."""
    if quantization is None:
        return _FLOAT32
    kind = quantization.get("dtype") if isinstance(quantization, dict) else None
    if kind == "float16":
        return _Stored("<f2", 2)
    if kind not in ("uint8", "uint16"):
        raise UserError(f"weight {name!r} has quantization {kind!r}; TensorFlow.js stores weights as uint8, uint16 "
                        "or float16")
    values = []
    for v in (quantization.get("scale"), quantization.get("min")):
        try:  # JSON gives an int of 400 digits for 1e400 written out, beyond any float
            number = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise UserError(f"weight {name!r} is quantized to {kind} without finite numbers `scale` and `min`")
        values.append(number)
    return _Stored("<u1" if kind == "uint8" else "<u2", 1 if kind == "uint8" else 2, *values)


class _Weights:
    """Weights by layer: ``prefix/.../layer/.../kind`` goes to the first run of path parts that names a layer (the
    longest, where several do: a layer may be named ``encoder/lstm``), or the layer a TimeDistributed or RNN
    wraps (``dense_Dense1/kernel`` of a TimeDistributed Dense); in manifest order."""

    def __init__(self, weights: dict[str, np.ndarray], layers: list[dict]) -> None:
        owner = {_layer_name(layer): _layer_name(layer) for layer in layers}
        for layer in layers:
            cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
            inner = cfg.get("layer") if layer.get("class_name") == "TimeDistributed" else \
                cfg.get("cell") if layer.get("class_name") == "RNN" else None
            inner_cfg = inner.get("config") if isinstance(inner, dict) else None
            inner_name = inner_cfg.get("name") if isinstance(inner_cfg, dict) else None
            if isinstance(inner_name, str) and inner_name and inner_name not in owner:
                owner[inner_name] = _layer_name(layer)
        self.by_layer: dict[str, list[tuple[str, np.ndarray]]] = {}
        for wname, arr in weights.items():
            parts = wname.split("/")
            runs = (["/".join(parts[i:j]) for j in range(len(parts) - 1, i, -1)] for i in range(len(parts) - 1))
            layer = next((owner[name] for run in runs for name in run if name in owner), None)
            if layer is None:
                raise UserError(f"weight {wname!r} belongs to no layer of modelTopology")
            self.by_layer.setdefault(layer, []).append((wname, arr))

    def __call__(self, index: int, name: str, cls: str, kinds: tuple[str, ...], cell: tuple[int, int] | None
                 ) -> dict[str, Any]:
        arrays = dict(self.by_layer.get(name, []))
        held = {kind: arrays[wname] for kind, wname in weight_kinds(name, list(arrays), cell).items()}
        if set(held) != set(kinds):
            raise UserError(f"layer {name!r} has weights {', '.join(sorted(held)) or 'none'} in the manifest, "
                            f"expected {', '.join(kinds)}")
        return held
