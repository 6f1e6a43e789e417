"""Angluin's L* with the network as teacher, built to cope with large trained networks.

- Membership queries: an observation table (:mod:`observation_table`) whose rows (access words and their
  one-symbol extensions) keep their hidden states, so a query costs only the steps of its suffix. On networks
  of more than ``SIFT_ABOVE`` recurrent weights an extension row is *sifted*: asked only the suffixes that tell
  apart the states it may still be (about 8 of 48 suffixes at 225 states on lstm256_q100_s25); rows the
  sampled words cross at least ``MIN_TRAFFIC`` times are completed. Smaller networks complete every row, which
  is cheaper there than the bookkeeping (measured: the 64-unit benchmark networks took 2-3x longer sifted).
- Closing only where the samples go: an extension row that matches no access row is a *loose* edge of the
  hypothesis, sent to the access row that differs in the fewest known cells. It becomes a state of its own only
  when at least ``MIN_TRAFFIC`` sampled prefixes cross it (the busiest first), or when a counterexample's
  breakpoint falls on it. On a network that is not exactly finite-state, closing every new row spends
  the state budget on rows no typical word reaches (measured: 5.9 % error at the 500-row cap within a second
  on rnn64_q20_s20, against about 4 % this way).
- Equivalence queries: the hypothesis is compared with the network on sampled words (uniform words, the
  user's typical words and their near neighbours, and words that reach every hypothesis state), all prefixes
  included. The counterexample is the shortest disagreeing prefix of a random sampled word on which they
  differ, not the shortest of all: on a network that is not exactly finite-state, the shortest disagreements
  are a few short, untypical words, and fixing them adds states that typical words do not need (measured on
  rnn512_q200_s30_under: 8.6 % error on the bench's held-out words with the shortest of all, 5.3 % this way).
- Counterexamples are processed as Rivest and Schapire do: a binary search finds one new distinguishing
  suffix, so the table grows by one column per counterexample. The breakpoint edge's row is completed first
  (if it was only sifted, that may send the edge elsewhere); when the suffix is a column already, the
  breakpoint is a loose edge, which is promoted instead.
- Limits: ``max_states``, a deadline, and a plateau: ``patience`` rounds in a row none of whose hypotheses is
  significantly better, on a separate validation sample, than the best one before them (paired tests,
  :mod:`fsm_lstm.paired`; never while that best is exact on the sample: an exact network keeps going until the
  samples find no counterexample). The wait is shorter (``OUTGROWN_SHARE`` of it) once every hypothesis in it has
  ``OUTGROWN_FACTOR`` times the states of the one that would be returned (below): on the curves of 14 bench
  networks (``bench/hypothesis_curve.py``), that stopped the 4 plateau-stopped ones 15-26 rounds sooner
  (lstm256_q100_s25 at round 30, not 53) with the same hypothesis chosen, or on gru512_q200_s30 a smaller and
  better one (5 states at 1.10 % held-out error, where 180 states at 1.20 % were merged to 56), and changed none
  of the others. On a network that is not exactly finite-state, L* otherwise chases irregularities until a limit.
  When a limit is reached (or only loose edges too quiet to promote are left), the hypothesis returned is the
  smallest one whose agreement with the network on the validation sample is within :func:`tolerance` of the best
  seen (``OCCAM``; ``OCCAM_WORDS`` words on a small sample), and not below the fidelity asked for when the best
  is not, with its states merged (:mod:`state_merging`; L*'s rounds stop ``MERGE_SHARE`` of the time early to
  leave it room): first every merge after which no more prefixes of the equivalence and validation samples go
  wrong; then merges that cost a few wrong prefixes of the equivalence sample, each kept only while the
  agreement stays within that tolerance of the best seen on the validation sample and of the first merging's on
  the equivalence sample. The second test matters: judged by the validation words alone, the merges fitted them
  (held-out error up to 1.3 points higher on rnn256x2_q100_s28); with both, the 9 bench networks that stopped
  with 60 or more states kept 1.7-3.9 times fewer, the held-out error moving by 0.8 point at most either way
  (docs/extraction.md). Agreement counts a word right when the machine gives the network's outputs after it, or
  after every prefix of it when the heads are read at every prefix.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import UserError
from .limits import PATIENCE
from .machine import Machine, machine_difference, minimise_moore
from .observation_table import ObservationTable
from .paired import plateau
from .queries import Network
from .sampling import Sample, joined, observe, random_words
from .state_merging import merge_states, merge_within

__all__ = ["Learned", "MERGE_SHARE", "MIN_TRAFFIC", "OCCAM", "OCCAM_WORDS", "OUTGROWN_FACTOR", "OUTGROWN_SHARE",
           "Progress", "SIFT_ABOVE", "Word", "check_patience", "learn", "tolerance"]

Word = tuple[int, ...]
Progress = Callable[[str], None]
OCCAM = 0.0025  # agreement (share of validation words) worth no extra states: a preference, not a statistic
OCCAM_WORDS = 2  # ... and at least this many words of the sample: on 400 words, 0.25 points is one word
MIN_TRAFFIC = 3  # sampled prefixes that must cross a loose edge before it becomes a state
SIFT_ABOVE = 32 * 1024  # recurrent weights above which extension rows are sifted rather than completed
MERGE_SHARE = 0.1  # of the time to the deadline, kept for merging states after an early stop (L* stops before it)
OUTGROWN_SHARE = 0.4  # of the patience: the shorter wait once every recent hypothesis has outgrown the chosen one
OUTGROWN_FACTOR = 4  # ... by this many times its states


def _recurrent_weights(net: Network) -> int:
    return sum(layer.weight_hh.size for layer in net.model.layers)


@dataclass(frozen=True)
class Learned:
    """The learner's result: the machine, rounds of equivalence queries, why it stopped early (None when the
    samples found no counterexample; else "time-limit", "max-states" or "plateau"), its agreement with the network
    on the validation sample (the samples of its last round without one), every round's (hypothesis states before
    minimisation, agreement), and after an early stop the chosen hypothesis before merging (minimised)."""

    machine: Machine
    rounds: int
    stopped: str | None
    agreement: float
    history: tuple[tuple[int, float], ...] = ()
    unmerged: Machine | None = None  # after an early stop, the chosen hypothesis before its states were merged
    merging_cut: bool = False  # the deadline stopped the merging before it was done


def _right(sample: Sample, machine: Machine, every_prefix: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(T+1, B) where the machine and the network differ on a sampled prefix, and (B,) the words the machine gets
    right: after the whole word, or with ``every_prefix`` after each of its prefixes (a network whose heads are
    read at every prefix can be wrong inside a word and right at its end)."""
    wrong = (machine.run(sample.strings) != sample.truth).any(axis=-1) & sample.mask
    right = ~wrong.any(axis=0) if every_prefix else ~wrong[sample.lengths, np.arange(len(sample.lengths))]
    return wrong, right


def _agreement(right: np.ndarray) -> float:
    """The share of validation words a hypothesis gets right (1 for no words)."""
    return float(right.mean()) if len(right) else 1.0


def _agreement_on(sample: Sample, machine: Machine, every_prefix: bool) -> float:
    """The share of the sample's words the machine gets right (:func:`_right`)."""
    return _agreement(_right(sample, machine, every_prefix)[1])


def _disagreement(sample: Sample, machine: Machine, skip: set[Word], every_prefix: bool = False,
                  rng: np.random.Generator | None = None) -> Word | None:
    """A sampled prefix on which the machine and the network differ (not in ``skip``; :func:`_right`). The prefix
    is the shortest of all, or with ``rng`` the shortest of a random word on which they differ (see
    :func:`learn`)."""
    return _first_wrong(sample, _right(sample, machine, every_prefix)[0], skip, rng)


def _first_wrong(sample: Sample, wrong: np.ndarray, skip: set[Word], rng: np.random.Generator | None) -> Word | None:
    """:func:`_disagreement` from the (T+1, B) prefixes where they differ."""
    if rng is not None:
        pairs = ((int(t), int(b)) for b in rng.permutation(np.flatnonzero(wrong.any(axis=0)))
                 for t in np.flatnonzero(wrong[:, b]))
    else:
        steps, cols = np.nonzero(wrong)
        pairs = iter(sorted(zip(steps.tolist(), cols.tolist())))
    for t, b in pairs:
        word = sample.word(b, t)
        if word not in skip:
            return word
    return None


def tolerance(words: int) -> float:
    """The agreement on a sample of ``words`` words that is worth no extra states: ``OCCAM``, or ``OCCAM_WORDS``
    words where that is more (a hair more, so that rounding never refuses a machine just that many words
    behind)."""
    if not words or words >= round(OCCAM_WORDS / OCCAM):  # 800 words or more: OCCAM is 2 words or more
        return OCCAM
    return OCCAM_WORDS / words * (1 + 1e-9)


def _validation_floor(top: float, min_fidelity: float, words: int) -> float:
    """The least validation agreement a smaller machine may have (``top``: the best seen, on ``words`` words):
    within :func:`tolerance` of ``top``, and not below ``min_fidelity`` when ``top`` reaches it. When even the
    best falls below ``min_fidelity``, the run is poor whichever machine is written, and the preference for fewer
    states stands."""
    lowest = top - tolerance(words)
    return lowest if top < min_fidelity else max(lowest, min_fidelity)


def _chosen(seen: list[tuple[np.ndarray, Machine]], min_fidelity: float) -> Machine:
    """The smallest hypothesis whose validation agreement is within :func:`tolerance` of the best
    (:func:`_validation_floor`)."""
    scored = [(_agreement(r), m) for r, m in seen]
    lowest = _validation_floor(max(agree for agree, _ in scored), min_fidelity, len(seen[0][0]))
    return min(((a, m) for a, m in scored if a >= lowest), key=lambda am: (am[1].size, -am[0]))[1]


def _early_result(seen: list[tuple[np.ndarray, Machine]], rounds: int, why: str,
                  history: tuple[tuple[int, float], ...], base: Sample, validation: Sample | None,
                  every_prefix: bool, rng: np.random.Generator, seconds: float, min_fidelity: float) -> Learned:
    """What L* returns when it stops early: the hypothesis :func:`_chosen` picks, with the states merged that the
    sampled words (equivalence and validation samples) do not need, then with a validation sample those whose
    merging keeps both samples' agreement within :func:`tolerance` (:func:`_merged`); for at most ``seconds``."""
    chosen = minimise_moore(_chosen(seen, min_fidelity))
    deadline = time.perf_counter() + seconds
    machine = _merged(chosen, seen, base, validation, every_prefix, rng, deadline, min_fidelity)
    cut = time.perf_counter() > deadline  # before the agreement below, which is not part of the merging
    agree = _agreement_on(base if validation is None else validation, machine, every_prefix)
    return Learned(machine, rounds, why, agree, history, chosen, cut)


def _merged(chosen: Machine, seen: list[tuple[np.ndarray, Machine]], base: Sample, validation: Sample | None,
            every_prefix: bool, rng: np.random.Generator, deadline: float, min_fidelity: float) -> Machine:
    """``chosen`` with its states merged (:mod:`state_merging`): first at no more wrong prefixes of the sampled
    words (dropped if they leave the validation agreement below :func:`_validation_floor` of the best seen, where
    ``chosen`` is); then, given a validation sample, merges that may cost a few wrong prefixes of the equivalence
    sample, each kept only while the validation agreement stays at or above that floor and the equivalence
    sample's within :func:`tolerance` of the first merging's (the validation words judge every merge, and would
    be fitted if they alone did)."""
    if validation is None:
        return merge_states(chosen, base, rng, deadline)
    top = max(_agreement(r) for r, _ in seen)
    machine = merge_states(chosen, joined(base, validation), rng, deadline)
    words = len(validation.lengths)
    if _agreement_on(validation, machine, every_prefix) < _validation_floor(top, min_fidelity, words):
        machine = chosen  # the free merges moved wrong words onto the validation sample, below the floor
    lowest = _validation_floor(max(top, _agreement_on(validation, machine, every_prefix)), min_fidelity, words)
    floor = _agreement_on(base, machine, every_prefix) - tolerance(len(base.lengths))
    return merge_within(machine, base, lambda m: _agreement_on(validation, m, every_prefix) >= lowest
                        and _agreement_on(base, m, every_prefix) >= floor, rng, deadline)


def _confirmed(net: Network, columns: np.ndarray, machine: Machine, word: Word | None) -> Word | None:
    """``word`` if the network's answer after it differs from the machine's."""
    if word is None:
        return None
    said = net.final_logits([word])[0, columns] > 0
    return word if not np.array_equal(said, machine.outputs[machine.state_after(word)]) else None


def _traffic(machine: Machine, sample: Sample) -> np.ndarray:
    """(n, K) how many sampled prefixes cross each edge of the machine."""
    states = machine.states_along(sample.strings)[:-1]  # (T, B): the state before each symbol
    real = np.arange(sample.strings.shape[1])[:, None] < sample.lengths[None, :]
    K = machine.delta.shape[1]
    edges = states[real] * K + sample.strings.T[real]
    return np.bincount(edges, minlength=machine.size * K).reshape(machine.size, K)


def _tighten(table: ObservationTable, sample: Sample, labels: tuple[str, ...], alphabet: tuple[str, ...],
             max_states: int, min_traffic: int) -> tuple[Machine, dict[tuple[int, int], int], bool]:
    """Complete the rows of the edges that at least ``min_traffic`` sampled prefixes cross, then promote loose
    extensions among them, one per distinct row (the busiest first), until none is left or ``max_states`` is
    reached; the hypothesis, its loose edges, and whether room ran out."""
    while True:
        machine, loose = table.hypothesis(labels, alphabet)
        traffic = _traffic(machine, sample)
        if table.fill(table.extensions[traffic >= min_traffic]):
            machine, loose = table.hypothesis(labels, alphabet)
        room = max_states - len(table.access)
        if not loose or room <= 0:
            return machine, loose, bool(loose)
        load: dict[bytes, int] = {}
        pick: dict[bytes, tuple[int, int]] = {}
        for (k, a), row in loose.items():
            if not table.complete(row):
                continue
            s, t = table.cells[row].tobytes(), int(traffic[k, a])
            load[s] = load.get(s, 0) + t
            if s not in pick or t > pick[s][0]:
                pick[s] = (t, row)
        chosen = sorted((-load[s], pick[s][1]) for s in load if load[s] >= min_traffic)
        if not chosen:
            return machine, loose, False
        table.promote([row for _, row in chosen[:room]])


def _outgrown(seen: list[tuple[np.ndarray, Machine]], right: np.ndarray, patience: int,
              min_fidelity: float = 0.0) -> bool:
    """The plateau test over a shorter window (``OUTGROWN_SHARE`` of the patience), once every hypothesis in it
    has at least ``OUTGROWN_FACTOR`` times the states of the one :func:`_chosen` would return: L* is then adding
    states that the choice would throw away, and waiting the whole patience only confirms it. ``right`` stacks
    the validation words each hypothesis of ``seen`` gets right."""
    window = max(1, round(OUTGROWN_SHARE * patience))
    if len(seen) <= window:
        return False
    size = _chosen(seen, min_fidelity).size
    if any(m.size < OUTGROWN_FACTOR * size for _, m in seen[-window:]):
        return False
    return plateau(right, window)


def check_patience(patience: int) -> None:
    """Refuse a plateau stop that could never be measured (at least one round must be compared)."""
    if patience < 1:
        raise UserError(f"--patience must be at least 1 round, not {patience}")


def learn(net: Network, columns: np.ndarray, labels: tuple[str, ...], base: Sample, rng: np.random.Generator,
          max_states: int = 500, deadline: float = float("inf"), probe_length: int = 20,
          reference: Machine | None = None, progress: Progress | None = None, validation: Sample | None = None,
          min_traffic: int = MIN_TRAFFIC, patience: int = PATIENCE, every_prefix: bool = False,
          min_fidelity: float = 0.0) -> Learned:
    """Learn a Moore machine of the network's ``columns`` heads over its inner alphabet (see module doc).
    ``reference``, a machine read off the hidden states, adds one more equivalence check: its shortest
    difference from the hypothesis, once the network confirms it. ``every_prefix``: the heads are read at every
    prefix, so a validation word counts as right only when every prefix of it is. ``min_fidelity``: a smaller
    machine is not preferred for falling below this validation agreement (unless every machine does)."""
    check_patience(patience)
    merging = MERGE_SHARE * max(0.0, deadline - time.perf_counter())  # seconds (inf without a deadline)
    if np.isfinite(merging):
        deadline -= merging  # L*'s own rounds stop early enough for the merging to end by the deadline
    K = len(net.inner)
    table = ObservationTable(net, columns, K, lazy=_recurrent_weights(net) > SIFT_ABOVE)
    skip: set[Word] = set()
    seen: list[tuple[np.ndarray, Machine]] = []  # each hypothesis and the validation words it gets right
    rounds = 0
    threshold = min_traffic

    def history() -> tuple[tuple[int, float], ...]:
        return tuple((m.size, _agreement(r)) for r, m in seen)

    while True:
        rounds += 1
        machine, loose, full = _tighten(table, base, labels, net.inner, max_states, threshold)
        wrong, right = _right(base, machine, every_prefix)  # the base sample is run once, for both uses
        word = _first_wrong(base, wrong, skip, rng)
        if validation is not None:
            right = _right(validation, machine, every_prefix)[1]
        agree = _agreement(right)
        if word is None:
            access = [table.words[r] for r in table.access]
            count = max(200, 2 * len(access))
            probes = [access[int(q)] + w for q, w in zip(rng.integers(0, len(access), size=count),
                                                         random_words(rng, K, count, probe_length, 1))]
            word = _disagreement(observe(net, columns, probes), machine, skip)
        if word is None and reference is not None:
            word = _confirmed(net, columns, machine, machine_difference(machine, reference))
            word = None if word in skip else word
        seen.append((right, machine))
        if progress:
            progress(f"L*: round {rounds}, {machine.size} states ({len(loose)} loose edges), "
                     f"{len(table.suffixes)} suffixes, agreement {agree:.2%} on the samples")
        if word is None and not loose and (threshold == 0 or table.known[table.extensions].all()):
            return Learned(minimise_moore(machine), rounds, None, agree, history())
        late = time.perf_counter() > deadline
        right_so_far = np.stack([r for r, _ in seen])
        flat = plateau(right_so_far, patience) or _outgrown(seen, right_so_far, patience, min_fidelity)
        if late or flat or (word is None and full):
            why = "time-limit" if late else "plateau" if flat else "max-states"
            return _early_result(seen, rounds, why, history(), base, validation, every_prefix, rng, merging,
                                 min_fidelity)
        if word is None:  # no counterexample: close the table, quiet edges included
            threshold = 0
            continue
        threshold = min_traffic
        suffix = table.distinguishing_suffix(machine, word)
        if suffix is None:
            skip.add(word)  # the network answered differently in another batch: rounding at a logit near 0
            continue
        cut = len(word) - len(suffix) - 1  # the breakpoint: the edge whose row the suffix tells from its target
        state, symbol = machine.state_after(word[:cut]), word[cut]
        row = int(table.extensions[state, symbol])
        if not table.complete(row):  # it was only sifted: its whole row first, which may send it elsewhere
            table.fill([row])
            if not table.is_new(row) and table.target(row) != machine.delta[state, symbol]:
                continue
        if suffix not in table.suffixes:
            table.add_suffix(suffix)
        elif not table.is_new(row):
            skip.add(word)
        elif len(table.access) < max_states:
            table.promote([row])
        else:
            return _early_result(seen, rounds, "max-states", history(), base, validation, every_prefix, rng,
                                 merging, min_fidelity)
