"""Model: recurrent weights in PyTorch layout, linear heads, labels; the documented ``.npz`` format.

File contents (all arrays float32 unless the writer chose float64):
``weight_ih_l{k}`` (GH x K), ``weight_hh_l{k}`` (GH x H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (GH) for layers
k = 0, 1, ..., where G and the gate order follow ``meta.cell``: ``lstm`` G=4 (i, f, g, o) as nn.LSTM, ``gru``
G=3 (r, z, n) as nn.GRU, ``rnn`` G=1 (tanh) as nn.RNN; ``heads.weight`` (M x H_last), ``heads.bias`` (M); and
``meta``, a JSON string with ``alphabet``, ``heads`` (M labels) and ``cell``, and optionally ``units``,
``grammar`` (the grammar text it was compiled from) and ``unknown_start``.
``units`` labels units for people. It may label the last layer (H_last labels) or every layer, layer 0 first
(H_0 + H_1 + ... labels, of which the last H_last are kept); without it, units are labelled ``unit 0``, ...
A head is true exactly when its logit is > 0; with ``argmax_outputs`` (JSON true) the ``out:`` heads are read together,
the largest logit giving the output (:mod:`fsm_lstm.argmax_outputs`). Inputs are one-hot; the initial state is zero.
Any weight matrix (``weight_ih_l{k}``, ``weight_hh_l{k}``, ``heads.weight``) may instead be stored sparse, as the
four members ``NAME.data``, ``NAME.indices``, ``NAME.indptr`` and ``NAME.shape`` of a CSR array (see
:mod:`fsm_lstm.sparse_weights`); large, mostly zero matrices are written that way, small ones dense.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np

from .atomic import atomic_path
from .errors import ModelError, SumsMayOverflow, UserError
from .grammar import Grammar
from .labels import parse_head
from .sparse_weights import (PARTS, absolute_row_peaks, absolute_row_sums, csr_from_parts, csr_parts, dense, is_sparse,
                             should_store_sparse)
from .toml_format import parse_toml

__all__ = ["CELLS", "GATES", "GATE_COUNT", "Layer", "MAX_ARRAY", "MAX_MEMBERS", "MAX_META", "Model", "default_units",
           "densified", "remember_grammar",
           "load_model", "max_array_elements", "model_from_arrays", "readable_bytes", "save_model", "stored_grammar",
           "units_from_meta", "validate"]

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
    units: tuple[str, ...] = ()
    cell: str = "lstm"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.units and self.layers:
            object.__setattr__(self, "units", default_units(self.layers[-1].hidden_size))
        validate(self)

    @property
    def hidden_size(self) -> int:
        """Units of the last layer."""
        return self.layers[-1].hidden_size

    @property
    def compute_dtype(self) -> type:
        """The arithmetic the network computes in: float64 when ``meta.precision`` says so (a network imported
        from a framework that ran it in float64), else float32."""
        return np.float64 if self.extra.get("precision") == "float64" else np.float32

    @property
    def precision(self) -> str:
        """``meta.precision``: "float64" or "float32" (the default), the arithmetic the network runs in."""
        return "float64" if self.compute_dtype is np.float64 else "float32"

    @property
    def argmax_outputs(self) -> bool:
        """Are the ``out:`` heads read together, the largest logit giving the output (:mod:`argmax_outputs`)?"""
        return bool(self.extra.get("argmax_outputs"))

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


def default_units(hidden: int) -> tuple[str, ...]:
    """The labels of unlabelled units: ``unit 0``, ``unit 1``, ..."""
    return tuple(f"unit {u}" for u in range(hidden))


def units_from_meta(labels: list[str], layers: tuple[Layer, ...]) -> tuple[str, ...]:
    """``meta.units`` as given: labels of the last layer, or of every layer (layer 0 first, the last layer's
    kept); any other count is left for ``validate`` to refuse once the shapes are known to be right."""
    if any(np.ndim(layer.weight_hh) != 2 for layer in layers):
        return tuple(labels)
    sizes = [layer.hidden_size for layer in layers]
    if len(layers) > 1 and len(labels) == sum(sizes) and len(labels) != sizes[-1]:
        return tuple(labels[-sizes[-1]:])
    return tuple(labels)


def _npz_beside(path: str | os.PathLike[str]) -> str:
    """'; did you mean X.npz?' when the path, given without .npz, names none but X.npz is a file."""
    beside = os.fspath(path) + ".npz"
    try:
        return f"; did you mean {beside}?" if not os.path.splitext(path)[1] and os.path.isfile(beside) else ""
    except OSError:  # a name too long for the file system
        return ""


def _fail(msg: str) -> ModelError:
    return ModelError(msg)


def validate(m: Model) -> None:
    """Check shapes, finiteness and labels; raise ModelError saying what is wrong."""
    _check_shapes(m)
    for k, layer in enumerate(m.layers):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            arr = getattr(layer, name)
            if not np.all(np.isfinite(arr.data if is_sparse(arr) else arr)):
                raise _fail(f"{name}_l{k} contains NaN or infinity; the model cannot be run")
            _check_in_range(arr, f"{name}_l{k}", m.compute_dtype)
    weights = m.head_weight.data if is_sparse(m.head_weight) else m.head_weight
    if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(m.head_bias))):
        raise _fail("the heads contain NaN or infinity")
    _check_in_range(m.head_weight, "heads.weight", m.compute_dtype)
    _check_in_range(m.head_bias, "heads.bias", m.compute_dtype)
    _check_sums(m)


def _check_sums(m: Model) -> None:
    """Refuse a network whose sums can pass half the range of the arithmetic it runs in. Every h of these cells
    lies in [-1, 1] and the first layer's input is one-hot, so a gate's pre-activation (and a head's logit) is at
    most |biases| + the largest input weight (the sum of them, above the first layer) + the sum of its |recurrent
    weights|. Past the range, whether a sum overflows, and to infinity or NaN, depends on the order of its terms:
    numpy, torch and onnxruntime were seen to differ, and numpy alone with the batch size."""
    limit = float(np.finfo(m.compute_dtype).max) / 2

    def check(reach: np.ndarray, where: Callable[[int], str]) -> None:
        if reach.size and not reach.max() <= limit:
            raise SumsMayOverflow(f"the sum of {where(int(reach.argmax()))} can reach {reach.max():.3g}, over half the "
                                  f"range of {np.dtype(m.compute_dtype).name} ({2 * limit:.3g}), in which the network "
                                  "runs: its sums may overflow there, and whether to infinity or NaN depends on the "
                                  "order of their terms", m.compute_dtype is np.float32)

    for k, layer in enumerate(m.layers):
        inputs = absolute_row_peaks(layer.weight_ih) if k == 0 else absolute_row_sums(layer.weight_ih)
        check(np.abs(np.asarray(layer.bias_ih, np.float64)) + np.abs(np.asarray(layer.bias_hh, np.float64))
              + inputs + absolute_row_sums(layer.weight_hh), lambda r: f"row {r} of layer {k}'s gates")
    check(np.abs(np.asarray(m.head_bias, np.float64)) + absolute_row_sums(m.head_weight),
          lambda r: f"head {m.heads[r]!r}")


def _check_in_range(arr: Any, name: str, dtype: type) -> None:
    """Refuse a finite value (stored in float64) that is infinite in the arithmetic the network runs in: a float32
    run would multiply it by 0 and get NaN."""
    values = np.asarray(arr.data if is_sparse(arr) else arr)
    if values.dtype.itemsize <= np.dtype(dtype).itemsize or not values.size:
        return
    with np.errstate(over="ignore"):
        outside = ~np.isfinite(values.astype(dtype))
    if outside.any():
        value = float(values[outside].flat[0])
        raise _fail(f"{name} holds {value:.3g}, beyond the range of {np.dtype(dtype).name}, in which the network "
                    f"runs (meta.precision); scale the weights down, or set meta.precision to \"float64\"")


def _check_shapes(m: Any) -> None:
    """Everything :func:`validate` checks but finiteness: it reads only shapes, dtypes and labels, so it runs on
    the shapes a file declares before its arrays are read (:func:`_check_declared`)."""
    if m.cell not in CELLS:
        raise _fail(f"unknown cell {m.cell!r}; this version runs {', '.join(CELLS)}")
    if not m.layers:
        raise _fail("the model has no layers; it needs weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0")
    if not m.alphabet or len(set(m.alphabet)) != len(m.alphabet):
        raise _fail("meta.alphabet must be a non-empty list of distinct symbols")
    width = len(m.alphabet)
    n = GATE_COUNT[m.cell]
    for k, layer in enumerate(m.layers):
        bias = layer.bias_hh  # H from the biases' length where it divides, else from the recurrence's columns
        h = bias.shape[0] // n if bias.ndim == 1 and bias.shape[0] % n == 0 else \
            layer.weight_hh.shape[1] if layer.weight_hh.ndim == 2 else -1
        expect = {"weight_hh": (n * h, h), "weight_ih": (n * h, width), "bias_ih": (n * h,), "bias_hh": (n * h,)}
        layout = {"weight_hh": f"{n}H x H", "weight_ih": f"{n}H x {'K' if k == 0 else 'H_prev'}",
                  "bias_ih": f"{n}H", "bias_hh": f"{n}H"}
        for name, shape in expect.items():
            arr = getattr(layer, name)
            if not ((isinstance(arr, np.ndarray) or (is_sparse(arr) and name.startswith("weight")))
                    and arr.dtype.kind == "f"):
                raise _fail(f"{name}_l{k} has dtype {getattr(arr, 'dtype', type(arr).__name__)}; weights must be "
                            "real floating-point arrays (float16, float32 or float64)")
            if arr.shape != shape:
                raise _fail(f"{name}_l{k} has shape {arr.shape}, expected {shape} ({layout[name]} with H={h}"
                            f"{', K=' + str(width) if k == 0 else ''}, PyTorch nn.{m.cell.upper()} layout)")
        if h == 0:
            raise _fail(f"layer {k} has no hidden units (weight_hh_l{k} is 0 x 0); a network needs at least one")
        width = h
    rows = len(m.heads)
    if m.head_weight.shape != (rows, width) or m.head_bias.shape != (rows,):
        raise _fail(f"heads.weight {m.head_weight.shape} / heads.bias {m.head_bias.shape} do not fit "
                    f"{rows} head labels and {width} units; expected ({rows}, {width}) and ({rows},)")
    weight_ok = isinstance(m.head_weight, np.ndarray) or is_sparse(m.head_weight)
    if not isinstance(m.head_bias, np.ndarray) or not weight_ok:
        raise _fail("heads.weight and heads.bias must be arrays (heads.weight may be sparse)")
    for name, arr in (("heads.weight", m.head_weight), ("heads.bias", m.head_bias)):
        if arr.dtype.kind != "f":
            raise _fail(f"{name} has dtype {arr.dtype}; weights must be real floating-point arrays (float16, "
                        "float32 or float64)")
    if len(m.units) != width:
        sizes = [layer.hidden_size for layer in m.layers]
        every = f", or {sum(sizes)} for every layer ({' + '.join(map(str, sizes))})" if len(sizes) > 1 else ""
        raise _fail(f"meta.units has {len(m.units)} labels; give {width} for the last layer{every}, "
                    "or leave meta.units out")
    for label in m.heads:
        kind, arg = parse_head(label)
        if not kind:
            raise _fail(f"head label {label!r} is not 'accept', 'next:SYMBOL', 'state:NAME' or 'out:VALUE'")
        if kind == "next" and arg not in m.alphabet:
            raise _fail(f"head {label!r} names a symbol outside meta.alphabet")
    if getattr(m, "extra", {}).get("argmax_outputs") and sum(parse_head(h)[0] == "out" for h in m.heads) < 2:
        raise _fail("meta.argmax_outputs reads the out: heads by their largest logit, and needs at least 2 of them")
    if len(set(m.heads)) < len(m.heads):  # run would show one of the two outputs and verify judge the other
        seen: set[str] = set()
        twice = next(h for h in m.heads if h in seen or seen.add(h))
        raise _fail(f"meta.heads names {twice!r} twice; give each head its own label")


def densified(m: Model, purpose: str, available: int | None) -> Model:
    """The model with every sparse weight expanded, for tools that need dense arrays (``purpose`` names them);
    refused in one line when an array passes FSM_LSTM_MAX_ARRAY or all of them need over half of ``available``
    bytes (None: unknown)."""
    sparse = [(name, a) for name, a in m.arrays().items() if is_sparse(a)]
    if not sparse:
        return m
    numbers = sum(math.prod(a.shape) for a in m.arrays().values())
    need = numbers * np.dtype(np.float32).itemsize
    biggest_name, biggest = max(sparse, key=lambda item: math.prod(item[1].shape))
    limit = max_array_elements()
    if math.prod(biggest.shape) > limit or (available is not None and need > available // 2):
        raise ModelError(f"{purpose} needs the model dense: {numbers:,} numbers ({readable_bytes(need)}; "
                         f"{biggest_name} alone is {biggest.shape[0]:,} x {biggest.shape[1]:,}), over "
                         + (f"the limit of {limit:,} numbers per array (FSM_LSTM_MAX_ARRAY)"
                            if math.prod(biggest.shape) > limit else
                            f"half the {readable_bytes(available)} of memory available"))
    layers = tuple(Layer(*(dense(a) for a in (layer.weight_ih, layer.weight_hh, layer.bias_ih, layer.bias_hh)))
                   for layer in m.layers)
    return Model(layers=layers, head_weight=dense(m.head_weight), head_bias=m.head_bias, alphabet=m.alphabet,
                 heads=m.heads, units=m.units, cell=m.cell, extra=m.extra)


_WRITTEN: dict[str, Grammar] = {}  # grammar texts this process wrote (the last few), and the grammars they hold


def remember_grammar(text: str, grammar: Grammar) -> None:
    """Note that ``text`` is ``grammar`` written as TOML, so that :func:`stored_grammar` need not parse it again
    (parsing a 100,000-state grammar takes seconds)."""
    while len(_WRITTEN) >= 4:
        _WRITTEN.pop(next(iter(_WRITTEN)))
    _WRITTEN[text] = grammar


def stored_grammar(m: Model) -> Grammar | None:
    """The grammar a compiled model carries in ``meta.grammar``, or None when it carries none."""
    text = m.extra.get("grammar")
    if not text:
        return None
    known = _WRITTEN.get(text)
    if known is not None:
        return known
    try:
        return parse_toml(text)
    except UserError as exc:
        raise ModelError(f"the grammar the model carries (meta.grammar) is not one: {exc}; compile the grammar "
                         "again, or remove meta.grammar from the model file") from None


MAX_ARRAY = 2**28  # numbers in one array of a model file; FSM_LSTM_MAX_ARRAY overrides it
MAX_META = 2**28  # bytes of the meta string
MAX_MEMBERS = 4096  # arrays in one file
_WANTED = re.compile(r"meta|heads\.bias|(bias_ih|bias_hh)_l\d{1,4}"
                     r"|(heads\.weight|(weight_ih|weight_hh)_l\d{1,4})(\.(data|indices|indptr|shape))?")
_SPARSE_BIAS = re.compile(r"(heads\.bias|(bias_ih|bias_hh)_l\d{1,4})\.(data|indices|indptr|shape)")


def readable_bytes(n: int) -> str:
    """A byte count for people: GiB, MiB or KiB, whichever shows it without rounding to 0."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n / 2**10:.1f} KiB"


def max_array_elements() -> int:
    """The largest array (in numbers) a model file may hold: FSM_LSTM_MAX_ARRAY, or 2**28 (1 GiB of float32)."""
    value = os.environ.get("FSM_LSTM_MAX_ARRAY", "")
    try:
        return int(value) if value.strip() else MAX_ARRAY
    except ValueError:
        raise ModelError(f"FSM_LSTM_MAX_ARRAY={value!r} is not a whole number of array elements") from None


def save_model(m: Model, path: str | os.PathLike[str]) -> None:
    """Write the model atomically in the documented ``.npz`` format: large, mostly zero weight matrices in the
    CSR spelling, the others dense."""
    arrays: dict[str, np.ndarray] = {}
    for name, arr in m.arrays().items():
        if should_store_sparse(arr):
            arrays.update({f"{name}.{part}": value for part, value in csr_parts(arr).items()})
        else:
            arrays[name] = dense(arr)
    text = json.dumps(m.meta, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ModelError("the model's labels contain a lone surrogate, which is not text; rename them") from None
    arrays["meta"] = np.array(text)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def _check_member(info: zipfile.ZipInfo, name: str, stream: Any, limit: int) -> tuple[tuple[int, ...], np.dtype]:
    """Check one member's .npy header before any data is decompressed; return its shape and dtype."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise ModelError(f"array {name} has .npy format version {version}; save it with numpy")
    if any(d < 0 for d in shape):
        raise ModelError(f"array {name} declares the impossible shape {shape}")
    count = math.prod(shape)
    if name == "meta":
        if dtype.kind != "U" or count != 1:
            raise ModelError(f"`meta` is a {dtype} array of shape {shape}; it must be one JSON string")
        if dtype.itemsize > MAX_META:
            raise ModelError(f"`meta` declares {dtype.itemsize:,} bytes, over the limit of {MAX_META:,}")
    elif name.endswith((".indices", ".indptr", ".shape")):
        if dtype.kind not in "iu" or dtype.itemsize > 8 or len(shape) != 1 or count > limit:
            raise ModelError(f"array {name} has dtype {dtype} and shape {shape}; a CSR part must be a vector of at "
                             f"most {limit:,} integers")
    else:
        if dtype.kind != "f" or dtype.itemsize > 8:
            raise ModelError(f"array {name} has dtype {dtype}; weights must be float16, float32 or float64")
        if count > limit:
            raise ModelError(f"array {name} declares {count:,} numbers (shape {shape}), over the limit of "
                             f"{limit:,} per array; raise FSM_LSTM_MAX_ARRAY if the model is really that large")
        rank = 1 if name.startswith("bias") or name.endswith((".bias", ".data")) else 2
        if len(shape) != rank:
            raise ModelError(f"array {name} has shape {shape}; it must be {'a vector' if rank == 1 else 'a matrix'} "
                             "(see the file format in fsm_lstm/model.py)")
    data = count * dtype.itemsize
    if info.file_size > data + 2**16:
        raise ModelError(f"array {name} declares {info.file_size:,} bytes in the zip file but its array needs "
                         f"{data:,}; the file is corrupt or hostile")
    return tuple(shape), dtype


def _read_arrays(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The model's arrays from an .npz file, each header checked (shape, dtype, size) before it is decompressed;
    members that are not part of the format are not read."""
    limit = max_array_elements()
    with open(path, "rb") as fh:
        try:
            end = zipfile._EndRecData(fh)  # the member count, before zipfile builds its directory
        except (AttributeError, OSError, struct.error):
            end = None
        if end and end[zipfile._ECD_ENTRIES_TOTAL] > MAX_MEMBERS:
            raise ModelError(f"the file holds {end[zipfile._ECD_ENTRIES_TOTAL]:,} members, over the limit of "
                             f"{MAX_MEMBERS:,}; it is not a model file")
        fh.seek(0)
        with zipfile.ZipFile(fh) as z:
            infos = z.infolist()
            if len(infos) > MAX_MEMBERS:
                raise ModelError(f"the file holds {len(infos):,} members, over the limit of {MAX_MEMBERS:,}")
            wanted = [(info, info.filename[:-4]) for info in infos
                      if info.filename.endswith(".npy") and _WANTED.fullmatch(info.filename[:-4])]
            seen: set[str] = set()
            twice = next((name for _, name in wanted if name in seen or seen.add(name)), None)
            if twice is not None:  # numpy reads the last one, silently
                raise ModelError(f"the file holds array {twice} twice; which one is the model's is not defined")
            sparse_bias = next((info.filename[:-4] for info in infos
                                if _SPARSE_BIAS.fullmatch(info.filename.removesuffix(".npy"))), None)
            if sparse_bias is not None:
                base = sparse_bias.rpartition(".")[0]
                raise ModelError(f"{base} is spelled sparse ({sparse_bias}); biases must be dense vectors, since only "
                                 "weight_ih, weight_hh and heads.weight may be stored sparse; save it as one array")
            total = 0
            checked = []
            counts: dict[str, int] = {}
            declared: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
            for info, name in wanted:
                if name != "meta" and info.file_size > limit * 8 + 2**16:
                    raise ModelError(f"array {name} declares {info.file_size:,} bytes, over the limit of "
                                     f"{limit:,} numbers per array (FSM_LSTM_MAX_ARRAY)")
                with z.open(info) as stream:
                    declared[name] = _check_member(info, name, stream, limit)
                count = math.prod(declared[name][0])
                total += count if name != "meta" else 0
                if total > 2 * limit:
                    raise ModelError(f"the arrays hold over {2 * limit:,} numbers in all, over the limit "
                                     "(twice FSM_LSTM_MAX_ARRAY)")
                checked.append((info, name))
                counts[name] = count
            _check_sparse_counts(z, dict(checked), counts)
            arrays = {}
            for info, name in sorted(checked, key=lambda c: c[1] != "meta"):  # meta first: the shapes must fit it
                with z.open(info) as stream:
                    arr = np.lib.format.read_array(stream, allow_pickle=False)
                arrays[name] = arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))
                if name == "meta":
                    _check_declared({n: d for n, d in declared.items() if n != "meta"}, _parsed_meta(arr))
            return arrays


def _check_sparse_counts(z: zipfile.ZipFile, infos: dict[zipfile.ZipInfo, str], counts: dict[str, int]) -> None:
    """Before any weight is decompressed: each CSR array's parts agree in size with its (two-number) shape."""
    by_name = {name: info for info, name in infos.items()}
    for name in by_name:
        if not name.endswith(".shape"):
            continue
        base = name[:-len(".shape")]
        if counts[name] != 2:
            raise ModelError(f"{name} must hold two integers (rows, columns)")
        if base in by_name:
            raise ModelError(f"the file holds {base} both dense and sparse; keep one")
        with z.open(by_name[name]) as stream:
            rows, cols = (int(x) for x in np.lib.format.read_array(stream, allow_pickle=False))
        if rows < 0 or cols < 0:
            raise ModelError(f"{name} declares the impossible shape {(rows, cols)}")
        parts = {p: counts.get(f"{base}.{p}") for p in ("data", "indices", "indptr")}
        missing = [f"{base}.{p}" for p, c in parts.items() if c is None]
        if missing:
            raise ModelError(f"sparse array {base} lacks {', '.join(missing)}")
        if parts["indptr"] != rows + 1:
            raise ModelError(f"{base}.indptr holds {parts['indptr']:,} offsets but {name} declares {rows:,} rows "
                             f"(it needs rows + 1)")
        if parts["indices"] != parts["data"]:
            raise ModelError(f"{base}.indices holds {parts['indices']:,} entries but {base}.data "
                             f"{parts['data']:,}; they must match")
    for name in by_name:
        base, _, part = name.rpartition(".")
        if part in ("data", "indices", "indptr") and f"{base}.shape" not in by_name:
            raise ModelError(f"{name} has no {base}.shape; a CSR array needs {', '.join(f'{base}.{p}' for p in PARTS)}")


def load_model(path: str | os.PathLike[str]) -> Model:
    """Read a model file; a malformed file raises a ModelError naming the file and the problem.

    Limits (a hostile file is refused before it is decompressed): every array's .npy header is checked first;
    weights must be float16/32/64 with at most FSM_LSTM_MAX_ARRAY numbers (default 2**28) each and twice that
    in all, ``meta`` one string of at most 256 MiB, and the file at most 4096 members. Pickles are never loaded.
    """
    from .importer import import_hint

    hint = import_hint(path)
    if hint:
        raise ModelError(hint)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ModelError(f"{path}: no such model file; check the path{_npz_beside(path)}") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read it ({exc.strerror}); check the path") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise ModelError(f"{path}: is {kind}; give a model .npz file")
    try:
        arrays = _read_arrays(path)
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from None
    except FileNotFoundError:
        raise ModelError(f"{path}: no such model file; check the path") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, RuntimeError, NotImplementedError,
            zipfile.LargeZipFile) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise ModelError(f"{path}: not a model .npz file ({reason}); write models with `fsm-lstm compile`") from None
    try:
        model = model_from_arrays(arrays)
        json.dumps(model.meta, ensure_ascii=False).encode("utf-8")
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from None
    except UnicodeEncodeError:
        raise ModelError(f"{path}: meta holds a lone surrogate (\\ud800-\\udfff), which is not text") from None
    return model


def model_from_arrays(arrays: dict[str, np.ndarray]) -> Model:
    """Build a model from the named arrays of the file format."""
    if "meta" not in arrays:
        raise _fail("no `meta` entry; the file needs a JSON meta string with alphabet and heads "
                    "(cell and units are optional)")
    meta = _parsed_meta(arrays["meta"])
    arrays = _assemble_sparse(arrays)
    layers = _layers(arrays)
    for name in ("heads.weight", "heads.bias"):
        if name not in arrays:
            raise _fail(f"no `{name}` array; the file needs heads.weight (M x H) and heads.bias (M)")
    extra = {k: v for k, v in meta.items() if k not in ("alphabet", "heads", "units", "cell")}
    units = units_from_meta(meta["units"], tuple(layers)) if "units" in meta and layers else ()
    return Model(layers=tuple(layers), head_weight=_as_array(arrays["heads.weight"]),
                 head_bias=np.asarray(arrays["heads.bias"]), alphabet=tuple(meta["alphabet"]),
                 heads=tuple(meta["heads"]), units=units, cell=meta.get("cell", "lstm"), extra=extra)


def _layers(arrays: dict[str, Any]) -> list[Layer]:
    """The layers of the file's arrays, l0 up to the first index without a weight_ih; an array of a layer past
    that one (weight_ih_l2 without l1) is refused, not left out."""
    layers = []
    k = 0
    while f"weight_ih_l{k}" in arrays:
        try:
            layers.append(Layer(*(_as_array(arrays[f"{n}_l{k}"])
                                   for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))))
        except KeyError as exc:
            raise _fail(f"layer {k} lacks {exc.args[0]}") from None
        k += 1
    stray = sorted(name for name in arrays if (m := re.fullmatch(r"\w+_l(\d+)", name)) and int(m.group(1)) >= k)
    if stray:
        raise _fail(f"{stray[0]} belongs to no layer: the layers are l0 to l{k - 1}" if k else
                    f"{stray[0]} belongs to no layer: the file has no weight_ih_l0")
    return layers


def _check_declared(declared: dict[str, tuple[tuple[int, ...], np.dtype]], meta: dict[str, Any]) -> None:
    """The shapes of dense arrays, as their headers declare them, against meta, before any weight is read: a
    2 MB file declaring heads.weight of 2 GiB that cannot fit meta.heads was decompressed first (a file with
    sparse parts or without its arrays is left to :func:`model_from_arrays`)."""
    names = {"heads.weight", "heads.bias"}
    if not names <= declared.keys() or any(n.rpartition(".")[2] in PARTS for n in declared):
        return
    dummies = {n: np.broadcast_to(np.zeros((), dtype), shape) for n, (shape, dtype) in declared.items()}
    try:
        layers = tuple(_layers(dummies))
    except ModelError:
        return
    width = layers[-1].hidden_size if layers else 0
    units = units_from_meta(meta["units"], layers) if "units" in meta and layers else default_units(width)
    _check_shapes(SimpleNamespace(cell=meta.get("cell", "lstm"), layers=layers, alphabet=tuple(meta["alphabet"]),
                                  heads=tuple(meta["heads"]), head_weight=dummies["heads.weight"],
                                  head_bias=dummies["heads.bias"], units=units))


def _parsed_meta(entry: Any) -> dict[str, Any]:
    """The meta entry (one JSON string, a 0-d array, not an array of strings), checked: alphabet and heads lists
    of strings, the optional keys of the right types."""
    if isinstance(entry, np.ndarray) and (entry.ndim != 0 or entry.dtype.kind not in "US"):
        raise _fail(f"`meta` is an array of shape {entry.shape} and dtype {entry.dtype}; it must be one JSON string, "
                    "as np.array(json.dumps(meta)) makes it")
    try:
        meta = json.loads(str(entry))
    except (ValueError, RecursionError) as exc:  # malformed, nested too deep, or an integer of 5,000 digits
        raise _fail(f"`meta` is not valid JSON ({(str(exc) or type(exc).__name__).splitlines()[0][:200]})") from None
    if not isinstance(meta, dict):
        raise _fail("`meta` must be a JSON object")
    for key in ("alphabet", "heads", "units"):
        if key == "units" and key not in meta:
            continue
        if not isinstance(meta.get(key), list) or not all(isinstance(x, str) for x in meta[key]):
            raise _fail(f"meta.{key} is missing or not a list of strings")
    if not isinstance(meta.get("cell", "lstm"), str):
        raise _fail("meta.cell must be a string: lstm, gru or rnn")
    for key in ("unknown_start", "final_only", "argmax_outputs"):
        if key in meta and not isinstance(meta[key], bool):
            raise _fail(f"meta.{key} must be a JSON boolean (true or false), not {meta[key]!r}")
    if meta.get("precision", "float32") not in ("float32", "float64"):
        raise _fail(f"meta.precision must be \"float32\" or \"float64\", not {meta['precision']!r}")
    if "grammar" in meta and not isinstance(meta["grammar"], str):
        raise _fail("meta.grammar must be a string holding a grammar file's text")
    return meta


def _as_array(a: Any) -> Any:
    return a if is_sparse(a) else np.asarray(a)


def _assemble_sparse(arrays: dict[str, Any]) -> dict[str, Any]:
    """The arrays with every CSR spelling (NAME.data, .indices, .indptr, .shape) built into one sparse matrix."""
    out = {k: v for k, v in arrays.items() if k.rpartition(".")[2] not in PARTS}
    bases = {k.rpartition(".")[0] for k in arrays if k.rpartition(".")[2] in PARTS}
    for base in sorted(bases):
        if base in out:
            raise _fail(f"the file holds {base} both dense and sparse; keep one")
        out[base] = csr_from_parts(base, {p: np.asarray(arrays[f"{base}.{p}"]) for p in PARTS
                                          if f"{base}.{p}" in arrays})
    return out
