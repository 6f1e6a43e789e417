"""The semantics a model is checked against, tabulated: a DFA over grammar state sets (subset construction from
the initial states, over the model's alphabet) with the value every checked head must take in each of them. For a
Mealy machine a state of the table is a state set with the outputs of the edges just crossed."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from .argmax_outputs import ADDED_OUTPUTS
from .errors import GrammarError, UserError
from .grammar import MAX_DFA_STATES, Grammar
from .labels import parse_head
from .model import Model
from .outputs import state_output_matrix
from .reading import Reading
from .semantics import Semantics
from .sparse_weights import is_sparse

__all__ = ["Reference", "missing_outputs", "nothing_judged", "reference_for", "with_every_output"]


@dataclass(frozen=True)
class Reference:
    """table: (n+1, K) successor of each state set per model symbol, row n the empty set (left the grammar);
    truth: (n+1, M') required head values; columns: which model heads they are; skipped: heads left unchecked;
    care: (n+1, M') where the value is judged (None: everywhere): false for the out: heads of an argmax reading
    where the machine gives no output (:mod:`argmax_outputs`), and everywhere in the empty word's state when the
    reading leaves it unjudged (``Reading.nonempty``)."""

    table: np.ndarray
    truth: np.ndarray
    start: int
    columns: np.ndarray
    checked: tuple[str, ...]
    skipped: tuple[str, ...]
    care: np.ndarray | None = None

    def wrong(self, said: np.ndarray, states: np.ndarray) -> np.ndarray:
        """(B, M') where the decoded checked heads ``said`` (B, M') disagree with the values required in
        ``states`` (B,)."""
        bad = said != self.truth[states]
        return bad if self.care is None else bad & self.care[states]

    def signed(self, states: np.ndarray | int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Bounds (lo, hi) on the checked heads' logits, signed so that > 0 holds exactly when the head is
        decided right in ``states``; +inf where the head is not judged."""
        signed = np.where(self.truth[states], lo, -hi)
        return signed if self.care is None else np.where(self.care[states], signed, np.inf)

    def selected(self, keep: Sequence[int]) -> Reference:
        """The reference for the checked heads ``keep`` only (the others skipped)."""
        keep = list(keep)
        return replace(self, truth=self.truth[:, keep], columns=self.columns[keep],
                       checked=tuple(self.checked[k] for k in keep),
                       skipped=self.skipped + tuple(h for k, h in enumerate(self.checked) if k not in keep),
                       care=None if self.care is None else self.care[:, keep])

    def walk(self, word: Sequence[int]) -> np.ndarray:
        """(T+1,) state-set indices along a word of symbol indices."""
        out = np.empty(len(word) + 1, dtype=np.int64)
        out[0] = s = self.start
        table = self.table
        for t, a in enumerate(word):
            s = table[s, a]
            out[t + 1] = s
        return out


def missing_outputs(model: Model, grammar: Grammar, reading: Reading) -> list[str]:
    """The outputs of a Mealy or Moore ``grammar`` that ``model`` has no ``out:`` head for, when it has some
    (a model without any out: head is judged on its other heads)."""
    have = {arg for kind, arg in map(parse_head, model.heads) if kind == "out"}
    if not grammar.machine or not have or reading.final_only:
        return []
    return [v for v in grammar.output_values if v not in have]


def with_every_output(model: Model, grammar: Grammar, reading: Reading) -> Model:
    """``model`` with an ``out:VALUE`` head that is always false (weights 0, bias -1) for each output of the
    machine it has no head for (:func:`missing_outputs`): such a network never gives that output, and a verdict
    that judged only its heads called it proven (a network without out:z against a machine that says z after
    'c'). What the network says is unchanged; the machine's words with that output become counterexamples (under
    an argmax reading the added heads are named in ``extra[ADDED_OUTPUTS]`` and kept out of the argmax)."""
    missing = missing_outputs(model, grammar, reading)
    if not missing:
        return model
    zeros = np.zeros((len(missing), model.head_weight.shape[1]), dtype=np.float32)
    if is_sparse(model.head_weight):
        weight = sp.csr_array(sp.vstack([model.head_weight, sp.csr_array(zeros)], format="csr"))
    else:
        weight = np.vstack([model.head_weight, zeros.astype(model.head_weight.dtype)])
    bias = np.concatenate([model.head_bias, np.full(len(missing), -1.0, dtype=model.head_bias.dtype)])
    added = tuple(f"out:{v}" for v in missing)
    # under an argmax reading the added heads take no part in the argmax (argmax_outputs.argmax_columns)
    extra = {**model.extra, ADDED_OUTPUTS: list(added)} if model.argmax_outputs else model.extra
    return replace(model, heads=(*model.heads, *added), head_weight=weight, head_bias=bias, extra=extra)


def nothing_judged(model: Model, grammar: Grammar) -> UserError:
    """The error for a model none of whose heads ``grammar`` can judge."""
    argmax = (" (out: heads read by argmax are judged only after a symbol, where a Mealy or Moore machine gives an "
              "output)") if model.argmax_outputs else ""
    return UserError(f"none of the model's heads ({', '.join(model.heads)}) can be judged by grammar "
                     f"{grammar.name!r}; heads are accept, next:SYMBOL, state:NAME or out:VALUE of that grammar"
                     + argmax)


def reference_for(model: Model, grammar: Grammar, unknown_start: bool = False,
                  reading: Reading = Reading()) -> Reference:
    """Tabulate ``grammar``'s semantics for the heads of ``model`` that the grammar can judge, over the
    symbols words are made of (the model's alphabet, less the markers of a word-level reading).

    State heads naming states the grammar lacks are skipped; next heads for symbols outside the grammar's
    alphabet must be false; symbols of the model outside the grammar's alphabet leave the grammar. A
    word-level reading judges the ``accept`` head only."""
    sem = Semantics(grammar, unknown_start)
    si = grammar.symbol_index
    alphabet = reading.inner(model.alphabet)
    symbol_map = [si.get(a, -1) for a in alphabet]
    steps = sem.steps > 0
    emitted = _emitted(grammar)
    start_states = frozenset(np.flatnonzero(sem.initial).tolist())
    # an argmax reading gives no output before the first symbol, and --nonempty judges nothing there: the empty
    # prefix gets a state of its own
    start_set = (start_states, emitted(start_states, start_states, -1), model.argmax_outputs or reading.nonempty)
    index = {start_set: 0}
    sets = [start_set]
    rows: list[list[int]] = []
    todo = deque([start_set])
    while todo:
        current, _, _ = todo.popleft()
        row = []
        for a in symbol_map:
            reached = frozenset(np.flatnonzero(steps[a][list(current)].any(axis=0)).tolist()) if a >= 0 and current \
                else frozenset()
            nxt = (reached, emitted(current, reached, a), False)
            if nxt not in index:
                if len(sets) >= MAX_DFA_STATES:
                    raise GrammarError(f"grammar {grammar.name!r} determinises to more than {MAX_DFA_STATES:,} sets of "
                                       "states; verify a smaller or deterministic grammar")
                index[nxt] = len(sets)
                sets.append(nxt)
                todo.append(nxt)
            row.append(index[nxt])
        rows.append(row)
    membership = np.zeros((len(sets) + 1, len(grammar.states)), bool)  # the extra last row: the empty set
    produced = np.zeros((len(sets) + 1, len(grammar.output_values)), bool)
    for k, (members, outs, _) in enumerate(sets):
        membership[k, list(members)] = True
        produced[k, list(outs)] = True
    nothing = (frozenset(), frozenset(), False)
    empty = index[nothing] if nothing in index else len(sets)
    table = np.array(rows, dtype=np.int64).reshape(len(sets), len(alphabet))
    table = np.vstack([table, np.full((1, len(alphabet)), empty)])
    checked, columns, skipped, truth = [], [], [], []
    nxt = sem.next(membership)
    for m, label in enumerate(model.heads):
        kind, arg = parse_head(label)
        if reading.final_only and kind != "accept":
            skipped.append(label)
            continue
        if kind == "accept":
            col = sem.accept(membership)
        elif kind == "next":
            col = nxt[:, si[arg]] if arg in si else np.zeros(len(membership), bool)
        elif kind == "state" and arg in grammar.state_index:
            col = membership[:, grammar.state_index[arg]]
        elif kind == "out":
            values = grammar.output_values
            col = produced[:, values.index(arg)] if arg in values else np.zeros(len(membership), bool)
        else:
            skipped.append(label)
            continue
        checked.append(label)
        columns.append(m)
        truth.append(col)
    truth_arr = np.stack(truth, axis=1) if truth else np.zeros((len(membership), 0), bool)
    ref = Reference(table, truth_arr, 0, np.array(columns, dtype=np.int64), tuple(checked), tuple(skipped))
    if not (model.argmax_outputs or reading.nonempty):
        return ref
    care = np.ones_like(truth_arr)
    if reading.nonempty:
        care[0] = False  # the empty word's state (of its own): nothing judged
    if model.argmax_outputs:  # out: heads judged only where the machine gives an output, after a symbol
        gives = produced.any(axis=1)
        gives[0] = False
        for k, label in enumerate(checked):
            if parse_head(label)[0] == "out":
                care[:, k] &= gives
    return replace(ref, care=care).selected([k for k in range(len(checked)) if care[:, k].any()])  # never: skipped


def _emitted(g: Grammar):  # noqa: ANN202
    """f(previous states, reached states, symbol index or -1 at t = 0) -> the output indices on that step."""
    if g.machine == "moore":
        by_state = state_output_matrix(g)
        return lambda _, reached, __: frozenset(np.flatnonzero(by_state[list(reached)].any(axis=0)).tolist())
    if g.machine == "mealy":
        values = {v: k for k, v in enumerate(g.output_values)}
        emit: dict[tuple[int, int], set[int]] = {}
        for (p, a, _), v in g.edge_outputs:
            emit.setdefault((g.state_index[p], g.symbol_index[a]), set()).add(values[v])
        return lambda previous, _, a: frozenset(o for p in previous for o in emit.get((p, a), ())) if a >= 0 \
            else frozenset()
    return lambda *_: frozenset()
