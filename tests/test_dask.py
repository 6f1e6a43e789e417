"""Exhaustive verification sharded by prefix on Dask gives the serial run's report, on passing and failing models;
verify-many runs one verification per model on the cluster; without Dask, --workers says how to install it."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from examples.make_examples import leaky_reber
from fsm_lstm.cli import main
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.extract import output_columns
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.model import save_model
from fsm_lstm.queries import Network
from fsm_lstm.reading import Reading
from fsm_lstm.reference import reference_for
from fsm_lstm.sampling import observe
from fsm_lstm.shard import sharded_walk
from fsm_lstm.shard_queries import cluster_runner
from fsm_lstm.trie import walk_trie
from fsm_lstm.verify import describe, verify
from tests.ticking_clock import TickingClock

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as c, distributed.Client(c) as client:
        yield c, client


MODELS = {"passing": lambda: compile_grammar(load_grammar("reber")), "failing": lambda: leaky_reber(4)}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_sharded_walk_gives_the_serial_walk(cluster, name):
    _, client = cluster
    grammar = load_grammar("reber")
    model = MODELS[name]()
    ref = reference_for(model, grammar)
    serial = walk_trie(Network(model, Reading()), ref, 6)
    sharded = sharded_walk(client, model, Reading(), ref, 6, 2**28)
    assert sharded.failure == serial.failure and sharded.agreed == serial.agreed
    assert sharded.distinct == serial.distinct
    if name == "failing":
        assert tuple(model.alphabet[a] for a in serial.failure.word) == ("B", "T") + ("S",) * 4
    else:
        assert serial.failure is None and serial.agreed == 6


@pytest.mark.parametrize("name", sorted(MODELS))
def test_verify_on_an_existing_scheduler_gives_the_serial_report(cluster, name):
    c, _ = cluster
    grammar = load_grammar("reber")
    model = MODELS[name]()
    serial = verify(model, grammar, max_len=6, examples=20)
    sharded = verify(model, grammar, max_len=6, examples=20, scheduler=c.scheduler_address)
    assert describe(sharded, model.alphabet) == describe(serial, model.alphabet)
    assert sharded.passed == (name == "passing")


def test_verify_many_on_the_cluster_prints_what_it_prints_serially(cluster, tmp_path, capsys):
    c, _ = cluster
    paths = []
    for name, make in sorted(MODELS.items()):
        paths.append(str(tmp_path / f"{name}.npz"))
        save_model(make(), paths[-1])
    argv = ["verify-many", *paths, "--grammar", "reber", "--max-len", "5", "--examples", "20"]
    assert main(argv) == 1
    serial = capsys.readouterr().out
    assert main([*argv, "--scheduler", c.scheduler_address]) == 1
    assert capsys.readouterr().out == serial
    lines = serial.splitlines()
    assert lines[0].startswith(paths[0] + ": FAIL: counterexample 'BTSSSS'")
    assert lines[1] == f"{paths[1]}: PASS: proven for every length"


def test_workers_2_on_a_local_cluster_prints_the_serial_report(tmp_path, capsys):
    path = tmp_path / "leaky.npz"
    save_model(leaky_reber(4), path)
    argv = ["verify", str(path), "--max-len", "6", "--examples", "0"]
    assert main(argv) == 1
    serial = capsys.readouterr().out
    assert main([*argv, "--workers", "2"]) == 1
    assert capsys.readouterr().out == serial and "'BTSSSS'" in serial


def test_workers_without_dask_say_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert main(["verify", "reber", "--max-len", "2", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'fsm-lstm[dask]'" in err


def test_a_bad_worker_count_is_refused(capsys):
    assert main(["verify", "reber", "--max-len", "2", "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err
    assert main(["verify", "reber", "--max-len", "2", "--workers", "1000000"]) == 2  # it started them, one by one
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--workers 1,000,000 is over the limit of 64 processes" in err


@pytest.mark.parametrize("command", [["verify", "reber"], ["verify-many", "--grammar", "reber", "r.npz"],
                                     ["extract", "reber", "-o", "x.toml"]])
def test_workers_and_a_scheduler_together_are_refused_before_any_work(command, tmp_path, capsys, monkeypatch):
    """--workers 2 --scheduler tcp://127.0.0.1:1 went to the scheduler, the workers silently unused."""
    monkeypatch.chdir(tmp_path)
    assert main(["compile", "reber", "-o", "r.npz"]) == 0
    capsys.readouterr()
    assert main([*command, "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "give --workers N (a new local cluster) or --scheduler ADDRESS" in err
    assert not (tmp_path / "x.toml").exists()


def _reber_words(path, count=300):
    """Prefixes of random walks of the Reber grammar, one a line (typical words for extraction)."""
    import numpy as np

    from fsm_lstm.generate import walks

    g = load_grammar("reber")
    rng = np.random.default_rng(0)
    lines = [" ".join(g.alphabet[a] for a in w[:int(rng.integers(1, 13))]) for w in walks(g, rng, count, 12)]
    path.write_text("\n".join(lines) + "\n")
    return path


@settings(max_examples=8, deadline=None)
@given(words=st.lists(st.lists(st.integers(0, 6), max_size=9).map(tuple), max_size=120),
       chunk=st.integers(1, 40))
def test_observe_on_the_cluster_gives_the_serial_answers(cluster, words, chunk):
    _, client = cluster
    model = leaky_reber(4)
    net = Network(model, Reading())
    columns = output_columns(model, Reading())
    serial = observe(net, columns, words, chunk=chunk)
    sharded = observe(net, columns, words, chunk=chunk, run=cluster_runner(client, model, Reading()))
    assert np.array_equal(sharded.truth, serial.truth) and np.array_equal(sharded.strings, serial.strings)
    # the truth is the network's own: the accept head after each whole word, one word at a time
    for b, w in enumerate(words[:5]):
        assert np.array_equal(sharded.final()[b], net.final_logits([w])[0, columns] > 0)


def test_extract_with_words_on_the_cluster_gives_the_serial_automaton(cluster, tmp_path, capsys):
    c, client = cluster
    words = _reber_words(tmp_path / "words.txt")
    argv = ["extract", "reber", "--words", str(words), "--json"]
    assert main([*argv, "-o", str(tmp_path / "serial.toml")]) == 0
    serial = json.loads(capsys.readouterr().out)
    client.run(_forget_network)
    assert main([*argv, "-o", str(tmp_path / "sharded.toml"), "--scheduler", c.scheduler_address]) == 0
    sharded = json.loads(capsys.readouterr().out)
    for report in (serial, sharded):
        del report["output"], report["seconds"]
    assert sharded == serial and serial["states"] == 8 and serial["fidelity"] == 1.0
    sharded, serial = (load_grammar(str(tmp_path / name)) for name in ("sharded.toml", "serial.toml"))
    assert sharded.transitions == serial.transitions
    # the queries ran on the cluster's workers, not here
    assert sum(client.run(_networks_built).values()) >= 1


def test_extract_workers_2_prints_the_serial_automaton(tmp_path, capsys):
    words = _reber_words(tmp_path / "words.txt", 60)
    argv = ["extract", "reber", "--words", str(words), "--json", "--method", "cluster"]
    assert main([*argv, "-o", str(tmp_path / "serial.toml")]) == 0
    serial = json.loads(capsys.readouterr().out)
    assert main([*argv, "-o", str(tmp_path / "sharded.toml"), "--workers", "2"]) == 0
    sharded = json.loads(capsys.readouterr().out)
    for report in (serial, sharded):
        del report["output"], report["seconds"]
    assert sharded == serial and serial["states"] == 8


def test_extract_workers_without_dask_say_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert main(["extract", "reber", "-o", "unused.toml", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'fsm-lstm[dask]'" in err


def _forget_network():
    from fsm_lstm import shard

    shard._NETWORK.clear()


def _networks_built():
    from fsm_lstm import shard

    return len(shard._NETWORK)


def test_local_cluster_workers_keep_glibc_adaptive_allocation():
    """Dask's MALLOC_TRIM_THRESHOLD_ would map and unmap every array over 128 KiB afresh in the workers."""
    import os

    from fsm_lstm.shard import cluster_client

    with cluster_client(1, None) as client:
        env = list(client.run(lambda: {k: os.environ.get(k) for k in
                                       ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")}).values())
    assert env == [{"MALLOC_TRIM_THRESHOLD_": str(64 * 2**20), "MALLOC_MMAP_THRESHOLD_": str(64 * 2**20)}]


@settings(max_examples=30, deadline=None)
@given(ticks=st.integers(0, 80), repeats=st.integers(1, 4), merge=st.booleans())
@example(ticks=5, repeats=2, merge=True)  # cut inside the 'B B' subtree, which once claimed length 6
def test_a_task_cut_short_claims_only_the_lengths_it_ran(ticks, repeats, merge):
    """One task's subtrees under every 2-symbol prefix in order (the failing 'B T' subtree is not the first), cut
    after ``ticks`` clock reads: its agreed length stays below the length of the leaky network's shortest
    failure, and a failure it reports is that one. (A cut task once claimed the lengths of the subtrees after
    the cut one, which it never walked.)"""
    from fsm_lstm import shard, trie

    model = leaky_reber(repeats)
    ref = reference_for(model, load_grammar("reber"))
    failing = ("B", "T") + ("S",) * repeats
    K = len(model.alphabet)
    prefixes = [(a, b) for a in range(K) for b in range(K)]
    with pytest.MonkeyPatch.context() as patch:
        clock = TickingClock()
        patch.setattr(shard, "time", clock)
        patch.setattr(trie, "time", clock)
        part = shard._walk_shards(model, Reading(), ref, prefixes, 8, 2**26, merge, until=ticks + 0.5)
    assert part.agreed < len(failing)
    assert part.failure is None or tuple(model.alphabet[a] for a in part.failure.word) == failing
    if part.complete:
        assert part.failure is not None and part.agreed == len(failing) - 1


def test_verify_on_the_cluster_stops_at_the_time_limit_and_says_so(cluster):
    c, _ = cluster
    grammar = load_grammar("reber")
    model = compile_grammar(grammar)
    report = verify(model, grammar, max_len=12, examples=0, merge=False, time_limit=1e-6,
                    scheduler=c.scheduler_address)
    assert report.cut and report.requested == 12 and report.max_len < 12 and report.passed
    assert report.prefixes == sum(7 ** k for k in range(report.max_len + 1))
    assert f"the time limit stopped it before it finished length {report.max_len + 1}, of the 12 asked for " \
           "(--time-limit)" in "\n".join(describe(report, model.alphabet))
