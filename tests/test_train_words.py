"""Word classifiers (TAYSIR-style): START w END, the accept head read after the end marker only."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fsm_lstm.cli import main
from fsm_lstm.errors import UserError
from fsm_lstm.generate import competition_dfa
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.model import load_model
from fsm_lstm.runtime import run
from fsm_lstm.semantics import Semantics
from fsm_lstm.train import TrainConfig, train, word_dataset
from fsm_lstm.words import encode

WORDS = TrainConfig(task="accept", cell="gru", hidden=16, samples=1500, epochs=60, final_only=True,
                    start_marker="<s>", end_marker="</s>")


def test_a_marked_model_trains_and_its_verdicts_are_read_after_the_end_marker():
    g = load_grammar("tomita3")
    model, result = train(g, WORDS)
    assert result.accuracy == 1.0, result
    assert model.alphabet == (*g.alphabet, "<s>", "</s>") and model.heads == ("accept",)
    assert model.extra["final_only"] is True
    assert (model.extra["start_marker"], model.extra["end_marker"]) == ("<s>", "</s>")
    assert model.extra["trained"]["heldout_accuracy"] == 1.0
    rng = np.random.default_rng(7)
    words = [tuple(g.alphabet[k] for k in rng.integers(0, 2, size=int(n))) for n in rng.integers(0, 21, 200)]
    framed = [("<s>", *w, "</s>") for w in words]
    logits = run(model, encode(framed, model.alphabet)).heads[:, :, 0]
    said = logits[[len(w) for w in framed], np.arange(len(words))] > 0
    truth = np.array([Semantics(g).accepts(w) for w in words])
    assert np.mean(said == truth) > 0.95


def test_word_data_frames_every_word_and_labels_it():
    g = load_grammar("parity")
    framed, read, targets = word_dataset(g, WORDS, 50, np.random.default_rng(0))
    for row, n, label in zip(framed, read, targets):
        assert row[0] == 2 and row[n - 1] == 3  # <s> ... </s>
        inner = row[1:n - 1]
        assert set(inner.tolist()) <= {0, 1} and label == float(inner.sum() % 2 == 1)


def test_same_seed_same_word_model():
    g = competition_dfa(np.random.default_rng(3), 20, 20)
    config = dataclasses.replace(WORDS, cell="rnn", hidden=8, samples=200, epochs=2, lengths=(0, 6))
    a, _ = train(g, config)
    b, _ = train(g, config)
    assert all(np.array_equal(v, b.arrays()[k]) for k, v in a.arrays().items())


def test_competition_dfas_are_complete_minimal_and_half_accepting():
    from fsm_lstm.automata import minimise
    g = competition_dfa(np.random.default_rng(1), 30, 25)
    assert len(g.states) == 30 and g.alphabet[0] == "a0" and len(g.alphabet) == 25
    assert len(g.transitions) == 30 * 25 and g.is_deterministic
    assert len(minimise(g).states) == 30 and 5 < len(g.accept) < 25


@pytest.mark.parametrize("change, needle", [
    (dict(start_marker="1"), "is a symbol of the grammar"),
    (dict(start_marker="#", end_marker="#"), "both '#'"),
    (dict(start_marker="a b"), "white space"),
    (dict(final_only=False), "add --final-only --task accept"),
    (dict(task="both"), "add --final-only --task accept"),
    (dict(learning_rate=float("nan")), "--lr nan"),
    (dict(learning_rate=0.0), "--lr 0.0"),
    (dict(hidden=10_000), "--hidden 10000"),
    (dict(batch=0), "--batch 0"),
])
def test_bad_settings_are_refused_before_training(change, needle):
    with pytest.raises(UserError, match=needle.replace("(", r"\(")):
        train(load_grammar("parity"), dataclasses.replace(WORDS, **change))


@pytest.mark.parametrize("argv, needle", [
    (["--start-marker", "0", "--end-marker", "$", "--final-only", "--task", "accept"], "'0' is a symbol of the"),
    (["--start-marker", "^", "--end-marker", "^", "--final-only", "--task", "accept"], "both '^'"),
    (["--start-marker", "^", "--end-marker", "$"], "add --final-only --task accept"),
    (["--lr", "-0.5"], "--lr -0.5 must be a finite number > 0"),
    (["--lr", "inf"], "--lr inf"),
    (["--hidden", "0"], "--hidden 0"),
])
def test_train_command_refuses_bad_markers_and_settings_in_one_line(tmp_path, capsys, argv, needle):
    assert main(["train", "parity", "-o", str(tmp_path / "p.npz"), *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_train_command_writes_a_word_classifier(tmp_path, capsys):
    out = tmp_path / "p.npz"
    assert main(["train", "parity", "-o", str(out), "--task", "accept", "--final-only", "--start-marker", "^",
                 "--end-marker", "$", "--hidden", "4", "--samples", "1000", "--epochs", "60"]) == 0
    assert "held-out words right" in capsys.readouterr().out
    model = load_model(out)
    assert model.alphabet == ("0", "1", "^", "$")
    assert {k: model.extra[k] for k in ("final_only", "start_marker", "end_marker")} == \
        {"final_only": True, "start_marker": "^", "end_marker": "$"}


def test_final_only_accept_models_without_markers_say_so_in_their_meta():
    g = load_grammar("parity")
    config = TrainConfig(task="accept", hidden=4, samples=200, epochs=2, final_only=True)
    assert train(g, config)[0].extra["final_only"] is True
    assert "final_only" not in train(g, dataclasses.replace(config, task="both"))[0].extra
    assert "final_only" not in train(g, dataclasses.replace(config, final_only=False))[0].extra


def test_moving_walks_change_state_whenever_they_can():
    """With ``moving=1`` every step of a walk on a complete DFA takes an edge to another state (each state of a
    competition DFA has one), which the grammar's own transition function confirms."""
    from fsm_lstm.generate import walks
    g = competition_dfa(np.random.default_rng(3), 12, 6)
    rows = walks(g, np.random.default_rng(0), 40, 30, moving=1.0)
    delta = {(p, a): q for p, a, q in g.transitions}
    for row in rows:
        state = g.start
        for k in row:
            nxt = delta[(state, g.alphabet[int(k)])]
            assert nxt != state
            state = nxt


@pytest.mark.parametrize("moving", [-0.1, 1.5])
def test_moving_must_be_a_probability(moving):
    with pytest.raises(UserError, match="moving"):
        train(load_grammar("parity"), dataclasses.replace(WORDS, moving=moving))


def test_train_exits_1_when_the_model_did_not_learn_its_task(tmp_path, capsys):
    """Two epochs on 100 strings cannot learn tomita3's next-symbol sets (a 1-unit LSTM); the model is written and
    the command says so, with exit 1, instead of reporting success."""
    out = tmp_path / "t.npz"
    assert main(["train", "tomita3", "-o", str(out), "--hidden", "1", "--samples", "100", "--epochs", "2"]) == 1
    text = capsys.readouterr().out
    assert "below --min-accuracy 99%" in text and out.exists()
    assert main(["train", "tomita3", "-o", str(out), "--min-accuracy", "1.5"]) == 2
