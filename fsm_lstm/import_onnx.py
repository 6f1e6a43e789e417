"""ONNX graphs whose recurrent part is a chain of ONNX ``LSTM``, ``GRU`` or ``RNN`` operators, as
``torch.onnx.export`` writes them for nn.LSTM / nn.GRU / nn.RNN (opset 14 and later, constant-folded weights).

The graph must be one chain from its single input to an output: an optional ``Gather`` from a constant
embedding (token-id input), ``Transpose`` that keep the feature axis last, the recurrent operators, each followed
by the ``Squeeze`` of its direction axis, optionally a ``Gather`` of the last step (the model then outputs only the
heads after the last symbol), then ``MatMul`` + ``Add`` or ``Gemm`` layers, optionally ending in ``Sigmoid`` or
``Softmax``, and optionally the pick of one output (a ``Gather`` of one index on the outputs' axis, or the
``Squeeze`` of a single output; :meth:`pick_output`). ``Identity`` and ``Dropout`` pass through; ``Shape`` side
branches (after a ``Transpose`` or not) may only feed the initial states, which must be provably zero (absent,
zeros, or ``ConstantOfShape`` 0 reshaped). Weights must be initializers or ``Constant`` nodes, inside the file or
in an external-data file beside it (``onnx_external``).

ONNX layouts: W [dirs, G*H, K], R [dirs, G*H, H], B [dirs, 2*G*H] = (input biases, recurrent biases); gate blocks
LSTM i, o, f, c (PyTorch i, f, g, o) and GRU z, r, h (PyTorch r, z, n). A GRU equals PyTorch's only with
``linear_before_reset=1``. Refused: other directions, peepholes (a non-zero input P), ``clip``, activations other
than the defaults, ``input_forget``, ``sequence_lens``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .errors import UserError
from .import_common import MAX_BYTES, Dense, Network, declared_shape, first_line, float_array
from .model import Layer
from .onnx_external import read_external
from .onnx_labels import LABELS_KEY
from .onnx_shapes import LONGEST_SHAPE, merges_axis
from .optional import require

__all__ = ["CELLS", "DEFAULT_ACTIVATIONS", "GATES", "INT_TYPES", "KNOWN_ATTRS", "ORDER", "PASS_THROUGH",
           "ZERO_PRESERVING", "read_onnx"]

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
CELLS = {"LSTM": "lstm", "GRU": "gru", "RNN": "rnn"}
ORDER = {"LSTM": (0, 2, 3, 1), "GRU": (1, 0, 2), "RNN": (0,)}  # ONNX blocks taken for PyTorch's order
DEFAULT_ACTIVATIONS = {"LSTM": ["sigmoid", "tanh", "tanh"], "GRU": ["sigmoid", "tanh"], "RNN": ["tanh"]}
KNOWN_ATTRS = {"hidden_size", "direction", "activations", "activation_alpha", "activation_beta", "clip", "layout",
               "input_forget", "linear_before_reset"}
PASS_THROUGH = {"Identity", "Dropout"}
ZERO_PRESERVING = {"Slice", "Expand", "Reshape", "Unsqueeze", "Squeeze", "Identity", "Transpose", "Cast", "Tile",
                   "Gather"}  # zero data in, zero data out (their first input is the data)
INT_TYPES = {2, 3, 4, 5, 6, 7, 12, 13}  # uint8, int8, uint16, int16, int32, int64, uint32, uint64


def read_onnx(path: Path) -> Network:
    """The network of an ONNX file (see the module doc)."""
    onnx = require("onnx", "reading .onnx files")
    if path.stat().st_size > MAX_BYTES:
        raise UserError(f"larger than {MAX_BYTES:,} bytes")
    try:
        model = onnx.load_model(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError and friends
        raise UserError(f"not an ONNX model ({first_line(exc)})") from None
    if not model.HasField("graph"):  # protobuf reads an empty or foreign file as an empty message
        raise UserError("not an ONNX model (no graph in it)")
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    try:
        network = _Chain(model.graph, opset, path.parent).network()
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:  # attributes of unexpected types
        raise UserError(f"malformed graph ({first_line(exc)})") from None
    network.labels = next((p.value for p in model.metadata_props if p.key == LABELS_KEY), None)
    return network


class _Chain:
    """Walks the graph from its input along the one chain of data-carrying nodes."""

    def __init__(self, graph: Any, opset: int, folder: Path) -> None:
        import onnx

        self.onnx = onnx
        self.folder = folder
        self.graph = graph
        self.opset = opset
        self.tensors: dict[str, Any] = {}
        for t in graph.initializer:
            if t.name in self.tensors:  # onnx.checker refuses it; onnxruntime takes the last, silently
                raise UserError(f"initializer {t.name!r} is defined twice; which one the model uses is not defined")
            self.tensors[t.name] = t
        self.producer: dict[str, Any] = {}
        self.consumers: dict[str, list[Any]] = {}
        for node in graph.node:
            for out in node.output:
                if out in self.producer or (out and out in self.tensors):
                    raise UserError(f"the value {out!r} is produced twice (by two nodes, or a node and an "
                                    "initializer); an ONNX graph gives each value once")
                if out:
                    self.producer[out] = node
            for name in node.input:
                if name:
                    self.consumers.setdefault(name, []).append(node)
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.output:
                self.tensors[node.output[0]] = node
        self.cache: dict[str, np.ndarray] = {}
        self.zero_memo: dict[str, bool] = {}

    # ----- constants ------------------------------------------------------------------------
    def const(self, name: str, what: str) -> np.ndarray:
        """The value of an initializer or Constant node, checked before it is materialised."""
        if name in self.cache:
            return self.cache[name]
        held = self.tensors.get(name)
        if held is None:
            raise UserError(f"{what} ({name!r}) is computed in the graph, not stored in the file; fsm-lstm reads "
                            "weights and biases stored as constants (a constant expression is folded by exporting "
                            "with do_constant_folding=True; a term computed from the input, such as one from h_n, "
                            "cannot be read)")
        if isinstance(held, self.onnx.TensorProto):
            value = self._tensor(held, what)
        else:
            value = self._constant_node(held, what)
        self.cache[name] = value
        return value

    def _reads_final_state(self, node: Any) -> bool:
        """Whether the chain goes on from a recurrent operator's final hidden state (Y_h, torch's h_n) and not from
        its output at every step (Y): a head on the state after the last symbol. Y_h holds what Y's last step
        holds for a one-directional operator, so it is read as that last step (meta.final_only)."""
        def used(name: str) -> bool:
            return bool(name) and any(not self._shape_only(n) for n in self.consumers.get(name, []))

        return len(node.output) > 1 and used(node.output[1]) and not (node.output and used(node.output[0]))

    def _shape_only(self, node: Any, depth: int = 0) -> bool:
        """A ``Shape`` node, or a ``Transpose`` or ``Identity`` that only such nodes read: a side branch that gives
        a shape and no values (for a batch_first layer after another one, ``dynamo=False`` writes Transpose ->
        Shape to size the next layer's zero initial state). A few levels at most: a cycle is not one."""
        if node.op_type == "Shape":
            return True
        users = [n for out in node.output for n in self.consumers.get(out, [])]
        return (node.op_type in ("Transpose", "Identity") and bool(users) and depth < 4
                and all(self._shape_only(n, depth + 1) for n in users))

    def _tensor(self, t: Any, what: str) -> np.ndarray:
        if t.data_type == self.onnx.TensorProto.BFLOAT16:
            raise UserError(f"{what} has dtype bfloat16, which numpy cannot hold; export float32 weights")
        dims = declared_shape(what, list(t.dims))
        if t.data_location == self.onnx.TensorProto.EXTERNAL:
            return read_external(self.folder, {e.key: e.value for e in t.external_data}, t.data_type, dims, what)
        try:
            return np.asarray(self.onnx.numpy_helper.to_array(t))
        except Exception as exc:
            raise UserError(f"{what} cannot be read ({first_line(exc)})") from None

    def _constant_node(self, node: Any, what: str) -> np.ndarray:
        for a in node.attribute:
            if a.name == "value":
                return self._tensor(a.t, what)
            if a.name in ("value_float", "value_int"):
                return np.asarray(a.f if a.name == "value_float" else a.i)
            if a.name in ("value_floats", "value_ints"):
                values = a.floats if a.name == "value_floats" else a.ints
                declared_shape(what, [len(values)])
                return np.asarray(list(values))
        raise UserError(f"{what} is a Constant of a kind fsm-lstm does not read")

    def weights(self, name: str, what: str, shape: tuple[int | None, ...]) -> np.ndarray:
        value = self.const(name, what)
        return float_array(what, value, shape)

    def is_zero(self, name: str, depth: int = 0) -> bool:
        """Whether a value is provably all zeros (absent, zero constants, ConstantOfShape 0, reshaped)."""
        if not name:
            return True
        if name in self.zero_memo:
            return self.zero_memo[name]
        if depth > 64:
            return False
        result = False
        if name in self.tensors:
            value = self.const(name, f"tensor {name!r}")
            result = value.dtype.kind in "fiub" and not np.any(value)
        elif name in self.producer:
            node = self.producer[name]
            op = node.op_type if node.domain in ("", "ai.onnx") else None
            if op == "ConstantOfShape":
                value = next((a.t for a in node.attribute if a.name == "value"), None)
                result = value is None or not np.any(self._tensor(value, f"{node.name} value"))
            elif op in ZERO_PRESERVING and node.input:
                result = self.is_zero(node.input[0], depth + 1)
            elif op == "Concat":
                result = all(self.is_zero(i, depth + 1) for i in node.input)
        self.zero_memo[name] = result
        return result

    @staticmethod
    def attrs(node: Any) -> dict[str, Any]:
        import onnx

        return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

    # ----- the walk -------------------------------------------------------------------------
    def network(self) -> Network:
        graph = self.graph
        inputs = [i for i in graph.input if i.name not in self.tensors]
        if len(inputs) != 1:
            raise UserError(f"the graph has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); fsm-lstm reads "
                            "graphs with one input of symbols")
        elem = inputs[0].type.tensor_type.elem_type
        outputs = {o.name for o in graph.output}
        value = inputs[0].name
        layers: list[Layer] = []
        dense: list[Dense] = []
        sources: list[str] = []
        embedding = None
        cell = None
        rank = len(inputs[0].type.tensor_type.shape.dim) or None
        time_axis = None  # the recurrence axis, once a recurrent operator has fixed it
        origin: list[int | None] = list(range(rank or 0))  # the input axis at each axis, up to the first layer
        input_time = None  # the input's axis that the first recurrent operator recurs over
        dirs_axis = None  # set right after a recurrent operator, until its Squeeze
        last_step = False
        picked = None  # one output of the dense layers picked: "kept" its axis (y[..., [k]]), or "dropped" it
        finals = 1  # the final states (Y_h) side by side on the directions axis: a Concat of every layer's
        recurrent: list[Any] = []  # the recurrent operators walked, in order
        from_state = False  # the head reads the last operator's final state (Y_h), not its output (Y)
        softmax_picked = False  # the pick turned a 2-way softmax's p_k into the logit z_k - z_other
        for _ in range(len(graph.node) + 1):
            users = [n for n in self.consumers.get(value, []) if not self._shape_only(n)]
            if not users:
                break
            if len(users) > 1:
                raise UserError(f"value {value!r} feeds {len(users)} nodes ({', '.join(n.op_type for n in users)}); "
                                "fsm-lstm reads a single chain of operators")
            node = users[0]
            op = node.op_type
            label = f"{node.name or op} ({op})"
            if node.domain not in ("", "ai.onnx"):
                raise UserError(f"node {label} is from the custom domain {node.domain!r}")
            if list(node.input).count(value) != 1:
                raise UserError(f"node {label} reads {value!r} more than once")
            slot = list(node.input).index(value)
            attrs = self.attrs(node)
            if dirs_axis is not None and op not in ("Squeeze", "Transpose", "Reshape", *PASS_THROUGH) and not (
                    last_step and op in ("Gather", "Concat")):  # the final state: h_n[-1] of every layer's h_n
                raise UserError(f"node {label} reads the raw output of a recurrent operator; expected the Squeeze "
                                "of its direction axis")
            if op in PASS_THROUGH:
                if slot != 0:
                    raise UserError(f"node {label} reads the data as input {slot}")
                if op == "Dropout" and len(node.input) > 2 and node.input[2] and \
                        np.any(self.const(node.input[2], f"{label} training_mode")):
                    raise UserError(f"node {label} drops out in training mode")
            elif op == "Gather" and not layers:
                if embedding is not None or slot != 1 or elem not in INT_TYPES or attrs.get("axis", 0) != 0:
                    raise UserError(f"node {label} is not an embedding lookup (Gather axis 0 from a constant table "
                                    "by token ids)")
                embedding = self.weights(node.input[0], f"{label} table", (None, None))
                sources.append(label)
                rank = (rank or 2) + 1
                origin.append(None)
            elif op == "Gather" and dense and not picked and slot == 0 and _on_last_axis(attrs.get("axis", 0), rank):
                softmax_picked = dense[-1].activation == "softmax"
                kept = self.pick_output(node, label, dense[-1])
                rank, picked = (rank or 3) - (not kept), "kept" if kept else "dropped"
                sources.append(label)
            elif op == "Gather" and dirs_axis is not None:  # h_n[-1]: the last layer's final state
                index = self.const(node.input[1], f"{label} index") if slot == 0 else None
                axis = attrs.get("axis", 0)
                if index is None or index.shape != () or int(index) not in (-1, finals - 1) or \
                        (axis + 3 if axis < 0 else axis) != dirs_axis:
                    raise UserError(f"node {label} is not a Gather of the last layer's final state (h_n[-1])")
                dirs_axis, rank = None, 2
                sources.append(label)
            elif op == "Concat":  # torch's h_n of stacked layers: each layer's Y_h, the last one last
                axis = attrs.get("axis", 0)
                earlier = [n.output[1] for n in recurrent[:-1]]
                if (axis + 3 if axis < 0 else axis) != dirs_axis or finals != 1 or slot != len(node.input) - 1 or \
                        any(i not in earlier for i in node.input[:-1]):
                    raise UserError(f"node {label} concatenates something other than the recurrent layers' final "
                                    "states (torch's h_n)")
                widths = sorted({layers[k].hidden_size for k, n in enumerate(recurrent) if n.output[1] in node.input})
                if len(widths) > 1:
                    raise UserError(f"node {label} concatenates final states of {' and '.join(map(str, widths))} "
                                    "units, which ONNX cannot join on the directions axis (onnxruntime refuses the "
                                    "graph); export the graph again, or read the last layer's state alone")
                finals = len(node.input)
            elif op == "Gather":
                index = self.const(node.input[1], f"{label} index") if slot == 0 else None
                axis = attrs.get("axis", 0)
                axis = axis + (rank or 3) if axis < 0 else axis
                if index is None or index.shape != () or int(index) != -1 or axis != time_axis or last_step:
                    raise UserError(f"node {label} is not a Gather of the last step (index -1 on the time axis)")
                last_step, rank = True, 2
                sources.append(label)
            elif op == "Transpose":
                perm = list(attrs.get("perm", []))
                if not perm or perm[-1] != len(perm) - 1 or sorted(perm) != list(range(len(perm))):
                    raise UserError(f"node {label} has perm {perm}; fsm-lstm reads transposes that keep the "
                                    "feature axis last")
                if time_axis is not None:
                    time_axis = perm.index(time_axis)
                if not layers and len(perm) == len(origin):
                    origin = [origin[a] for a in perm]
                if dirs_axis is not None:
                    dirs_axis = perm.index(dirs_axis)
            elif op == "Reshape" and dirs_axis is not None and slot == 0:
                if not merges_axis(self, node, value, dirs_axis):
                    fixed = len(node.input) > 1 and node.input[1] in self.tensors and \
                        self.const(node.input[1], f"{label} shape").size <= LONGEST_SHAPE
                    why = (f"to the constant shape {self.const(node.input[1], label).tolist()}, which fixes the "
                           "string length; export with a dynamic time axis (torch.export.Dim.DYNAMIC: dynamo=True "
                           "may fix a named Dim without a word), or with dynamo=False") if fixed else \
                        "other than by dropping its direction axis"
                    raise UserError(f"node {label} reshapes a recurrent output {why}")
                time_axis = time_axis - (time_axis > dirs_axis)
                dirs_axis, rank = None, 3
            elif op == "Squeeze":
                axes = attrs.get("axes")
                if axes is None and len(node.input) > 1 and node.input[1]:
                    axes = self.const(node.input[1], f"{label} axes").reshape(-1).tolist()
                if dirs_axis is None and dense and picked != "dropped" and axes is not None and len(axes) == 1 and \
                        _on_last_axis(axes[0], rank):  # the outputs' axis, of one output: values unchanged
                    if dense[-1].weight.shape[0] != 1:
                        raise UserError(f"node {label} squeezes the axis of {dense[-1].weight.shape[0]} outputs, which "
                                        "only a single output can lose; pick one output first (y[..., k])")
                    rank, picked = (rank or 3) - 1, "dropped"
                    sources.append(label)
                else:
                    axes = [a + 4 if a < 0 else a for a in (axes or [])]
                    if dirs_axis is None or axes != [dirs_axis]:
                        raise UserError(f"node {label} squeezes axes {axes}; fsm-lstm reads the Squeeze of a "
                                        "recurrent output's direction axis, or of the last axis of a single output")
                    dirs_axis, rank = None, 2 if last_step else 3
            elif op in GATES:
                if slot != 0 or dense or last_step:
                    raise UserError(f"node {label} is not in the recurrent chain (input X after the previous layer)")
                if cell is not None and CELLS[op] != cell:
                    raise UserError(f"node {label} is a {op} after {cell.upper()} layers; fsm-lstm reads one kind")
                layout = attrs.get("layout", 0)
                axis = 0 if layout == 0 else 1
                if time_axis is not None and time_axis != axis:
                    raise UserError(f"node {label} recurs over another axis than the layer before it")
                if not layers and axis < len(origin):
                    input_time = origin[axis]
                width = layers[-1].hidden_size if layers else embedding.shape[1] if embedding is not None else None
                layers.append(self.recurrent(node, attrs, label, width))
                cell = CELLS[op]
                sources.append(label)
                recurrent.append(node)
                if self._reads_final_state(node):  # h_n: the heads read the state after the last step only
                    value, last_step, time_axis, rank, dirs_axis, from_state = node.output[1], True, None, 3, axis, True
                    continue
                if not node.output or not node.output[0]:
                    raise UserError(f"node {label} has no Y output")
                value = node.output[0]
                time_axis, dirs_axis, rank = axis, axis + 1, 4
                continue
            elif op in ("MatMul", "Gemm"):
                if picked:
                    raise UserError(f"node {label} multiplies after one output was picked; fsm-lstm reads the pick "
                                    "(a Gather or Squeeze of the outputs' axis) after the last dense layer")
                if not layers:
                    raise UserError(f"node {label} multiplies the input before any LSTM, GRU or RNN operator: an "
                                    "unrolled recurrence (torch.onnx.export(..., dynamo=True) writes nn.RNN so) or a "
                                    "custom cell is not read; export with dynamo=False")
                if slot != 0:
                    raise UserError(f"node {label} is not a dense layer after the recurrent ones")
                dense.append(self.matmul(node, attrs, label, rank))
                sources.append(label)
            elif op == "Add":
                if not dense or dense[-1].activation != "linear" or self.producer.get(value) is None or \
                        self.producer[value].op_type not in ("MatMul", "Gemm", "Add"):
                    raise UserError(f"node {label} adds to something other than a dense layer's output")
                other = node.input[1 - slot]
                bias = float_array(f"{label} bias", self.const(other, f"{label} bias"))
                if bias.size not in (1, dense[-1].bias.size) or any(d != 1 for d in bias.shape[:-1]):
                    raise UserError(f"node {label} adds a {bias.shape} constant; expected one bias per output")
                dense[-1].bias = dense[-1].bias + bias.reshape(-1).astype(dense[-1].bias.dtype)
            elif op in ("Sigmoid", "Softmax", "Relu", "Tanh", "LeakyRelu", "Elu", "Selu", "HardSigmoid", "LogSoftmax"):
                if not dense or dense[-1].activation != "linear":
                    raise UserError(f"node {label} is an activation outside the dense layers")
                if picked and (softmax_picked or op in ("Softmax", "LogSoftmax")):
                    what = "a softmax's output" if softmax_picked else "one output"
                    raise UserError(f"node {label} is a {op} after the pick of {what}, which fsm-lstm does not read; "
                                    "export the graph ending in the pick, or pick after the activation")
                if op == "Softmax":
                    axis = attrs.get("axis", -1 if self.opset >= 13 else 1)
                    if (axis + (rank or 3) if axis < 0 else axis) != (rank or 3) - 1:
                        raise UserError(f"node {label} is a softmax over axis {axis}, not over the outputs")
                dense[-1].activation = op.lower()
                dense[-1].name = f"{dense[-1].name} + {op}"
                sources.append(label)
            elif op == "ArgMax":  # the index of the largest output: read by --argmax's reading, exactly
                if not dense or dense[-1].activation not in ("linear", "softmax", "logsoftmax") or picked:
                    raise UserError(f"node {label} is an ArgMax that is not over a dense layer's outputs")
                axis = attrs.get("axis", 0)
                if (axis + (rank or 3) if axis < 0 else axis) != (rank or 3) - 1:
                    raise UserError(f"node {label} is an ArgMax over axis {axis}, not over the outputs")
                dense[-1].activation = "argmax"
                dense[-1].name = f"{dense[-1].name} + ArgMax"
                sources.append(label)
            elif not layers and embedding is None:
                guess = " (a one-hot encoding in the graph?)" if op in ("OneHot", "Equal", "Cast") else ""
                raise UserError(f"node {label} transforms the input before the recurrent operators{guess}; fsm-lstm "
                                "reads graphs whose input is one-hot vectors, or token ids into an embedding, fed "
                                "straight to the first recurrent operator")
            else:
                raise UserError(f"node {label} is an operator fsm-lstm does not read here; it reads Gather, "
                                "Transpose, LSTM/GRU/RNN, Squeeze, MatMul, Add, Gemm, Sigmoid, Softmax and ArgMax")
            value = node.output[0]
        else:
            raise UserError("the graph has a cycle")
        if value not in outputs:
            raise UserError(f"the chain from the input ends at {value!r}, which is not a graph output"
                            + _final_state_hint(graph))
        if cell is None:
            raise UserError("the graph has no LSTM, GRU or RNN operator on its path from input to output")
        if dirs_axis is not None:
            raise UserError("the graph outputs a recurrent operator's raw output; fsm-lstm needs a dense head")
        read = "reads the final hidden state (h_n)" if from_state else "outputs only the last step"
        notes = [f"the graph {read}: its output is the heads after the last symbol (meta.final_only)"] \
            if last_step else []
        in_dims = inputs[0].type.tensor_type.shape.dim
        notes += _fixed_length_note(in_dims, input_time, cell) or ([] if last_step else _fixed_output_note(
            next(o for o in graph.output if o.name == value).type.tensor_type.shape.dim, time_axis, cell))
        return Network(format="onnx", cell=cell, layers=layers, dense=dense, embedding=embedding, sources=sources,
                       notes=notes, composable=True, last_step_only=last_step)

    def pick_output(self, node: Any, label: str, last: Dense) -> bool:
        """A Gather of one constant index on the outputs' axis (``y[..., k]``, ``y[:, k]`` of a last step): the
        dense layer keeps that output alone, which an elementwise activation after it maps the same way (a 2-way
        softmax's p_k becomes the logit z_k - z_other); whether the outputs' axis is kept (a one-element index)."""
        index = self.const(node.input[1], f"{label} index")
        outputs = last.weight.shape[0]
        two_way = last.activation == "softmax" and outputs == 2
        if index.size != 1 or index.ndim > 1:
            raise UserError(f"node {label} gathers an index of shape {list(index.shape)} from the outputs; fsm-lstm "
                            "reads the pick of one output (y[..., k] or y[..., [k]])")
        if not (last.activation in ("linear", "sigmoid", "tanh") or two_way):
            what = f"a softmax over {outputs} outputs" if last.activation == "softmax" else f"a {last.activation}"
            raise UserError(f"node {label} picks an output of {what}, which is not a function of that output's own "
                            "logit; export the logits (the layer before the activation) and pick from them")
        k = int(index.reshape(-1)[0])
        if not -outputs <= k < outputs:
            raise UserError(f"node {label} picks output {k} of a layer of {outputs} outputs")
        k %= outputs
        if two_way:  # p_k > 0.5 exactly when z_k - z_other > 0: that difference is the head's logit
            last.weight, last.bias = last.weight[k:k + 1] - last.weight[1 - k:2 - k], \
                last.bias[k:k + 1] - last.bias[1 - k:2 - k]
            last.activation = "linear"
        else:
            last.weight, last.bias = last.weight[k:k + 1], last.bias[k:k + 1]
        last.name = f"{last.name}[{k}]"
        return index.ndim == 1

    def recurrent(self, node: Any, attrs: dict[str, Any], label: str, width: int | None) -> Layer:
        """One ONNX recurrent operator in PyTorch layout."""
        op = node.op_type
        unknown = set(attrs) - KNOWN_ATTRS
        if unknown:
            raise UserError(f"node {label} has attributes fsm-lstm does not know: {', '.join(sorted(unknown))}")
        direction = attrs.get("direction", b"forward")
        direction = direction.decode() if isinstance(direction, bytes) else str(direction)
        if direction != "forward":
            raise UserError(f"node {label} runs {direction}; fsm-lstm reads left-to-right (forward) networks only")
        if "clip" in attrs:
            raise UserError(f"node {label} clips its cell input at {attrs['clip']}; fsm-lstm does not clip")
        acts = [a.decode() if isinstance(a, bytes) else str(a) for a in attrs.get("activations", [])]
        if acts and [a.lower() for a in acts] != DEFAULT_ACTIVATIONS[op]:
            raise UserError(f"node {label} has activations {', '.join(acts)}; fsm-lstm runs the defaults "
                            f"({', '.join(DEFAULT_ACTIVATIONS[op])})")
        if "activation_alpha" in attrs or "activation_beta" in attrs:
            raise UserError(f"node {label} has activation_alpha/beta; fsm-lstm runs the default activations")
        if attrs.get("input_forget", 0):
            raise UserError(f"node {label} couples its input and forget gates (input_forget=1)")
        if op == "GRU" and attrs.get("linear_before_reset", 0) != 1:
            raise UserError(f"node {label} has linear_before_reset=0: the reset gate multiplies h before the "
                            "recurrent matrix, which PyTorch's GRU layout cannot hold")
        if attrs.get("layout", 0) not in (0, 1):
            raise UserError(f"node {label} has layout {attrs.get('layout')}")
        inputs = list(node.input) + [""] * (8 - len(node.input))
        if inputs[4]:
            raise UserError(f"node {label} takes sequence_lens; fsm-lstm runs every string to its end")
        for slot, what in ((5, "initial_h"), (6, "initial_c")):
            if slot == 6 and op != "LSTM":
                continue
            if not self.is_zero(inputs[slot]):
                raise UserError(f"node {label} starts from an {what} that is not provably zero")
        G = GATES[op]
        R = self.weights(inputs[2], f"{label} R", (1, None, None))
        H = R.shape[2]
        if attrs.get("hidden_size", H) != H or R.shape[1] != G * H:
            raise UserError(f"node {label}: R has shape {R.shape}, expected (1, {G}*H, H) with "
                            f"hidden_size {attrs.get('hidden_size', H)}")
        W = self.weights(inputs[1], f"{label} W", (1, G * H, width))
        B = self.weights(inputs[3], f"{label} B", (1, 2 * G * H)) if inputs[3] else np.zeros((1, 2 * G * H), W.dtype)
        if op == "LSTM" and inputs[7]:
            P = self.weights(inputs[7], f"{label} P", (1, 3 * H))
            if np.any(P):
                raise UserError(f"node {label} has peepholes (input P); PyTorch's LSTM has none")
        rows = np.concatenate([np.arange(q * H, (q + 1) * H) for q in ORDER[op]])
        return Layer(np.ascontiguousarray(W[0][rows]), np.ascontiguousarray(R[0][rows]),
                     np.ascontiguousarray(B[0][:G * H][rows]), np.ascontiguousarray(B[0][G * H:][rows]))

    def matmul(self, node: Any, attrs: dict[str, Any], label: str, rank: int | None) -> Dense:
        """A MatMul (bias from the next Add) or a Gemm, in nn.Linear layout."""
        if node.op_type == "MatMul":
            B = self.weights(node.input[1], f"{label} weight", (None, None))
            return Dense(np.ascontiguousarray(B.T), np.zeros(B.shape[1], B.dtype), "linear", node.name or "MatMul")
        if rank != 2 or attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
            raise UserError(f"node {label} is a Gemm with transA, alpha or beta set, or on a {rank}-D input")
        B = self.weights(node.input[1], f"{label} weight", (None, None))
        weight = B if attrs.get("transB", 0) else B.T
        bias = np.zeros(weight.shape[0], weight.dtype)
        if len(node.input) > 2 and node.input[2]:
            C = float_array(f"{label} bias", self.const(node.input[2], f"{label} bias"))
            if C.size not in (1, weight.shape[0]) or any(d != 1 for d in C.shape[:-1]):
                raise UserError(f"node {label} adds a {C.shape} bias; expected one per output")
            bias = bias + C.reshape(-1).astype(bias.dtype)
        return Dense(np.ascontiguousarray(weight), bias, "linear", node.name or "Gemm")


def _on_last_axis(axis: int, rank: int | None) -> bool:
    """Whether ``axis`` (negative from the end) is the last axis of a tensor of ``rank`` (3 when not known)."""
    return axis in (-1, (rank or 3) - 1)


def _final_state_hint(graph: Any) -> str:
    """When the chain stops at a recurrent operator whose final states are read elsewhere, why: a head on an LSTM's
    final cell state (Y_c, torch's c_n), or on the final hidden state (Y_h, torch's h_n) beside a use of the
    output at every step (Y), where fsm-lstm follows one of them."""
    recurrent = [n for n in graph.node if n.op_type in ("LSTM", "GRU", "RNN")]
    read = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    if any(len(n.output) > 2 and n.output[2] in read for n in recurrent):
        return ("; the graph reads an LSTM's final cell state (Y_c, torch's c_n), which is no output of the "
                "network's steps: fsm-lstm reads heads on the hidden state h (h_n, or the output at every step)")
    if any(len(n.output) > 1 and n.output[1] in read for n in recurrent):
        return ("; the graph reads both a recurrent operator's output at every step (Y) and its final state "
                "(Y_h, torch's h_n): fsm-lstm follows one of them, the final state when nothing else reads the "
                "output")
    return ""


def _fixed_output_note(dims: Any, time_axis: int | None, cell: str) -> list[str]:
    """A note when the input's time axis is free (the caller's condition) but the per-step output declares a
    fixed length on its own time axis ``time_axis`` (the dynamo exporter does so from an example of batch 1):
    onnxruntime's optimised graph may then refuse other lengths."""
    if time_axis is None or time_axis >= len(dims):
        return []
    d = dims[time_axis]
    if not (d.HasField("dim_value") and d.dim_value > 1):
        return []
    return [f"the graph's output declares its time axis {time_axis} fixed at {d.dim_value} (the input's is free): "
            "onnxruntime may refuse other lengths; fsm-lstm runs its "
            f"{cell.upper()} operator on words of every length, as the operator defines it"]


def _fixed_length_note(dims: Any, time_axis: int | None, cell: str) -> list[str]:
    """A note when the graph's input fixes the string length (every axis fixed, or only the time axis, the
    input's axis the first recurrent operator recurs over): onnxruntime then refuses other lengths."""
    fixed = [d.HasField("dim_value") and d.dim_value > 0 for d in dims]
    if not dims or not (all(fixed) or (time_axis is not None and time_axis < len(dims) and fixed[time_axis])):
        return []
    shape = tuple(int(d.dim_value) if f else (d.dim_param or "?") for d, f in zip(dims, fixed))
    what = f"the fixed shape {shape}" if all(fixed) else \
        f"the shape {shape}, whose time axis {time_axis} is fixed at {shape[time_axis]}"
    return [f"the graph's input has {what}: it was exported for one length (onnxruntime refuses any other); "
            f"fsm-lstm runs its {cell.upper()} operator on words of every length, as the operator defines it"]
