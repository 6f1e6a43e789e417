"""Training standard nn.LSTM (or nn.GRU, nn.RNN) models with heads on grammar strings (PyTorch, ``train`` extra).

Data: grammar walks that sometimes step off the grammar, and uniformly random strings, with lengths drawn
from a range; targets: the semantics' accept and/or next heads after every prefix (the empty one included).
Training stops early once every held-out string is right at every prefix. The same seed gives the same model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import UserError
from .generate import walks
from .grammar import Grammar
from .model import Layer, Model
from .semantics import Semantics

Progress = Callable[[int, int, float, float], None]  # epoch, epochs, loss, held-out accuracy


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
    batch: int = 100
    leave: float = 0.05
    heldout: int = 500
    final_only: bool = False  # supervise only the end of each string (seed 002's set-up) instead of every prefix


@dataclass(frozen=True)
class TrainResult:
    """What happened: epochs run, final loss, held-out string accuracy."""

    epochs: int
    loss: float
    accuracy: float


def head_labels(grammar: Grammar, task: str) -> tuple[str, ...]:
    """The heads a task trains."""
    nxt = tuple(f"next:{a}" for a in grammar.alphabet)
    if task == "next":
        return nxt
    if task == "accept":
        return ("accept",)
    if task == "both":
        return ("accept", *nxt)
    raise UserError(f"unknown task {task!r}; use next, accept or both")


def dataset(grammar: Grammar, labels: tuple[str, ...], count: int, lengths: tuple[int, int], leave: float,
            rng: np.random.Generator, final_only: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(strings (B, T), targets (T+1, B, M), mask (T+1, B)): half walks, half uniform strings, padded.
    The mask covers every prefix up to each string's length, or only its end with ``final_only``."""
    lo, hi = lengths
    sizes = rng.integers(lo, hi + 1, size=count)
    half = count // 2
    strings = np.concatenate([walks(grammar, rng, half, hi, leave=leave),
                              rng.integers(0, len(grammar.alphabet), size=(count - half, hi))])
    targets = Semantics(grammar).expected_heads(labels, strings).astype(np.float32)
    steps = np.arange(hi + 1)[:, None]
    mask = ((steps == sizes[None, :]) if final_only else (steps <= sizes[None, :])).astype(np.float32)
    return strings, targets, mask


def train(grammar: Grammar, config: TrainConfig = TrainConfig(), progress: Progress | None = None
          ) -> tuple[Model, TrainResult]:
    """Train an nn.LSTM with linear heads on ``grammar``; return it in the documented model format."""
    try:
        import torch
    except ImportError:
        raise UserError("training needs PyTorch: pip install 'fsm-lstm[train]' (or torch==2.13.0)") from None
    if config.lengths[0] < 0 or config.lengths[1] < max(config.lengths[0], 1):
        raise UserError(f"--lengths {config.lengths[0]}-{config.lengths[1]} is not a range A-B with 0 <= A <= B, B >= 1")
    if config.hidden < 1 or config.layers < 1 or config.epochs < 1 or config.samples < 2:
        raise UserError("--hidden, --layers and --epochs must be at least 1, --samples at least 2")
    labels = head_labels(grammar, config.task)
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    strings, targets, mask = dataset(grammar, labels, config.samples, config.lengths, config.leave, rng,
                                     config.final_only)
    held = dataset(grammar, labels, config.heldout, config.lengths, config.leave, rng, config.final_only)
    K, M = len(grammar.alphabet), len(labels)
    modules = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}
    if config.cell not in modules:
        raise UserError(f"unknown cell {config.cell!r}; use lstm, gru or rnn")
    net = modules[config.cell](K, config.hidden, num_layers=config.layers)
    head = torch.nn.Linear(config.hidden, M)
    params = list(net.parameters()) + list(head.parameters())
    optimiser = torch.optim.Adam(params, lr=config.learning_rate)
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="none")

    def logits_of(batch: np.ndarray) -> torch.Tensor:
        x = torch.nn.functional.one_hot(torch.from_numpy(batch.T.copy()), K).float()
        out, _ = net(x)
        out = torch.cat([torch.zeros(1, *out.shape[1:]), out])
        return head(out)

    def accuracy(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> float:
        with torch.no_grad():
            right = ((logits_of(data[0]) > 0).numpy() == (data[1] > 0.5)).all(axis=-1) | (data[2] == 0)
        return float(right.all(axis=0).mean())

    order = np.arange(config.samples)
    loss_value, acc, epoch = float("nan"), 0.0, 0
    for epoch in range(1, config.epochs + 1):
        rng.shuffle(order)
        total = 0.0
        for start in range(0, config.samples, config.batch):
            idx = order[start:start + config.batch]
            out = logits_of(strings[idx])
            m = torch.from_numpy(mask[:, idx])[..., None]
            loss = (loss_fn(out, torch.from_numpy(targets[:, idx])) * m).sum() / (m.sum() * M)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            optimiser.step()
            total += float(loss.detach()) * len(idx)
        loss_value = total / config.samples
        acc = accuracy(held)
        if progress:
            progress(epoch, config.epochs, loss_value, acc)
        if acc == 1.0:
            break
    state = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    layers = tuple(Layer(*(state[f"{n}_l{k}"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
                   for k in range(config.layers))
    model = Model(layers=layers, head_weight=head.weight.detach().numpy().copy(),
                  head_bias=head.bias.detach().numpy().copy(), alphabet=grammar.alphabet, heads=labels,
                  units=tuple(f"trained unit {u}" for u in range(config.hidden)), cell=config.cell,
                  extra={"trained": {"grammar": grammar.name, "task": config.task, "epochs": epoch,
                                     "seed": config.seed, "heldout_accuracy": acc, "loss": loss_value}})
    return model, TrainResult(epoch, loss_value, acc)
