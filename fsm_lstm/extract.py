"""Finite-state machines extracted from any model, seeing only what a trained model carries: the weights,
the alphabet, the head labels and how they are read (never a stored grammar nor the unit labels).

Two methods, both producing a Moore machine whose outputs are the decoded ``accept``/``next:*`` heads (only
``accept`` for word-level models, whose machines are over the inner alphabet):

- ``lstar`` (default): L* with the batched network as teacher and sampled words as equivalence oracle
  (``lstar.py``); scales to large alphabets and hidden sizes and to networks that are not exactly finite-state;
- ``cluster``: explore the reachable hidden states breadth first, each new state joining the nearest
  representative within a radius (else one representative per cell of a quantisation), and minimise; exact and
  fast on compiled and small, well-separated networks, bounded by ``max_states``.

Every extraction reports its fidelity: the share of held-out words (a part of ``words`` kept aside, or fresh
uniform words) on which the automaton and the network give the same outputs after the whole word. It also
reports the agreement on uniform words one to two times longer than the sampled length: an automaton can match
a network that is not exactly finite-state on the lengths it was learned on and drift away beyond them (an
under-trained RNN's automaton agreed on 100 % of held-out words up to 20 symbols, 36 % of 21-40).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .automata import minimise, renumber
from .errors import UserError
from .grammar import Grammar
from .labels import parse_head
from .limits import MIN_FIDELITY, PATIENCE
from .lstar import check_patience, learn
from .machine import Machine, free_start, minimise_moore
from .model import Model
from .outputs import extracted_machine
from .queries import Network
from .reading import Reading, reading_of
from .semantics import Semantics
from .threads import blas_threads, one_blas_thread
from .sampling import Runner, Sample, final_truth, guided_words, observe, random_words, variations
from .words import counted

__all__ = ["CELLS_PER_STATE", "CUT_SIZES", "Extraction", "FEWEST_SAMPLES", "HOLD_OUT_FROM", "Longer", "MAX_SAMPLES",
           "MAX_WORD_LENGTH", "METHODS", "NEAREST_RADIUS", "OUTLIER_FACTOR", "Progress", "QUANTISERS", "SAMPLES",
           "SAMPLING_SHARE", "SMALL_NETWORK", "Word", "agreement", "explore", "explore_nearest", "extract",
           "extract_by_clustering", "output_columns", "to_grammar"]

Word = tuple[int, ...]
Progress = Callable[[str], None]
HOLD_OUT_FROM = 200  # distinct typical words from which 30 % are held out for fidelity (60 or more words): with 20,
# 6 held-out words gave "100 %" and exit 0 to an automaton wrong on 1.8 % of uniform words
METHODS = ("lstar", "cluster")
# Recurrent weights up to which L* also consults the hidden-state machine. lstm256_q100_s25 has exactly this
# many; it costs it 0.4 s of CPU (each quantisation gives up past --max-states cells), so the bound stays.
SMALL_NETWORK = 256 * 1024
OUTLIER_FACTOR = 4  # a --words word longer than this times their 90th-percentile length (and than 20) is left out
MAX_WORD_LENGTH = 1000  # and one longer than this, whatever the others: every sampled word would be that long
SAMPLES = 2000  # words per sample (searched, validation, held out), unless cut to fit the time limit
MAX_SAMPLES = 100_000  # words per sample a caller may ask for
SAMPLING_SHARE = 0.4  # of --time-limit, at most, for running the sampled words (searched, validation, held out)
FEWEST_SAMPLES = 200  # the smallest size the samples are cut to (which may still overrun the time limit)
CUT_SIZES = (1000, 500, FEWEST_SAMPLES)  # words per sample when cut: the largest that fits
_PROBE_WORDS = 256  # uniform words timed to foresee what the samples cost (fewer where 16 foresee them slow)
_PROBE_SHARE = 0.05  # of the time limit, at most, that the probes may be foreseen to take
# words of the sampled length run per word of ``samples``: searched 1 (and any generated or varied), validation
# 2, held out 1, and longer words (half as many, of about 3 times the symbols) 1.5, less what batches of 2,048
# save over the probe's (a 256-word probe of lstm256_q100_s25 foresaw 5.5 s where its samples took 3.3 s)
_WORDS_PER_SAMPLE = 5.0


def output_columns(model: Model, reading: Reading) -> np.ndarray:
    """Indices of the heads that define the machine: out:* when the model has them (a Moore or Mealy machine),
    else accept and next:* (accept only for word-level models)."""
    has_out = any(parse_head(h)[0] == "out" for h in model.heads) and not reading.final_only
    kinds = ("out",) if has_out else ("accept",) if reading.final_only else ("accept", "next")
    cols = [k for k, h in enumerate(model.heads) if parse_head(h)[0] in kinds]
    if not cols:
        raise UserError("extraction needs an 'accept' or 'next:SYMBOL' head; this model has only "
                        f"{', '.join(model.heads)}")
    return np.array(cols, dtype=np.int64)


@dataclass(frozen=True)
class Extraction:
    """An extracted automaton and the evidence of how well it matches the network."""

    machine: Machine
    grammar: Grammar
    method: str
    reading: Reading
    fidelity: float
    held_out: int
    held_out_source: str
    seconds: float
    queries: int
    stopped: str | None
    unmerged_states: int | None = None  # after an early L* stop: the states the unmerged hypothesis would have
    several_outputs: float = 0.0  # share of held-out words after which 2 or more out: heads are true at once
    longer: Longer | None = None  # agreement on words one to two times the sampled length
    merging_cut: bool = False  # the time limit stopped the merging of states before it was done
    machine_fidelity: float | None = None  # the learned machine's, whose heads are separate outputs, where higher
    accept_fidelity: float | None = None  # on the accept head alone (the language), when there are other heads
    samples_cut: tuple[int, int] | None = None  # (words per sample run, asked): cut to fit the time limit
    words_left_out: tuple[int, int] | None = None  # (--words left out, the length they exceed): outliers

    @property
    def states(self) -> int:
        """States of the minimal automaton written."""
        return len(self.grammar.states)

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"method": self.method, "states": self.states, "edges": len(self.grammar.transitions),
                "fidelity": self.fidelity, "held_out_words": self.held_out, "held_out_source": self.held_out_source,
                "seconds": self.seconds, "queries": self.queries, "stopped": self.stopped,
                "states_before_merging": self.unmerged_states if (self.unmerged_states or 0) > self.states else None,
                "several_outputs": self.several_outputs,
                "longer_words": None if self.longer is None else self.longer.to_dict(),
                "merging_stopped": "time-limit" if self.merging_cut else None,
                "machine_fidelity": self.machine_fidelity, "accept_fidelity": self.accept_fidelity,
                "samples_cut_to": None if self.samples_cut is None else self.samples_cut[0],
                "words_left_out": None if self.words_left_out is None else {
                    "words": self.words_left_out[0], "longer_than": self.words_left_out[1]},
                "reading": self.reading.to_dict()}


@dataclass(frozen=True)
class Longer:
    """The automaton's agreement with the network on uniform random words of ``shortest``-``longest`` symbols,
    one to two times the length of the uniform words sampled for the search and its fidelity."""

    fidelity: float
    words: int
    shortest: int
    longest: int

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"fidelity": self.fidelity, "words": self.words, "lengths": [self.shortest, self.longest]}


def _longer(net: Network, columns: np.ndarray, machine: Machine, seed: int, length: int, count: int,
            every_prefix: bool = False, nonempty: bool = False) -> Longer:
    """:class:`Longer` on ``count`` words of ``length`` + 1 to 2 ``length`` symbols (at least 1 to 2), judged
    after the whole word, or with ``every_prefix`` after each of its prefixes (:func:`agreement`)."""
    shortest, longest = length + 1, max(2 * length, 2)
    rng = np.random.default_rng([seed, 3])
    lengths = rng.integers(shortest, longest + 1, size=count)
    strings = rng.integers(0, len(net.inner), size=(count, longest))
    if every_prefix:
        sample = observe(net, columns, [tuple(row[:n].tolist()) for row, n in zip(strings, lengths)])
        return Longer(agreement(machine, sample, every_prefix=True, nonempty=nonempty), count, shortest, longest)
    truth = final_truth(net, columns, strings, lengths)
    mine = machine.run(strings)[lengths, np.arange(count)]
    return Longer(float((mine == truth).all(axis=-1).mean()), count, shortest, longest)


def _level_key(net: Network, levels: int) -> Callable[[np.ndarray], np.ndarray]:
    """Each unit's h cut into ``levels`` equal bins of [-1, 1] (Omlin and Giles' quantisation)."""
    cols = np.concatenate([np.arange(start + wc, start + wc + wh) for start, (wc, wh) in
                           zip(np.cumsum([0] + [wc + wh for wc, wh in net.widths])[:-1], net.widths)])
    return lambda packed: np.clip(np.floor((packed[:, cols] + 1) / 2 * levels), 0, levels - 1)


def _grid_key(radius: float) -> Callable[[np.ndarray], np.ndarray]:
    """Cells of side ``radius`` over every layer's c and h (exact for well separated, contracting states)."""
    return lambda packed: np.round(packed / radius) + 0.0


QUANTISERS = [("levels", 3), ("levels", 2), ("levels", 4), ("levels", 6), ("grid", 0.1), ("grid", 0.02)]
NEAREST_RADIUS = 0.25  # Euclidean: a compiled network's states drift far less, and distinct ones lie ~1 apart
CELLS_PER_STATE = 4  # a compiled network has a state per edge into a DFA state: more cells than states


def _leaders(points: np.ndarray, reps: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Leader clustering: each point joins the nearest representative within ``radius`` (Euclidean), or
    becomes a new one; (cluster index per point, the new representatives)."""
    def squared(a: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", a, a)

    out = np.full(len(points), -1, dtype=np.int64)
    if len(reps):
        d2 = squared(points)[:, None] + squared(reps)[None, :] - 2 * points @ reps.T
        near = d2.argmin(axis=1)
        close = d2[np.arange(len(points)), near] <= radius ** 2
        out[close] = near[close]
    fresh: list[int] = []
    for i in np.flatnonzero(out < 0):
        if out[i] >= 0:
            continue
        members = np.flatnonzero(out < 0)
        members = members[members >= i]
        d2 = squared(points[members] - points[i])
        out[members[d2 <= radius ** 2]] = len(reps) + len(fresh)
        fresh.append(int(i))
    return out, points[fresh]


def explore_nearest(net: Network, columns: np.ndarray, radius: float, labels: tuple[str, ...], max_cells: int,
                    deadline: float) -> Machine | None:
    """Breadth-first exploration of the hidden states, each new state joining the nearest representative
    within ``radius`` (leader clustering, so slow drift never splits a state), one batched step per level;
    None if more than ``max_cells`` clusters appear or the deadline passes."""
    K = len(net.inner)
    reps = net.initial(1)
    outputs = [net.logits(reps)[0, columns] > 0]
    rows: dict[int, np.ndarray] = {}
    frontier = np.array([0])
    while len(frontier):
        if time.perf_counter() > deadline:
            return None
        stepped = net.step(np.repeat(reps[frontier], K, axis=0), np.tile(np.arange(K), len(frontier)))
        net.calls += len(stepped)
        target, fresh = _leaders(stepped, reps, radius)
        if len(reps) + len(fresh) > max_cells:
            return None
        first = {int(t): j for j, t in reversed(list(enumerate(target)))}
        values = net.logits(stepped[[first[len(reps) + k] for k in range(len(fresh))]])[:, columns] > 0
        outputs.extend(values)
        for j, source in enumerate(frontier.tolist()):
            rows[source] = target[j * K:(j + 1) * K]
        frontier = np.arange(len(reps), len(reps) + len(fresh))
        reps = np.concatenate([reps, fresh])
    table = np.stack([rows[k] for k in range(len(reps))]).astype(np.int64)
    return minimise_moore(Machine(np.array(outputs).reshape(len(reps), -1), table, labels, net.inner))


def explore(net: Network, columns: np.ndarray, key: Callable[[np.ndarray], np.ndarray], labels: tuple[str, ...],
            max_states: int) -> Machine | None:
    """Breadth-first exploration of the hidden states, one representative per cell of ``key``, one batched
    step per level; None if more than ``max_states`` cells appear."""
    K = len(net.inner)
    start = net.initial(1)
    cells = {key(start)[0].tobytes(): 0}
    reps = [start[0]]
    outputs = [net.logits(start)[0, columns] > 0]
    delta: dict[int, list[int]] = {}
    frontier = [0]
    while frontier:
        states = np.repeat(np.stack([reps[k] for k in frontier]), K, axis=0)
        stepped = net.step(states, np.tile(np.arange(K), len(frontier)))
        net.calls += len(stepped)
        keys = key(stepped)
        values = net.logits(stepped)[:, columns] > 0
        nxt = []
        for j, source in enumerate(frontier):
            row = []
            for a in range(K):
                r = j * K + a
                k = keys[r].tobytes()
                if k not in cells:
                    if len(cells) >= max_states:
                        return None
                    cells[k] = len(reps)
                    reps.append(stepped[r])
                    outputs.append(values[r])
                    nxt.append(cells[k])
                row.append(cells[k])
            delta[source] = row
        frontier = nxt
    table = np.array([delta[k] for k in range(len(reps))], dtype=np.int64).reshape(len(reps), K)
    return minimise_moore(Machine(np.array(outputs), table, labels, net.inner))


def agreement(machine: Machine, sample: Sample, heads: Sequence[int] | None = None, every_prefix: bool = False,
              nonempty: bool = False) -> float:
    """Share of sampled words whose outputs (those of ``heads``, by column, when given) the machine gets right
    after the whole word, or with ``every_prefix`` after each of its prefixes (a Mealy machine's whole output
    sequence); ``nonempty``: of the words of one symbol or more, the empty prefix not compared."""
    judged = sample.lengths > 0 if nonempty else np.ones(len(sample.lengths), dtype=bool)
    if not judged.any():
        return 1.0
    if not every_prefix:
        right = machine.run(sample.strings)[sample.lengths, np.arange(len(sample.lengths))] == sample.final()
        return float((right if heads is None else right[:, heads]).all(axis=-1)[judged].mean())
    differ = machine.run(sample.strings) != sample.truth
    wrong = (differ if heads is None else differ[..., heads]).any(axis=-1) & sample.mask
    wrong[0] &= not nonempty
    return float((~wrong.any(axis=0))[judged].mean())


def extract_by_clustering(net: Network, columns: np.ndarray, labels: tuple[str, ...], sample: Sample,
                          max_states: int, deadline: float) -> tuple[Machine, str | None]:
    """Explore under several quantisations and keep the machine that agrees best with the network on the
    sample (fewest states among equals); stop at the first perfect one."""
    best: tuple[float, Machine] | None = None
    machine = explore_nearest(net, columns, NEAREST_RADIUS, labels, CELLS_PER_STATE * max_states, deadline)
    if machine is not None and machine.size <= max_states:
        best = (agreement(machine, sample), machine)
        if best[0] == 1.0:
            return machine, None
    for kind, size in QUANTISERS:
        key = _level_key(net, int(size)) if kind == "levels" else _grid_key(size)
        machine = explore(net, columns, key, labels, max_states)
        if machine is not None:
            score = agreement(machine, sample)
            if best is None or (score, -machine.size) > (best[0], -best[1].size):
                best = (score, machine)
            if score == 1.0:
                return machine, None
        if time.perf_counter() > deadline and best is not None:
            return best[1], "time-limit"
    if best is None:
        raise UserError(f"every quantisation of the hidden states gave more than {max_states} cells; "
                        "use --method lstar, which does not explore every hidden state")
    return best[1], None


# ----- machines as grammars -----------------------------------------------------------------------
def _machine_heads(labels: Sequence[str]) -> bool:
    """Whether the heads are a Mealy or Moore machine's ``out:`` heads (one output at a time)."""
    return bool(labels) and all(parse_head(h)[0] == "out" for h in labels)


def _as_written(m: Machine, g: Grammar) -> Machine:
    """The machine that the written automaton ``g`` implements, over ``m``'s heads. A Mealy or Moore machine
    gives one output: where several ``out:`` heads are true in a state, the first is kept
    (:func:`outputs.extracted_machine`), and the network's other true heads become disagreements. A word that
    reaches a state without a true head has left the written machine for good: such edges go to a sink with no
    output. An acceptor's ``accept`` and ``next:`` heads are those its language gives (:func:`_semantics_machine`):
    a state whose ``next:`` heads the language cannot give is not written."""
    if not _machine_heads(m.labels):
        return _semantics_machine(g, m.labels)
    n = m.size
    outputs = np.zeros((n + 1, m.outputs.shape[1]), dtype=bool)
    outputs[np.arange(n), np.argmax(m.outputs, axis=1)] = m.outputs.any(axis=1)
    delta = np.vstack([m.delta, np.full((1, m.delta.shape[1]), n)])
    delta[~outputs.any(axis=1)[delta]] = n  # every edge into a state without output: to the sink
    return replace(m, outputs=outputs, delta=delta)


def _semantics_machine(g: Grammar, labels: tuple[str, ...]) -> Machine:
    """``g`` as a machine whose ``accept`` and ``next:`` outputs are what the semantics give its language (next:
    the symbol leads to a state from which acceptance is possible); a missing edge leads to a sink where every
    head is false."""
    sem = Semantics(g)
    order = [g.start, *(q for q in g.states if q != g.start)]  # a Machine starts in state 0
    row = {q: k for k, q in enumerate(order)}
    n = len(order)
    delta = np.full((n + 1, len(g.alphabet)), n, dtype=np.int64)
    for p, a, q in g.transitions:
        delta[row[p], g.symbol_index[a]] = row[q]
    columns = []
    for label in labels:
        kind, arg = parse_head(label)
        column = sem.accepting if kind == "accept" else sem.legal[:, g.symbol_index[arg]] if arg in g.symbol_index \
            else np.zeros(n, bool)
        columns.append(np.append(column[[g.state_index[q] for q in order]], False))
    return Machine(np.stack(columns, axis=1), delta, labels, g.alphabet)


def _several_outputs(sample: Sample, labels: Sequence[str]) -> float:
    """Share of the sample's words after which the network has two or more ``out:`` heads true at once (0 for
    other heads): words no Mealy or Moore machine can agree on."""
    if not _machine_heads(labels) or not len(sample.lengths):
        return 0.0
    return float((sample.final().sum(axis=-1) > 1).mean())


def to_grammar(m: Machine, name: str = "extracted", description: str = "", argmax: bool = False) -> Grammar:
    """A grammar with the machine's behaviour: with an accept head, its language (then minimised); with only
    next heads, edges for the legal symbols and acceptance where no symbol may follow; with out: heads, the
    minimal Moore or Mealy machine (:func:`outputs.extracted_machine`; Mealy for an ``argmax`` reading, which
    gives no output before the first symbol)."""
    labels = list(m.labels)
    if _machine_heads(labels):
        return extracted_machine(m.outputs, m.delta, labels, m.alphabet, name, description, mealy=argmax)
    states = [f"q{k}" for k in range(len(m.outputs))]
    if "accept" in labels:
        acc = m.outputs[:, labels.index("accept")]
        edges = [(states[s], a, states[int(m.delta[s, k])]) for s in range(len(states))
                 for k, a in enumerate(m.alphabet)]
    else:
        legal = {a: labels.index(f"next:{a}") for a in m.alphabet if f"next:{a}" in labels}
        acc = ~m.outputs[:, list(legal.values())].any(axis=1)
        edges = [(states[s], a, states[int(m.delta[s, m.alphabet.index(a)])]) for s in range(len(states))
                 for a, col in legal.items() if m.outputs[s, col]]
    g = Grammar(name=name, start=states[0], accept=frozenset(s for s, f in zip(states, acc) if f),
                alphabet=m.alphabet, states=tuple(states), transitions=tuple(edges), description=description)
    return renumber(minimise(g))


def _hidden_state_machine(net: Network, columns: np.ndarray, labels: tuple[str, ...], sample: Sample,
                          max_states: int) -> Machine | None:
    """The first quantisation whose machine agrees with the network on every sampled word, if one has at most
    ``max_states`` cells: an extra equivalence oracle for L* (exact on compiled, well-separated networks)."""
    for kind, size in QUANTISERS:
        key = _level_key(net, int(size)) if kind == "levels" else _grid_key(size)
        machine = explore(net, columns, key, labels, max_states)
        if machine is not None and agreement(machine, sample) == 1.0:
            return machine
    return None


def _split(words: Sequence[Word], rng: np.random.Generator) -> tuple[list[Word], list[Word], list[Word]]:
    """Typical words (distinct: a word written twice must not land on both sides): 50 % guide the search, 20 %
    pick the hypothesis written (validation), 30 % are held out for fidelity. Fewer than ``HOLD_OUT_FROM`` guide
    and validate, and none is held out: fidelity is then measured as without typical words."""
    words = list(words)
    if len(words) < HOLD_OUT_FROM:
        return words, words, []
    order = rng.permutation(len(words))
    guide, check = int(len(words) * 0.5), int(len(words) * 0.7)
    return ([words[k] for k in order[:guide]], [words[k] for k in order[guide:check]],
            [words[k] for k in order[check:]])


def _validation_words(rng: np.random.Generator, typical: Sequence[Word], check: list[Word], symbols: int,
                      length: int, guided: Callable[[np.random.Generator, int], list[Word]], samples: int
                      ) -> list[Word]:
    """Words like the user's: with at least ``HOLD_OUT_FROM`` typical words, the validation share of them and their
    near neighbours; otherwise twice as many words as the fidelity sample, drawn the same way (uniform words, half
    of them generated by the network's next heads when it has them) but independently, plus any typical words
    and their neighbours."""
    if len(typical) >= HOLD_OUT_FROM:
        return check + variations(rng, check, symbols)
    generated = guided(rng, samples)
    return (random_words(rng, symbols, 2 * samples - len(generated), length) + generated + check
            + variations(rng, check, symbols))


def extract(model: Model, method: str = "lstar", seed: int = 0, reading: Reading | None = None,
            words: Sequence[Sequence[str]] | None = None, max_states: int = 500, time_limit: float = 60.0,
            sample_length: int | None = None, samples: int | None = None, progress: Progress | None = None,
            run: Runner | None = None, patience: int = PATIENCE, min_fidelity: float = MIN_FIDELITY) -> Extraction:
    """Extract the automaton a network implements (see module doc). ``words`` are typical inner words (symbol
    names); they guide the search and, held out in part, measure the fidelity. ``run`` answers the batched
    queries over the sampled and held-out words (:func:`shard_queries.cluster_runner` shards them on Dask). L*
    stops after ``patience`` rounds without progress in validation agreement (see :mod:`fsm_lstm.lstar`), and
    prefers no smaller automaton whose validation agreement falls below ``min_fidelity``."""
    with one_blas_thread() if method == "lstar" else blas_threads(model):
        return _extract(model, method, seed, reading, words, max_states, time_limit, sample_length, samples, progress,
                        run, patience, min_fidelity)


def _extract(model: Model, method: str, seed: int, reading: Reading | None, words: Sequence[Sequence[str]] | None,
             max_states: int, time_limit: float, sample_length: int | None, asked: int | None,
             progress: Progress | None, run: Runner | None, patience: int, min_fidelity: float) -> Extraction:
    if method not in METHODS:
        raise UserError(f"unknown extraction method {method!r}; use {' or '.join(METHODS)}")
    if max_states < 1:
        raise UserError(f"--max-states must be at least 1, not {max_states}")
    check_patience(patience)
    if not time_limit > 0:
        raise UserError(f"--time-limit must be a positive number of seconds, not {time_limit}")
    t0 = time.perf_counter()
    reading = reading_of(model) if reading is None else reading
    net = Network(model, reading)
    columns = output_columns(model, reading)
    labels = tuple(model.heads[c] for c in columns)
    K = len(net.inner)
    rng = np.random.default_rng(seed)
    index = {a: k for k, a in enumerate(net.inner)}
    typical = list(dict.fromkeys(tuple(index[a] for a in w) for w in (words or [])))  # each word once
    bound = None if sample_length else _outlier_bound([len(w) for w in typical])
    left_out = sum(len(w) > bound for w in typical) if bound is not None else 0
    if typical and left_out == len(typical):
        raise UserError(f"every word of --words is longer than {MAX_WORD_LENGTH:,} symbols; extraction samples words "
                        "as long as the typical ones: give words of the length the network was trained on")
    typical = [w for w in typical if bound is None or len(w) <= bound]
    guide, check, held = _split(typical, rng)
    longest = max((len(w) for w in typical), default=0)  # words that are held out set the sampled words' length
    length = sample_length or (longest if len(typical) >= HOLD_OUT_FROM else max(longest, 20))
    heads = [parse_head(h) for h in model.heads]
    nexts = [(k, index[arg]) for k, (kind, arg) in enumerate(heads)
             if kind == "next" and arg in index and not reading.final_only]
    if asked is not None and not 10 <= asked <= MAX_SAMPLES:
        raise UserError(f"--samples must be from 10 to {MAX_SAMPLES:,} words, not {asked:,}")
    samples = asked or (SAMPLES if run is not None else _fitted_samples(net, columns, length, time_limit))
    base = observe(net, columns, random_words(rng, K, samples, length) + guide + variations(rng, guide, K)
                   + guided_words(net, nexts, rng, samples, length), run=run)
    if held:
        held_sample, source = observe(net, columns, held, run=run), "the --words held out"
    else:
        other = np.random.default_rng(seed + 1)
        shortest = 1 if reading.nonempty else 0  # an empty word is not judged: none is held out
        held_sample = observe(net, columns, random_words(other, K, samples // (2 if nexts else 1), length, shortest)
                              + guided_words(net, nexts, other, samples // 2, length), run=run)
        source = f"uniform random words of length {shortest}-{length}" + (", half of them generated by following the "
                                                                   "network's next heads" if nexts else "") + (
            f"; none of the --words held out ({counted(len(guide), 'distinct word')}: fewer than {HOLD_OUT_FROM}, "
            "all guide the search)"
            if typical else "")
    deadline = t0 + time_limit
    if method == "lstar":
        small = sum(layer.weight_hh.size for layer in model.layers) <= SMALL_NETWORK
        reference = _hidden_state_machine(net, columns, labels, base, max_states) if small else None
        validation = observe(net, columns, _validation_words(
            np.random.default_rng([seed, 2]), typical, check, K, length,
            lambda r, n: guided_words(net, nexts, r, n, length), samples), run=run)
        learned = learn(net, columns, labels, base, rng, max_states, deadline, progress=progress, reference=reference,
                        validation=validation, patience=patience, every_prefix=not reading.final_only,
                        min_fidelity=min_fidelity)
        machine, stopped, unmerged, cut = learned.machine, learned.stopped, learned.unmerged, learned.merging_cut
    else:
        machine, stopped = extract_by_clustering(net, columns, labels, base, max_states, deadline)
        unmerged, cut = None, False
    if reading.nonempty:  # what it gives on the empty word is free: the smallest machine
        machine = free_start(machine)
        unmerged = None if unmerged is None else free_start(unmerged)
    description = f"extracted by fsm-lstm ({method})"
    grammar, before = to_grammar(machine, description=description, argmax=model.argmax_outputs), None
    if unmerged is not None:
        original = to_grammar(unmerged, description=description, argmax=model.argmax_outputs)
        if len(original.states) < len(grammar.states):  # merged over every head, the written automaton grew
            machine, grammar = unmerged, original
        else:
            before = len(original.states)
    written = _as_written(machine, grammar)
    every = not reading.final_only  # per prefix: a word is right when every prefix of it is
    longer = _longer(net, columns, written, seed, length, max(1, samples // 2), every,
                     reading.nonempty)
    fidelity = agreement(written, held_sample, None, every, reading.nonempty)
    learned_fidelity = agreement(machine, held_sample, None, every, reading.nonempty)
    accept_only = [labels.index("accept")] if "accept" in labels and len(labels) > 1 else None
    cut_samples = (samples, SAMPLES) if samples < SAMPLES and asked is None else None
    judged = len(held_sample.lengths)
    if reading.nonempty:  # the fidelity is of the other words
        empty = int((held_sample.lengths == 0).sum())
        judged -= empty
        source += f"; besides them, {counted(empty, 'empty word')} not judged (--nonempty)" if empty else ""
    return Extraction(machine, grammar, method, reading, fidelity, judged, source,
                      time.perf_counter() - t0, net.calls, stopped, before, _several_outputs(held_sample, labels),
                      longer, cut, learned_fidelity if learned_fidelity > fidelity else None,
                      None if accept_only is None else agreement(written, held_sample, accept_only, every,
                                                                 reading.nonempty),
                      cut_samples, (left_out, bound) if left_out else None)


def _outlier_bound(lengths: Sequence[int]) -> int | None:
    """The length beyond which a typical word is an outlier, left out: ``OUTLIER_FACTOR`` times the 90th
    percentile of their lengths (the lower of two), at least 20 and at most ``MAX_WORD_LENGTH``. The longest word
    left sets the length of every sampled word, so one line of a million symbols (a log pasted whole, a missing
    newline) would make every sampled word that long, and the run overrun its time limit many times over (one
    such line alone took 6.6 GB and minutes)."""
    if not lengths:
        return None
    return min(MAX_WORD_LENGTH, max(20, OUTLIER_FACTOR * int(np.percentile(lengths, 90, method="lower"))))


def _fitted_samples(net: Network, columns: np.ndarray, length: int, time_limit: float) -> int:
    """``SAMPLES``, or the largest of ``CUT_SIZES`` that fits (the smallest where none does) when running
    ``SAMPLES`` words per sample would take this network more than ``SAMPLING_SHARE`` of the time limit, as
    timed on uniform words of the sampled length: 16 (enough when even their cost per word, the higher of a
    small batch, fits), then ``_PROBE_WORDS`` unless the 16 foresee those taking more than ``_PROBE_SHARE`` of
    the limit. A cut is timed again on other words and the quicker time decides (a busy machine can stall one
    run). The result depends on timing where the need is near a size's bound; the probes' queries are not
    counted: they serve nothing else."""
    calls, budget = net.calls, SAMPLING_SHARE * time_limit

    def per_word(count: int, seed: int) -> float:
        probe = random_words(np.random.default_rng([_PROBE_WORDS, seed]), len(net.inner), count, length)
        start = time.perf_counter()
        observe(net, columns, probe)
        return (time.perf_counter() - start) / count

    quick = per_word(16, 0)  # a small batch's cost per word is the higher: if even it fits, all is said
    if quick * _WORDS_PER_SAMPLE * SAMPLES <= budget:
        net.calls = calls
        return SAMPLES
    count = _PROBE_WORDS if quick * _PROBE_WORDS <= _PROBE_SHARE * time_limit else 16
    cost = quick if count == 16 else per_word(count, 1)
    if cost * _WORDS_PER_SAMPLE * SAMPLES > budget:
        cost = min(cost, per_word(count, 2))
    net.calls = calls
    need = cost * _WORDS_PER_SAMPLE * SAMPLES
    if need <= budget:
        return SAMPLES
    return next((size for size in CUT_SIZES if need * size / SAMPLES <= budget), CUT_SIZES[-1])


