"""The label vocabulary of heads and units.

Heads: ``accept``, ``state:NAME``, ``next:SYMBOL`` and ``out:VALUE`` (an output of a Moore or Mealy machine);
a head is true when its logit is > 0.
Units of a compiled network: ``edge p -a-> q`` (on after the last symbol crossed that edge) and ``started``
(on from the first symbol on). Other networks label their units ``unit 0``, ``unit 1``, ...
"""

from __future__ import annotations

__all__ = ["ACCEPT", "HEAD_KINDS", "STARTED", "edge_label", "next_label", "output_label", "parse_head", "state_label"]

ACCEPT = "accept"
STARTED = "started"
HEAD_KINDS = ("accept", "state", "next", "out")


def edge_label(p: str, a: str, q: str) -> str:
    """The unit label of edge p -a-> q."""
    return f"edge {p} -{a}-> {q}"


def state_label(state: str) -> str:
    """The head label of a state: ``state:NAME``."""
    return f"state:{state}"


def next_label(symbol: str) -> str:
    """The head label of a legal continuation: ``next:SYMBOL``."""
    return f"next:{symbol}"


def output_label(value: str) -> str:
    """The head label of an output value: ``out:VALUE``."""
    return f"out:{value}"


def parse_head(label: str) -> tuple[str, str]:
    """(kind, argument) of a head label: ("accept", ""), ("state", NAME), ("next", SYMBOL) or ("out", VALUE);
    ("", label) for anything else (an empty name, symbol or value included)."""
    if label == ACCEPT:
        return ACCEPT, ""
    kind, sep, arg = label.partition(":")
    if sep and arg and kind in ("state", "next", "out"):
        return kind, arg
    return "", label
