"""The certificate steps one entry per class of equal inputs (fsm_lstm/entry_classes.py). Soundness rests on
the classes: stepping every (configuration, symbol, unit) entry on its own must give the same boxes and the
same worst values. The reference here enumerates the entries from the definitions (a configuration's units,
the units its columns feed in the dense weights, the successor's units, ``started``), with no grouping and no
chunks, and steps every one of them, for every unit of the layer."""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fsm_lstm.compiler import Gains, compile_grammar
from fsm_lstm.row_groups import row_ids
from fsm_lstm.generate import random_dfa
from fsm_lstm.sparse_weights import dense
from tests.strategies import grammars

certify_module = importlib.import_module("fsm_lstm.certify")


def tampered(model, seed: int, share: float):
    """The model with a share of weight_hh's non-zeros zeroed or scaled (irregular feeds, many classes)."""
    if not share:
        return model
    layer = model.layers[0]
    w = np.array(dense(layer.weight_hh), dtype=np.float32)
    rng = np.random.default_rng(seed)
    rows, cols = np.nonzero(w)
    hit = rng.random(rows.size) < share
    w[rows[hit], cols[hit]] *= rng.choice(np.array([0.0, 0.5, 1.5], np.float32), size=int(hit.sum()))
    return dataclasses.replace(model, layers=(dataclasses.replace(layer, weight_hh=w),))


def reference_image(p, box):
    """The image of one step over every entry, each stepped alone: (on box, off box, lowest on h, highest off
    h, the set of (pair, unit) reaching each). The per-row constants (biases, row sums, gamma) come from the
    prover; which entries exist and what they read is worked out here, per entry."""
    on, off = box
    H, K = p.H, p.K
    n_cfg = len(p.cfg.edges)
    units_of = {e: u for u, label in enumerate(p.model.units) for e, edge in enumerate(p.g.transitions)
                if label == certify_module.edge_label(*edge)}
    started = np.array([label == certify_module.STARTED for label in p.model.units])
    own = [[units_of[e] for e in edges if e in units_of] for edges in p.cfg.edges]
    width = max(1, max(map(len, own)))
    w = p._as_run(dense(p.model.layers[0].weight_hh))  # (4H, H)
    gathered = np.zeros((n_cfg, 4 * H, width))
    was_on = np.tile(started, (n_cfg, 1))
    for k, units in enumerate(own):
        for slot, c in enumerate(units):
            gathered[k, :, slot] = w[:, c]
            was_on[k, c] = True
    col, absol = gathered.sum(axis=-1), np.abs(gathered).sum(axis=-1)  # (n_cfg, 4H): as the prover sums them
    feeds = (absol.reshape(n_cfg, 4, H) > 0).any(axis=1)  # (n_cfg, H): some own column reaches the unit
    should_on = was_on[p.cfg.succ] | started  # (n_cfg, K, H)
    special = (was_on | feeds)[:, None, :] | should_on

    mid = lambda b: (b[2] + b[3]) / 2  # noqa: E731
    rad = lambda b: (b[3] - b[2]) / 2  # noqa: E731
    mag = lambda b: max(abs(b[2]), abs(b[3]))  # noqa: E731
    d_mid, d_rad, d_mag = mid(on) - mid(off), rad(on) - rad(off), mag(on) - mag(off)
    base_mid = p.Wih.T + p.b + mid(off) * p.R + d_mid * p.W_st  # (K, 4H)
    base_rad = rad(off) * p.RA + d_rad * p.A_st
    base_mag = mag(off) * p.RA + d_mag * p.A_st
    abs_wih = np.abs(p.Wih.T)
    rows = np.arange(H)[:, None] + H * np.arange(4)[None, :]  # (H, 4)
    z_mid = base_mid[None, :, rows] + d_mid * col[:, None, rows]  # (n_cfg, K, H, 4)
    z_mag = base_mag[rows] + d_mag * absol[:, None, rows]
    z_rad = (base_rad[rows] + d_rad * absol[:, None, rows]
             + p.gamma[rows] * (z_mag + abs_wih[None, :, rows] + p.bias_abs[rows]) + p.tiny[rows])
    plain_rad = base_rad[rows] + (p.gamma * (base_mag + abs_wih + p.bias_abs) + p.tiny)[:, rows]  # (K, H, 4)
    z_rad = np.where(special[..., None], z_rad, plain_rad[None])
    c_lo = np.where(was_on, on[0], off[0])[:, None, :].repeat(K, axis=1)
    c_hi = np.where(was_on, on[1], off[1])[:, None, :].repeat(K, axis=1)
    vals = np.stack(certify_module._unit_step(z_mid - z_rad, z_mid + z_rad, c_lo, c_hi, 8 * p.u), axis=-1)
    box_of = lambda v: np.array([v[:, 0].min(), v[:, 1].max(), v[:, 2].min(), v[:, 3].max()]) if v.size \
        else None  # noqa: E731
    where = lambda mask: {(int(k) * K + int(a), int(u)) for k, a, u in zip(*np.nonzero(mask))}  # noqa: E731
    low_on = vals[..., 2][should_on].min(initial=np.inf)
    high_off = vals[..., 3][~should_on].max(initial=-np.inf)
    return (box_of(vals[should_on]), box_of(vals[~should_on]), low_on, where(should_on & (vals[..., 2] == low_on)),
            high_off, where(~should_on & (vals[..., 3] == high_off)))


DFAS = st.builds(lambda n, k, density, seed: random_dfa(np.random.default_rng(seed), n, k, density, 0.5),
                 st.integers(5, 16), st.integers(2, 3), st.floats(0.5, 1.0), st.integers(0, 2**16))
BOX = st.tuples(st.floats(0.3, 0.8), st.floats(0.0, 0.05), st.floats(-1e-6, 0.0), st.floats(0.0, 0.5))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(DFAS, grammars(max_states=7, max_symbols=3)), st.booleans(), st.sampled_from([None, 3.0, 8.0]),
       st.sampled_from([0.0, 0.0, 0.2, 0.6]), st.integers(0, 2**16), st.sampled_from([1, 50, 10**9]), BOX)
def test_one_step_per_class_equals_stepping_every_entry(g, unknown_start, gate, share, seed, budget, box):
    """Random DFAs and NFAs, from the start or any state, with gains from weak to derived and weights zeroed
    or scaled at random, built in one chunk or many: the grouped image equals the ungrouped one exactly, and
    each culprit the prover names reaches the extreme value in the reference."""
    try:
        model = compile_grammar(g, unknown_start=unknown_start, gains=Gains(gate=gate))
    except Exception as exc:  # an empty language and the like are refused in one line
        assert type(exc).__name__ in ("UserError", "GrammarError", "ModelError"), exc
        return
    model = tampered(model, seed, share)
    p = certify_module._Prover(model, None, None, "float32", 200_000)
    p.entry_budget = budget
    assert p.prepare() is None
    h_on, width_on, h_off, width_off = box
    on = np.array([np.tanh(h_on) * 1.3, 1.0, h_on, h_on + width_on])
    off = np.array([h_off, width_off * 1.3, h_off, width_off])
    image_on, image_off, culprits = p._image((on, off))
    event(f"{len(p.cfg.edges) // 10 * 10}+ configurations, {p.e_pair.size // 10 * 10}+ classes")
    ref_on, ref_off, low_on, low_where, high_off, high_where = reference_image(p, (on, off))
    for mine, ref, role, extreme, where in ((image_on, ref_on, "on", low_on, low_where),
                                            (image_off, ref_off, "off", high_off, high_where)):
        if ref is None:
            assert mine is None and role not in culprits
            continue
        assert np.array_equal(mine, ref), role
        assert culprits[role][0] == extreme and culprits[role][1:] in where, role


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 5), st.integers(0, 2**16), st.booleans())
def test_row_ids_group_rows_by_bitwise_equality(n, width, seed, collide):
    """Rows of few distinct values (floats, with 0.0 and -0.0 apart) are grouped exactly as sorting their bytes
    groups them, also when every hash collides (the checked fallback)."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(np.array([0.0, -0.0, 1.0, 2.5]), size=(n, width))
    expected = {}
    for i, r in enumerate(rows):
        expected.setdefault(r.tobytes(), i)
    module = importlib.import_module("fsm_lstm.row_groups")
    saved = module._hash_rows
    try:
        if collide:
            module._hash_rows = lambda columns: np.zeros(n, np.uint64)
        first, group = row_ids(list(rows.T))
    finally:
        module._hash_rows = saved
    assert sorted(first.tolist()) == sorted(expected.values())
    for i, r in enumerate(rows):
        assert first[group[i]] == expected[r.tobytes()]
