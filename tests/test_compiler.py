"""Compiled networks: certified, and their heads equal the semantics on long strings, in float32 and float64."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_lstm.automata import minimise
from fsm_lstm.certify import certify
from fsm_lstm.compiler import Gains, compile_grammar
from fsm_lstm.generate import walks
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.model import Layer, Model, stored_grammar
from fsm_lstm.runtime import run
from fsm_lstm.semantics import Semantics
from fsm_lstm.words import encode
from tests.oracle import next_symbols, states_after
from tests.strategies import grammars

DTYPES = (np.float32, np.float64)


def expected(model: Model, original, strings: np.ndarray, unknown_start: bool = False) -> np.ndarray:
    """Head values required by the semantics: state heads of the compiled grammar, accept/next of the original."""
    compiled = Semantics(stored_grammar(model), unknown_start)
    semantic = Semantics(original, unknown_start)
    out = compiled.expected_heads(model.heads, strings)
    rest = [k for k, h in enumerate(model.heads) if not h.startswith("state:")]
    out[..., rest] = semantic.expected_heads([model.heads[k] for k in rest], strings)
    return out


def strings_for(g, seed: int, long: int = 2000) -> list[np.ndarray]:
    """Walks that stay in the grammar, walks that leave it, and uniform random strings."""
    rng = np.random.default_rng(seed)
    return [walks(g, rng, 2, long, leave=0.0), walks(g, rng, 3, 400, leave=0.02),
            rng.integers(0, len(g.alphabet), size=(3, 300))]


def assert_heads_follow_semantics(model, g, seed, unknown_start=False, long=2000):
    for batch in strings_for(g, seed, long):
        want = expected(model, g, batch, unknown_start)
        for dtype in DTYPES:
            got = run(model, batch, dtype=dtype).decoded()
            bad = np.argwhere(got != want)
            assert bad.size == 0, f"{dtype.__name__}: step/string/head {bad[0]} of {model.heads}"


def test_bundled_grammars_compile_certify_and_follow_semantics(bundled):
    model = compile_grammar(bundled)
    cert = certify(model)
    assert cert.proven, cert.summary()
    assert cert.margin > 1.0
    assert model.hidden_size == len(minimise(bundled).transitions) + 1
    assert_heads_follow_semantics(model, bundled, seed=len(bundled.states))


@settings(max_examples=120, deadline=None)
@given(grammars(deterministic=True), st.integers(0, 2**32 - 1))
def test_random_dfas_compile_to_certified_networks(g, seed):
    model = compile_grammar(g)
    assert model.hidden_size <= len(minimise(g).transitions) + 1
    cert = certify(model)
    assert cert.proven, cert.summary()
    assert_heads_follow_semantics(model, g, seed)


@settings(max_examples=100, deadline=None)
@given(grammars(deterministic=False), st.integers(0, 2**32 - 1))
def test_random_nfas_compile_to_certified_networks(g, seed):
    model = compile_grammar(g)
    assert model.hidden_size <= len(g.transitions) + 1
    cert = certify(model)
    assert cert.proven, cert.summary()
    assert_heads_follow_semantics(model, g, seed)


@settings(max_examples=40, deadline=None)
@given(grammars(max_states=10, max_symbols=4), st.integers(0, 2**32 - 1))
def test_unknown_start_tracks_every_state_at_once(g, seed):
    model = compile_grammar(g, unknown_start=True)
    assert certify(model).proven
    assert_heads_follow_semantics(model, g, seed, unknown_start=True, long=300)


def test_unknown_start_recovers_from_the_middle_of_a_reber_string():
    """The seed network assumed every string starts with B; ours knows nothing at t=0 and narrows down."""
    g = load_grammar("reber")
    model = compile_grammar(g, unknown_start=True)
    heads = run(model, encode([tuple("SSXSE")], g.alphabet)).decoded()[:, 0]
    state_heads = [k for k, h in enumerate(model.heads) if h.startswith("state:")]
    after_x = {model.heads[k][6:] for k in state_heads if heads[3, k]}
    assert after_x == states_after(g, tuple("SSX"), set(g.states)) == {"s3"}
    accept = model.heads.index("accept")
    assert heads[5, accept]


@pytest.mark.parametrize("grammar, prefix, loop, suffix", [
    ("reber", "BT", "S", "XSE"),
    ("reber", "BP", "T", "VVE"),
    ("reber", "BTX", "TVPX", "VVE"),
    ("embedded_reber", "BTBP", "T", "VVETE"),
    ("parity", "", "1", "0"),
    ("tomita2", "", "10", ""),
])
def test_pumped_loops_decode_right_after_100000_repetitions(grammar, prefix, loop, suffix):
    g = load_grammar(grammar)
    model = compile_grammar(g)
    word = tuple(prefix) + tuple(loop) * (100_000 // len(loop)) + tuple(suffix)
    got = run(model, encode([word], g.alphabet)).decoded()
    want = expected(model, g, encode([word], g.alphabet))
    assert np.array_equal(got, want)
    final = states_after(g, word)
    assert got[-1, 0, model.heads.index("accept")] == bool(final & g.accept)
    assert {h[5:] for k, h in enumerate(model.heads) if h.startswith("next:") and got[-1, 0, k]} == \
        next_symbols(g, final)


def find_misdecoded(model, g, max_len: int = 6):
    """A short string on which the network's heads differ from the semantics, by exhaustive search."""
    for n in range(1, max_len + 1):
        batch = np.array(np.meshgrid(*[range(len(g.alphabet))] * n, indexing="ij")).reshape(n, -1).T
        bad = np.argwhere((run(model, batch).decoded() != expected(model, g, batch)).any(axis=(0, 2)))
        if bad.size:
            return tuple(g.alphabet[i] for i in batch[bad[0, 0]])
    return None


def test_low_gain_fails_certify_and_really_is_wrong():
    g = load_grammar("reber")
    weak = compile_grammar(g, gains=Gains(gate=1.0))
    cert = certify(weak)
    assert not cert.proven
    assert cert.failure.unit and cert.failure.prefix and cert.failure.symbol
    assert find_misdecoded(weak, g) is not None


def test_zeroed_recurrent_weight_fails_certify_at_that_edge():
    g = load_grammar("reber")
    model = compile_grammar(g)
    layer = model.layers[0]
    w_hh = layer.weight_hh.copy()
    loop, entry = model.units.index("edge s1 -S-> s1"), model.units.index("edge s0 -T-> s1")
    assert w_hh[loop, entry] > 0
    w_hh[loop, entry] = 0.0  # the S loop no longer sees that T led into s1
    broken = dataclasses.replace(model, layers=(Layer(layer.weight_ih, w_hh, layer.bias_ih, layer.bias_hh),))
    cert = certify(broken)
    assert not cert.proven
    assert cert.failure.unit == "edge s1 -S-> s1"
    assert cert.failure.prefix == "BTS" and cert.failure.symbol == "S"
    assert find_misdecoded(broken, g) == tuple("BTS")


def test_mislabelled_unit_fails_certify():
    model = compile_grammar(load_grammar("parity"))
    units = list(model.units)
    units[0], units[1] = units[1], units[0]
    cert = certify(dataclasses.replace(model, units=tuple(units)))
    assert not cert.proven


def test_certificate_covers_the_empty_prefix():
    g = load_grammar("tomita1")  # 1*: the empty string is accepted
    model = compile_grammar(g)
    heads = run(model, np.zeros((1, 0), dtype=np.int64)).heads
    assert heads.shape == (1, 1, len(model.heads))
    assert heads[0, 0, model.heads.index("accept")] > 0
