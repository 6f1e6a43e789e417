"""Grammar -> Model: the reference construction of DESIGN.md, one LSTM unit per edge plus ``started``.

Unit e = (p, a, q) fires when edge e was crossed by the last symbol. Forget gates are shut (bias -F),
candidates pinned to 1 (+F), output gates open (+F), so c_e ~ i_e and v_e = h_e / tanh(1) is ~0 or ~1.
The presence of state p is P_p = sum of v over edges into p + init_p * (1 - v_started), and the input
gate of e is sigmoid(G * (P_p + W * x_a - W - 1/2)). Heads are kappa * (sum of P over some states - 1/2).
The compiled grammar (minimal DFA, or the trimmed NFA) is stored in the model so it can be certified.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .automata import minimise, trim
from .grammar import Grammar
from .model import Layer, Model
from .semantics import Semantics
from .toml_format import to_toml

TANH1 = math.tanh(1.0)


@dataclass(frozen=True)
class Gains:
    """The construction's constants; ``gate`` and ``wrong_symbol`` default to values derived from the grammar."""

    saturation: float = 20.0   # F: forget shut, candidate and output open
    gate: float | None = None  # G: input-gate gain
    wrong_symbol: float | None = None  # W: penalty when the edge's symbol is not the input
    head: float = 4.0          # kappa: head gain


def edge_label(p: str, a: str, q: str) -> str:
    """The unit label of edge p -a-> q."""
    return f"edge {p} -{a}-> {q}"


def prepare(grammar: Grammar, unknown_start: bool = False) -> Grammar:
    """The grammar actually compiled: its minimal DFA when deterministic, else the trimmed NFA."""
    if grammar.is_deterministic:
        return minimise(grammar, keep_unreachable=unknown_start)
    return trim(grammar, keep_unreachable=unknown_start)


def compile_grammar(grammar: Grammar, unknown_start: bool = False, gains: Gains = Gains(),
                    minimal: bool = True) -> Model:
    """Compile a grammar into an LSTM whose heads state:*, accept and next:* follow its semantics."""
    g = prepare(grammar, unknown_start) if minimal else grammar
    edges = list(g.transitions)
    n_edges = len(edges)
    units = n_edges + 1
    started = n_edges
    sem = Semantics(g, unknown_start)
    init = sem.initial.astype(np.float64)
    si, ai = g.state_index, g.symbol_index

    into: list[list[int]] = [[] for _ in g.states]
    for j, (_, _, q) in enumerate(edges):
        into[si[q]].append(j)
    max_presence = max(len(into[s]) + init[s] for s in range(len(g.states)))
    F = gains.saturation
    G = gains.gate if gains.gate is not None else 20.0 + 2.0 * math.log(max_presence + 1)
    W = gains.wrong_symbol if gains.wrong_symbol is not None else max_presence + 1.0

    H, K = units, len(g.alphabet)
    f32 = np.float32
    w_ih = np.zeros((4 * H, K), f32)
    w_hh = np.zeros((4 * H, H), f32)  # written in float32 directly: the file's dtype, no dense float64 copy
    b_ih = np.zeros(4 * H)
    b_ih[H:2 * H] = -F  # forget gates shut
    b_ih[2 * H:3 * H] = F  # candidates ~ 1
    b_ih[3 * H:] = F  # output gates open
    b_ih[started] = F  # `started` opens on the first symbol and stays on
    for j, (p, a, _) in enumerate(edges):
        ps = si[p]
        w_ih[j, ai[a]] = G * W
        w_hh[j, into[ps]] = G / TANH1
        w_hh[j, started] = -G * init[ps] / TANH1
        b_ih[j] = G * (init[ps] - W - 0.5)

    labels, coef = head_rows(g, sem)
    kappa = gains.head
    head_w = np.zeros((len(labels), H))
    target = np.array([si[q] for _, _, q in edges], dtype=np.int64)
    head_w[:, :n_edges] = kappa * coef[:, target] / TANH1
    head_w[:, started] = -kappa * (coef @ init) / TANH1
    head_b = kappa * (coef @ init - 0.5)

    layer = Layer(w_ih, w_hh, b_ih.astype(f32), np.zeros(4 * H, f32))
    return Model(layers=(layer,), head_weight=head_w.astype(f32), head_bias=head_b.astype(f32),
                 alphabet=g.alphabet, heads=tuple(labels),
                 units=tuple([edge_label(*e) for e in edges] + ["started"]), cell="lstm",
                 extra={"grammar": to_toml(g), "unknown_start": unknown_start,
                        "construction": {"F": F, "G": G, "W": W, "kappa": kappa}})


def head_rows(g: Grammar, sem: Semantics) -> tuple[list[str], np.ndarray]:
    """Head labels and, per head, the 0/1 coefficient of each state in the presence sum it thresholds."""
    n = len(g.states)
    labels = [f"state:{s}" for s in g.states] + ["accept"] + [f"next:{a}" for a in g.alphabet]
    coef = np.concatenate([np.eye(n), sem.accepting[None, :].astype(float), sem.legal.T.astype(float)])
    return labels, coef
