"""Grammar -> Model: the reference construction (docs/construction.md), one LSTM unit per edge plus ``started``.

Unit e = (p, a, q) fires when edge e was crossed by the last symbol. Forget gates are shut (bias -F),
candidates pinned to 1 (+F), output gates open (+F), so c_e ~ i_e and v_e = h_e / tanh(1) is ~0 or ~1.
The presence of state p is P_p = sum of v over edges into p + init_p * (1 - v_started), and the input
gate of e is sigmoid(G * (P_p + W * x_a - W - 1/2)). Heads are kappa * (sum of P over some states - 1/2).
The compiled grammar (minimal DFA, or the trimmed NFA) is stored in the model so it can be certified.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .automata import determinise, minimise, trim
from .errors import UserError
from .gc_pause import gc_paused
from .grammar import Grammar, rename_edges
from .labels import ACCEPT, STARTED, edge_label, next_label, state_label
from .free_memory import available_memory
from .model import Layer, Model, max_array_elements, readable_bytes, remember_grammar
from .outputs import minimal_machine, output_heads
from .semantics import Semantics
from .sparse_weights import SPARSE_ABOVE, csr_spans, sparse_or_dense
from .toml_format import to_toml

__all__ = ["Gains", "TANH1", "check_size", "compile_grammar", "head_rows", "minimal_dfa", "prepare"]

TANH1 = math.tanh(1.0)


@dataclass(frozen=True)
class Gains:
    """The construction's constants; ``gate`` and ``wrong_symbol`` default to values derived from the grammar."""

    saturation: float = 20.0   # F: forget shut, candidate and output open
    gate: float | None = None  # G: input-gate gain
    wrong_symbol: float | None = None  # W: penalty when the edge's symbol is not the input
    head: float = 4.0          # kappa: head gain


def minimal_dfa(grammar: Grammar, keep_unreachable: bool = False) -> Grammar:
    """:func:`automata.minimise`, with merged states named by their members joined with ``|`` (``+`` for the
    subsets of an NFA) even when state names themselves hold ``|`` or ``+``: a name that would then clash with
    another gets `` #2``, `` #3``, ... appended."""
    index = {s: str(k) for k, s in enumerate(grammar.states)}
    plain = grammar.derived(start=index[grammar.start], states=tuple(index.values()),
                            accept=frozenset(index[s] for s in grammar.accept),
                            transitions=rename_edges(grammar.transitions, index))
    m = minimise(determinise(plain), keep_unreachable=keep_unreachable)
    names = grammar.states
    new: dict[str, str] = {}
    taken: set[str] = set()
    for s in m.states:
        name = names[int(s)] if s.isascii() and s.isdigit() else re.sub(r"\d+", lambda k: names[int(k.group())], s)
        unique, k = name, 1
        while unique in taken:
            k += 1
            unique = f"{name} #{k}"
        taken.add(unique)
        new[s] = unique
    return m.derived(start=new[m.start], states=tuple(new[s] for s in m.states),
                     accept=frozenset(new[s] for s in m.accept), transitions=rename_edges(m.transitions, new),
                     edge_index=m.__dict__.get("edge_index"))  # the same positions: no need to look them up again


def prepare(grammar: Grammar, unknown_start: bool = False) -> Grammar:
    """The grammar actually compiled: its minimal machine when it has outputs, its minimal DFA when deterministic,
    else the trimmed NFA."""
    if grammar.machine:
        return minimal_machine(grammar, keep_unreachable=unknown_start)
    if grammar.is_deterministic:
        return minimal_dfa(grammar, keep_unreachable=unknown_start)
    return trim(grammar, keep_unreachable=unknown_start)


def check_size(edges: int, symbols: int, heads: int) -> None:
    """Refuse, with the figure, a network whose weights would not fit: weight_hh is 4H x H float32 with
    H = edges + 1, stored sparse (with about edges x (symbols + 2) non-zeros) once it has over SPARSE_ABOVE
    numbers. The limits: FSM_LSTM_MAX_ARRAY numbers per array (so the file loads back; default 2**28, 1 GiB
    of float32) and the memory available now."""
    H = edges + 1
    numbers = 4 * H * H
    sparse = numbers > SPARSE_ABOVE
    need = (4 * (numbers + 4 * H * symbols) + 12 * heads * H + 8 * 4 * H * 3 if not sparse
            else 40 * edges * (2 * symbols + 6) + 24 * 4 * H * symbols + 8 * 4 * H * 3)
    limit = max_array_elements()
    if sparse and 4 * H * symbols > limit:
        raise UserError(f"the compiled network would have {H:,} units: weight_ih is 4H x K = {4 * H * symbols:,} "
                        f"numbers, over the limit of {limit:,} per array (FSM_LSTM_MAX_ARRAY)")
    if not sparse and numbers > limit:
        raise UserError(f"the compiled network would have {H:,} units: weight_hh alone is 4H x H = {numbers:,} "
                        f"float32 numbers ({readable_bytes(numbers * 4)}), over the limit of {limit:,} per array "
                        f"(FSM_LSTM_MAX_ARRAY); the largest grammar that compiles has about "
                        f"{math.isqrt(limit // 4) - 1:,} edges after minimisation")
    free = available_memory()
    if free is not None and need > free:
        raise UserError(f"the compiled network would have {H:,} units and need about {readable_bytes(need)} of "
                        f"memory, more than the {readable_bytes(free)} available")


@gc_paused()
def compile_grammar(grammar: Grammar, unknown_start: bool = False, gains: Gains = Gains(),
                    minimal: bool = True) -> Model:
    """Compile a grammar into an LSTM whose heads state:*, accept and next:* (out:* for a machine with outputs)
    follow its semantics."""
    g = prepare(grammar, unknown_start) if minimal else grammar
    check_size(len(g.transitions), len(g.alphabet), len(g.states) + len(g.alphabet) + len(g.output_values) + 1)
    edges = list(g.transitions)
    n_edges = len(edges)
    units = n_edges + 1
    started = n_edges
    sem = Semantics(g, unknown_start)
    init = sem.initial.astype(np.float64)
    source, symbol, target = g.edge_index
    # the edges into each state, in edge order: into[into_ptr[s]:into_ptr[s + 1]]
    into = np.argsort(target, kind="stable")
    into_ptr = np.searchsorted(target[into], np.arange(len(g.states) + 1))
    max_presence = np.max(np.diff(into_ptr) + init)
    F = gains.saturation
    # the log term in |E| keeps the leak of every off unit reading its symbol (about e^(-G/2) each) small in a
    # head that sums over all of them; it is 0 up to 1,000 edges
    G = gains.gate if gains.gate is not None else (20.0 + 2.0 * math.log(max_presence + 1)
                                                   + 2.0 * math.log(max(1.0, n_edges / 1000)))
    W = gains.wrong_symbol if gains.wrong_symbol is not None else max_presence + 1.0

    H, K = units, len(g.alphabet)
    f32 = np.float32
    w_ih = np.zeros((4 * H, K), f32)
    b_ih = np.zeros(4 * H)
    b_ih[H:2 * H] = -F  # forget gates shut
    b_ih[2 * H:3 * H] = F  # candidates ~ 1
    b_ih[3 * H:] = F  # output gates open
    b_ih[started] = F  # `started` opens on the first symbol and stays on
    w_ih[np.arange(n_edges), symbol] = G * W
    b_ih[:n_edges] = G * (init[source] - W - 0.5)
    # weight_hh: edge j's input gate reads the units of the edges into its source state, and `started`
    reader, into_at = csr_spans(into_ptr, source)
    rows = np.concatenate([reader, np.arange(n_edges)])
    cols = np.concatenate([into[into_at], np.full(n_edges, started)])
    values = np.concatenate([np.full(reader.size, G / TANH1), -G * init[source] / TANH1])
    keep = values != 0
    w_hh = sparse_or_dense(rows[keep], cols[keep], values[keep], (4 * H, H))  # float32, sparse when large

    labels, coef = head_rows(g, sem)
    edge_coef, at_start = sp.csr_array(coef[:, target]), coef @ init
    if g.machine:
        out_labels, out_edge, out_init = output_heads(g, init)
        labels = labels + out_labels
        edge_coef = sp.vstack([edge_coef, sp.csr_array(out_edge)], format="csr")
        at_start = np.concatenate([at_start, out_init])
    kappa = gains.head
    edge_part = sp.coo_array(edge_coef)
    rows = np.concatenate([edge_part.row, np.arange(len(labels))])
    cols = np.concatenate([edge_part.col, np.full(len(labels), started)])
    values = np.concatenate([kappa * edge_part.data / TANH1, -kappa * at_start / TANH1])
    keep = values != 0
    head_w = sparse_or_dense(rows[keep], cols[keep], values[keep], (len(labels), H))
    head_b = kappa * (at_start - 0.5)

    layer = Layer(w_ih, w_hh, b_ih.astype(f32), np.zeros(4 * H, f32))
    text = to_toml(g)
    remember_grammar(text, g)
    return Model(layers=(layer,), head_weight=head_w, head_bias=head_b.astype(f32),
                 alphabet=g.alphabet, heads=tuple(labels),
                 units=tuple([edge_label(*e) for e in edges] + [STARTED]), cell="lstm",
                 extra={"grammar": text, "unknown_start": unknown_start,
                        "construction": {"F": F, "G": G, "W": W, "kappa": kappa}})


def head_rows(g: Grammar, sem: Semantics) -> tuple[list[str], sp.csr_array]:
    """Head labels and, per head, the 0/1 coefficient of each state in the presence sum it thresholds (sparse; a
    machine with outputs has no accept and next heads: its ``out:`` heads come from :func:`outputs.output_heads`)."""
    n = len(g.states)
    if g.machine:
        return [state_label(s) for s in g.states], sp.eye_array(n, format="csr")
    labels = [state_label(s) for s in g.states] + [ACCEPT] + [next_label(a) for a in g.alphabet]
    coef = sp.vstack([sp.eye_array(n, format="csr"), sp.csr_array(sem.accepting[None, :].astype(float)),
                      sp.csr_array(sem.legal.T.astype(float))], format="csr")
    return labels, coef
