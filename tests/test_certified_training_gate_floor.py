"""``CertifyConfig.gate_floor``: GRUs trained with ``--certify`` are penalised where an update gate keeps 1 - z below
the floor (a unit that mostly keeps its value creeps and its regions never close)."""

from dataclasses import replace

import numpy as np
import pytest

from fsm_lstm.certified_training import CertifyConfig, _Trainer
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.train import TrainConfig

torch = pytest.importorskip("torch")

CONFIG = TrainConfig(task="accept", cell="gru", hidden=3, samples=60, epochs=2, seed=1)


def trainer(layers: int = 1) -> _Trainer:
    return _Trainer(torch, load_grammar("parity"), replace(CONFIG, layers=layers), CertifyConfig(gate_floor=0.1))


def set_update_bias(t: _Trainer, value: float) -> None:
    """Every update gate's input bias set to ``value``, every other weight of the z rows to 0: z = sigmoid(value)."""
    H = t.config.hidden
    with torch.no_grad():
        for w_ih, w_hh, b_ih, b_hh in t.layers:
            for p in (w_ih, w_hh, b_hh):
                p[H:2 * H] = 0.0
            b_ih[H:2 * H] = value


@pytest.mark.parametrize("layers", [1, 2])
def test_the_penalty_counts_the_excess_of_the_update_gates_beyond_the_floor(layers):
    t = trainer(layers)
    x = torch.eye(2)
    hs = [torch.full((2, 3), 0.3) for _ in range(layers)]
    inputs = [x] + hs[:-1]
    limit = np.log(0.9 / 0.1)  # 1 - z = 0.1 there
    set_update_bias(t, limit + 2.0)  # 1 - z = 0.016: every unit of every layer 2 beyond the floor
    assert np.allclose(t.creep(inputs, hs).detach().numpy(), 2.0, atol=1e-5)
    set_update_bias(t, limit - 0.5)  # 1 - z = 0.14: above the floor, no penalty
    assert np.array_equal(t.creep(inputs, hs).detach().numpy(), np.zeros(2))


def penalty(cell: str, floor: float) -> float:
    """The certification penalty over the first 20 training strings, every update gate at 1 - z = 0.016."""
    t = _Trainer(torch, load_grammar("parity"), replace(CONFIG, cell=cell), CertifyConfig(gate_floor=floor))
    if cell == "gru":
        set_update_bias(t, np.log(0.9 / 0.1) + 2.0)
    strings, targets, mask = t.data
    return float(t.losses(strings[:20], targets[:, :20], mask[:, :20], t.data_states[:, :20], 0.05)[1].detach())


def test_the_floor_adds_to_the_gru_penalty_only():
    assert penalty("gru", 0.1) > penalty("gru", 0.0) + 1.0  # 2 per supervised step, averaged over them
    assert penalty("rnn", 0.1) == penalty("rnn", 0.0)
    assert CertifyConfig.for_cell("gru").gate_floor == 0.3
    assert CertifyConfig.for_cell("lstm").gate_floor == CertifyConfig.for_cell("rnn").gate_floor == 0.0
