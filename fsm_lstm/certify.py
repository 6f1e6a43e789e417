"""The all-lengths certificate, computed from the actual weights by interval arithmetic.

Hypothesis to prove: after every non-empty prefix w, each unit labelled ``edge p -a-> q`` lies in the ON box
when that edge was crossed by the last symbol of w (from some state of states(w minus its last symbol)), and
in the OFF box otherwise; ``started`` units lie in the ON box. A box bounds both c and h.

Proof by induction over the *configurations* (the sets of edges crossed by the last symbol), which the
grammar alone defines: (1) from the zero state every first symbol lands in the boxes; (2) for every
reachable configuration and every symbol, one LSTM step maps the boxes into the boxes of the successor
configuration; (3) on every configuration's boxes each head's logit has the sign the semantics demands (an
``out:`` head's from the outputs of the configuration's edges, or of their targets in a Moore machine).
Every bound comes from the stored weights; rounding of a float32 (or float64) forward pass is covered by
widening each dot product by the standard bound gamma_n * sum|w||x| (n = non-zero terms) and each
elementwise result by a few units of round-off. The weights' meaning (labels) is only the hypothesis:
a wrong label, a weak gain or a zeroed weight makes the check fail, naming the unit, prefix and symbol.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .compiler import prepare
from .entry_classes import entry_classes, in_sorted, sorted_distinct
from .errors import UserError
from .gc_pause import gc_paused
from .grammar import Grammar
from .intervals import ROUNDOFF, interval_product, sigmoid
from .labels import STARTED, edge_label, parse_head
from .model import Model, stored_grammar
from .outputs import crossed_outputs, same_behaviour
from .reading import Reading
from .reference import missing_outputs
from .row_groups import row_ids
from .semantics import Semantics
from .sparse_weights import dense, nonzeros
from .words import counted, format_word

__all__ = ["Certificate", "ENTRY_CHUNK", "Failure", "UNDERFLOW", "certificate_grammar", "certify",
           "region_proof_instead", "same_graph", "same_machine", "states_proven_for"]

UNDERFLOW = 1e-37  # absolute error a float32 result may have beyond its relative one (gradual underflow: < 2^-126)
ENTRY_CHUNK = 1 << 20  # (configuration, symbol, unit) entries stepped at once


@dataclass
class Failure:
    """Where the proof breaks."""

    message: str
    unit: str | None = None
    prefix: str | None = None
    symbol: str | None = None
    head: str | None = None


@dataclass
class Certificate:
    """The outcome: proven or the failure, with the head margin and the invariant boxes."""

    proven: bool
    margin: float
    configurations: int
    iterations: int
    precision: str
    on_box: tuple[float, float, float, float] = (math.nan,) * 4  # c_lo, c_hi, h_lo, h_hi
    off_box: tuple[float, float, float, float] = (math.nan,) * 4
    failure: Failure | None = None
    stats: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON form: the outcome, the margin (None when not proven), the boxes and the failure."""
        out: dict[str, object] = {
            "proven": self.proven, "margin": self.margin if self.proven else None,
            "configurations": self.configurations, "iterations": self.iterations, "precision": self.precision,
            "on_box": dict(zip(("c_lo", "c_hi", "h_lo", "h_hi"), self.on_box)),
            "off_box": dict(zip(("c_lo", "c_hi", "h_lo", "h_hi"), self.off_box))}
        if self.failure:
            out["failure"] = {k: v for k, v in vars(self.failure).items() if v is not None}
        return out

    def summary(self) -> str:
        """One line for people."""
        if not self.proven:
            return f"NOT PROVEN: {self.failure.message if self.failure else 'unknown reason'}"
        return (f"proven for every length ({self.precision} arithmetic): "
                f"{counted(self.configurations, 'configuration')}, head margin {self.margin:.3g}, "
                f"on-units h in [{self.on_box[2]:.4f}, {self.on_box[3]:.4f}], "
                f"off-units h in [{self.off_box[2]:.2e}, {self.off_box[3]:.2e}]")


# ----- interval helpers ---------------------------------------------------------------------
def _widen(lo: np.ndarray, hi: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """[lo, hi] widened by the rounding of one computed result: eps relative to its magnitude, plus UNDERFLOW."""
    return lo - eps * np.abs(lo) - UNDERFLOW, hi + eps * np.abs(hi) + UNDERFLOW


def _unit_step(zlo: np.ndarray, zhi: np.ndarray, clo: np.ndarray, chi: np.ndarray, eps: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One LSTM step for intervals. z*: (..., 4) gate pre-activations (i, f, g, o); c*: (...) previous cell.
    Every computed value is widened by its rounding, relative to its magnitude (see _widen)."""
    gates = lambda z: np.stack([sigmoid(z[..., 0]), sigmoid(z[..., 1]), np.tanh(z[..., 2]),  # noqa: E731
                                sigmoid(z[..., 3])], axis=-1)
    lo, hi = _widen(gates(zlo), gates(zhi), eps)
    fc_lo, fc_hi = interval_product(lo[..., 1], hi[..., 1], clo, chi)
    ig_lo, ig_hi = interval_product(lo[..., 0], hi[..., 0], lo[..., 2], hi[..., 2])
    c_lo, c_hi = fc_lo + ig_lo, fc_hi + ig_hi
    # two products and a sum, each rounded relative to its own magnitude
    slack = eps * (np.maximum(np.abs(fc_lo), np.abs(fc_hi)) + np.maximum(np.abs(ig_lo), np.abs(ig_hi))
                   + np.maximum(np.abs(c_lo), np.abs(c_hi))) + 3 * UNDERFLOW
    c_lo, c_hi = c_lo - slack, c_hi + slack
    t_lo, t_hi = _widen(np.tanh(c_lo), np.tanh(c_hi), eps)
    h_lo, h_hi = interval_product(lo[..., 3], hi[..., 3], t_lo, t_hi)
    h_lo, h_hi = _widen(h_lo, h_hi, eps)
    return c_lo, c_hi, h_lo, h_hi


# ----- the reachable configurations ---------------------------------------------------------
@dataclass
class _Configs:
    edges: list[tuple[int, ...]]  # grammar edge indices crossed by the last symbol
    words: Sequence[tuple[str, ...]]  # a shortest prefix reaching each configuration
    succ: np.ndarray  # (n_cfg, K) successor configuration index
    first: np.ndarray  # (K,) configuration after the first symbol
    states: sp.csr_array  # (n_cfg, n) state sets, 1 where a state is in the set


class _ShortestWords(Sequence[tuple[str, ...]]):
    """Each configuration's shortest word, spelled out only when asked for (a failure message needs one), from
    links (n, 2): the configuration it extends (-1: none) and the symbol read."""

    def __init__(self, links: np.ndarray, alphabet: tuple[str, ...]) -> None:
        self.links, self.alphabet = links, alphabet

    def __len__(self) -> int:
        return len(self.links)

    def __getitem__(self, k):  # type: ignore[no-untyped-def]
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(len(self)))]
        k = range(len(self))[k]
        word = []
        while k >= 0:
            k, a = (int(x) for x in self.links[k])
            word.append(self.alphabet[a])
        return tuple(reversed(word))


def _configurations(g: Grammar, sem: Semantics, limit: int) -> _Configs:
    """Breadth-first enumeration of the edge sets crossed by the last symbol."""
    if g.is_deterministic and int(sem.initial.sum()) == 1:
        return _dfa_configurations(g, sem, limit)
    return _set_configurations(g, sem, limit)


def _dfa_configurations(g: Grammar, sem: Semantics, limit: int) -> _Configs:
    """:func:`_set_configurations` for a DFA with one initial state, whose configurations are single edges or
    none, one breadth-first level at a time (the same numbering, shortest words and successors)."""
    K, n = len(g.alphabet), len(g.states)
    E = len(g.transitions)
    src, sym, dst = g.edge_index
    dst = np.append(dst, n)  # key E: no edge, state n: none
    out = np.full((n + 1, K), E, dtype=np.int64)
    out[src, sym] = np.arange(E)
    index = np.full(E + 1, -1, dtype=np.int64)
    keys: list[np.ndarray] = []
    parents: list[np.ndarray] = []
    count = 0

    def intern(cands: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """Number the candidates not met before, in order of first occurrence; return the new ids."""
        nonlocal count
        _, first_pos = np.unique(cands, return_index=True)
        first_pos = np.sort(first_pos[index[cands[first_pos]] < 0])
        if count + first_pos.size > limit:
            raise _TooMany()
        ids = np.arange(count, count + first_pos.size)
        index[cands[first_pos]] = ids
        keys.append(cands[first_pos])
        parents.append(np.stack([owner[first_pos], first_pos % K], axis=1))
        count += first_pos.size
        return ids

    start = int(np.flatnonzero(sem.initial)[0])
    frontier = intern(out[start], np.full(K, -1))
    first = index[out[start]]
    succ = []
    while frontier.size:
        cands = out[dst[np.concatenate(keys)[frontier]]].reshape(-1)
        frontier_new = intern(cands, np.repeat(frontier, K))
        succ.append(index[cands].reshape(-1, K))
        frontier = frontier_new
    all_keys = np.concatenate(keys)
    words = _ShortestWords(np.concatenate(parents), g.alphabet)
    edges = [() if k == E else (int(k),) for k in all_keys.tolist()]
    real = all_keys < E
    state_sets = sp.csr_array((np.ones(int(real.sum()), np.int8), dst[all_keys[real]],
                               np.concatenate([[0], np.cumsum(real)])), shape=(count, n))
    return _Configs(edges, words, np.concatenate(succ) if succ else np.zeros((0, K), np.int64), first, state_sets)


def _set_configurations(g: Grammar, sem: Semantics, limit: int) -> _Configs:
    """Breadth-first enumeration of the edge sets crossed by the last symbol, for any grammar."""
    si, ai = g.state_index, g.symbol_index
    dst = [si[q] for _, _, q in g.transitions]
    by_state_symbol: dict[tuple[int, int], list[int]] = {}
    for j, (p, a, _) in enumerate(g.transitions):
        by_state_symbol.setdefault((si[p], ai[a]), []).append(j)
    index: dict[tuple[int, ...], int] = {}
    edges: list[tuple[int, ...]] = []
    words: list[tuple[str, ...]] = []
    todo: deque[int] = deque()

    def crossed(states: set[int], a: int) -> tuple[int, ...]:
        return tuple(sorted(j for s in states for j in by_state_symbol.get((s, a), ())))

    def intern(cfg: tuple[int, ...], word: tuple[str, ...]) -> int:
        if cfg not in index:
            if len(edges) >= limit:
                raise _TooMany()
            index[cfg] = len(edges)
            edges.append(cfg)
            words.append(word)
            todo.append(index[cfg])
        return index[cfg]

    K = len(g.alphabet)
    initial = {int(s) for s in np.flatnonzero(sem.initial)}
    first = np.array([intern(crossed(initial, a), (g.alphabet[a],)) for a in range(K)], dtype=np.int64)
    succ_rows: list[list[int]] = []
    while todo:
        k = todo.popleft()
        states = {dst[j] for j in edges[k]}
        succ_rows.append([intern(crossed(states, a), words[k] + (g.alphabet[a],)) for a in range(K)])
    sizes = np.array([len(c) for c in edges], dtype=np.int64)
    flat = np.array([dst[j] for c in edges for j in c], dtype=np.int64)
    state_sets = sp.csr_array((np.ones(flat.size, np.int8), flat, np.concatenate([[0], np.cumsum(sizes)])),
                              shape=(len(edges), len(g.states)))
    state_sets.sum_duplicates()
    state_sets.data[:] = 1
    return _Configs(edges, words, np.array(succ_rows, dtype=np.int64).reshape(len(edges), K), first, state_sets)


class _TooMany(Exception):
    pass


def _groups(labels: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Equal labels: how many distinct ones, the first position of each, and each position's group."""
    _, first, which = np.unique(labels, return_index=True, return_inverse=True)
    return first.size, first, which.ravel()


def _member(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.isin(a, b) for integers, by sorting ``b`` and searching."""
    return in_sorted(a, np.sort(np.asarray(b).ravel()))


# ----- the proof ----------------------------------------------------------------------------
def certificate_grammar(model: Model, reference: Grammar | None = None) -> tuple[Grammar | None, str]:
    """The grammar the certificate of ``model`` is computed against (the one it was compiled from), if the
    certificate can speak for ``reference`` (same language); otherwise None and the reason, in a phrase."""
    stored = stored_grammar(model)
    if stored is None:
        return None, "the model carries no compiled grammar"
    if model.cell != "lstm" or len(model.layers) != 1:
        return None, "the certificate covers single-layer LSTMs built by the compiler"
    if model.argmax_outputs:
        return None, "its out: heads are read by argmax, and the certificate reads each head alone"
    missing = missing_outputs(model, stored, Reading())
    if missing:
        return None, f"it has no out: head for {', '.join(missing)}, an output of its grammar"
    if reference is not None and reference != stored and not same_behaviour(reference, stored):
        same = " too, but another" if reference.name == stored.name else ""  # an edited copy keeps the name
        given = f"the grammar given ({reference.name!r}{same})"
        if reference.machine != stored.machine:
            kind = {"moore": "a Moore machine", "mealy": "a Mealy machine", "": "an acceptor (no outputs)"}
            return None, (f"the model was compiled from {kind[stored.machine]} ({stored.name!r}), but {given} is "
                          f"{kind[reference.machine]}")
        what = "outputs differ from those of" if stored.machine else "language differs from that of"
        return None, f"the model was compiled from {stored.name!r}, whose {what} {given}"
    return stored, ""


def region_proof_instead(model: Model) -> bool:
    """Is ``model`` proven by the region proof rather than the certificate: it carries no compiled grammar, or the
    certificate cannot read it (:func:`certificate_grammar`)?"""
    return stored_grammar(model) is None or certificate_grammar(model)[0] is None


def states_proven_for(stored: Grammar, reference: Grammar, unknown_start: bool = False) -> bool:
    """True when state heads proven for ``stored`` (the grammar a model was compiled from) speak for ``reference``:
    the two are the same machine, or ``stored`` is what compiling ``reference`` gives (its minimal form)."""
    return same_machine(reference, stored) or same_machine(prepare(reference, unknown_start), stored)


def same_machine(a: Grammar, b: Grammar) -> bool:
    """True when the two grammars have the same start, accepting states and edges: then state heads proven for
    one are proven for the other (an equivalent grammar shares only the accept and next heads)."""
    return same_graph(a, b) and (a.accept, set(a.state_outputs), set(a.edge_outputs)) == (
        b.accept, set(b.state_outputs), set(b.edge_outputs))


def same_graph(a: Grammar, b: Grammar) -> bool:
    """True when the two grammars have the same start and edges (accepting states and outputs aside): their state
    names mean the same states."""
    return a.start == b.start and set(a.transitions) == set(b.transitions)


@gc_paused()
def certify(model: Model, grammar: Grammar | None = None, unknown_start: bool | None = None,
            precision: str | None = None, max_iterations: int = 60, max_configurations: int = 200_000
            ) -> Certificate:
    """Prove (or refute) that the model's heads follow the grammar's semantics after every prefix, in
    ``precision`` arithmetic (default: the model's, ``meta.precision``)."""
    return _Prover(model, grammar, unknown_start, model.precision if precision is None else precision,
                   max_configurations).run(max_iterations)


class _Prover:
    def __init__(self, model: Model, grammar: Grammar | None, unknown_start: bool | None, precision: str,
                 max_configurations: int) -> None:
        if model.cell != "lstm" or len(model.layers) != 1:
            raise UserError("the certificate covers single-layer LSTMs built by the compiler; "
                            "use `fsm-lstm verify` for other models")
        self.model = model
        g = grammar if grammar is not None else stored_grammar(model)
        if g is None:
            raise UserError("the model carries no grammar in its meta (it was trained or imported), so there is "
                            "nothing to prove; `fsm-lstm verify MODEL --grammar REF` checks it instead")
        self.g = g
        self.unknown_start = bool(model.extra.get("unknown_start", False)) if unknown_start is None else unknown_start
        if precision not in ROUNDOFF:
            raise UserError(f"unknown precision {precision!r}; use float32 or float64")
        self.precision = precision
        self.u = ROUNDOFF[precision]
        self.max_configurations = max_configurations
        self.entry_budget = 12 * ENTRY_CHUNK  # numbers held per chunk of configurations while building entries
        self.sem = Semantics(self.g, self.unknown_start)
        if tuple(model.alphabet) != tuple(self.g.alphabet):
            raise UserError(f"the model's alphabet {list(model.alphabet)} differs from the grammar's "
                            f"{list(self.g.alphabet)}; certify against the grammar it was built for")

    def fail(self, message: str, **where: str | None) -> Certificate:
        return Certificate(False, -math.inf, 0, 0, self.precision, failure=Failure(message, **where))

    def run(self, max_iterations: int) -> Certificate:
        failure = self.prepare()
        if failure is not None:
            return failure
        box = self._hull(self.init_on, self.init_off)
        iterations = 0
        for iterations in range(1, max_iterations + 1):
            image_on, image_off, culprits = self._image(box)
            image_on = self._merge(image_on, self.init_on)
            image_off = self._merge(image_off, self.init_off)
            if self._inside(image_on, box[0]) and self._inside(image_off, box[1]):
                break
            box = (self._merge(box[0], image_on), self._merge(box[1], image_off))
            if box[0][2] <= box[1][3]:
                return self._separation_failure(culprits, box)
        else:
            return self._separation_failure(culprits, box, converged=False)
        return self._check_heads(box, iterations)

    def prepare(self) -> Certificate | None:
        """Everything the iterations need (configurations, weight sums, entry classes, the first step), or the
        failure that stops the proof before them."""
        m, g = self.model, self.g
        layer = m.layers[0]
        H, K = layer.hidden_size, len(g.alphabet)
        label_to_edge = {edge_label(*e): j for j, e in enumerate(g.transitions)}
        unit_of_edge = np.full(len(g.transitions), -1, dtype=np.int64)
        started_units = []
        for u, label in enumerate(m.units):
            if label == STARTED:
                started_units.append(u)
            elif label in label_to_edge:
                unit_of_edge[label_to_edge[label]] = u
            else:
                return self.fail(f"unit {u} is labelled {label!r}, which is neither 'started' nor an edge of the "
                                 "grammar, so the proof cannot say what it should do", unit=label)
        for label in m.heads:
            kind, arg = parse_head(label)
            if kind == "state" and arg not in g.state_index:
                return self.fail(f"head {label!r} names a state that the grammar lacks", head=label)
        limit = max(self.max_configurations, len(g.transitions) + 1)  # a DFA has at most |E| + 1
        try:
            cfg = _configurations(g, self.sem, limit)
        except _TooMany:
            return self.fail(f"more than {limit:,} reachable configurations; "
                             "determinise the grammar first (the proof for a DFA is linear in its edges)")
        self.cfg = cfg
        self.H, self.K = H, K
        self.Wih = self._as_run(dense(layer.weight_ih))
        b_ih, b_hh = self._as_run(layer.bias_ih), self._as_run(layer.bias_hh)
        self.b = b_ih + b_hh
        self.bias_abs = np.abs(b_ih) + np.abs(b_hh)
        # everything comes from the non-zero entries of weight_hh (one pass over a dense matrix, none over a
        # sparse one); the stored values are widened to float64 exactly
        self.nz_rows, self.nz_cols, values = nonzeros(layer.weight_hh)
        values = self._as_run(values)
        self.nz_values = values
        rows = 4 * H
        self.R = np.bincount(self.nz_rows, weights=values, minlength=rows)
        self.RA = np.bincount(self.nz_rows, weights=np.abs(values), minlength=rows)
        self.gamma = self._gamma(np.bincount(self.nz_rows, minlength=rows) + 3)
        self.tiny = np.bincount(self.nz_rows, minlength=rows) * UNDERFLOW  # products that underflow (see _gamma)
        self.started = np.array(started_units, dtype=np.int64)
        at_started = _member(self.nz_cols, self.started)
        self.W_st = np.bincount(self.nz_rows[at_started], weights=values[at_started], minlength=rows)
        self.A_st = np.bincount(self.nz_rows[at_started], weights=np.abs(values[at_started]), minlength=rows)
        is_started = np.zeros(H, bool)
        is_started[self.started] = True
        self.edge_units = np.flatnonzero(~is_started)
        # each configuration's units, in its edges' order: cfg_flat[cfg_ptr[k]:cfg_ptr[k + 1]]
        sizes = np.fromiter(map(len, cfg.edges), dtype=np.int64, count=len(cfg.edges))
        units = unit_of_edge[np.fromiter(itertools.chain.from_iterable(cfg.edges), dtype=np.int64,
                                         count=int(sizes.sum()))]
        owner = np.repeat(np.arange(sizes.size), sizes)
        self.cfg_flat = units[units >= 0]
        self.cfg_ptr = np.concatenate([[0], np.cumsum(np.bincount(owner[units >= 0], minlength=sizes.size))])
        overflow = self._overflow_failure()
        if overflow is not None:
            return overflow
        self._build_entries()
        self._initial_step()
        return None

    # --- setup ---
    def _gamma(self, n: np.ndarray) -> np.ndarray:
        """gamma_n, the relative error bound of a dot product of n terms. It does not hold for a product that
        underflows (a subnormal result keeps only an absolute accuracy of 2^-150): every dot product with
        h is widened by UNDERFLOW per product besides (``tiny``)."""
        nu = n * self.u
        return nu / (1 - nu)

    def _overflow_failure(self) -> Certificate | None:
        """gamma_n holds only while no partial sum overflows: refuse weights whose dot products (with |h| <= 1,
        as h = o tanh(c) always is) could pass half the largest finite number of the precision."""
        limit = float(np.finfo(np.float32 if self.precision == "float32" else np.float64).max) / 2
        gates = self.RA + np.abs(self.Wih).max(axis=1, initial=0.0) + self.bias_abs
        h_rows, _, h_vals = nonzeros(self.model.head_weight)
        heads = (np.bincount(h_rows, weights=np.abs(self._as_run(h_vals)), minlength=len(self.model.heads))
                 + np.abs(self._as_run(self.model.head_bias)))
        for what, sums in (("gate row", gates), ("head", heads)):
            if sums.size and float(sums.max()) > limit:
                k = int(np.argmax(sums))
                name = self.model.heads[k] if what == "head" else str(k)
                return self.fail(f"{what} {name} has weights so large (sum of |weights| {float(sums[k]):.3g}) that a "
                                 f"{self.precision} sum may overflow, where no rounding bound holds; scale them down")
        return None

    def _as_run(self, a: np.ndarray) -> np.ndarray:
        """The weights as the runtime multiplies them: cast to the precision (a float64 file is rounded to
        float32), then widened exactly to float64."""
        return np.asarray(a).astype(np.float32 if self.precision == "float32" else np.float64).astype(np.float64)

    def _build_entries(self) -> None:
        """Per (configuration, symbol): the units whose values differ from the dead-configuration baseline
        (started units, the configuration's units, the units they feed, and the successor's units), grouped
        into classes of equal step inputs (fsm_lstm/entry_classes.py), a chunk of configurations at a time."""
        H, K, cfg = self.H, self.K, self.cfg
        n_cfg = len(cfg.edges)
        self.profile = self._unit_profiles()
        self.edge_profiles = _groups(self.profile[self.edge_units])
        values, value_code = np.unique(self.nz_values, return_inverse=True)
        classes = entry_classes(H, K, self.cfg_ptr, self.cfg_flat, cfg.succ, self.started, self.nz_rows,
                                self.nz_cols, value_code.ravel().astype(np.int64) + 1, self.profile,
                                self.entry_budget)
        # each configuration's units, padded with -1 (the head check reads them)
        width = classes.codes.shape[2]
        sizes = np.diff(self.cfg_ptr)
        k_own = np.repeat(np.arange(n_cfg), sizes)
        cols = np.full((n_cfg, width), -1, dtype=np.int64)
        cols[k_own, np.arange(k_own.size) - self.cfg_ptr[k_own]] = self.cfg_flat
        self.head_cols = cols
        # each pair's special units (sorted keys, and the pairs of each unit), excluded from the baseline extremes
        self.n_pairs = n_cfg * K
        self.m = classes.most + 1
        self.special = classes.keys
        self.pairs_of_unit = sp.csc_array((np.ones(self.special.size, np.int8),
                                           (self.special // H, self.special % H)), shape=(self.n_pairs, H))
        # one representative per class: its first entry
        gathered = np.concatenate([[0.0], values])[classes.codes]  # (R, 4, width)
        self.e_col = gathered.sum(axis=-1)
        self.e_abs = np.abs(gathered).sum(axis=-1)
        self.e_pair, self.e_unit = classes.pair, classes.unit
        self.e_sym, self.e_prev_on, self.e_next_on = classes.pair % K, classes.prev_on, classes.next_on
        self.e_rows = self.e_unit[:, None] + H * np.arange(4)[None, :]

    def _unit_profiles(self) -> np.ndarray:
        """(H,) a number per unit, equal for two units exactly when their four gate rows' constants are bitwise
        equal: the biases, the row sums of weights and of their magnitudes, gamma (which fixes ``tiny``: both
        count the row's non-zeros), and the input weights. Such units take equal steps from equal inputs."""
        H = self.H
        per_row = [self.b, self.R, self.W_st, self.RA, self.A_st, self.gamma, self.bias_abs, *self.Wih.T]  # (4H,) each
        return row_ids([q[g * H:(g + 1) * H] for q in per_row for g in range(4)])[1].astype(np.int64)

    def _initial_step(self) -> None:
        """The first symbol from the exact zero state, for every symbol."""
        H = self.H
        kinds, first, which = _groups(self.profile)  # units of one profile take equal first steps
        rows = (first[:, None] + H * np.arange(4)[None, :]).ravel()
        zmid = self.Wih.T[:, rows] + self.b[rows]  # (K, 4 kinds)
        zrad = self._gamma(np.full(rows.size, 3))[None, :] * (np.abs(self.Wih.T[:, rows]) + self.bias_abs[rows])
        z = lambda x: x.reshape(self.K, kinds, 4)  # noqa: E731
        zero = np.zeros((self.K, kinds))
        c_lo, c_hi, h_lo, h_hi = (v[:, which] for v in _unit_step(z(zmid - zrad), z(zmid + zrad), zero, zero,
                                                                   8 * self.u))
        on = np.zeros((self.K, H), bool)
        on[:, self.started] = True
        for a in range(self.K):
            k = self.cfg.first[a]
            on[a, self.cfg_flat[self.cfg_ptr[k]:self.cfg_ptr[k + 1]]] = True
        vals = np.stack([c_lo, c_hi, h_lo, h_hi], axis=-1)
        self.init_on = self._reduce(vals[on])
        self.init_off = self._reduce(vals[~on])

    # --- boxes: arrays [c_lo, c_hi, h_lo, h_hi] ---
    @staticmethod
    def _reduce(vals: np.ndarray) -> np.ndarray | None:
        if vals.size == 0:
            return None
        return np.array([vals[:, 0].min(), vals[:, 1].max(), vals[:, 2].min(), vals[:, 3].max()])

    @staticmethod
    def _merge(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
        if a is None or b is None:
            return b if a is None else a
        return np.array([min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])])

    @staticmethod
    def _inside(a: np.ndarray | None, b: np.ndarray | None) -> bool:
        if a is None:
            return True
        if b is None:
            return False
        return bool(a[0] >= b[0] and a[1] <= b[1] and a[2] >= b[2] and a[3] <= b[3])

    def _hull(self, on: np.ndarray | None, off: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        zero = np.zeros(4)
        return (on if on is not None else zero, off if off is not None else zero)

    # --- one abstract step over every configuration and symbol ---
    def _image(self, box: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray | None, np.ndarray | None, dict]:
        on, off = box
        H = self.H
        mid = lambda b: (b[2] + b[3]) / 2  # noqa: E731
        rad = lambda b: (b[3] - b[2]) / 2  # noqa: E731
        mag = lambda b: max(abs(b[2]), abs(b[3]))  # noqa: E731
        d_mid, d_rad, d_mag = mid(on) - mid(off), rad(on) - rad(off), mag(on) - mag(off)
        # baseline: the dead configuration (only `started` on), per symbol: (K, 4H)
        base_mid = self.Wih.T + self.b + mid(off) * self.R + d_mid * self.W_st
        base_rad = rad(off) * self.RA + d_rad * self.A_st
        base_mag = mag(off) * self.RA + d_mag * self.A_st
        base_slack = self.gamma * (base_mag + np.abs(self.Wih.T) + self.bias_abs) + self.tiny
        eps = 8 * self.u
        # special entries, in chunks (bounded memory on large grammars)
        image_on = image_off = None
        culprits: dict[str, tuple[float, int, int]] = {}
        abs_wih_t = np.abs(self.Wih.T)
        for start in range(0, self.e_pair.size, ENTRY_CHUNK):
            part = slice(start, start + ENTRY_CHUNK)
            e_sym, e_rows, prev_on, next_on = self.e_sym[part], self.e_rows[part], self.e_prev_on[part], \
                self.e_next_on[part]
            e_mid = base_mid[e_sym[:, None], e_rows] + d_mid * self.e_col[part]
            e_mag = base_mag[e_rows] + d_mag * self.e_abs[part]
            e_rad = (base_rad[e_rows] + d_rad * self.e_abs[part]
                     + self.gamma[e_rows] * (e_mag + abs_wih_t[e_sym[:, None], e_rows] + self.bias_abs[e_rows])
                     + self.tiny[e_rows])
            del e_mag
            c_prev_lo = np.where(prev_on, on[0], off[0])
            c_prev_hi = np.where(prev_on, on[1], off[1])
            vals = np.stack(_unit_step(e_mid - e_rad, e_mid + e_rad, c_prev_lo, c_prev_hi, eps), axis=-1)
            image_on = self._merge(image_on, self._reduce(vals[next_on]))
            image_off = self._merge(image_off, self._reduce(vals[~next_on]))
            if next_on.any():
                k = int(np.argmin(np.where(next_on, vals[:, 2], np.inf)))
                if "on" not in culprits or vals[k, 2] < culprits["on"][0]:
                    culprits["on"] = (float(vals[k, 2]), int(self.e_pair[start + k]), int(self.e_unit[start + k]))
            if (~next_on).any():
                k = int(np.argmax(np.where(~next_on, vals[:, 3], -np.inf)))
                if "off" not in culprits or vals[k, 3] > culprits["off"][0]:
                    culprits["off"] = (float(vals[k, 3]), int(self.e_pair[start + k]), int(self.e_unit[start + k]))
        # every other edge unit keeps its baseline value and is off
        units = self.edge_units
        if units.size:
            # units of one profile have equal baseline steps: step one unit of each, then spread the values
            kinds, first, which = self.edge_profiles
            rows = np.stack([units[first] + k * H for k in range(4)], axis=1)
            bz_mid, bz_rad = base_mid[:, rows], base_rad[rows][None] + base_slack[:, rows]
            bvals = np.stack(_unit_step(bz_mid - bz_rad, bz_mid + bz_rad, np.full(kinds, off[0]),
                                        np.full(kinds, off[1]), eps), axis=-1)[:, which]  # (K, U, 4)
            complement = self._complement_extremes(bvals, units)
            image_off = self._merge(image_off, complement[0])
            if complement[1] is not None and complement[1][0] > culprits.get("off", (-np.inf,))[0]:
                culprits["off"] = complement[1]
        return image_on, image_off, culprits

    def _complement_extremes(self, bvals: np.ndarray, units: np.ndarray
                             ) -> tuple[np.ndarray | None, tuple[float, int, int] | None]:
        """Extremes of baseline values over the units outside each pair's special set."""
        m = min(self.m, units.size)
        has = np.ones(self.n_pairs, bool)
        symbols = np.arange(self.K)[None, :]
        columns, culprit_unit = [], None
        for q, sign in enumerate((1, -1, 1, -1)):  # minimise c_lo, maximise c_hi, minimise h_lo, maximise h_hi
            key = sign * bvals[:, :, q]  # smaller is more extreme
            top = np.argpartition(key, m - 1, axis=1)[:, :m] if m < units.size else np.tile(
                np.arange(units.size), (self.K, 1))
            order = np.take_along_axis(key, top, axis=1).argsort(axis=1)
            top = np.take_along_axis(top, order, axis=1)  # (K, m) positions into `units`
            pick, found = self._first_free(units[top], m)
            has &= found
            # each pair's value: its symbol's top values (K, m) at the pair's pick, gathered from that small table
            columns.append(np.take_along_axis(bvals[:, :, q], top, axis=1)[symbols, pick.reshape(-1, self.K)].ravel())
            if q == 3:
                culprit_unit = lambda r, top=top, pick=pick: units[top[r % self.K, pick[r]]]  # noqa: E731
        if not has.any():
            return None, None
        vals = columns if has.all() else [c[has] for c in columns]
        box = np.array([vals[0].min(), vals[1].max(), vals[2].min(), vals[3].max()])
        worst = int(np.flatnonzero(has)[np.argmax(vals[3])])
        return box, (float(columns[3][worst]), worst, int(culprit_unit(worst)))

    def _first_free(self, ranked: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        """For each pair r, with symbol a = r mod K: the first column j < m with unit ranked[a, j] outside the
        pair's special set (0 if none), and whether there is one. Only the few pairs blocked at one column are
        looked at for the next."""
        K, H = self.K, self.H
        pick = np.zeros(self.n_pairs, dtype=np.int64)
        found = np.ones(self.n_pairs, bool)
        ptr, holders = self.pairs_of_unit.indptr, self.pairs_of_unit.indices
        blocked = [holders[ptr[u]:ptr[u + 1]] for u in ranked[:, 0].tolist()]
        blocked = np.sort(np.concatenate([b[b % K == a] for a, b in enumerate(blocked)])).astype(np.int64)
        for j in range(1, m):
            if not blocked.size:
                break
            pick[blocked] = j
            blocked = blocked[in_sorted(blocked * H + ranked[blocked % K, j], self.special)]
        pick[blocked] = 0
        found[blocked] = False
        return pick, found

    # --- outcomes ---
    def _where(self, pair: int) -> tuple[str, str]:
        k, a = divmod(pair, self.K)
        word = self.cfg.words[k] + (self.g.alphabet[a],)
        return format_word(word, self.g.alphabet), self.g.alphabet[a]

    def _separation_failure(self, culprits: dict, box: tuple[np.ndarray, np.ndarray], converged: bool = True
                            ) -> Certificate:
        ideal_on = math.tanh(1.0) / 2
        if "on" in culprits and (culprits["on"][0] < ideal_on or "off" not in culprits):
            value, pair, unit = culprits["on"]
            role, bound = "on", f"can be as low as {value:.4g}"
        else:
            value, pair, unit = culprits["off"]
            role, bound = "off", f"can reach {value:.4g}"
        prefix, symbol = self._where(pair)
        label = self.model.units[unit]
        lead = "the on/off boxes overlap" if converged else "no invariant box found"
        cert = self.fail(f"{lead}: unit {unit} ({label}) should be {role} after the prefix {prefix!r} "
                         f"(reading {symbol!r}), but its hidden value {bound}",
                         unit=label, prefix=prefix, symbol=symbol)
        cert.on_box, cert.off_box = tuple(box[0]), tuple(box[1])
        return cert

    def _check_heads(self, box: tuple[np.ndarray, np.ndarray], iterations: int) -> Certificate:
        """Each head's logit bound on every configuration's boxes has the required sign. Sparse throughout: a
        (configuration, head) pair whose head reads none of the configuration's units and whose expected value
        is false shares its head's baseline bound, checked once per head."""
        on, off = box
        m = self.model
        M, H = len(m.heads), self.H
        h_rows, h_cols, h_vals = nonzeros(m.head_weight)
        h_vals = self._as_run(h_vals)
        bh = self._as_run(m.head_bias)
        gamma = self._gamma(np.bincount(h_rows, minlength=M) + 1)
        tiny = np.bincount(h_rows, minlength=M) * UNDERFLOW
        mid, rad = (on[2] + on[3]) / 2, (on[3] - on[2]) / 2
        omid, orad = (off[2] + off[3]) / 2, (off[3] - off[2]) / 2
        mag, omag = max(abs(on[2]), abs(on[3])), max(abs(off[2]), abs(off[3]))
        at_started = _member(h_cols, self.started)
        row_w = np.bincount(h_rows, weights=h_vals, minlength=M)
        row_a = np.bincount(h_rows, weights=np.abs(h_vals), minlength=M)
        started_w = np.bincount(h_rows[at_started], weights=h_vals[at_started], minlength=M)
        started_a = np.bincount(h_rows[at_started], weights=np.abs(h_vals[at_started]), minlength=M)
        base_mid = bh + omid * row_w + (mid - omid) * started_w
        base_rad = orad * row_a + (rad - orad) * started_a
        base_mag = omag * row_a + (mag - omag) * started_a

        def bounds(heads: np.ndarray, col_w: np.ndarray, col_a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            lmid = base_mid[heads] + (mid - omid) * col_w
            lrad = (base_rad[heads] + (rad - orad) * col_a
                    + gamma[heads] * (base_mag[heads] + (mag - omag) * col_a + np.abs(bh[heads])) + tiny[heads])
            return lmid - lrad, lmid + lrad

        # configuration k's units: C (n_cfg x H); P = C @ Wh.T holds the sums over them, per head
        cols = self.head_cols
        n_cfg = cols.shape[0]
        k_idx, slot = np.nonzero(cols >= 0)
        C = sp.csr_array((np.ones(k_idx.size), (k_idx, cols[k_idx, slot])), shape=(n_cfg, H))
        Wh = sp.csr_array((h_vals, (h_rows, h_cols)), shape=(M, H))
        P = sp.coo_array(C @ Wh.T)
        PA = sp.coo_array(C @ abs(Wh).T)
        kinds = [parse_head(label) for label in m.heads]
        state_heads = np.array([k == "state" for k, _ in kinds], bool)
        head_of_state = np.full(len(self.g.states), -1, dtype=np.int64)
        for h, (kind, arg) in enumerate(kinds):
            if kind == "state":
                head_of_state[self.g.state_index[arg]] = h  # (a repeated label: the last; all share the truth)
        states = sp.coo_array(self.cfg.states)
        true_heads = head_of_state[states.col]
        keep = true_heads >= 0
        true_keys = sorted_distinct(states.row[keep].astype(np.int64) * M + true_heads[keep])
        other = np.flatnonzero(~state_heads)
        other_keys = (np.arange(n_cfg, dtype=np.int64)[:, None] * M + other[None, :]).ravel()
        p_keys = P.row.astype(np.int64) * M + P.col
        keys = sorted_distinct(np.concatenate([p_keys, true_keys, other_keys]))
        k_of, h_of = keys // M, keys % M
        order = np.argsort(p_keys)
        col_w = _values_at(p_keys[order], P.data[order], keys)
        pa_keys = PA.row.astype(np.int64) * M + PA.col
        order = np.argsort(pa_keys)
        col_a = _values_at(pa_keys[order], PA.data[order], keys)
        lo, hi = bounds(h_of, col_w, col_a)
        expected = np.zeros(keys.size, bool)
        is_state = state_heads[h_of]
        pos = np.minimum(np.searchsorted(true_keys, keys), max(true_keys.size - 1, 0))
        expected[is_state] = (true_keys[pos] == keys)[is_state] if true_keys.size else False
        # outputs: t = 0, then each configuration's (from its crossed edges, or their targets in a Moore machine)
        outs = crossed_outputs(self.g, self.sem.initial, self.cfg.edges) if self.g.machine else None
        if other.size:
            table = self._expected_other(self.cfg.states, [kinds[h] for h in other],
                                         None if outs is None else outs[1:])  # (n_cfg, len(other))
            column = np.full(M, -1, dtype=np.int64)
            column[other] = np.arange(other.size)
            expected[~is_state] = table[k_of[~is_state], column[h_of[~is_state]]]
        signed = np.where(expected, lo, -hi)
        worst = int(np.argmin(signed)) if signed.size else -1
        margin = float(signed[worst]) if signed.size else math.inf
        where = (int(k_of[worst]) + 1, int(h_of[worst]), bool(expected[worst]), lo[worst], hi[worst]) if signed.size \
            else None
        # pairs outside the special set: state heads expected false at their baseline bound
        special = np.bincount(h_of, minlength=M)
        loose = np.flatnonzero(state_heads & (special < n_cfg))
        if loose.size:
            blo, bhi = bounds(loose, np.zeros(loose.size), np.zeros(loose.size))
            j = int(np.argmax(bhi))
            if -bhi[j] < margin:
                h = int(loose[j])
                taken = np.zeros(n_cfg, bool)
                taken[k_of[h_of == h]] = True
                margin, where = float(-bhi[j]), (int(np.argmin(taken)) + 1, h, False, blo[j], bhi[j])
        # the empty prefix: h = 0 exactly
        lo0, hi0 = bh - gamma * np.abs(bh), bh + gamma * np.abs(bh)
        initial = sp.csr_array(self.sem.initial[None, :].astype(np.int8))
        expected0 = np.zeros(M, bool)
        named = [self.g.state_index[kinds[h][1]] for h in np.flatnonzero(state_heads)]
        expected0[state_heads] = self.sem.initial[named]
        if other.size:
            expected0[other] = self._expected_other(initial, [kinds[h] for h in other],
                                                    None if outs is None else outs[:1])[0]
        signed0 = np.where(expected0, lo0, -hi0)
        h0 = int(np.argmin(signed0))
        if signed0[h0] < margin:
            margin, where = float(signed0[h0]), (0, h0, bool(expected0[h0]), lo0[h0], hi0[h0])
        if margin <= 0 and where is not None:
            k, h, want, low, high = where
            word = () if k == 0 else self.cfg.words[k - 1]
            prefix = format_word(word, self.g.alphabet)
            label = m.heads[h]
            return self.fail(f"head {label} should be {'positive' if want else 'negative'} after the "
                             f"prefix {prefix!r}, but its logit can lie in [{low:.4g}, {high:.4g}]",
                             head=label, prefix=prefix)
        return Certificate(True, margin, len(self.cfg.edges), iterations, self.precision,
                           on_box=tuple(float(x) for x in on), off_box=tuple(float(x) for x in off))

    def _expected_other(self, states: sp.csr_array, kinds: list[tuple[str, str]],
                        outputs: np.ndarray | None = None) -> np.ndarray:
        """(rows, len(kinds)) bool: the required value of each accept, next or out head on each state set;
        ``outputs`` (rows, V) holds the outputs each row's last step produced (machines only)."""
        sets = sp.csr_array(states, dtype=np.float32)
        accept = (sets @ self.sem.accepting.astype(np.float32)) > 0
        nxt = (sets @ self.sem.legal.astype(np.float32)) > 0
        values = self.g.output_values
        cols = []
        for kind, arg in kinds:
            if kind == "accept":
                cols.append(accept)
            elif kind == "out":
                cols.append(outputs[:, values.index(arg)] if outputs is not None and arg in values else
                            np.zeros(sets.shape[0], bool))
            elif kind == "next":
                cols.append(nxt[:, self.g.symbol_index[arg]])
            else:
                raise UserError(f"the certificate cannot judge head kind {kind!r}")
        return np.stack(cols, axis=1)


def _values_at(sorted_keys: np.ndarray, values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """values at keys (0 where a key is absent), from sorted (key, value) pairs."""
    if not sorted_keys.size:
        return np.zeros(keys.size)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), sorted_keys.size - 1)
    return np.where(sorted_keys[pos] == keys, values[pos], 0.0)
