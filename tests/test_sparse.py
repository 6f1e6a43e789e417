"""Sparse weights: the CSR spelling of the .npz format, and every command on sparse models, which give the same
heads, certificates and reports as their dense spelling; hostile sparse members are refused in one line."""

from __future__ import annotations

import dataclasses
import json
import tracemalloc
import zipfile

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from examples.make_examples import leaky_reber
from fsm_lstm.certify import certify
from fsm_lstm.cli import main
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.errors import ModelError
from fsm_lstm.extract import extract
from fsm_lstm.generate import random_dfa, walks
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.model import Layer, Model, densified, load_model, save_model
from fsm_lstm.runtime import run
from fsm_lstm.sparse_weights import SPARSE_ABOVE, csr_parts, is_sparse
from fsm_lstm.verify import verify


def sparse_spelling(model: Model) -> Model:
    """The same model with its weight matrices held as CSR arrays."""
    layers = tuple(Layer(sp.csr_array(l.weight_ih), sp.csr_array(l.weight_hh), l.bias_ih, l.bias_hh)
                   for l in model.layers)
    return dataclasses.replace(model, layers=layers, head_weight=sp.csr_array(model.head_weight))


def write_members(path, members: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, arr in members.items():
            with z.open(name + ".npy", "w") as fh:
                np.lib.format.write_array(fh, np.asarray(arr), allow_pickle=False)


@pytest.mark.parametrize("make", [lambda: compile_grammar(load_grammar("embedded_reber")), leaky_reber,
                                  lambda: compile_grammar(random_dfa(np.random.default_rng(3), 30, 3))],
                         ids=["embedded_reber", "leaky", "random30"])
def test_sparse_and_dense_spellings_give_identical_heads_certificates_and_reports(make):
    dense_model = make()
    sparse_model = sparse_spelling(dense_model)
    g = load_grammar("reber") if "leak" in dense_model.units else None
    rng = np.random.default_rng(0)
    strings = rng.integers(0, len(dense_model.alphabet), size=(300, 40))
    np.testing.assert_array_equal(run(sparse_model, strings).decoded(), run(dense_model, strings).decoded())
    np.testing.assert_allclose(run(sparse_model, strings).heads, run(dense_model, strings).heads, rtol=1e-5, atol=1e-5)
    if g is None:
        assert certify(sparse_model).to_dict() == certify(dense_model).to_dict()
    reports = [verify(m, g, max_len=4, examples=10, seed=1).to_dict(m.alphabet) for m in (dense_model, sparse_model)]
    for report in reports:
        report["covered"].pop("prefixes_run")
        report["covered"].pop("distinct_states")  # the last bits of a state may differ: sums run in another order
    assert reports[0] == reports[1]


def test_a_large_model_is_written_sparse_and_a_small_one_dense(tmp_path):
    big = compile_grammar(random_dfa(np.random.default_rng(0), 400, 4))  # 4H x H over SPARSE_ABOVE numbers
    small = compile_grammar(load_grammar("reber"))
    assert 4 * big.hidden_size ** 2 > SPARSE_ABOVE and is_sparse(big.layers[0].weight_hh)
    assert not is_sparse(small.layers[0].weight_hh)
    for model, name in ((big, "big.npz"), (small, "small.npz")):
        save_model(model, tmp_path / name)
    with zipfile.ZipFile(tmp_path / "big.npz") as z:
        names = set(z.namelist())
    assert {"weight_hh_l0.data.npy", "weight_hh_l0.indices.npy", "weight_hh_l0.indptr.npy",
            "weight_hh_l0.shape.npy"} <= names and "weight_hh_l0.npy" not in names
    with np.load(tmp_path / "small.npz") as data:
        assert data["weight_hh_l0"].shape == (4 * small.hidden_size, small.hidden_size)
    back = load_model(tmp_path / "big.npz")
    assert is_sparse(back.layers[0].weight_hh)
    assert (back.layers[0].weight_hh != big.layers[0].weight_hh).nnz == 0
    np.testing.assert_array_equal(back.head_weight, big.head_weight)
    # the spelling follows scipy's CSR: scipy rebuilds the matrix from the four members alone
    with np.load(tmp_path / "big.npz") as data:
        rebuilt = sp.csr_array((data["weight_hh_l0.data"], data["weight_hh_l0.indices"], data["weight_hh_l0.indptr"]),
                               shape=tuple(data["weight_hh_l0.shape"]))
    np.testing.assert_array_equal(rebuilt.toarray(), big.layers[0].weight_hh.toarray())


def test_torch_decodes_a_sparse_model_as_the_numpy_runtime_does():
    g = random_dfa(np.random.default_rng(1), 400, 4)
    model = compile_grammar(g)
    dense_model = densified(model, "the test", None)
    strings = walks(g, np.random.default_rng(0), 50, 30, leave=0.05)
    arrays = dense_model.arrays()
    lstm = torch.nn.LSTM(len(model.alphabet), model.hidden_size)
    lstm.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items() if "_l0" in k})
    x = torch.nn.functional.one_hot(torch.from_numpy(strings.T), len(model.alphabet)).float()
    with torch.no_grad():
        out, _ = lstm(x)
        logits = out @ torch.from_numpy(arrays["heads.weight"]).T + torch.from_numpy(arrays["heads.bias"])
    np.testing.assert_array_equal(logits.numpy() > 0, run(model, strings).decoded()[1:])


def test_certify_a_sparse_model_never_makes_it_dense():
    model = compile_grammar(random_dfa(np.random.default_rng(2), 1000, 4))
    dense_bytes = 4 * model.layers[0].weight_hh.shape[0] * model.layers[0].weight_hh.shape[1]
    tracemalloc.start()
    cert = certify(model)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert cert.proven
    assert peak < dense_bytes / 3, (peak, dense_bytes)  # the dense weight_hh alone would be dense_bytes


def test_a_1000_state_grammar_verifies_to_length_6_under_a_256_mb_budget():
    g = random_dfa(np.random.default_rng(4), 1000, 4)
    model = compile_grammar(g)
    tracemalloc.start()
    report = verify(model, max_len=6, examples=0, memory=256 * 2**20)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.passed and report.proven and report.max_len == 6
    assert report.prefixes == sum(4 ** k for k in range(7))
    assert peak < 256 * 2**20, peak


def test_extract_and_cli_commands_work_on_a_sparse_model_file(tmp_path, capsys):
    g = load_grammar("tomita3")
    model = sparse_spelling(compile_grammar(g))
    path = tmp_path / "t3.npz"
    save_model(model, path)
    dense_path = tmp_path / "t3_dense.npz"
    save_model(compile_grammar(g), dense_path)
    members = dict(csr_parts(model.layers[0].weight_hh))
    with np.load(dense_path) as data:
        arrays = {k: data[k] for k in data.files if k != "weight_hh_l0"}
    arrays.update({f"weight_hh_l0.{k}": v for k, v in members.items()})
    write_members(path, arrays)  # small, so save_model would write it dense: spell it sparse by hand
    assert is_sparse(load_model(path).layers[0].weight_hh)
    outputs = []
    for source in (path, dense_path):
        for argv in (["run", str(source), "0110", "--json"], ["certify", str(source)],
                     ["verify", str(source), "--max-len", "5", "--examples", "20", "--json"]):
            assert main(argv) == 0
            outputs.append(capsys.readouterr().out)
    half = len(outputs) // 2
    strip = lambda text: {k: v for k, v in json.loads(text).items() if k != "covered"} if text.startswith("{") \
        else text  # noqa: E731
    assert [strip(o) for o in outputs[:half]] == [strip(o) for o in outputs[half:]]
    result = extract(load_model(path), "cluster")
    assert result.states == 4 and result.fidelity == 1.0


HOSTILE = {
    "bad indptr (falls)": ({"indptr": [0, 2, 1, 2, 2, 2]}, "without falling"),
    "indptr of the wrong length": ({"indptr": [0, 1, 2]}, "offsets"),
    "indices out of range": ({"indices": [0, 99]}, "must lie in"),
    "negative index": ({"indices": [-1, 0]}, "must lie in"),
    "indices and data differ": ({"indices": [0]}, "must match"),
    "huge shape": ({"shape": [2**40, 2**40]}, "offsets"),
    "float indices": ({"indices": [0.0, 1.0]}, "integers"),
    "shape of three numbers": ({"shape": [3, 3, 3]}, "two integers"),
    # unsigned offsets: np.diff wraps around instead of going negative, so a fall must be caught after a cast
    "unsigned indptr that falls": ({"indptr": np.array([0, 2, 1, 2, 2, 2], np.uint64)}, "without falling"),
    "unsigned indptr beyond int64": ({"indptr": np.array([0, 1, 2, 2, 2, 2**63], np.uint64)}, "fit in int64"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_sparse_members_get_one_line_and_exit_2(tmp_path, capsys, case):
    change, needle = HOSTILE[case]
    base = compile_grammar(load_grammar("parity"))
    with np.load(_saved(base, tmp_path)) as data:
        arrays = {k: data[k] for k in data.files if k != "heads.weight"}
    assert len(base.heads) == 5
    parts = {"data": np.array([1.0, 2.0], np.float32), "indices": np.array([0, 1]),
             "indptr": np.array([0, 1, 2, 2, 2, 2]), "shape": np.array([len(base.heads), base.hidden_size])}
    parts.update({k: np.asarray(v) for k, v in change.items()})
    arrays.update({f"heads.weight.{k}": v for k, v in parts.items()})
    path = tmp_path / "hostile.npz"
    write_members(path, arrays)
    tracemalloc.start()
    with pytest.raises(ModelError, match=needle):
        load_model(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 2**24
    assert main(["run", str(path), "01"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "heads.weight" in err and "Traceback" not in err


def _saved(model: Model, folder) -> str:
    path = folder / "base.npz"
    save_model(model, path)
    return str(path)


def test_a_file_with_an_array_both_dense_and_sparse_is_refused(tmp_path):
    base = compile_grammar(load_grammar("parity"))
    with np.load(_saved(base, tmp_path)) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update({f"heads.weight.{k}": v for k, v in csr_parts(base.head_weight).items()})
    path = tmp_path / "both.npz"
    write_members(path, arrays)
    with pytest.raises(ModelError, match="both dense and sparse"):
        load_model(path)


def test_sheet_refuses_a_model_wider_than_a_spreadsheet(tmp_path, capsys):
    model = compile_grammar(random_dfa(np.random.default_rng(5), 4200, 4))
    assert model.hidden_size > 16_384
    path = tmp_path / "wide.npz"
    save_model(model, path)
    assert main(["sheet", str(path), "-o", str(tmp_path / "wide.xlsx")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "16,384" in err and not (tmp_path / "wide.xlsx").exists()


def test_export_refuses_a_model_too_large_to_make_dense(tmp_path, capsys, monkeypatch):
    model = compile_grammar(random_dfa(np.random.default_rng(6), 400, 4))
    path = tmp_path / "m.npz"
    save_model(model, path)
    monkeypatch.setenv("FSM_LSTM_MAX_ARRAY", str(4 * model.hidden_size ** 2 - 1))
    assert main(["export", str(path), "--to", "torch", "-o", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dense" in err and "FSM_LSTM_MAX_ARRAY" in err
    assert not (tmp_path / "m.pt").exists()
    monkeypatch.delenv("FSM_LSTM_MAX_ARRAY")
    assert main(["export", str(path), "--to", "torch", "-o", str(tmp_path / "m.pt")]) == 0
    from fsm_lstm.torch_export import load_torch

    back = load_torch(tmp_path / "m.pt")
    np.testing.assert_array_equal(back.layers[0].weight_hh, model.layers[0].weight_hh.toarray())


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), states=st.integers(1, 60), symbols=st.integers(1, 4),
       density=st.sampled_from([0.3, 0.7, 1.0]))
def test_the_dfa_enumeration_of_configurations_matches_the_general_one(seed, states, symbols, density):
    """The certificate's level-at-a-time enumeration for DFAs numbers configurations, words and successors
    exactly as the general one-at-a-time enumeration does."""
    import importlib

    from fsm_lstm.compiler import prepare
    from fsm_lstm.semantics import Semantics

    certify_module = importlib.import_module("fsm_lstm.certify")
    g = prepare(random_dfa(np.random.default_rng(seed), states, symbols, density=density))
    sem = Semantics(g)
    fast = certify_module._dfa_configurations(g, sem, 10**6)
    slow = certify_module._set_configurations(g, sem, 10**6)
    assert fast.edges == slow.edges and list(fast.words) == slow.words
    np.testing.assert_array_equal(fast.succ, slow.succ)
    np.testing.assert_array_equal(fast.first, slow.first)
    assert (fast.states != slow.states).nnz == 0


@pytest.mark.parametrize("n, shown", [(26_325_352, "25.1 MiB"), (3 * 2**30, "3.0 GiB"), (512, "0.5 KiB")])
def test_refusals_show_sizes_that_do_not_round_to_zero(n, shown):
    from fsm_lstm.model import readable_bytes
    assert readable_bytes(n) == shown


@pytest.mark.parametrize("bias", ["bias_ih_l0", "bias_hh_l0", "heads.bias"])
def test_a_bias_spelled_sparse_is_refused_by_name(tmp_path, capsys, bias):
    base = compile_grammar(load_grammar("parity"))
    with np.load(_saved(base, tmp_path)) as data:
        arrays = {k: data[k] for k in data.files if k != bias}
        vector = data[bias]
    arrays.update({f"{bias}.{k}": v for k, v in csr_parts(vector.reshape(1, -1)).items()})
    path = tmp_path / "sparse_bias.npz"
    write_members(path, arrays)
    assert main(["run", str(path), "01"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bias} is spelled sparse" in err and "must be dense vectors" in err


def test_sparse_float16_weights_run_as_their_dense_spelling(tmp_path, capsys):
    """float16 CSR data (the format allows it) crashed run, verify and extract (scipy has no float16 kernels):
    it is read as float32, which holds every float16 exactly, so it runs as the dense float16 spelling does. A GRU
    and an LSTM: the plain cells' runtime expanded the matrix."""
    from tests.test_region_proof import random_model

    for cell in ("gru", "lstm"):
        _sparse_float16_runs(random_model(cell, 5, 1, 1.5, seed=4), tmp_path / cell, capsys)


def _sparse_float16_runs(model: Model, tmp_path, capsys) -> None:
    tmp_path.mkdir()
    save_model(model, tmp_path / "m.npz")
    arrays = dict(np.load(tmp_path / "m.npz"))
    arrays = {k: (v.astype(np.float16) if v.dtype.kind == "f" else v) for k, v in arrays.items()}
    np.savez(tmp_path / "dense16.npz", **arrays)
    w = sp.csr_array(arrays.pop("weight_hh_l0").astype(np.float32))  # scipy cannot build it from float16
    arrays |= {"weight_hh_l0.data": w.data.astype(np.float16), "weight_hh_l0.indices": w.indices,
               "weight_hh_l0.indptr": w.indptr, "weight_hh_l0.shape": np.array(w.shape)}
    np.savez(tmp_path / "sparse16.npz", **arrays)
    outputs = []
    for name in ("dense16.npz", "sparse16.npz"):
        assert main(["run", str(tmp_path / name), "0110100", "--json"]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
        assert main(["verify", str(tmp_path / name), "--grammar", "tomita3", "--max-len", "6",
                     "--examples", "10"]) in (0, 1)
        outputs.append(capsys.readouterr().out.splitlines()[-1])
    assert outputs[0] == outputs[2] and outputs[1] == outputs[3]
    assert is_sparse(load_model(tmp_path / "sparse16.npz").layers[0].weight_hh)
