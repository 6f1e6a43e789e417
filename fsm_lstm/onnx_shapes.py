"""Shapes an ONNX graph computes at run time, followed symbolically: enough to prove that a ``Reshape`` only drops
the direction axis of a recurrent operator's output.

torch.onnx.export(..., dynamo=True) writes Y [T, 1, B, H] -> Transpose [T, B, 1, H] -> Reshape to
Concat(Shape(x)[0:1], Shape(x)[1:2], Shape(x)[2:3] * Shape(x)[3:4]) = [T, B, 1 * H]. With one direction the
size-1 axis merged into a neighbour leaves the data as a Squeeze would. A dimension here is a tuple of the
reshaped tensor's axes whose sizes multiply into it (``(2, 3)`` is x.shape[2] * x.shape[3]); anything else (a
constant, another tensor's shape, an op not listed) makes the proof fail, and the graph is refused.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

__all__ = ["LONGEST_SHAPE", "merges_axis"]

_DEPTH = 32
LONGEST_SHAPE = 8  # dimensions (and axes multiplied) a shape tensor may hold here


class _Graph(Protocol):
    producer: dict[str, Any]
    tensors: dict[str, Any]

    def attrs(self, node: Any) -> dict[str, Any]: ...

    def const(self, name: str, what: str) -> np.ndarray: ...


def merges_axis(graph: _Graph, reshape: Any, data: str, axis: int) -> bool:
    """Whether ``reshape`` (reading ``data`` as input 0) maps data's shape to that shape without ``axis``, that
    axis (of size 1: one direction) multiplied into a neighbour."""
    if len(reshape.input) < 2 or graph.attrs(reshape).get("allowzero", 0):
        return False
    target = _dims(graph, reshape.input[1], data, 0, {})
    if target is None:
        return False
    dropped = [tuple(a for a in dim if a != axis) for dim in target]
    flat = [a for dim in target for a in dim]
    return sorted(flat) == list(range(len(flat))) and axis in flat and \
        [a for dim in dropped for a in dim] == [a for a in range(len(flat)) if a != axis] and all(dropped)


def _ints(graph: _Graph, name: str) -> list[int] | None:
    if name not in graph.tensors:
        return None
    value = graph.const(name, f"shape constant {name!r}")
    if value.dtype.kind not in "iu" or value.ndim > 1 or value.size > LONGEST_SHAPE:
        return None
    return [int(v) for v in value.reshape(-1)]


def _dims(graph: _Graph, name: str, data: str, depth: int, memo: dict[str, Any]) -> list[tuple[int, ...]] | None:
    """The 1-D shape tensor ``name`` as products of data's axes, or None when that cannot be shown (memoised, and
    at most LONGEST_SHAPE dimensions: a hostile graph of nested Concats stays cheap)."""
    if name not in memo:
        found = _dims_of(graph, name, data, depth, memo)
        small = found is None or (len(found) <= LONGEST_SHAPE and sum(map(len, found)) <= LONGEST_SHAPE)
        memo[name] = found if small else None
    return memo[name]


def _dims_of(graph: _Graph, name: str, data: str, depth: int, memo: dict[str, Any]
             ) -> list[tuple[int, ...]] | None:
    node = graph.producer.get(name)
    if node is None or depth > _DEPTH or node.domain not in ("", "ai.onnx"):
        return None
    op, attrs, inputs = node.op_type, graph.attrs(node), list(node.input)
    if op == "Shape":
        if inputs[0] != data:
            return None
        rank = 4
        start, end = attrs.get("start", 0), attrs.get("end", rank)
        return [(a,) for a in range(rank)[start:end]]
    if op in ("Reshape", "Squeeze", "Unsqueeze", "Identity"):  # of a 1-D shape tensor: as long as it stays 1-D
        inner = _dims(graph, inputs[0], data, depth + 1, memo)
        if op == "Reshape" and (len(inputs) < 2 or _ints(graph, inputs[1]) != [-1]):
            return None
        return inner
    if op == "Concat":
        if attrs.get("axis") not in (0, -1):
            return None
        parts = [_dims(graph, i, data, depth + 1, memo) for i in inputs]
        return None if any(p is None for p in parts) else [d for p in parts for d in p]  # type: ignore[union-attr]
    if op == "Mul":
        left, right = (_dims(graph, i, data, depth + 1, memo) for i in inputs[:2])
        if left is None or right is None or len(left) != 1 or len(right) != 1:
            return None
        return [left[0] + right[0]]
    if op == "Slice":
        inner = _dims(graph, inputs[0], data, depth + 1, memo)
        starts, ends = (_ints(graph, i) if i else None for i in (inputs + ["", ""])[1:3])
        axes = _ints(graph, inputs[3]) if len(inputs) > 3 and inputs[3] else [0]
        steps = _ints(graph, inputs[4]) if len(inputs) > 4 and inputs[4] else [1]
        if inner is None or starts is None or ends is None or len(starts) != 1 or len(ends) != 1 or \
                axes not in ([0], [-1]) or steps != [1]:
            return None
        return inner[slice(starts[0], ends[0])]
    return None
