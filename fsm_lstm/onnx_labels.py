"""The labels an ONNX file cannot hold in its graph: the alphabet in one-hot order, the heads in order, the
reading (word classifier, markers, argmax, non-empty words), a compiled model's unknown start and its unit
labels. `fsm-lstm export --to onnx` stores them as one JSON
metadata entry (``fsm_lstm.labels``), and `fsm-lstm import` given no --alphabet and --heads reads them back; a
file from anywhere else is refused there (never guessed), and an entry that is not what the export writes too."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import UserError
from .model import MAX_META, Model
from .reading import reading_of

__all__ = ["ExportedLabels", "LABELS_KEY", "exported_labels", "labels_json"]

LABELS_KEY = "fsm_lstm.labels"  # the ONNX metadata entry that holds them


@dataclass(frozen=True)
class ExportedLabels:
    """What `import` needs besides the graph, as the export stored it."""

    alphabet: tuple[str, ...]
    heads: tuple[str, ...]
    final_only: bool = False
    start_marker: str | None = None
    end_marker: str | None = None
    argmax: bool = False
    nonempty: bool = False
    unknown_start: bool = False  # a compiled model's semantics: any state may be the start (docs/semantics.md)
    units: tuple[str, ...] = ()  # the unit labels (the last layer's)


def labels_json(model: Model) -> str:
    """The metadata entry of an exported model."""
    reading = reading_of(model)
    return json.dumps({"alphabet": list(model.alphabet), "heads": list(model.heads),
                       "final_only": reading.final_only, "start_marker": reading.start,
                       "end_marker": reading.end, "argmax": model.argmax_outputs,
                       "nonempty": reading.nonempty, "unknown_start": bool(model.extra.get("unknown_start")),
                       "units": list(model.units)}, ensure_ascii=False)


def exported_labels(text: str) -> ExportedLabels:
    """The labels of a metadata entry, checked: one line on anything the export would not have written."""
    def bad(why: str) -> UserError:
        return UserError(f"its {why}; it is not what `fsm-lstm export` writes: give --alphabet and --heads")

    if len(text) > MAX_META:
        raise bad(f"fsm_lstm.labels metadata has {len(text):,} characters, over the limit of {MAX_META:,}")
    try:
        data: Any = json.loads(text)
    except (ValueError, RecursionError):
        raise bad("fsm_lstm.labels metadata is not JSON") from None
    keys = {"alphabet", "heads", "final_only", "start_marker", "end_marker", "argmax", "nonempty", "unknown_start",
            "units"}
    if not isinstance(data, dict) or set(data) != keys:
        raise bad(f"fsm_lstm.labels metadata is not an object of exactly {', '.join(sorted(keys))}")
    for key in ("alphabet", "heads", "units"):
        if not (isinstance(data[key], list) and data[key] and all(isinstance(v, str) for v in data[key])):
            raise bad(f"fsm_lstm.labels {key} is not a list of strings")
    for key in ("final_only", "argmax", "nonempty", "unknown_start"):
        if not isinstance(data[key], bool):
            raise bad(f"fsm_lstm.labels {key} is not true or false")
    for key in ("start_marker", "end_marker"):
        if not (data[key] is None or isinstance(data[key], str)):
            raise bad(f"fsm_lstm.labels {key} is not a string or null")
    return ExportedLabels(tuple(data["alphabet"]), tuple(data["heads"]), data["final_only"], data["start_marker"],
                          data["end_marker"], data["argmax"], data["nonempty"], data["unknown_start"],
                          tuple(data["units"]))
