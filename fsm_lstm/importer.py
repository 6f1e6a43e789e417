"""Models from elsewhere: a PyTorch state_dict (.pt, .pth) or a safetensors file holding an nn.LSTM, nn.GRU or
nn.RNN and a linear head, turned into the documented model format. The alphabet and head labels are given by
the user; the cell is read off the shapes (4, 3 or 1 gate rows per unit) unless given."""

from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import ModelError, UserError
from .model import GATE_COUNT, Layer, Model

_RECURRENT = re.compile(r"^(?P<prefix>.*?)(?P<name>weight_ih|weight_hh|bias_ih|bias_hh)_l(?P<layer>\d+)$")
_SAFETENSORS_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16}


def read_tensors(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Named arrays from a .safetensors file (read directly) or a torch state_dict (.pt/.pth, weights only)."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    if path.suffix in (".pt", ".pth"):
        try:
            import torch
        except ImportError:
            raise UserError("reading .pt files needs PyTorch: pip install torch==2.13.0") from None
        try:
            data = torch.load(path, weights_only=True, map_location="cpu")
        except FileNotFoundError:
            raise UserError(f"{path}: no such file") from None
        except Exception as exc:  # torch raises many kinds for a bad file
            raise UserError(f"{path}: not a readable torch state_dict ({str(exc).splitlines()[0]})") from None
        if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
            data = data["state_dict"]
        if not isinstance(data, dict):
            raise UserError(f"{path}: holds a {type(data).__name__}, not a state_dict; save model.state_dict()")
        return {k: v.detach().cpu().numpy() for k, v in data.items() if hasattr(v, "detach")}
    raise UserError(f"{path}: unknown format {path.suffix!r}; import a .pt/.pth state_dict or a .safetensors file")


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    try:
        (size,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8:8 + size])
    except (struct.error, ValueError):
        raise UserError(f"{path}: not a safetensors file (bad header)") from None
    body = raw[8 + size:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _SAFETENSORS_DTYPES.get(info.get("dtype"))
        if dtype is None:
            raise UserError(f"{path}: tensor {name} has dtype {info.get('dtype')}; fsm-lstm reads F32, F64 and F16")
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(body[start:end], dtype=dtype).reshape(info["shape"]).astype(np.float32)
    return out


def model_from_tensors(tensors: dict[str, np.ndarray], alphabet: Sequence[str], heads: Sequence[str],
                       cell: str | None = None) -> Model:
    """Find the recurrent layers and the linear head among named tensors and label them."""
    found: dict[str, dict[int, dict[str, np.ndarray]]] = {}
    for key, value in tensors.items():
        m = _RECURRENT.match(key)
        if m:
            found.setdefault(m["prefix"], {}).setdefault(int(m["layer"]), {})[m["name"]] = value
    if len(found) != 1:
        raise UserError(f"expected one recurrent module (keys like lstm.weight_ih_l0), found "
                        f"{len(found) or 'none'}: {', '.join(repr(p) for p in found) or 'no such keys'}")
    prefix, by_layer = next(iter(found.items()))
    layers = []
    for k in range(len(by_layer)):
        parts = by_layer.get(k, {})
        missing = [n for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if n not in parts]
        if missing:
            raise UserError(f"layer {k} of {prefix or 'the recurrent module'} lacks {', '.join(missing)}; "
                            "biases are required (bias=True)")
        layers.append(Layer(*(np.asarray(parts[n], np.float32) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))))
    hidden = layers[-1].weight_hh.shape[1]
    if cell is None:
        ratio = layers[0].weight_hh.shape[0] // max(layers[0].weight_hh.shape[1], 1)
        cell = {v: k for k, v in GATE_COUNT.items()}.get(ratio)
        if cell is None:
            raise UserError(f"weight_hh_l0 has shape {layers[0].weight_hh.shape}: not 4H, 3H or H rows; "
                            "name the cell with --cell")
    rest = {k: v for k, v in tensors.items() if not _RECURRENT.match(k)}
    pairs = [(k[:-len("weight")], v) for k, v in rest.items()
             if k.endswith("weight") and v.ndim == 2 and v.shape[1] == hidden and k[:-6] + "bias" in rest]
    if len(pairs) != 1:
        raise UserError(f"expected one linear head reading the {hidden} units (keys like fc.weight and fc.bias), "
                        f"found {len(pairs)}")
    head_prefix, weight = pairs[0]
    bias = rest[head_prefix + "bias"]
    if len(heads) != weight.shape[0]:
        raise UserError(f"the head has {weight.shape[0]} outputs but {len(heads)} labels were given; "
                        "give one label per output with --heads")
    if len(alphabet) != layers[0].weight_ih.shape[1]:
        raise UserError(f"the network reads {layers[0].weight_ih.shape[1]} symbols but the alphabet has "
                        f"{len(alphabet)}; give one symbol per input with --alphabet")
    try:
        return Model(layers=tuple(layers), head_weight=np.asarray(weight, np.float32),
                     head_bias=np.asarray(bias, np.float32), alphabet=tuple(alphabet), heads=tuple(heads),
                     units=tuple(f"imported unit {u}" for u in range(hidden)), cell=cell,
                     extra={"imported": {"recurrent": prefix.rstrip("."), "head": head_prefix.rstrip(".")}})
    except ModelError as exc:
        raise UserError(f"the tensors do not form a model: {exc}") from None
