"""The argmax reading of out: heads (meta.argmax_outputs): networks trained with softmax cross-entropy over a
machine's outputs, which give the output with the largest logit.

The oracles are independent of the reading's code: the argmax of the logits is unchanged when the same constant
is added to every out: logit, so a compiled machine shifted so is still that machine; AALpy's own
``execute_sequence`` gives the machine's outputs; torch's ``argmax`` gives the trained network's."""

from __future__ import annotations

import contextlib
import io
import json
import random
from collections import deque
from dataclasses import replace

import numpy as np
import openpyxl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fsm_lstm.argmax_outputs import margin_bounds, margins
from fsm_lstm.cli import main
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.extract import extract
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.errors import ModelError, UserError
from fsm_lstm.importer import read_model
from fsm_lstm.libreoffice import recalculate
from fsm_lstm.model import load_model, model_from_arrays, save_model
from fsm_lstm.reading import Reading
from fsm_lstm.outputs import output_difference, output_word
from fsm_lstm.region_proof import prove_regions
from fsm_lstm.runtime import run
from fsm_lstm.sheets import write_workbook
from fsm_lstm.verify import alphabet_notes, verify
from fsm_lstm.words import encode
from tests.keras_files import random_layers, write_keras
from tests.test_machines import aalpy_machine, aalpy_outputs, saved

finite = st.floats(-1e6, 1e6, allow_nan=False, width=32)


@given(arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(3, 7)), elements=finite),
       st.data())
def test_a_margin_is_positive_exactly_for_the_one_largest_out_logit(logits, data):
    columns = np.array(sorted(data.draw(st.sets(st.integers(0, logits.shape[1] - 1), min_size=2))))
    m = margins(logits, columns)
    others = [c for c in range(logits.shape[1]) if c not in columns]
    assert np.array_equal(m[:, others], logits[:, others])
    for row, said in zip(logits, m):
        z = row[columns]
        alone = [k for k in range(len(z)) if all(z[k] > z[j] for j in range(len(z)) if j != k)]
        assert [k for k in range(len(z)) if said[columns[k]] > 0] == alone


@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.just(4)), elements=st.floats(-50, 50)),
       arrays(np.float64, st.tuples(st.integers(1, 4), st.just(4)), elements=st.floats(0, 20)), st.data())
def test_margin_bounds_hold_every_margin_of_logits_inside_the_box(lo, width, data):
    rows = min(len(lo), len(width))
    lo, hi = lo[:rows], lo[:rows] + width[:rows]
    columns = np.array([0, 2, 3])
    mlo, mhi = margin_bounds(lo, hi, columns)
    for _ in range(20):
        share = data.draw(arrays(np.float64, lo.shape, elements=st.floats(0, 1)))
        inside = lo + share * (hi - lo)
        m = margins(inside, columns)
        assert np.all(mlo <= m + 1e-9) and np.all(m <= mhi + 1e-9)


def shifted(model, shift: float, boost: str | None = None, by: float = 100.0):
    """The compiled machine read by argmax with every out: bias moved by ``shift`` (the same argmax), and the
    ``boost`` head's by ``by`` more; without its compiled grammar, so that nothing is certified by construction."""
    bias = model.head_bias.copy()
    outs = np.array([h.startswith("out:") for h in model.heads])
    bias[outs] += shift
    if boost is not None:
        bias[model.heads.index(boost)] += by
    extra = {k: v for k, v in model.extra.items() if k != "grammar"}
    return replace(model, head_bias=bias, extra={**extra, "argmax_outputs": True})


def network_outputs(model, word: tuple[str, ...]) -> list[str | None]:
    """After every prefix, the out: head whose value (margin) is > 0, as run gives it; None when none is."""
    heads = run(model, encode([word], model.alphabet).reshape(1, -1)).heads[:, 0]
    outs = [m for m, h in enumerate(model.heads) if h.startswith("out:")]
    said = [[model.heads[m][4:] for m in outs if row[m] > 0] for row in heads]
    assert all(len(s) <= 1 for s in said)
    return [s[0] if s else None for s in said]


@settings(max_examples=12, deadline=None)
@given(kind=st.sampled_from(["mealy", "moore"]), states=st.integers(1, 6), inputs=st.integers(1, 3),
       outputs=st.integers(2, 4), seed=st.integers(0, 10**6), shift=st.floats(-4, 4))
def test_an_aalpy_machine_read_by_argmax_with_shifted_logits_is_proven_and_gives_aalpys_outputs(
        kind, states, inputs, outputs, seed, shift, tmp_path_factory):
    machine = aalpy_machine(kind, states, inputs, outputs, seed)
    g = load_grammar(saved(machine, tmp_path_factory.mktemp("argmax") / "m.dot"))
    assume(len(g.output_values) >= 2)  # an argmax over one output says nothing (and is refused)
    model = shifted(compile_grammar(g), shift)
    rng = random.Random(seed)
    for _ in range(20):
        word = tuple(rng.choice(g.alphabet) for _ in range(rng.randint(1, 15)))
        said = network_outputs(model, word)
        assert said[0] is None  # read after each symbol only
        assert said[1:] == aalpy_outputs(machine, word)
    report = verify(model, g, max_len=6, examples=0)  # (verify's own hypothesis layer cannot nest in @given)
    assert report.passed and report.proven


def shortest_word_without(g, value: str) -> tuple[str, ...]:
    """Breadth first: the shortest non-empty word after which machine ``g`` does not give ``value``."""
    todo = deque([(a,) for a in g.alphabet])
    while todo:
        word = todo.popleft()
        if output_word(g, word)[-1] != value:
            return word
        todo.extend(word + (a,) for a in g.alphabet)
    raise AssertionError("unreachable")


@pytest.mark.parametrize("name", ["coffee", "mqtt"])
def test_a_head_that_always_wins_is_caught_on_the_shortest_word_where_it_should_not(name):
    g = load_grammar(name)
    value = g.output_values[0]
    model = shifted(compile_grammar(g), 3.0, boost=f"out:{value}")
    report = verify(model, g, max_len=6, examples=20)
    want = shortest_word_without(g, value)
    assert not report.passed and report.counterexample.word == want
    assert network_outputs(model, want)[-1] == value == report.counterexample.said  # confirmed on the network
    assert report.to_dict(model.alphabet)["counterexample"]["network_output"] == value


def test_the_same_shift_read_by_threshold_is_wrong_and_by_argmax_is_proven():
    g = load_grammar("mqtt")
    model = shifted(compile_grammar(g), 3.0)
    assert prove_regions(model, g).proven
    threshold = replace(model, extra={})
    report = verify(threshold, g, max_len=3, examples=5)
    assert not report.passed and report.counterexample.word == ()  # every out: logit is > 0 at t = 0


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_a_machine_output_without_a_head_is_never_the_argmax(dtype):
    """A network without out:CONNACK cannot say CONNACK: the head added for it must not win the argmax, even where
    every logit lies below the lowest float16 (a review's false proof gave the added head that bias)."""
    g = load_grammar("mqtt")
    model = shifted(compile_grammar(g), -3.0)  # every logit negative: a head added with bias -1 would win
    keep = [m for m, h in enumerate(model.heads) if h != "out:CONNACK"]
    weight = model.head_weight[keep].astype(dtype)
    if dtype == np.float16:  # out: logits far below -65504 wherever a unit is on
        weight[[k for k, m in enumerate(keep) if model.heads[m].startswith("out:")]] -= 6e4
    dropped = replace(model, heads=tuple(model.heads[m] for m in keep), head_weight=weight,
                      head_bias=model.head_bias[keep].astype(dtype))
    report = verify(dropped, g, max_len=4, examples=5)
    assert not report.passed
    assert output_word(g, report.counterexample.word)[-1] == "CONNACK"


def test_out_heads_a_grammar_never_judges_are_not_called_proven(tmp_path, capsys):
    """Against an acceptor, or a machine over other symbols, an argmax model's out: heads are judged nowhere: that
    is one line and exit 2, never a proof (a review found "PASS: proven" with no head judged)."""
    model = shifted(compile_grammar(load_grammar("mqtt")), 1.0)
    outs = [m for m, h in enumerate(model.heads) if h.startswith("out:")]
    only = replace(model, heads=tuple(model.heads[m] for m in outs), head_weight=model.head_weight[outs],
                   head_bias=model.head_bias[outs])
    for grammar in ("tomita1", "coffee"):
        with pytest.raises(UserError, match="none of the model's heads"):
            verify(only, load_grammar(grammar), max_len=3, examples=5)
    path = tmp_path / "only.npz"
    save_model(only, path)
    assert main(["certify", str(path), "--grammar", "tomita1"]) == 2
    assert "none of the model's heads" in capsys.readouterr().err


@pytest.mark.parametrize("argmax", [False, True])
def test_certify_of_a_compiled_machine_that_lost_an_outputs_head_is_not_proven(tmp_path, capsys, argmax):
    """It keeps its compiled grammar, which the certificate read head by head, and the missing head was never
    judged (a review: "proven for every length", exit 0). Now the region proof judges it: 'coin button' gives
    coffee in the machine, which the network cannot say."""
    model = compile_grammar(load_grammar("coffee"))
    if argmax:
        model = replace(shifted(model, 2.0), extra={**model.extra, "argmax_outputs": True})
    keep = [m for m, h in enumerate(model.heads) if h != "out:coffee"]
    path = tmp_path / "dropped.npz"
    save_model(replace(model, heads=tuple(model.heads[m] for m in keep), head_weight=model.head_weight[keep],
                       head_bias=model.head_bias[keep]), path)
    for args in ([], ["--grammar", "coffee"]):
        assert main(["certify", str(path), *args]) == 1
        out = capsys.readouterr().out
        assert "'coin button'" in out and "out:coffee" in out and "proven for every length" not in out


def test_certify_proves_a_compiled_machine_read_by_argmax_by_its_regions(tmp_path, capsys):
    """Every out: logit moved by 5: the certificate, head by head, fails on it; the argmax is the machine's."""
    model = compile_grammar(load_grammar("mqtt"))
    path = tmp_path / "keep.npz"
    save_model(replace(shifted(model, 5.0), extra={**model.extra, "argmax_outputs": True}), path)
    assert main(["certify", str(path)]) == 0
    assert "region proof" in capsys.readouterr().out


def test_argmax_over_a_softmax_with_other_heads_is_refused(tmp_path):
    """A softmax couples its outputs: an accept head beside two out: heads has no logit of its own."""
    layers = random_layers(np.random.default_rng(2), "GRU", 2, [4], [3], "softmax")
    path = write_keras(tmp_path / "m.keras", layers, 2)
    with pytest.raises(UserError, match="label every one out:VALUE"):
        read_model(path, ["a", "b"], ["accept", "out:A", "out:B"], argmax=True)


def test_a_partial_machine_says_its_outputs_are_not_judged_where_it_has_none():
    g = load_grammar("coffee")
    partial = replace(g, transitions=tuple(e for e in g.transitions if e != ("idle", "take", "idle")))
    model = shifted(compile_grammar(g), 1.0)
    notes = alphabet_notes(partial, model, Reading())
    assert any("not judged" in n and "leave machine 'coffee'" in n for n in notes)
    assert not any("not judged" in n for n in alphabet_notes(g, model, Reading()))


def test_the_workbook_does_not_compare_a_moore_machines_output_at_t0(tmp_path):
    """The network is proven; before the first symbol it gives no output and coffee gives insert-coin."""
    g = load_grammar("coffee")
    model = shifted(compile_grammar(g), 2.0)
    path = tmp_path / "c.xlsx"
    write_workbook(model, path, "coin button take", automaton=g)
    [done] = recalculate([path], tmp_path / "lo")
    for book in (path, done):
        assert openpyxl.load_workbook(book, data_only=True)["Run"]["A6"].value == \
            "network and automaton agree on the output after every prefix (3 symbols)"


def test_extract_writes_the_mealy_machine_of_a_moore_network_read_by_argmax(tmp_path):
    g = load_grammar("coffee")
    model = shifted(compile_grammar(g), 1.5)
    ex = extract(model, seed=0)
    assert ex.grammar.machine == "mealy" and len(ex.grammar.states) == 3 and ex.fidelity == 1.0
    mealy = replace(g, state_outputs=(), edge_outputs=tuple(((p, a, q), dict(g.state_outputs)[q])
                                                            for p, a, q in g.transitions))
    assert output_difference(ex.grammar, mealy) is None
    assert output_difference(ex.grammar, g, after_symbols=True) is None


@pytest.mark.parametrize("value, heads, message", [
    ("yes", None, "meta.argmax_outputs must be a JSON boolean"),
    (True, ("state:idle", "state:paid", "state:brewing", "out:insert-coin", "accept", "next:coin"), "at least 2"),
])
def test_meta_argmax_outputs_is_checked(value, heads, message):
    model = compile_grammar(load_grammar("coffee"))
    arrays = model.arrays()
    meta = {**model.meta, "argmax_outputs": value, **({"heads": list(heads)} if heads else {})}
    with pytest.raises(ModelError, match=message):
        model_from_arrays({**arrays, "meta": np.array(json.dumps(meta))})


torch = pytest.importorskip("torch")


class Classifier(torch.nn.Module):
    """An embedding, a GRU and a linear layer over the outputs, trained with cross-entropy as users do."""

    def __init__(self, symbols: int, outputs: int) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(symbols, 8)
        self.rnn = torch.nn.GRU(8, 16, batch_first=True)
        self.head = torch.nn.Linear(16, outputs)

    def forward(self, x):
        return self.head(self.rnn(self.emb(x))[0])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A GRU trained with softmax cross-entropy on an AALpy random Mealy machine's outputs, saved as a state_dict
    and imported with --argmax."""
    folder = tmp_path_factory.mktemp("ce")
    machine = aalpy_machine("mealy", 4, 3, 3, 11)
    g = load_grammar(saved(machine, folder / "m.dot"))
    values = list(g.output_values)
    torch.manual_seed(0)
    rng = random.Random(0)
    net = Classifier(len(g.alphabet), len(values))
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    for _ in range(250):
        words = [[rng.randrange(len(g.alphabet)) for _ in range(12)] for _ in range(64)]
        target = torch.tensor([[values.index(o) for o in aalpy_outputs(machine, [g.alphabet[a] for a in w])]
                               for w in words])
        logits = net(torch.tensor(words))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, len(values)), target.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.save(net.state_dict(), folder / "net.pt")
    heads = " ".join(f"out:{v}" for v in values)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(["import", str(folder / "net.pt"), "-o", str(folder / "net.npz"), "--alphabet",
                     " ".join(g.alphabet), "--heads", heads, "--argmax"]) == 0
    assert "read together" in out.getvalue()
    return net, machine, g, load_model(folder / "net.npz"), folder


def torch_outputs(net, g, words):
    with torch.no_grad():
        logits = net(torch.tensor([[g.alphabet.index(a) for a in w] for w in words]))
    return [[g.output_values[k] for k in row] for row in logits.argmax(-1).tolist()]


def test_an_imported_cross_entropy_network_gives_torchs_argmax_on_200_words(trained):
    net, _, g, model, _ = trained
    assert model.argmax_outputs
    rng = random.Random(1)
    for length in (1, 7, 30):
        words = [tuple(rng.choice(g.alphabet) for _ in range(length)) for _ in range(200 // 3 + 1)]
        want = torch_outputs(net, g, words)
        for word, outputs in zip(words, want):
            assert network_outputs(model, word) == [None, *outputs]


def test_run_json_gives_torchs_logits_and_the_margins(trained, capsys):
    net, _, g, _, folder = trained
    word = [g.alphabet[k % len(g.alphabet)] for k in (0, 2, 1, 1, 0, 2)]
    assert main(["run", str(folder / "net.npz"), " ".join(word), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    with torch.no_grad():
        logits = net(torch.tensor([[g.alphabet.index(a) for a in word]]))[0].numpy()
    for t, record in enumerate(records[1:]):
        mine = np.array([record["logits"][f"out:{v}"] for v in g.output_values])
        np.testing.assert_allclose(mine, logits[t], atol=1e-4)
        best = g.output_values[int(np.argmax(logits[t]))]
        assert [h for h, m in record["margins"].items() if m > 0] == [f"out:{best}"] and record["output"] == [best]
    assert records[0]["output"] == [] and set(records[0]["margins"].values()) == {0.0}


def test_a_cross_entropy_network_extracts_to_what_torchs_argmax_says(trained):
    net, machine, g, model, _ = trained
    ex = extract(model, seed=0)
    assert ex.grammar.machine == "mealy"
    rng = random.Random(2)
    words = [tuple(rng.choice(g.alphabet) for _ in range(rng.randint(1, 20))) for _ in range(500)]
    same = sum(output_word(ex.grammar, w)[1:] == o for w, o in zip(words, torch_outputs_each(net, g, words)))
    assert same / len(words) >= 0.99 and ex.fidelity >= 0.99
    learned = all(torch_outputs(net, g, [w])[0] == aalpy_outputs(machine, w) for w in words)
    if learned:  # the network learned its machine on these words: then so did the extraction
        assert output_difference(ex.grammar, g) is None


def test_verify_of_a_cross_entropy_network_judges_it_after_each_symbol_only(trained):
    """Its heads name an output on the empty prefix too, where a Mealy machine has none: not judged there. A
    counterexample is a word on which torch's argmax and AALpy differ."""
    net, machine, g, model, _ = trained
    with np.errstate(all="ignore"):
        at_zero = run(model, np.zeros((1, 0), np.int64), raw=True).heads[0, 0]
    assert len(set(at_zero.tolist())) == len(at_zero)  # no tie: the raw argmax names an output at t = 0
    report = verify(model, g, max_len=7, examples=50)
    if report.passed:
        rng = random.Random(3)
        words = [tuple(rng.choice(g.alphabet) for _ in range(rng.randint(1, 7))) for _ in range(300)]
        assert all(o == aalpy_outputs(machine, w) for w, o in zip(words, torch_outputs_each(net, g, words)))
    else:
        word = report.counterexample.word
        assert word and torch_outputs(net, g, [word])[0][-1] != aalpy_outputs(machine, word)[-1]
        assert report.counterexample.said == torch_outputs(net, g, [word])[0][-1]  # what the network says there


def torch_outputs_each(net, g, words):
    return [torch_outputs(net, g, [w])[0] for w in words]


def test_onnx_softmax_and_argmax_heads_import_as_the_state_dict_does(trained, tmp_path):
    pytest.importorskip("onnx")
    net, _, g, model, _ = trained
    heads = " ".join(f"out:{v}" for v in g.output_values)

    for last in ("softmax", "argmax"):
        path = tmp_path / f"{last}.onnx"
        torch.onnx.export(Last(net, last), (torch.zeros(1, 5, dtype=torch.long),), str(path), dynamo=False,
                          input_names=["x"], dynamic_axes={"x": {0: "b", 1: "t"}})
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["import", str(path), "-o", str(tmp_path / f"{last}.npz"), "--alphabet",
                         " ".join(g.alphabet), "--heads", heads]) == 0
        other = load_model(tmp_path / f"{last}.npz")
        assert other.argmax_outputs
        np.testing.assert_allclose(other.head_weight, model.head_weight, rtol=1e-6)
        np.testing.assert_allclose(other.layers[0].weight_ih, model.layers[0].weight_ih, rtol=1e-5, atol=1e-6)


def test_onnx_softmax_labels_are_counted_and_a_two_way_softmax_of_outputs_is_read_by_argmax(trained, tmp_path,
                                                                                             capsys):
    """A wrong count of out: labels over a softmax or ArgMax names the count (it said the activation is not
    read); 2 outputs labelled out: are a machine's 2 outputs, read by argmax as torch's argmax gives them."""
    pytest.importorskip("onnx")
    net, _, g, _, _ = trained
    labels = " ".join(f"out:{v}" for v in g.output_values[:-1])  # one label short
    for last in ("softmax", "argmax"):
        path = tmp_path / f"{last}.onnx"
        torch.onnx.export(Last(net, last), (torch.zeros(1, 5, dtype=torch.long),), str(path), dynamo=False,
                          input_names=["x"], dynamic_axes={"x": {0: "b", 1: "t"}})
        assert main(["import", str(path), "-o", str(tmp_path / "x.npz"), "--alphabet", " ".join(g.alphabet),
                     "--heads", labels]) == 2
        err = capsys.readouterr().err
        assert f"has {len(g.output_values)} outputs but {len(g.output_values) - 1} head labels" in err
    torch.manual_seed(3)
    two = Classifier(len(g.alphabet), 2)
    path = tmp_path / "two.onnx"
    torch.onnx.export(Last(two, "softmax"), (torch.zeros(1, 5, dtype=torch.long),), str(path), dynamo=False,
                      input_names=["x"], dynamic_axes={"x": {0: "b", 1: "t"}})
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["import", str(path), "-o", str(tmp_path / "two.npz"), "--alphabet", " ".join(g.alphabet),
                     "--heads", "out:lo out:hi"]) == 0
    model = load_model(tmp_path / "two.npz")
    assert model.argmax_outputs
    words = torch.randint(0, len(g.alphabet), (50, 9))
    with torch.no_grad():
        want = two(words).argmax(-1).numpy()
    said = run(model, words.numpy()).heads[1:].transpose(1, 0, 2) > 0
    assert np.array_equal(said, want[..., None] == np.arange(2))


class Last(torch.nn.Module):
    """A network with a softmax or an ArgMax after its logits, as exported for deployment."""

    def __init__(self, net, last: str) -> None:
        super().__init__()
        self.net, self.last = net, last

    def forward(self, x):
        y = self.net(x)
        return torch.softmax(y, -1) if self.last == "softmax" else torch.argmax(y, -1)


@pytest.mark.parametrize("heads, message", [
    ("out:a accept state:q", "1 of the heads"),
    ("accept next:i0 next:i1", "0 of the heads"),
])
def test_argmax_needs_two_out_heads(trained, tmp_path, capsys, heads, message):
    folder = trained[4]
    code = main(["import", str(folder / "net.pt"), "-o", str(tmp_path / "x.npz"), "--alphabet",
                 " ".join(trained[2].alphabet), "--heads", heads, "--argmax"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.npz").exists()


def test_the_pytest_plugin_names_the_output_an_argmax_network_gives(pytester, tmp_path):
    """coffee read by argmax with insert-coin always the largest: the plugin's items fail on 'coin', where coffee
    says press-button, and say that the network says insert-coin."""
    g = load_grammar("coffee")
    path = tmp_path / "boosted.npz"
    save_model(shifted(compile_grammar(g), 1.0, boost="out:insert-coin"), path)
    result = pytester.runpytest("--fsm-grammar", "coffee", "--fsm-model", str(path), "--fsm-max-len", "3",
                                "--fsm-examples", "5")
    text = result.stdout.str()
    assert "counterexample 'coin' (1 symbol)" in text and "the network says insert-coin" in text
    assert result.ret == 1
