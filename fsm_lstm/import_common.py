"""What every importer produces, and the checks every importer applies to what it reads from a file.

A reader turns a foreign file into a :class:`Network`: recurrent layers already in PyTorch layout, an optional
embedding (one row per symbol) still to be folded into the first layer, and the dense layers after the
recurrent ones, in order. ``importer.assemble`` makes the documented model out of it. Readers validate every
declared shape and size before they allocate anything, and raise :class:`~fsm_lstm.errors.UserError` with one
line for anything they cannot read exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import UserError
from .model import Layer

__all__ = ["Dense", "FLOAT_DTYPES", "MAX_BYTES", "MAX_ELEMENTS", "Network", "common_dtype", "declared_shape",
           "dtype_problem", "first_line", "float_array"]

MAX_ELEMENTS = 1 << 26  # per tensor: 64 M numbers (256 MB of float32) is far beyond any network fsm-lstm runs
MAX_BYTES = 1 << 30  # per file or archive member read into memory
FLOAT_DTYPES = (np.float16, np.float32, np.float64)


@dataclass
class Dense:
    """One dense layer after the recurrent ones, in nn.Linear layout: y = weight @ x + bias, then activation.
    activation: ``linear``, ``sigmoid``, ``softmax``, or the source's name of anything else (refused later)."""

    weight: np.ndarray  # (M, D)
    bias: np.ndarray  # (M,)
    activation: str = "linear"
    name: str = ""
    activation_from: str = ""  # the layer that applies ``activation``, when it is not this one (a Keras Activation)

    def with_activation(self) -> str:
        """How messages name the layer and its activation: "dense layer 'd' has activation relu", or "... 'd'
        is followed by activation layer 'a' (relu)"."""
        where = f" is followed by activation layer {self.activation_from!r} (" if self.activation_from else \
            " has activation "
        return f"dense layer {self.name!r}{where}{self.activation}{')' if self.activation_from else ''}"


@dataclass
class Network:
    """A network read from a foreign file, before labelling: see the module doc."""

    format: str
    cell: str
    layers: list[Layer]
    dense: list[Dense]
    embedding: np.ndarray | None = None  # (K, E): row s is the input vector of symbol s
    sources: list[str] = field(default_factory=list)  # the source's layers, in order, for meta.imported
    notes: list[str] = field(default_factory=list)
    composable: bool = True  # False when the file cannot tell whether something nonlinear lies between dense layers
    last_step_only: bool = False  # the source outputs only the heads after the last symbol
    tanh_unstated: bool = False  # an RNN whose file does not record its nonlinearity (a torch state_dict)
    masked_ids: tuple[int, ...] = ()  # input ids whose steps the source skips (Keras mask_zero=True: id 0)
    labels: str | None = None  # the labels `fsm-lstm export --to onnx` stored (JSON, unchecked: ``onnx_labels``)


def first_line(exc: BaseException) -> str:
    """An exception's message as one line (libraries sometimes raise multi-line messages)."""
    text = (str(exc).strip() or type(exc).__name__).splitlines()[0].strip()
    if len(text) > 160 and ". " in text[:160]:  # long library messages: their first sentence
        text = text[: text.index(". ") + 1]
    return text


def _magnitude(n: int, grouping: str) -> str:
    """A declared size as a message shows it: its digits (``grouping`` ',' groups them), or 'about 10^k' from 10^18
    on (10**400 took 1,074 characters, and str() refuses integers of over 4,300 digits)."""
    return f"{n:{grouping}}" if n < 10**18 else f"about 10^{int(n.bit_length() * 0.30103)}"


def declared_shape(name: str, shape: Any) -> tuple[int, ...]:
    """A shape declared in a file's header, checked before anything is allocated for it."""
    if not isinstance(shape, (list, tuple)) or not all(type(d) is int and d >= 0 for d in shape):
        raise UserError(f"{name} declares the shape {shape!r}; a shape is a list of whole numbers >= 0")
    size = 1
    for d in shape:
        size *= d
    if size > MAX_ELEMENTS:
        shown = "[" + ", ".join(_magnitude(d, "") for d in shape) + "]"
        raise UserError(f"{name} declares {_magnitude(size, ',')} numbers (shape "
                        f"{shown if len(shown) <= 80 else shown[:80] + '...'}); fsm-lstm reads at most "
                        f"{MAX_ELEMENTS:,} per tensor")
    return tuple(shape)


def dtype_problem(dtype: Any) -> str | None:
    """Why a weight of this dtype cannot be read exactly, or None if it can."""
    text = str(dtype).lower()
    if "bfloat16" in text or text in ("bf16", "torch.bfloat16"):
        return "bfloat16, which numpy cannot hold; save the weights as float32"
    try:
        dt = np.dtype(dtype)
    except TypeError:
        return f"{dtype}, not a floating-point type"
    if dt.kind != "f" or dt.type not in FLOAT_DTYPES:
        return f"{dt}; weights must be float16, float32 or float64"
    return None


def float_array(name: str, value: Any, shape: tuple[int | None, ...] | None = None) -> np.ndarray:
    """``value`` as a finite float array of the given shape (None matches any length), or a UserError."""
    if not isinstance(value, np.ndarray):
        raise UserError(f"{name} is of type {type(value).__name__}, not an array of weights")
    problem = dtype_problem(value.dtype)
    if problem:
        raise UserError(f"{name} has dtype {problem}")
    if shape is not None and (value.ndim != len(shape) or any(w is not None and w != d
                                                                for w, d in zip(shape, value.shape))):
        want = "(" + ", ".join("n" if w is None else str(w) for w in shape) + ("," if len(shape) == 1 else "") + ")"
        raise UserError(f"{name} has shape {tuple(value.shape)}, expected {want}")
    if not np.all(np.isfinite(value)):
        raise UserError(f"{name} contains NaN or infinity")
    return value


def common_dtype(arrays: list[np.ndarray]) -> type:
    """float64 if any source weight is float64 (keep the writer's precision), else float32."""
    return np.float64 if any(a.dtype == np.float64 for a in arrays) else np.float32
