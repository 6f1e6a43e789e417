"""Training standard nn.LSTM (or nn.GRU, nn.RNN) models with heads on grammar strings (PyTorch, ``train`` extra).

Data: grammar walks that sometimes step off the grammar, and uniformly random strings, with lengths drawn
from a range; targets: the semantics' accept and/or next heads after every prefix (the empty one included), or
the out: heads of a Moore or Mealy machine (task ``output``).
Training stops early once every held-out string is right at every prefix. The same seed gives the same model.
Two options are off by default (and then change nothing): ``moving`` makes the walks take state-changing edges
more often (on a complete DFA whose states mostly loop, uniform strings rarely change state, and networks then
fail on words that change state many times), and ``lr_decay`` multiplies Adam's learning rate by a factor
after every epoch.

Word classifiers (TAYSIR-style): with a start and/or end marker (``final_only`` and task ``accept``), the model
alphabet is the grammar's plus the markers, every training string is START w END, and only the ``accept``
head after the end marker is supervised, with accept(w). The saved meta says ``final_only`` and names the
markers; the grammar stays over the inner alphabet.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import GrammarError, UserError
from .generate import walks
from .grammar import Grammar, check_symbol
from .labels import output_label
from .model import Layer, Model
from .semantics import Semantics

__all__ = [
    "CELLS", "MAX_HIDDEN", "MAX_LAYERS", "Progress", "TrainConfig", "TrainResult", "check_config", "dataset",
    "head_labels", "markers", "sample_words", "train", "word_accepts", "word_dataset"
]

Progress = Callable[[int, int, float, float], None]  # epoch, epochs, loss, held-out accuracy

MAX_HIDDEN = 4096
MAX_LAYERS = 16
CELLS = ("lstm", "gru", "rnn")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters; lengths are inclusive."""

    task: str = "both"
    cell: str = "lstm"
    hidden: int = 16
    layers: int = 1
    epochs: int = 300
    samples: int = 2000
    lengths: tuple[int, int] = (1, 20)
    seed: int = 0
    learning_rate: float = 0.01
    lr_decay: float = 1.0  # the learning rate is multiplied by this after every epoch (1: constant, the default)
    batch: int = 100
    leave: float = 0.05
    moving: float = 0.0  # walks: chance per step to take an edge that changes the state (0: none, the default)
    heldout: int = 500
    final_only: bool = False  # supervise only the end of each string (seed 002's set-up) instead of every prefix
    start_marker: str | None = None  # word classifier: a symbol read before each word (needs final_only, accept)
    end_marker: str | None = None  # ... and one read after it; the verdict is the accept head after it
    threads: int = 1  # torch threads while training (restored afterwards); see ``train``


@dataclass(frozen=True)
class TrainResult:
    """What happened: epochs run, final loss, held-out accuracy (strings right at every prefix, or words
    right for a word classifier), wall-clock seconds."""

    epochs: int
    loss: float
    accuracy: float
    seconds: float = 0.0


def head_labels(grammar: Grammar, task: str) -> tuple[str, ...]:
    """The heads a task trains (``output``: the out: heads of a Moore or Mealy machine)."""
    if task == "output":
        if not grammar.machine:
            raise UserError(f"--task output trains the outputs of a Moore or Mealy machine; {grammar.name!r} has "
                            "none (use --task next, accept or both)")
        return tuple(output_label(v) for v in grammar.output_values)
    if grammar.machine:
        raise UserError(f"{grammar.name!r} is a {grammar.machine.capitalize()} machine, without accepting states: "
                        "train its outputs with --task output")
    nxt = tuple(f"next:{a}" for a in grammar.alphabet)
    if task == "next":
        return nxt
    if task == "accept":
        return ("accept",)
    if task == "both":
        return ("accept", *nxt)
    raise UserError(f"unknown task {task!r}; use next, accept, both or output")


def markers(config: TrainConfig) -> tuple[str, ...]:
    """The markers of a word classifier, start first (empty for per-prefix training)."""
    return tuple(m for m in (config.start_marker, config.end_marker) if m is not None)


def check_config(grammar: Grammar, config: TrainConfig) -> None:
    """Raise a one-line UserError for hyper-parameters that cannot train."""
    lo, hi = config.lengths
    if lo < 0 or hi < max(lo, 1):
        raise UserError(f"--lengths {lo}-{hi} is not a range A-B with 0 <= A <= B, B >= 1")
    counts = (("--hidden", config.hidden, 1, MAX_HIDDEN), ("--layers", config.layers, 1, MAX_LAYERS),
              ("--epochs", config.epochs, 1, None), ("--samples", config.samples, 2, None),
              ("--batch", config.batch, 1, None), ("--threads", config.threads, 1, None),
              ("the held-out count", config.heldout, 1, None))
    for flag, value, least, most in counts:
        if not isinstance(value, (int, np.integer)) or value < least or (most is not None and value > most):
            bound = f"from {least} to {most}" if most is not None else f"at least {least}"
            raise UserError(f"{flag} {value} is out of range; use a whole number {bound}")
    if not (isinstance(config.learning_rate, (int, float)) and math.isfinite(config.learning_rate)
            and config.learning_rate > 0):
        raise UserError(f"--lr {config.learning_rate} must be a finite number > 0, such as 0.01")
    if not (isinstance(config.lr_decay, (int, float)) and 0.0 < config.lr_decay <= 1.0):
        raise UserError(f"lr_decay {config.lr_decay} must be a factor in (0, 1], such as 0.95 (1: no decay)")
    if not (isinstance(config.leave, (int, float)) and 0.0 <= config.leave <= 1.0):
        raise UserError(f"leave {config.leave} must be a probability in [0, 1]")
    if not (isinstance(config.moving, (int, float)) and 0.0 <= config.moving <= 1.0):
        raise UserError(f"moving {config.moving} must be a probability in [0, 1]")
    if config.cell not in CELLS:
        raise UserError(f"unknown cell {config.cell!r}; use lstm, gru or rnn")
    head_labels(grammar, config.task)
    marks = markers(config)
    if not marks:
        return
    if config.task != "accept" or not config.final_only:
        raise UserError("--start-marker/--end-marker train a word classifier: add --final-only --task accept")
    for flag, m in zip(("--start-marker", "--end-marker"), (config.start_marker, config.end_marker)):
        if m is None:
            continue
        try:
            check_symbol(m, flag)
        except GrammarError as exc:
            raise UserError(str(exc)) from None
        if m in grammar.alphabet:
            raise UserError(f"{flag} {m!r} is a symbol of the grammar {grammar.name!r}; "
                            f"pick a marker outside its alphabet ({' '.join(grammar.alphabet)})")
    if len(marks) == 2 and marks[0] == marks[1]:
        raise UserError(f"--start-marker and --end-marker are both {marks[0]!r}; give two different symbols")


def sample_words(grammar: Grammar, rng: np.random.Generator, count: int, lengths: tuple[int, int],
                 leave: float, moving: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(strings (count, B) of symbol indices, sizes (count,)): half grammar walks (leaving the grammar with
    probability ``leave`` per step, and taking a state-changing edge with probability ``moving``), half uniform
    strings; string b is ``strings[b, :sizes[b]]``."""
    lo, hi = lengths
    sizes = rng.integers(lo, hi + 1, size=count)
    half = count // 2
    strings = np.concatenate([walks(grammar, rng, half, hi, leave=leave, moving=moving),
                              rng.integers(0, len(grammar.alphabet), size=(count - half, hi))])
    return strings, sizes


def word_accepts(grammar: Grammar, strings: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """(B,) bool: does the grammar accept ``strings[b, :sizes[b]]``."""
    sem = Semantics(grammar)
    states = sem.states(strings)
    return sem.accept(states[np.asarray(sizes), np.arange(len(sizes))])


def dataset(grammar: Grammar, labels: tuple[str, ...], count: int, lengths: tuple[int, int], leave: float,
            rng: np.random.Generator, final_only: bool = False, moving: float = 0.0
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(strings (B, T), targets (T+1, B, M), mask (T+1, B)): half walks, half uniform strings, padded.
    The mask covers every prefix up to each string's length, or only its end with ``final_only``."""
    strings, sizes = sample_words(grammar, rng, count, lengths, leave, moving)
    targets = Semantics(grammar).expected_heads(labels, strings).astype(np.float32)
    steps = np.arange(lengths[1] + 1)[:, None]
    mask = ((steps == sizes[None, :]) if final_only else (steps <= sizes[None, :])).astype(np.float32)
    return strings, targets, mask


def word_dataset(grammar: Grammar, config: TrainConfig, count: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(framed (B, T) model-alphabet indices, read (B,) symbols read up to the verdict, targets (B,) float32)
    for a word classifier: each inner word framed by the markers, padded with the last symbol index."""
    strings, sizes = sample_words(grammar, rng, count, config.lengths, config.leave, config.moving)
    K = len(grammar.alphabet)
    start = int(config.start_marker is not None)
    end = int(config.end_marker is not None)
    framed = np.full((count, config.lengths[1] + start + end), K + start + end - 1 if start + end else 0,
                     dtype=np.int64)
    if start:
        framed[:, 0] = K
    columns = np.arange(config.lengths[1])[None, :]
    framed[:, start:start + config.lengths[1]] = np.where(columns < sizes[:, None], strings, framed[:, -1:])
    if end:
        framed[np.arange(count), start + sizes] = K + start
    targets = word_accepts(grammar, strings, sizes).astype(np.float32)
    return framed, (start + sizes + end).astype(np.int64), targets


def train(grammar: Grammar, config: TrainConfig = TrainConfig(), progress: Progress | None = None
          ) -> tuple[Model, TrainResult]:
    """Train an nn.LSTM (nn.GRU, nn.RNN) with linear heads on ``grammar``; return it in the model format.

    Torch runs on ``config.threads`` threads (1 by default: on a shared 2-core machine two OpenMP threads
    were measured 50 times slower than one whenever another process held a core)."""
    try:
        import torch
    except ImportError:
        raise UserError("training needs PyTorch: pip install 'fsm-lstm[train]' (or torch==2.13.0)") from None
    check_config(grammar, config)
    previous = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    t0 = time.perf_counter()
    try:
        if markers(config):
            model, result = _train_words(torch, grammar, config, progress)
        else:
            model, result = _train_prefixes(torch, grammar, config, progress)
    finally:
        torch.set_num_threads(previous)
    return model, TrainResult(result.epochs, result.loss, result.accuracy, time.perf_counter() - t0)


def _network(torch: Any, config: TrainConfig, inputs: int, outputs: int) -> tuple[Any, Any, list[Any]]:
    modules = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}
    net = modules[config.cell](inputs, config.hidden, num_layers=config.layers)
    head = torch.nn.Linear(config.hidden, outputs)
    return net, head, list(net.parameters()) + list(head.parameters())


def _decay(optimiser: Any, factor: float) -> None:
    """Multiply the learning rate by ``factor`` (after an epoch); a factor of 1 leaves the optimiser untouched."""
    if factor != 1.0:
        for group in optimiser.param_groups:
            group["lr"] *= factor


def _epochs(torch: Any, config: TrainConfig, optimiser: Any, params: list[Any], batch_losses: Callable[[], Any],
            held_accuracy: Callable[[], float], progress: Progress | None) -> tuple[int, float, float]:
    """Adam steps on every (loss, batch size) ``batch_losses()`` yields, epoch after epoch, until the held-out
    accuracy is 1 or ``config.epochs`` end: (epochs run, mean loss of the last, its held-out accuracy)."""
    loss_value, acc, epoch = float("nan"), 0.0, 0
    for epoch in range(1, config.epochs + 1):
        total = 0.0
        for loss, size in batch_losses():
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            optimiser.step()
            total += float(loss.detach()) * size
        loss_value = total / config.samples
        acc = held_accuracy()
        if progress:
            progress(epoch, config.epochs, loss_value, acc)
        if acc == 1.0:
            break
        _decay(optimiser, config.lr_decay)
    return epoch, loss_value, acc


def _model(net: Any, head: Any, config: TrainConfig, alphabet: tuple[str, ...], labels: tuple[str, ...],
           extra: dict[str, Any]) -> Model:
    state = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    layers = tuple(Layer(*(state[f"{n}_l{k}"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
                   for k in range(config.layers))
    return Model(layers=layers, head_weight=head.weight.detach().numpy().copy(),
                 head_bias=head.bias.detach().numpy().copy(), alphabet=alphabet, heads=labels,
                 units=tuple(f"trained unit {u}" for u in range(config.hidden)), cell=config.cell, extra=extra)


def _record(grammar: Grammar, config: TrainConfig, epoch: int, acc: float, loss: float) -> dict[str, Any]:
    return {"grammar": grammar.name, "task": config.task, "epochs": epoch, "seed": config.seed,
            "heldout_accuracy": acc, "loss": loss}


def _train_prefixes(torch: Any, grammar: Grammar, config: TrainConfig, progress: Progress | None
                    ) -> tuple[Model, TrainResult]:
    """Per-prefix training (every head after every prefix, or only at each string's end)."""
    labels = head_labels(grammar, config.task)
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    strings, targets, mask = dataset(grammar, labels, config.samples, config.lengths, config.leave, rng,
                                     config.final_only, config.moving)
    held = dataset(grammar, labels, config.heldout, config.lengths, config.leave, rng, config.final_only,
                   config.moving)
    K, M = len(grammar.alphabet), len(labels)
    net, head, params = _network(torch, config, K, M)
    optimiser = torch.optim.Adam(params, lr=config.learning_rate)
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="none")

    def logits_of(batch: np.ndarray) -> Any:
        x = torch.nn.functional.one_hot(torch.from_numpy(batch.T.copy()), K).float()
        out, _ = net(x)
        out = torch.cat([torch.zeros(1, *out.shape[1:]), out])
        return head(out)

    def accuracy(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> float:
        with torch.no_grad():
            right = ((logits_of(data[0]) > 0).numpy() == (data[1] > 0.5)).all(axis=-1) | (data[2] == 0)
        return float(right.all(axis=0).mean())

    order = np.arange(config.samples)

    def batch_losses() -> Any:
        rng.shuffle(order)
        for start in range(0, config.samples, config.batch):
            idx = order[start:start + config.batch]
            m = torch.from_numpy(mask[:, idx])[..., None]
            loss = (loss_fn(logits_of(strings[idx]), torch.from_numpy(targets[:, idx])) * m).sum() / (m.sum() * M)
            yield loss, len(idx)

    epoch, loss_value, acc = _epochs(torch, config, optimiser, params, batch_losses, lambda: accuracy(held), progress)
    # an accept head trained at string ends only is a word classifier without markers (reading.py); next
    # heads trained that way have no such reading, so their meta says nothing
    extra: dict[str, Any] = {"final_only": True} if config.final_only and config.task == "accept" else {}
    extra["trained"] = _record(grammar, config, epoch, acc, loss_value)
    model = _model(net, head, config, grammar.alphabet, labels, extra)
    return model, TrainResult(epoch, loss_value, acc)


def _batches(rng: np.random.Generator, read: np.ndarray, batch: int, bucket: int = 20) -> list[np.ndarray]:
    """Shuffled batches of similar lengths: shuffle, sort chunks of ``bucket`` batches by length, shuffle
    the batches (so that padding costs little)."""
    order = rng.permutation(len(read))
    out = []
    for lo in range(0, len(order), batch * bucket):
        chunk = order[lo:lo + batch * bucket]
        chunk = chunk[np.argsort(read[chunk], kind="stable")]
        out += [chunk[k:k + batch] for k in range(0, len(chunk), batch)]
    return [out[k] for k in rng.permutation(len(out))]


def _train_words(torch: Any, grammar: Grammar, config: TrainConfig, progress: Progress | None
                 ) -> tuple[Model, TrainResult]:
    """A word classifier: START w END, the accept head supervised after the end marker only."""
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    framed, read, targets = word_dataset(grammar, config, config.samples, rng)
    held = word_dataset(grammar, config, config.heldout, rng)
    alphabet = grammar.alphabet + markers(config)
    K = len(alphabet)
    net, head, params = _network(torch, config, K, 1)
    optimiser = torch.optim.Adam(params, lr=config.learning_rate)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def logits_of(strings: np.ndarray, upto: np.ndarray) -> Any:
        steps = int(upto.max())
        if steps == 0:
            return head(torch.zeros(len(upto), config.hidden))[:, 0]
        x = torch.nn.functional.one_hot(torch.from_numpy(strings[:, :steps].T.copy()), K).float()
        out, _ = net(x)
        out = torch.cat([torch.zeros(1, *out.shape[1:]), out])
        return head(out[torch.from_numpy(upto), torch.arange(len(upto))])[:, 0]

    def accuracy(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> float:
        right = 0
        with torch.no_grad():
            for lo in range(0, len(data[1]), 1000):
                part = slice(lo, lo + 1000)
                said = (logits_of(data[0][part], data[1][part]) > 0).numpy()
                right += int((said == (data[2][part] > 0.5)).sum())
        return right / len(data[1])

    def batch_losses() -> Any:
        for idx in _batches(rng, read, config.batch):
            yield loss_fn(logits_of(framed[idx], read[idx]), torch.from_numpy(targets[idx])), len(idx)

    epoch, loss_value, acc = _epochs(torch, config, optimiser, params, batch_losses, lambda: accuracy(held), progress)
    extra: dict[str, Any] = {"final_only": True}
    if config.start_marker is not None:
        extra["start_marker"] = config.start_marker
    if config.end_marker is not None:
        extra["end_marker"] = config.end_marker
    extra["trained"] = _record(grammar, config, epoch, acc, loss_value)
    model = _model(net, head, config, alphabet, ("accept",), extra)
    return model, TrainResult(epoch, loss_value, acc)
