"""JSON as strict parsers read it: a float that is not finite (a margin of -inf, a box bound never computed) is
written as null, where Python's json module would write NaN or Infinity, which JSON does not have."""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["json_text"]


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None, in nested dicts, lists and tuples."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def json_text(value: Any, indent: int | None = None) -> str:
    """``json.dumps`` with non-finite floats as null (strict JSON)."""
    return json.dumps(_finite(value), indent=indent, allow_nan=False)
