"""Keras models: ``.keras`` archives (``config.json`` + ``model.weights.h5``) and legacy ``.h5`` files
(``model_config`` attribute + ``model_weights`` group), read with zipfile, json and h5py only. Nothing in the
file is executed: no pickle, no Lambda, no custom objects. HDF5 data is read in a child process
(``h5_snapshot``), since the HDF5 library can hang or crash on a damaged file. The layer rules
(:func:`network_from_config`) are shared with TensorFlow.js Layers models.

Keras' documented equations, per step, for x (input row vector) and h, c (state):
- LSTM: z = x @ kernel + h @ recurrent_kernel + bias, blocks i, f, c, o (= PyTorch i, f, g, o);
  c' = f * c + i * tanh(z_c), h' = o * tanh(c'). So weight_ih = kernel.T, weight_hh = recurrent_kernel.T,
  bias_ih = bias, bias_hh = 0.
- GRU, reset_after=True: bias (2, 3H) = (input bias, recurrent bias), blocks z, r, h (PyTorch r, z, n);
  h' = z * h + (1 - z) * tanh(x_h + r * (h @ R_h + b_rh)): PyTorch's nn.GRU after reordering the blocks.
  reset_after=False multiplies r into h *before* the recurrent matrix, which PyTorch's layout cannot hold.
- SimpleRNN: h' = tanh(x @ kernel + h @ recurrent_kernel + bias).
Dense layers after the recurrent ones become the heads (see ``importer``); an Embedding before them is folded.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UserError
from .h5_snapshot import Tree, read_tree
from .import_common import MAX_BYTES, Dense, Network, first_line, float_array
from .model import Layer
from .optional import require

__all__ = ["Fetch", "GATES", "INFERENCE_IDENTITY", "MASK_OPS", "REASONS", "RECURRENT", "WEIGHT_NAMES", "cell_weights",
           "chain", "network_from_config", "read_keras", "weight_kinds"]

RECURRENT = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "rnn"}
GATES = {"lstm": 4, "gru": 3, "rnn": 1}
INFERENCE_IDENTITY = {"Dropout", "SpatialDropout1D", "GaussianDropout", "GaussianNoise", "AlphaDropout",
                      "ActivityRegularization"}
WEIGHT_NAMES = {"LSTM": ("kernel", "recurrent_kernel", "bias"), "GRU": ("kernel", "recurrent_kernel", "bias"),
                "SimpleRNN": ("kernel", "recurrent_kernel", "bias"), "Dense": ("kernel", "bias"),
                "Embedding": ("embeddings",)}
REASONS = {"Bidirectional": "it also reads right to left, which no left-to-right network can hold; retrain with the "
           "recurrent layer alone", "Lambda": "it runs Python code stored in the file, "
           "which fsm-lstm never executes", "CuDNNLSTM": "use keras.layers.LSTM", "CuDNNGRU": "use keras.layers.GRU"}
MASK_OPS = {"NotEqual", "Any"}  # the ops Keras 3 writes to compute a Masking layer's or mask_zero's mask
# (layer index, layer name, class, weight kinds, (the cell's position, the number of cells) in an RNN of stacked
# cells, or None) -> weights
Fetch = Callable[[int, str, str, tuple[str, ...], tuple[int, int] | None], dict[str, Any]]


def read_keras(path: Path) -> Network:
    """A ``.keras`` archive or a legacy ``.h5`` file."""
    require("h5py", "reading Keras files")
    try:
        if path.suffix.lower() == ".keras":
            return _read_archive(path)
        return _read_legacy(path)
    except RecursionError:
        raise UserError("the model config is nested too deeply") from None


# ----- the two containers ---------------------------------------------------------------------
def _read_archive(path: Path) -> Network:
    try:
        with zipfile.ZipFile(path) as zf:
            listed = zf.namelist()
            names = set(listed)
            twice = next((n for n in ("config.json", "model.weights.h5") if listed.count(n) > 1), None)
            if twice:
                raise UserError(f"the archive holds {twice} twice; which one is the model's is not defined")
            if "config.json" not in names:
                raise UserError("a .keras archive needs config.json; this one holds "
                                f"{', '.join(sorted(names)[:5]) or 'nothing'}")
            if "model.weights.h5" not in names:
                raise UserError("a .keras archive needs model.weights.h5 (sharded or npz weights are not read)")
            config = _json(_member(zf, "config.json"), "config.json")
            weights = _member(zf, "model.weights.h5")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise UserError(f"not a .keras archive ({first_line(exc)})") from None
    try:
        tree = read_tree(weights)
    except UserError as exc:
        raise UserError(f"model.weights.h5: {exc}") from None
    if not tree.is_group("layers"):
        raise UserError("model.weights.h5 has no `layers` group; is it a Keras 3 weights file?")
    return network_from_config(config, _ArchiveWeights(tree, config), "keras")


def _member(zf: zipfile.ZipFile, name: str) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > MAX_BYTES:
        raise UserError(f"{name} declares {info.file_size:,} bytes; fsm-lstm reads at most {MAX_BYTES:,}")
    with zf.open(info) as fh:
        return fh.read(MAX_BYTES + 1)


def _json(data: bytes | str, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise UserError(f"{what} is not valid JSON ({first_line(exc)})") from None


def _read_legacy(path: Path) -> Network:
    tree = read_tree(str(path))
    root = tree.attrs("")
    if "model_config" not in root:
        what = "holds weights only (save_weights)" if "layer_names" in root else "has no model_config"
        raise UserError(f"{what}; save the whole model with model.save(...) so that its layers are known")
    raw = root["model_config"]
    config = _json(raw if isinstance(raw, str) else json.dumps(raw), "model_config")
    if not tree.is_group("model_weights"):
        raise UserError("has no model_weights group")
    return network_from_config(config, _LegacyWeights(tree), "keras-h5")


def _attr_list(attrs: dict[str, Any], name: str) -> list[str]:
    """A list-of-strings attribute, also when it was split into name0, name1, ... (as Keras does)."""
    if name in attrs:
        values = attrs[name]
    else:
        values, k = [], 0
        while f"{name}{k}" in attrs:
            part = attrs[f"{name}{k}"]
            values += part if isinstance(part, list) else [part]
            k += 1
    values = values if isinstance(values, list) else [values]
    return [str(v) for v in values]


class _LegacyWeights:
    """Weights of a legacy .h5 file: model_weights/<layer name>, listed by its weight_names attribute."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree

    def __call__(self, index: int, name: str, cls: str, kinds: tuple[str, ...], cell: tuple[int, int] | None
                 ) -> dict[str, Any]:
        group = f"model_weights/{name}"
        if "/" in name or not self.tree.is_group(group):
            raise UserError(f"model_weights has no group for layer {name!r}")
        names = _attr_list(self.tree.attrs(group), "weight_names")
        return {kind: self.tree.array(f"{group}/{wname}", f"layer {name!r} weight {wname}")
                for kind, wname in weight_kinds(name, names, cell).items()}


def weight_kinds(layer: str, names: list[str], cell: tuple[int, int] | None) -> dict[str, str]:
    """The weight name of each kind (``kernel`` of ``rnn/lstm_cell/kernel:0``) among a layer's ``names``, or among
    its stacked cell ``cell``'s (:func:`cell_weights`); a kind twice is refused."""
    out: dict[str, str] = {}
    for wname in names if cell is None else cell_weights(layer, names, cell):
        kind = wname.rsplit("/", 1)[-1].split(":")[0]
        if kind in out:
            raise UserError(f"layer {layer!r} has two weights named {kind}")
        out[kind] = wname
    return out


def cell_weights(layer: str, names: list[str], cell: tuple[int, int]) -> list[str]:
    """The weight names of cell ``cell[0]`` of an RNN of ``cell[1]`` stacked cells: each cell's weights share a
    path (``rnn/stacked_rnn_cells/lstm_cell_1/kernel``, TF.js's ``rnn_RNN1/RNNCell_1/kernel``), the cells' paths
    in the order of the cells."""
    paths: dict[str, list[str]] = {}
    for wname in names:
        paths.setdefault(wname.rsplit("/", 1)[0] if "/" in wname else "", []).append(wname)
    if len(paths) != cell[1]:
        raise UserError(f"layer {layer!r} stores weights for {len(paths)} cell(s) under as many paths, and its config "
                        f"stacks {cell[1]}")
    return list(paths.values())[cell[0]]


def _snake(name: str) -> str:
    """Keras' naming.to_snake_case, which names the layer groups of a .keras weights file."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


class _ArchiveWeights:
    """Weights of a .keras archive: layers/<snake_case class name>[_n]/vars/0, 1, ... (cell/vars for RNNs),
    numbered in the order of ``model.layers``; each ``vars`` group records its layer's name, which is checked."""

    def __init__(self, tree: Tree, config: Any) -> None:
        self.tree = tree
        self.keys: dict[str, str] = {}
        used: dict[str, int] = {}
        top = config.get("class_name") if isinstance(config, dict) else None
        for layer in _layer_dicts(config):
            cls = layer.get("class_name")
            if cls == "InputLayer" and top == "Sequential":
                continue  # Sequential.layers leaves the input out; Functional.layers keeps it
            base = _snake(str(cls))
            used[base] = used.get(base, -1) + 1
            self.keys[_layer_name(layer)] = base if used[base] == 0 else f"{base}_{used[base]}"
        self.wrapped = {_layer_name(layer) for layer in _layer_dicts(config)
                        if layer.get("class_name") == "TimeDistributed"}  # variables under layer/vars
        self.cells = {_layer_name(layer): _cell_keys(layer) for layer in _layer_dicts(config)}

    def __call__(self, index: int, name: str, cls: str, kinds: tuple[str, ...], cell: tuple[int, int] | None
                 ) -> dict[str, Any]:
        key = self.keys.get(name)
        group = f"layers/{key}"
        if key is None or not self.tree.is_group(group):
            raise UserError(f"model.weights.h5 has no weights for layer {name!r} (layers/{key})")
        stored = self.tree.attrs(f"{group}/vars").get("name")
        if stored is not None and stored != name:
            raise UserError(f"model.weights.h5 holds layer {stored!r} where config.json has {name!r}")
        holder = f"{group}/cell/vars" if cls in RECURRENT else f"{group}/layer/vars" if name in self.wrapped \
            else f"{group}/vars"
        if cell is not None:  # StackedRNNCells keeps each cell under cells/<snake_case class name>[_n]
            keys = self.cells.get(name, [])
            if cell[0] >= len(keys):
                raise UserError(f"config.json lists no cell {cell[0]} for layer {name!r}")
            holder = f"{group}/cell/cells/{keys[cell[0]]}/vars"
        if not self.tree.is_group(holder):
            raise UserError(f"model.weights.h5 has no variables for layer {name!r}")
        names = sorted(self.tree.children(holder), key=lambda k: (len(k), k))
        if names != [str(k) for k in range(len(names))] or len(names) != len(kinds):
            raise UserError(f"layer {name!r} has {len(names)} stored variables, expected {len(kinds)} "
                            f"({', '.join(kinds)}); quantized or LoRA layers are not read")
        return {kind: self.tree.array(f"{holder}/{k}", f"layer {name!r} {kind}") for kind, k in zip(kinds, names)}


def _cell_keys(layer: dict) -> list[str]:
    """Where a .keras file keeps the weights of each cell of an RNN of stacked cells: Keras' saving_lib names
    the members of a list by their snake_case class name, numbered from the second of a name on (``lstm_cell``,
    ``lstm_cell_1``); empty for any other layer."""
    cfg = layer.get("config")
    cell = cfg.get("cell") if isinstance(cfg, dict) else None
    inner = cell.get("config") if isinstance(cell, dict) else None
    cells = inner.get("cells") if isinstance(inner, dict) else None
    keys: list[str] = []
    used: dict[str, int] = {}
    for c in cells if isinstance(cells, list) else []:
        base = _snake(str(c.get("class_name") if isinstance(c, dict) else c))
        used[base] = used.get(base, -1) + 1
        keys.append(base if used[base] == 0 else f"{base}_{used[base]}")
    return keys


def _time_steps(shape: Any, cfg: dict) -> int | None:
    """The number of time steps a layer's batch input shape (or an Embedding's ``input_length``) declares."""
    if isinstance(shape, list) and len(shape) in (2, 3) and type(shape[1]) is int and shape[1] > 0:
        return shape[1]
    length = cfg.get("input_length", cfg.get("inputLength"))
    return length if type(length) is int and length > 0 else None


# ----- the layer rules, shared with TensorFlow.js ----------------------------------------------
def _layer_dicts(config: Any) -> list[dict]:
    """The layer records of a Sequential or Functional config, in file order."""
    if not isinstance(config, dict):
        raise UserError("the model config is not a JSON object")
    cls, body = config.get("class_name"), config.get("config")
    if not isinstance(cls, str):
        raise UserError("the model config names no class_name; fsm-lstm reads Keras Sequential and Functional "
                        "models")
    if cls not in ("Sequential", "Functional", "Model"):
        raise UserError(f"the model is a {cls!r}: fsm-lstm reads Keras Sequential and Functional models "
                        "(a subclassed model has no layer config)")
    layers = body if isinstance(body, list) else body.get("layers") if isinstance(body, dict) else None
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        raise UserError("the model config has no list of layers")
    return layers


def _layer_name(layer: dict) -> str:
    cfg = layer.get("config")
    name = cfg.get("name") if isinstance(cfg, dict) else None
    name = name or layer.get("name")
    if not isinstance(name, str) or not name:
        raise UserError(f"a layer of class {layer.get('class_name')!r} has no name")
    return name


def _refs(node: Any, out: set[str]) -> None:
    """Names of the layers an inbound-nodes record reads (Keras 3 keras_history, or Keras 2 [name, i, j, {}])."""
    if isinstance(node, dict):
        history = node.get("keras_history")
        if isinstance(history, list) and history and isinstance(history[0], str):
            out.add(history[0])
        for value in node.values():
            _refs(value, out)
    elif isinstance(node, list):
        if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int) and isinstance(node[2], int):
            out.add(node[0])
        else:
            for value in node:
                _refs(value, out)


def _data_and_mask(nodes: Any) -> tuple[set[str], set[str]]:
    """The layers an inbound-nodes record reads as data, and those it reads as a ``mask`` argument (Keras 3
    writes a Functional model's mask as a call argument computed by op nodes)."""
    data: set[str] = set()
    masks: set[str] = set()
    for node in nodes if isinstance(nodes, list) else [nodes]:
        kwargs = node.get("kwargs") if isinstance(node, dict) else None
        if isinstance(kwargs, dict) and "mask" in kwargs:
            _refs(kwargs["mask"], masks)
            node = {**node, "kwargs": {k: v for k, v in kwargs.items() if k != "mask"}}
        _refs(node, data)
    return data, masks


def _mask_helpers(by_name: dict[str, dict], reads: dict[str, set[str]], masks: set[str]) -> set[str]:
    """The op nodes that compute the masks Keras 3 passes to recurrent layers: ``NotEqual`` on the input of a
    ``Masking`` layer (then ``Any`` over the last axis), or on the ids of an ``Embedding(mask_zero=True)``.
    Anything else computing a mask is refused; the Masking layer's own rules are checked later."""
    helpers, todo = set(), list(masks)
    while todo:
        name = todo.pop()
        if name in helpers:
            continue
        layer = by_name.get(name)
        if layer is None:
            raise UserError(f"a mask is computed by an unknown layer {name!r}")
        module = layer.get("module")  # "keras.src.ops.numpy" in a .keras archive; absent in a legacy .h5
        if layer.get("class_name") not in MASK_OPS or not (module is None or str(module).startswith("keras.src.ops")):
            raise UserError(f"a recurrent layer is given a mask computed by layer {name!r} "
                            f"({layer.get('class_name')}); fsm-lstm reads masks only from a Masking layer")
        helpers.add(name)
        todo += [s for s in reads[name] if by_name.get(s, {}).get("class_name") in MASK_OPS]
    for name in helpers:
        _check_mask_op(name, by_name, reads)
    for name, sources in reads.items():
        if name not in helpers and sources & helpers:
            raise UserError(f"layer {name!r} reads the mask op {sorted(sources & helpers)[0]!r} as data; "
                            "fsm-lstm reads a single chain of layers")
    return helpers


def _check_mask_op(name: str, by_name: dict[str, dict], reads: dict[str, set[str]]) -> None:
    """A NotEqual must compare the input of a Masking layer with its mask_value (or the ids of an Embedding
    with mask_zero=True with 0), and an Any must reduce the last axis, as Keras writes them."""
    layer = by_name[name]
    cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
    if layer["class_name"] == "Any":
        if cfg.get("axis") != -1 or cfg.get("keepdims"):
            raise UserError(f"the mask op {name!r} (Any) reduces axis {cfg.get('axis')!r}, not the last one")
        return
    nodes = layer.get("inbound_nodes")
    args = nodes[0].get("args") if isinstance(nodes, list) and len(nodes) == 1 and isinstance(nodes[0], dict) \
        else None
    value = args[1] if isinstance(args, list) and len(args) == 2 else None
    for other_name, other in by_name.items():
        ocfg = other.get("config") if isinstance(other.get("config"), dict) else {}
        if reads.get(other_name) != reads[name]:
            continue
        if other.get("class_name") == "Masking" and value == ocfg.get("mask_value", 0.0):
            return
        if other.get("class_name") == "Embedding" and ocfg.get("mask_zero") is True and value == 0:
            return
    raise UserError(f"the mask op {name!r} (NotEqual with {value!r}) does not belong to a Masking layer or an "
                    "Embedding with mask_zero=True; fsm-lstm reads masks only from those")


def chain(config: Any) -> list[dict]:
    """The layers in order; a Functional model must be a single chain from its input to its one output (the op
    nodes Keras 3 writes for a mask aside: see :func:`_mask_helpers`)."""
    layers = _layer_dicts(config)
    if config.get("class_name") == "Sequential":
        return layers
    by_name = {_layer_name(x): x for x in layers}
    reads: dict[str, set[str]] = {}
    masks: set[str] = set()
    for name, layer in by_name.items():
        nodes = layer.get("inbound_nodes") or []
        if not isinstance(nodes, list) or len(nodes) > 1:
            raise UserError(f"layer {name!r} is called more than once; fsm-lstm reads a single chain of layers")
        reads[name], mask = _data_and_mask(nodes)
        masks |= mask
    helpers = _mask_helpers(by_name, reads, masks)
    readers: dict[str, list[str]] = {}
    first = []
    for name in by_name:
        if name in helpers:
            continue
        sources = reads[name]
        if len(sources) > 1:
            raise UserError(f"layer {name!r} reads {len(sources)} layers ({', '.join(sorted(sources))}); fsm-lstm "
                            "reads a single chain of layers")
        if not sources:
            first.append(name)
        for s in sources:
            if s not in by_name:
                raise UserError(f"layer {name!r} reads an unknown layer {s!r}")
            readers.setdefault(s, []).append(name)
    if len(first) != 1:
        raise UserError(f"the model has {len(first)} inputs; fsm-lstm reads models with one input")
    order = [first[0]]
    while readers.get(order[-1]):
        nxt = readers[order[-1]]
        if len(nxt) > 1:
            raise UserError(f"the model branches after layer {order[-1]!r}; fsm-lstm reads a single chain")
        if nxt[0] in order:
            raise UserError(f"the layers form a cycle at {nxt[0]!r}")
        order.append(nxt[0])
    outputs: set[str] = set()
    _refs(config["config"].get("output_layers") if isinstance(config.get("config"), dict) else None, outputs)
    if outputs and outputs != {order[-1]}:
        raise UserError(f"the model's outputs are {', '.join(sorted(outputs))}, not the end of its chain "
                        f"{order[-1]!r}")
    if len(order) + len(helpers) != len(by_name):
        stray = sorted(set(by_name) - set(order) - helpers)
        raise UserError(f"layers {', '.join(stray)} are not on the chain from the input to the output")
    return [by_name[n] for n in order]


def _activation(value: Any) -> str:
    """An activation as named in a config (a string, a serialised function, or None = linear); log_softmax is
    named as the importer names ONNX's LogSoftmax."""
    if value is None:
        name = "linear"
    elif isinstance(value, str):
        name = value
    elif isinstance(value, dict):
        inner = value.get("config")
        name = inner if isinstance(inner, str) else str(value.get("registered_name") or value.get("class_name")
                                                            or value)
    else:
        name = repr(value)
    return "logsoftmax" if name == "log_softmax" else name


def _time_distributed(name: str, cfg: dict) -> dict:
    """The layer a TimeDistributed wraps, when it is one that acts on each step alone (a Dense, an Activation,
    an inference identity): applied to every step, it is that layer; its weights stay the wrapper's."""
    inner = cfg.get("layer")
    inner_cls = inner.get("class_name") if isinstance(inner, dict) else None
    if inner_cls not in ("Dense", "Activation", *INFERENCE_IDENTITY) or not isinstance(inner.get("config"), dict):
        raise UserError(f"layer {name!r} is a TimeDistributed of {inner_cls or 'nothing readable'}; fsm-lstm reads "
                        "TimeDistributed Dense, Activation and Dropout layers")
    _check_plain(name, inner, inner["config"])
    return inner


_CELL_LAYERS = {"LSTMCell": "LSTM", "GRUCell": "GRU", "SimpleRNNCell": "SimpleRNN"}


def _rnn_of_cell(name: str, cfg: dict) -> tuple[list[dict], bool]:
    """The recurrent layers that an ``RNN`` of LSTMCell, GRUCell or SimpleRNNCell cells is: one, or one per cell
    of a StackedRNNCells (each cell reads the one before it at every step, as stacked layers that return every
    step do). Each has its cell's options with the RNN's (go_backwards, stateful, ...), and the RNN's
    return_sequences is the last one's; the weights stay the wrapper's (cell/vars, cell/cells/...). Also whether
    the cells are stacked (a StackedRNNCells, even of one cell, keeps its weights per cell)."""
    cell = cfg.get("cell")
    cell_cls = cell.get("class_name") if isinstance(cell, dict) else None
    cells: Any = [cell]
    if isinstance(cell, list) or cell_cls == "StackedRNNCells":
        if isinstance(cell, dict):
            _check_plain(name, cell, cell.get("config") if isinstance(cell.get("config"), dict) else {})
        cells = cell if isinstance(cell, list) else (cell.get("config") or {}).get("cells") \
            if isinstance(cell.get("config"), dict) else None
        if not isinstance(cells, list) or not cells:
            raise UserError(f"layer {name!r} is an RNN of stacked cells that lists no cells")
    own = {k: v for k, v in cfg.items() if k not in ("cell", "name", "dtype", "trainable")}
    out = []
    for k, one in enumerate(cells):
        one_cls = one.get("class_name") if isinstance(one, dict) else None
        if one_cls == "StackedRNNCells":
            raise UserError(f"layer {name!r} is an RNN of stacked cells that holds another stack; fsm-lstm reads one "
                            "stack: give its cells as one list")
        if one_cls not in _CELL_LAYERS or not isinstance(one.get("config"), dict):
            raise UserError(f"layer {name!r} is an RNN of {one_cls or 'nothing readable'}; fsm-lstm reads an RNN of "
                            f"{', '.join(_CELL_LAYERS)} cells")
        _check_plain(name, one, one["config"])
        inner = {"return_sequences": True} if k < len(cells) - 1 else {}
        out.append({"class_name": _CELL_LAYERS[one_cls], "config": {**one["config"], **own, **inner, "name": name}})
    return out, isinstance(cell, list) or cell_cls == "StackedRNNCells"


def _check_plain(name: str, layer: dict, cfg: dict) -> None:
    """Refuse custom objects and compute dtypes other than float32/float64."""
    cls = layer.get("class_name")
    module = layer.get("module")
    registered = layer.get("registered_name")
    if (isinstance(module, str) and module != "keras" and not module.startswith("keras.")) or \
            (registered is not None and registered != cls):
        raise UserError(f"layer {name!r} is a custom object ({registered or module}); fsm-lstm never runs code "
                        "from a file")
    dtype = cfg.get("dtype")
    policy = dtype
    if isinstance(dtype, dict):  # Keras 3: {"class_name": "DTypePolicy", "config": {"name": "float32"}}
        inner = dtype.get("config")
        policy = inner.get("name") if isinstance(inner, dict) else None
    if dtype is not None and cls != "InputLayer" and policy not in ("float32", "float64"):
        raise UserError(f"layer {name!r} computes in {policy or dtype!r}; fsm-lstm reads float32 or float64 "
                        "layers (mixed precision rounds differently)")


def _kinds(name: str, cls: str, cfg: dict) -> tuple[str, ...]:
    """The weights a layer of class ``cls`` stores, in order (no bias where use_bias is false)."""
    kinds = WEIGHT_NAMES.get(cls, ())
    if cls in ("Dense", *RECURRENT) and not _flag(cfg, "use_bias", name, True, null=True):
        kinds = tuple(k for k in kinds if k != "bias")
    return kinds


def _int(cfg: dict, key: str, name: str) -> int:
    value = cfg.get(key)
    if type(value) is not int or value <= 0:
        raise UserError(f"layer {name!r} has {key} = {value!r}; expected a whole number > 0")
    return value


def _flag(cfg: dict, key: str, name: str, default: bool, null: bool = False) -> bool:
    """A true/false option, ``default`` when absent. TF.js's model.save writes an option left unset as null, and
    TF.js then runs its own default, ``null``: false for every flag read here but use_bias (true); a GRU's null
    reset_after is false, the only variant TF.js computes."""
    value = cfg.get(key, default)
    if value is None:
        return null
    if not isinstance(value, bool):
        raise UserError(f"layer {name!r} has {key} = {value!r}; expected true or false")
    return value


def _recurrent(name: str, cls: str, cfg: dict, w: dict[str, Any], width: int | None) -> tuple[Layer, bool]:
    """One Keras recurrent layer in PyTorch layout, and whether it returns every step."""
    cell = RECURRENT[cls]
    H = _int(cfg, "units", name)
    for key, why, fix in (("go_backwards", "it reads the string backwards", "retrain with go_backwards=False"),
                          ("stateful", "its state carries over between calls", "save the same weights in a model "
                           "built with stateful=False"),
                          ("return_state", "it returns its state as a second output", "save the same weights in a "
                           "model built without return_state"),
                          ("time_major", "it reads its input time first, (time, batch, ...), where every other layer "
                           "gives it batch first", "save the same weights in a model built with time_major=False")):
        if _flag(cfg, key, name, False):
            raise UserError(f"layer {name!r} has {key}=True; {why}, which fsm-lstm cannot represent: {fix}")
    if "activation" not in cfg or (cell != "rnn" and "recurrent_activation" not in cfg):
        raise UserError(f"layer {name!r} does not state its activations; fsm-lstm does not guess them")
    if _activation(cfg["activation"]) != "tanh":
        raise UserError(f"layer {name!r} has activation {_activation(cfg['activation'])}; fsm-lstm runs tanh only "
                        "(PyTorch's cells): retrain with activation='tanh'")
    if cell != "rnn" and _activation(cfg["recurrent_activation"]) != "sigmoid":
        raise UserError(f"layer {name!r} has recurrent_activation {_activation(cfg['recurrent_activation'])}; "
                        "fsm-lstm runs the logistic sigmoid only (hard_sigmoid differs): retrain with "
                        "recurrent_activation='sigmoid'")
    if cell == "gru":
        if "reset_after" not in cfg:
            raise UserError(f"layer {name!r} does not state reset_after; fsm-lstm does not guess it")
        if not _flag(cfg, "reset_after", name, True):
            raise UserError(f"layer {name!r} has reset_after=False: the reset gate multiplies h before the "
                            "recurrent matrix, which PyTorch's GRU layout cannot hold; retrain with reset_after=True")
    G = GATES[cell]
    use_bias = _flag(cfg, "use_bias", name, True, null=True)
    kernel = float_array(f"layer {name!r} kernel", w.get("kernel"), (width, G * H))
    rec = float_array(f"layer {name!r} recurrent_kernel", w.get("recurrent_kernel"), (H, G * H))
    zeros = np.zeros(G * H, kernel.dtype)
    if not use_bias:
        bias = np.zeros((2, G * H) if cell == "gru" else G * H, kernel.dtype)
    else:
        bias = float_array(f"layer {name!r} bias", w.get("bias"), (2, G * H) if cell == "gru" else (G * H,))
    if cell == "gru":  # Keras z, r, h -> PyTorch r, z, n
        order = np.r_[H:2 * H, 0:H, 2 * H:3 * H]
        layer = Layer(np.ascontiguousarray(kernel.T[order]), np.ascontiguousarray(rec.T[order]),
                      np.ascontiguousarray(bias[0][order]), np.ascontiguousarray(bias[1][order]))
    else:  # LSTM i, f, c, o is PyTorch's i, f, g, o; SimpleRNN has one block
        layer = Layer(np.ascontiguousarray(kernel.T), np.ascontiguousarray(rec.T), np.ascontiguousarray(bias), zeros)
    return layer, _flag(cfg, "return_sequences", name, False)


def network_from_config(config: Any, fetch: Fetch, fmt: str) -> Network:
    """Read a Keras model config (layer by layer) with its weights; see the module doc for the rules."""
    layers: list[Layer] = []
    dense: list[Dense] = []
    sources: list[str] = []
    notes: list[str] = []
    embedding: np.ndarray | None = None
    cell = None
    width: int | None = None  # the width the next layer reads
    declared_width = None
    mask_value: Any = None
    mask_on_ids = False
    masked: tuple[int, ...] = ()
    returns_all = True
    for index, layer in enumerate(chain(config)):
        cls = layer.get("class_name")
        cfg = layer.get("config")
        if not isinstance(cls, str) or not isinstance(cfg, dict):
            raise UserError(f"layer {index} of the config has no class_name and config")
        name = _layer_name(layer)
        _check_plain(name, layer, cfg)
        wrapper, stacked = "", False
        if cls == "TimeDistributed":  # the same layer at every step: for these, the layer itself
            layer, wrapper = _time_distributed(name, cfg), "TimeDistributed "
        cells = [layer]  # the recurrent layers it is: one per cell of an RNN of stacked cells
        if cls == "RNN":  # keras.layers.RNN(LSTMCell(...)): the LSTM layer of that cell
            cells, stacked = _rnn_of_cell(name, cfg)
            layer, wrapper = cells[0], f"RNN of {len(cells)} stacked " if stacked else "RNN of "
        cls, cfg = layer["class_name"], layer["config"]
        kinds = _kinds(name, cls, cfg)
        for key in ("quantization_config", "lora_rank"):
            if any(one["config"].get(key) not in (None, 0, False) for one in cells):
                raise UserError(f"layer {name!r} has {key} set; quantized or LoRA layers are not read exactly")
        shape = cfg.get("batch_shape") or cfg.get("batch_input_shape") or cfg.get("batchInputShape")
        steps = _time_steps(shape, cfg) if index == 0 else None  # an InputLayer's, or a Sequential's first layer's
        if steps is not None:
            notes.append(f"the input declares {steps} time steps: Keras was built for that length; fsm-lstm runs the "
                         "recurrent layers on words of every length, as their equations define them")
        if cls == "InputLayer":
            if index:
                raise UserError(f"layer {name!r} (InputLayer) is not the first layer")
            if isinstance(shape, list) and shape and type(shape[-1]) is int:
                declared_width = shape[-1]
            continue
        sources.append(f"{name} ({wrapper}{cls})")
        if cls in INFERENCE_IDENTITY:
            continue
        if cls == "Masking":
            if layers:
                raise UserError(f"layer {name!r} (Masking) after a recurrent layer is not read")
            value = cfg.get("mask_value", 0.0)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise UserError(f"layer {name!r} has mask_value {value!r}; expected a number")
            mask_value, mask_on_ids = float(value), embedding is None  # before an Embedding: on the ids
            continue
        if cls == "Embedding":
            if layers or embedding is not None:
                raise UserError(f"layer {name!r} (Embedding) must come before the recurrent layers, once")
            if _flag(cfg, "mask_zero", name, False):  # symbol 0's steps are skipped: import --unused drops it
                masked = (0,)
            K, E = _int(cfg, "input_dim", name), _int(cfg, "output_dim", name)
            embedding = float_array(f"layer {name!r} embeddings",
                                    fetch(index, name, cls, kinds, None).get("embeddings"), (K, E))
            width = E
            continue
        if cls in RECURRENT:
            if dense:
                raise UserError(f"layer {name!r} ({cls}) follows a Dense layer; fsm-lstm reads recurrent layers "
                                "first, then dense ones")
            for k, one in enumerate(cells):
                cls, cfg = one["class_name"], one["config"]
                if cell is not None and RECURRENT[cls] != cell:
                    raise UserError(f"layer {name!r} is a {cls} after {cell.upper()} layers; fsm-lstm reads one "
                                    "kind of cell in every layer (PyTorch's multi-layer modules): retrain with one "
                                    "kind")
                if not returns_all:
                    raise UserError(f"the recurrent layer before {name!r} returns only its last step")
                if width is None and declared_width is not None:
                    width = declared_width
                weights = fetch(index, name, cls, _kinds(name, cls, cfg), (k, len(cells)) if stacked else None)
                layer_obj, returns_all = _recurrent(name, cls, cfg, weights, width)
                cell = RECURRENT[cls]
                layers.append(layer_obj)
                width = layer_obj.hidden_size
            continue
        if cls == "Dense":
            if not layers:
                raise UserError(f"layer {name!r} (Dense) comes before the recurrent layers; fsm-lstm reads an "
                                "optional Embedding, then LSTM/GRU/SimpleRNN layers, then Dense layers")
            M = _int(cfg, "units", name)
            w = fetch(index, name, cls, kinds, None)
            kernel = float_array(f"layer {name!r} kernel", w.get("kernel"), (width, M))
            bias = float_array(f"layer {name!r} bias", w.get("bias"), (M,)) if "bias" in kinds \
                else np.zeros(M, kernel.dtype)
            dense.append(Dense(np.ascontiguousarray(kernel.T), np.ascontiguousarray(bias),
                               _activation(cfg.get("activation")), name))
            width = M
            continue
        if cls == "Activation":
            if not dense or dense[-1].activation != "linear":
                raise UserError(f"layer {name!r} (Activation) must follow a Dense layer without an activation")
            dense[-1].activation, dense[-1].activation_from = _activation(cfg.get("activation")), name
            continue
        reason = REASONS.get(cls, "fsm-lstm reads Embedding, Masking, LSTM, GRU, SimpleRNN (or an RNN of such "
                                  "cells), Dense, Activation and Dropout layers (or a TimeDistributed one)")
        raise UserError(f"layer {name!r} is a {cls}; {reason}")
    if cell is None:
        raise UserError("the model has no LSTM, GRU or SimpleRNN layer")
    if mask_value is not None:
        _check_mask(mask_value, mask_on_ids, embedding, layers[0].weight_ih.shape[1])
        notes.append(f"Masking(mask_value={mask_value:g}) changes nothing here, so it is left out")
    if not returns_all:
        notes.append("the last recurrent layer returns only its last step: the model's output is the heads after "
                     "the last symbol (meta.final_only)")
    return Network(format=fmt, cell=cell, layers=layers, dense=dense, embedding=embedding, sources=sources,
                   masked_ids=masked,
                   notes=notes, composable=True, last_step_only=not returns_all)


def _check_mask(value: float, on_ids: bool, embedding: np.ndarray | None, width: int) -> None:
    """Masking is read only when it changes nothing. On one-hot or embedded steps, it masks a step whose vector
    equals mask_value everywhere. Before an Embedding it sees a (batch, time) array of ids, so it compares each
    whole word with mask_value and multiplies a word made only of that id by 0: the id is read as symbol 0's
    unless it is 0 itself or no symbol's id (whatever the input's dtype, as Keras 3 does)."""
    if on_ids and embedding is not None:
        if value.is_integer() and 1 <= value < embedding.shape[0]:
            raise UserError(f"Masking(mask_value={value:g}) before the Embedding turns a word made only of symbol "
                            f"{value:g} into symbol 0's word, which a network that reads every symbol cannot "
                            "represent; use mask_value=0 or remove the Masking layer")
        return
    if embedding is not None:
        hit = bool(np.any(np.all(embedding == value, axis=1)))
    else:  # one-hot rows: all entries equal only when there is a single symbol
        hit = width == 1 and value == 1.0
    if hit:
        raise UserError(f"Masking(mask_value={value:g}) masks some symbol's steps, which skips them; fsm-lstm "
                        "reads every symbol")
