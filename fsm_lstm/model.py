"""Model: recurrent weights in PyTorch layout, linear heads, labels; the documented ``.npz`` format.

File contents (all arrays float32 unless the writer chose float64):
``weight_ih_l{k}`` (GH x K), ``weight_hh_l{k}`` (GH x H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (GH) for layers
k = 0, 1, ..., where G and the gate order follow ``meta.cell``: ``lstm`` G=4 (i, f, g, o) as nn.LSTM, ``gru``
G=3 (r, z, n) as nn.GRU, ``rnn`` G=1 (tanh) as nn.RNN; ``heads.weight`` (M x H_last), ``heads.bias`` (M); and
``meta``, a JSON string with ``alphabet``, ``heads`` (M labels), ``units`` (H_last labels), ``cell`` and
optionally ``grammar`` (the grammar text it was compiled from) and ``unknown_start``.
A head is true exactly when its logit is > 0. Inputs are one-hot; the initial state is zero.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .atomic import atomic_path
from .errors import ModelError

GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"), "rnn": ("h",)}  # weight row blocks, PyTorch order
GATE_COUNT = {cell: len(gates) for cell, gates in GATES.items()}
CELLS = tuple(GATES)


@dataclass(frozen=True)
class Layer:
    """One LSTM layer in PyTorch layout."""

    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias_ih: np.ndarray
    bias_hh: np.ndarray

    @property
    def hidden_size(self) -> int:
        """H, the number of units."""
        return self.weight_hh.shape[1]


@dataclass(frozen=True)
class Model:
    """A recurrent network with linear heads and labels."""

    layers: tuple[Layer, ...]
    head_weight: np.ndarray
    head_bias: np.ndarray
    alphabet: tuple[str, ...]
    heads: tuple[str, ...]
    units: tuple[str, ...]
    cell: str = "lstm"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate(self)

    @property
    def hidden_size(self) -> int:
        """Units of the last layer."""
        return self.layers[-1].hidden_size

    @property
    def meta(self) -> dict[str, Any]:
        """The JSON ``meta`` record of the file format."""
        return {"alphabet": list(self.alphabet), "heads": list(self.heads), "units": list(self.units),
                "cell": self.cell, **self.extra}

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays of the file format, by name."""
        out: dict[str, np.ndarray] = {}
        for k, layer in enumerate(self.layers):
            out[f"weight_ih_l{k}"] = layer.weight_ih
            out[f"weight_hh_l{k}"] = layer.weight_hh
            out[f"bias_ih_l{k}"] = layer.bias_ih
            out[f"bias_hh_l{k}"] = layer.bias_hh
        out["heads.weight"] = self.head_weight
        out["heads.bias"] = self.head_bias
        return out


def _fail(msg: str) -> ModelError:
    return ModelError(msg)


def validate(m: Model) -> None:
    """Check shapes, finiteness and labels; raise ModelError saying what is wrong."""
    if m.cell not in CELLS:
        raise _fail(f"unknown cell {m.cell!r}; this version runs {', '.join(CELLS)}")
    if not m.layers:
        raise _fail("the model has no layers; it needs weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0")
    if not m.alphabet or len(set(m.alphabet)) != len(m.alphabet):
        raise _fail("meta.alphabet must be a non-empty list of distinct symbols")
    width = len(m.alphabet)
    n = GATE_COUNT[m.cell]
    for k, layer in enumerate(m.layers):
        h = layer.weight_hh.shape[0] // n if layer.weight_hh.ndim == 2 else -1
        expect = {"weight_hh": (n * h, h), "weight_ih": (n * h, width), "bias_ih": (n * h,), "bias_hh": (n * h,)}
        for name, shape in expect.items():
            arr = getattr(layer, name)
            if arr.shape != shape:
                raise _fail(f"{name}_l{k} has shape {arr.shape}, expected {shape} ({n}H x "
                            f"{'K' if k == 0 else 'H_prev'} with H={h}, PyTorch nn.{m.cell.upper()} layout)")
            if not np.all(np.isfinite(arr)):
                raise _fail(f"{name}_l{k} contains NaN or infinity; the model cannot be run")
        width = h
    rows = len(m.heads)
    if m.head_weight.shape != (rows, width) or m.head_bias.shape != (rows,):
        raise _fail(f"heads.weight {m.head_weight.shape} / heads.bias {m.head_bias.shape} do not fit "
                    f"{rows} head labels and {width} units; expected ({rows}, {width}) and ({rows},)")
    if not (np.all(np.isfinite(m.head_weight)) and np.all(np.isfinite(m.head_bias))):
        raise _fail("the heads contain NaN or infinity")
    if len(m.units) != width:
        raise _fail(f"meta.units has {len(m.units)} labels for {width} units; give one label per unit")
    for label in m.heads:
        kind, _, arg = label.partition(":")
        if label != "accept" and not (kind in ("state", "next") and arg):
            raise _fail(f"head label {label!r} is not 'accept', 'state:NAME' or 'next:SYMBOL'")
        if kind == "next" and arg not in m.alphabet:
            raise _fail(f"head {label!r} names a symbol outside meta.alphabet")


def save_model(m: Model, path: str | os.PathLike[str]) -> None:
    """Write the model atomically in the documented ``.npz`` format."""
    arrays = m.arrays()
    arrays["meta"] = np.array(json.dumps(m.meta, ensure_ascii=False))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def load_model(path: str | os.PathLike[str]) -> Model:
    """Read a model file; a malformed file raises a ModelError naming the file and the problem."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise ModelError(f"{path}: no such model file; check the path") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelError(f"{path}: not a model .npz file ({exc}); write models with `fsm-lstm compile`") from None
    try:
        return model_from_arrays(arrays)
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from None


def model_from_arrays(arrays: dict[str, np.ndarray]) -> Model:
    """Build a model from the named arrays of the file format."""
    if "meta" not in arrays:
        raise _fail("no `meta` entry; the file needs a JSON meta string with alphabet, heads, units and cell")
    try:
        meta = json.loads(str(arrays["meta"]))
    except json.JSONDecodeError as exc:
        raise _fail(f"`meta` is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise _fail("`meta` must be a JSON object")
    for key in ("alphabet", "heads", "units"):
        if not isinstance(meta.get(key), list) or not all(isinstance(x, str) for x in meta[key]):
            raise _fail(f"meta.{key} is missing or not a list of strings")
    layers = []
    k = 0
    while f"weight_ih_l{k}" in arrays:
        try:
            layers.append(Layer(*(np.asarray(arrays[f"{n}_l{k}"])
                                   for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))))
        except KeyError as exc:
            raise _fail(f"layer {k} lacks {exc.args[0]}") from None
        k += 1
    for name in ("heads.weight", "heads.bias"):
        if name not in arrays:
            raise _fail(f"no `{name}` array; the file needs heads.weight (M x H) and heads.bias (M)")
    extra = {k: v for k, v in meta.items() if k not in ("alphabet", "heads", "units", "cell")}
    return Model(layers=tuple(layers), head_weight=np.asarray(arrays["heads.weight"]),
                 head_bias=np.asarray(arrays["heads.bias"]), alphabet=tuple(meta["alphabet"]),
                 heads=tuple(meta["heads"]), units=tuple(meta["units"]), cell=meta.get("cell", "lstm"),
                 extra=extra)
