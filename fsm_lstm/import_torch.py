"""PyTorch state_dicts (.pt, .pth, Lightning's .ckpt, Hugging Face's .bin: read with
``torch.load(weights_only=True)``; a checkpoint's one state_dict, under ``model_state_dict`` or any other key)
and safetensors files (read with the ``safetensors`` library's numpy API), holding one nn.LSTM, nn.GRU or nn.RNN
(or one nn.LSTMCell, GRUCell or RNNCell: ``cell.weight_ih``, read as a 1-layer module).

What the tensors may hold, by their names and shapes:
- the recurrent module: ``P.weight_ih_l{k}``, ``P.weight_hh_l{k}``, ``P.bias_ih_l{k}``, ``P.bias_hh_l{k}``
  (both biases may be missing for ``bias=False``: zeros). ``*_reverse`` (bidirectional), ``weight_hr_l{k}``
  (projections) and any other parameter of the module are refused. The cell is read off the shapes (4H, 3H or
  H rows of weight_hh) unless given. A state_dict does not record an nn.RNN's nonlinearity, and fsm-lstm runs
  tanh RNNs only: an nn.RNN is refused unless the caller says it uses tanh, torch's default
  (``fsm-lstm import --rnn-tanh``); a ReLU RNN read as tanh would be another network.
- optionally an nn.Embedding before it: a ``X.weight`` of shape (K, E) without a bias, with E the input width of
  the recurrent module; it is folded into weight_ih_l0 and the alphabet gets one symbol per row.
- one or more nn.Linear after it (``X.weight`` (M, D) and ``X.bias`` (M,), or no bias), ordered by their shapes:
  the first reads the H units, each next one reads the previous one's outputs; if the shapes allow two orders, or
  leave a Linear out (a second head), the file is refused. A state_dict cannot say whether something
  nonlinear (a ReLU) lies between two Linears, so more than one is refused unless the caller says they compose
  (``fsm-lstm import --compose-linear``). Linears whose shapes could also place them before the recurrent
  module (chaining from as many numbers as the module reads back to as many, the others chaining without them)
  are placed by the state_dict's order of keys (its modules' order): before the module, they are input layers
  and refused; a safetensors file keeps no such order, and is refused. A bias-less square weight before the
  module is an Embedding only when its name says so (``emb``): a bias-less Linear has a column per symbol.
Anything else in the file (BatchNorm statistics, integer tensors, stray weights) is refused by name.
"""

from __future__ import annotations

import itertools
import os
import re
import warnings
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UserError
from .import_common import MAX_BYTES, Dense, Network, declared_shape, dtype_problem, first_line, float_array
from .model import GATE_COUNT, MAX_META, Layer, Model, model_from_arrays
from .optional import require

__all__ = ["RECURRENT", "TORCH_SUFFIXES", "Unordered", "exported_in", "exported_model", "network_from_tensors",
           "read_tensors"]

RECURRENT = re.compile(r"^(?P<prefix>(?:.*\.)?)(?P<name>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)"
                       r"_l(?P<layer>\d+)(?P<reverse>_reverse)?$")
_SAFETENSORS_DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64}
_PARTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
_CELL_NAMES = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}
TORCH_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin")  # torch.save files: plain, Lightning's, Hugging Face's
_CELL_KEY = re.compile(r"^(?P<prefix>(?:.*\.)?)(?P<name>weight_ih|weight_hh|bias_ih|bias_hh)$")  # nn.LSTMCell's


def read_tensors(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Named float arrays from a .safetensors file or a torch state_dict (.pt/.pth, weights only)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".safetensors":
            return _read_safetensors(path)
        if suffix in TORCH_SUFFIXES:
            return _read_torch(path)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    raise UserError(f"{path}: unknown format {path.suffix!r}; import a torch.save file ({', '.join(TORCH_SUFFIXES)}) "
                    "or a .safetensors file")


class Unordered(dict):
    """Named tensors whose order says nothing of their modules' (a safetensors file's, sorted by name)."""


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    safe_open = require("safetensors", "reading .safetensors files").safe_open
    out: dict[str, np.ndarray] = Unordered()
    try:
        with safe_open(str(path), framework="numpy") as f:  # validates the header: offsets, sizes, overlaps
            for name in f.keys():
                part = f.get_slice(name)
                dtype = part.get_dtype()
                if dtype not in _SAFETENSORS_DTYPES:
                    why = "bfloat16, which numpy cannot hold; save as F32" if dtype == "BF16" else \
                        f"{dtype}; fsm-lstm reads F16, F32 and F64 weights"
                    raise UserError(f"tensor {name!r} has dtype {why}")
                declared_shape(f"tensor {name!r}", list(part.get_shape()))
                out[name] = np.asarray(f.get_tensor(name))
    except UserError:
        raise
    except Exception as exc:  # SafetensorError, OSError, ...: a damaged or hostile file
        raise UserError(f"not a safetensors file ({first_line(exc)})") from None
    return out


_LEGACY_MAGIC = bytes.fromhex("6cfc9c46f9206aa85019")  # the number torch's legacy format pickles first


def _unreadable(path: Path, why: str) -> UserError:
    """A file torch cannot read, and why; a .bin file may be a TensorFlow.js shard given in its model's place."""
    shard = ("; a .bin file is read as PyTorch's (pytorch_model.bin): a TensorFlow.js weight shard is read "
             "through its model.json") if path.suffix.lower() == ".bin" else ""
    return UserError(f"not a readable torch state_dict ({why}){shard}")


def _archive_sizes(path: Path) -> None:
    """A torch.save archive's members as declared, before torch reads them: torch allocates each record's
    declared size, so a small file with deflated records could ask for gigabytes (a 2 MB file: 2.9 GB)."""
    if not zipfile.is_zipfile(path):  # torch.save has written zip archives since PyTorch 1.6
        with path.open("rb") as fh:
            head = fh.read(64)
        if head[:1] == b"\x80" or _LEGACY_MAGIC in head:  # a pickle, as the legacy format is
            raise _unreadable(path, "a bare pickle, as torch.save wrote before PyTorch 1.6: torch would allocate "
                              "the sizes it declares before they could be checked; if you trust the file, load it "
                              "with torch and save it again with a current torch.save")
        raise _unreadable(path, "it is not in the format torch.save writes")
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UserError(f"not a readable torch state_dict ({first_line(exc)})") from None
    total = sum(info.file_size for info in infos)
    if total > MAX_BYTES:
        raise UserError(f"its archive declares {total:,} bytes of records; fsm-lstm reads at most {MAX_BYTES:,}")


def exported_model(path: str | os.PathLike[str]) -> Model | None:
    """The model in a file that fsm-lstm's ``export --to torch`` wrote, with its meta, checked as a model file
    is; None for a .pt/.pth file of another shape. Such a file is a dict of exactly ``state_dict`` (the arrays of
    the model format, the recurrent ones prefixed ``rnn.``) and ``meta`` (the model's meta JSON string); one
    whose meta or tensors do not make a model is refused, never read some other way."""
    path = Path(path)
    return exported_in(path) if path.suffix.lower() in (".pt", ".pth") and path.is_file() else None


def exported_in(path: Path) -> Model | None:
    """:func:`exported_model` of a file whatever its name."""
    try:
        data = _torch_load(path)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    if not (isinstance(data, dict) and set(data) == {"state_dict", "meta"} and isinstance(data["meta"], str)
            and isinstance(data["state_dict"], dict)):
        return None  # another checkpoint: read as a state_dict, labelled by the caller
    try:
        return _model_of(data["state_dict"], data["meta"])
    except UserError as exc:
        raise UserError(f"{path}: not a model that fsm-lstm export wrote ({exc}); to read its state_dict "
                        "instead, label it (import --alphabet and --heads)") from None


def _model_of(state: dict[Any, Any], meta: str) -> Model:
    """The model of an exported file's state_dict and meta; its tensors must be exactly the model's."""
    if len(meta) > MAX_META:
        raise UserError(f"its meta has {len(meta):,} characters, over the limit of {MAX_META:,}")
    if not all(isinstance(k, str) for k in state):
        raise UserError("its state_dict has keys that are not strings")
    arrays = _tensor_arrays(state.items())
    model = model_from_arrays({**{k.removeprefix("rnn."): v for k, v in arrays.items()}, "meta": np.array(meta)})
    written = {("" if n.startswith("heads.") else "rnn.") + n for n in model.arrays()}
    if set(state) != written:
        odd = sorted(set(state) ^ written)
        raise UserError(f"its state_dict has {', '.join(map(repr, odd[:3]))}{', ...' if len(odd) > 3 else ''} "
                        "besides or instead of the model's tensors")
    return model


def _torch_load(path: Path) -> Any:
    """torch.load(weights_only=True) after checking the archive's declared sizes; one line for any failure."""
    torch = require("torch", "reading .pt files")
    _archive_sizes(path)
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols; the error below says what matters
            warnings.simplefilter("ignore")
            data = torch.load(path, weights_only=True, map_location="cpu")  # never unpickles code
    except Exception as exc:  # torch raises many kinds for a bad or hostile file
        why = first_line(exc)
        if "weights only load failed" in why.lower():
            why = ("it holds Python objects besides tensors, which fsm-lstm never unpickles (a whole module saved by "
                   "torch.save(model)?); save torch.save(model.state_dict(), PATH) instead, or export to ONNX")
        elif isinstance(exc, (KeyError, IndexError)) or len(why) < 8:  # a bare key or number says nothing
            why = "it is not in the format torch.save writes"
        raise _unreadable(path, why) from None
    return data


def _read_torch(path: Path) -> dict[str, np.ndarray]:
    if path.stat().st_size == 0:
        raise UserError("the file is empty (0 bytes)")
    data = _torch_load(path)
    if not isinstance(data, dict):
        raise UserError(f"holds a {type(data).__name__}, not a state_dict; save model.state_dict()")
    return _tensor_arrays(_state_dict_in(data).items())


def _state_dict_in(data: dict[Any, Any]) -> dict[Any, Any]:
    """The state_dict in what torch.load gave: the dict itself when it holds recurrent weights, else the one dict
    among its entries that does (a training checkpoint: ``{"epoch", "model_state_dict", "optimizer_state_dict"}``,
    Lightning's ``{"state_dict", "hyper_parameters", ...}``, ``{"model": ...}``)."""
    def recurrent(d: dict[Any, Any]) -> bool:
        return any(isinstance(k, str) and (RECURRENT.match(k) or _CELL_KEY.match(k)) for k in d)

    if recurrent(data):
        return data
    inner = [key for key, value in data.items() if isinstance(value, dict) and recurrent(value)]
    if not inner:  # one level further down: {"model": {"state_dict": ...}}
        found = [(key, _state_dict_in(value)) for key, value in data.items() if isinstance(value, dict)
                 and any(isinstance(v, dict) and recurrent(v) for v in value.values())]
        if len(found) == 1:
            return found[0][1]
    if len(inner) > 1:
        raise UserError(f"holds state_dicts under {', '.join(map(repr, inner))}; save the one to import alone "
                        "(torch.save(model.state_dict(), ...))")
    if inner:
        return data[inner[0]]
    if isinstance(data.get("state_dict"), dict):
        return data["state_dict"]
    return data


def _tensor_array(key: Any, value: Any) -> np.ndarray:
    """A state_dict entry as a numpy array, or one line on what it is instead."""
    torch = require("torch", "reading .pt files")
    if not isinstance(value, torch.Tensor):
        raise UserError(f"entry {key!r} is of type {type(value).__name__}, not a tensor; save model.state_dict()")
    problem = dtype_problem(str(value.dtype).removeprefix("torch."))
    counter = not value.is_floating_point() and not value.is_complex() and value.dtype != torch.bool
    if problem and not counter:  # an integer buffer (BatchNorm's num_batches_tracked) is named if not placed
        raise UserError(f"tensor {key!r} has dtype {problem}")
    if value.is_sparse or value.is_quantized or value.is_complex():
        raise UserError(f"tensor {key!r} is sparse, quantized or complex; save plain float weights")
    if value.is_meta:
        raise UserError(f"tensor {key!r} has no data (it is on the meta device); save the weights after loading them")
    declared_shape(f"tensor {key!r}", list(value.shape))  # expand() makes a huge tensor of a few stored numbers
    return value.detach().cpu().numpy()


def _tensor_arrays(items: Iterable[tuple[Any, Any]]) -> dict[str, np.ndarray]:
    """The entries of a state_dict as numpy arrays (:func:`_tensor_array`), at most ``MAX_BYTES`` in all as their
    shapes declare them: tensors made with expand() hold few numbers in the file and many once used."""
    arrays, total = {}, 0
    for key, value in items:
        arrays[str(key)] = array = _tensor_array(key, value)
        total += array.size * array.itemsize
        if total > MAX_BYTES:
            raise UserError(f"its tensors declare more than {MAX_BYTES:,} bytes; fsm-lstm reads at most that")
    return arrays


def network_from_tensors(tensors: dict[str, np.ndarray], cell: str | None = None, ordered: bool | None = None
                         ) -> Network:
    """Find the recurrent module, an optional embedding and the linear layers among named tensors; ``ordered``:
    the tensors come in their modules' order, as a torch state_dict keeps them (default: unless they were read
    from a safetensors file, :class:`Unordered`)."""
    ordered = not isinstance(tensors, Unordered) if ordered is None else ordered
    parametrized = [k for k in tensors if k.startswith("parametrizations.") or ".parametrizations." in k]
    if parametrized:
        raise UserError(f"{parametrized[0]} belongs to a parametrization (torch.nn.utils.parametrize, such as "
                        "weight_norm); save the state_dict after torch.nn.utils.parametrize.remove_parametrizations")
    tensors, cell_notes = _cells_as_layers(tensors)
    for key, value in tensors.items():
        if not (isinstance(value, np.ndarray) and value.dtype.kind in "iu"):  # integers: refused once placed
            float_array(f"tensor {key!r}", value)
    found: dict[str, dict[int, dict[str, np.ndarray]]] = {}
    for key, value in tensors.items():
        m = RECURRENT.match(key)
        if not m:
            continue
        if m["reverse"]:
            raise UserError(f"{key} belongs to a bidirectional module; fsm-lstm reads left-to-right networks only")
        if m["name"] == "weight_hr":
            raise UserError(f"{key} is a projection (proj_size > 0); fsm-lstm reads LSTMs without projections")
        found.setdefault(m["prefix"], {}).setdefault(int(m["layer"]), {})[m["name"]] = value
    if len(found) != 1:
        raise UserError(f"expected one recurrent module (keys like lstm.weight_ih_l0), found "
                        f"{len(found) or 'none'}: {', '.join(repr(p.rstrip('.')) for p in found) or 'no such keys'}")
    prefix, by_layer = next(iter(found.items()))
    module = prefix.rstrip(".") or "the recurrent module"
    stray = [k for k in tensors if prefix and k.startswith(prefix) and not RECURRENT.match(k)
             and "." not in k[len(prefix):]]
    if stray:
        raise UserError(f"{module} has parameters fsm-lstm does not know ({', '.join(stray)}): peepholes or a "
                        "custom cell; fsm-lstm reads nn.LSTM, nn.GRU and nn.RNN")
    if sorted(by_layer) != list(range(len(by_layer))):
        raise UserError(f"{module} has layers {sorted(by_layer)}; expected 0, 1, ... without gaps")
    no_bias = all("bias_ih" not in p and "bias_hh" not in p for p in by_layer.values())
    layers = []
    for k in range(len(by_layer)):
        parts = by_layer[k]
        missing = [n for n in _PARTS if n not in parts and not (no_bias and n.startswith("bias"))]
        if missing:
            why = "biases are required (bias=True)" if all(n.startswith("bias") for n in missing) else \
                "a recurrent layer needs weight_ih and weight_hh (and both biases, or neither)"
            raise UserError(f"layer {k} of {module} lacks {', '.join(missing)}; {why}")
        w_ih = float_array(f"{prefix}weight_ih_l{k}", parts["weight_ih"], (None, None))
        w_hh = float_array(f"{prefix}weight_hh_l{k}", parts["weight_hh"], (w_ih.shape[0], None))
        rows = w_ih.shape[0]
        zeros = np.zeros(rows, w_ih.dtype)
        b_ih = float_array(f"{prefix}bias_ih_l{k}", parts.get("bias_ih", zeros), (rows,))
        b_hh = float_array(f"{prefix}bias_hh_l{k}", parts.get("bias_hh", zeros), (rows,))
        layers.append(Layer(w_ih, w_hh, b_ih, b_hh))
    shape0 = layers[0].weight_hh.shape
    detected = {v: c for c, v in GATE_COUNT.items()}.get(shape0[0] // shape0[1] if shape0[1] else -1)
    if detected is None or shape0[0] != GATE_COUNT[detected] * shape0[1]:
        if cell is None:
            raise UserError(f"{prefix}weight_hh_l0 has shape {shape0}: not 4H, 3H or H rows of H; "
                            "name the cell with --cell")
    if cell is None:
        cell = detected
    elif detected != cell:
        raise UserError(f"{prefix}weight_hh_l0 has shape {shape0}, which is not an nn.{_CELL_NAMES[cell]} "
                        f"({GATE_COUNT[cell]}H x H); check --cell")
    assert cell is not None
    notes = cell_notes + ([f"nn.RNN{'Cell' if cell_notes else ''} read as nonlinearity='tanh', as --rnn-tanh says"]
                          if cell == "rnn" else [])
    if no_bias:
        notes.append(f"{module} has no biases (bias=False): zeros used")
    rest = {k: v for k, v in tensors.items() if not RECURRENT.match(k)}
    embedding, emb_name, rest = _embedding(rest, layers[0].weight_ih.shape[1], layers[-1].hidden_size)
    dense, rest = _linear_chain(rest, layers[-1].hidden_size)
    _no_input_layer(dense, list(tensors), prefix, layers[0].weight_ih.shape[1], layers[-1].hidden_size, ordered,
                    module)
    if rest:
        raise UserError(f"tensors fsm-lstm cannot place: {', '.join(sorted(rest))}; it reads an optional "
                        "nn.Embedding, one nn.LSTM/GRU/RNN and nn.Linear layers")
    for key, value in tensors.items():  # every tensor is placed: integer weights are refused here
        if value.dtype.kind in "iu":
            float_array(f"tensor {key!r}", value)
    sources = ([f"{emb_name} (Embedding)"] if emb_name else []) + \
        [f"{module} ({_CELL_NAMES[cell]}, {len(layers)} layer{'s' if len(layers) > 1 else ''})"] + \
        [f"{d.name} (Linear)" for d in dense]
    notes.append(f"a state_dict holds weights only: read as {' -> '.join(s.split(' (')[0] for s in sources)}; a "
                 "module without weights between them (a ReLU, a LayerNorm without affine) or an Embedding's "
                 "max_norm is not in it and would make this another network (an .onnx export records them)")
    return Network(format="torch", cell=cell, layers=layers, dense=dense, embedding=embedding, sources=sources,
                   notes=notes, composable=False, tanh_unstated=cell == "rnn")


def _cells_as_layers(tensors: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], list[str]]:
    """An nn.LSTMCell, GRUCell or RNNCell's tensors (``cell.weight_ih``, without ``_l0``) renamed as a 1-layer
    module's, when the file holds no module's: the cell run over a word one symbol at a time from the zero
    state, as a training loop runs it, is that module."""
    if any(RECURRENT.match(k) for k in tensors):
        return tensors, []
    prefixes = {m["prefix"] for k in tensors if (m := _CELL_KEY.match(k)) and m["name"] == "weight_hh"}
    if len(prefixes) > 1:
        raise UserError(f"holds {len(prefixes)} cells ({', '.join(sorted(repr(p.rstrip('.')) for p in prefixes))}); "
                        "fsm-lstm reads one nn.LSTMCell, GRUCell or RNNCell, or one multi-layer nn.LSTM, GRU or RNN: "
                        "save the cells' weights as such a module's (weight_ih_l0, weight_ih_l1, ...)")
    if not prefixes:
        return tensors, []
    prefix = next(iter(prefixes))
    renamed = type(tensors)((f"{k}_l0" if k.startswith(prefix) and _CELL_KEY.match(k) and "." not in k[len(prefix):]
                             else k, v) for k, v in tensors.items())
    module = prefix.rstrip(".") or "the cell"
    return renamed, [f"{module} (a cell: weight_ih, weight_hh) read as a 1-layer module: the cell run over the word "
                     "one symbol at a time from the zero state, each step's h read by what follows"]


def _groups(tensors: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    out: dict[str, dict[str, np.ndarray]] = {}
    for key, value in tensors.items():
        head, _, last = key.rpartition(".")
        out.setdefault(head, {})[last] = value
    return out


def _embedding(rest: dict[str, np.ndarray], width: int, hidden: int
               ) -> tuple[np.ndarray | None, str, dict[str, np.ndarray]]:
    """An nn.Embedding feeding the recurrent module: a lone 2-D ``weight`` (K, width) without a bias, unless it
    is the only weight that can read the ``hidden`` units: then it is a bias-less nn.Linear head."""
    groups = _groups(rest)
    found = [(name, parts["weight"]) for name, parts in groups.items()
             if set(parts) == {"weight"} and parts["weight"].ndim == 2 and parts["weight"].shape[1] == width]
    readers = [name for name, parts in groups.items() if getattr(parts.get("weight"), "ndim", 0) == 2
               and parts["weight"].shape[1] == hidden]
    if len(found) == 1 and readers == [found[0][0]]:
        return None, "", rest
    if not found:
        return None, "", rest
    if len(found) > 1:
        raise UserError(f"several tensors could be the embedding ({', '.join(n + '.weight' for n, _ in found)}); "
                        "save a state_dict with one nn.Embedding")
    name, weight = found[0]
    if weight.shape[0] == weight.shape[1] and "emb" not in name.lower():
        raise UserError(f"{name or 'weight'} ({weight.shape[0]} x {weight.shape[1]}, no bias) could be an "
                        "nn.Embedding (a row per symbol) or a bias-less nn.Linear (a column per symbol) before the "
                        "recurrent module; fsm-lstm reads an Embedding there, when its name says so (contains "
                        "'emb'), and no nn.Linear")
    key = f"{name}.weight" if name else "weight"
    return weight, name or "weight", {k: v for k, v in rest.items() if k != key}


def _orders(shapes: dict[str, tuple[int, ...]], reads: int, gives: int | None = None) -> list[tuple[str, ...]]:
    """The orders of the linear layers (weight shapes (outputs, inputs)) that chain from ``reads`` numbers (to
    ``gives`` numbers, when given)."""
    return [p for p in itertools.permutations(shapes)
            if all(shapes[n][1] == (shapes[p[k - 1]][0] if k else reads) for k, n in enumerate(p))
            and (gives is None or shapes[p[-1]][0] == gives)]


def _no_input_layer(chain: list[Dense], keys: list[str], prefix: str, width: int, hidden: int, ordered: bool,
                    module: str) -> None:
    """Refuse layers of the head chain that could as well be nn.Linear layers before the recurrent module: some of
    them chain from ``width`` numbers (what the module reads) back to ``width``, while the others still chain
    from the units. (Layers that do not end at ``width``, read as a head, leave an input width that the alphabet
    then does not match.) The shapes cannot tell them apart; a torch state_dict's order of keys (its modules'
    order) can: a layer before the module is an input layer, which fsm-lstm does not read (read as a head, the
    network would be another). A safetensors file does not keep that order."""
    start = min(k for k, key in enumerate(keys) if key.startswith(prefix) and RECURRENT.match(key))
    shapes = {d.name: d.weight.shape for d in chain}
    for size in range(1, len(chain)):
        for inputs in itertools.combinations(shapes, size):
            rest = {n: shapes[n] for n in shapes if n not in inputs}
            if not _orders({n: shapes[n] for n in inputs}, width, width) or not _orders(rest, hidden):
                continue
            names = " and ".join(f"{n or 'the linear layer'} (Linear {shapes[n][1]} -> {shapes[n][0]})"
                                 for n in inputs)
            where = [keys.index(f"{n}.weight" if n else "weight") for n in inputs]
            if not ordered:
                what = "a layer before {0} as well as one" if size == 1 else "layers before {0} as well as layers"
                raise UserError(f"{names} could be {what.format(module)} of the head after it, and a safetensors file "
                                "does not keep the modules' order: save the state_dict with torch.save (.pt), whose "
                                "order tells")
            if min(where) < start:
                what = "comes before {0} in the state_dict: an input layer" if size == 1 else \
                    "come before {0} in the state_dict: input layers"
                raise UserError(f"{names} {what.format(module)}, which fsm-lstm does not read (it folds only an "
                                "nn.Embedding there)")


def _linear_chain(rest: dict[str, np.ndarray], hidden: int) -> tuple[list[Dense], dict[str, np.ndarray]]:
    """The nn.Linear layers after the recurrent module, in the one order their shapes allow: the first reads
    the units, each next one the previous one's outputs."""
    linears = {}
    for name, parts in _groups(rest).items():
        if set(parts) in ({"weight", "bias"}, {"weight"}):  # nn.Linear, with or without a bias
            w = parts["weight"]
            if w.ndim == 1:
                what = "a normalisation layer's scale and shift (nn.LayerNorm)" if "bias" in parts else \
                    "a per-unit scale: a normalisation layer's, or a loss's class weights (CrossEntropyLoss(weight=))"
                raise UserError(f"{name}.weight has shape {w.shape}, 1-D: {what}, which fsm-lstm does not read; it "
                                "reads nn.Linear layers (2-D weights) after the recurrent module")
            if w.ndim != 2:
                raise UserError(f"{name}.weight has shape {w.shape}; an nn.Linear weight is 2-D (outputs x inputs)")
            b = parts.get("bias", np.zeros(w.shape[0], w.dtype))
            float_array(f"{name}.bias", b, (w.shape[0],))
            linears[name] = (w, b)
    if not any(w.shape[1] == hidden for w, _ in linears.values()):
        raise UserError(f"expected one linear head reading the {hidden} units (keys like fc.weight and fc.bias), "
                        "found 0")
    if len(linears) > 4:
        raise UserError(f"found {len(linears)} linear layers ({', '.join(linears)}); fsm-lstm reads at most 4")
    orders = _orders({n: w.shape for n, (w, _) in linears.items()}, hidden)
    if not orders:
        raise UserError(f"the linear layers {', '.join(linears)} do not form one chain from the {hidden} units "
                        "(a second head, or a layer fsm-lstm does not know)")
    if len(orders) > 1:
        raise UserError(f"the order of the linear layers {', '.join(linears)} cannot be told from their shapes")
    chain = [Dense(weight=linears[n][0], bias=linears[n][1], name=n) for n in orders[0]]
    used = {f"{d.name}.{p}" if d.name else p for d in chain for p in ("weight", "bias")}
    return chain, {k: v for k, v in rest.items() if k not in used}
