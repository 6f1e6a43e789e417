"""The all-lengths proof for trained networks: abstract interpretation over the reference automaton.

The reference grammar, determinised over the model's symbols (``reference.Reference``), says which state q(w)
every word w reaches and what every checked head must answer there. The proof builds a finite set of
*regions*: each is a box of network states (every layer's c and h) tagged with one reference state. Starting
from the exact initial state, it takes the sound interval image (``interval_step``, float32 rounding included)
of every region under every symbol; an image inside an existing region of the successor state is covered,
otherwise a new region is made around it (slightly enlarged, so that loops close). When every image is
covered, the regions are *closed*: by induction on the length of w, the network's state after w lies in a
region tagged q(w). Then every head that decides correctly over every region (its logit interval strictly on
the side the semantics demands) is right after every prefix of every length.

The proof fails, and says where, when a head's interval straddles 0 on some region (confirmed on the network
when the region is a point reached by a concrete word), or when the regions do not close within the budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .argmax_outputs import value_name
from .errors import UserError
from .free_memory import available_memory
from .grammar import Grammar
from .interval_step import IntervalNet
from .intervals import ROUNDOFF
from .limits import MAX_REGIONS, TIME_LIMIT
from .model import Model
from .pump_search import pump_counterexample
from .queries import Network
from .reading import Reading, reading_of
from .reference import Reference, nothing_judged, reference_for, with_every_output
from .semantics import Semantics
from .words import symbols_count
from .written_words import SHOWN_WHOLE, decomposition, written

__all__ = ["MAX_WEIGHTS", "MERGE_AFTER", "QUICK_JOINS", "RegionFailure", "RegionProof", "STEP_MEMORY", "WIDEN_AFTER",
           "WIDEN_AT", "bounds_text", "prove_regions", "step_memory"]

MAX_WEIGHTS = 4_000_000  # weights beyond which the proof is not attempted (it keeps three float64 copies)
STEP_MEMORY = 256 * 2**20  # bytes for the boxes stepped at once (``_Explorer.chunk_rows``)
WIDEN_AFTER = 16  # regions of one state before LSTM cell values may widen to infinity
WIDEN_AT = 5.0  # ... beyond this magnitude
MERGE_AFTER = 8  # regions of one state before new images join the nearest region instead
QUICK_JOINS = 500  # the region budget of the first, quick attempt with joins


@dataclass
class RegionFailure:
    """Where the proof breaks: the reference state (as its set of grammar states), the symbol, the head and
    a word reaching the region; ``box`` bounds the escaping or failing region (per unit, lo and hi)."""

    message: str
    kind: str  # "head", "escape" or "budget"
    state: str | None = None
    symbol: str | None = None
    head: str | None = None
    prefix: str | None = None
    logit: tuple[float, float] | None = None
    confirmed: bool = False
    box: list[tuple[float, float]] = field(default_factory=list)
    word: tuple[str, ...] = ()  # the word of ``prefix`` (with ``symbol`` for an escape), as symbols
    counterexample: str | None = None  # a wrong word found after the proof failed (``pump_search``), confirmed
    counter_word: tuple[str, ...] = ()  # the counterexample as symbols
    decomposition: tuple[tuple[str, ...], tuple[str, ...], int, tuple[str, ...]] | None = None  # it as (prefix,
    # loop, turns, suffix) in symbols: counter_word = prefix + loop * turns + suffix
    searched: str | None = None  # what that search ran when it found nothing


@dataclass
class RegionProof:
    """The outcome: proven, or the failure; regions made, reference states covered, head margin, seconds."""

    proven: bool
    regions: int
    states: int
    margin: float
    seconds: float
    precision: str
    checked: tuple[str, ...] = ()
    failure: RegionFailure | None = None
    skipped: tuple[str, ...] = ()
    block: int = 1  # the regions are closed under this many steps at once (``kstep_proof``)
    nonempty: bool = False  # the empty word was not judged (``Reading.nonempty``)

    def summary(self) -> str:
        """One line for people."""
        if self.proven:
            unjudged = f"; heads the grammar cannot judge, not proven: {' '.join(self.skipped)}" if self.skipped else ""
            blocks = f", closed under blocks of {self.block} steps" if self.block > 1 else ""
            lengths = "every length from 1 (--nonempty)" if self.nonempty else "every length"
            return f"proven for {lengths} (region proof, {self.regions} regions{blocks}){unjudged}"
        return f"not proven: {self.failure.message if self.failure else 'unknown reason'}"

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        out: dict[str, object] = {"proven": self.proven, "method": "regions", "regions": self.regions,
                                  "reference_states": self.states, "margin": self.margin if self.proven else None,
                                  "seconds": self.seconds, "precision": self.precision,
                                  "heads_checked": list(self.checked), "heads_skipped": list(self.skipped),
                                  "block": self.block, "nonempty": self.nonempty}
        if self.failure:
            out["failure"] = {k: v for k, v in vars(self.failure).items()
                              if v not in (None, [], ()) and k not in ("word", "counter_word")}
        return out


def step_memory() -> int:
    """Bytes for the boxes stepped at once: ``STEP_MEMORY``, or a quarter of the memory available when that is
    less (an address-space or cgroup limit; at least 16 MB), so that a tight limit makes the chunks smaller."""
    available = available_memory()
    return STEP_MEMORY if available is None else max(16 * 2**20, min(STEP_MEMORY, available // 4))


def prove_regions(model: Model, grammar: Grammar, unknown_start: bool = False, reading: Reading | None = None,
                  precision: str | None = None, max_regions: int = MAX_REGIONS, time_limit: float = TIME_LIMIT,
                  growth: float = 0.1, slack: float = 1e-3, pump_time: float = 30.0, joins: str = "fallback",
                  heads: Sequence[str] | None = None, limit_name: str = "the time limit") -> RegionProof:
    """Prove (or fail to prove) that every checked head of ``model`` follows ``grammar`` after every prefix.

    ``growth`` and ``slack`` enlarge each new region by that share of its width plus that absolute amount on
    every side, so that the images of loops fall back inside earlier regions. When the proof fails on a word,
    its loops are pumped on the network (``pump_search``; ``pump_time`` seconds at most, and no more than
    ``time_limit``; 0: not at all): a wrong prefix found there makes the failure a confirmed counterexample.

    ``joins``: "fallback" (a quick attempt with joins, ``MERGE_AFTER``, within ``QUICK_JOINS`` regions; then one
    without; if that fails without a counterexample, one with joins and the whole budget), "never", or "only"
    (joins from the start). When every attempt fails and the search finds no counterexample, regions closed under
    2, then 3 steps at once (``kstep_proof.KSTEPS``) are tried, within ``KSTEP_TIME`` seconds of the time left.
    A ``nonempty`` reading leaves the empty word unjudged, and the proof says so; ``heads``: only these of the
    heads the grammar can judge (as :func:`verify.judged_reference` leaves them); ``limit_name``: what a failure
    for want of time calls ``time_limit`` (inside verify: its time for the region proof, not its --time-limit)."""
    reading = reading_of(model) if reading is None else reading
    proof = _prove_regions(model, grammar, unknown_start, reading, precision, max_regions, time_limit, growth, slack,
                           pump_time, joins, heads, limit_name)
    proof.nonempty = reading.nonempty
    return proof


def _prove_regions(model: Model, grammar: Grammar, unknown_start: bool, reading: Reading, precision: str | None,
                   max_regions: int, time_limit: float, growth: float, slack: float, pump_time: float, joins: str,
                   heads: Sequence[str] | None, limit_name: str) -> RegionProof:
    precision = model.precision if precision is None else precision  # default: the arithmetic it runs in
    if precision not in ROUNDOFF:
        raise UserError(f"unknown precision {precision!r}; use float32 or float64")
    for name, value in (("max_regions", max_regions), ("time_limit", time_limit)):
        if not (isinstance(value, (int, float)) and value > 0):
            raise UserError(f"{name} must be a positive number, not {value!r}")
    model = with_every_output(model, grammar, reading)  # a machine's output the model has no head for: never given
    ref = reference_for(model, grammar, unknown_start, reading)
    if heads is not None:
        ref = ref.selected([k for k, head in enumerate(ref.checked) if head in heads])
    if not ref.checked:
        raise nothing_judged(model, grammar)
    weights = sum(layer.weight_ih.size + layer.weight_hh.size for layer in model.layers) + model.head_weight.size
    if weights > MAX_WEIGHTS:
        return RegionProof(False, 0, 0, -math.inf, 0.0, precision, ref.checked, RegionFailure(
            f"the network has {weights:,} weights, more than the {MAX_WEIGHTS:,} the region proof handles", "budget"),
            ref.skipped)
    if joins not in ("fallback", "never", "only"):
        raise UserError(f"joins must be fallback, never or only, not {joins!r}")
    t0 = time.perf_counter()

    def attempt(merge_after: float, regions: int) -> tuple[_Explorer, RegionProof]:
        explorer = _Explorer(model, grammar, ref, reading, precision, growth, slack, unknown_start, merge_after)
        return explorer, explorer.run(regions, max(time_limit - (time.perf_counter() - t0), 1e-9), time_limit,
                                      limit_name)

    if joins == "fallback":  # a short try with joins first: a trajectory that converges slowly closes fast that way
        proof = attempt(MERGE_AFTER, min(int(max_regions), QUICK_JOINS))[1]
        if proof.proven:
            proof.seconds = time.perf_counter() - t0
            return proof
    explorer, proof = attempt(MERGE_AFTER if joins == "only" else math.inf, int(max_regions))
    left = time_limit - (time.perf_counter() - t0)
    if (proof.failure is not None and not proof.failure.confirmed and joins == "fallback" and left > 0
            and max_regions > QUICK_JOINS):
        # before pumping, which costs more: a network with a counterexample cannot be proven with joins either
        second = attempt(MERGE_AFTER, int(max_regions))[1]
        if second.proven:
            second.seconds = time.perf_counter() - t0
            return second
    if proof.failure is not None and pump_time > 0:
        explorer.pump(proof.failure, min(pump_time, time_limit))
    left = time_limit - (time.perf_counter() - t0)
    if proof.failure is not None and not proof.failure.confirmed and left > 0:
        # after pumping, which costs less: a network with a counterexample cannot be proven in blocks either
        blocks = _prove_in_blocks(model, grammar, ref, reading, precision, growth, slack, unknown_start,
                                  int(max_regions), left)
        if blocks is not None:
            blocks.seconds = time.perf_counter() - t0
            return blocks
    proof.seconds = time.perf_counter() - t0
    return proof


def _prove_in_blocks(model: Model, grammar: Grammar, ref: Reference, reading: Reading, precision: str,
                     growth: float, slack: float, unknown_start: bool, max_regions: int, left: float
                     ) -> RegionProof | None:
    """The proof closed under k steps at once, in affine forms (``kstep_proof``: no wrapping within a block), for
    each k of ``KSTEPS`` in turn within ``KSTEP_TIME`` seconds (and ``left``): the first that holds, or that found a
    counterexample confirmed on the network; None if neither."""
    from .kstep_proof import KSTEP_TIME, KSTEPS, KStepExplorer  # it builds on _Explorer
    end = time.perf_counter() + min(left, KSTEP_TIME)
    for k in KSTEPS:
        left = end - time.perf_counter()
        if left <= 0:
            return None
        proof = KStepExplorer(model, grammar, ref, reading, precision, growth, slack, unknown_start, math.inf,
                              k=k).run(max_regions, left)
        if proof.proven or (proof.failure is not None and proof.failure.confirmed):
            return proof  # a wrong word the blocks found is confirmed on the network: say it
    return None


class _Explorer:
    def __init__(self, model: Model, grammar: Grammar, ref: Reference, reading: Reading, precision: str,
                 growth: float, slack: float, unknown_start: bool, merge_after: float) -> None:
        self.model, self.grammar, self.ref, self.reading = model, grammar, ref, reading
        self.precision = precision
        self.net = IntervalNet(model, precision)
        self.inner = reading.inner(model.alphabet)
        self.symbols = reading.inner_index(model.alphabet)
        self.start_symbol = model.alphabet.index(reading.start) if reading.start is not None else None
        self.end_symbol = model.alphabet.index(reading.end) if reading.end is not None else None
        self.growth, self.slack, self.merge_after = growth, slack, merge_after
        self.t0 = time.perf_counter()
        # regions: boxes, reference state, and the (parent, inner symbol) that made them
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.state: list[int] = []
        self.parent: list[tuple[int, int]] = []
        self.by_state: dict[int, _Boxes] = {}
        self.margin = math.inf
        self.merges = 0
        self.sem = Semantics(grammar, unknown_start)

    # --- outcome helpers ---
    def word(self, region: int) -> tuple[str, ...]:
        out = []
        while region > 0:
            region, a = self.parent[region]
            out.append(self.inner[a])
        return tuple(reversed(out))

    def state_name(self, region: int) -> str:
        """The reference state of a region, as the set of grammar states its words reach."""
        return self.names(self.word(region))

    def names(self, word: tuple[str, ...]) -> str:
        """The set of grammar states ``word`` reaches, for messages."""
        names = self.sem.state_names(word) if all(a in self.grammar.symbol_index for a in word) else set()
        ordered = [s for s in self.grammar.states if s in names]
        return "{" + ", ".join(ordered) + "}" if ordered else "none (its words have left the grammar)"

    def result(self, proven: bool, failure: RegionFailure | None = None) -> RegionProof:
        return RegionProof(proven, len(self.lo), len(self.by_state), self.margin if proven else -math.inf,
                           time.perf_counter() - self.t0, self.precision, self.ref.checked, failure, self.ref.skipped)

    # --- the exploration ---
    def chunk_rows(self) -> int:
        """Boxes stepped at once: their images and the step's temporaries (about 64 bytes per gate pre-activation
        and 48 per unit of each box, measured at 50 and 32) within ``STEP_MEMORY``. A wave of 1,000 regions over 30
        symbols stepped at once took 4.6 GB on a 2-layer GRU of 512 units. Under :func:`step_memory`."""
        gates = sum(layer.weight_hh.shape[0] for layer in self.model.layers)
        return max(1, step_memory() // (64 * gates + 48 * self.net.width))

    def run(self, max_regions: int, time_limit: float, stated: float | None = None,
            limit_name: str = "the time limit") -> RegionProof:
        """Explore regions for ``time_limit`` seconds at most; a failure for want of time names ``stated``, the
        whole proof's limit (default ``time_limit``), of which this attempt had what was left, as ``limit_name``."""
        stated = time_limit if stated is None else stated
        D = self.net.width
        lo = hi = np.zeros((1, D))
        if self.start_symbol is not None:
            lo, hi = self.net.step(lo, hi, np.array([self.start_symbol]))
        failure = self.add(lo[0], hi[0], self.ref.start, (-1, -1), exact=self.start_symbol is None)
        if failure:
            return self.result(False, failure)
        frontier = [0]
        K = len(self.inner)
        out_of_time = lambda: self.result(False, RegionFailure(  # noqa: E731
            f"the regions did not close within {limit_name} ({stated:g} s, {len(self.lo):,} regions)", "budget"))
        while frontier:
            if time.perf_counter() - self.t0 > time_limit:
                return out_of_time()
            regions = np.repeat(np.array(frontier), K)
            inner = np.tile(np.arange(K), len(frontier))
            boxes = {r: (self.lo[r], self.hi[r]) for r in frontier}  # as the wave found them (a join replaces them)
            chunk = self.chunk_rows()
            frontier = []
            for start in range(0, len(regions), chunk):  # in chunks of boxes, so that memory stays bounded
                if start and time.perf_counter() - self.t0 > time_limit:
                    return out_of_time()
                rows = slice(start, start + chunk)
                img_lo, img_hi = self.net.step(np.stack([boxes[r][0] for r in regions[rows]]),
                                               np.stack([boxes[r][1] for r in regions[rows]]),
                                               self.symbols[inner[rows]])
                for r, a, image_lo, image_hi in zip(regions[rows].tolist(), inner[rows].tolist(), img_lo, img_hi):
                    q = int(self.ref.table[self.state[r], a])
                    if self.covered(image_lo, image_hi, q):
                        continue
                    if np.isnan(image_lo).any() or np.isnan(image_hi).any():
                        return self.result(False, self.escape(r, a, q, image_lo, image_hi,
                                                              "may hold NaN (a sum may overflow), outside all regions"))
                    if len(self.lo) + self.merges >= max_regions:  # a join costs as much as a new region
                        return self.result(False, self.escape(r, a, q, image_lo, image_hi,
                                                              f"escapes all {len(self.lo):,} regions (after "
                                                              f"{self.merges:,} joins)"))
                    merged = self.merge(*self.widen(image_lo, image_hi, q), q)
                    if merged is not None:
                        self.merges += 1
                        frontier.append(merged)
                        continue
                    failure = self.add(*self.widen(image_lo, image_hi, q), q, (r, a), exact=False)
                    if failure:
                        return self.result(False, failure)
                    frontier.append(len(self.lo) - 1)
            frontier = list(dict.fromkeys(frontier))  # an enlarged region is explored again, once
        return self.result(True)

    def covered(self, lo: np.ndarray, hi: np.ndarray, q: int) -> bool:
        boxes = self.by_state.get(q)
        return boxes is not None and boxes.cover(lo, hi)

    def widen(self, lo: np.ndarray, hi: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray]:
        """Widening: once state q has ``WIDEN_AFTER`` regions, an LSTM cell value that escapes all of them beyond
        +-``WIDEN_AT`` (where tanh is flat) gets an infinite bound on that side, so that a cell that creeps
        on forever (a forget gate near 1) still closes."""
        boxes = self.by_state.get(q)
        if boxes is None or boxes.n < WIDEN_AFTER or not self.net.unbounded.any():
            return lo, hi
        lo, hi = lo.copy(), hi.copy()
        free = self.net.unbounded
        hi[free & (hi > boxes.hi[:boxes.n].max(axis=0)) & (hi > WIDEN_AT)] = np.inf
        lo[free & (lo < boxes.lo[:boxes.n].min(axis=0)) & (lo < -WIDEN_AT)] = -np.inf
        return lo, hi

    def merge(self, lo: np.ndarray, hi: np.ndarray, q: int) -> int | None:
        """Join: once state q has ``merge_after`` regions, enlarge the one that grows least to the hull of it and
        [lo, hi] (padded like a new region), if every head still holds there; return that region, to be explored
        again (regions it covered stay covered). A trajectory that converges slowly then closes in one box
        instead of a chain of small ones."""
        boxes = self.by_state.get(q)
        if boxes is None or boxes.n < self.merge_after:
            return None
        n = boxes.n
        hull_lo, hull_hi = np.minimum(boxes.lo[:n], lo), np.maximum(boxes.hi[:n], hi)
        with np.errstate(invalid="ignore"):
            grown = np.nan_to_num((hull_hi - hull_lo) - (boxes.hi[:n] - boxes.lo[:n]), nan=0.0, posinf=1e300)
        k = int(np.argmin(grown.sum(axis=1)))
        width = hi - lo
        pad = self.growth * np.where(np.isfinite(width), width, 0.0) + self.slack
        new_lo, new_hi = np.minimum(hull_lo[k], lo - pad), np.maximum(hull_hi[k], hi + pad)
        ok, margin, _ = self.heads_hold(new_lo, new_hi, q)
        if not ok:
            return None
        region = boxes.ids[k]
        self.lo[region], self.hi[region] = new_lo, new_hi
        boxes.lo[k], boxes.hi[k] = new_lo, new_hi
        self.margin = min(self.margin, margin)
        return region

    def add(self, lo: np.ndarray, hi: np.ndarray, q: int, parent: tuple[int, int], exact: bool
            ) -> RegionFailure | None:
        """Make a region around [lo, hi] (enlarged unless ``exact`` or the heads fail on the enlargement);
        return the failure when a head cannot be decided on it."""
        width = hi - lo
        pad = self.growth * np.where(np.isfinite(width), width, 0.0) + self.slack
        box = (lo, hi) if exact else (lo - pad, hi + pad)
        ok, margin, where = self.heads_hold(*box, q)
        if not ok and not exact:
            box = (lo, hi)
            ok, margin, where = self.heads_hold(lo, hi, q)
        self.lo.append(box[0])
        self.hi.append(box[1])
        self.state.append(q)
        self.parent.append(parent)
        self.by_state.setdefault(q, _Boxes(len(lo))).add(*box, len(self.lo) - 1)
        if not ok:
            return self.head_failure(len(self.lo) - 1, where)
        self.margin = min(self.margin, margin)
        return None

    def heads_hold(self, lo: np.ndarray, hi: np.ndarray, q: int) -> tuple[bool, float, tuple[int, float, float]]:
        """(every checked head decided on the box in reference state q, the smallest margin, (worst head, its
        logit bounds))."""
        lo2, hi2 = lo[None, :], hi[None, :]
        if self.end_symbol is not None:
            lo2, hi2 = self.net.step(lo2, hi2, np.array([self.end_symbol]))
        llo, lhi = self.net.logits(lo2, hi2)
        llo, lhi = llo[0, self.ref.columns], lhi[0, self.ref.columns]
        signed = self.ref.signed(q, llo, lhi)
        if not signed.size:
            return True, math.inf, (-1, 0.0, 0.0)
        h = int(np.argmin(signed))
        return bool(signed[h] > 0), float(signed[h]), (h, float(llo[h]), float(lhi[h]))

    def typed(self, word: tuple[str, ...]) -> str:
        """A word as messages show it: as a person types it (``Reading.typed``)."""
        return self.reading.typed(word, self.model.alphabet)

    def head_failure(self, region: int, where: tuple[int, float, float]) -> RegionFailure:
        h, llo, lhi = where
        q = self.state[region]
        word = self.word(region)
        head = self.ref.checked[h]
        expected = bool(self.ref.truth[q, h])
        text, shown = self.typed(word), written(word, self.typed)  # a long word shown with its loop counted
        confirmed = self.confirm(word, h)
        lead = (f"the network is wrong: after {shown} ({symbols_count(len(word))}), confirmed on the network, "
                f"head {head} is {not expected}, expected {expected}" if confirmed else
                f"head {head} should be {'positive' if expected else 'negative'} in state {self.state_name(region)}, "
                f"but over the region reached by {shown} ({symbols_count(len(word))}) its "
                f"{value_name(self.model.argmax_outputs, head)} {bounds_text(llo, lhi)}")
        symbol = self.inner[self.parent[region][1]] if region else None
        return RegionFailure(lead, "head", self.state_name(region), symbol, head, text, (llo, lhi), confirmed,
                             _box(self.lo[region], self.hi[region]), word)

    def network(self) -> Network:
        """The network as it runs (in the model's arithmetic, or float64 when the proof is asked for it): where a
        failure is confirmed, and searched."""
        return Network(self.model, self.reading, np.float64 if self.precision == "float64" else None)

    def confirm(self, word: tuple[str, ...], head: int) -> bool:
        """Does the network itself give the wrong answer for ``head`` after ``word``?"""
        net = self.network()
        index = {a: k for k, a in enumerate(self.inner)}
        symbols = [index[a] for a in word]
        if self.reading.final_only:
            logit = net.final_logits([tuple(symbols)])[0]
        else:
            logit = net.walk(symbols)[-1]
        q = self.ref.walk(symbols)[-1]
        return bool(self.ref.wrong(logit[None, self.ref.columns] > 0, np.array([q]))[0, head])

    def pump(self, failure: RegionFailure, seconds: float) -> None:
        """Search the network for a wrong word near the failing one (``pump_search``): a confirmed one becomes the
        failure's counterexample (and its message), otherwise the message says what was searched."""
        if failure.confirmed:
            return
        index = {a: k for k, a in enumerate(self.inner)}
        network = self.network()
        found = pump_counterexample(network, self.ref, tuple(index[a] for a in failure.word), time_limit=seconds)
        if found.found is None:
            failure.searched = found.searched()
            failure.message += f"; no counterexample among {failure.searched}: the regions may only be too coarse"
            return
        symbols = lambda w: tuple(self.inner[a] for a in w)  # noqa: E731
        word = symbols(found.found.word)
        head = self.ref.checked[found.head]
        expected = bool(self.ref.truth[self.ref.walk(found.found.word)[-1], found.head])
        prefix, count, suffix = found.pieces()
        failure.counterexample, failure.counter_word, failure.confirmed = self.typed(word), word, True
        failure.decomposition = (symbols(prefix), symbols(found.loop), count, symbols(suffix))
        failure.message = (f"the network is wrong: after {self.written(*failure.decomposition)} "
                           f"({symbols_count(len(word))}, "
                           + ("found by pumping near the word where the proof failed" if found.how == "pumped" else
                              f"found among the {found.strings:,} strings up to length {found.max_len}")
                           + f"), confirmed on the network, head {head} is {not expected}, expected {expected}")

    def written(self, prefix: tuple[str, ...], loop: tuple[str, ...], count: int, suffix: tuple[str, ...]) -> str:
        """A counterexample for a message: the word itself when it has at most 80 characters, followed by its
        decomposition when it has a loop ('00000001010' = '0' 7 times then '1010'); else the decomposition alone."""
        word = self.typed(prefix + loop * count + suffix)
        if not (loop and count):
            return repr(word)
        pieces = decomposition(prefix, loop, count, suffix, self.typed)
        return pieces if len(word) > SHOWN_WHOLE else f"{word!r} = {pieces}"

    def escape(self, region: int, a: int, q: int, lo: np.ndarray, hi: np.ndarray, how: str) -> RegionFailure:
        word = self.word(region)
        width = float(np.max(hi - lo))
        text = self.typed(word)
        target = self.names(word + (self.inner[a],))
        return RegionFailure(f"no closed set of regions: from state {self.state_name(region)}, the image "
                             f"under {self.inner[a]!r} of the region reached by {written(word, self.typed)} "
                             f"({symbols_count(len(word))}) {how} of state {target}"
                             + (f" (widest unit {width:.3g})" if not math.isnan(width) else ""),
                             "escape", target, self.inner[a], None, text, None, False, _box(lo, hi),
                             word + (self.inner[a],))


class _Boxes:
    """The boxes of one reference state, in arrays that grow by doubling."""

    def __init__(self, width: int) -> None:
        self.lo = np.empty((4, width))
        self.hi = np.empty((4, width))
        self.n = 0
        self.ids: list[int] = []  # the region index of each row

    def add(self, lo: np.ndarray, hi: np.ndarray, region: int) -> None:
        if self.n == len(self.lo):
            self.lo = np.concatenate([self.lo, np.empty_like(self.lo)])
            self.hi = np.concatenate([self.hi, np.empty_like(self.hi)])
        self.lo[self.n], self.hi[self.n] = lo, hi
        self.ids.append(region)
        self.n += 1

    def cover(self, lo: np.ndarray, hi: np.ndarray) -> bool:
        """Does one box contain [lo, hi]?"""
        return bool(((lo >= self.lo[:self.n]) & (hi <= self.hi[:self.n])).all(axis=1).any())


def bounds_text(lo: float, hi: float) -> str:
    """'lies in [lo, hi]', or for NaN bounds 'may be NaN (a sum may overflow)'."""
    if math.isnan(lo) or math.isnan(hi):
        return "may be NaN (a sum may overflow)"
    return f"lies in [{lo:.4g}, {hi:.4g}]"


def _box(lo: np.ndarray, hi: np.ndarray) -> list[tuple[float, float]]:
    return [(float(a), float(b)) for a, b in zip(lo, hi)]
