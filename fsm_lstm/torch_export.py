"""Handing models to PyTorch and ONNX: a small nn.Module with heads, a torch file, and an ONNX graph.

The torch file is a dict ``{"state_dict": {name: tensor}, "meta": json}`` that ``torch.load(path,
weights_only=True)`` reads; :class:`RecurrentWithHeads` rebuilds the network from it. The ONNX graph takes
``x``, float32 [T, B, K] one-hot, and gives ``heads``, float32 [T, B, M], the head logits after each symbol
(the empty prefix's logits are ``heads.bias``), float32 also for a float64 network (``meta.precision``), whose
torch module and file stay float64: onnxruntime has no float64 GRU kernel.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import warnings
from typing import Any

import numpy as np

from .atomic import atomic_path
from .errors import UserError
from .model import Model
from .optional import require

__all__ = ["load_torch", "module_class", "save_onnx", "save_torch", "state_dict"]


def _torch() -> Any:
    return require("torch", "torch and ONNX export")


def module_class() -> type:
    """The nn.Module class (defined lazily so that fsm-lstm imports without torch)."""
    torch = _torch()

    class RecurrentWithHeads(torch.nn.Module):
        """nn.LSTM / nn.GRU / nn.RNN followed by a linear layer of heads; forward: (T, B, K) -> (T, B, M)."""

        def __init__(self, cell: str, inputs: int, hidden: int, layers: int, heads: int) -> None:
            super().__init__()
            kinds = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}
            self.rnn = kinds[cell](inputs, hidden, num_layers=layers)
            self.heads = torch.nn.Linear(hidden, heads)
            self.meta: dict[str, Any] = {}

        def forward(self, x: Any) -> Any:
            out, _ = self.rnn(x)
            return self.heads(out)

        @classmethod
        def from_model(cls, model: Model) -> RecurrentWithHeads:
            net = cls(model.cell, len(model.alphabet), model.hidden_size, len(model.layers), len(model.heads))
            if model.precision == "float64":  # a float64 network stays one (meta.precision)
                net = net.double()
            net.load_state_dict(state_dict(model))
            net.meta = model.meta
            return net

        @classmethod
        def from_file(cls, path: str | os.PathLike[str]) -> RecurrentWithHeads:
            return cls.from_model(load_torch(path))

    return RecurrentWithHeads


def state_dict(model: Model) -> dict[str, Any]:
    """The model's arrays as tensors, named as in :class:`RecurrentWithHeads`."""
    torch = _torch()
    return {("" if name.startswith("heads.") else "rnn.") + name: torch.from_numpy(np.ascontiguousarray(arr))
            for name, arr in model.arrays().items()}


def save_torch(model: Model, path: str | os.PathLike[str]) -> None:
    """Write ``{"state_dict", "meta"}`` for ``torch.load(path, weights_only=True)``, atomically."""
    torch = _torch()
    with atomic_path(path) as tmp:
        torch.save({"state_dict": state_dict(model), "meta": json.dumps(model.meta)}, tmp)


def load_torch(path: str | os.PathLike[str]) -> Model:
    """Read a file written by :func:`save_torch` (``import_torch.exported_in``, with its checks)."""
    from .import_torch import exported_in

    if not os.path.isfile(path):
        raise UserError(f"{path}: no such file")
    model = exported_in(Path(path))
    if model is None:
        raise UserError(f"{path}: not an fsm-lstm torch file; use `fsm-lstm import` for other state dicts")
    return model


def save_onnx(model: Model, path: str | os.PathLike[str]) -> None:
    """Export the network with its heads to ONNX (input ``x`` [T, B, K], output ``heads`` [T, B, M])."""
    torch = _torch()
    net = module_class().from_model(model).float().eval()  # onnxruntime runs no float64 recurrent operator
    dummy = torch.zeros(3, 2, len(model.alphabet))
    with atomic_path(path) as tmp, warnings.catch_warnings():
        # the exporter warns that LSTMs may not generalise over batch sizes; they do here (zero initial state,
        # dynamic axes), as the tests check with onnxruntime
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (dummy,), str(tmp), input_names=["x"], output_names=["heads"],
                          dynamic_axes={"x": {0: "T", 1: "B"}, "heads": {0: "T", 1: "B"}}, opset_version=17,
                          dynamo=False)
        _store_labels(tmp, model)


def _store_labels(path: Path, model: Model) -> None:
    """The alphabet, heads and reading, which the graph cannot hold, as metadata that `fsm-lstm import` reads."""
    import onnx

    from .onnx_labels import LABELS_KEY, labels_json

    graph = onnx.load(str(path))
    entry = graph.metadata_props.add()
    entry.key, entry.value = LABELS_KEY, labels_json(model)
    onnx.save(graph, str(path))
