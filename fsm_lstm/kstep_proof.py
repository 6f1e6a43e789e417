"""Closure under k steps: box regions whose images are taken through k symbols at once, in affine forms.

One step of a trained network often stretches a box by 2-4 in some units and shrinks it in the next, so that a
box around every one-step image grows step after step (the wrapping effect) although the states real words
reach stay close. Here the image of a region is taken through every word u of k symbols in affine forms
(``affine_step``), each step's remainder turned into fresh noise terms, so the units stay correlated along u;
only the image after all k symbols is wrapped into a box. The induction: every state after a prefix whose length
is a multiple of k lies in a region of its automaton state (closure under k steps); every state after the
remaining 1..k-1 symbols lies in the affine image of that region, where the heads are checked too.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from .affine_step import AffineForm, AffineNet
from .argmax_outputs import value_name
from .region_proof import RegionFailure, RegionProof, _Explorer, bounds_text
from .words import symbols_count
from .written_words import written

__all__ = ["FORM_FLOATS", "KSTEPS", "KSTEP_TIME", "KStepExplorer"]

KSTEPS = (2, 3)  # the block lengths tried in turn (4 proved nothing more on the saved trained networks)
KSTEP_TIME = 10.0  # seconds for all of them
FORM_FLOATS = 1_000_000  # the most numbers the forms of one batch hold (8 MB; the step makes a few times more):
# a region's words are taken in several batches when they need more; a block length whose one word needs more is
# not tried


def _batch(pending: list[tuple[int, int]], words: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``cap`` (region, word) pairs from the front of ``pending`` (which keeps the rest): their regions
    (B,) and words (B, k)."""
    regions, paths, taken = [], [], 0
    while pending and taken < cap:
        region, first = pending.pop(0)
        n = min(cap - taken, len(words) - first)
        regions.append(np.full(n, region))
        paths.append(words[first:first + n])
        taken += n
        if first + n < len(words):
            pending.insert(0, (region, first + n))
    return np.concatenate(regions), np.concatenate(paths)


def _fresh(form: AffineForm) -> AffineForm:
    """The remainder as new noise terms (one per unit), so that the next step keeps it correlated."""
    B, D = form.rem.shape
    extra = np.zeros((B, D, D))
    extra[:, np.arange(D), np.arange(D)] = form.rem
    return AffineForm(form.center, np.concatenate([form.gens, extra], axis=2), np.zeros_like(form.rem))


class KStepExplorer(_Explorer):
    """``region_proof``'s exploration, closed under k steps instead of one."""

    def __init__(self, *args, k: int = KSTEPS[0], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.k = k
        self.affine = AffineNet(self.model, self.precision)
        self.words: list[tuple[int, ...]] = []  # the word of inner symbols that made each region

    def result(self, proven: bool, failure: RegionFailure | None = None) -> RegionProof:
        out = super().result(proven, failure)
        out.block = self.k
        return out

    def word(self, region: int) -> tuple[str, ...]:
        return tuple(self.inner[a] for a in self.words[region])

    def run(self, max_regions: int, time_limit: float) -> RegionProof:
        D = self.net.width
        lo = hi = np.zeros((1, D))
        if self.start_symbol is not None:
            lo, hi = self.net.step(lo, hi, np.array([self.start_symbol]))
        self.words.append(())
        failure = self.add(lo[0], hi[0], self.ref.start, (-1, -1), exact=self.start_symbol is None)
        if failure:
            return self.result(False, failure)
        K = len(self.inner)
        per_pair = D * D * (self.k + 1)  # the forms of one region through one word: D x (k + 1) D terms
        if per_pair > FORM_FLOATS:
            return self.result(False, RegionFailure(
                f"blocks of {self.k} steps are too large for this network ({D} state numbers: {per_pair:,} numbers "
                f"per word, over {FORM_FLOATS:,})", "budget"))
        words = np.array(list(itertools.product(range(K), repeat=self.k)))  # (W, k)
        cap = FORM_FLOATS // per_pair  # (region, word) pairs per batch: a region with many words takes several
        pending = [(0, 0)]  # (region, its first word not yet taken)
        while pending:
            if self.out_of_time(time_limit):
                return self.result(False, self.timeout(time_limit))
            regions, paths = _batch(pending, words, cap)
            lo = np.stack([self.lo[r] for r in regions])
            hi = np.stack([self.hi[r] for r in regions])
            B = len(regions)
            gens = np.zeros((B, D, D))
            gens[:, np.arange(D), np.arange(D)] = (hi - lo) / 2
            form = AffineForm((lo + hi) / 2, gens, np.zeros((B, D)))
            states = np.array([self.state[r] for r in regions])
            for j in range(self.k):
                if self.out_of_time(time_limit):
                    return self.result(False, self.timeout(time_limit))
                form = _fresh(self.affine.step(form, self.symbols[paths[:, j]]))
                states = self.ref.table[states, paths[:, j]]
                if j < self.k - 1:
                    failure = self.heads_on(form, states, regions, paths[:, :j + 1])
                    if failure:
                        return self.result(False, failure)
            img_lo, img_hi = form.bounds()
            for b in range(B):
                r, q = int(regions[b]), int(states[b])
                if self.covered(img_lo[b], img_hi[b], q):
                    continue
                if not (np.isfinite(img_lo[b]).all() and np.isfinite(img_hi[b]).all()):
                    return self.result(False, self.escape(r, int(paths[b, -1]), q, img_lo[b], img_hi[b],
                                                          "is unbounded or NaN"))
                if len(self.lo) >= max_regions:
                    return self.result(False, self.escape(r, int(paths[b, -1]), q, img_lo[b], img_hi[b],
                                                          f"escapes all {len(self.lo):,} regions"))
                self.words.append(self.words[r] + tuple(int(a) for a in paths[b]))
                failure = self.add(img_lo[b], img_hi[b], q, (r, int(paths[b, -1])), exact=False)
                if failure:
                    return self.result(False, failure)
                pending.append((len(self.lo) - 1, 0))
        return self.result(True)

    def out_of_time(self, time_limit: float) -> bool:
        return time.perf_counter() - self.t0 > time_limit

    def timeout(self, time_limit: float) -> RegionFailure:
        return RegionFailure(f"the regions did not close within the time limit ({time_limit:g} s, "
                             f"{len(self.lo):,} regions)", "budget")

    def heads_on(self, form: AffineForm, states: np.ndarray, regions: np.ndarray, paths: np.ndarray
                 ) -> RegionFailure | None:
        """Check every head on intermediate images (states after 1..k-1 symbols of a block)."""
        if self.end_symbol is not None:
            form = self.affine.step(form, np.full(len(states), self.end_symbol))
        llo, lhi = self.affine.logits(form)
        llo, lhi = llo[:, self.ref.columns], lhi[:, self.ref.columns]
        signed = self.ref.signed(states, llo, lhi)
        if not signed.size:
            return None
        worst = signed.min(axis=1)
        bad = np.flatnonzero(~(worst > 0))  # NaN fails too
        if not len(bad):
            self.margin = min(self.margin, float(worst.min()))
            return None
        b = int(bad[0])
        h = int(np.argmin(signed[b]))
        word = self.word(int(regions[b])) + tuple(self.inner[a] for a in paths[b])
        head = self.ref.checked[h]
        expected = bool(self.ref.truth[states[b], h])
        confirmed = self.confirm(word, h)
        text = "".join(word) if all(len(a) == 1 for a in word) else " ".join(word)
        shown = written(word, self.typed)  # a long word with its loop counted
        message = (f"the network is wrong: after {shown} ({symbols_count(len(word))}), confirmed on the network, "
                   f"head "
                   f"{head} is {not expected}, expected {expected}" if confirmed else
                   f"head {head} should be {'positive' if expected else 'negative'} in state {self.names(word)}, "
                   f"but over the {self.k}-step image reaching {shown} ({symbols_count(len(word))}) its "
                   f"{value_name(self.model.argmax_outputs, head)} {bounds_text(llo[b, h], lhi[b, h])}")
        flo, fhi = form.bounds()
        return RegionFailure(message, "head", self.names(word), word[-1], head, text,
                             (float(llo[b, h]), float(lhi[b, h])), confirmed,
                             [(float(a), float(c)) for a, c in zip(flo[b], fhi[b])], word)
