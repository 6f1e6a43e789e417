"""Verdicts speak of the network: proven only with a certificate, otherwise what was run, or a counterexample
that the network itself gets wrong (checked here by an independent torch run and the set-based oracle)."""

from __future__ import annotations

import dataclasses
import itertools
import json
from types import SimpleNamespace

import numpy as np
import openpyxl
import pytest
import torch
from hypothesis import given, settings

from fsm_lstm.cli import main
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.extract import extract
from fsm_lstm.grammar import Grammar
from fsm_lstm.grammar_files import grammar_text, load_grammar
from fsm_lstm.model import Model, save_model
from fsm_lstm.reading import Reading
from fsm_lstm.strategies import every_kind
from fsm_lstm.verify import judge, readable_part, verify
from tests.oracle import accepts
from tests.test_verify import leaky_reber


def torch_accept_logits(model: Model, word: tuple[str, ...]) -> np.ndarray:
    """The accept logit after every prefix, by torch.nn.LSTM loaded with the model's arrays (independent of the
    numpy runtime)."""
    layer = model.layers[0]
    lstm = torch.nn.LSTM(len(model.alphabet), layer.hidden_size)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(lstm, f"{name}_l0").copy_(torch.from_numpy(getattr(layer, name)))
        x = torch.nn.functional.one_hot(torch.tensor([model.alphabet.index(a) for a in word], dtype=torch.long),
                                        len(model.alphabet)).float()[:, None, :]
        out = lstm(x)[0][:, 0] if word else torch.zeros(0, layer.hidden_size)
        h = torch.cat([torch.zeros(1, layer.hidden_size), out]).numpy()
    k = model.heads.index("accept")
    return h @ model.head_weight[k] + model.head_bias[k]


def blind(model: Model) -> Model:
    return dataclasses.replace(model, units=(), extra={})


def wrong_only_on_the_empty_word() -> tuple[Model, Grammar]:
    """The network of 'a*' (the empty word accepted), judged against 'a+' with a fresh start state: the two
    differ on the empty word alone."""
    g = Grammar(name="astar", start="s", accept=frozenset({"s"}), alphabet=("a", "b"), states=("s",),
                transitions=(("s", "a", "s"),))
    plus = Grammar(name="aplus", start="p", accept=frozenset({"s"}), alphabet=("a", "b"), states=("p", "s"),
                   transitions=(("p", "a", "s"), ("s", "a", "s")))
    return blind(compile_grammar(g)), plus


def test_a_model_wrong_only_at_t0_is_never_called_equivalent(tmp_path, capsys):
    model, reference = wrong_only_on_the_empty_word()
    verdict = judge(model, extract(model).grammar, reference)
    assert verdict.status == "fails" and verdict.counterexample.word == () and verdict.counterexample.step == 0
    assert (torch_accept_logits(model, ())[0] > 0) != accepts(reference, ())
    path = tmp_path / "m.npz"
    save_model(model, path)
    (tmp_path / "aplus.toml").write_text('name = "aplus"\nstart = "p"\naccept = ["s"]\nalphabet = ["a", "b"]\n'
                                        'transitions = [["p", "a", "s"], ["s", "a", "s"]]\n')
    code = main(["extract", str(path), "--grammar", str(tmp_path / "aplus.toml"), "-o", str(tmp_path / "x.toml")])
    out = capsys.readouterr().out
    assert code == 1 and "disagrees with aplus on '' (0 symbols), confirmed on the network" in out
    assert "equivalent" not in out


def test_a_pass_without_a_proof_says_what_was_run_in_the_issues_words():
    """'agrees on every string up to length N and on M searched strings' (it read 'no disagreement on every
    string', which says the opposite of what is meant)."""
    from fsm_lstm.verify import Report, describe
    report = Report(passed=True, counterexample=None, checked=("accept",), skipped=(), certificate="region proof",
                    proven=False, max_len=5, prefixes=63, examples=200, longest=40)
    assert describe(report, ("0", "1"))[-1] == ("PASS: agrees on every string up to length 5 (63 prefixes checked) "
                                                "and on 200 longer searched strings (longest 40 symbols); not "
                                                "proven for "
                                                "every length")


def test_a_model_wrong_only_beyond_length_40_is_never_called_proven(tmp_path, capsys):
    model = leaky_reber(45)
    grammar = load_grammar("reber")
    word = tuple("BT" + "S" * 45)
    assert (torch_accept_logits(model, word)[-1] > 0) != accepts(grammar, word)  # the leak is real
    assert all((torch_accept_logits(model, tuple("BT" + "S" * k))[-1] > 0) == accepts(grammar, tuple("BT" + "S" * k))
               for k in range(40))
    verdict = judge(model, None, grammar, examples=100)
    assert verdict.status != "proven" and not verdict.report.proven
    if verdict.status == "agrees":
        assert "not proven for every length" in verdict.text
    else:
        c = verdict.counterexample
        assert (torch_accept_logits(model, c.word)[-1] > 0) != accepts(grammar, c.word)
    path = tmp_path / "leaky.npz"
    save_model(model, path)
    main(["extract", str(path), "--grammar", "reber", "-o", str(tmp_path / "x.toml"), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"]["status"] != "proven"
    assert report["verdict"]["evidence"]["proven_all_lengths"] is False
    assert report["verdict"]["evidence"]["exhaustive_max_len"] >= 5


def test_random_models_get_counterexamples_confirmed_on_the_network():
    torch.manual_seed(3)
    grammar = load_grammar("tomita4")
    lstm, head = torch.nn.LSTM(2, 6), torch.nn.Linear(6, 1)
    from fsm_lstm.model import Layer
    layer = Layer(*(getattr(lstm, f"{n}_l0").detach().numpy().copy()
                    for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
    model = Model((layer,), head.weight.detach().numpy().copy(), head.bias.detach().numpy().copy(),
                  grammar.alphabet, ("accept",))
    verdict = judge(model, extract(model).grammar, grammar, examples=50)
    assert verdict.status == "fails"
    c = verdict.counterexample
    assert (torch_accept_logits(model, c.word)[-1] > 0) != accepts(grammar, c.word)


def test_leaky_model_counterexample_is_confirmed_and_shortest(capsys, tmp_path):
    model = leaky_reber(5)
    grammar = load_grammar("reber")
    verdict = judge(model, extract(model).grammar, grammar, examples=50)
    assert verdict.status == "fails"
    c = verdict.counterexample
    assert (torch_accept_logits(model, c.word)[-1] > 0) != accepts(grammar, c.word)
    assert c.word == tuple("BT" + "S" * 5)


def test_poor_fidelity_exits_1_and_still_writes_its_best_automaton(tmp_path, capsys):
    torch.manual_seed(0)
    gru, head = torch.nn.GRU(3, 64), torch.nn.Linear(64, 1)
    from fsm_lstm.model import Layer
    layer = Layer(*(getattr(gru, f"{n}_l0").detach().numpy().copy() * 3
                    for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
    model = Model((layer,), head.weight.detach().numpy().copy() * 5, head.bias.detach().numpy().copy(),
                  ("a", "b", "c"), ("accept",), cell="gru")
    path = tmp_path / "chaos.npz"
    save_model(model, path)
    code = main(["extract", str(path), "-o", str(tmp_path / "x.toml"), "--max-states", "2", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["below_min_fidelity"] and report["fidelity"] < 0.99
    assert report["stopped"] == "max-states" and (tmp_path / "x.toml").exists()
    code = main(["extract", str(path), "-o", str(tmp_path / "y.toml"), "--max-states", "2"])
    out = capsys.readouterr().out
    assert code == 1 and "POOR FIDELITY" in out and out.count("(may help: a --max-states above 2)") == 1
    # the line names the bound and the size of what was kept, which may be smaller than the bound
    written = f"{report['states']} state" + ("s" if report["states"] != 1 else "")
    assert (f"reached --max-states 2 before it was done: the automaton written ({written}) comes from the smallest "
            "hypothesis (") in out
    assert ("whose agreement with the network on the validation words is within 0.25 points (or 2 words, where that "
            "is more) of the best one's (and "
            "not below --min-fidelity, when the best reaches it)") in out
    code = main(["extract", str(path), "-o", str(tmp_path / "z.toml"), "--patience", "1", "--max-states", "400"])
    out = capsys.readouterr().out
    assert code == 1 and "stopped on a plateau" in out and "(may help: a --patience above 1)" in out


def test_a_poor_clustering_points_to_lstar_first():
    """A trial's 24-unit Keras LSTM: clustering wrote 162 states at 94 % fidelity and its hint named only
    --words; L* found the exact 6-state automaton in 0.15 s."""
    from fsm_lstm.cli import _more_work
    args = SimpleNamespace(time_limit=60.0, max_states=500, patience=50, words=None)
    cluster, lstar = (SimpleNamespace(method=m, stopped=None) for m in ("cluster", "lstar"))
    assert _more_work(cluster, args) == (" (may help: --method lstar; typical words with --words, where the search "
                                         "and the fidelity look)")
    assert _more_work(SimpleNamespace(method="cluster", stopped="max-states"), args) == (
        " (may help: --method lstar; a --max-states above 500)")
    assert "--method lstar" not in _more_work(lstar, args)
    assert _more_work(lstar, SimpleNamespace(**{**vars(args), "words": "w.txt"})) == ""


def marked(g: Grammar, start: str = "<s>", end: str = "</s>") -> Grammar:
    """The language START w END for w in L(g)."""
    edges = [("S", start, g.start), *g.transitions, *((q, end, "F") for q in g.accept)]
    return Grammar(name=g.name, start="S", accept=frozenset({"F"}), alphabet=(*g.alphabet, start, end),
                   states=("S", *g.states, "F"), transitions=tuple(edges))


@pytest.mark.parametrize("name", ["tomita3", "tomita5", "parity"])
def test_word_level_models_extract_over_the_inner_alphabet_and_verify(name, tmp_path, capsys):
    g = load_grammar(name)
    model = dataclasses.replace(blind(compile_grammar(marked(g))),
                                extra={"final_only": True, "start_marker": "<s>", "end_marker": "</s>"})
    result = extract(model)
    from fsm_lstm.automata import equivalent, minimise
    assert equivalent(result.grammar, g) and len(result.grammar.states) == len(minimise(g).states)
    assert result.fidelity == 1.0 and result.grammar.alphabet == g.alphabet
    verdict = judge(model, result.grammar, g)  # the compiled weights, blind, are proven by the region proof
    assert verdict.status == "proven" and verdict.report.max_len >= 6 and verdict.report.counterexample is None
    assert "proven for every length (region proof, " in verdict.text
    path = tmp_path / "w.npz"
    save_model(model, path)
    words = tmp_path / "words.txt"
    every = [w for n in range(8) for w in itertools.product("01", repeat=n)]  # 255 distinct words: 77 held out
    words.write_text("".join(f"<s> {' '.join(w)} </s>\n" for w in every))
    assert main(["extract", str(path), "--grammar", name, "--words", str(words), "-o", str(tmp_path / "x.toml")]) == 0
    out = capsys.readouterr().out
    assert "held-out words (the --words held out)" in out and "accept read after whole words" in out
    assert main(["run", str(path), "1 1 0", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["read"] == "<s> 1 1 0 </s>" and record["accept"] == accepts(g, ("1", "1", "0"))
    other = "tomita1" if name != "tomita1" else "tomita2"
    assert main(["verify", str(path), "--grammar", other, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    string = report["counterexample"]["string"]
    word = tuple(string)  # typed as `run` and the Run sheet read it: one-character symbols, no spaces, no markers
    assert accepts(g, word) != accepts(load_grammar(other), word)
    assert main(["run", str(path), string, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accept"] == accepts(g, word)
    # the JSON counts both ways: the word's symbols, and the network's steps with the two markers
    assert report["counterexample"]["step"] == len(word) and report["counterexample"]["network_step"] == len(word) + 2
    assert main(["extract", str(path), "--grammar", other, "-o", str(tmp_path / "y.toml"), "--json"]) == 1
    verdict = json.loads(capsys.readouterr().out)["verdict"]
    found = verdict["counterexample"]
    assert verdict["status"] == "fails"
    assert found["network_step"] == found["step"] + 2 == len(found["string"]) + 2 and " " not in found["string"]
    # the command line and the workbook's Run sheet name the same step: the network's, markers included
    assert main(["verify", str(path), "--grammar", other, "--report", str(tmp_path / "r.xlsx")]) == 1
    step = len(word) + 2
    out = capsys.readouterr().out
    assert f"  after the whole word (the network's step {step}, markers included): head accept" in out
    assert f"FAIL: counterexample {string!r}" in out and f"(input {string!r}, the counterexample)" in out
    run_sheet = openpyxl.load_workbook(tmp_path / "r.xlsx", data_only=True)["Run"]
    said = [c.value for row in run_sheet.iter_rows() for c in row if "they part" in str(c.value)]
    assert len(said) == 1 and said[0].startswith(f"they part at step {step} (symbol </s>): "), said


def test_unitless_and_two_layer_model_files_run_verify_and_extract(tmp_path, capsys):
    from fsm_lstm.train import TrainConfig, train
    g = load_grammar("tomita1")
    model, _ = train(g, TrainConfig(task="accept", hidden=4, layers=2, samples=300, epochs=3))
    arrays = dict(model.arrays())
    for units in (None, [f"l{k} u{u}" for k in range(2) for u in range(4)]):
        meta = {"alphabet": list(model.alphabet), "heads": list(model.heads), "cell": "lstm"}
        if units:
            meta["units"] = units
        np.savez(tmp_path / "m.npz", **arrays, meta=np.array(json.dumps(meta)))
        assert main(["run", str(tmp_path / "m.npz"), "0101"]) == 0
        assert main(["verify", str(tmp_path / "m.npz"), "--grammar", "tomita1", "--max-len", "4",
                     "--examples", "5"]) in (0, 1)
        assert main(["extract", str(tmp_path / "m.npz"), "-o", str(tmp_path / "x.toml"), "--min-fidelity", "0"]) == 0
    capsys.readouterr()
    meta["units"] = ["x"] * 5
    np.savez(tmp_path / "m.npz", **arrays, meta=np.array(json.dumps(meta)))
    assert main(["run", str(tmp_path / "m.npz"), "0101"]) == 2
    assert "give 4 for the last layer, or 8 for every layer (4 + 4)" in capsys.readouterr().err


def test_pytest_plugin_never_certifies_another_grammar(pytester, tmp_path):
    path = tmp_path / "t3.npz"
    save_model(compile_grammar(load_grammar("tomita3")), path)
    result = pytester.runpytest("--fsm-grammar", "tomita4", "--fsm-model", str(path), "--fsm-max-len", "3",
                                "--fsm-examples", "5", "-rs", "-q")
    result.stdout.fnmatch_lines(["*not applicable*compiled from 'tomita3'*"])
    assert "certificate PASSED" not in result.stdout.str()


def test_a_model_checked_against_its_own_non_minimal_grammar_file_is_proven(tmp_path, capsys):
    """b and a reach the same futures, so the compiler merges them; the file itself is still the grammar the model
    was compiled from, and its certificate speaks for it: verify, certify and extract must all say proven."""
    grammar = tmp_path / "eqs.toml"
    grammar.write_text('name = "eqs"\nstart = "a"\naccept = ["c"]\ntransitions = [["a", "x", "b"], ["a", "y", "c"], '
                       '["b", "x", "b"], ["b", "y", "c"], ["c", "x", "c"], ["c", "y", "c"]]\n')
    model = tmp_path / "eqs.npz"
    assert main(["compile", str(grammar), "-o", str(model)]) == 0
    capsys.readouterr()
    assert main(["verify", str(model), "--grammar", str(grammar), "--max-len", "3"]) == 0
    out = capsys.readouterr().out
    assert "PASS: proven for every length" in out and "not proven" not in out, out
    assert main(["certify", str(model), "--grammar", str(grammar)]) == 0
    assert "note:" not in capsys.readouterr().out


def counter_lstm(step: float = 0.002, limit: float = 600.5) -> Model:
    """One LSTM unit counting a's (i, f, o saturated at 1, g = step per 'a', so c = step * #a); the accept head
    is tanh(step * limit) - h: right for 600 a's, wrong from 601 on, with 0 as the exact threshold between."""
    from fsm_lstm.model import Layer

    w_ih = np.zeros((4, 2), np.float32)
    w_ih[2, 0] = np.arctanh(step)
    layer = Layer(w_ih, np.zeros((4, 1), np.float32), np.array([20, 20, 0, 20], np.float32), np.zeros(4, np.float32))
    return Model(layers=(layer,), head_weight=np.array([[-1.0]], np.float32),
                 head_bias=np.array([np.tanh(step * limit)], np.float32), alphabet=("a", "b"), heads=("accept",))


def test_a_counterexample_the_region_proof_found_is_never_reported_as_a_pass(tmp_path, capsys):
    """Before, verify printed the region proof's confirmed counterexample in its certificate line, then 'PASS'
    and exit 0 when neither the enumeration nor the search reached it."""
    model = counter_lstm()
    save_model(model, tmp_path / "m.npz")
    everything = Grammar(name="all", start="q", accept=frozenset({"q"}), alphabet=("a", "b"), states=("q",),
                         transitions=(("q", "a", "q"), ("q", "b", "q")))
    (tmp_path / "all.toml").write_text('name = "all"\nregex = "(a|b)*"\nalphabet = ["a", "b"]\n')
    code = main(["verify", str(tmp_path / "m.npz"), "--grammar", str(tmp_path / "all.toml"), "--max-len", "3",
                 "--examples", "0", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and not report["passed"]
    c = report["counterexample"]
    assert c["string"] == "a" * 601 and c["head"] == "accept" and c["expected"] is True
    logits = torch_accept_logits(model, ("a",) * 601)  # torch agrees: right up to 600 a's, wrong at 601
    assert (logits[:601] > 0).all() and logits[601] < 0
    verdict = judge(model, None, everything, examples=0, max_len=3)
    assert verdict.status == "fails" and len(verdict.counterexample.word) == 601


def test_a_grammar_symbol_the_network_cannot_read_is_named_and_never_taken_for_a_difference(tmp_path, capsys):
    """The network of 'a*' over {a, b} judged against '(a|c)*' over {a, b, c}: it cannot read c, so strings
    holding c were not judged. The verdict says so (it said "proven for every length" alone), and the extracted
    automaton, which has no c, is not said to differ from the grammar "at 'c', where the network is right"."""
    model, _ = wrong_only_on_the_empty_word()
    wider = Grammar(name="astar_abc", start="s", accept=frozenset({"s"}), alphabet=("a", "b", "c"), states=("s",),
                    transitions=(("s", "a", "s"), ("s", "c", "s")))
    assert accepts(wider, ("c",))  # and an automaton over a and b cannot
    verdict = judge(model, extract(model).grammar, wider)
    assert verdict.status in ("proven", "agrees") and verdict.automaton_difference is None
    unread = "symbols of grammar 'astar_abc' that the model cannot read: c; the verdict covers only strings over " \
             "the model's alphabet"
    assert unread in verdict.report.notes
    as_json = verdict.to_dict(model.alphabet)
    assert as_json["evidence"]["grammar_symbols_not_judged"] == ["c"] and unread in as_json["notes"]
    path, grammar = tmp_path / "m.npz", tmp_path / "g.toml"
    save_model(model, path)
    grammar.write_text('name = "astar_abc"\nstart = "s"\naccept = ["s"]\nalphabet = ["a", "b", "c"]\n'
                       'states = ["s"]\ntransitions = [["s", "a", "s"], ["s", "c", "s"]]\n')
    assert main(["verify", str(path), "--grammar", str(grammar), "--max-len", "4", "--examples", "10"]) == 0
    assert unread in capsys.readouterr().out
    assert main(["extract", str(path), "--grammar", str(grammar), "-o", str(tmp_path / "x.toml")]) == 0
    assert unread in capsys.readouterr().out  # extract --grammar prints verify's notes under its verdict


def test_an_imported_model_wrong_at_t0_is_told_why_by_extract_grammar_as_by_verify():
    """Before any symbol an imported network's heads are its head biases, which its framework never computes;
    verify said so, extract --grammar's verdict did not."""
    model, reference = wrong_only_on_the_empty_word()
    imported = dataclasses.replace(model, extra={"imported": {"format": "torch"}})
    verdict = judge(imported, extract(imported).grammar, reference)
    assert verdict.status == "fails" and verdict.counterexample.word == ()
    assert "(t = 0: before any symbol the heads are the head biases on the zero state, an answer torch never " \
           "computes" in verdict.text
    assert "t = 0" not in judge(model, extract(model).grammar, reference).text  # compiled: it means what it says


def test_a_next_only_network_is_compared_on_the_grammar_closed_before_its_unread_symbols_are_dropped():
    """The network of 'a' with next heads only, judged against 'a c': the extracted automaton's prefixes {'', a}
    are the grammar's over the network's symbols. Dropping c before the prefix closure trimmed the state after
    a, and the automaton was said to differ 'at a, where the network is right' (the review's finding)."""
    just_a = Grammar(name="just_a", start="s", accept=frozenset({"f"}), alphabet=("a", "b"), states=("s", "f"),
                     transitions=(("s", "a", "f"),))
    compiled = compile_grammar(just_a)
    keep = [k for k, h in enumerate(compiled.heads) if h.startswith("next:")]
    model = dataclasses.replace(compiled, head_weight=compiled.head_weight[keep], head_bias=compiled.head_bias[keep],
                                heads=tuple(compiled.heads[k] for k in keep), extra={})
    a_then_c = Grammar(name="a_then_c", start="s", accept=frozenset({"f"}), alphabet=("a", "b", "c"),
                       states=("s", "q", "f"), transitions=(("s", "a", "q"), ("q", "c", "f")))
    verdict = judge(model, extract(model).grammar, a_then_c, max_len=4, examples=20)
    assert verdict.status == "proven" and verdict.automaton_difference is None
    assert "where the network is right" not in verdict.text


def test_only_strings_the_network_can_read_are_searched_and_counted():
    """The searched strings of a grammar with symbols the network cannot read were counted though the network
    never ran them (200 "searched strings", longest 3,534 symbols, of which 35 ran)."""
    empty = Grammar(name="empty", start="s", accept=frozenset({"s"}), alphabet=("a", "b"), states=("s",),
                    transitions=())
    only_c = Grammar(name="cstar", start="s", accept=frozenset({"s"}), alphabet=("c",), states=("s",),
                     transitions=(("s", "c", "s"),))
    report = verify(compile_grammar(empty), only_c, max_len=3, examples=50)  # they agree on every string of a, b
    assert report.counterexample is None and report.examples == 0  # c* cannot be run
    model, _ = wrong_only_on_the_empty_word()
    wider = Grammar(name="astar_abc", start="s", accept=frozenset({"s"}), alphabet=("a", "b", "c"), states=("s",),
                    transitions=(("s", "a", "s"), ("s", "c", "s")))
    part = readable_part(wider, model, Reading())
    assert part is not None and part.alphabet == ("a", "b") and part.transitions == (("s", "a", "s"),)
    seen = []

    @given(every_kind(part))
    @settings(max_examples=100, deadline=None)
    def drawn(word):
        seen.append(word)

    drawn()
    assert seen and all("c" not in w for w in seen)


def test_a_word_classifier_judged_against_a_grammar_with_its_markers_is_told_the_grammar_is_of_words_alone():
    """A grammar over <s> w </s> for a word classifier: it fails at '' (the empty word between the markers is not
    in it), with nothing said about why (the trial's finding)."""
    g = load_grammar("tomita3")
    model = dataclasses.replace(blind(compile_grammar(marked(g))),
                                extra={"final_only": True, "start_marker": "<s>", "end_marker": "</s>"})
    report = verify(model, marked(g), max_len=3, examples=5)
    assert "grammar 'tomita3' has the markers <s> </s> as symbols: a word classifier is judged on each word " \
           "between its markers, against a grammar of the words alone (without them)" in report.notes
    assert not any("markers" in note for note in verify(model, g, max_len=3, examples=5).notes)


@pytest.mark.parametrize("command", [["verify"], ["certify"], ["extract", "-o", "{tmp}/x.toml"]])
@pytest.mark.parametrize("option", ["--start-marker", "--end-marker"])
def test_a_marker_given_on_the_command_line_that_is_a_symbol_of_the_grammar_is_refused(command, option, tmp_path,
                                                                                      capsys):
    """--start-marker a against a grammar over a, b: every word would be read as 'a' + word, and verify printed
    FAIL with a counterexample and exit 1, the reason buried in a note (a trial's finding)."""
    save_model(blind(compile_grammar(load_grammar("tomita3"))), tmp_path / "m.npz")
    argv = [command[0], str(tmp_path / "m.npz"), *[a.format(tmp=tmp_path) for a in command[1:]],
            "--grammar", "tomita3", option, "1"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{option} '1' is a symbol of grammar 'tomita3'; a marker frames" in err
    assert not (tmp_path / "x.toml").exists()


def test_a_marker_the_network_reads_that_the_grammar_lists_asks_for_a_grammar_of_the_words_alone(tmp_path, capsys):
    """The network was trained with <s> and the grammar lists it: 'give the marker the network was trained with'
    was the wrong advice (a review's finding)."""
    g = load_grammar("tomita3")
    save_model(blind(compile_grammar(marked(g))), tmp_path / "m.npz")
    (tmp_path / "framed.toml").write_text(grammar_text(marked(g), ".toml"))
    assert main(["verify", str(tmp_path / "m.npz"), "--grammar", str(tmp_path / "framed.toml"), "--start-marker",
                 "<s>"]) == 2
    assert "is a symbol of grammar 'tomita3'; a marker frames each word and is not one of its symbols: give a " \
           "grammar of the words alone, without the markers" in capsys.readouterr().err


def test_strings_that_leave_the_grammar_on_a_symbol_only_the_network_reads_are_searched(pytester, tmp_path):
    """A network over {a, b} that accepts every word holding an a, against a+ over {a} alone: strings holding b
    leave the grammar, and the network accepts 'ab'. The search drew strings of a only, so the plugin's three
    search items passed (a helper's trial); they are searched now, with b as a symbol of no edge."""
    contains_a = Grammar(name="contains_a", start="s", accept=frozenset({"f"}), alphabet=("a", "b"),
                         states=("s", "f"), transitions=(("s", "a", "f"), ("s", "b", "s"), ("f", "a", "f"),
                                                         ("f", "b", "f")))
    a_plus = Grammar(name="a_plus", start="s", accept=frozenset({"f"}), alphabet=("a",), states=("s", "f"),
                     transitions=(("s", "a", "f"), ("f", "a", "f")))
    model = blind(compile_grammar(contains_a))
    part = readable_part(a_plus, model, Reading())
    assert part is not None and part.alphabet == ("a", "b") and part.transitions == a_plus.transitions
    assert not accepts(a_plus, ("a", "b")) and accepts(contains_a, ("a", "b"))
    save_model(model, tmp_path / "m.npz")
    (tmp_path / "g.toml").write_text('name = "a_plus"\nstart = "s"\naccept = ["f"]\nalphabet = ["a"]\n'
                                     'states = ["s", "f"]\ntransitions = [["s", "a", "f"], ["f", "a", "f"]]\n')
    result = pytester.runpytest("--fsm-grammar", str(tmp_path / "g.toml"), "--fsm-model", str(tmp_path / "m.npz"),
                                "--fsm-max-len", "1", "--fsm-examples", "50", "-v")
    for item in ("pumped loops", "near misses", "arbitrary strings"):
        result.stdout.fnmatch_lines([f"*fsm-lstm[[]{item}] FAILED*"])
    verdict = judge(model, extract(model).grammar, a_plus)  # found where the automaton differs: before verify ran
    assert verdict.status == "fails" and verdict.report is None
    assert verdict.notes == ["symbols of the model outside the alphabet of grammar 'a_plus': b; a string holding one "
                             "leaves the grammar"]  # extract --grammar printed no note there


def test_the_verdict_of_extract_grammar_runs_within_the_time_limit(monkeypatch, tmp_path, capsys):
    """extract --grammar REF --time-limit 30 ran its verdict to verify's default of 300 s (a trial: 2 min 48 s
    on a 512-unit LSTM)."""
    import importlib

    verify_module = importlib.import_module("fsm_lstm.verify")
    limits: list[float] = []
    original = verify_module.verify
    monkeypatch.setattr(verify_module, "verify", lambda *a, time_limit, **k: limits.append(time_limit) or original(
        *a, time_limit=time_limit, **k))
    main(["extract", "examples/leaky.npz", "-o", str(tmp_path / "x.toml"), "--grammar", "reber", "--time-limit", "7"])
    assert "the network disagrees with reber" in capsys.readouterr().out
    assert limits == [7.0]
