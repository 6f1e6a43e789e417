"""An adversarial review of the two all-lengths proofs (certify.py for compiled networks, region_proof.py with
interval_step.py for trained ones).

Every "proven" is checked against the network itself: the numpy runtime in float32 (and float64) on every
string up to a length and on long pumped walks, compared with the grammar's semantics computed here from plain
sets. The counterexamples found by the review are kept as regressions: each was "proven" before its fix, and
each test first confirms on the network that the model really is wrong. The rounding model's premises (the
accuracy of numpy's and torch's float32 exp, tanh and sigmoid on this machine) are measured, not assumed.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fsm_lstm.certify import UNDERFLOW, certify
from fsm_lstm.compiler import Gains, compile_grammar
from fsm_lstm.grammar import Grammar
from fsm_lstm.errors import ModelError
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.model import Layer, Model, load_model, save_model, stored_grammar
from fsm_lstm.region_proof import prove_regions
from fsm_lstm.runtime import run
from fsm_lstm.sparse_weights import csr_parts
from tests.oracle import live_states
from tests.strategies import grammars

U32 = 2.0 ** -24  # unit round-off of float32
EIGHT_U = 8 * U32  # what the proofs allow each elementwise float32 result, relative to its magnitude
SUBNORMAL = np.float32(2.0 ** -149)  # the smallest positive float32


# ----- the grammar's own semantics, from plain sets ------------------------------------------------------------
class Oracle:
    """Head truths after every prefix, computed from the grammar's edges (no numpy, no fsm_lstm semantics)."""

    def __init__(self, g: Grammar, unknown_start: bool = False) -> None:
        self.g = g
        self.initial = frozenset(g.states) if unknown_start else frozenset({g.start})
        self.live = live_states(g)
        self.succ: dict[tuple[str, str], set[str]] = {}
        for p, a, q in g.transitions:
            self.succ.setdefault((p, a), set()).add(q)
        self.state_output = dict(g.state_outputs)  # a Moore machine's
        self.edge_output = dict(g.edge_outputs)  # a Mealy machine's

    def step(self, states: frozenset[str], a: str) -> frozenset[str]:
        return frozenset(q for p in states for q in self.succ.get((p, a), ()))

    def truth(self, states: frozenset[str], head: str, crossed: frozenset = frozenset()) -> bool:
        """``crossed``: the edges the last symbol crossed (a Mealy machine's outputs are theirs)."""
        kind, _, arg = head.partition(":")
        if kind == "out":
            if self.edge_output:
                return any(self.edge_output[e] == arg for e in crossed)
            return any(self.state_output.get(q) == arg for q in states)
        if kind == "state":
            return arg in states
        if kind == "accept":
            return bool(states & self.g.accept)
        if kind == "next":
            return any(q in self.live for p in states for q in self.succ.get((p, arg), ()))
        raise AssertionError(f"the review's oracle cannot judge head {head!r}")

    def table(self, word: tuple[str, ...], heads: tuple[str, ...]) -> np.ndarray:
        """(len(word) + 1, M) bool: every head's truth after every prefix of ``word``."""
        rows: dict[tuple, list[bool]] = {}  # the truths depend on the state set and the edges crossed alone

        def row(states: frozenset[str], crossed: frozenset) -> list[bool]:
            if (states, crossed) not in rows:
                rows[states, crossed] = [self.truth(states, h, crossed) for h in heads]
            return rows[states, crossed]

        states = self.initial
        out = [row(states, frozenset())]
        for a in word:
            crossed = frozenset((p, a, q) for p in states for q in self.succ.get((p, a), ()))
            states = frozenset(q for _, _, q in crossed)
            out.append(row(states, crossed))
        return np.array(out, bool)


def walks(g: Grammar, count: int, length: int, seed: int) -> list[tuple[str, ...]]:
    """Random walks along the grammar's edges (long pumped strings that stay inside as long as they can), and
    one uniformly random string of the same length."""
    rng = np.random.default_rng(seed)
    out_edges: dict[str, list[tuple[str, str]]] = {}
    for p, a, q in g.transitions:
        out_edges.setdefault(p, []).append((a, q))
    words = []
    for _ in range(count):
        state, word = g.start, []
        for _ in range(length):
            choices = out_edges.get(state)
            if not choices:
                break
            a, state = choices[int(rng.integers(len(choices)))]
            word.append(a)
        word += [g.alphabet[int(k)] for k in rng.integers(len(g.alphabet), size=length - len(word))]
        words.append(tuple(word))
    words.append(tuple(g.alphabet[int(k)] for k in rng.integers(len(g.alphabet), size=length)))
    return words


def exhaustive(alphabet: tuple[str, ...], budget: int = 1500) -> list[tuple[str, ...]]:
    """Every string up to the largest length whose strings of that length number at most ``budget``."""
    length = 0
    while len(alphabet) ** (length + 1) <= budget and length < 10:
        length += 1
    return [w for n in range(length + 1) for w in itertools.product(alphabet, repeat=n)]


def wrong_prefixes(model: Model, g: Grammar, words: list[tuple[str, ...]], dtype: type = np.float32) -> list[str]:
    """Where the network's decoded heads differ from the grammar's semantics (empty: none)."""
    oracle = Oracle(g, bool(model.extra.get("unknown_start", False)))
    index = {a: k for k, a in enumerate(model.alphabet)}
    wrong = []
    by_length: dict[int, list[tuple[str, ...]]] = {}
    for w in words:
        by_length.setdefault(len(w), []).append(w)
    for length, batch in by_length.items():
        symbols = np.array([[index[a] for a in w] for w in batch], dtype=np.int64).reshape(len(batch), length)
        with np.errstate(all="ignore"):
            decoded = run(model, symbols, dtype=dtype).decoded()  # (T+1, B, M)
        for b, w in enumerate(batch):
            expected = oracle.table(w, model.heads)
            bad = np.argwhere(decoded[:, b, :] != expected)
            if bad.size:
                t, h = bad[0]
                wrong.append(f"{model.heads[h]} after {''.join(w[:t])!r} ({dtype.__name__})")
    return wrong


def assert_sound(model: Model, g: Grammar, seed: int = 0, length: int = 2000) -> None:
    """A proof (either kind) is only as good as the network: no head may be wrong on the strings we can run."""
    words = exhaustive(g.alphabet) + walks(g, 3, length, seed)
    for dtype in (np.float32, np.float64):
        wrong = wrong_prefixes(model, g, words, dtype)
        assert not wrong, f"proven, but the network is wrong: {wrong[:3]}"


def as_trained(model: Model) -> Model:
    """The same weights without ``meta.grammar``: what a trained or imported model looks like."""
    return dataclasses.replace(model, extra={k: v for k, v in model.extra.items() if k != "grammar"})


def with_head_row(model: Model, head: str, weights: dict[int, float], bias: float, dtype: type = np.float32
                  ) -> Model:
    """The model with one head's row replaced (``weights``: unit -> weight), stored in ``dtype``."""
    hw = np.array(model.head_weight, dtype=dtype)
    hb = np.array(model.head_bias, dtype=dtype)
    k = model.heads.index(head)
    hw[k] = 0
    for unit, w in weights.items():
        hw[k, unit] = w
    hb[k] = bias
    return dataclasses.replace(model, head_weight=hw, head_bias=hb)


ONES = Grammar(name="ones", start="q0", accept=frozenset({"q1"}), alphabet=("1",), states=("q0", "q1"),
               transitions=(("q0", "1", "q1"), ("q1", "1", "q1")))  # 1+
EVERYTHING = Grammar(name="all", start="q", accept=frozenset({"q"}), alphabet=("a",), states=("q",),
                     transitions=(("q", "a", "q"),))  # a*


# ----- 1. the rounding model's premises, measured on this machine ---------------------------------------------
def _floats(lo: float, hi: float, stride: int) -> np.ndarray:
    """The float32 values in [lo, hi] among every ``stride``-th bit pattern (every binade sampled alike)."""
    x = np.arange(0, 2**32, stride, dtype=np.uint64).astype(np.uint32).view(np.float32)
    return x[np.isfinite(x) & (x >= lo) & (x <= hi)]


def _relative_errors(computed: np.ndarray, exact: np.ndarray) -> tuple[float, float]:
    """(max relative error where the exact value is a normal float32, max absolute error elsewhere)."""
    computed, exact = computed.astype(np.float64), np.asarray(exact, np.float64)
    normal = np.abs(exact) >= 2.0 ** -126
    rel = np.abs(computed - exact)[normal] / np.abs(exact[normal])
    return float(rel.max(initial=0.0)), float(np.abs(computed - exact)[~normal].max(initial=0.0))


def test_numpy_float32_sigmoid_and_tanh_stay_within_the_8u_the_proofs_allow_including_tails():
    """The runtime's sigmoid is 1/(1 + exp(-z)) and its fused i*g is g/(1 + exp(-z)), in float32; the proofs
    allow 8u relative (plus 1e-37 absolute below the normal range). Measured over a bit-pattern sample of every
    binade, z from -104 (results subnormal or 0, exp(-z) overflowing) to 30."""
    z = _floats(-104.0, 30.0, 2053)  # about 1,080,000 floats
    z64 = z.astype(np.float64)
    exact = 1.0 / (1.0 + np.exp(-z64))
    with np.errstate(over="ignore"):
        sig = np.float32(1) / (np.float32(1) + np.exp(-z))
        fused = np.float32(0.7615942) / (np.float32(1) + np.exp(-z))
    rel, absolute = _relative_errors(sig, exact)
    assert rel <= EIGHT_U and absolute <= UNDERFLOW, (rel / U32, absolute)
    rel, absolute = _relative_errors(fused, np.float64(np.float32(0.7615942)) * exact)
    assert rel <= 2 * EIGHT_U and absolute <= UNDERFLOW, (rel / U32, absolute)
    t = _floats(-12.0, 12.0, 2053)
    rel, _ = _relative_errors(np.tanh(t), np.tanh(t.astype(np.float64)))
    assert rel <= EIGHT_U, rel / U32


def test_torch_float32_lstm_step_stays_within_the_rounding_model():
    """Users run the exported weights in torch: one nn.LSTM step whose input gate sweeps z in [-80, 20] (forget
    shut, candidate and output open, so h = tanh(sigmoid(z))) stays within the proofs' allowance for that chain
    (sigmoid 8u, product 8u, tanh 8u: 24u relative)."""
    torch = pytest.importorskip("torch")
    z = np.linspace(-80.0, 20.0, 1500).astype(np.float32)
    lstm = torch.nn.LSTM(z.size, 1)
    with torch.no_grad():
        w = np.zeros((4, z.size), np.float32)
        w[0] = z
        lstm.weight_ih_l0.copy_(torch.from_numpy(w))
        lstm.weight_hh_l0.zero_()
        lstm.bias_ih_l0.copy_(torch.tensor([0.0, -100.0, 100.0, 100.0]))
        lstm.bias_hh_l0.zero_()
        h = lstm(torch.eye(z.size)[None])[0][0, :, 0].numpy()
    exact = np.tanh(1.0 / (1.0 + np.exp(-z.astype(np.float64))))
    rel, absolute = _relative_errors(h, exact)
    assert rel <= 3 * EIGHT_U and absolute <= UNDERFLOW, (rel / U32, absolute)


# ----- 2. counterexamples found by the review (each was "proven" before its fix) --------------------------------
def test_sigmoid_tails_an_off_unit_at_z_below_minus_37_is_not_zero():
    """The certificate computed sigmoid as 0.5 + 0.5 tanh(z/2) in float64, which is 0 below z = -37 (and loses
    its relative accuracy below -20), while the float32 runtime computes e^z there. With gains 100 every off-unit
    sits there: the certificate's off box was [-7e-37, 7e-37] while the network's off-units reach 1.9e-22, and a
    head weight of 1e23 on such a unit made it 'prove' a head the network gets wrong."""
    model = compile_grammar(load_grammar("tomita1"), gains=Gains(gate=100.0, saturation=100.0))
    cert = certify(model)
    assert cert.proven
    h = run(model, np.array([[1, 1, 0, 1, 1]]), record=True).h[0][1:, 0, :]
    inside = ((h >= cert.on_box[2]) & (h <= cert.on_box[3])) | ((h >= cert.off_box[2]) & (h <= cert.off_box[3]))
    assert inside.all(), (h, cert.off_box)
    edge, started = model.units.index("edge q0 -1-> q0"), model.units.index("started")
    # accept: 2 at the empty prefix, 1e23 h_edge - 2 after it; the off-unit's 1.9e-22 makes '1101' accepted
    tampered = with_head_row(model, "accept", {edge: 1e23, started: -4 / math.tanh(1)}, 2.0)
    assert wrong_prefixes(tampered, stored_grammar(model), [("1", "1", "0", "1")])  # the network is wrong
    cert = certify(tampered)
    assert not cert.proven and cert.failure.head == "accept", cert.summary()


def test_float64_weights_are_proven_as_the_float32_runtime_rounds_them():
    """A float64 head bias of 1e-50 is 0 in float32: accept('') is then false, but the certificate read the
    float64 value and proved it true (margin 1e-50)."""
    model = compile_grammar(load_grammar("tomita1"))
    edge, started = model.units.index("edge q0 -1-> q0"), model.units.index("started")
    tampered = with_head_row(model, "accept", {edge: 2.0, started: -1.0}, 1e-50, dtype=np.float64)
    assert wrong_prefixes(tampered, stored_grammar(model), [()], np.float32)
    assert not certify(tampered).proven


def test_subnormal_products_underflow_beyond_the_relative_rounding_bound():
    """gamma_n bounds a dot product relative to sum |w||x| only while no product underflows. Subnormal head
    weights (3, 3, -1 times 2^-149, bias -2^-149) give accept('1') an exact logit of +0.52 * 2^-149, which both
    proofs called positive; float32 rounds each product to a multiple of 2^-149 and gets 0: false."""
    model = compile_grammar(ONES)
    u = {label: k for k, label in enumerate(model.units)}
    tampered = with_head_row(model, "accept", {u["edge q0 -1-> q1"]: 3 * SUBNORMAL, u["edge q1 -1-> q1"]: 3 * SUBNORMAL,
                                               u["started"]: -SUBNORMAL}, -SUBNORMAL)
    assert wrong_prefixes(tampered, ONES, [("1", "1")])
    assert not certify(tampered).proven
    assert not prove_regions(as_trained(tampered), ONES).proven


def with_started_copies(model: Model, copies: int) -> Model:
    """The model with ``copies`` more units that repeat the ``started`` unit's rows (labelled ``started``)."""
    layer = model.layers[0]
    H, s = layer.hidden_size, model.units.index("started")
    H2 = H + copies
    rows = [q * H + k for q in range(4) for k in [*range(H), *[s] * copies]]
    w_hh = np.zeros((4 * H2, H2), np.float32)
    w_hh[:, :H] = layer.weight_hh[rows]
    new = Layer(layer.weight_ih[rows], w_hh, layer.bias_ih[rows], layer.bias_hh[rows])
    heads = np.concatenate([model.head_weight, np.zeros((len(model.heads), copies), np.float32)], axis=1)
    return dataclasses.replace(model, layers=(new,), head_weight=heads, units=model.units + ("started",) * copies)


def test_a_head_whose_partial_sums_overflow_is_not_proven():
    """Five on-units read with weights -3.4e38, -3.4e38, +3.4e38 x 3: the exact logit is +2.6e38, inside float32,
    but BLAS adds the two negative terms first and gets -inf; no relative rounding bound holds past overflow."""
    model = with_started_copies(compile_grammar(EVERYTHING), 4)
    started = [k for k, label in enumerate(model.units) if label == "started"]
    big = float(np.finfo(np.float32).max) * 0.999
    row = dict(zip(started, (-big, -big, big, big, big)))
    with pytest.raises(ModelError, match="the sum of head 'accept' can reach 1.7e\\+39, over half the range"):
        with_head_row(model, "accept", row, 1.0)  # such a network is now refused when it is made
    tampered, trained = model, as_trained(model)  # the provers must stay sound for it all the same: made in place
    k = model.heads.index("accept")
    model.head_weight[k], model.head_bias[k] = 0, 1.0
    model.head_weight[k, list(row)] = list(row.values())
    assert wrong_prefixes(tampered, EVERYTHING, [("a",) * 4] * 3)  # a batch of 3 takes the kernel that overflows
    assert not certify(tampered).proven
    assert not prove_regions(trained, EVERYTHING).proven


def test_duplicate_sparse_entries_are_summed_before_the_certificate_reads_them():
    """A CSR weight_hh built in memory with the entry (e, e) twice, w and -w: the runtime sums them (0: the loop
    is cut, and tomita1 rejects '11'), the certificate looked one of them up and proved the network right."""
    model = compile_grammar(load_grammar("tomita1"))
    layer = model.layers[0]
    e = model.units.index("edge q0 -1-> q0")
    r, c = np.nonzero(layer.weight_hh)
    v = layer.weight_hh[r, c]
    k = int(np.flatnonzero((r == e) & (c == e))[0])
    rows, cols = np.append(r, e), np.append(c, e)
    vals = np.append(v, -v[k]).astype(np.float32)
    order = np.lexsort((cols, rows))
    indptr = np.searchsorted(rows[order], np.arange(layer.weight_hh.shape[0] + 1))
    w_hh = sp.csr_array((vals[order], cols[order], indptr), shape=layer.weight_hh.shape)
    tampered = dataclasses.replace(model, layers=(Layer(layer.weight_ih, w_hh, layer.bias_ih, layer.bias_hh),))
    assert wrong_prefixes(tampered, stored_grammar(model), [("1", "1")])
    assert not certify(tampered).proven


def test_a_sparse_file_with_explicit_zeros_and_split_duplicates_is_the_same_network(tmp_path):
    """Explicit zeros and entries split into two halves (exact in float32) in a CSR file: the certificate and the
    runtime both read the summed matrix, so the file certifies and runs as the dense model does."""
    model = compile_grammar(load_grammar("reber"))
    parts = csr_parts(model.layers[0].weight_hh)
    n_rows = len(parts["indptr"]) - 1
    rows = np.repeat(np.arange(n_rows), np.diff(parts["indptr"]))
    halves = parts["data"] / 2
    data = np.concatenate([halves, halves, np.zeros(n_rows, np.float32)])
    cols = np.concatenate([parts["indices"], parts["indices"], np.zeros(n_rows, np.int64)])
    all_rows = np.concatenate([rows, rows, np.arange(n_rows)])
    order = np.argsort(all_rows, kind="stable")
    arrays = {"weight_hh_l0.data": data[order], "weight_hh_l0.indices": cols[order],
              "weight_hh_l0.indptr": np.searchsorted(all_rows[order], np.arange(n_rows + 1)).astype(np.int64),
              "weight_hh_l0.shape": parts["shape"]}
    save_model(model, tmp_path / "dense.npz")
    with np.load(tmp_path / "dense.npz") as z:
        other = {k: z[k] for k in z.files if k != "weight_hh_l0"}
    np.savez(tmp_path / "odd.npz", **other, **arrays)
    odd = load_model(tmp_path / "odd.npz")
    assert certify(odd).summary() == certify(model).summary()
    words = np.random.default_rng(0).integers(len(model.alphabet), size=(4, 300))
    assert np.array_equal(run(odd, words).heads, run(model, words).heads)


def test_a_tampered_meta_grammar_is_proven_only_where_the_network_follows_it():
    """meta.grammar swapped for another grammar over the same alphabet: a certificate may only say 'proven' if
    the network follows the grammar now in the meta."""
    model = compile_grammar(load_grammar("tomita3"))
    for other in ("tomita1", "tomita2", "tomita4", "tomita5", "tomita7"):
        fake = compile_grammar(load_grammar(other))
        tampered = dataclasses.replace(model, extra={**model.extra, "grammar": fake.extra["grammar"]})
        try:
            cert = certify(tampered)
        except Exception as exc:  # a refusal is sound; it must be the one-line kind
            assert type(exc).__name__ in ("UserError", "ModelError"), exc
            continue
        if cert.proven:
            assert_sound(tampered, stored_grammar(tampered), length=300)


# ----- 3. properties: every "proven" holds on the network --------------------------------------------------------
GAINS = st.builds(Gains, saturation=st.sampled_from([2.0, 5.0, 20.0, 60.0, 120.0]),
                  gate=st.one_of(st.none(), st.sampled_from([1.5, 4.0, 12.0, 40.0, 110.0, 300.0])),
                  head=st.sampled_from([0.01, 1.0, 4.0, 1e3]),
                  wrong_symbol=st.one_of(st.none(), st.sampled_from([0.5, 1.0, 3.0])))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grammars(max_states=12, max_symbols=4), GAINS, st.booleans(), st.booleans(), st.integers(0, 2**16))
@example(ONES, Gains(saturation=120.0, gate=110.0), False, True, 0)  # every off-unit in the sigmoid's far tail
def test_every_certificate_of_a_random_grammar_with_adversarial_gains_holds_on_the_network(g, gains, unknown_start,
                                                                                          minimal, seed):
    """Random DFAs and NFAs (compiled as given, or minimised; from the start state or from any state) with gains
    from far too weak to far too strong: whenever the certificate says proven, the network is right on every
    short string and on long pumped walks, in float32 and float64, and every unit's h lies in the on or off box
    the certificate reports."""
    try:
        model = compile_grammar(g, unknown_start=unknown_start, gains=gains, minimal=minimal)
    except Exception as exc:  # an empty language and the like are refused in one line, which is fine
        assert type(exc).__name__ in ("UserError", "GrammarError", "ModelError"), exc
        return
    cert = certify(model)
    if not cert.proven:
        return
    stored = stored_grammar(model)
    assert_sound(model, stored, seed, length=600)
    index = {a: k for k, a in enumerate(model.alphabet)}
    walk = np.array([[index[a] for a in walks(stored, 1, 300, seed)[0]]])
    h = run(model, walk, record=True).h[0][1:, 0, :]
    on, off = cert.on_box, cert.off_box
    assert (((h >= on[2]) & (h <= on[3])) | ((h >= off[2]) & (h <= off[3]))).all()


def test_a_deep_loop_is_proven_and_holds_for_thousands_of_symbols():
    """A 120-state ring (accepting at one state): pumped around the ring 40 times."""
    n = 120
    names = tuple(f"r{k}" for k in range(n))
    edges = tuple((names[k], "a", names[(k + 1) % n]) for k in range(n)) + ((names[0], "b", names[0]),)
    g = Grammar(name="ring", start=names[0], accept=frozenset({names[n // 2]}), alphabet=("a", "b"), states=names,
                transitions=edges)
    model = compile_grammar(g)
    assert certify(model).proven
    assert not wrong_prefixes(model, stored_grammar(model), [("a",) * (40 * n), ("a", "b") * 2000])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["tomita1", "tomita2", "tomita3", "tomita4", "parity", "reber"]),
       st.sampled_from([0.0, 0.5, 2.0, 4.0, 8.0]), st.integers(0, 2**16))
def test_every_region_proof_of_a_perturbed_network_holds_on_the_network(name, scale, seed):
    """A compiled network stripped of its grammar (as if trained) with Gaussian noise of the given scale on every
    weight, head and bias: whenever the region proof says proven, the network is right on every short string and
    on long pumped walks."""
    g = load_grammar(name)
    model = as_trained(compile_grammar(g))
    rng = np.random.default_rng(seed)
    noisy = lambda a: (a + scale * rng.standard_normal(a.shape)).astype(np.float32)  # noqa: E731
    layer = model.layers[0]
    model = dataclasses.replace(model, layers=(Layer(*map(noisy, (layer.weight_ih, layer.weight_hh, layer.bias_ih,
                                                                  layer.bias_hh))),),
                                head_weight=noisy(model.head_weight), head_bias=noisy(model.head_bias))
    proof = prove_regions(model, g, time_limit=3.0)
    if proof.proven:
        checked = dataclasses.replace(model, heads=model.heads)
        oracle_grammar = g
        words = exhaustive(g.alphabet, 800) + walks(g, 2, 800, seed)
        ref_heads = [h for h in checked.heads if h in proof.checked]
        keep = [checked.heads.index(h) for h in ref_heads]
        sub = dataclasses.replace(checked, heads=tuple(ref_heads), head_weight=checked.head_weight[keep],
                                  head_bias=checked.head_bias[keep])
        assert not wrong_prefixes(sub, oracle_grammar, words), proof.summary()


def test_a_random_dfa_past_a_thousand_edges_is_proven_and_holds_on_long_walks():
    """300 states, 4 symbols, about 1,080 edges (past the 1,000 where the gain's log term starts): the certificate
    holds on every string up to length 4, on a walk of 1,500 symbols and on a random string as long."""
    rng = np.random.default_rng(7)
    n, alphabet = 300, ("a", "b", "c", "d")
    names = tuple(f"s{k}" for k in range(n))
    edges = tuple((names[p], a, names[int(rng.integers(n))]) for p in range(n) for a in alphabet
                  if rng.random() < 0.9)
    g = Grammar(name="big", start=names[0], accept=frozenset(names[k] for k in range(0, n, 3)), alphabet=alphabet,
                states=names, transitions=edges)
    model = compile_grammar(g)
    assert len(stored_grammar(model).transitions) > 1000
    assert certify(model).proven
    assert not wrong_prefixes(model, stored_grammar(model), exhaustive(alphabet, 256) + walks(g, 1, 1500, 1))


@pytest.mark.parametrize("name", ["coffee", "mqtt"])
@pytest.mark.parametrize("gate", [None, 6.0, 200.0])
def test_the_bundled_machines_out_heads_hold_where_proven(name, gate):
    """The bundled Moore and Mealy machines, compiled with the derived, a weak and a huge input-gate gain:
    whenever proven, every out: head follows the machine's outputs (semantics.md) on short strings and walks."""
    g = load_grammar(name)
    model = compile_grammar(g, gains=Gains(gate=gate))
    if certify(model).proven:
        assert_sound(model, stored_grammar(model), length=500)
    else:
        assert gate == 6.0  # the derived and the huge gains must be proven


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["tomita3", "tomita5", "parity", "reber"]), st.integers(0, 2**16), st.booleans())
def test_swapped_unit_or_head_labels_are_proven_only_where_the_network_follows_them(name, seed, heads):
    """Two unit labels (or two head labels) of a compiled model swapped, as a tampered meta would: a certificate
    may say proven only where the network really follows what the labels now say."""
    model = compile_grammar(load_grammar(name))
    labels = list(model.heads if heads else model.units)
    i, j = np.random.default_rng(seed).choice(len(labels), size=2, replace=False)
    labels[i], labels[j] = labels[j], labels[i]
    tampered = dataclasses.replace(model, **{"heads" if heads else "units": tuple(labels)})
    if certify(tampered).proven:
        assert_sound(tampered, stored_grammar(model), seed, length=400)
