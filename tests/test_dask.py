"""Exhaustive verification sharded by prefix on Dask gives the serial run's report, on passing and failing models;
verify-many runs one verification per model on the cluster; without Dask, --workers says how to install it."""

from __future__ import annotations

import sys

import pytest

from examples.make_examples import leaky_reber
from fsm_lstm.cli import main
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.model import save_model
from fsm_lstm.queries import Network
from fsm_lstm.reading import Reading
from fsm_lstm.reference import reference_for
from fsm_lstm.shard import sharded_walk
from fsm_lstm.trie import walk_trie
from fsm_lstm.verify import describe, verify

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
    assert lines[0].startswith(paths[0] + ": FAIL: counterexample 'BTSSSS'") and lines[1] == f"{paths[1]}: PASS: proven for every length"


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
