"""Moore and Mealy machines end to end, with AALpy as the client: its random machines and DOT files, its
``execute_sequence`` as the independent oracle of output(w), and its loader reading what ``convert`` writes."""

from __future__ import annotations

import contextlib
import io
import random

import numpy as np
import pytest
from aalpy.utils import (generate_random_markov_chain, generate_random_mdp, generate_random_mealy_machine,
                         generate_random_moore_machine, generate_random_ONFSM, generate_random_smm,
                         load_automaton_from_file, save_automaton_to_file)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fsm_lstm.certify import certify
from fsm_lstm.cli import main
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.dot_format import to_dot
from fsm_lstm.dot_reader import parse_dot, pydot_graph, scan_dot
from fsm_lstm.errors import GrammarError
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.labels import parse_head
from fsm_lstm.model import save_model
from fsm_lstm.outputs import minimal_machine, output_word
from fsm_lstm.runtime import run
from fsm_lstm.verify import verify
from fsm_lstm.words import encode

KINDS = {"mealy": generate_random_mealy_machine, "moore": generate_random_moore_machine}


def aalpy_machine(kind: str, states: int, inputs: int, outputs: int, seed: int, minimal: bool = True):
    random.seed(seed)
    return KINDS[kind](states, [f"i{k}" for k in range(inputs)], [f"o{k}" for k in range(outputs)],
                       ensure_minimality=minimal)


def saved(automaton, path) -> str:
    with contextlib.redirect_stdout(io.StringIO()):  # AALpy prints "Model saved to ..."
        save_automaton_to_file(automaton, str(path.with_suffix("")), "dot")
    return str(path.with_suffix(".dot"))


def aalpy_outputs(automaton, word) -> list[str]:
    if not word:  # AALpy's Moore machines answer the empty word with the initial output, not a list
        return []
    automaton.reset_to_initial()
    return [str(o) for o in automaton.execute_sequence(automaton.initial_state, list(word))]


def random_words(alphabet, rng: random.Random, count: int = 500, long: int = 10, long_length: int = 300):
    """``count`` words: ``long`` of ``long_length`` symbols, the rest of 0 to 20."""
    return [tuple(rng.choices(alphabet, k=long_length if k < long else rng.randint(0, 20))) for k in range(count)]


def network_outputs(model, words) -> list[list[tuple[str, ...]]]:
    """The decoded out: heads after every prefix of each word (padded batches: the network is causal)."""
    out_cols = [k for k, h in enumerate(model.heads) if parse_head(h)[0] == "out"]
    values = [parse_head(model.heads[k])[1] for k in out_cols]
    result: list = [None] * len(words)
    for group in ([k for k, w in enumerate(words) if len(w) <= 20], [k for k, w in enumerate(words) if len(w) > 20]):
        if not group:
            continue
        longest = max(len(words[k]) for k in group)  # shorter words padded: the network is causal
        padded = [words[k] + (model.alphabet[0],) * (longest - len(words[k])) for k in group]
        truth = run(model, encode(padded, model.alphabet)).decoded()[:, :, out_cols]
        for b, k in enumerate(group):
            result[k] = [tuple(v for v, on in zip(values, truth[t, b]) if on) for t in range(len(words[k]) + 1)]
    return result


@settings(max_examples=4, deadline=None)
@given(kind=st.sampled_from(sorted(KINDS)), states=st.integers(1, 50), inputs=st.integers(1, 10),
       outputs=st.integers(2, 5), seed=st.integers(0, 10**6))
@example(kind="mealy", states=50, inputs=10, outputs=5, seed=1)
@example(kind="moore", states=50, inputs=10, outputs=5, seed=2)
def test_aalpy_machines_load_compile_certify_and_the_network_agrees_with_execute_sequence(
        kind, states, inputs, outputs, seed, tmp_path_factory):
    folder = tmp_path_factory.mktemp("aalpy")
    machine = aalpy_machine(kind, states, inputs, outputs, seed)
    g = load_grammar(saved(machine, folder / "m.dot"))
    assert g.machine == kind and len(g.states) == len(machine.states)
    model = compile_grammar(g)
    assert certify(model).proven
    rng = random.Random(seed)
    words = random_words(list(g.alphabet), rng)
    for word, per_prefix in zip(words, network_outputs(model, words)):
        expected = aalpy_outputs(machine, word)
        if kind == "moore":
            assert per_prefix[0] == (str(machine.initial_state.output),)
        else:
            assert per_prefix[0] == ()  # undefined before the first symbol
        assert [p[0] if len(p) == 1 else p for p in per_prefix[1:]] == expected, word


@settings(max_examples=8, deadline=None)
@given(kind=st.sampled_from(sorted(KINDS)), states=st.integers(1, 20), inputs=st.integers(1, 5),
       outputs=st.integers(2, 4), seed=st.integers(0, 10**6))
def test_convert_writes_dot_that_aalpy_loads_back_as_the_same_machine(kind, states, inputs, outputs, seed,
                                                                    tmp_path_factory):
    folder = tmp_path_factory.mktemp("convert")
    machine = aalpy_machine(kind, states, inputs, outputs, seed)
    source = saved(machine, folder / "m.dot")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["convert", source, "-o", str(folder / "m.toml")]) == 0
        assert main(["convert", str(folder / "m.toml"), "-o", str(folder / "back.dot")]) == 0
    back = load_automaton_from_file(str(folder / "back.dot"), kind)
    assert type(back) is type(machine) and len(back.states) == len(machine.states)
    rng = random.Random(seed)
    for word in random_words(list(load_grammar(source).alphabet), rng, count=100, long=2, long_length=100):
        assert aalpy_outputs(back, word) == aalpy_outputs(machine, word)
    assert load_grammar(folder / "back.dot") == load_grammar(folder / "m.toml")


@settings(max_examples=10, deadline=None)
@given(kind=st.sampled_from(sorted(KINDS)), states=st.integers(2, 15), inputs=st.integers(1, 4),
       outputs=st.integers(2, 3), seed=st.integers(0, 10**6))
def test_minimisation_respects_outputs_and_matches_aalpys_minimal_size(kind, states, inputs, outputs, seed,
                                                                     tmp_path_factory):
    machine = aalpy_machine(kind, states, inputs, outputs, seed, minimal=False)
    g = load_grammar(saved(machine, tmp_path_factory.mktemp("min") / "m.dot"))
    small = minimal_machine(g)
    machine.minimize()  # AALpy's own minimisation (it keeps the reachable part)
    assert len(small.states) == len(machine.states)
    rng = random.Random(seed)
    for word in random_words(list(g.alphabet), rng, count=60, long=2, long_length=50):
        assert output_word(small, word)[1:] == aalpy_outputs(machine, word)


def test_bundled_machines_answer_as_their_tables_say(capsys):
    assert main(["run", "coffee", "coin button take", "--json"]) == 0
    import json

    records = json.loads(capsys.readouterr().out)
    assert [r["output"] for r in records] == [["insert-coin"], ["press-button"], ["coffee"], ["insert-coin"]]
    assert main(["run", "mqtt", "publish connect subscribe publish"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["t", "symbol", "states", "output"]
    assert [line.split()[-1] for line in lines[1:]] == ["(none)", "CONCLOSED", "CONNACK", "SUBACK", "PUBACK_PUBLISH"]
    for name in ("coffee", "mqtt"):
        assert main(["certify", name]) == 0


def test_check_describes_machines(capsys):
    assert main(["check", "mqtt"]) == 0
    out = capsys.readouterr().out
    assert "machine: Mealy (an output per edge), 3 states" in out and "input-complete" in out
    assert "outputs: CONNACK, CONCLOSED, SUBACK, UNSUBACK, PUBACK, PUBACK_PUBLISH" in out


# ----- a network that is wrong on an output --------------------------------------------------------------------
def broken(model, head: str):
    """The model with one out: head's weight on one of its edge units zeroed."""
    from dataclasses import replace

    k = model.heads.index(head)
    weights = model.head_weight.copy()
    unit = int(np.flatnonzero(weights[k, :-1])[0])
    weights[k, unit] = 0.0
    return replace(model, head_weight=weights)


@pytest.mark.parametrize("name", ["coffee", "mqtt"])
def test_certificate_and_verify_catch_a_wrong_output_head(name):
    g = load_grammar(name)
    model = broken(compile_grammar(g), f"out:{g.output_values[0]}")
    cert = certify(model)
    assert not cert.proven and cert.failure.head == f"out:{g.output_values[0]}"
    report = verify(model, g, examples=20)
    c = report.counterexample
    assert not report.passed and c.head == f"out:{g.output_values[0]}"
    assert c.expected and output_word(g, c.word)[-1] == g.output_values[0]  # the oracle agrees it is wrong


# ----- DOT as it is written ------------------------------------------------------------------------------------
HAND_WRITTEN = r'''
// a coffee machine as LearnLib and Graphviz users write it
/* block comment */
strict digraph "Coffee Machine" {
  graph [comment="hand written"];
  node [shape=circle];
  "wait state" [label=<Waiting<br/>for &amp; coin>];
  brew
    [label="brewing",
     color=red];
  subgraph cluster_0 { label="inner"; done [label="done"]; }
  __start0 [label="", shape=none];
  __start0 -> "wait state";
  "wait state" -> brew [label="coin / beep"];
  "wait state" -> "wait state" [label=<button/silence>];
  brew -> done [label="button/coffee"];
  brew -> brew [label="coin/refund"];
  done -> "wait state" [label="take / idle"];
}
'''


def test_hand_written_dot_with_html_labels_quoted_ids_comments_and_subgraphs():
    g = parse_dot(HAND_WRITTEN, "c.dot")
    assert g.machine == "mealy" and g.name == "Coffee Machine" and g.description == "hand written"
    assert g.states == ("Waiting\nfor & coin", "brewing", "done") and g.start == "Waiting\nfor & coin"
    assert output_word(g, ["coin", "coin", "button", "take", "button"]) == [
        None, "beep", "refund", "coffee", "idle", "silence"]


def learnlib_moore_dot(m) -> str:
    """An AALpy Moore machine as LearnLib writes one (AutomataLib's GraphDOT with MooreVisualizationHelper):
    numbered circles labelled 'STATE / OUTPUT', plain input edges, and the __start0 marker."""
    index = {s: k for k, s in enumerate(m.states)}
    lines = ["digraph g {", ""]
    lines += [f'\ts{index[s]} [shape="circle" label="{index[s]} / {s.output}"];' for s in m.states]
    lines += [f'\ts{index[s]} -> s{index[t]} [label="{a}"];' for s in m.states for a, t in s.transitions.items()]
    lines += ["", '__start0 [label="" shape="none" width="0" height="0"];', f"__start0 -> s{index[m.initial_state]};",
              "", "}"]
    return "\n".join(lines)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), states=st.integers(1, 12))
def test_learnlib_moore_files_are_moore_machines(seed, states):
    """Before, a LearnLib Moore file was read as a DFA without accepting states (an empty language, exit 0)."""
    random.seed(seed)
    m = generate_random_moore_machine(states, ["a", "b", "c"], ["o1", "o 2", "=x"])
    g = parse_dot(learnlib_moore_dot(m), "m.dot")
    assert g.machine == "moore" and len(g.states) == states
    rng = random.Random(seed)
    for _ in range(10):
        word = [rng.choice("abc") for _ in range(rng.randint(0, 12))]
        m.reset_to_initial()
        want = [m.initial_state.output] + [m.step(a) for a in word]
        assert output_word(g, word) == want


def test_learnlib_labels_that_are_not_moore_outputs():
    mealy = ('digraph g { s0 [label="idle / 0"]; s1 [label="busy / 1"]; __start0 -> s0; '
             's0 -> s1 [label="go / start"]; s1 -> s0 [label="go / stop"]; }')
    g = parse_dot(mealy)  # Mealy edges: ' / ' in a state label is part of its name
    assert g.machine == "mealy" and g.states == ("idle / 0", "busy / 1")
    with pytest.raises(GrammarError, match="has no output"):
        parse_dot('digraph g { s0 [label="0 / "]; s1 [label="1 / x"]; __start0 -> s0; s0 -> s1 [label="a"]; }')


def test_moore_records_with_braces_and_escaped_bars():
    text = ('digraph m { a [shape=record, label="{a\\|1|x}"]; b [shape=Mrecord, label="b|y"]; '
            'c [shape=record, label="z"]; __start0 -> a; a -> b [label=go]; b -> c [label=go]; c -> a [label=go]; }')
    g = parse_dot(text)
    assert g.machine == "moore" and g.states == ("a|1", "b", "c")
    assert dict(g.state_outputs) == {"a|1": "x", "b": "y", "c": "z"}  # no bar: the label is the output (AALpy)


def test_graphviz_line_breaks_and_record_ports_are_read_as_graphviz_draws_them():
    """Graphviz draws \\n, \\l and \\r in a quoted label as line breaks, and a record field's ``<port>`` is not
    text (the DOT language reference); a trailing break around an output is space around it."""
    mealy = parse_dot('digraph m { a [label="waiting\\nfor coin"]; b; __start0 -> a; '
                      'a -> b [label="coin / beep\\l"]; b -> a [label="take/none\\r"]; }')
    assert mealy.states == ("waiting\nfor coin", "b")
    assert dict(mealy.edge_outputs) == {("waiting\nfor coin", "coin", "b"): "beep",
                                        ("b", "take", "waiting\nfor coin"): "none"}
    moore = parse_dot('digraph m { a [shape=record, label="<f0> a|<f1> off"]; b [shape=record, label="{<p> b|on}"]; '
                      '__start0 -> a; a -> b [label=go]; b -> a [label=go]; }')
    assert moore.states == ("a", "b") and dict(moore.state_outputs) == {"a": "off", "b": "on"}


def test_a_port_quoted_or_not_is_a_place_on_its_node_not_a_state():
    """``"s0":"e"`` was a third state named 's0":"e' (Graphviz reads the node s0 and its port e); AALpy writes a
    state id holding ':' so, which Graphviz and fsm-lstm read as a node and a port."""
    g = parse_dot('digraph g { __start0 [label="" shape="none"]; s0 [label="s0"]; "s1";\n'
                  '"s0":"e" -> "s1":w:n [label="a / x"]; s1:n -> "s0" [label="a / y"]; __start0 -> s0; }')
    assert g.states == ("s0", "s1")
    assert dict(g.edge_outputs) == {("s0", "a", "s1"): "x", ("s1", "a", "s0"): "y"}


@pytest.mark.parametrize("text", [
    'digraph g { s0 [label="s-2|=HYPERLINK("x")", shape=record]; __start0 -> s0; }',  # AALpy: a quote unescaped
    'digraph g { s0 [label="s0" shape]; __start0 -> s0; }',
    'digraph g { s0:e [shape]; __start0 -> s0; }',  # pydot's parser (a port), which reads [shape] as shape=None
])
def test_an_attribute_without_a_value_is_refused_as_graphviz_refuses_it(text):
    """The AALpy label was read as '=HYPERLINK(' and the rest dropped: a wrong output, exit 0."""
    with pytest.raises(GrammarError, match=r"has no value; write .*a quote inside a quoted value is written"):
        parse_dot(text)


@settings(max_examples=15, deadline=None)
@given(kind=st.sampled_from(sorted(KINDS)), states=st.integers(1, 8), inputs=st.integers(1, 3),
       seed=st.integers(0, 10**6))
def test_the_fast_scanner_and_pydot_read_the_same_graph(kind, states, inputs, seed):
    machine = aalpy_machine(kind, states, inputs, 2, seed)
    text = save_automaton_to_file(machine, file_type="string")
    assert scan_dot(text) == pydot_graph(text)
    g = parse_dot(text)
    assert scan_dot(to_dot(g)) == pydot_graph(to_dot(g))
    assert parse_dot(to_dot(g)) == g


def aalpy_file(factory, tmp_path) -> str:
    random.seed(3)
    return saved(factory(), tmp_path / "x.dot")


@pytest.mark.parametrize("factory, needle", [
    (lambda: generate_random_mdp(4, 2, 2), "an MDP"),
    (lambda: generate_random_markov_chain(4), "a Markov chain"),
    (lambda: generate_random_smm(4, 2, 2), "a stochastic Mealy machine"),
    (lambda: generate_random_ONFSM(4, 2, 3, 0.9), "an ONFSM"),
])
def test_stochastic_and_nondeterministic_aalpy_files_are_refused_in_one_line(factory, needle, tmp_path, capsys):
    path = aalpy_file(factory, tmp_path)
    assert main(["compile", path, "-o", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and err.startswith(f"fsm-lstm: error: {path}")
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize("text, needle", [
    ('digraph g { __start0 -> a; a -> b [label="x/1"]; b -> a [label="y"]; }', "mixes Mealy edges"),
    ('digraph g { __start0 -> a; a [shape=doublecircle]; a -> b [label="x/1"]; b -> a [label="y/0"]; }',
     "mixes Mealy edges (input/output) with accepting states"),
    ('digraph g { __start0 -> a; a [shape=record, label="a|1"]; b; a -> b [label="x"]; }', "is not a record"),
    ('digraph g { __start0 -> a; a [shape=record, label="a|1"]; a -> a [label="x/1"]; }', "mixes Mealy edges"),
    ('digraph g { a -> b [label="x/1"]; }', "no start state"),
    ('digraph g { __start0 -> a; a -> b [label="x/"]; }', "both parts non-empty"),
    ('digraph g { __start0 -> a; a -> b [label="x/1"]; a -> a [label="x/2"]; }', "an ONFSM"),
    ('digraph g { __start0 -> a; a -> {b c} [label="x"]; }', "subgraph"),
    ('digraph g { __start0 -> a; a -> b [label=<x<b>/1>; }', "cannot read it as DOT"),
    ('digraph g { __start0 -> a; a -> b [label="x y"]; }', "which holds white space"),
    ('digraph g { __start0 -> a; a -> b [label="1.5"]; }', 'declare the symbols: graph [alphabet="1.5 ..."]'),
])
def test_bad_machines_in_dot_get_one_clear_line(text, needle, tmp_path, capsys):
    path = tmp_path / "bad.dot"
    _refused_in_one_line(path, text, ["check", str(path)], needle, capsys)


def _refused_in_one_line(path, text: str, argv: list[str], needle: str, capsys) -> None:
    """With ``text`` written to ``path``, ``fsm-lstm ARGV`` exits 2 with one line on stderr naming the fault and
    the file."""
    path.write_text(text)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and str(path) in err, err


def test_a_declared_alphabet_reads_numeric_labels_as_symbols():
    g = parse_dot('digraph g { graph [alphabet="1.5 2"]; __start0 -> a; a -> a [label="1.5"]; }')
    assert g.transitions == (("a", "1.5", "a"),) and g.alphabet == ("1.5", "2")


def test_mealy_labels_split_at_the_first_slash_with_spaces_around_it():
    g = parse_dot('digraph g { __start0 -> a; a -> a [label=" coin / a/b "]; }')
    assert g.transitions == (("a", "coin", "a"),) and g.edge_outputs == ((("a", "coin", "a"), "a/b"),)


def test_empty_language_warning_on_compile_build_and_certify(tmp_path, capsys):
    path = tmp_path / "e.dot"
    path.write_text('digraph g { __start0 -> a; a -> b [label="x"]; }')  # a Mealy file without its outputs
    for argv in (["compile", str(path), "-o", str(tmp_path / "e.npz")], ["certify", str(path)],
                 ["build", str(path), "-o", str(tmp_path / "out")]):
        main(argv)
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "no accepting states and no outputs" in err, argv
    assert main(["compile", "mqtt", "-o", str(tmp_path / "m.npz")]) == 0
    assert capsys.readouterr().err == ""


def test_a_machine_whose_outputs_are_out_of_reach_is_warned_and_judged_on_the_network(tmp_path, capsys):
    """A Mealy machine whose start state has no edge (its only edge, a/x, is out of reach) compiles to a model
    without out: heads; extract --grammar against the machine then stopped with an internal error (KeyError)
    comparing an acceptor's edges' outputs. (A Moore machine gives every state an output: its start has one.)"""
    path = tmp_path / "st.dot"
    path.write_text('digraph g { __start0 -> s1; s0 -> s1 [label="a/x"]; }')
    g = load_grammar(path)
    assert g.machine
    assert main(["compile", str(path), "-o", str(tmp_path / "st.npz")]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no output is reachable from its start 's1'" in err, err
    assert main(["check", str(path)]) == 0
    assert "no output is reachable from start 's1'" in capsys.readouterr().out
    assert main(["compile", str(path), "-o", str(tmp_path / "u.npz"), "--unknown-start"]) == 0
    assert capsys.readouterr().err == ""  # every state may be the start: s0's edge has an output
    code = main(["extract", str(tmp_path / "st.npz"), "-o", str(tmp_path / "x.toml"), "--grammar", str(path),
                 "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    import json

    verdict = json.loads(out)["verdict"]
    assert verdict["status"] == "proven" and verdict["automaton_difference"] is None


def test_a_moore_output_with_a_line_break_is_written_as_aalpy_reads_the_escape(tmp_path):
    """A Moore state's record label wrote its line break raw too: AALpy read state '"s0' with output 'x'."""
    from aalpy.utils import load_automaton_from_file

    coffee = load_grammar("coffee")
    g = coffee.with_changes(state_outputs=tuple((s, "x\ny" if s == "idle" else v) for s, v in coffee.state_outputs))
    (tmp_path / "m.dot").write_text(to_dot(g))
    assert dict(load_grammar(tmp_path / "m.dot").state_outputs) == dict(g.state_outputs)
    machine = load_automaton_from_file(str(tmp_path / "m.dot"), "moore")
    assert {s.state_id: s.output for s in machine.states}["idle"] == "x\\ny"  # AALpy keeps the escape's 2 chars


def test_an_acceptor_checked_against_a_machine_keeps_its_state_heads_judged(tmp_path, capsys):
    """With a Mealy machine whose states are named like parity's, verify said the machine 'has the outputs of the
    grammar the model was compiled from' (an acceptor and a machine cannot be compared) and skipped the state
    heads."""
    (tmp_path / "eo.dot").write_text('digraph g { __start0 -> even; even -> odd [label="1/x"]; '
                                     'odd -> even [label="1/y"]; even -> even [label="0/x"]; '
                                     'odd -> odd [label="0/y"]; }')
    save_model(compile_grammar(load_grammar("parity")), tmp_path / "p.npz")
    main(["verify", str(tmp_path / "p.npz"), "--grammar", str(tmp_path / "eo.dot"), "--max-len", "3"])
    out = capsys.readouterr().out
    assert out.startswith("heads checked: state:even state:odd ")
    assert "has the outputs of the grammar" not in out and "heads skipped" not in out


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_toml_and_dot_round_trips_keep_machines_exactly(data):
    kind = data.draw(st.sampled_from(sorted(KINDS)))
    names = data.draw(st.lists(st.sampled_from(["a", "b|c", "x y", 'q"', "\\", "{", "<b>", "é", "node", "n0"]),
                               min_size=1, max_size=4, unique=True))
    inputs = data.draw(st.lists(st.sampled_from(["i", "j", "k:1", "0.5", "{"]), min_size=1, max_size=3, unique=True))
    values = st.sampled_from(["o", "p q", "|", "a/b", "}", "1", "x\ny"])
    edges = tuple((p, a, data.draw(st.sampled_from(names))) for p in names for a in inputs
                  if data.draw(st.booleans()))
    from fsm_lstm.grammar import Grammar

    g = Grammar(name="m", start=names[0], accept=frozenset(), alphabet=tuple(inputs), states=tuple(names),
                transitions=edges,
                state_outputs=tuple((s, data.draw(values)) for s in names) if kind == "moore" else (),
                edge_outputs=tuple((e, data.draw(values)) for e in edges) if kind == "mealy" else ())
    from fsm_lstm.toml_format import parse_toml, to_toml

    assert parse_toml(to_toml(g)) == g
    if kind == "moore" or edges:  # a Mealy machine without edges has no outputs to write
        assert parse_dot(to_dot(g)) == g


@pytest.mark.skipif(__import__("shutil").which("dot") is None, reason="needs Graphviz's dot")
def test_draw_shows_outputs_as_aalpy_draws_them(tmp_path, capsys):
    for name, needles in (("coffee", ["insert-coin", "press-button"]), ("mqtt", ["connect/CONNACK", "publish/PUBACK"])):
        assert main(["draw", name, "-o", str(tmp_path / f"{name}.svg")]) == 0
        svg = __import__("html").unescape((tmp_path / f"{name}.svg").read_text())
        assert all(n in svg for n in needles), name


@pytest.mark.parametrize("text, needle", [
    ('start = "a"\naccept = ["a"]\ntransitions = [["a", "x", "a", "1"]]\n', "has no accepting states"),
    ('start = "a"\ntransitions = [["a", "x", "b"], ["b", "x", "a"]]\n[outputs]\na = "1"\n', "'b' of the Moore machine"),
    ('start = "a"\ntransitions = [["a", "x", "a", "1"], ["a", "y", "a"]]\n', "every transition has an output"),
    ('start = "a"\ntransitions = [["a", "x", "a", "1"], ["a", "x", "b", "2"]]\n', "several outputs (an ONFSM)"),
    ('start = "a"\ntransitions = [["a", "x", "a", "1"], ["a", "x", "b", "1"], ["b", "x", "a", "1"]]\n',
     "several successors (nondeterministic)"),
    ('start = "a"\ntransitions = [["a", "x", "a"]]\n[outputs]\na = "1"\nc = "2"\n',
     "name 'c', which the machine lacks"),
    ('start = "a"\ntransitions = [["a", "x", "a", "1"]]\n[outputs]\na = "1"\n', "cannot be combined"),
    ('start = "a"\ntransitions = [["a", "x", "a", " 1"]]\n', "white space at an end"),
    ('start = "a"\ntransitions = [["a", "x", "a"]]\noutputs = ["1"]\n', "must be a table"),
])
def test_bad_machines_in_toml_get_one_clear_line(text, needle, tmp_path, capsys):
    path = tmp_path / "bad.toml"
    _refused_in_one_line(path, text, ["compile", str(path), "-o", str(tmp_path / "m.npz")], needle, capsys)


def test_a_line_break_in_a_name_is_written_as_an_escape_that_aalpy_reads_as_in_the_original(tmp_path):
    """DOT's \\n is a line break to Graphviz and fsm-lstm, two characters to AALpy. convert wrote the line break
    raw inside the quotes, and AALpy then read states '"s' and inputs '"a' from the file."""
    from aalpy.utils import load_automaton_from_file

    original = tmp_path / "nl.dot"
    original.write_text('digraph nl {\ns0 [label="s0"];\ns1 [label="s\\n1"];\ns0 -> s1 [label="a/x\\ny"];\n'
                        's1 -> s0 [label="a/z"];\n__start0 [shape=none, label=""];\n__start0 -> s0;\n}\n')
    # (a start edge without a label: a file AALpy wrote, with label="", is read raw, as AALpy reads it)
    g = load_grammar(original)
    assert dict(g.edge_outputs)[("s0", "a", "s\n1")] == "x\ny"
    written = tmp_path / "rt.dot"
    written.write_text(to_dot(g))
    assert output_word(load_grammar(written), ["a", "a"]) == output_word(g, ["a", "a"]) == [None, "x\ny", "z"]

    def outputs(path):
        machine = load_automaton_from_file(str(path), "mealy")
        return sorted((s.state_id, tuple(sorted(s.output_fun.items()))) for s in machine.states)

    assert outputs(written) == outputs(original) == [("s0", (("a", "x\\ny"),)), ("s\\n1", (("a", "z"),))]


def test_a_hand_written_file_with_aalpys_start_edge_is_still_read_as_graphviz_reads_it():
    """Only a file with all of AALpy's marks (start edge labelled "", no graph attribute, every state labelled
    with its id) is read raw; here the labels differ from the ids, so \\n is a line break (a review)."""
    g = parse_dot('digraph g { s0 [label="start"]; s0 -> s0 [label="a/x\\ny"]; __start0 [label=""]; '
                  '__start0 -> s0 [label=""]; }')
    assert dict(g.edge_outputs)[("start", "a", "start")] == "x\ny"
    raw = parse_dot('digraph g { s0 [label="s0"]; s0 -> s0 [label="a/x\\ny"]; __start0 [label=""]; '
                    '__start0 -> s0 [label=""]; }')
    assert dict(raw.edge_outputs)[("s0", "a", "s0")] == "x\\ny"  # as AALpy writes and reads it
