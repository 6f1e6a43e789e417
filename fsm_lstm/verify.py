"""Verification of any model against any grammar, fastest layer first:

(a) the all-lengths certificate, where the model admits one (compiled single-layer LSTMs), else the region proof
    (``region_proof``: trained or imported networks);
(b) exhaustive enumeration of every string up to a length, one batched step per level of the prefix trie;
(c) hypothesis search with pumped loops, near misses and arbitrary strings, shrunk to the shortest failure.

A failure is reported as the shortest string found whose last step disagrees with the semantics.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from .automata import shortest_accepted, shortest_difference, trim
from .certify import certificate_grammar, certify, same_graph, states_proven_for
from .errors import UserError
from .grammar import Grammar
from .labels import parse_head
from .limits import EXHAUSTIVE_BUDGET, EXHAUSTIVE_CAP, EXHAUSTIVE_TIME, MAX_EXAMPLES
from .model import Model, stored_grammar
from .outputs import output_difference
from .queries import Network
from .reading import Reading, reading_of
from .argmax_outputs import argmax_columns, value_name
from .reference import Reference, missing_outputs, nothing_judged, reference_for, with_every_output
from .region_proof import prove_regions
from .round_off import float64_value, near_round_off, round_off_text
from .strategies import every_kind
from .threads import blas_threads
from .shard import check_cluster, cluster_client, sharded_walk
from .trie import Failure, block_rows, walk_trie
from .words import counted, symbols_count
from .written_words import written

__all__ = ["Counterexample", "HYPOTHESIS_SHARE", "Progress", "REGION_OUT_OF_MEMORY", "REGION_TIME_LIMIT",
           "REPORT_SHORTEST", "Report", "Verdict", "alphabet_notes", "check_depth", "check_word", "compare_with",
           "counterexample_of", "default_max_len", "describe", "evidence", "exhaustive", "judge", "judged_reference",
           "nearest_round_off", "readable_part", "report_rows", "report_word", "round_off_note", "search", "t0_note",
           "unread_symbols", "verify", "with_output_said"]

Progress = Callable[[str], None]
REPORT_SHORTEST = 200  # a passing report shows the longest of this many shortest accepted strings
REGION_TIME_LIMIT = 5.0  # seconds the region proof of a trained or imported model may take inside verify
HYPOTHESIS_SHARE = 0.1  # of --time-limit the hypothesis search has at least, after an enumeration that took it all


@dataclass(frozen=True)
class Counterexample:
    """The string, and at its last step the head that disagrees."""

    word: tuple[str, ...]
    head: str
    expected: bool
    logit: float
    said: str | None = None  # under an argmax reading, the output the network gives there ("" for none)
    wide: float | None = None  # the value in float64, where the float32 one is within round-off of 0 (round_off)

    @property
    def said_clause(self) -> str:
        """"; the network says z" under an argmax reading, and "; this value is within float32 round-off of 0 ..."
        where it is, else ""."""
        said = "" if self.said is None else f"; the network says {self.said or '(none)'}"
        return said + ("" if self.wide is None else f"; this value is {round_off_text(self.logit, self.wide)}")

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
    prefixes: int = 0  # words judged: every word up to max_len (but the empty one with --nonempty)
    requested: int = 0  # the length the enumeration was asked to reach
    cut: bool = False  # True when the time limit stopped the enumeration before it
    found_by: str | None = None  # the layer that found the counterexample: enumeration, hypothesis, region proof
    run: int = 0  # prefixes stepped (fewer when merged)
    distinct: int = 0  # distinct (hidden state, grammar state) pairs met, when merged
    examples: int = 0
    examples_asked: int = 0  # --examples, when the hypothesis search ran
    examples_cut: bool = False  # True when the time limit left some of the hypothesis search's examples unrun
    longest: int = 0
    first_layer: str = "certificate"  # what the first layer ran: "certificate" or (trained models) "region proof"
    notes: list[str] = field(default_factory=list)
    reading: Reading = Reading()
    unread: tuple[str, ...] = ()  # the grammar's symbols the network cannot read: strings holding them not judged
    argmax: bool = False  # the out: heads are read by argmax: their values are margins
    round_off: str | None = None  # a word run whose judged value is within float32 round-off of 0 (round_off)
    alphabet: tuple[str, ...] = ()  # the model's symbols, in which the counterexample is written

    def __str__(self) -> str:
        """The report as ``fsm-lstm verify`` prints it (:func:`describe`)."""
        return "\n".join(describe(self, self.alphabet))

    def to_dict(self, alphabet: Sequence[str] | None = None) -> dict[str, object]:
        """JSON form: the verdict, the counterexample, and the evidence (what was run); ``alphabet``: the model's
        symbols (default: the report's own)."""
        alphabet = self.alphabet if alphabet is None else alphabet
        c = self.counterexample
        method = "+".join([self.first_layer, "exhaustive"] + (["hypothesis"] if self.examples_asked else []))  # ran
        return {"passed": self.passed,
                "counterexample": None if c is None else _counterexample_dict(c, alphabet, self.reading),
                "covered": {"certificate": self.certificate, "proven_all_lengths": self.proven,
                            "exhaustive_max_len": self.max_len, "exhaustive_requested": self.requested,
                            "exhaustive_stopped": "time-limit" if self.cut else None,
                            "counterexample_found_by": self.found_by, "prefixes": self.prefixes,
                            "prefixes_run": self.run, "distinct_states": self.distinct,
                            "examples": self.examples, "longest": self.longest,
                            "examples_stopped": "time-limit" if self.examples_cut else None,
                            "method": method,
                            "grammar_symbols_not_judged": list(self.unread)},
                "reading": self.reading.to_dict(),
                "heads_checked": list(self.checked), "heads_skipped": list(self.skipped), "notes": list(self.notes)}


def _first_failure(ref: Reference, logits: np.ndarray, states: np.ndarray) -> tuple[int, int] | None:
    """(row, checked-head index) of the first disagreement in a batch, rows in order."""
    bad = ref.wrong(logits[:, ref.columns] > 0, states)
    rows = np.flatnonzero(bad.any(axis=1))
    if not rows.size:
        return None
    return int(rows[0]), int(np.flatnonzero(bad[rows[0]])[0])


def exhaustive(net: Network, ref: Reference, max_len: int, progress: Progress | None = None,
               memory: int = 2**30, merge: bool = True, deadline: float = float("inf")
               ) -> tuple[Counterexample | None, int, int]:
    """Every word up to ``max_len`` (:func:`trie.walk_trie`: depth first in blocks, in bounded memory, merging
    identical hidden states); the failure is the shortest and alphabetically first. Returns (failure, prefixes
    run, the length up to which every word agreed: below ``max_len`` without a failure when ``deadline``, a
    ``time.perf_counter()`` value, cut the walk short). For a per-prefix reading a word is a prefix; for a
    word-level reading every word is framed by the markers."""
    walk = walk_trie(net, ref, max_len, memory, merge, progress, deadline=deadline)
    return counterexample_of(net, ref, walk.failure), walk.prefixes, walk.agreed


def counterexample_of(net: Network, ref: Reference, failure: Failure | None) -> Counterexample | None:
    """The walk's failure as a counterexample, confirmed on the network (None for none)."""
    if failure is None:
        return None
    word = tuple(net.inner[a] for a in failure.word)
    return _counterexample(ref, word, failure.head, failure.logit)


def _counterexample(ref: Reference, word: tuple[str, ...], head: int, logit: float) -> Counterexample:
    return Counterexample(word, ref.checked[head], not logit > 0, logit)


def with_output_said(net: Network, found: Counterexample, ref: Reference | None = None) -> Counterexample:
    """``found`` with its value in float64 where the float32 one is within round-off of 0 (:mod:`round_off`), and
    with the output the network gives at its last step, when its out: heads are read by argmax (what a head being
    false does not say)."""
    index = {a: k for k, a in enumerate(net.inner)}
    column = net.model.heads.index(found.head) if ref is None else int(ref.columns[ref.checked.index(found.head)])
    wide = float64_value(net, [index[a] for a in found.word], column, found.logit)
    if near_round_off(found.logit, wide):
        found = replace(found, wide=wide)
    columns = argmax_columns(net.model)
    if columns is None or net.reading.final_only or not found.head.startswith("out:"):
        return found
    values = net.walk([index[a] for a in found.word])[-1]
    said = [net.model.heads[k][4:] for k in columns if values[k] > 0]
    return replace(found, said=said[0] if said else "")


def check_word(net: Network, ref: Reference, word: tuple[str, ...]) -> Counterexample | None:
    """The shortest failing prefix of one word (each prefix read as the reading says), or None. Symbols
    the network does not read make the word unusable: None."""
    index = {a: k for k, a in enumerate(net.inner)}
    if any(a not in index for a in word):
        return None
    symbols = [index[a] for a in word]
    logits = net.walk(symbols)
    found = _first_failure(ref, logits, ref.walk(symbols))
    if not found:
        return None
    t, head = found
    return _counterexample(ref, word[:t], head, float(logits[t, ref.columns[head]]))


def search(net: Network, ref: Reference, strategy: st.SearchStrategy[tuple[str, ...]], examples: int, seed: int,
           deadline: float = math.inf, known: int = -1) -> tuple[Counterexample | None, int, int, bool]:
    """Hypothesis search, shrunk; returns (shortest counterexample found, distinct strings run, longest string run,
    whether ``deadline`` left some unrun). Past ``deadline`` (a ``time.perf_counter()`` value) no example is run on
    the network: hypothesis goes through the rest unrun, and a failure found before is shrunk no further. Strings
    of ``known`` symbols or fewer, which the enumeration ran and found right, are neither run again nor
    counted."""
    said: dict[bytes, bool] = {}  # each distinct string run (by digest), and whether it fails: hypothesis repeats
    # some (only 107 distinct of 200 on a one-symbol alphabet), and the count is of strings run
    longest = [0]
    unrun = [False]

    def fails(word: tuple[str, ...]) -> bool:
        if len(word) <= known:
            return False
        key = hashlib.blake2b("\x00".join(word).encode(), digest_size=16, person=len(word).to_bytes(8, "little")
                              ).digest()
        if key not in said:
            if time.perf_counter() > deadline:
                unrun[0] = True
                return False
            said[key] = check_word(net, ref, word) is not None
            longest[0] = max(longest[0], len(word))
        return said[key]

    config = settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                      phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
    try:
        word = find(strategy, fails, settings=config, random=random.Random(seed))
    except NoSuchExample:
        return None, len(said), longest[0], unrun[0]
    found = check_word(net, ref, word)
    return found, len(said), longest[0], unrun[0]


def default_max_len(symbols: int, budget: int = EXHAUSTIVE_BUDGET, cap: int = EXHAUSTIVE_CAP) -> int:
    """The longest length whose full prefix trie fits in ``budget`` prefixes."""
    total, level = 1, 0
    while level < cap and total + symbols ** (level + 1) <= budget:
        level += 1
        total += symbols ** level
    return level


def check_depth(max_len: int | None, symbols: int, state_bytes: int, memory: int, heads: int = 0) -> int:
    """The exhaustive depth: as given, or the default (:func:`default_max_len`); refused when not even one block
    of prefixes per length fits in the memory budget."""
    if max_len is not None and (isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 0):
        raise UserError(f"--max-len must be a whole number >= 0, not {max_len!r}")
    depth = default_max_len(symbols) if max_len is None else max_len
    block_rows(state_bytes, heads, depth, symbols, memory)
    return depth


def verify(model: Model, grammar: Grammar | None = None, unknown_start: bool | None = None,
           max_len: int | None = None, examples: int = 200, seed: int = 0,
           progress: Progress | None = None, reading: Reading | None = None, memory: int = 2**30,
           merge: bool = True, workers: int | None = None, scheduler: str | None = None,
           time_limit: float = EXHAUSTIVE_TIME) -> Report:
    """Check a model's heads against a grammar's semantics on every word tried (see module doc). ``memory``
    bounds the exhaustive layer's prefixes (per worker); ``merge`` merges prefixes with bitwise identical hidden
    states; ``workers`` (a LocalCluster) or ``scheduler`` (an existing Dask cluster) shard it by prefix;
    ``time_limit`` seconds stop it, and the report then says up to which length every word was run."""
    if not time_limit > 0:
        raise UserError(f"--time-limit must be a positive number of seconds, not {time_limit}")
    with blas_threads(model):
        return _verify(model, grammar, unknown_start, max_len, examples, seed, progress, reading, memory, merge,
                       (workers, scheduler), time_limit)


def _verify(model: Model, grammar: Grammar | None, unknown_start: bool | None, max_len: int | None, examples: int,
            seed: int, progress: Progress | None, reading: Reading | None, memory: int, merge: bool = True,
            cluster: tuple[int | None, str | None] = (None, None), time_limit: float = EXHAUSTIVE_TIME) -> Report:
    reading = reading_of(model) if reading is None else reading
    if cluster != (None, None):
        check_cluster(*cluster)
    stored = stored_grammar(model)
    if grammar is None:
        if stored is None:
            raise UserError("the model carries no grammar; give the reference grammar with --grammar")
        grammar = stored
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 0:
        raise UserError(f"--examples must be a whole number >= 0, not {examples!r}")
    if examples > MAX_EXAMPLES:
        raise UserError(f"--examples {examples:,} is over the limit of {MAX_EXAMPLES:,} (hypothesis makes them one at "
                        "a time); --max-len runs every string up to a length, many more")
    if unknown_start is None:
        unknown_start = bool(model.extra.get("unknown_start", False))
    alphabet = alphabet_notes(grammar, model, reading)  # of the model as it is (its missing outputs included)
    model, ref, notes, states_ok = judged_reference(model, grammar, unknown_start, reading)
    notes += alphabet
    unread = unread_symbols(grammar, model, reading)
    if not ref.checked:
        raise nothing_judged(model, grammar)
    net = Network(model, reading)
    depth = check_depth(max_len, len(net.inner), net.start.nbytes, memory, len(ref.columns))
    report = Report(True, None, ref.checked, ref.skipped, "not applicable", False, notes=notes, reading=reading,
                    unread=tuple(unread), argmax=model.argmax_outputs, alphabet=tuple(model.alphabet))
    if progress:
        by_regions = reading.final_only or certificate_grammar(model, grammar)[0] is None  # as _certificate_layer
        progress("certificate: trying" + (f" the region proof (at most {REGION_TIME_LIMIT:g} s, and as much again to "
                                          "search after a failure)" if by_regions else ""))
    pumped = _certificate_layer(model, grammar, unknown_start, ref, report, states_ok)
    if progress:
        progress(f"certificate: {report.certificate}")
    deadline = time.perf_counter() + time_limit
    if cluster == (None, None):
        walk = walk_trie(net, ref, depth, memory, merge, progress, deadline=deadline)
    else:
        with cluster_client(*cluster) as client:
            walk = sharded_walk(client, model, reading, ref, depth, memory, merge, progress, deadline)
    found, report.run, report.max_len, report.distinct = (counterexample_of(net, ref, walk.failure), walk.prefixes,
                                                           walk.agreed, walk.distinct)
    report.requested, report.cut = depth, not walk.complete
    if walk.failure is None and walk.closest is not None:
        _check_round_off(net, ref, walk.closest, report, model.alphabet)
    report.found_by = None if found is None else "enumeration"
    report.prefixes = sum(len(net.inner) ** k for k in range(1 if reading.nonempty else 0, walk.agreed + 1))
    if found is None and examples > 0:
        readable = readable_part(grammar, model, reading)  # only strings the network can read are searched
        # what is left of the time limit, and at least HYPOTHESIS_SHARE of it: the whole run ends within 1.1 times
        # the limit (on a 2048-unit GRU, 200 examples took 25-70 s past it)
        stop = max(deadline, time.perf_counter() + HYPOTHESIS_SHARE * time_limit)
        if readable is not None:
            found, report.examples, report.longest, report.examples_cut = search(
                net, ref, every_kind(readable), examples, seed, stop, known=report.max_len)
            report.examples_asked = examples
        report.found_by = None if found is None else "hypothesis"
        if progress:
            progress(f"hypothesis: {counted(report.examples, 'example')} longer than length {report.max_len}, "
                     f"longest {symbols_count(report.longest)}")
    report.longest = max(report.longest, report.max_len)
    beyond = check_word(net, ref, pumped) if pumped else None  # a wrong prefix the region proof ran into
    if beyond is not None and (found is None or len(beyond.word) < len(found.word)):
        how = "hypothesis search" if report.found_by == "hypothesis" else report.found_by
        searched = "" if found is None else f"; the {how} found a longer one ({symbols_count(len(found.word))})"
        found, report.found_by = beyond, "region proof"
        report.notes.append(f"the counterexample ({symbols_count(len(beyond.word))}) was found by the region proof"
                            + (searched or ", beyond the strings enumerated and searched"))
    if found is not None:
        report.passed = False
        report.counterexample = with_output_said(net, found, ref)
        note = t0_note(model, reading) if not found.word else None
        if note:
            report.notes.append(note)
    return report


def round_off_note(model: Model, reference: Grammar, unknown_start: bool, reading: Reading,
                   word: Sequence[str]) -> str | None:
    """A note when the network's first wrong head along ``word`` (a counterexample another layer confirmed) is
    wrong only within float32 round-off of 0 (:mod:`round_off`)."""
    judged, ref, _, _ = judged_reference(model, reference, unknown_start, reading)
    net = Network(judged, reading)
    found = check_word(net, ref, tuple(word))
    found = None if found is None else with_output_said(net, found, ref)
    if found is None or found.wide is None:
        return None
    shown = written(found.word, lambda w: reading.typed(w, model.alphabet))
    return _round_off_sentence(shown, found.head, model.argmax_outputs, found.logit, found.wide)


def _round_off_sentence(shown: str, head: str, argmax: bool, value: float, wide: float) -> str:
    """"after 'w', head H's logit V is within float32 round-off of 0: ...", ``shown`` the word as written."""
    return f"after {shown}, head {head}'s {value_name(argmax, head)} {value:.4g} is {round_off_text(value, wide)}"


def nearest_round_off(net: Network, ref: Reference, closest: Failure, alphabet: Sequence[str], argmax: bool
                      ) -> tuple[str, str] | None:
    """The enumerated word whose judged value lies nearest 0 (``closest``, the walk's), as typed, and a note, when
    that value is within float32 round-off of 0: the verdict of words like it may differ in another float32
    implementation. None when it is not."""
    wide = float64_value(net, closest.word, int(ref.columns[closest.head]), closest.logit)
    if not near_round_off(closest.logit, wide):
        return None
    word = net.reading.typed(tuple(net.inner[a] for a in closest.word), alphabet)
    return word, (_round_off_sentence(repr(word), ref.checked[closest.head], argmax, closest.logit, wide)
                  + ": the verdict there, and on words like it, depends on rounding")


def _check_round_off(net: Network, ref: Reference, closest: Failure, report: Report, alphabet: Sequence[str]) -> None:
    """Note the enumerated word nearest 0 when it is within float32 round-off of it (:func:`nearest_round_off`)."""
    near = nearest_round_off(net, ref, closest, alphabet, report.argmax)
    if near is not None:
        report.round_off = near[0]
        report.notes.append(near[1])


def judged_reference(model: Model, grammar: Grammar, unknown_start: bool, reading: Reading
                     ) -> tuple[Model, Reference, list[str], bool]:
    """What ``grammar`` judges of ``model``, as verify, certify's region proof and the pytest plugin all judge it:
    the model with a never-given head for each output it lacks, the reference, the notes on heads left out, and
    whether the state heads proven for the compiled grammar speak for this one. State heads are not judged
    against a grammar other than the compiled one, whose state names need not name the model's states."""
    stored = stored_grammar(model)
    model = with_every_output(model, grammar, reading)  # a machine's output the model has no head for: never given
    ref = reference_for(model, grammar, unknown_start, reading)
    notes = []
    # state heads proven for the compiled grammar speak for this one (same machine, or what compiling it gives)
    states_ok = stored is not None and states_proven_for(stored, grammar, unknown_start)
    if _renamed(stored, grammar, unknown_start, states_ok) and any(parse_head(h)[0] == "state" for h in ref.checked):
        ref = _without_state_heads(ref)
        notes.append(f"state heads not judged: {grammar.name!r} has the "
                     f"{'outputs' if grammar.machine else 'language'} of the grammar the model was compiled from but "
                     "other states, so its state names need not name the model's states")
    elif stored is not None and not states_ok and not same_graph(stored, grammar) and \
            any(parse_head(h)[0] == "state" for h in ref.checked):
        # two unrelated automata often share names (q0, q1, ...): a trial's DFA failed on 'a0', where both accept
        ref = _without_state_heads(ref)
        notes.append(f"state heads not judged: {grammar.name!r} is not the grammar the model was compiled from "
                     f"({stored.name!r}), so its state names need not name the model's states")
    return model, ref, notes, states_ok


def t0_note(model: Model, reading: Reading) -> str | None:
    """What a failure before the first symbol means for an imported model (None for any other model or when a
    start marker is read first): its source framework never computes that answer."""
    imported = model.extra.get("imported")
    if reading.start is not None or not isinstance(imported, dict):
        return None
    outs = sum(parse_head(h)[0] == "out" for h in model.heads)
    argmax = ("; a network trained with softmax cross-entropy over a machine's outputs: import it with --argmax, "
              "which reads them after each symbol only") if outs >= 2 and not model.argmax_outputs else ""
    return (f"t = 0: before any symbol the heads are the head biases on the zero state, an answer "
            f"{str(imported.get('format', 'the source'))[:20]} never computes (it cannot run an empty sequence); "
            "fsm-lstm judges the empty word too, unless --nonempty (or import --nonempty) leaves it out "
            "(docs/model-format.md)" + argmax)


def _renamed(stored: Grammar | None, reference: Grammar, unknown_start: bool, states_ok: bool) -> bool:
    """True when ``reference`` is not the machine the model was compiled from but has its language (its outputs,
    for a machine): then only state heads could disagree, and only because states are named alike by chance
    (AALpy names every machine's states s0, s1, ...)."""
    if stored is None or reference is stored or unknown_start or states_ok:
        return False
    if bool(stored.machine) != bool(reference.machine):  # an acceptor and a machine: not the same behaviour
        return False
    return compare_with(stored, reference, by_language=True) is None


def _without_state_heads(ref: Reference) -> Reference:
    return ref.selected([k for k, head in enumerate(ref.checked) if parse_head(head)[0] != "state"])


REGION_OUT_OF_MEMORY = ("not proven: it ran out of memory (`fsm-lstm certify MODEL --grammar REF --max-regions N` "
                        "runs it alone, in at most N regions)")


def _certificate_layer(model: Model, grammar: Grammar, unknown_start: bool, ref: Reference, report: Report,
                       states_ok: bool) -> tuple[str, ...]:
    """Fill in the certificate (or, for trained and imported models, the region proof); return the word in
    which the region proof found the network wrong, confirmed on the network, or () when it found none."""
    stored, reason = (None, "word-level reading") if report.reading.final_only else certificate_grammar(model, grammar)
    if stored is None:  # trained or imported: the region proof (region_proof.py) may still prove every length
        report.first_layer = "region proof"
        try:
            proof = prove_regions(model, grammar, unknown_start, report.reading, time_limit=REGION_TIME_LIMIT,
                                  heads=ref.checked, limit_name="verify's time for it")
        except MemoryError:  # one layer of several: the enumeration, with its own budget, still runs
            report.certificate = f"not applicable ({reason}); region proof: {REGION_OUT_OF_MEMORY}"
            return ()
        report.proven = proof.proven
        report.certificate = proof.summary() if proof.proven else \
            f"not applicable ({reason}); region proof: {proof.summary()}"
        failure = proof.failure
        if failure is None:
            return ()
        return failure.counter_word if failure.counterexample else failure.word if failure.confirmed else ()
    cert = certify(model, stored, unknown_start)
    # an equivalent reference shares accept and next; state heads are proven only against the stored grammar
    report.proven = cert.proven and (states_ok or not any(parse_head(h)[0] == "state" for h in ref.checked))
    report.certificate = cert.summary() if cert.proven else f"failed: {cert.failure.message if cert.failure else ''}"
    return ()


def evidence(report: Report) -> str:
    """What was run, in one phrase: the exhaustive depth and the searched strings."""
    if report.max_len < 0:
        return "the empty word already disagrees"
    if report.reading.nonempty and report.max_len == 0 and not report.examples:
        return "no word (up to length 0 there is only the empty one, which is not judged)"
    cut = (f"; the time limit stopped the enumeration before it finished length {report.max_len + 1}, of the "
           f"{report.requested} asked for") if report.cut else ""
    text = (f"every {_kind(report.reading)} up to length {report.max_len}{_but_empty(report.reading)} "
            f"({_enumerated(report)} checked{cut})")
    if report.examples:
        text += f" and on {report.examples:,} longer searched strings (longest {symbols_count(report.longest)})"
    return text


def _from_one(reading: Reading) -> str:
    """' from 1 (--nonempty)' when the empty word is not judged, else ''."""
    return " from 1 (--nonempty)" if reading.nonempty else ""


def _kind(reading: Reading) -> str:
    """What the enumeration covers: words or strings (prefixes)."""
    return "word" if reading.final_only else "string"


def _but_empty(reading: Reading) -> str:
    """' but the empty one' when the empty word is not judged, else ''."""
    return " but the empty one" if reading.nonempty else ""


def _enumerated(report: Report) -> str:
    """The words (word-level reading) or prefixes the enumeration covered: "1 word", "8,191 prefixes"."""
    n, word = report.prefixes, report.reading.final_only
    return f"{n:,} {'word' if word else 'prefix'}{'' if n == 1 else 's' if word else 'es'}"


def _where(c: Counterexample, reading: Reading) -> str:
    """Where the counterexample's head is wrong: at its last step, or for a word classifier after the whole word
    (at the network's step counted with the markers, as a workbook's Trace sheet counts it)."""
    if not reading.final_only:
        return f"at step {c.step}"
    framed = _network_step(c, reading)
    return "after the whole word" + (f" (the network's step {framed}, markers included)" if framed > c.step else "")


def _hypothesis_line(report: Report, enumerated: bool) -> str:
    """What the hypothesis search ran: only strings longer than the enumeration's length count."""
    if enumerated:
        return "hypothesis: not run (the enumeration already found a failure)"
    if not report.examples_asked:
        return "hypothesis: not run"
    cut = (f"; the time limit stopped it before all {report.examples_asked:,} examples asked for had run "
           "(--time-limit, --examples)") if report.examples_cut else ""
    if not report.examples:
        return f"hypothesis: none of its examples was longer than length {report.max_len}{cut}"
    return (f"hypothesis: {counted(report.examples, 'example')} longer than length {report.max_len} (pumped loops, "
            f"near misses, arbitrary strings), longest {symbols_count(report.longest)}{cut}")


def describe(report: Report, alphabet: tuple[str, ...]) -> list[str]:
    """Lines for people."""
    lines = [f"heads checked: {' '.join(report.checked)}"]
    if report.reading.final_only or report.reading.nonempty:
        lines.append(f"reading: {report.reading.describe()}")
    if report.skipped:
        lines.append(f"heads skipped (the grammar cannot judge them): {' '.join(report.skipped)}")
    lines.append(f"certificate: {report.certificate}")
    merged = f", {counted(report.distinct, 'distinct state')}" if report.distinct else " run"
    if report.distinct and report.reading.nonempty:  # more states than judged words: say why
        merged = f"; {counted(report.distinct, 'distinct state')}, the unjudged empty word's among them"
    c = report.counterexample
    enumerated = c is not None and report.found_by == "enumeration"
    stopped = f"; the enumeration stopped at the first failure, at length {report.max_len + 1}" \
        if enumerated and len(c.word) == report.max_len + 1 else ""
    if report.cut:
        stopped += (f"; the time limit stopped it before it finished length {report.max_len + 1}, of the "
                    f"{report.requested} asked for (--time-limit)"
                    + (f", after it had found the failure below, of {symbols_count(len(c.word))}"
                       if enumerated and len(c.word) > report.max_len + 1 else ""))
    if report.reading.nonempty and report.max_len == 0 and not stopped:
        lines.append("exhaustive: nothing judged (up to length 0 there is only the empty word, which is not)")
    elif report.reading.nonempty and report.max_len == 0:  # nothing agreed to claim: the first length failed
        lines.append("exhaustive: a word of length 1, the shortest judged, already disagrees")
    else:
        lines.append(f"exhaustive: every {_kind(report.reading)} up to length {report.max_len}"
                     f"{_but_empty(report.reading)} agrees ({_enumerated(report)}{merged}){stopped}"
                     if report.max_len >= 0 else "exhaustive: the empty string already disagrees")
    lines.append(_hypothesis_line(report, enumerated))
    lines += report.notes
    if c is None:
        lines.append(f"PASS: proven for every length{_from_one(report.reading)}" if report.proven else
                     f"PASS: agrees on {evidence(report)}; not proven for every length"
                     + ("" if report.round_off is None else
                        f"; in float32, and within round-off of 0 after {report.round_off!r} (see the note)"))
    else:
        text = written(c.word, lambda w: report.reading.typed(w, alphabet))
        lines.append(f"FAIL: counterexample {text} ({symbols_count(len(c.word))}), confirmed on the network")
        value = value_name(report.argmax, c.head)
        lines.append(f"  {_where(c, report.reading)}: head {c.head} is {not c.expected} ({value} {c.logit:.4g}), "
                     f"expected {c.expected}{c.said_clause}")
    return lines


@dataclass(frozen=True)
class Verdict:
    """What is known of the network against a reference grammar, and how an extracted automaton relates.

    ``status`` is "proven" (a certificate holds for every length), "agrees" (no disagreement on what was run,
    ``report`` says what) or "fails" (``counterexample``, confirmed on the network)."""

    status: str
    text: str
    report: Report | None = None
    counterexample: Counterexample | None = None
    automaton_difference: tuple[str, ...] | None = None
    alphabet_notes: tuple[str, ...] = ()  # without a report: what the verdict cannot speak of (alphabet_notes)
    reading: Reading = Reading()

    @property
    def notes(self) -> list[str]:
        """What verify noted, or the alphabet notes of a verdict reached before verify ran."""
        return list(self.alphabet_notes) if self.report is None else list(self.report.notes)

    def to_dict(self, alphabet: Sequence[str]) -> dict[str, object]:
        """JSON form."""
        c = self.counterexample
        diff = self.automaton_difference
        return {"status": self.status, "text": self.text,
                "counterexample": None if c is None else _counterexample_dict(c, alphabet, self.reading),
                "automaton_difference": None if diff is None else self.reading.typed(diff, alphabet),
                "evidence": None if self.report is None else self.report.to_dict(alphabet)["covered"],
                "notes": self.notes}


def judge(model: Model, extracted: Grammar | None, reference: Grammar, reading: Reading | None = None,
          examples: int = 200, max_len: int | None = None, seed: int = 0,
          time_limit: float = EXHAUSTIVE_TIME) -> Verdict:
    """Judge the network against ``reference``: proven, agrees on what was run (within ``time_limit`` seconds, as
    :func:`verify` runs it), or a counterexample confirmed on the network. An extracted automaton only points
    where to look first: its shortest difference from the reference is run on the network."""
    reading = reading_of(model) if reading is None else reading
    diff = None
    if extracted is not None:  # where they differ on strings the network can read
        by_language = reading.final_only or "accept" in model.heads
        diff = compare_with(extracted, reference, by_language, _readable(model, reading),
                            model.argmax_outputs or reading.nonempty, reading.nonempty)
    judged = with_every_output(model, reference, reading)  # the outputs it has no head for: never given
    ref = reference_for(judged, reference, bool(model.extra.get("unknown_start", False)), reading)
    net = Network(judged, reading)
    found = check_word(net, ref, diff) if diff is not None else None
    found = None if found is None else with_output_said(net, found, ref)
    if found is not None:
        return Verdict("fails", f"the network disagrees with {reference.name} on {_shown(found, model, reading)}; "
                       f"the extracted automaton differs from {reference.name} there too",
                       counterexample=found, automaton_difference=diff,
                       alphabet_notes=tuple(alphabet_notes(reference, model, reading)), reading=reading)
    report = verify(model, reference, max_len=max_len, examples=examples, seed=seed, reading=reading,
                    time_limit=time_limit)
    note = "" if diff is None else (f"; the extracted automaton differs from {reference.name} at "
                                    f"{reading.typed(diff, model.alphabet)!r}, where the network is right, so the "
                                    "extraction is imperfect there")
    if report.counterexample is not None:
        shown = _shown(report.counterexample, model, reading)
        return Verdict("fails", f"the network disagrees with {reference.name} on {shown}" + note, report,
                       report.counterexample, diff, reading=reading)
    if report.proven:
        return Verdict("proven", f"the network is proven to agree with {reference.name} for every length"
                       f"{_from_one(reading)} (certificate: {report.certificate})" + note, report, None, diff,
                       reading=reading)
    return Verdict("agrees", f"the network agrees with {reference.name} on {evidence(report)}; not proven for "
                   "every length" + note, report, None, diff, reading=reading)


def _readable(model: Model, reading: Reading) -> set[str]:
    """The symbols the network reads: inside a word, or as a word classifier's markers."""
    return set(reading.inner(model.alphabet)) | {m for m in (reading.start, reading.end) if m}


def alphabet_notes(grammar: Grammar, model: Model, reading: Reading) -> list[str]:
    """What a verdict of the model against ``grammar`` cannot speak of: the grammar's symbols the model cannot
    read, the model's outside the grammar's alphabet, and a word classifier's markers written in the grammar."""
    notes = []
    unread = unread_symbols(grammar, model, reading)
    if unread:
        notes.append(f"symbols of grammar {grammar.name!r} that the model cannot read: {' '.join(unread)[:200]}; "
                     "the verdict covers only strings over the model's alphabet")
    outside = [a for a in reading.inner(model.alphabet) if a not in set(grammar.alphabet)]
    if outside:
        shared = "" if len(outside) < len(reading.inner(model.alphabet)) else \
            "; the model and the grammar share no symbol: check the alphabet given to import or train"
        notes.append(f"symbols of the model outside the alphabet of grammar {grammar.name!r}: "
                     f"{' '.join(outside)[:200]}; a string holding one leaves the grammar{shared}")
    missing = missing_outputs(model, grammar, reading)
    if missing:
        foreign = [arg for kind, arg in map(parse_head, model.heads) if kind == "out" and arg not in
                   set(grammar.output_values)]
        notes.append(f"outputs of machine {grammar.name!r} that the model has no out: head for: "
                     f"{', '.join(missing)[:200]}; the network never gives them, and each is judged as an out: head "
                     "that is always false" + (f"; the model's out: heads {', '.join(foreign)[:200]} name no output "
                                               "of the machine: check the --heads given to import" if foreign else ""))
    if model.argmax_outputs and grammar.machine and not reading.final_only and (outside or _partial(grammar)):
        notes.append(f"the out: heads are read by argmax, which always names an output: on words that leave machine "
                     f"{grammar.name!r} (a symbol without an edge), where it gives none, they are not judged")
    framed = [m for m in (reading.start, reading.end) if m and m in grammar.alphabet] if reading.final_only else []
    if framed:
        notes.append(f"grammar {grammar.name!r} has the markers {' '.join(framed)} as symbols: a word classifier is "
                     "judged on each word between its markers, against a grammar of the words alone (without them)")
    return notes


def _partial(g: Grammar) -> bool:
    """Does some state of ``g`` lack an edge for some symbol of its alphabet?"""
    have = {(p, a) for p, a, _ in g.transitions}
    return any((q, a) not in have for q in g.states for a in g.alphabet)


def unread_symbols(grammar: Grammar, model: Model, reading: Reading) -> list[str]:
    """The grammar's symbols that the network cannot read."""
    readable = _readable(model, reading)
    return [a for a in grammar.alphabet if a not in readable]


def readable_part(grammar: Grammar, model: Model, reading: Reading) -> Grammar | None:
    """The grammar over the symbols the network can read (None when it has none of them), with the network's
    inner symbols it lacks as symbols of no edge: the strings searched, those that leave the grammar on such a
    symbol included (a network over {a, b} that accepts 'ab' passed every search against a grammar over {a})."""
    part = _over(grammar, _readable(model, reading))
    outside = tuple(a for a in reading.inner(model.alphabet) if a not in set(grammar.alphabet))
    return part if part is None or not outside else part.with_changes(alphabet=part.alphabet + outside)


def _over(grammar: Grammar, symbols: set[str]) -> Grammar | None:
    """The grammar with only its transitions on ``symbols`` (None when it has none of them, or keeps none of a
    Mealy machine's edges)."""
    alphabet = tuple(a for a in grammar.alphabet if a in symbols)
    if len(alphabet) == len(grammar.alphabet) or not alphabet:
        return grammar if alphabet else None
    edges = tuple(t for t in grammar.transitions if t[1] in symbols)
    if grammar.edge_outputs and not edges:
        return None
    return grammar.with_changes(alphabet=alphabet, transitions=edges,
                                edge_outputs=tuple((t, o) for t, o in grammar.edge_outputs if t[1] in symbols))


def _shown(c: Counterexample, model: Model, reading: Reading) -> str:
    t0 = t0_note(model, reading) if not c.word else None
    return (f"{written(c.word, lambda w: reading.typed(w, model.alphabet))} ({symbols_count(len(c.word))}), "
            f"confirmed on the network: head {c.head} is {not c.expected} {_where(c, reading)}, "
            f"expected {c.expected}{c.said_clause}"
            + (f" ({t0})" if t0 else ""))


def compare_with(extracted: Grammar, reference: Grammar, by_language: bool, symbols: set[str] | None = None,
                 after_symbols: bool = False, nonempty: bool = False) -> tuple[str, ...] | None:
    """The shortest string telling the two apart (by outputs for machines, by language, or by prefix language for
    next-only models), over ``symbols`` only when given (the reference's other symbols are dropped after its
    prefix closure); None when one has outputs and the other none (a machine whose outputs are all out of
    reach compiles to a model without out: heads): the automata cannot be compared, and the verdict rests on
    the network alone. ``after_symbols``: a machine's output before the first symbol is not compared;
    ``nonempty``: nor the languages' verdict on the empty string."""
    if bool(extracted.machine) != bool(reference.machine):
        return None
    close = lambda g: (lambda t: t.with_changes(accept=frozenset(t.states)))(trim(g))  # noqa: E731
    if not (extracted.machine or by_language):
        extracted, reference = close(extracted), close(reference)
    reference = reference if symbols is None else _over(reference, symbols)  # type: ignore[assignment]
    if reference is None:
        return None
    if extracted.machine:
        return output_difference(extracted, reference, after_symbols)
    return shortest_difference(extracted, reference, nonempty)


def _counterexample_dict(c: Counterexample, alphabet: Sequence[str], reading: Reading) -> dict[str, object]:
    """JSON form of a counterexample: ``step`` counts the word's symbols, ``network_step`` the network's steps
    (the markers of a word classifier included, as the workbook's Trace sheet counts them)."""
    return {"string": reading.typed(c.word, alphabet), "length": len(c.word), "step": c.step,
            "network_step": _network_step(c, reading), "head": c.head, "expected": c.expected,
            "actual": not c.expected, "logit": c.logit, **({"network_output": c.said or None} if c.said is not None
                                                            else {}),
            **({"float64_logit": c.wide, "within_round_off": True} if c.wide is not None else {})}


def _network_step(c: Counterexample, reading: Reading) -> int:
    """The network's step at which the counterexample's head is wrong, markers included."""
    return c.step + int(reading.start is not None) + int(reading.end is not None) if reading.final_only else c.step


def report_word(report: Report, grammar: Grammar) -> tuple[str, ...]:
    """The string a verification workbook shows: the counterexample, or when none was found the longest of the
    REPORT_SHORTEST shortest strings ``grammar`` accepts up to the exhaustively checked length (every one of them
    checked)."""
    if report.counterexample is not None:
        return report.counterexample.word
    found = shortest_accepted(grammar, REPORT_SHORTEST, max_length=max(report.max_len, 0))
    return found[-1] if found else ()


def report_rows(report: Report, word: tuple[str, ...], alphabet: tuple[str, ...], grammar: str) -> list[list[str]]:
    """The Summary sheet of a verification workbook: the verdict, the input it shows and why that one, and what
    was checked (the lines the command prints)."""
    shown = report.reading.typed(word, alphabet) or "(the empty string)"
    c = report.counterexample
    if c is not None:
        why = (f"the counterexample: the shortest failing string found ({symbols_count(len(word))}), confirmed on the "
               f"network; {_where(c, report.reading)} head {c.head} is {not c.expected}, expected {c.expected}")
    elif word:
        why = (f"no counterexample was found. The input is the last (by length, then in alphabet order) of the at "
               f"most {REPORT_SHORTEST} shortest strings {grammar!r} accepts up to length {report.max_len}, the length "
               "up to which every string was checked exhaustively: an accepted run, checked" + (
                   f". It is not the longest string checked: the search also ran {counted(report.examples, 'string')} "
                   f"of up to {symbols_count(report.longest)}, and each agreed" if report.examples else ""))
    else:
        why = (f"no counterexample was found, and {grammar!r} accepts no string up to length {report.max_len} (the "
               "length checked exhaustively): the input is empty")
    rows = [["verification", f"{grammar}: {'PASS' if report.passed else 'FAIL'}"], ["input shown", shown],
            ["why this input", why], [], ["what was checked"]]
    return rows + [["", line] for line in describe(report, alphabet)]
