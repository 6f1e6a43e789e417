"""Verification: passes correct models, and finds the shortest string a wrong model gets wrong."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fsm_lstm.queries import Network
from fsm_lstm.reading import Reading
from fsm_lstm.cli import main
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.grammar import Grammar
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.model import Layer, Model, save_model
from fsm_lstm.reference import reference_for
from fsm_lstm.strategies import any_strings, grammar_strings, near_misses
from fsm_lstm.verify import alphabet_notes, check_word, default_max_len, describe, evidence, verify
from examples.make_examples import LEAK_REPEATS, leaky_reber
from tests.oracle import accepts, next_symbols, states_after

TOMITA1 = Path(__file__).resolve().parents[1] / "grammars" / "tomita1.toml"


def shortest_failure_by_bfs(model: Model, grammar, max_depth: int = 40) -> tuple[str, ...] | None:
    """Independent brute force: breadth-first over every string, run by torch.nn.LSTMCell, judged by the
    set-based oracle; prefixes whose (rounded) network state and grammar state coincide are merged."""
    layer = model.layers[0]
    cell = torch.nn.LSTMCell(len(model.alphabet), layer.hidden_size).double()
    cell.load_state_dict({k: torch.from_numpy(getattr(layer, k).astype(np.float64))
                          for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})
    wh, bh = model.head_weight.astype(np.float64), model.head_bias.astype(np.float64)
    frontier = [((), torch.zeros(1, layer.hidden_size, dtype=torch.float64),
                 torch.zeros(1, layer.hidden_size, dtype=torch.float64))]
    seen = set()
    for _ in range(max_depth + 1):
        for word, h, c in frontier:
            states = states_after(grammar, word)
            truth = wh @ h[0].numpy() + bh > 0
            want = [states & grammar.accept != set() if label == "accept" else
                    label[5:] in next_symbols(grammar, states) if label.startswith("next:") else
                    label[6:] in states for label in model.heads]
            if list(truth) != want:
                return word
        nxt = []
        for word, h, c in frontier:
            for k, a in enumerate(model.alphabet):
                x = torch.zeros(1, len(model.alphabet), dtype=torch.float64)
                x[0, k] = 1
                with torch.no_grad():
                    h2, c2 = cell(x, (h, c))
                key = (tuple(np.round(h2[0].numpy(), 6)), tuple(np.round(c2[0].numpy(), 6)),
                       frozenset(states_after(grammar, word + (a,))))
                if key not in seen:
                    seen.add(key)
                    nxt.append((word + (a,), h2, c2))
        frontier = nxt
    return None


def test_leaky_model_fails_only_after_20_loops_and_verify_finds_exactly_the_shortest_string():
    grammar = load_grammar("reber")
    model = leaky_reber()
    expected = shortest_failure_by_bfs(model, grammar)
    assert expected == tuple("BT") + ("S",) * LEAK_REPEATS  # the brute force agrees with the design
    report = verify(model, grammar, max_len=5, examples=300, seed=3)
    assert not report.passed
    assert report.counterexample.word == expected
    assert report.counterexample.head == "accept" and report.counterexample.expected is False
    assert report.max_len == 5 and not report.proven


def test_random_short_strings_cannot_find_the_leak():
    grammar = load_grammar("reber")
    model = leaky_reber()
    ref = reference_for(model, grammar)
    rng = np.random.default_rng(0)
    for _ in range(300):
        word = tuple(rng.choice(list(grammar.alphabet), size=int(rng.integers(0, 60))))
        assert check_word(Network(model, Reading()), ref, word) is None


def test_random_weight_model_fails_with_a_counterexample_of_length_at_most_2():
    torch.manual_seed(0)
    grammar = load_grammar("reber")
    lstm = torch.nn.LSTM(7, 6)
    arrays = {k: v.detach().numpy() for k, v in lstm.state_dict().items()}
    heads = ("accept",) + tuple(f"next:{a}" for a in grammar.alphabet)
    rng = np.random.default_rng(1)
    model = Model(layers=(Layer(*(arrays[f"{n}_l0"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))),),
                  head_weight=rng.normal(size=(len(heads), 6)).astype(np.float32),
                  head_bias=rng.normal(size=len(heads)).astype(np.float32),
                  alphabet=grammar.alphabet, heads=heads, units=tuple(f"u{k}" for k in range(6)))
    report = verify(model, grammar, examples=50)
    c = report.counterexample
    assert not report.passed and len(c.word) <= 2
    # the failure is real: recompute the head with torch and the oracle
    h = np.zeros(6, np.float32)
    if c.word:
        index = torch.tensor([grammar.alphabet.index(a) for a in c.word], dtype=torch.long)
        with torch.no_grad():
            h = lstm(torch.nn.functional.one_hot(index, 7).float()[:, None, :])[0][-1, 0].numpy()
    logit = model.head_weight[heads.index(c.head)] @ h + model.head_bias[heads.index(c.head)]
    states = states_after(grammar, c.word)
    truth = bool(states & grammar.accept) if c.head == "accept" else c.head[5:] in next_symbols(grammar, states)
    assert (logit > 0) != truth and truth == c.expected


def test_a_failure_the_enumeration_finds_says_where_the_enumeration_stopped():
    """tomita1 (1*) and tomita2 ((10)*) agree on '' (both accept, both expect 1 next) and part at '1': the
    network compiled from tomita1, verified against tomita2, agrees up to length 0 and fails at length 1."""
    report = verify(compile_grammar(load_grammar("tomita1")), load_grammar("tomita2"), examples=20)
    assert report.counterexample.word == ("1",) and report.max_len == 0
    exhaustive = next(line for line in describe(report, ("0", "1")) if line.startswith("exhaustive:"))
    assert exhaustive == ("exhaustive: every string up to length 0 agrees (1 prefix, 1 distinct state); the "
                          "enumeration stopped at the first failure, at length 1")


def test_every_bundled_compiled_model_passes(bundled):
    report = verify(compile_grammar(bundled), max_len=4, examples=30)
    assert report.passed and report.proven, report
    assert report.prefixes == sum(len(bundled.alphabet) ** k for k in range(5))


@pytest.mark.parametrize("keep", ["next:", "accept"])
def test_models_with_only_some_heads_are_checked_on_those(keep):
    grammar = load_grammar("reber")
    full = compile_grammar(grammar)
    rows = [k for k, h in enumerate(full.heads) if h.startswith(keep)]
    part = dataclasses.replace(full, heads=tuple(full.heads[k] for k in rows), head_weight=full.head_weight[rows],
                               head_bias=full.head_bias[rows])
    report = verify(part, grammar, max_len=4, examples=20)
    assert report.passed and set(report.checked) == set(part.heads)
    wrong = dataclasses.replace(part, head_bias=part.head_bias + 10.0)  # every head always true
    assert not verify(wrong, grammar, max_len=3, examples=0).passed


def test_state_heads_of_another_grammar_are_skipped_not_failed():
    """A model compiled from the regex form of parity has states q0, q1; the TOML parity names them even/odd."""
    from fsm_lstm.regex import regex_grammar
    model = compile_grammar(regex_grammar("0*(10*10*)*10*", alphabet=["0", "1"]))
    report = verify(model, load_grammar("parity"), max_len=6, examples=20)
    assert report.passed
    assert all(h.startswith("state:") for h in report.skipped) and report.skipped
    assert report.proven  # same language as the stored grammar: accept and next are proven


def test_exhaustive_depth_fits_the_budget():
    assert default_max_len(7) == 7  # 960,800 prefixes; length 8 would need 6.7 million
    assert default_max_len(2) == 12
    assert sum(7 ** k for k in range(8)) <= 2_000_000 < sum(7 ** k for k in range(9))


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_grammar_strings_stay_in_the_grammar_and_near_misses_are_one_edit_away(data):
    grammar = load_grammar(data.draw(st.sampled_from(["reber", "embedded_reber", "tomita3"])))
    word = data.draw(grammar_strings(grammar, max_pumps=50))
    assert states_after(grammar, word)  # every grammar string is a prefix of the language
    miss = data.draw(near_misses(grammar, max_pumps=50))
    assert all(a in grammar.alphabet for a in miss)
    anything = data.draw(any_strings(grammar, max_size=10))
    assert len(anything) <= 10


def test_pumping_reaches_hundreds_of_repetitions():
    from hypothesis import find
    grammar = load_grammar("reber")
    long = find(grammar_strings(grammar), lambda w: w.count("S") >= 200, settings=settings(max_examples=2000))
    assert long.count("S") == 200  # shrunk to the least that satisfies it
    assert accepts(grammar, long) or states_after(grammar, long)


def test_verify_command_json_and_exit_codes(tmp_path, capsys):
    path = tmp_path / "leaky.npz"
    save_model(leaky_reber(), path)
    assert main(["verify", str(path), "--max-len", "3", "--examples", "300", "--seed", "3", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["counterexample"]["string"] == "BT" + "S" * LEAK_REPEATS
    assert report["counterexample"]["step"] == LEAK_REPEATS + 2 and report["counterexample"]["head"] == "accept"
    assert report["counterexample"]["network_step"] == LEAK_REPEATS + 2  # read at every prefix: no markers
    assert report["covered"]["exhaustive_max_len"] == 3 and report["covered"]["examples"] > 0
    assert report["covered"]["method"] == "certificate+exhaustive+hypothesis"  # every layer ran
    assert report["covered"]["counterexample_found_by"] == "hypothesis"
    save_model(leaky_reber(repeats=3), tmp_path / "short.npz")  # wrong on 'BTSSS', within the enumeration
    assert main(["verify", str(tmp_path / "short.npz"), "--max-len", "6", "--examples", "300", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["counterexample"]["string"] == "BTSSS" and report["covered"]["examples"] == 0
    assert report["covered"]["method"] == "certificate+exhaustive"  # no searched strings after the enumeration's
    assert report["covered"]["counterexample_found_by"] == "enumeration"
    assert main(["verify", "tomita3", "--max-len", "6", "--examples", "20"]) == 0
    assert "PASS" in capsys.readouterr().out
    assert main(["verify", "tomita3", "--max-len", "6", "--examples", "20", "--json"]) == 0
    covered = json.loads(capsys.readouterr().out)["covered"]
    assert covered["method"] == "certificate+exhaustive+hypothesis" and covered["proven_all_lengths"]
    assert main(["verify", str(path), "--grammar", "nowhere.toml"]) == 2


def drifting_tomita1() -> Model:
    """An RNN for tomita1 (1*) by hand: unit 0 creeps up by tanh(0.01 + h) on every symbol, unit 1 latches on a 0;
    accept is 0.3009 - h0 - 5 h1 > 0. In float32, h0 after n ones passes 0.3009 first at n = 60 (numpy below)."""
    layer = Layer(np.array([[0.01, 0.01], [30.0, 0.0]], np.float32), np.array([[1.0, 0.0], [0.0, 10.0]], np.float32),
                  np.zeros(2, np.float32), np.zeros(2, np.float32))
    return Model(layers=(layer,), head_weight=np.array([[-1.0, -5.0]], np.float32),
                 head_bias=np.array([0.3009], np.float32), alphabet=("0", "1"), heads=("accept",), cell="rnn")


def test_pytest_plugin_runs_the_region_proof_on_a_trained_or_imported_model(pytester, tmp_path):
    """The certificate item used to be skipped as 'not applicable' for any model without a compiled grammar, so a
    shallow run passed a network that is wrong at length 60; now it runs the region proof, as verify does."""
    h, n = np.float32(0), 0
    while np.float32(0.3009) - h > 0:  # the hand derivation: the first length of 1s the network rejects
        h, n = np.tanh(np.float32(0.01) + h), n + 1
    assert n == 60
    path = tmp_path / "drift.npz"
    save_model(drifting_tomita1(), path)
    result = pytester.runpytest("--fsm-grammar", "tomita1", "--fsm-model", str(path), "--fsm-max-len", "4",
                                "--fsm-examples", "3", "-q")
    result.stdout.fnmatch_lines(["FAILED*fsm-lstm[[]certificate] - region proof: not proven: the network is w*"])
    result.stdout.fnmatch_lines([f"*region proof: not proven: the network is wrong: after '{'1' * 60}'*confirmed on "
                                 "the network*(the certificate is not applicable: *)"])
    assert result.parseoutcomes().get("failed", 0) >= 1


def test_pytest_plugin_warns_of_grammar_symbols_the_model_cannot_read(pytester, tmp_path):
    """Its items judge strings over the model's alphabet only: a grammar symbol outside it is named, and so is a
    model symbol outside the grammar's alphabet (the plugin said nothing of it)."""
    astar = Grammar(name="astar", start="s", accept=frozenset({"s"}), alphabet=("a", "b"), states=("s",),
                    transitions=(("s", "a", "s"),))
    save_model(compile_grammar(astar), tmp_path / "m.npz")
    cases = [('name = "astar_abc"\nstart = "s"\naccept = ["s"]\nalphabet = ["a", "b", "c"]\nstates = ["s"]\n'
              'transitions = [["s", "a", "s"], ["s", "c", "s"]]\n',
              "*symbols of grammar 'astar_abc' that the model cannot read: c; the verdict covers only strings over the "
              "model's alphabet*"),
             ('name = "a_only"\nstart = "s"\naccept = ["s"]\nalphabet = ["a"]\nstates = ["s"]\n'
              'transitions = [["s", "a", "s"]]\n',
              "*symbols of the model outside the alphabet of grammar 'a_only': b; a string holding one leaves the "
              "grammar*")]
    for text, line in cases:
        (tmp_path / "g.toml").write_text(text)
        result = pytester.runpytest(f"--fsm-grammar={tmp_path / 'g.toml'}", f"--fsm-model={tmp_path / 'm.npz'}",
                                    "--fsm-max-len", "3", "--fsm-examples", "5", "-q")
        result.stdout.fnmatch_lines([line])
        result.assert_outcomes(passed=5, warnings=1)


def test_pytest_plugin_runs_the_property_suite(pytester, tmp_path):
    passing = pytester.runpytest("--grammar", "tomita3", "--fsm-max-len", "5", "--fsm-examples", "20")
    passing.assert_outcomes(passed=5)
    passing.stdout.fnmatch_lines(["collected 5 items"])  # they were run but reported as 0 collected
    listed = pytester.runpytest("--grammar", "tomita3", "--collect-only", "-q")
    listed.stdout.fnmatch_lines(["*fsm-lstm*certificate*", "5 tests collected*"])
    named = pytester.runpytest("--grammar", "tomita3", "--collect-only", "-q", "--fsm-max-len", "5")
    named.stdout.fnmatch_lines(["fsm-lstm[[]certificate]", "fsm-lstm[[]arbitrary strings]"])  # not "::fsm-lstm[...]"
    path = tmp_path / "leaky.npz"
    save_model(leaky_reber(), path)
    failing = pytester.runpytest("--grammar", "reber", "--model", str(path), "--fsm-max-len", "3", "-q")
    outcomes = failing.parseoutcomes()
    assert outcomes.get("failed", 0) >= 2  # certificate (a leak unit has no role) and pumped loops
    failing.stdout.fnmatch_lines(["*counterexample 'BTSSSSSSSSSSSSSSSSSSSS' (22 symbols)*"])


@pytest.mark.parametrize("args, needle", [
    (["--fsm-model", "m.npz"], "--fsm-model needs --fsm-grammar"),
    (["--fsm-grammar", "tomita3", "--fsm-max-len", "-1"], "--fsm-max-len must be a whole number >= 0, not -1"),
    (["--fsm-grammar", "tomita3", "--fsm-examples", "0"], "--fsm-examples must be from 1 to 100,000, not 0"),
    (["--fsm-grammar", "tomita3", "--fsm-examples", "10000000"], "--fsm-examples must be from 1 to 100,000"),
    (["--fsm-grammar", "tomita3", "--fsm-time-limit", "0"], "--fsm-time-limit must be a positive number"),
    (["--fsm-grammar", "no-such.toml"], "no-such.toml"),
    (["--fsm-grammar", "tomita3", "--fsm-model", "no-such.npz"], "no-such.npz"),
    (["--fsm-grammar", "tomita3", "--fsm-model", "net.keras"], "net.keras: no such file; check the path"),
    (["--fsm-grammar", "tomita3", "--fsm-model", "user.keras"], "user.keras: a Keras model file, which commands "
     "other than import do not read; convert it first"),  # user.keras is made below
    (["--fsm-grammar", "tomita3", "--fsm-memory", "0"], "--fsm-memory must be a positive number of MB, not 0.0"),
    (["--fsm-grammar", "reber", "--fsm-max-len", "12", "--fsm-memory", "0.01"],
     "budget of 10.2 KiB cannot hold one block of prefixes (7 rows, each a state of 104 bytes for each of 13 "
     "lengths and a step's temporaries: "),  # compiled reber: 7 symbols, c and h of 13 float32 units
])
def test_pytest_plugin_refuses_bad_options_before_any_item_runs(pytester, args, needle):
    """These ran items that failed five times over with one message, raised hypothesis' traceback (no examples),
    ran nothing with no word of why (a model without a grammar) or were taken silently (a negative depth); a
    depth the memory budget cannot hold failed the exhaustive item naming the command's --memory and --max-len."""
    (pytester.path / "user.keras").write_bytes(b"a Keras archive, not read")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1 and needle in errors[0]


def test_pytest_plugin_options_are_not_checked_for_help(pytester):
    assert pytester.runpytest("--help", "--fsm-max-len", "-1").ret == pytest.ExitCode.OK


def test_pytest_plugin_exhaustive_item_stops_at_its_time_limit_and_says_how_far_it_got(pytester):
    """It had no time limit: a depth of 40 ran on and on. Stopped, it is skipped (not passed), naming the length
    up to which every string agreed."""
    result = pytester.runpytest("--fsm-grammar", "reber", "--fsm-max-len", "30", "--fsm-time-limit", "0.001",
                                "--fsm-examples", "5", "-rs", "-k", "exhaustive")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*every string up to length * agreed; the time limit (0.001 s, --fsm-time-limit) "
                                 "stopped the enumeration before it finished length *, of the 30 asked for*"])


def test_symbols_the_grammar_does_not_know_are_named(tmp_path, capsys):
    """A model imported with --alphabet '0 1' checked against a grammar over a, b: the counterexample is honest (a
    string of unknown symbols leaves the grammar) but the report now says why, and that no symbol is shared."""
    path = tmp_path / "drift.npz"
    save_model(drifting_tomita1(), path)
    grammar = tmp_path / "ab.toml"
    grammar.write_text('name = "ab"\nstart = "e"\naccept = ["e"]\ntransitions = [["e", "a", "e"], ["e", "b", "e"]]\n')
    assert main(["verify", str(path), "--grammar", str(grammar), "--max-len", "2", "--examples", "5"]) == 1
    out = capsys.readouterr().out
    assert "symbols of the model outside the alphabet of grammar 'ab': 0 1; a string holding one leaves the " \
           "grammar; the model and the grammar share no symbol" in out
    assert main(["verify", str(path), "--grammar", "tomita1", "--max-len", "2", "--examples", "5"]) == 1
    assert "outside" not in capsys.readouterr().out


def test_an_enumeration_too_long_for_the_time_limit_stops_and_says_how_far_it_got(tmp_path, capsys):
    """verify --max-len 40 on every one of parity's 2^41 - 1 strings (no merging) cannot finish: after
    --time-limit it reports the length up to which every string was run, and the JSON carries the figures."""
    argv = ["verify", "parity", "--max-len", "40", "--no-merge", "--time-limit", "0.5", "--examples", "5"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    line = next(s for s in out.splitlines() if s.startswith("exhaustive:"))
    reached = int(line.split("up to length ")[1].split()[0])
    assert line.endswith(f"; the time limit stopped it before it finished length {reached + 1}, of the 40 asked for "
                         "(--time-limit)")
    assert main([*argv, "--json"]) == 0
    covered = json.loads(capsys.readouterr().out)["covered"]
    assert covered["exhaustive_stopped"] == "time-limit" and covered["exhaustive_requested"] == 40
    reached = covered["exhaustive_max_len"]
    assert 3 <= reached < 40 and covered["prefixes"] == 2 ** (reached + 1) - 1
    assert covered["prefixes_run"] >= covered["prefixes"]


def test_a_whole_enumeration_is_not_marked_as_stopped(capsys):
    assert main(["verify", "parity", "--max-len", "6", "--examples", "5", "--json"]) == 0
    covered = json.loads(capsys.readouterr().out)["covered"]
    assert covered["exhaustive_stopped"] is None and covered["exhaustive_max_len"] == 6


@pytest.mark.parametrize("seconds", ["0", "-1", "nan"])
def test_a_time_limit_that_allows_no_work_is_refused(seconds, capsys):
    assert main(["verify", "parity", "--time-limit", seconds]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--time-limit must be a positive number of seconds" in err


def test_the_evidence_of_a_cut_enumeration_names_the_length_asked_for():
    """The phrase verify-many, PASS lines and extract --grammar verdicts use."""
    from fsm_lstm.verify import Report, evidence

    report = Report(True, None, ("accept",), (), "not applicable", False, max_len=7, prefixes=255, requested=40,
                    cut=True)
    assert evidence(report) == ("every string up to length 7 (255 prefixes checked; the time limit stopped the "
                                "enumeration before it finished length 8, of the 40 asked for)")
    whole = Report(True, None, ("accept",), (), "not applicable", False, max_len=7, prefixes=255, requested=7)
    assert evidence(whole) == "every string up to length 7 (255 prefixes checked)"


def test_verify_many_passes_its_time_limit_to_each_model(tmp_path, capsys):
    from fsm_lstm.verify_many import verify_many

    grammar = load_grammar("reber")  # its merged walk keeps about 100,000 distinct states by length 12
    reports = verify_many([compile_grammar(grammar)] * 2, grammar, max_len=40, examples=0, time_limit=0.2)
    assert all(r.cut and r.requested == 40 and r.max_len < 40 for r in reports)
    save_model(compile_grammar(grammar), tmp_path / "r.npz")
    assert main(["verify-many", str(tmp_path / "r.npz"), "--grammar", "reber", "--time-limit", "0"]) == 2
    assert "--time-limit must be a positive number of seconds" in capsys.readouterr().err


def test_state_heads_are_judged_only_against_the_grammar_the_model_was_compiled_from(tmp_path, capsys):
    """Two automata naming their states alike (q0, q1) are not the same automaton: a compiled DFA verified against
    an unrelated one FAILed on a word where both accept, because both named a state q1 (a trial). Here 'theirs'
    first differs from 'mine' (even a's) in language at 'ba', and in what its state names mean at ''."""
    (tmp_path / "mine.toml").write_text('name = "mine"\nstart = "q0"\naccept = ["q0"]\nalphabet = ["a", "b"]\n'
                                        'transitions = [["q0", "a", "q1"], ["q1", "a", "q0"], ["q0", "b", "q0"], '
                                        '["q1", "b", "q1"]]\n')
    (tmp_path / "theirs.toml").write_text('name = "theirs"\nstart = "q1"\naccept = ["q1", "q2"]\nalphabet = ["a", '
                                          '"b"]\ntransitions = [["q1", "a", "q0"], ["q0", "a", "q1"], ["q1", "b", '
                                          '"q2"], ["q0", "b", "q0"], ["q2", "a", "q2"], ["q2", "b", "q2"]]\n')
    assert main(["compile", str(tmp_path / "mine.toml"), "-o", str(tmp_path / "m.npz")]) == 0
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "m.npz"), "--grammar", str(tmp_path / "theirs.toml"), "--max-len", "4"]) == 1
    out = capsys.readouterr().out
    assert "FAIL: counterexample 'ba' (2 symbols)" in out  # not '' on a state head
    assert "state heads not judged: 'theirs' is not the grammar the model was compiled from ('mine')" in out
    assert main(["verify", str(tmp_path / "m.npz"), "--grammar", str(tmp_path / "mine.toml"), "--max-len", "4"]) == 0
    assert "state:q0 state:q1" in capsys.readouterr().out.splitlines()[0]  # its own grammar: judged


def test_verify_many_says_which_layer_found_a_counterexample(tmp_path, capsys):
    """Its one line leaves out the layers' lines, so it names the layer as verify's JSON does."""
    assert main(["verify", "examples/weak.npz", "--grammar", "reber", "--max-len", "6", "--json"]) == 1
    layer = json.loads(capsys.readouterr().out)["covered"]["counterexample_found_by"]
    good = str(tmp_path / "reber.npz")
    assert main(["compile", "reber", "-o", good]) == 0
    capsys.readouterr()
    assert main(["verify-many", "examples/weak.npz", good, "--grammar", "reber", "--max-len", "6"]) == 1
    weak, reber = capsys.readouterr().out.splitlines()
    named = {"hypothesis": "hypothesis search"}.get(layer, layer)  # as verify's notes name it
    assert weak.startswith("examples/weak.npz: FAIL") and f"(found by the {named})" in weak, weak
    assert reber.startswith(f"{good}: PASS") and "found by" not in reber, reber


def test_a_network_without_a_head_for_one_of_the_machines_outputs_is_never_proven(tmp_path, capsys):
    """A network with no out:v head never gives the output v. verify, certify and extract --grammar judged only
    the heads it has and called it proven (a trial's torch network without out:z against a Mealy machine that
    says z after 'c'). Here mqtt compiled, its out:PUBACK_PUBLISH head dropped: the counterexample must be the
    shortest input after which the machine's own table gives that output (found here by breadth-first search)."""
    import dataclasses
    from collections import deque

    from fsm_lstm.compiler import compile_grammar
    from fsm_lstm.grammar_files import load_grammar
    from fsm_lstm.model import save_model

    g = load_grammar("grammars/machines/mqtt.toml")
    full = compile_grammar(g)
    rows = [k for k, h in enumerate(full.heads) if h != "out:PUBACK_PUBLISH"]
    model = dataclasses.replace(full, heads=tuple(full.heads[k] for k in rows), head_weight=full.head_weight[rows],
                                head_bias=full.head_bias[rows], extra={})  # a network, not a compiled grammar
    save_model(model, tmp_path / "m.npz")
    said = {(p, a): (q, o) for (p, a, q), o in g.edge_outputs}
    seen, todo, shortest = {g.start}, deque([(g.start, ())]), None
    while todo and shortest is None:
        state, word = todo.popleft()
        for a in g.alphabet:
            q, o = said[state, a]
            if o == "PUBACK_PUBLISH":
                shortest = word + (a,)
                break
            if q not in seen:
                seen.add(q)
                todo.append((q, word + (a,)))
    assert shortest is not None
    m, dot = str(tmp_path / "m.npz"), "grammars/machines/mqtt.toml"
    assert main(["verify", m, "--grammar", dot, "--max-len", "4", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["counterexample"]["string"].split() == list(shortest), report["counterexample"]
    assert report["counterexample"]["head"] == "out:PUBACK_PUBLISH" and report["counterexample"]["expected"] is True
    assert any("PUBACK_PUBLISH" in note for note in report["notes"]), report["notes"]
    assert main(["certify", m, "--grammar", dot]) == 1
    assert "proven" not in capsys.readouterr().out.replace("not proven", "")
    assert main(["extract", m, "--grammar", dot, "-o", str(tmp_path / "x.toml")]) == 1
    assert "the network disagrees with mqtt" in capsys.readouterr().out


def test_out_heads_named_after_no_output_of_the_machine_are_pointed_out():
    """Heads imported as out:X, out:Y where the machine says x, y: every output is missing, and the note says the
    heads name none of them (a trial's --heads in the wrong case)."""
    import dataclasses

    from fsm_lstm.compiler import compile_grammar
    from fsm_lstm.grammar_files import load_grammar
    from fsm_lstm.reading import Reading

    g = load_grammar("grammars/machines/mqtt.toml")
    full = compile_grammar(g)
    shouting = dataclasses.replace(full, heads=tuple(h.lower() if h.startswith("out:") else h for h in full.heads))
    notes = alphabet_notes(g, shouting, Reading())
    assert len(notes) == 1 and "name no output of the machine" in notes[0], notes
    assert all(v in notes[0] for v in g.output_values) and "out:connack" not in notes[0]
    assert alphabet_notes(g, full, Reading()) == []


def test_the_hypothesis_search_stops_at_its_deadline_and_says_so(monkeypatch):
    """On a 2048-unit GRU the 200 examples took 25-70 s past --time-limit. Past its deadline no example runs on
    the network; the report counts the examples run and says the time limit stopped it."""
    import importlib

    from tests.ticking_clock import TickingClock

    verify_module = importlib.import_module("fsm_lstm.verify")
    model = compile_grammar(load_grammar("reber"))
    net, ref = Network(model, Reading()), reference_for(model, load_grammar("reber"))
    strategy = grammar_strings(load_grammar("reber"))
    found, tried, _, cut = verify_module.search(net, ref, strategy, 200, seed=0)
    assert found is None and tried > 50 and not cut
    monkeypatch.setattr(verify_module, "time", TickingClock())  # one tick per example: the deadline after 5
    found, tried, _, cut = verify_module.search(net, ref, strategy, 200, seed=0, deadline=5.5)
    assert found is None and tried == 5 and cut
    monkeypatch.undo()
    report = verify(model, max_len=2, examples=200, time_limit=1e-9)
    assert report.examples_cut and report.examples < 200 and report.passed
    assert "the time limit stopped it before all 200 examples asked for had run (--time-limit, --examples)" in \
        "\n".join(describe(report, model.alphabet))
    assert report.to_dict(model.alphabet)["covered"]["examples_stopped"] == "time-limit"


def test_a_shorter_region_proof_counterexample_names_the_searchs_own(tmp_path, capsys, monkeypatch):
    """When the hypothesis search found a failure and the region proof a shorter one, the note said the region
    proof's lay "beyond the strings enumerated and searched", which the search's own contradicted (trial 101)."""
    import importlib

    verify_module = importlib.import_module("fsm_lstm.verify")
    assert main(["import", "examples/mqtt_ce.safetensors", "-o", str(tmp_path / "ce.npz"), "--alphabet",
                 "connect disconnect subscribe unsubscribe publish", "--heads", "out:CONCLOSED out:CONNACK out:PUBACK "
                 "out:PUBACK_PUBLISH out:SUBACK out:UNSUBACK", "--argmax"]) == 0
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "ce.npz"), "--grammar", "mqtt"]) == 1
    out = capsys.readouterr().out
    found = re.search(r"was found by the region proof; the hypothesis search found a longer one \((\d+) symbols\)",
                      out)
    assert found and int(found.group(1)) > 30 and "beyond the strings" not in out
    monkeypatch.setattr(verify_module, "search", lambda *a, **k: (None, 7, 100, False))  # a search that found none
    assert main(["verify", str(tmp_path / "ce.npz"), "--grammar", "mqtt"]) == 1
    assert "was found by the region proof, beyond the strings enumerated and searched" in capsys.readouterr().out


def test_the_hypothesis_search_counts_the_distinct_strings_it_ran(monkeypatch):
    """On one symbol hypothesis repeats many strings: "200 searched strings" were 107 distinct ones (a trial).
    Each string now runs once, and the count is of the strings run."""
    import importlib

    verify_module = importlib.import_module("fsm_lstm.verify")
    ran: list[tuple[str, ...]] = []
    original = verify_module.check_word
    monkeypatch.setattr(verify_module, "check_word",
                        lambda net, ref, word: ran.append(word) or original(net, ref, word))
    ones = Grammar(name="ones", start="q0", accept=frozenset({"q1"}), alphabet=("1",), states=("q0", "q1"),
                   transitions=(("q0", "1", "q1"), ("q1", "1", "q1")))
    report = verify(compile_grammar(ones), ones, max_len=3, examples=200)
    assert report.passed and len(ran) == len(set(ran)) == report.examples
    assert 0 < report.examples < 200 and report.longest == max(map(len, ran))


def test_a_search_with_nothing_longer_says_so_and_still_counts_as_run():
    """A review: with nothing longer than the enumeration among the examples, the line said "0 examples ...,
    longest 12 symbols" (the enumeration's length) and the JSON method left the search out though it ran."""
    grammar = load_grammar("tomita1")
    report = verify(compile_grammar(grammar), grammar, max_len=12, examples=3)
    assert report.examples == 0 and report.examples_asked == 3 and not report.examples_cut
    assert "hypothesis: none of its examples was longer than length 12" in describe(report, grammar.alphabet)
    assert report.to_dict()["covered"]["method"] == "certificate+exhaustive+hypothesis"


def test_the_hypothesis_search_runs_and_counts_only_strings_longer_than_the_enumeration(monkeypatch):
    """"searched strings" counted words the enumeration had already run (92 of 183 on one model, trial 105): the
    search now runs none of up to --max-len symbols, and the report says its strings are the longer ones."""
    import importlib

    verify_module = importlib.import_module("fsm_lstm.verify")
    ran: list[tuple[str, ...]] = []
    original = verify_module.check_word
    monkeypatch.setattr(verify_module, "check_word",
                        lambda net, ref, word: ran.append(word) or original(net, ref, word))
    grammar = load_grammar("tomita3")
    report = verify(compile_grammar(grammar), grammar, max_len=6, examples=100)
    assert report.passed and ran and min(map(len, ran)) > 6 and report.examples == len(set(ran))
    lines = describe(report, grammar.alphabet)
    assert f"hypothesis: {report.examples} examples longer than length 6 (pumped loops" in "\n".join(lines)
    assert f"and on {report.examples} longer searched strings (longest" in evidence(report)


def test_progress_says_the_region_proof_is_running_before_it_runs():
    """A terminal showed an empty "verifying" bar for 40 s while the region proof and its search ran (a trial)."""
    said: list[str] = []
    trained = dataclasses.replace(compile_grammar(load_grammar("tomita1")), extra={})  # no grammar: region proof
    verify(trained, load_grammar("tomita1"), max_len=2, examples=0, progress=said.append)
    assert said[0] == "certificate: trying the region proof (at most 5 s, and as much again to search after a failure)"
    assert said[1] == "certificate: proven for every length (region proof, 3 regions)"
    said.clear()
    verify(compile_grammar(load_grammar("tomita1")), load_grammar("tomita1"), max_len=2, examples=0,
           progress=said.append)
    assert said[0] == "certificate: trying" and said[1].startswith("certificate: proven")


def test_a_region_proof_out_of_time_inside_verify_names_verifys_time_for_it(monkeypatch):
    """"within the time limit (5 s" read as the user's --time-limit 10 (a trial); inside verify the proof has
    verify's own time."""
    import importlib

    monkeypatch.setattr(importlib.import_module("fsm_lstm.verify"), "REGION_TIME_LIMIT", 1e-6)
    trained = dataclasses.replace(compile_grammar(load_grammar("tomita1")), extra={})
    report = verify(trained, load_grammar("tomita1"), max_len=2, examples=0)
    assert "region proof: not proven: the regions did not close within verify's time for it (1e-06 s, " \
        in report.certificate


def test_a_region_proof_out_of_memory_leaves_the_rest_of_verify_and_the_plugin_to_run(monkeypatch, pytester, tmp_path):
    """Under about 600 MB of address space, verify's region proof of a GRU 512 x 2 ran out of memory and verify
    stopped there, with a hint whose knobs did not reach it (trial 105). The proof is one layer: it is reported
    not proven, and the enumeration, with its own budget, still finds the network's error at length 60; in the
    plugin the certificate item is skipped, not an error."""
    import importlib

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(importlib.import_module("fsm_lstm.verify"), "prove_regions", exhausted)
    report = verify(drifting_tomita1(), load_grammar("tomita1"), max_len=61, examples=0)
    assert report.certificate == "not applicable (the model carries no compiled grammar); region proof: not " \
        "proven: it ran out of memory (`fsm-lstm certify MODEL --grammar REF --max-regions N` runs it alone, in at " \
        "most N regions)"
    assert not report.proven and not report.passed and report.counterexample.word == ("1",) * 60
    monkeypatch.setattr(importlib.import_module("fsm_lstm.pytest_plugin"), "prove_regions", exhausted)
    path = tmp_path / "drift.npz"
    save_model(drifting_tomita1(), path)
    result = pytester.runpytest_inprocess("--fsm-grammar", "tomita1", "--fsm-model", str(path), "--fsm-max-len", "2",
                                          "--fsm-examples", "3", "-rs", "-k", "certificate")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*region proof: not proven: it ran out of memory*"])


def test_pytest_plugin_options_in_an_ini_file_hold_from_any_folder(pytester, monkeypatch):
    """With --fsm-grammar=grammars/x.toml in the ini file's addopts, a run from tests/ stopped at "no such file"
    (a trial): a relative path that names nothing from the current folder is read from the ini file's."""
    pytester.makeini("[pytest]\naddopts = --fsm-grammar=grammars/t1.toml --fsm-max-len=2 --fsm-examples=3\n")
    (pytester.path / "grammars").mkdir()
    (pytester.path / "grammars" / "t1.toml").write_text(TOMITA1.read_text())
    (pytester.path / "tests").mkdir()
    monkeypatch.chdir(pytester.path / "tests")
    result = pytester.runpytest_inprocess("-q")
    result.assert_outcomes(passed=5)


def test_pytest_plugin_says_when_a_path_after_a_space_moved_pytests_rootdir(pytester, tmp_path_factory):
    """pytest takes its rootdir before plugins load, from every argument naming a file, so `--fsm-grammar
    /elsewhere/x.toml` ran with another project's ini file and wrote its cache (a trial): a warning says so and
    names the `=` form, which keeps the folder run in."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "pytest.ini").write_text("[pytest]\n")
    (elsewhere / "t1.toml").write_text(TOMITA1.read_text())
    options = ["--fsm-max-len", "2", "--fsm-examples", "3", "-p", "no:cacheprovider"]
    spaced = pytester.runpytest_inprocess("--fsm-grammar", str(elsewhere / "t1.toml"), *options)
    spaced.assert_outcomes(passed=5, warnings=1)
    spaced.stdout.fnmatch_lines([f"*pytest chose rootdir {elsewhere} with ini file {elsewhere}/pytest.ini because "
                                 f"of `--fsm-grammar {elsewhere}/t1.toml`; without it, it would choose "
                                 f"{pytester.path} with no ini file *; write --fsm-grammar={elsewhere}/t1.toml to keep "
                                 "those*"])
    joined = pytester.runpytest_inprocess(f"--fsm-grammar={elsewhere / 't1.toml'}", *options)
    joined.assert_outcomes(passed=5, warnings=0)
    assert f"rootdir: {pytester.path}" in joined.stdout.str()
    (pytester.path / "tests").mkdir()  # a test path under the rootdir the grammar's path gives: nothing moved
    (elsewhere / "test_here.py").write_text("def test_here():\n    pass\n")
    beside = pytester.runpytest_inprocess(str(elsewhere), "--fsm-grammar", str(elsewhere / "t1.toml"), *options)
    beside.assert_outcomes(passed=6, warnings=0)


def test_a_report_prints_as_verify_prints_it_and_knows_its_alphabet(tmp_path, capsys):
    """str(report) was the dataclass's repr: a Python user had to find describe() in the source (a trial)."""
    from fsm_lstm.cli import main

    save_model(leaky_reber(2), tmp_path / "leaky2.npz")
    report = verify(leaky_reber(2), load_grammar("reber"), max_len=6, examples=0)
    assert main(["verify", str(tmp_path / "leaky2.npz"), "--max-len", "6", "--examples", "0"]) == 1
    assert str(report) == capsys.readouterr().out.strip()
    word = report.to_dict()["counterexample"]["string"]
    assert f"FAIL: counterexample {word!r}" in str(report) and report.to_dict() == report.to_dict(report.alphabet)
