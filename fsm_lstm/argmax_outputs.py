"""The argmax reading of a model's ``out:`` heads (model meta ``argmax_outputs``: true).

A network trained with softmax cross-entropy over a machine's outputs gives the output whose logit is the largest;
no single head's "logit > 0" reads that. fsm-lstm reads every head as "true when its value is > 0", so under this
reading each ``out:`` head's value is its **margin**, m_k = z_k - max over j != k of z_j, which is > 0 exactly when
head k alone has the largest logit (a tie gives no output). The other heads keep their logits. Such a network is
trained on the outputs after each symbol, and its heads name an output even before the first one: there its
out: heads are shown but not judged (:mod:`reference`), and an extracted machine is written as a Mealy machine.
Where a machine gives no output (a word that has left it), the out: heads are not judged either: an argmax has
no way to say "none". Interval bounds on the logits give sound bounds on the margins (:func:`margin_bounds`), so
the region proof applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .labels import parse_head

__all__ = ["ADDED_OUTPUTS", "argmax_columns", "margin_bounds", "margins", "out_columns", "read_prefixes",
           "value_name"]

ADDED_OUTPUTS = "added_outputs"  # model extra: out: heads added for outputs the network has no head for (reference)


def out_columns(heads: Sequence[str]) -> np.ndarray:
    """Indices of the ``out:`` heads among ``heads``."""
    return np.array([k for k, label in enumerate(heads) if parse_head(label)[0] == "out"], dtype=np.int64)


def argmax_columns(model: Any) -> np.ndarray | None:
    """The out: heads the argmax runs over: the model's own (not those added for a machine's outputs it has no
    head for, which are always false); None when the model is not read by argmax."""
    if not model.argmax_outputs:
        return None
    added = set(model.extra.get(ADDED_OUTPUTS, ()))
    return np.array([k for k in out_columns(model.heads) if model.heads[k] not in added], dtype=np.int64)


def margins(logits: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``logits`` (..., M) with the ``columns`` (at least 2) replaced by their margins; a new array."""
    out = np.array(logits, copy=True)
    z = out[..., columns]
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: NaN, which is not > 0 (no output)
        m = z - _max_of_others(z)
    out[..., columns] = m
    return out


def read_prefixes(model: Any, heads: np.ndarray) -> np.ndarray:
    """(T+1, ..., M) head logits after every prefix as an argmax model reads them: the out: heads' margins, 0 (no
    output) before the first symbol; the logits themselves for any other model."""
    columns = argmax_columns(model)
    if columns is None:
        return heads
    read = margins(heads, columns)
    read[0][..., columns] = 0.0
    return read


def value_name(argmax: bool, head: str) -> str:
    """What messages call a head's value: its logit, or under an argmax reading an out: head's margin."""
    return "margin" if argmax and head.startswith("out:") else "logit"


def margin_bounds(lo: np.ndarray, hi: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on the margins from (..., M) bounds on the logits: m_k lies in
    [lo_k - max_{j != k} hi_j, hi_k - max_{j != k} lo_j]."""
    lo_out, hi_out = np.array(lo, copy=True), np.array(hi, copy=True)
    a, b = lo[..., columns], hi[..., columns]
    with np.errstate(invalid="ignore", over="ignore"):
        lo_out[..., columns] = a - _max_of_others(b)
        hi_out[..., columns] = b - _max_of_others(a)
    return lo_out, hi_out


def _max_of_others(z: np.ndarray) -> np.ndarray:
    """For each k along the last axis, the largest of the other entries."""
    first = np.argmax(z, axis=-1)[..., None]
    others = z.copy()
    np.put_along_axis(others, first, -np.inf, axis=-1)
    out = np.broadcast_to(np.take_along_axis(z, first, axis=-1), z.shape).copy()
    np.put_along_axis(out, first, others.max(axis=-1, keepdims=True), axis=-1)
    return out
