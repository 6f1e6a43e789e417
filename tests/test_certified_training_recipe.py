"""The ``--certify`` recipes: the LSTM's noise that waits until the task is learnt and its rarely true heads
balanced; the GRU's update-gate floor (a unit whose 1 - z stays below it creeps, and its regions never close)."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from fsm_lstm.certified_training import CertifyConfig, _Trainer, train_certified
from fsm_lstm.errors import UserError
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.train import TrainConfig

CHEAP = CertifyConfig(max_regions=20, proof_time=1.0)  # the proofs do not matter here
TINY = TrainConfig(task="accept", cell="lstm", hidden=3, samples=60, epochs=2, seed=1)


def trainer(name: str, certify: CertifyConfig, samples: int = 300) -> _Trainer:
    return _Trainer(torch, load_grammar(name), replace(TINY, samples=samples), certify)


def test_waiting_noise_is_off_until_the_task_is_learnt_then_on():
    t = trainer("parity", replace(CHEAP, noise=0.1, noise_waits=True))
    hs, cs = t.zeros(4), t.zeros(4)
    same_h, same_c = t.noisy(hs, cs)
    assert all(torch.equal(a, b) for a, b in zip(same_h + same_c, hs + cs))
    t.learnt = True
    moved_h, moved_c = t.noisy(hs, cs)
    assert not torch.equal(moved_h[0], hs[0]) and not torch.equal(moved_c[0], cs[0])


def test_an_attempt_that_never_learns_trains_as_without_noise_when_the_noise_waits():
    """Two epochs of a 3-unit LSTM on parity stay far below start_at: waiting noise never starts, so the weights are
    exactly those of noise 0, and differ from those of noise from the first epoch."""
    g = load_grammar("parity")
    waiting, quiet, noisy = (train_certified(g, TINY, replace(CHEAP, noise=n, noise_waits=w))
                             for n, w in ((0.1, True), (0.0, False), (0.1, False)))
    assert waiting[1].train.accuracy < CHEAP.start_at
    assert np.array_equal(waiting[0].layers[0].weight_hh, quiet[0].layers[0].weight_hh)
    assert not np.array_equal(waiting[0].layers[0].weight_hh, noisy[0].layers[0].weight_hh)
    assert CertifyConfig.for_cell("lstm").noise_waits and not CertifyConfig.for_cell("gru").noise_waits


def test_a_rare_head_is_balanced_and_a_common_one_is_left_alone():
    """Reber's accept head is true on about 2 % of the training prefixes: its positives weigh negatives over
    positives; tomita1's (about half) keep the plain loss, computed exactly as without ``balance``."""
    rare = trainer("reber", replace(CHEAP, balance=0.1))
    targets, mask = rare.data[1], rare.data[2]
    share = float((targets[..., 0] * mask).sum() / mask.sum())
    assert 0 < share < 0.1
    assert np.isclose(float(rare.bce.pos_weight[0]), (1 - share) / share, rtol=1e-5)
    common = trainer("tomita1", replace(CHEAP, balance=0.1))
    assert common.bce.pos_weight is None
    assert trainer("reber", CHEAP).bce.pos_weight is None  # balance 0: never
    assert CertifyConfig.for_cell("lstm").balance > 0 and CertifyConfig.for_cell("gru").balance == 0


def test_the_noise_can_vary_with_the_seed_and_each_seed_repeats_its_own():
    """``noise_by_seed`` gives seed s the std at s modulo its length; the LSTM's default: 0.2 on seed 0, 0.1 on 1-3."""
    lstm = CertifyConfig.for_cell("lstm")
    assert [_Trainer(torch, load_grammar("parity"), replace(TINY, seed=s), lstm).noise for s in range(5)] == \
        [0.2, 0.1, 0.1, 0.1, 0.2]
    assert trainer("parity", replace(CHEAP, noise=0.3)).noise == 0.3  # no cycle: ``noise`` itself
    g = load_grammar("parity")
    cycle = replace(CHEAP, noise=0.0, noise_by_seed=(0.0, 0.1))  # seed 1 (TINY's) gets 0.1
    same = replace(CHEAP, noise=0.1)
    a, b = ((m.layers[0].weight_hh, m.extra["trained"]["certify"]["noise"])
            for m in (train_certified(g, TINY, c)[0] for c in (cycle, same)))
    assert np.array_equal(a[0], b[0])
    assert a[1] == b[1] == 0.1  # the meta records the std this seed trained with, not ``noise``


@pytest.mark.parametrize("bad", [dict(gate_floor=1.0), dict(gate_floor=-0.1), dict(balance=1.5), dict(noise=-0.1),
                                 dict(noise_by_seed=(0.1, -0.2))])
def test_out_of_range_recipes_are_refused_in_one_line(bad):
    with pytest.raises(UserError):
        train_certified(load_grammar("parity"), TINY, replace(CHEAP, **bad))


# ----- the GRU's update-gate floor -------------------------------------------------------------------------
GRU = TrainConfig(task="accept", cell="gru", hidden=3, samples=60, epochs=2, seed=1)


def gru_trainer(layers: int = 1) -> _Trainer:
    return _Trainer(torch, load_grammar("parity"), replace(GRU, layers=layers), CertifyConfig(gate_floor=0.1))


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
    t = gru_trainer(layers)
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
    t = _Trainer(torch, load_grammar("parity"), replace(GRU, cell=cell), CertifyConfig(gate_floor=floor))
    if cell == "gru":
        set_update_bias(t, np.log(0.9 / 0.1) + 2.0)
    strings, targets, mask = t.data
    return float(t.losses(strings[:20], targets[:, :20], mask[:, :20], t.data_states[:, :20], 0.05)[1].detach())


def test_the_floor_adds_to_the_gru_penalty_only():
    assert penalty("gru", 0.1) > penalty("gru", 0.0) + 1.0  # 2 per supervised step, averaged over them
    assert penalty("rnn", 0.1) == penalty("rnn", 0.0)
    assert CertifyConfig.for_cell("gru").gate_floor == 0.3
    assert CertifyConfig.for_cell("lstm").gate_floor == CertifyConfig.for_cell("rnn").gate_floor == 0.0
