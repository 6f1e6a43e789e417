"""Verification of any model against any grammar, fastest layer first:

(a) the all-lengths certificate, where the model admits one (compiled single-layer LSTMs);
(b) exhaustive enumeration of every string up to a length, one batched step per level of the prefix trie;
(c) hypothesis search with pumped loops, near misses and arbitrary strings, shrunk to the shortest failure.

A failure is reported as the shortest string found whose last step disagrees with the semantics.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from .automata import equivalent
from .certify import certify, model_grammar
from .errors import UserError
from .grammar import Grammar
from .model import Model
from .reference import Reference, reference_for
from .runtime import Stepper, run, state_rows
from .strategies import every_kind
from .words import format_word

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Counterexample:
    """The string, and at its last step the head that disagrees."""

    word: tuple[str, ...]
    head: str
    expected: bool
    logit: float

    @property
    def step(self) -> int:
        """The step (prefix length) at which the head is wrong: the whole string."""
        return len(self.word)


@dataclass
class Report:
    """What was covered and what was found."""

    passed: bool
    counterexample: Counterexample | None
    checked: tuple[str, ...]
    skipped: tuple[str, ...]
    certificate: str
    proven: bool
    max_len: int = 0
    prefixes: int = 0
    examples: int = 0
    longest: int = 0
    notes: list[str] = field(default_factory=list)


def _first_failure(ref: Reference, logits: np.ndarray, states: np.ndarray) -> tuple[int, int] | None:
    """(row, checked-head index) of the first disagreement in a batch, rows in order."""
    bad = (logits[:, ref.columns] > 0) != ref.truth[states]
    rows = np.flatnonzero(bad.any(axis=1))
    if not rows.size:
        return None
    return int(rows[0]), int(np.flatnonzero(bad[rows[0]])[0])


def exhaustive(model: Model, ref: Reference, max_len: int, progress: Progress | None = None
               ) -> tuple[Counterexample | None, int, int]:
    """Every string up to ``max_len``, breadth first; the first failure is shortest and alphabetically first.
    Returns (failure, prefixes run, the length up to which every string agreed)."""
    stepper = Stepper(model)
    K = len(model.alphabet)
    state = stepper.initial(1)
    dfa = np.array([ref.start])
    prefixes = 1
    for level in range(max_len + 1):
        if level:
            n = len(dfa)
            parents = np.repeat(np.arange(n), K)
            symbols = np.tile(np.arange(K), n)
            state = stepper.step(state_rows(state, parents), symbols)
            dfa = ref.table[dfa[parents], symbols]
            prefixes += len(dfa)
        logits = stepper.heads(state)
        found = _first_failure(ref, logits, dfa)
        if found:
            row, head = found
            digits = np.unravel_index(row, (K,) * level) if level else ()
            word = tuple(model.alphabet[int(d)] for d in digits)
            return _counterexample(ref, word, head, float(logits[row, ref.columns[head]])), prefixes, level - 1
        if progress:
            progress(f"exhaustive: every string up to length {level} agrees ({prefixes:,} prefixes)")
    return None, prefixes, max_len


def _counterexample(ref: Reference, word: tuple[str, ...], head: int, logit: float) -> Counterexample:
    return Counterexample(word, ref.checked[head], not logit > 0, logit)


def check_word(model: Model, ref: Reference, word: tuple[str, ...]) -> Counterexample | None:
    """The shortest failing prefix of one string, or None."""
    index = {a: k for k, a in enumerate(model.alphabet)}
    symbols = [index[a] for a in word]
    logits = run(model, np.array([symbols], dtype=np.int64).reshape(1, -1)).heads[:, 0]
    found = _first_failure(ref, logits, ref.walk(symbols))
    if not found:
        return None
    t, head = found
    return _counterexample(ref, word[:t], head, float(logits[t, ref.columns[head]]))


def search(model: Model, ref: Reference, strategy: st.SearchStrategy[tuple[str, ...]], examples: int, seed: int
           ) -> tuple[Counterexample | None, int, int]:
    """Hypothesis search, shrunk; returns (shortest counterexample found, examples tried, longest string tried)."""
    tried = [0, 0]

    def fails(word: tuple[str, ...]) -> bool:
        tried[0] += 1
        tried[1] = max(tried[1], len(word))
        return check_word(model, ref, word) is not None

    config = settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                      phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
    try:
        word = find(strategy, fails, settings=config, random=random.Random(seed))
    except NoSuchExample:
        return None, tried[0], tried[1]
    found = check_word(model, ref, word)
    return found, tried[0], tried[1]


def default_max_len(symbols: int, budget: int = 2_000_000, cap: int = 12) -> int:
    """The longest length whose full prefix trie fits in ``budget`` prefixes."""
    total, level = 1, 0
    while level < cap and total + symbols ** (level + 1) <= budget:
        level += 1
        total += symbols ** level
    return level


def verify(model: Model, grammar: Grammar | None = None, unknown_start: bool | None = None,
           max_len: int | None = None, examples: int = 200, seed: int = 0,
           progress: Progress | None = None) -> Report:
    """Check a model's heads against a grammar's semantics on every prefix tried (see module doc)."""
    stored = model_grammar(model) if model.extra.get("grammar") else None
    if grammar is None:
        if stored is None:
            raise UserError("the model carries no grammar; give the reference grammar with --grammar")
        grammar = stored
    if unknown_start is None:
        unknown_start = bool(model.extra.get("unknown_start", False))
    ref = reference_for(model, grammar, unknown_start)
    if not ref.checked:
        raise UserError(f"none of the model's heads ({', '.join(model.heads)}) can be judged by grammar "
                        f"{grammar.name!r}; heads are accept, next:SYMBOL or state:NAME of that grammar")
    report = Report(True, None, ref.checked, ref.skipped, "not applicable", False)
    _certificate_layer(model, grammar, stored, unknown_start, ref, report)
    if progress:
        progress(f"certificate: {report.certificate}")
    depth = default_max_len(len(model.alphabet)) if max_len is None else max_len
    found, report.prefixes, report.max_len = exhaustive(model, ref, depth, progress)
    if found is None and examples > 0:
        found, report.examples, report.longest = search(model, ref, every_kind(grammar), examples, seed)
        if progress:
            progress(f"hypothesis: {report.examples} examples, longest {report.longest} symbols")
    report.longest = max(report.longest, report.max_len)
    if found is not None:
        report.passed = False
        report.counterexample = found
    return report


def _certificate_layer(model: Model, grammar: Grammar, stored: Grammar | None, unknown_start: bool,
                       ref: Reference, report: Report) -> None:
    if stored is None or model.cell != "lstm" or len(model.layers) != 1:
        report.certificate = "not applicable (the model carries no compiled grammar)"
        return
    if grammar is not stored and not equivalent(grammar, stored):
        report.certificate = "not applicable (the model was compiled from a different language)"
        return
    cert = certify(model, stored, unknown_start)
    # an equivalent reference shares accept and next; state heads are proven only against the stored grammar
    report.proven = cert.proven and (grammar is stored or not any(h.startswith("state:") for h in ref.checked))
    report.certificate = cert.summary() if cert.proven else f"failed: {cert.failure.message if cert.failure else ''}"


def describe(report: Report, alphabet: tuple[str, ...]) -> list[str]:
    """Lines for people."""
    lines = [f"heads checked: {' '.join(report.checked)}"]
    if report.skipped:
        lines.append(f"heads skipped (the grammar cannot judge them): {' '.join(report.skipped)}")
    lines.append(f"certificate: {report.certificate}")
    lines.append(f"exhaustive: every string up to length {report.max_len} agrees ({report.prefixes:,} prefixes run)"
                 if report.max_len >= 0 else "exhaustive: the empty string already disagrees")
    lines.append(f"hypothesis: {report.examples} examples (pumped loops, near misses, arbitrary strings), "
                 f"longest {report.longest} symbols")
    c = report.counterexample
    if c is None:
        lines.append("PASS: no disagreement found" + (" (and proven for every length)" if report.proven else ""))
    else:
        text = format_word(c.word, alphabet)
        lines.append(f"FAIL: counterexample {text!r} ({len(c.word)} symbols)")
        lines.append(f"  at step {c.step}: head {c.head} is {not c.expected} (logit {c.logit:.4g}), "
                     f"expected {c.expected}")
    return lines
