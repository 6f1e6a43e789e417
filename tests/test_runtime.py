"""The batched runtime's blocked path with helper threads (a gather ahead of the recurrence, heads behind it):
the same heads as torch.nn.LSTM and as the grammar, for every block size and batch shape; large products under
one BLAS thread on a borrowed second one."""

from __future__ import annotations

import contextlib
import json
import threading

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_lstm import overlap, runtime
from fsm_lstm import threads as threads_module
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.model import Model, load_model, stored_grammar
from fsm_lstm.runtime import run
from fsm_lstm.semantics import Semantics
from tests.strategies import grammars


def torch_logits(model: Model, strings: np.ndarray, net: torch.nn.LSTM | None = None) -> np.ndarray:
    """(T, B, M) head logits after each symbol, by torch.nn.LSTM with the model's weights (float32)."""
    if net is None:
        net = torch.nn.LSTM(len(model.alphabet), model.hidden_size)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in model.arrays().items() if "_l0" in k})
    x = torch.nn.functional.one_hot(torch.from_numpy(strings.T.astype(np.int64)), len(model.alphabet)).float()
    with torch.no_grad():
        out, _ = net(x)
        return (out @ torch.from_numpy(model.head_weight).T + torch.from_numpy(model.head_bias)).numpy()


def blocks_and_helpers(monkeypatch: pytest.MonkeyPatch, block: int, helpers: bool, prefetch: bool = True) -> None:
    """Blocks of ``block`` hidden values; helper threads for any size of work, or never; tables gathered
    ahead, or (``prefetch`` False) inline after each block."""
    monkeypatch.setattr(runtime, "STREAM_BLOCK", block)
    monkeypatch.setattr(runtime, "PREFETCH_LIMIT", 2**62 if prefetch else 0)
    monkeypatch.setattr(overlap, "HELPERS_ABOVE", 0 if helpers else 2**62)
    monkeypatch.setattr(overlap, "usable_cores", lambda: 2)
    monkeypatch.setattr(overlap, "_idle_cores", lambda: 1.0)


@settings(max_examples=40, deadline=None)
@given(grammars(max_states=8, max_symbols=4, deterministic=True), st.integers(0, 2**32 - 1),
       st.integers(1, 9), st.integers(0, 40), st.sampled_from([1, 20, 97, 2**18]))
def test_blocks_on_helper_threads_decode_like_torch_and_the_grammar(g, seed, batch, steps, block):
    model = compile_grammar(g)
    strings = np.random.default_rng(seed).integers(0, len(g.alphabet), size=(batch, steps))
    with pytest.MonkeyPatch.context() as mp:
        blocks_and_helpers(mp, block, helpers=True)
        ours = run(model, strings)
    assert ours.heads.shape == (steps + 1, batch, len(model.heads))
    assert np.array_equal(ours.decoded(), Semantics(stored_grammar(model)).expected_heads(model.heads, strings))
    if steps:  # torch refuses empty sequences
        theirs = torch_logits(model, strings)
        assert np.array_equal(ours.decoded()[1:], theirs > 0)
        assert np.allclose(ours.heads[1:], theirs, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_helper_threads_and_block_sizes_change_no_bit(dtype, monkeypatch):
    model = reber()
    strings = np.random.default_rng(3).integers(0, len(model.alphabet), size=(37, 121))
    results = []
    for block, helpers, prefetch in [(2**18, False, True), (1, True, True), (50, True, True), (333, True, True),
                                     (333, False, True), (50, True, False)]:
        blocks_and_helpers(monkeypatch, block, helpers, prefetch)
        results.append(run(model, strings, dtype=dtype).heads)
    assert all(r.dtype == dtype for r in results)
    assert all(np.array_equal(results[0], r) for r in results[1:])


def reber() -> Model:
    return compile_grammar(load_grammar("reber"))


def two_layer_model(tmp_path) -> tuple[torch.nn.LSTM, Model]:
    """A random 2-layer LSTM whose first layer has recurrent weights in its input gate only (the blocked path),
    with 3 heads."""
    torch.manual_seed(5)
    hidden = 6
    net = torch.nn.LSTM(3, hidden, num_layers=2)
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.mul_(3)
        net.weight_hh_l0[hidden:].zero_()  # forget, cell and output gates read the symbol only
    arrays = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    rng = np.random.default_rng(5)
    arrays["heads.weight"] = rng.normal(size=(3, hidden)).astype(np.float32)
    arrays["heads.bias"] = rng.normal(size=3).astype(np.float32)
    arrays["meta"] = np.array(json.dumps({"alphabet": ["a", "b", "c"], "heads": ["accept", "next:a", "next:b"],
                                          "units": [f"u{k}" for k in range(hidden)], "cell": "lstm"}))
    np.savez(tmp_path / "m.npz", **arrays)
    return net, load_model(tmp_path / "m.npz")


def test_a_blocked_first_layer_feeds_a_second_layer_as_torch_does(tmp_path, monkeypatch):
    net, model = two_layer_model(tmp_path)
    strings = np.random.default_rng(6).integers(0, 3, size=(23, 70))
    blocks_and_helpers(monkeypatch, 40, helpers=True)
    ours = run(model, strings)
    theirs = torch_logits(model, strings, net)
    assert np.array_equal(ours.decoded()[1:], theirs > 0)
    assert np.allclose(ours.heads[1:], theirs, atol=1e-4)
    recorded = run(model, strings, record=True)  # the step-by-step path, which keeps every gate
    assert np.allclose(recorded.heads, ours.heads, atol=1e-5)


def test_an_error_in_a_block_reaches_the_caller_and_no_thread_is_left(monkeypatch):
    model = reber()
    strings = np.zeros((4, 30), dtype=np.int64)
    blocks_and_helpers(monkeypatch, 20, helpers=True)
    before = threading.active_count()
    real, calls = runtime._block_heads, []

    def broken(*args):  # row 0 is computed first, by the calling thread; the blocks after it fail
        calls.append(threading.current_thread())
        if len(calls) > 1:
            raise MemoryError("no room for heads")
        real(*args)

    monkeypatch.setattr(runtime, "_block_heads", broken)
    with pytest.raises(MemoryError, match="no room for heads"):
        run(model, strings)
    assert threading.active_count() == before


def test_a_helper_error_comes_back_from_result():
    def fail():
        raise ValueError("bad block")

    with overlap.Helpers(1) as helpers:
        task = helpers.submit(fail)
        assert isinstance(task.future.exception(timeout=10), ValueError)  # it ran on the helper
        with pytest.raises(ValueError, match="bad block"):
            task.result()


def test_a_call_no_helper_has_started_runs_on_the_caller():
    release = threading.Event()
    with overlap.Helpers(1) as helpers:
        busy = helpers.submit(release.wait, 10)  # the only helper is taken
        waiting = helpers.submit(threading.current_thread)
        assert waiting.result() is threading.current_thread()
        release.set()
        assert busy.result() is True


def test_helpers_only_with_enough_work_and_a_free_core(monkeypatch):
    monkeypatch.setattr(overlap, "usable_cores", lambda: 2)
    for idle, numbers, want in [(1.0, overlap.HELPERS_ABOVE + 1, 2), (1.0, overlap.HELPERS_ABOVE, 0),
                                (-2.5, overlap.HELPERS_ABOVE + 1, 0)]:
        monkeypatch.setattr(overlap, "_idle_cores", lambda idle=idle: idle)
        assert overlap.helper_count(numbers) == want
    monkeypatch.setattr(overlap, "usable_cores", lambda: 1)
    monkeypatch.setattr(overlap, "_idle_cores", lambda: 1.0)
    assert overlap.helper_count(overlap.HELPERS_ABOVE + 1) == 0


def test_without_helpers_calls_run_at_once_in_order():
    seen: list[int] = []
    with overlap.Helpers(0) as helpers:
        tasks = [helpers.submit(seen.append, k) for k in range(3)]
        assert seen == [0, 1, 2]
        assert [task.result() for task in tasks] == [None, None, None]


class _FakeBlas:
    """An OpenBLAS controller that records the thread counts it is given."""

    def __init__(self, threads: int) -> None:
        self.threads, self.given = threads, []

    def get_num_threads(self) -> int:
        return self.threads

    def set_num_threads(self, n: int) -> None:
        self.given.append(n)
        self.threads = n


@pytest.mark.parametrize("rows, threads, lending, want", [(64, 1, True, [2, 1]), (63, 1, True, []),
                                                            (64, 2, True, []), (64, 1, False, [])])
def test_a_large_product_under_one_blas_thread_borrows_a_second_and_gives_it_back(monkeypatch, rows, threads,
                                                                                    lending, want):
    """Only inside one_blas_thread (``lending``): one thread set elsewhere, as Dask sets it in every worker
    (OPENBLAS_NUM_THREADS=1), is left alone."""
    blas = _FakeBlas(threads)
    monkeypatch.setattr(threads_module, "_openblas", lambda: (blas,))
    a, b = np.ones((rows, 512), np.float32), np.ones((512, 512), np.float32)  # 64 x 512 x 512 = 2**24
    with threads_module.one_blas_thread() if lending else contextlib.nullcontext():
        assert np.array_equal(threads_module.product(a, b), np.full((rows, 512), 512, np.float32))
    assert blas.given == want and blas.threads == threads


def test_a_failing_product_still_gives_the_thread_back(monkeypatch):
    blas = _FakeBlas(1)
    monkeypatch.setattr(threads_module, "_openblas", lambda: (blas,))
    with threads_module.one_blas_thread(), pytest.raises(ValueError):
        threads_module.product(np.ones((4096, 512)), np.ones((511, 512)))
    assert blas.given == [2, 1]


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 300), st.integers(1, 600), st.integers(1, 800), st.integers(0, 2**32 - 1))
def test_products_on_the_real_blas_equal_numpys_and_leave_one_thread(rows, inner, cols, seed):
    with pytest.MonkeyPatch.context() as patch:  # as this machine is, whatever a test or the user set before
        patch.setattr(threads_module, "_STARTING_ENVIRON", {})
        threads_module._openblas.cache_clear()
        try:
            _check_a_real_product(rows, inner, cols, seed)
        finally:
            threads_module._openblas.cache_clear()


def _check_a_real_product(rows: int, inner: int, cols: int, seed: int) -> None:
    libs = threads_module._openblas()
    assert libs or overlap.usable_cores() < 2
    given_counts: list[int] = []
    for lib in libs:
        lib.set_num_threads = lambda n, real=lib.set_num_threads: (given_counts.append(n), real(n))[1]
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((rows, inner)).astype(np.float32)
    b = rng.standard_normal((inner, cols)).astype(np.float32)
    try:
        with threads_module.one_blas_thread():
            got = threads_module.product(a, b)
            assert all(lib.get_num_threads() == 1 for lib in libs)
    finally:
        for lib in libs:
            del lib.set_num_threads
    assert np.allclose(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3 * np.sqrt(inner))
    wide = libs and rows * inner * cols >= threads_module.WIDE_PRODUCT
    assert given_counts == ([2] * len(libs) + [1] * len(libs) if wide else [])


def test_openblas_num_threads_1_stops_the_lending(monkeypatch):
    """A user on a busy machine asks for one BLAS thread the usual way; a lent second thread ignored it, and an
    extraction ran twice as slowly as on one thread when another process kept a core busy."""
    monkeypatch.setattr(threads_module, "_STARTING_ENVIRON", {"OPENBLAS_NUM_THREADS": "1"})
    threads_module._openblas.cache_clear()
    try:
        assert threads_module._openblas() == ()
        with threads_module.one_blas_thread():
            a, b = np.ones((64, 512), np.float32), np.ones((512, 512), np.float32)
            assert np.array_equal(threads_module.product(a, b), np.full((64, 512), 512, np.float32))
    finally:
        monkeypatch.undo()
        threads_module._openblas.cache_clear()


@pytest.mark.parametrize("variables, lends", [({"GOTO_NUM_THREADS": "1"}, False), ({"OMP_NUM_THREADS": "1"}, False),
                                              ({"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "1"}, True),
                                              ({}, True)])
def test_the_variables_openblas_reads_for_its_threads_decide_the_lending(monkeypatch, variables, lends):
    """In OpenBLAS's order (OPENBLAS_NUM_THREADS first), as they were when it was loaded: Dask sets
    OMP_NUM_THREADS=1 in this process's environment for its workers, and a test run after a Dask test saw it."""
    environ = {v: variables.get(v, "") for v in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")}
    monkeypatch.setattr(threads_module, "_STARTING_ENVIRON", environ)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # set after loading: not read
    threads_module._openblas.cache_clear()
    try:
        assert bool(threads_module._openblas()) == (lends and overlap.usable_cores() >= 2)
    finally:
        monkeypatch.undo()
        threads_module._openblas.cache_clear()
