"""Fewer states: merging the states of a learned machine that the network's sampled answers do not tell apart,
then those worth less than they cost.

When L* stops early (a limit or a plateau) on a network that is not exactly finite-state, its hypothesis keeps
every state some counterexample asked for, and many of them matter to few sampled words. A state is merged into
another (every edge into it redirected there) when that leaves no more prefixes of the sampled words wrong
(the machine's outputs differ from the network's) than before (:func:`merge_states`). The least visited states
are tried first, each against the ``CANDIDATES`` states with its outputs that behave most like it on short probe
words; passes repeat until none merges or a deadline passes, and the result is minimised. The count of wrong
sampled prefixes never rises. A state no sampled word reaches costs nothing to merge: the samples cannot tell it
from its most alike state.

:func:`merge_within` goes on at a cost: a merge may add a few wrong sampled prefixes (``ALLOWANCES``, the
fewest first), and is made only when a caller's test of the merged machine (L*: its agreement on two samples)
accepts it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from .machine import Machine, minimise_moore
from .sampling import Sample

__all__ = ["ALLOWANCES", "CANDIDATES", "Keep", "PROBES", "PROBE_LENGTH", "merge_states", "merge_within"]

Keep = Callable[[Machine], bool]  # whether a merged machine may be kept

CANDIDATES = 4  # states a state is tried against, the most alike on the probe words first
PROBES = 64  # probe words (PROBE_LENGTH symbols, every prefix read) that measure how alike two states are
PROBE_LENGTH = 3
ALLOWANCES = (1, 2, 4, 8, 16, 32, 64)  # wrong sampled prefixes one merge may add, the fewest tried first


def _wrong_counts(outputs: np.ndarray, deltas: np.ndarray, strings: np.ndarray, truth: np.ndarray,
                  mask: np.ndarray) -> np.ndarray:
    """(C, B) for each of C transition tables (C, n, K) sharing ``outputs``, how many prefixes of each word of a
    (B, T) batch it gets wrong (``truth`` (T+1, B, O) and ``mask`` (T+1, B) as a sample holds them)."""
    C, n, K = deltas.shape
    table = deltas.reshape(-1)  # one flat index per (table, state, symbol): cheaper than three index arrays
    offset = (np.arange(C, dtype=np.int64) * (n * K))[:, None]
    state = np.zeros((C, len(strings)), dtype=np.int64)
    count = np.zeros(state.shape, dtype=np.int64)
    one = outputs.shape[1] == 1  # one head (a word classifier): bools compared, not rows
    said, right = (outputs[:, 0], truth[..., 0]) if one else (outputs, truth)
    for t in range(strings.shape[1] + 1):
        if t:
            state = table[offset + state * K + strings[None, :, t - 1]]
        differs = said[state] != right[t][None]
        count += (differs if one else differs.any(axis=-1)) & mask[t][None]
    return count


def _probe_outputs(machine: Machine, rng: np.random.Generator) -> np.ndarray:
    """(n, features) each state's outputs along the probe words: states alike here are tried first."""
    probes = rng.integers(0, machine.delta.shape[1], size=(PROBES, PROBE_LENGTH))
    state = np.repeat(np.arange(machine.size)[:, None], PROBES, axis=1)
    seen = [machine.outputs]
    for t in range(PROBE_LENGTH):
        state = machine.delta[state, probes[None, :, t]]
        seen.append(machine.outputs[state].reshape(machine.size, -1))
    return np.concatenate(seen, axis=1)


def _merge_pass(machine: Machine, sample: Sample, rng: np.random.Generator, deadline: float, allowance: int = 0,
                keep: Keep | None = None) -> Machine:
    """One pass over the states, least visited first, until the deadline (see module doc): a merge may add up to
    ``allowance`` wrong sampled prefixes, and is made only if ``keep`` (when given) accepts the merged machine."""
    delta = machine.delta.copy()
    mask = sample.mask
    states = machine.states_along(sample.strings)
    wrong = _wrong_counts(machine.outputs, machine.delta[None], sample.strings, sample.truth, mask)[0]  # per word
    features = _probe_outputs(machine, rng)
    alive = np.ones(machine.size, dtype=bool)
    visits = np.bincount(states[mask], minlength=machine.size)
    for s in np.argsort(visits, kind="stable"):
        if time.perf_counter() > deadline:
            break
        if s == 0:
            continue
        alike = np.flatnonzero(alive & (machine.outputs == machine.outputs[s]).all(axis=1))
        alike = alike[alike != s]
        if not len(alike):
            continue
        candidates = alike[np.argsort((features[alike] != features[s]).sum(axis=1), kind="stable")[:CANDIDATES]]
        words = np.flatnonzero(((states == s) & mask).any(axis=0))
        steps = int(sample.lengths[words].max()) if len(words) else 0
        trials = np.where(delta[None] == s, candidates[:, None, None], delta[None])  # (C, n, K)
        counts = _wrong_counts(machine.outputs, trials, sample.strings[words, :steps], sample.truth[:steps + 1, words],
                               mask[:steps + 1, words])
        best = int(np.argmin(counts.sum(axis=1)))  # the first of the fewest wrong prefixes
        if counts[best].sum() > wrong[words].sum() + allowance:
            continue
        merged = Machine(machine.outputs, trials[best], machine.labels, machine.alphabet)
        if keep is not None and not keep(merged):
            continue
        wrong[words], delta = counts[best], trials[best]
        states[:, words] = merged.states_along(sample.strings[words])
        alive[s] = False
    return minimise_moore(Machine(machine.outputs, delta, machine.labels, machine.alphabet))


def merge_states(machine: Machine, sample: Sample, rng: np.random.Generator,
                 deadline: float = float("inf")) -> Machine:
    """The machine with states merged while no more sampled prefixes go wrong, until ``deadline`` (a
    ``time.perf_counter()`` value; see module doc); minimised."""
    return _merged_in_passes(machine, sample, rng, deadline, (0,), None)


def merge_within(machine: Machine, sample: Sample, keep: Keep, rng: np.random.Generator,
                 deadline: float = float("inf")) -> Machine:
    """The machine with more states merged at a cost: a merge may add a few wrong prefixes of ``sample``
    (``ALLOWANCES``, the fewest first, the next only when a pass merges nothing more), and is made only when
    ``keep`` accepts the merged machine; until ``deadline``; minimised."""
    return _merged_in_passes(machine, sample, rng, deadline, ALLOWANCES, keep)


def _merged_in_passes(machine: Machine, sample: Sample, rng: np.random.Generator, deadline: float,
                      allowances: tuple[int, ...], keep: Keep | None) -> Machine:
    """Passes at each allowance in turn, the next when a pass merges nothing (or the deadline passes)."""
    machine = minimise_moore(machine)  # unreachable states would merge for free and stop being targets
    for k, allowance in enumerate(allowances):
        if k and time.perf_counter() > deadline:  # a pass after the deadline would merge nothing
            break
        while True:
            smaller = _merge_pass(machine, sample, rng, deadline, allowance, keep)
            done = smaller.size == machine.size
            machine = smaller
            if done:
                break
    return machine
