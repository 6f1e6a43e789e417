"""Certifiable training (``fsm-lstm train --certify``): gradient descent until the region proof holds.

Plain training reaches networks that are right on the strings seen but whose hidden dynamics spread a small box
of states into a larger one at every step (the wrapping effect of interval arithmetic), so that no finite set
of boxes closes. Here each training step also propagates, in torch, a box of radius ``radius`` around every
visited state through one step of the network (interval bound propagation, the same arithmetic as
``interval_step`` without the rounding terms) and adds two penalties:

- *contraction*: the image box's radius beyond ``contraction`` times the input radius;
- *robust heads*: the binary cross-entropy of the worst logit over the box (the lower bound where the head
  must be true, the upper bound where it must be false).

The penalties start once the held-out accuracy reaches ``start_at`` (earlier, they flatten an untrained network
into a constant one), grow to full weight over ``ramp`` epochs, and double every ``patience`` epochs that end
without a proof and without a counterexample (up to ``max_boost`` times). When they make the network collapse
(held-out accuracy back below ``start_at``), the last of the most accurate weights so far are restored, with the
optimiser's state, and the penalties are halved (down to ``min_guard`` of their weight).

With ``counterexamples`` > 0, a failed proof's counterexample (``pump_search``: the failing word's loops pumped
on the network) is kept (the latest ``counterexamples``) and trained on at every epoch; ``pumped`` fresh long
strings (a prefix, then a short loop, ``pumped_length`` symbols) join every epoch, and ``cluster`` pulls the visited
states of prefixes in the same grammar state towards their centroid. With ``noise`` > 0, Gaussian noise of that std
is added to every state after every training step from the first epoch on, or with ``noise_waits`` from the epoch
after held-out accuracy first reaches ``start_at`` (held-out accuracy and proofs run without it): the network must
pull perturbed states back, which makes its dynamics attracting. Noise from the first epoch kept some tasks from
being learnt at all (the tomita5 LSTM); waiting noise lets them be learnt first. ``noise_by_seed`` varies the std
with the seed (the LSTM's: 0.2 for seeds 0, 4, 8, ..., 0.1 for the others; each attempt is still exactly what its
seed trains alone): 0.2 proved the parity LSTM, which drifts under 0.1, but lost tomita4 and tomita6, proven under
0.1 on seeds 2 and 3. With ``balance`` > 0, a head true on fewer than that share of the training prefixes (reber's
accept head, 2 %) weighs its positives by negatives over positives (a network that never accepts is otherwise 98 %
right).
``CertifyConfig.for_cell`` turns these on for LSTMs only (measured in docs/region-proof.md). With ``gate_floor`` > 0
(GRUs by default), the penalty also counts how far every GRU update gate's pre-activation lies beyond the value where
1 - z = ``gate_floor``, at every visited state: a unit whose z stays near 1 keeps its value, so it neither contracts
nor forgets, and along a loop it creeps or drifts.

Both push the network towards saturated, contracting dynamics around the states it visits, which is what the
region proof needs. After each epoch from ``check_after`` on, the model is converted and ``prove_regions``
runs; training stops at the first proof or when the epochs run out. When no proof holds, training starts
again with the next seed (``restarts`` times at most: seeds ``seed``, ``seed + 1``, ...), until one is proven or
the ``budget`` of seconds is spent (checked after every epoch). The same seed (and no budget) gives the same model.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .errors import UserError
from .grammar import Grammar
from .model import Layer, Model
from .region_proof import RegionProof, prove_regions
from .semantics import Semantics
from .train import TrainConfig, TrainResult, check_config, dataset, head_labels

__all__ = ["CertifiedResult", "CertifyConfig", "Progress", "RESTARTS", "train_certified"]

Progress = Callable[[int, int, float, float, str], None]  # epoch, epochs, loss, held-out accuracy, proof line

RESTARTS = 3  # fresh seeds after an unproven attempt, by default (``CertifyConfig.for_cell``)


@dataclass(frozen=True)
class CertifyConfig:
    """The penalties' weights and the proof budget per attempt."""

    radius: float = 0.05
    contraction: float = 0.5
    weight: float = 1.0
    start_at: float = 0.98  # held-out accuracy at which the penalties start
    ramp: int = 5  # epochs over which they grow to full strength
    patience: int = 10
    max_boost: float = 8.0
    check_after: int = 1
    check_every: int = 1
    cluster: float = 0.0  # weight of pulling the states of prefixes in one grammar state together
    pumped: int = 0  # long pumped strings per epoch once the penalties start (a prefix, then a short loop)
    pumped_length: int = 200
    counterexamples: int = 0  # confirmed counterexamples kept and trained on (0: none)
    proof_time: float = 60.0  # a safety net: max_regions ends failing proofs, deterministically
    max_regions: int = 2000
    min_guard: float = 1 / 64  # the penalties are halved at most until this share (then a collapse stays)
    noise: float = 0.0  # std of the Gaussian noise added to every training state after every step, from epoch 1
    gate_floor: float = 0.0  # GRU: penalise update gates whose 1 - z is below this at the visited states (0: off)
    balance: float = 0.0  # a head true on fewer than this share of the training prefixes: its positives weigh more
    noise_by_seed: tuple[float, ...] = ()  # if set, seed s trains with noise noise_by_seed[s % len] instead
    noise_waits: bool = False  # the noise starts only once held-out accuracy reaches start_at (with the penalties)
    restarts: int = 0  # fresh seeds tried after an attempt ends without a proof
    budget: float | None = None  # seconds for all attempts (None: the epochs and restarts alone bound them)

    @classmethod
    def for_cell(cls, cell: str) -> CertifyConfig:
        """The defaults measured best for a cell (docs/region-proof.md): LSTMs, which forget over long strings,
        also train on counterexamples and long pumped strings with the clustering penalty, and with noise on
        their states once the task is learnt (std 0.2 on seeds 0, 4, ..., 0.1 on the others), and weigh a rarely
        true head's positives up (only reber's accept head is rare among the bench's grammars); GRUs and RNNs did
        better without those (they made them fail where the plain penalties proved them). GRUs are pushed to keep
        every update gate's 1 - z >= 0.3 at the visited states (``gate_floor``, a penalty): a unit that mostly
        keeps its value neither contracts nor forgets. Every cell restarts with a fresh seed up to 3 times when an
        attempt ends unproven."""
        if cell == "lstm":
            return cls(cluster=0.1, pumped=32, counterexamples=16, noise=0.1, noise_by_seed=(0.2, 0.1, 0.1, 0.1),
                       noise_waits=True, balance=0.1, restarts=RESTARTS)
        if cell == "gru":
            return cls(gate_floor=0.3, restarts=RESTARTS)
        return cls(restarts=RESTARTS)


@dataclass(frozen=True)
class CertifiedResult:
    """The training outcome of the attempt returned (the proven one, else the most accurate, the earliest among
    equals) and its last proof (``proof.proven`` says whether it holds); ``attempts`` counts the proofs tried in
    every training attempt, ``seed`` is the returned one's seed and ``runs`` the training attempts made (seeds
    tried)."""

    train: TrainResult
    proof: RegionProof
    attempts: int
    seed: int
    runs: int


def train_certified(grammar: Grammar, config: TrainConfig = TrainConfig(), certify: CertifyConfig | None = None,
                    progress: Progress | None = None) -> tuple[Model, CertifiedResult]:
    """Train an LSTM, GRU or RNN of ``config.layers`` layers on ``grammar`` (every prefix supervised) until the
    region proof holds or ``config.epochs`` run out, then with the next seeds (``certify.restarts``, within
    ``certify.budget`` seconds) until one is proven; return the proven model, else the most accurate, and what
    happened. ``certify`` defaults to ``CertifyConfig.for_cell(config.cell)``."""
    certify = CertifyConfig.for_cell(config.cell) if certify is None else certify
    try:
        import torch
    except ImportError:
        raise UserError("training needs PyTorch: pip install 'fsm-lstm[train]' (or torch==2.13.0)") from None
    check_config(grammar, config)
    if config.final_only:
        raise UserError("--certify trains networks supervised at every prefix; drop --final-only")
    if not (certify.radius > 0 and 0 < certify.contraction < 1 and certify.weight >= 0):
        raise UserError("certified training needs a radius > 0, a contraction in (0, 1) and a weight >= 0")
    if not (isinstance(certify.restarts, (int, np.integer)) and certify.restarts >= 0):
        raise UserError(f"--restarts {certify.restarts} must be a whole number >= 0")
    if not (0 <= certify.gate_floor < 1 and 0 <= certify.balance < 1 and certify.noise >= 0
            and all(s >= 0 for s in certify.noise_by_seed)):
        raise UserError("certified training needs a gate floor and a balance in [0, 1) and noise stds >= 0")
    if certify.budget is not None and not certify.budget > 0:
        raise UserError(f"--budget {certify.budget} must be a number of seconds > 0")
    previous = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        return _restarted(torch, grammar, config, certify, progress)
    finally:
        torch.set_num_threads(previous)


def _restarted(torch: Any, grammar: Grammar, config: TrainConfig, certify: CertifyConfig,
               progress: Progress | None) -> tuple[Model, CertifiedResult]:
    """Attempts with seeds config.seed, config.seed + 1, ... until one is proven, the restarts are used up or the
    budget is spent: the proven one, else the most accurate (the earliest among equals), its time the total's."""
    t0 = time.perf_counter()
    deadline = None if certify.budget is None else t0 + certify.budget
    kept: tuple[Model, CertifiedResult] | None = None
    runs = proofs = 0
    for seed in (s % 2**64 for s in range(config.seed, config.seed + certify.restarts + 1)):  # torch's seeds
        runs += 1
        model, result = _Trainer(torch, grammar, replace(config, seed=seed), certify).run(progress, deadline)
        proofs += result.attempts
        if kept is None or result.proof.proven or result.train.accuracy > kept[1].train.accuracy:
            kept = model, result
        if result.proof.proven or (deadline is not None and time.perf_counter() >= deadline):
            break
    model, result = kept
    model.extra["trained"]["runs"] = runs
    total = replace(result.train, seconds=time.perf_counter() - t0)
    return model, replace(result, train=total, runs=runs, attempts=proofs)


class _Trainer:
    def __init__(self, torch: Any, grammar: Grammar, config: TrainConfig, certify: CertifyConfig) -> None:
        self.torch, self.grammar, self.config, self.certify = torch, grammar, config, certify
        self.labels = head_labels(grammar, config.task)
        self.rng = np.random.default_rng(config.seed)
        torch.manual_seed(config.seed)
        self.data = dataset(grammar, self.labels, config.samples, config.lengths, config.leave, self.rng,
                            moving=config.moving)
        self.semantics = Semantics(grammar)
        self.data_states = self.state_ids(self.semantics.states(self.data[0]))
        self.held = dataset(grammar, self.labels, config.heldout, config.lengths, config.leave, self.rng,
                            moving=config.moving)
        self.K, self.M, H = len(grammar.alphabet), len(self.labels), config.hidden
        gates = {"lstm": 4, "gru": 3, "rnn": 1}[config.cell]
        scale = 1 / np.sqrt(H)
        uniform = lambda *shape: torch.nn.Parameter((torch.rand(*shape) * 2 - 1) * scale)  # noqa: E731
        self.layers = [(uniform(gates * H, self.K if k == 0 else H), uniform(gates * H, H), uniform(gates * H),
                        uniform(gates * H)) for k in range(config.layers)]
        self.head_w, self.head_b = uniform(self.M, H), uniform(self.M)
        self.params = [p for layer in self.layers for p in layer] + [self.head_w, self.head_b]
        self.bce = torch.nn.BCEWithLogitsLoss(reduction="none", pos_weight=self.positive_weights())
        self.counter: list[tuple[int, ...]] = []  # confirmed counterexamples of failed proofs, newest last
        self.learnt = False  # held-out accuracy has reached start_at
        cycle = certify.noise_by_seed
        self.noise = cycle[config.seed % len(cycle)] if cycle else certify.noise  # this seed's noise std

    def positive_weights(self) -> Any | None:
        """(M,) the weight of a true head in the task loss: for a head true on fewer than ``balance`` of the
        training prefixes (reber's accept head: 2 %), negatives over positives, so that both weigh the same (a
        network that never accepts is otherwise 98 % right); 1 for the others. None when no head is rare (the loss is
        then computed exactly as without ``balance``)."""
        targets, mask = self.data[1], self.data[2]
        positives = (targets * mask[:, :, None]).sum(axis=(0, 1))
        share = positives / max(float(mask.sum()), 1.0)
        rare = (share < self.certify.balance) & (positives > 0)
        if not rare.any():
            return None
        weights = np.where(rare, (1 - share) / np.maximum(share, 1e-12), 1.0)
        return self.torch.tensor(weights, dtype=self.torch.float32)

    def learn_from(self, proof: RegionProof) -> None:
        """Keep a failed proof's confirmed counterexample (found by pumping) to train on from now on."""
        failure = proof.failure
        if failure is None or not failure.confirmed or not self.certify.counterexamples:
            return
        word = failure.counter_word or failure.word
        index = self.grammar.symbol_index
        if word and all(a in index for a in word):
            self.counter = (self.counter + [tuple(index[a] for a in word)])[-self.certify.counterexamples:]

    @staticmethod
    def state_ids(sets: np.ndarray) -> np.ndarray:
        """(T+1, B) a number for each prefix's set of grammar states (``Semantics.states``)."""
        rows = np.packbits(sets, axis=-1).reshape(-1, (sets.shape[-1] + 7) // 8)
        return np.unique(rows, axis=0, return_inverse=True)[1].reshape(sets.shape[:2]).astype(np.int64)

    def pumped_batch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Fresh long strings, a random prefix then a short loop repeated: where trained networks drift."""
        words = []
        for _ in range(self.certify.pumped):
            prefix = self.rng.integers(0, self.K, size=self.rng.integers(0, 9))
            loop = self.rng.integers(0, self.K, size=self.rng.integers(1, 5))
            words.append(tuple(np.concatenate([prefix, np.tile(loop, self.certify.pumped_length)])
                               [:self.certify.pumped_length].tolist()))
        return self.batch_of(words)

    def counter_batch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The kept counterexamples as a padded batch, every prefix supervised."""
        return self.batch_of(self.counter)

    def batch_of(self, words: list[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Words as a padded batch (strings, targets, mask, state numbers), every prefix supervised."""
        sizes = np.array([len(w) for w in words])
        strings = np.zeros((len(words), sizes.max()), dtype=np.int64)
        for b, w in enumerate(words):
            strings[b, :len(w)] = w
        sets = self.semantics.states(strings)
        targets = self.semantics.expected_heads(self.labels, strings, sets).astype(np.float32)
        mask = (np.arange(sizes.max() + 1)[:, None] <= sizes[None, :]).astype(np.float32)
        return strings, targets, mask, self.state_ids(sets)

    # --- the cells, on points and on boxes ---
    def zeros(self, batch: int) -> list[Any]:
        return [self.torch.zeros(batch, self.config.hidden) for _ in self.layers]

    def step(self, x: Any, hs: list[Any], cs: list[Any]) -> tuple[list[Any], list[Any]]:
        """Every layer's (h, c) after one input (B, K)."""
        new_h, new_c = [], []
        for k in range(len(self.layers)):
            h, c = self.cell(k, x, hs[k], cs[k])
            new_h.append(h)
            new_c.append(c)
            x = h
        return new_h, new_c

    def cell(self, k: int, x: Any, h: Any, c: Any) -> tuple[Any, Any]:
        torch, H = self.torch, self.config.hidden
        w_ih, w_hh, b_ih, b_hh = self.layers[k]
        pre_in = x @ w_ih.T + b_ih
        rec = h @ w_hh.T + b_hh
        if self.config.cell == "rnn":
            return torch.tanh(pre_in + rec), c
        if self.config.cell == "gru":
            r = torch.sigmoid(pre_in[:, :H] + rec[:, :H])
            z = torch.sigmoid(pre_in[:, H:2 * H] + rec[:, H:2 * H])
            n = torch.tanh(pre_in[:, 2 * H:] + r * rec[:, 2 * H:])
            return (1 - z) * n + z * h, c
        zz = pre_in + rec
        i, f, g, o = (torch.sigmoid(zz[:, :H]), torch.sigmoid(zz[:, H:2 * H]), torch.tanh(zz[:, 2 * H:3 * H]),
                      torch.sigmoid(zz[:, 3 * H:]))
        c_new = f * c + i * g
        return o * torch.tanh(c_new), c_new

    def noisy(self, hs: list[Any], cs: list[Any]) -> tuple[list[Any], list[Any]]:
        """The states plus Gaussian noise of std ``noise`` (training only): a network that must undo the noise at
        every step learns attracting dynamics, which the region proof can close."""
        sigma = 0.0 if self.certify.noise_waits and not self.learnt else self.noise
        if not sigma:
            return hs, cs
        torch = self.torch
        hs = [h + sigma * torch.randn_like(h) for h in hs]
        return hs, [c + sigma * torch.randn_like(c) for c in cs] if self.config.cell == "lstm" else cs

    def box_step(self, x: Any, hs: list[Any], cs: list[Any], eps: float) -> tuple[list[Any], list[Any]]:
        """Radii (B, H) of every layer's h (and LSTM c) over the image of the box of radius eps around the
        state; a layer above the first reads the box of the layer below."""
        h_rads, c_rads = [], []
        x_rad = None
        for k in range(len(self.layers)):
            lo, hi, c_rad = self.box_cell(k, x, x_rad, hs[k], cs[k], eps)
            h_rads.append((hi - lo) / 2)
            c_rads.append(c_rad)
            x, x_rad = (hi + lo) / 2, (hi - lo) / 2
        return h_rads, c_rads

    def box_cell(self, k: int, x: Any, x_rad: Any, h: Any, c: Any, eps: float) -> tuple[Any, Any, Any]:
        """(lo, hi) of layer k's new h and the radius of its c (None but for LSTM) over the box of radius eps
        around (h, c), its input in [x - x_rad, x + x_rad] (x_rad None: exact)."""
        torch, H = self.torch, self.config.hidden
        w_ih, w_hh, b_ih, b_hh = self.layers[k]
        pre_in = x @ w_ih.T + b_ih
        in_rad = 0.0 if x_rad is None else x_rad @ w_ih.abs().T
        mid = pre_in + h @ w_hh.T + b_hh
        rec_rad = eps * w_hh.abs().sum(dim=1)[None, :]
        rad = rec_rad + in_rad

        def span(f: Callable[[Any], Any], q: int) -> tuple[Any, Any]:
            block = slice(q * H, (q + 1) * H)
            return f(mid[:, block] - rad[:, block]), f(mid[:, block] + rad[:, block])

        def mul(a: tuple[Any, Any], b: tuple[Any, Any]) -> tuple[Any, Any]:
            p = torch.stack([a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]])
            return p.min(dim=0).values, p.max(dim=0).values

        if self.config.cell == "rnn":
            lo, hi = span(torch.tanh, 0)
            return lo, hi, None
        if self.config.cell == "gru":
            r = span(torch.sigmoid, 0)
            z = span(torch.sigmoid, 1)
            rec_n = h @ w_hh[2 * H:].T + b_hh[2 * H:]
            rn = mul(r, (rec_n - rec_rad[:, 2 * H:], rec_n + rec_rad[:, 2 * H:]))
            in_n = in_rad[:, 2 * H:] if x_rad is not None else 0.0
            n_lo = torch.tanh(pre_in[:, 2 * H:] - in_n + rn[0])
            n_hi = torch.tanh(pre_in[:, 2 * H:] + in_n + rn[1])
            h_lo, h_hi = h - eps, h + eps
            lo = torch.minimum((1 - z[0]) * n_lo + z[0] * h_lo, (1 - z[1]) * n_lo + z[1] * h_lo)
            hi = torch.maximum((1 - z[0]) * n_hi + z[0] * h_hi, (1 - z[1]) * n_hi + z[1] * h_hi)
            return lo, hi, None
        i, f, g, o = span(torch.sigmoid, 0), span(torch.sigmoid, 1), span(torch.tanh, 2), span(torch.sigmoid, 3)
        fc, ig = mul(f, (c - eps, c + eps)), mul(i, g)
        c_lo, c_hi = fc[0] + ig[0], fc[1] + ig[1]
        h_lo, h_hi = mul(o, (torch.tanh(c_lo), torch.tanh(c_hi)))
        return h_lo, h_hi, (c_hi - c_lo) / 2

    def losses(self, strings: np.ndarray, targets: np.ndarray, mask: np.ndarray, states: np.ndarray, eps: float
               ) -> tuple[Any, Any]:
        """(task loss, certification penalty) over a batch; ``states`` (T+1, B) numbers the grammar state of
        every prefix."""
        torch = self.torch
        B, T = strings.shape
        x = torch.nn.functional.one_hot(torch.from_numpy(strings.T.copy()), self.K).float()
        tgt, msk = torch.from_numpy(targets), torch.from_numpy(mask)
        hs, cs = self.zeros(B), self.zeros(B)
        task, penalty = 0.0, 0.0
        norm = msk.sum() * self.M
        head_abs = self.head_w.abs().sum(dim=1)[None, :]
        visited = []
        for t in range(T + 1):
            logits = hs[-1] @ self.head_w.T + self.head_b
            task = task + (self.bce(logits, tgt[t]) * msk[t, :, None]).sum() / norm
            if not eps:
                if t < T:
                    hs, cs = self.noisy(*self.step(x[t], hs, cs))
                continue
            visited.append(torch.cat(hs + cs if self.config.cell == "lstm" else hs, dim=1))
            if t:  # the empty prefix is the exact zero state: no box needed
                worst = torch.where(tgt[t] > 0.5, logits - eps * head_abs, logits + eps * head_abs)
                penalty = penalty + (self.bce(worst, tgt[t]) * msk[t, :, None]).sum() / norm
            if t == T:
                break
            h_rads, c_rads = self.box_step(x[t], hs, cs, eps)
            radii = h_rads + [r for r in c_rads if r is not None]
            spread = sum(torch.relu(r - self.certify.contraction * eps).mean(dim=1) for r in radii) / len(self.layers)
            penalty = penalty + (spread * msk[t + 1]).sum() / (msk.sum() * eps)
            new_hs, new_cs = self.step(x[t], hs, cs)
            if self.certify.gate_floor and self.config.cell == "gru":
                penalty = penalty + (self.creep([x[t]] + new_hs[:-1], hs) * msk[t + 1]).sum() / msk.sum()
            hs, cs = self.noisy(new_hs, new_cs)
        if eps and self.certify.cluster:
            scatter = self.scatter(torch.stack(visited), states, msk)
            penalty = penalty + self.certify.cluster * scatter / self.certify.radius ** 2
        return task, penalty

    def creep(self, inputs: list[Any], hs: list[Any]) -> Any:
        """(B,) how far the GRU update gates' pre-activations lie beyond 1 - z = ``gate_floor`` (their excess,
        averaged over the units and layers), layer k reading ``inputs[k]`` from state ``hs[k]``: a unit whose z stays
        near 1 creeps, and its regions never close."""
        torch, H = self.torch, self.config.hidden
        limit = float(np.log((1 - self.certify.gate_floor) / self.certify.gate_floor))
        total = 0.0
        for (w_ih, w_hh, b_ih, b_hh), x, h in zip(self.layers, inputs, hs):
            pre = x @ w_ih[H:2 * H].T + b_ih[H:2 * H] + h @ w_hh[H:2 * H].T + b_hh[H:2 * H]
            total = total + torch.relu(pre - limit).mean(dim=1)
        return total / len(self.layers)

    def scatter(self, visited: Any, states: np.ndarray, mask: Any) -> Any:
        """Mean squared distance of the visited states (T+1, B, D) from the centroid of their grammar state:
        prefixes in one grammar state pulled together, so that one small region per state can close."""
        torch = self.torch
        keep = mask.reshape(-1) > 0
        points = visited.reshape(-1, visited.shape[-1])[keep]
        ids = torch.from_numpy(states.reshape(-1))[keep]
        count = int(ids.max()) + 1
        sums = torch.zeros(count, points.shape[1]).index_add(0, ids, points)
        sizes = torch.zeros(count).index_add(0, ids, torch.ones(len(ids)))
        centroids = sums / sizes.clamp(min=1)[:, None]
        return ((points - centroids[ids]) ** 2).sum(dim=1).mean() / points.shape[1]

    def accuracy(self) -> float:
        torch = self.torch
        strings, targets, mask = self.held
        with torch.no_grad():
            B, T = strings.shape
            x = torch.nn.functional.one_hot(torch.from_numpy(strings.T.copy()), self.K).float()
            hs, cs = self.zeros(B), self.zeros(B)
            right = np.ones(B, bool)
            for t in range(T + 1):
                said = (hs[-1] @ self.head_w.T + self.head_b > 0).numpy()
                right &= (said == (targets[t] > 0.5)).all(axis=1) | (mask[t] == 0)
                if t < T:
                    hs, cs = self.step(x[t], hs, cs)
        return float(right.mean())

    def model(self, extra: dict[str, Any]) -> Model:
        arrays = [p.detach().numpy().copy() for p in self.params]
        layers = tuple(Layer(*arrays[4 * k:4 * k + 4]) for k in range(len(self.layers)))
        return Model(layers=layers, head_weight=arrays[-2], head_bias=arrays[-1],
                     alphabet=self.grammar.alphabet, heads=self.labels,
                     units=tuple(f"trained unit {u}" for u in range(self.config.hidden)), cell=self.config.cell,
                     extra=extra)

    def snapshot(self, optimiser: Any) -> tuple[list[Any], dict[str, Any]]:
        """The weights and the optimiser's state, to come back to after a collapse."""
        return [p.detach().clone() for p in self.params], copy.deepcopy(optimiser.state_dict())

    def restore(self, optimiser: Any, saved: tuple[list[Any], dict[str, Any]]) -> None:
        with self.torch.no_grad():
            for p, q in zip(self.params, saved[0]):
                p.copy_(q)
        optimiser.load_state_dict(copy.deepcopy(saved[1]))

    def run(self, progress: Progress | None, deadline: float | None = None) -> tuple[Model, CertifiedResult]:
        """One attempt (this seed's), until a proof, the last epoch or the ``deadline`` (perf_counter seconds)."""
        torch, config, cert = self.torch, self.config, self.certify
        t0 = time.perf_counter()
        optimiser = torch.optim.Adam(self.params, lr=config.learning_rate)
        strings, targets, mask = self.data
        order = np.arange(config.samples)
        proof, attempts, loss_value, acc, epoch = None, 0, float("nan"), 0.0, 0
        accurate_at = None  # the penalties start once the network is nearly right, then ramp up
        coarse = 0  # epochs since then that ended without a proof and without a counterexample
        proved_at = None  # the epoch of the last proof attempt
        guard = 1.0  # halved whenever the penalties made the network collapse (its weights are then restored)
        best: tuple[list[Any], dict[str, Any]] | None = None  # the latest of the most accurate weights (held out)
        best_record = (0.0, float("nan"), 0)  # their accuracy, loss and epoch
        best_wrong = True  # whether their proof found a counterexample (weights it did not prove wrong win ties)
        for epoch in range(1, config.epochs + 1):
            ramp = 0.0 if accurate_at is None else min(1.0, (epoch - accurate_at) / cert.ramp)
            # the penalty's weight doubles every ``patience`` epochs whose proof failed on coarse regions, up to
            # ``max_boost``; a network shown wrong (a confirmed counterexample) needs its task loss, not more penalty
            boost = min(cert.max_boost, 2.0 ** (coarse // cert.patience)) * guard
            self.rng.shuffle(order)
            total = 0.0
            chunks = (order[start:start + config.batch] for start in range(0, config.samples, config.batch))
            batches = [(strings[idx], targets[:, idx], mask[:, idx], self.data_states[:, idx]) for idx in chunks]
            if self.counter:
                batches.append(self.counter_batch())
            if ramp and self.certify.pumped:
                batches.append(self.pumped_batch())
            for batch in batches:
                if ramp:
                    task, penalty = self.losses(*batch, cert.radius * ramp)
                    loss = task + cert.weight * boost * ramp * penalty
                else:
                    loss = self.losses(*batch, 0.0)[0]
                optimiser.zero_grad()
                loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(self.params, 5.0)
                if not (torch.isfinite(loss) and torch.isfinite(norm)):
                    continue  # an overflowing batch (a long string through wide boxes) is skipped, not learnt
                optimiser.step()
                total += float(loss.detach()) * len(batch[0])
            loss_value = total / sum(len(batch[0]) for batch in batches)
            acc = self.accuracy()
            if acc >= cert.start_at and accurate_at is None:
                accurate_at, self.learnt = epoch, True
            line = ""
            if acc == 1.0 and epoch >= cert.check_after and (epoch - cert.check_after) % cert.check_every == 0:
                attempts, proved_at = attempts + 1, epoch
                proof = prove_regions(self.model({}), self.grammar, max_regions=cert.max_regions,
                                      time_limit=cert.proof_time)
                line = proof.summary()
                self.learn_from(proof)
            wrong = proof is not None and bool(line) and proof.failure is not None and proof.failure.confirmed
            if accurate_at is not None and (acc, not wrong) >= (best_record[0], not best_wrong):
                best, best_record, best_wrong = self.snapshot(optimiser), (acc, loss_value, epoch), wrong
            elif accurate_at is not None and acc < cert.start_at and best is not None and guard > cert.min_guard:
                # the penalties broke what the network had learnt: back to the last accurate weights, gentler
                self.restore(optimiser, best)
                guard /= 2
                line = f"held-out accuracy fell to {acc:.3f}: weights of epoch {best_record[2]} restored, " \
                       f"penalties x{guard:g}"
            if progress:
                progress(epoch, config.epochs, loss_value, acc, f"seed {config.seed}: {line}" if line else line)
            if (proof is not None and proof.proven) or (deadline is not None and time.perf_counter() >= deadline):
                break
            if accurate_at is not None and not wrong:
                coarse += 1
        if (proof is None or not proof.proven) and best is not None and acc < best_record[0]:
            self.restore(optimiser, best)  # the last weights that were right beat a collapsed network
            acc, loss_value = best_record[:2]
            proof = None
            restored = best_record[2]
        else:
            restored = None
        extra: dict[str, Any] = {"trained": {"grammar": self.grammar.name, "task": config.task, "epochs": epoch,
                                             "seed": config.seed, "heldout_accuracy": acc, "loss": loss_value,
                                             "certify": {**vars(cert), "noise": self.noise}}}  # this seed's std
        if restored is not None:
            extra["trained"]["weights_of_epoch"] = restored
        if (proof is None or not proof.proven) and not (restored is None and proved_at == epoch):
            # the last attempt predates the final weights: prove them (once; the last epoch's proof is theirs)
            proof = prove_regions(self.model({}), self.grammar, max_regions=cert.max_regions,
                                  time_limit=cert.proof_time)
            attempts += 1
        extra["proof"] = {"method": "regions", "grammar": self.grammar.name, "proven": proof.proven,
                          "regions": proof.regions, "summary": proof.summary()}
        model = self.model(extra)
        return model, CertifiedResult(TrainResult(epoch, loss_value, acc, time.perf_counter() - t0), proof, attempts,
                                      config.seed, 1)
