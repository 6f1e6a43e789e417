"""Reading a model's heads as answers: the states, accept, next and output of every prefix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .labels import parse_head
from .model import Model

__all__ = ["Answer", "decode"]


@dataclass(frozen=True)
class Answer:
    """The decoded heads after one prefix; None where the model has no such head."""

    states: tuple[str, ...] | None
    accept: bool | None
    next: tuple[str, ...] | None
    output: tuple[str, ...] | None = None  # the values of the true out: heads (a Moore or Mealy machine)


def decode(model: Model, truth: np.ndarray) -> Answer:
    """Decode one (M,) row of head truth values (logit > 0)."""
    states, nxt, outputs, accept = [], [], [], None
    has_state = has_next = has_output = False
    for label, on in zip(model.heads, truth):
        kind, arg = parse_head(label)
        if kind == "accept":
            accept = bool(on)
        elif kind == "state":
            has_state = True
            if on:
                states.append(arg)
        elif kind == "next":
            has_next = True
            if on:
                nxt.append(arg)
        elif kind == "out":
            has_output = True
            if on:
                outputs.append(arg)
    return Answer(tuple(states) if has_state else None, accept, tuple(nxt) if has_next else None,
                  tuple(outputs) if has_output else None)
