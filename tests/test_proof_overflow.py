"""No proof for a network whose float32 run may give NaN: a sum that overflows both ways (inf - inf), or a weight
that is finite as stored but infinite in the arithmetic the network runs in (inf * 0). The interval and affine
provers used to fold such NaN bounds into 0 and proved networks that torch and the runtime run to NaN.

Such networks are now refused when a Model is made (a sum that can pass half the float range: where it
overflows, numpy, torch and onnxruntime gave infinity or NaN by the order of their sums, and numpy by the batch
size). The proofs' tests below still hold for them, made by changing a model's arrays in place: the provers
must stay sound for whatever reaches them."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_lstm.cli import main
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.errors import ModelError
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.intervals import interval_product
from fsm_lstm.model import Layer, Model, load_model, save_model, validate
from fsm_lstm.region_proof import prove_regions
from fsm_lstm.runtime import run

BIG = 3e38  # finite in float32 (max 3.4e38); two of them overflow


def with_dead_unit(model: Model) -> tuple[Model, int]:
    """The compiled single-layer LSTM with one more unit whose weights are all 0 (its h stays exactly 0), without
    its grammar (a trained network's region proof); the new unit's index."""
    layer, H = model.layers[0], model.layers[0].hidden_size

    def grow(rows: np.ndarray) -> np.ndarray:  # a zero row after each gate's block
        return np.concatenate([np.concatenate([b, np.zeros((1, *b.shape[1:]), b.dtype)])
                               for b in np.split(rows, 4, axis=0)])

    w_hh = grow(np.concatenate([layer.weight_hh, np.zeros((4 * H, 1), np.float32)], axis=1))
    grown = Layer(grow(layer.weight_ih), w_hh, grow(layer.bias_ih[:, None])[:, 0], grow(layer.bias_hh[:, None])[:, 0])
    head = np.concatenate([model.head_weight, np.zeros((len(model.heads), 1), np.float32)], axis=1)
    return replace(model, layers=(grown,), head_weight=head, units=(), extra={}), H


@pytest.fixture(scope="module")
def parity() -> tuple[Model, object]:
    grammar = load_grammar("parity")
    return compile_grammar(grammar), grammar


def overflowing(model: Model) -> Model:
    """The dead unit's input gate: biases 3e38 + 3e38 (inf in float32) against recurrent weights of -3e38 on every
    unit that is on (a sum of -inf once two are): inf - inf = NaN from the second symbol on, spreading to every
    unit through W_hh."""
    grown, H = with_dead_unit(model)
    layer = grown.layers[0]
    layer.bias_ih[H] = layer.bias_hh[H] = BIG  # in place: a Model refuses such sums when it is made (below)
    layer.weight_hh[H, :H] = -BIG
    return grown


def test_the_overflowing_network_does_run_to_nan(parity):
    """The premise, checked on the runtime: the network's logits are NaN after two symbols."""
    model = overflowing(parity[0])
    with np.errstate(all="ignore"):
        logits = run(model, np.array([[0, 0, 1]])).heads[:, 0]  # (T+1, M)
    assert np.isfinite(logits[:2]).all() and np.isnan(logits[2:]).all()


def test_a_network_whose_sums_may_overflow_is_not_proven(parity):
    model, grammar = overflowing(parity[0]), parity[1]
    with np.errstate(all="ignore"):
        proof = prove_regions(model, grammar, time_limit=20, pump_time=0)
    assert not proof.proven
    baseline = prove_regions(with_dead_unit(parity[0])[0], grammar, time_limit=20, pump_time=0)
    assert baseline.proven  # the dead unit alone does not stop the proof


def one_sided(model: Model) -> Model:
    """The dead unit's input gate: biases 3e38 + 3e38, inf in float32, and nothing negative against them: every
    sum is +inf, sigmoid(inf) = 1, and the run never holds NaN."""
    grown, H = with_dead_unit(model)
    layer = grown.layers[0]
    layer.bias_ih[H] = layer.bias_hh[H] = BIG  # in place, as above
    return grown


def test_a_sum_that_overflows_one_way_only_is_still_proven(parity, monkeypatch):
    """inf plus finite terms stays inf: no NaN, and the proof holds (in one step, and in blocks of steps)."""
    import fsm_lstm.region_proof as region_proof
    model, grammar = one_sided(parity[0]), parity[1]
    with np.errstate(all="ignore"):
        assert not np.isnan(run(model, np.array([[0, 1, 1, 0, 1, 0, 0, 1]])).heads).any()
        assert prove_regions(model, grammar, time_limit=20, pump_time=0).proven
        monkeypatch.setattr(region_proof._Explorer, "run", lambda self, *a, **k: self.result(
            False, region_proof.RegionFailure("made to fail", "escape")))
        assert prove_regions(model, grammar, time_limit=20, pump_time=0).proven  # in blocks


def test_the_block_proof_does_not_prove_it_either(parity, monkeypatch):
    """With the one-step attempts made to fail, the proof in blocks of 2-3 steps (affine forms) is tried: it too
    must not prove the overflowing network."""
    import fsm_lstm.region_proof as region_proof
    model, grammar = overflowing(parity[0]), parity[1]
    calls = []
    original = region_proof._prove_in_blocks

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(region_proof, "_prove_in_blocks", spy)
    monkeypatch.setattr(region_proof._Explorer, "run", lambda self, *a, **k: self.result(
        False, region_proof.RegionFailure("made to fail", "escape")))
    with np.errstate(all="ignore"):
        proof = prove_regions(model, grammar, time_limit=20, pump_time=0)
    assert calls and not proof.proven
    monkeypatch.undo()
    monkeypatch.setattr(region_proof._Explorer, "run", lambda self, *a, **k: self.result(
        False, region_proof.RegionFailure("made to fail", "escape")))
    assert prove_regions(with_dead_unit(parity[0])[0], grammar, time_limit=20, pump_time=0).proven  # in blocks


def test_a_stored_weight_infinite_in_float32_is_refused_at_load(parity, tmp_path):
    grown, H = with_dead_unit(parity[0])
    layer = grown.layers[0]
    w_hh = layer.weight_hh.astype(np.float64)
    w_hh[H + 1, H] = 1e39  # unit 0's forget gate reads the dead unit (h = 0): inf * 0 = NaN in float32
    wide = replace(grown, layers=(replace(layer, weight_hh=w_hh),), extra={"precision": "float64"})
    validate(wide)  # in float64 it is an ordinary (if large) weight
    with pytest.raises(ModelError, match=r"weight_hh_l0 holds 1e\+39, beyond the range of float32"):
        replace(wide, extra={})
    save_model(wide, tmp_path / "wide.npz")
    meta_path = tmp_path / "narrow.npz"
    arrays = dict(np.load(tmp_path / "wide.npz"))
    meta = json.loads(str(arrays["meta"]))
    meta.pop("precision")
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(meta_path, **arrays)
    with pytest.raises(ModelError, match="beyond the range of float32"):
        load_model(meta_path)


def test_the_cli_refuses_it_in_one_line(parity, tmp_path, capsys):
    grown, H = with_dead_unit(parity[0])
    head = grown.head_weight.astype(np.float64)
    head[0, H] = -1e300
    save_model(replace(grown, head_weight=head, extra={"precision": "float64"}), tmp_path / "m.npz")
    arrays = dict(np.load(tmp_path / "m.npz"))
    meta = json.loads(str(arrays["meta"]))
    meta.pop("precision")
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "m.npz", **arrays)
    assert main(["certify", str(tmp_path / "m.npz"), "--grammar", "parity"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "heads.weight holds -1e+300" in err and "meta.precision" in err


def test_zero_times_an_infinite_bound_is_zero_but_nan_stays_nan():
    lo, hi = interval_product(np.array([0.0, np.nan]), np.array([0.5, 1.0]), np.array([-np.inf, 1.0]),
                              np.array([np.inf, 2.0]))
    assert lo[0] == -np.inf and hi[0] == np.inf  # 0.5 * [-inf, inf]: 0 * inf adds nothing
    assert np.isnan(lo[1]) and np.isnan(hi[1])
    lo, hi = interval_product(np.array([0.0]), np.array([0.0]), np.array([-np.inf]), np.array([np.inf]))
    assert lo[0] == 0 and hi[0] == 0  # f in [0, 0] times an unbounded (but finite) cell value


bound = st.one_of(st.floats(-1e6, 1e6), st.sampled_from([0.0, -0.0, np.inf, -np.inf]))


@settings(max_examples=300, deadline=None)
@given(a=st.tuples(bound, bound), b=st.tuples(bound, bound), s=st.floats(0, 1), t=st.floats(0, 1))
def test_the_interval_product_contains_every_product_of_finite_values(a, b, s, t):
    (alo, ahi), (blo, bhi) = sorted(a), sorted(b)

    def inside(lo: float, hi: float, w: float) -> float:  # a finite value of [lo, hi]
        lo, hi = max(lo, -1e300), min(hi, 1e300)
        return min(max(lo + w * (hi - lo), lo), hi)  # clamped: -1e300 + 1e300 * (1 - 1e-300) rounds to 0

    x, y = inside(alo, ahi, s), inside(blo, bhi, t)
    lo, hi = interval_product(*(np.array([v]) for v in (alo, ahi, blo, bhi)))
    assert not (np.isnan(lo) | np.isnan(hi)).any()
    assert lo[0] <= x * y <= hi[0] or not np.isfinite(x * y)


def test_a_network_whose_sums_can_pass_half_the_float_range_is_refused(parity, tmp_path, capsys):
    """A trial's head weights of +-3e38 (finite in float32): numpy's run gave NaN after 'a' in a batch and inf
    alone, torch and onnxruntime inf, so verify, extract and the plugin contradicted each other and torch. Any
    order of summation stays in range when the sum of absolute values does (h in [-1, 1], one-hot inputs)."""
    model = parity[0]
    head = model.head_weight.copy()
    head[model.heads.index("accept"), :2] = (BIG, -BIG)
    with pytest.raises(ModelError, match=r"the sum of head 'accept' can reach 6e\+38, over half the range of float32"):
        replace(model, head_weight=head)
    replace(model, head_weight=head.astype(np.float64), extra={"precision": "float64"})  # in range in float64
    layer = model.layers[0]
    for row, name in ((5, "bias_ih"), (10, "weight_hh")):
        arrays = dict(bias_ih=layer.bias_ih.copy(), weight_hh=layer.weight_hh.copy())
        arrays[name][(row, 0)[:arrays[name].ndim]] = 1.8e38  # more than half the range: refused, and named
        with pytest.raises(ModelError, match=fr"the sum of row {row} of layer 0's gates can reach 1.8e\+38"):
            replace(model, layers=(replace(layer, **arrays),))
    near = layer.bias_ih.copy()
    near[3] = BIG / 2 - float(np.abs(layer.weight_hh[3]).sum() + np.abs(layer.weight_ih[3]).max()) - 1e33
    replace(model, layers=(replace(layer, bias_ih=near),))  # just under half: kept
    validate(model)
    wide = replace(model, head_weight=head.astype(np.float64), extra={"precision": "float64"})
    save_model(wide, tmp_path / "wide.npz")
    arrays = dict(np.load(tmp_path / "wide.npz"))
    meta = json.loads(str(arrays["meta"]))
    meta.pop("precision")
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "m.npz", **arrays)
    assert main(["run", str(tmp_path / "m.npz"), "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "can reach 6e+38" in err and 'meta.precision to "float64"' in err
