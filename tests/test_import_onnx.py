"""Import of ONNX graphs exported by torch.onnx.export (LSTM/GRU/RNN operators), checked in onnxruntime;
graphs that are not exactly representable get one line and exit 2."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from hypothesis import given, settings, strategies as st
from onnx import helper, numpy_helper

from fsm_lstm.cli import main
from fsm_lstm.importer import read_model
from fsm_lstm.model import load_model
from fsm_lstm.runtime import run
from tests.test_import_torch import KINDS, cli_error, run_verify_extract, words


class Exported(torch.nn.Module):
    """Embedding? -> nn.LSTM/GRU/RNN -> Linear (-> ReLU?) (-> Linear) (-> sigmoid/softmax), possibly batch-first,
    possibly reading only the last step."""

    def __init__(self, cell, K=3, hidden=5, layers=1, outputs=2, embedding=None, middle=None, batch_first=False,
                 last=False, final=None, relu=False, bidirectional=False, nonlinearity="tanh"):
        super().__init__()
        self.embed = torch.nn.Embedding(K, embedding) if embedding else None
        kw = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.rnn = KINDS[cell](embedding or K, hidden, num_layers=layers, batch_first=batch_first,
                               bidirectional=bidirectional, **kw)
        width = hidden * (2 if bidirectional else 1)
        self.fc1 = torch.nn.Linear(width, middle or outputs)
        self.fc2 = torch.nn.Linear(middle, outputs) if middle else None
        self.batch_first, self.last, self.final, self.relu = batch_first, last, final, relu
        self.pick: int | list[int] | str | None = None  # after everything: y[..., k], y[..., [k]] or y.squeeze(-1)
        self.after_pick: str | None = None  # then torch.sigmoid, torch.tanh, or a "linear" map to 2 outputs

    def forward(self, x):
        if self.embed is not None:
            x = self.embed(x)
        y = self.rnn(x)[0]
        if self.last:
            y = y[:, -1] if self.batch_first else y[-1]
        y = self.fc1(y)
        if self.fc2 is not None:
            y = self.fc2(torch.relu(y) if self.relu else y)
        if self.final == "sigmoid":
            y = torch.sigmoid(y)
        elif self.final == "softmax":
            y = torch.softmax(y, dim=-1)
        elif self.final == "tanh":
            y = torch.tanh(y)
        if self.pick == "squeeze":
            y = y.squeeze(-1)
        elif self.pick == "kept then squeezed":
            y = y[..., [0]].squeeze(-1)
        elif self.pick is not None:
            y = y[..., self.pick]
        if self.after_pick == "linear":  # on a kept axis
            return y @ torch.ones(1, 2)
        return getattr(torch, self.after_pick)(y) if self.after_pick else y


def export(net: Exported, path, K: int = 3, opset: int = 17):
    ids = net.embed is not None
    dummy = torch.zeros(3, 2, dtype=torch.long) if ids else torch.zeros(3, 2, K)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), (dummy,), str(path), input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "d0", 1: "d1"}, "y": {0: "d0"} if net.last else {0: "d0", 1: "d1"}},
                          opset_version=opset, dynamo=False)
    return path


def onnx_outputs(net: Exported, path, strings: np.ndarray, K: int = 3) -> np.ndarray:
    """onnxruntime's outputs, (T, B, M) after every prefix (or (B, M) for a last-step model)."""
    x = strings if net.batch_first else strings.T
    feed = x.astype(np.int64) if net.embed is not None else np.eye(K, dtype=np.float32)[x]
    y = ort.InferenceSession(str(path)).run(None, {"x": feed})[0].astype(np.float64)
    return y.transpose(1, 0, 2) if net.batch_first and not net.last else y


CASES = [  # cell, layers, embedding, middle, batch_first, last, final, labels
    ("lstm", 1, None, None, False, False, None, 2),
    ("lstm", 2, 4, 6, True, False, "sigmoid", 2),
    ("gru", 2, None, 4, False, False, "softmax", 1),
    ("gru", 1, 3, None, True, True, None, 2),
    ("rnn", 2, 4, None, False, False, "sigmoid", 2),
    ("rnn", 1, None, 3, False, True, "softmax", 2),
    ("lstm", 1, 3, None, False, False, "tanh", 2),
]


@pytest.mark.parametrize("cell, layers, embedding, middle, batch_first, last, final, labels", CASES)
def test_exported_graphs_import_exactly(cell, layers, embedding, middle, batch_first, last, final, labels, tmp_path,
                                        capsys):
    torch.manual_seed(layers + 3 * len(cell))
    net = Exported(cell, layers=layers, embedding=embedding, middle=middle, batch_first=batch_first, last=last,
                   final=final)
    path = export(net, tmp_path / "m.onnx")
    heads = "accept next:a" if labels == 2 else "accept"
    assert main(["import", str(path), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c", "--heads", heads]) == 0
    capsys.readouterr()
    model = load_model(tmp_path / "m.npz")
    assert model.cell == cell and len(model.layers) == layers and model.extra["imported"]["format"] == "onnx"
    assert bool(model.extra.get("final_only")) == last
    strings = words(3, seed=layers)
    y = onnx_outputs(net, path, strings)
    heads_ = run(model, strings).heads
    got = heads_[-1] if last else heads_[1:]
    if final == "sigmoid":
        decisions, logits = y > 0.5, None
        assert np.allclose(1 / (1 + np.exp(-got.astype(np.float64))), y, atol=1e-5)
    elif final == "tanh":  # a head is true when tanh(z) > 0
        decisions = y > 0
        assert np.allclose(np.tanh(got.astype(np.float64)), y, atol=1e-5)
    elif final == "softmax":
        decisions = y[..., 1:] > 0.5 if labels == 1 else y > 0.5
        p1 = 1 / (1 + np.exp(-got.astype(np.float64)))  # softmax of 2 = sigmoid of the difference
        assert np.allclose(p1, y[..., 1:] if labels == 1 else y, atol=1e-5)
    else:
        logits = y if labels == 2 else y[..., 1:] - y[..., :1]
        decisions = logits > 0
        assert np.allclose(got, logits, atol=1e-5)
    assert np.array_equal(got > 0, decisions)
    if last:  # a last-step graph's output for every shorter prefix is our heads after that prefix
        for length in (1, 6):
            y = onnx_outputs(net, path, strings[:, :length])
            assert np.array_equal(run(model, strings[:, :length]).heads[-1] > 0,
                                  y > 0.5 if final else y > 0)


@pytest.mark.parametrize("cell, last, final, outputs, pick, after", [
    ("gru", True, None, 1, 0, None),  # torch's model(x)[:, 0] of a last step's single logit
    ("lstm", False, "sigmoid", 3, 2, None),
    ("gru", False, "softmax", 2, 1, None),  # softmax(y)[..., 1]: p1 > 0.5 exactly when z1 - z0 > 0
    ("lstm", True, "softmax", 2, 0, None),
    ("rnn", False, None, 1, "squeeze", None),
    ("gru", True, "sigmoid", 1, "squeeze", None),
    ("lstm", False, "tanh", 3, [1], None),  # a Gather of a one-element index keeps the axis
    ("gru", False, "softmax", 2, "kept then squeezed", None),  # y[..., [0]].squeeze(-1)
    ("lstm", True, None, 3, 1, "sigmoid"),  # sigmoid(z_1): elementwise after a pick from logits
])
def test_one_output_picked_after_the_head_is_read_exactly(cell, last, final, outputs, pick, after, tmp_path, capsys):
    """One output picked off the head (a Gather of one index on its last axis, or a Squeeze of a single output):
    refused as 'not a Gather of the last step' before (a trial's torch model ending in [:, 0])."""
    torch.manual_seed(len(cell) + outputs)
    net = Exported(cell, outputs=outputs, last=last, final=final, embedding=4)
    net.pick, net.after_pick = pick, after
    final = final or after
    path = export(net, tmp_path / "m.onnx")
    assert main(["import", str(path), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c", "--heads",
                 "accept"]) == 0, capsys.readouterr().err
    model = load_model(tmp_path / "m.npz")
    strings = words(3, seed=outputs)  # 200 words
    y = onnx_outputs(net, path, strings) if net.embed is None else ort.InferenceSession(str(path)).run(
        None, {"x": strings.T.astype(np.int64)})[0].astype(np.float64)
    y = y.reshape(y.shape[:2] if not last else y.shape[:1])  # (T, B) per prefix, or (B,) after the last step
    heads = run(model, strings).heads[..., 0]
    got = heads[-1] if last else heads[1:]
    assert np.array_equal(got > 0, y > (0.5 if final in ("sigmoid", "softmax") else 0))
    if final is None:
        assert np.allclose(got, y, atol=1e-5)


@pytest.mark.parametrize("final, outputs, pick, after, needle", [
    ("softmax", 2, 0, "sigmoid", "node /Sigmoid (Sigmoid) is a Sigmoid after the pick of a softmax's output"),
    ("softmax", 3, 1, None, "picks an output of a softmax over 3 outputs, which is not a function of that output's "
     "own logit; export the logits"),
    (None, 3, [1], "linear", "multiplies after one output was picked"),
    (None, 3, [0, 2], None, "gathers an index of shape [2] from the outputs; fsm-lstm reads the pick of one output"),
])
def test_a_pick_that_cannot_be_read_exactly_is_refused(final, outputs, pick, after, needle, tmp_path, capsys):
    """sigmoid(softmax(z)[..., 0]) was imported as sigmoid(z0 - z1): wrong on every word (a review's finding)."""
    net = Exported("gru", outputs=outputs, final=final, embedding=4)
    net.pick, net.after_pick = pick, after
    path = export(net, tmp_path / "m.onnx")
    err = cli_error(["import", str(path), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c", "--heads", "accept"],
                    capsys)
    assert needle in err and not (tmp_path / "m.npz").exists()


def test_a_graph_exported_for_one_length_imports_with_a_note(tmp_path, capsys):
    """torch.onnx.export without dynamic axes fixes the input's shape: onnxruntime then refuses other lengths, and
    the import says that fsm-lstm runs the operator on every length; a graph with dynamic axes gets no such note."""
    torch.manual_seed(0)
    net = Exported("gru")
    fixed = tmp_path / "fixed.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), (torch.zeros(3, 2, 3),), str(fixed), input_names=["x"], output_names=["y"],
                          opset_version=17, dynamo=False)
    strings = words(3, seed=1)[:2, :3]
    with pytest.raises(Exception, match="invalid dimensions"):  # onnxruntime refuses any other length
        onnx_outputs(net, fixed, words(3, seed=1)[:2, :5])
    assert main(["import", str(fixed), "-o", str(tmp_path / "f.npz"), "--alphabet", "a b c",
                 "--heads", "accept next:a"]) == 0
    assert "note: the graph's input has the fixed shape (3, 2, 3): it was exported for one length" in \
        capsys.readouterr().out
    assert np.allclose(run(load_model(tmp_path / "f.npz"), strings).heads[1:], onnx_outputs(net, fixed, strings),
                       atol=1e-5)
    assert main(["import", str(export(net, tmp_path / "dyn.onnx")), "-o", str(tmp_path / "d.npz"), "--alphabet",
                 "a b c", "--heads", "accept next:a"]) == 0
    assert "exported for one length" not in capsys.readouterr().out


@pytest.mark.parametrize("batch_first, embedding", [(False, None), (True, 4)])
def test_an_output_declared_for_one_length_imports_with_a_note(batch_first, embedding, tmp_path, capsys):
    """The dynamo exporter, given an example of batch 1, may keep the input's time axis free but declare the
    output's fixed (input [1, T], output [1, 5, 1]): onnxruntime's optimised graph then fails at other lengths.
    The import said nothing; it now says so, and the model still runs every length as the operator defines it."""
    torch.manual_seed(2)
    net = Exported("gru", embedding=embedding, batch_first=batch_first)
    free = export(net, tmp_path / "free.onnx")
    graph = onnx.load(str(free))
    graph.graph.output[0].type.tensor_type.shape.dim[1 if batch_first else 0].dim_value = 5
    onnx.save(graph, str(tmp_path / "declared.onnx"))
    assert main(["import", str(tmp_path / "declared.onnx"), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c",
                 "--heads", "accept next:a"]) == 0
    axis = 1 if batch_first else 0
    assert f"note: the graph's output declares its time axis {axis} fixed at 5 (the input's is free)" in \
        capsys.readouterr().out
    strings = words(3, seed=4)[:4, :9]
    assert np.allclose(run(load_model(tmp_path / "m.npz"), strings).heads[1:], onnx_outputs(net, free, strings),
                       atol=1e-5)
    assert main(["import", str(free), "-o", str(tmp_path / "f.npz"), "--alphabet", "a b c", "--heads",
                 "accept next:a"]) == 0
    assert "fixed at" not in capsys.readouterr().out


@pytest.mark.parametrize("batch_first, embedding", [(False, None), (True, 4)])
def test_a_graph_whose_batch_axis_alone_is_dynamic_imports_with_a_note(tmp_path, capsys, batch_first, embedding):
    """Dynamic axes on the batch alone still fix the length (the time axis, found through the embedding and the
    batch-first transpose): onnxruntime refuses another length, and the import says so."""
    torch.manual_seed(1)
    net = Exported("lstm", embedding=embedding, batch_first=batch_first)
    shape = (2, 3) if batch_first else (3, 2)
    dummy = torch.zeros(shape, dtype=torch.long) if embedding else torch.zeros(*shape, 3)
    batch = 0 if batch_first else 1
    path = tmp_path / "batch.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), (dummy,), str(path), input_names=["x"], output_names=["y"], opset_version=17,
                          dynamo=False, dynamic_axes={"x": {batch: "b"}, "y": {batch: "b"}})
    onnx_outputs(net, path, words(3, seed=2)[:4, :3])  # another batch size runs
    with pytest.raises(Exception, match="dimension"):  # another length does not
        onnx_outputs(net, path, words(3, seed=2)[:4, :5])
    assert main(["import", str(path), "-o", str(tmp_path / "b.npz"), "--alphabet", "a b c",
                 "--heads", "accept next:a"]) == 0
    time_axis = 1 if batch_first else 0
    shape_text = ("('b', 3)" if batch_first else "(3, 'b')") if embedding else "(3, 'b', 3)"
    assert f"note: the graph's input has the shape {shape_text}, whose time axis {time_axis} is fixed at 3: it was " \
           "exported for one length" in capsys.readouterr().out
    strings = words(3, seed=3)[:4, :3]
    assert np.allclose(run(load_model(tmp_path / "b.npz"), strings).heads[1:], onnx_outputs(net, path, strings),
                       atol=1e-5)


def test_older_opset_and_onnxruntime_agree(tmp_path):
    torch.manual_seed(9)
    net = Exported("lstm", layers=2, embedding=4)
    path = export(net, tmp_path / "m.onnx", opset=14)
    model = read_model(path, list("abc"), ["accept", "next:b"])
    strings = words(3)
    assert np.allclose(run(model, strings).heads[1:], onnx_outputs(net, path, strings), atol=1e-5)


@settings(max_examples=12, deadline=None)
@given(cell=st.sampled_from(sorted(KINDS)), K=st.integers(1, 4), hidden=st.integers(1, 5), layers=st.integers(1, 2),
       outputs=st.integers(1, 3), embedding=st.one_of(st.none(), st.integers(1, 4)), batch_first=st.booleans(),
       seed=st.integers(0, 2**16))
def test_random_exported_graphs_import_exactly(cell, K, hidden, layers, outputs, embedding, batch_first, seed,
                                               tmp_path_factory):
    torch.manual_seed(seed)
    net = Exported(cell, K=K, hidden=hidden, layers=layers, outputs=outputs, embedding=embedding,
                   batch_first=batch_first)
    path = export(net, tmp_path_factory.mktemp("o") / "m.onnx", K=K)
    model = read_model(path, [f"s{k}" for k in range(K)], [f"state:q{k}" for k in range(outputs)])
    strings = words(K, seed=seed, count=50)
    want = onnx_outputs(net, path, strings, K=K)
    got = run(model, strings).heads[1:]
    assert np.allclose(got, want, atol=1e-5)
    clear = np.abs(want) > 1e-5  # beyond float32 rounding, the decoded heads agree
    assert np.array_equal((got > 0)[clear], (want > 0)[clear])


def test_multi_layer_graphs_run_verify_and_extract(tmp_path, capsys):
    torch.manual_seed(13)
    net = Exported("lstm", K=2, hidden=3, layers=2, outputs=1)
    path = export(net, tmp_path / "m.onnx", K=2)
    want = onnx_outputs(net, path, np.array([[0, 1, 1, 0]]), K=2)[:, 0, 0] > 0
    run_verify_extract(path, tmp_path, capsys, want.tolist())


# ----- refusals --------------------------------------------------------------------------------------------------
def _edited(tmp_path, edit, **kw):
    torch.manual_seed(11)
    path = export(Exported(kw.pop("cell", "lstm"), **kw), tmp_path / "m.onnx")
    model = onnx.load(str(path))
    if edit:
        edit(model)
        onnx.save(model, str(path))
    return path


def _rnn_node(model):
    return next(n for n in model.graph.node if n.op_type in ("LSTM", "GRU", "RNN"))


def _set_attr(name, value):
    def edit(model):
        node = _rnn_node(model)
        for a in list(node.attribute):
            if a.name == name:
                node.attribute.remove(a)
        node.attribute.append(helper.make_attribute(name, value))
    return edit


def _add_input(slot, array, name="extra"):
    def edit(model):
        model.graph.initializer.append(numpy_helper.from_array(array, name))
        node = _rnn_node(model)
        while len(node.input) <= slot:
            node.input.append("")
        node.input[slot] = name
    return edit


def _zero_state_to_one(model):
    node = next(n for n in model.graph.node if n.op_type == "ConstantOfShape")
    del node.attribute[:]
    node.attribute.append(helper.make_attribute("value", numpy_helper.from_array(np.ones(1, np.float32))))


def _bf16(model):
    init = next(i for i in model.graph.initializer if i.name == "fc1.bias")
    init.data_type = onnx.TensorProto.BFLOAT16


def _huge(model):
    init = next(i for i in model.graph.initializer if i.name == "fc1.bias")
    del init.dims[:]
    init.dims.extend([1 << 20, 1 << 20])


def _custom_domain(model):
    _rnn_node(model).domain = "com.example"


def _transpose_cycle(model):
    """Two Transposes reading each other's outputs off the recurrent operator's input: a malformed graph whose
    side branch never ends (it recursed until Python gave up, exit 3)."""
    value = _rnn_node(model).input[0]
    model.graph.node.extend([helper.make_node("Transpose", [value], ["loop_a"]),
                             helper.make_node("Transpose", ["loop_a"], ["loop_b"]),
                             helper.make_node("Transpose", ["loop_b"], ["loop_a"])])


REFUSED = {
    "bidirectional": ({"bidirectional": True}, None, "runs bidirectional"),
    "relu rnn": ({"cell": "rnn", "nonlinearity": "relu"}, None, "activations Relu"),
    "gru reset": ({"cell": "gru"}, _set_attr("linear_before_reset", 0), "linear_before_reset=0"),
    "clip": ({}, _set_attr("clip", 3.0), "clips"),
    "reverse": ({}, _set_attr("direction", "reverse"), "runs reverse"),
    "hard sigmoid": ({}, _set_attr("activations", ["HardSigmoid", "Tanh", "Tanh"]), "activations HardSigmoid"),
    "input_forget": ({}, _set_attr("input_forget", 1), "input_forget"),
    "peepholes": ({}, _add_input(7, np.full((1, 15), 0.5, np.float32)), "peepholes"),
    "sequence_lens": ({}, _add_input(4, np.array([3, 3], np.int32)), "sequence_lens"),
    "nonzero state": ({}, _zero_state_to_one, "not provably zero"),
    "relu between linears": ({"middle": 4, "relu": True}, None, "activation relu"),
    "softmax over 3": ({"outputs": 3, "final": "softmax"}, None, "softmax over 3"),
    "bfloat16": ({}, _bf16, "bfloat16"),
    "huge initializer": ({}, _huge, "declares"),
    "custom domain": ({}, _custom_domain, "custom domain"),
    # (its loop_a is produced twice: refused as such now, before the side branch is followed)
    "transpose cycle": ({}, _transpose_cycle, "the value 'loop_a' is produced twice"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_unrepresentable_graphs_are_refused(case, tmp_path, capsys):
    kw, edit, needle = REFUSED[case]
    path = _edited(tmp_path, edit, **kw)
    heads = "accept next:a next:b" if case == "softmax over 3" else "accept next:a"
    err = cli_error(["import", str(path), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c", "--heads", heads],
                    capsys)
    assert needle in err and str(path) in err
    assert not (tmp_path / "m.npz").exists()


def test_zero_peepholes_are_no_peepholes(tmp_path):
    path = _edited(tmp_path, _add_input(7, np.zeros((1, 15), np.float32)))
    model = read_model(path, list("abc"), ["accept", "next:a"])
    strings = words(3)
    torch.manual_seed(11)
    net = Exported("lstm")
    assert np.allclose(run(model, strings).heads[1:], onnx_outputs(net, path, strings), atol=1e-5)


def test_bad_onnx_files_get_one_line(tmp_path, capsys):
    good = _edited(tmp_path, None).read_bytes()
    (tmp_path / "garbage.onnx").write_bytes(b"\x08\x07\xff\xff garbage" * 10)
    (tmp_path / "cut.onnx").write_bytes(good[: len(good) // 2])
    (tmp_path / "empty.onnx").write_bytes(b"")
    model = onnx.load(str(tmp_path / "m.onnx"))
    onnx.save(model, str(tmp_path / "external.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=0)
    argv = lambda name: ["import", str(tmp_path / name), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c",  # noqa
                         "--heads", "accept next:a"]
    assert "not an ONNX model" in cli_error(argv("garbage.onnx"), capsys)
    cli_error(argv("cut.onnx"), capsys)
    assert "not an ONNX model (no graph in it)" in cli_error(argv("empty.onnx"), capsys)  # said "0 inputs ()"
    assert main(argv("external.onnx")) == 0  # weights.bin beside it, as onnx.save writes it
    capsys.readouterr()
    assert np.array_equal(load_model(tmp_path / "m.npz").layers[0].weight_hh,
                          read_model(tmp_path / "m.onnx", list("abc"), ["accept", "next:a"]).layers[0].weight_hh)
    assert "holds LSTM layers, not gru" in cli_error(argv("m.onnx") + ["--cell", "gru"], capsys)
    # an initializer twice (onnx.checker refuses it; onnxruntime takes the last) was read, the last winning
    twice = onnx.load(str(tmp_path / "m.onnx"))
    copy = onnx.TensorProto()
    copy.CopyFrom(twice.graph.initializer[0])
    twice.graph.initializer.append(copy)
    onnx.save(twice, str(tmp_path / "twice.onnx"))
    assert f"initializer {copy.name!r} is defined twice" in cli_error(argv("twice.onnx"), capsys)


# ----- what torch.onnx.export writes by default, and external data --------------------------------------------
class HeadThenLast(torch.nn.Module):
    """Embedding -> LSTM/GRU -> Linear, and only then the last step: ``model(x)[:, -1]``."""

    def __init__(self, cell, layers=1, batch_first=True, last=True):
        super().__init__()
        self.embed = torch.nn.Embedding(3, 4)
        self.rnn = KINDS[cell](4, 5, num_layers=layers, batch_first=batch_first)
        self.fc = torch.nn.Linear(5, 2)
        self.batch_first, self.last = batch_first, last

    def forward(self, ids):
        y = self.fc(self.rnn(self.embed(ids))[0])
        if not self.last:
            return y
        return y[:, -1] if self.batch_first else y[-1]


def _export_ids(net, path, dynamo: bool):
    dummy = torch.zeros(2, 5, dtype=torch.long) if net.batch_first else torch.zeros(5, 2, dtype=torch.long)
    batch, time = (0, 1) if net.batch_first else (1, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            pytest.importorskip("onnxscript")  # torch's default exporter needs it (the [onnx] and [test] extras)
            dims = {batch: torch.export.Dim("batch"), time: torch.export.Dim("time")}
            torch.onnx.export(net.eval(), (dummy,), str(path), input_names=["ids"], output_names=["y"],
                              dynamo=True, dynamic_shapes=(dims,), verbose=False)
        else:
            axes = {"ids": {batch: "b", time: "t"}, "y": {0: "b"} if net.last else {batch: "b", time: "t"}}
            torch.onnx.export(net.eval(), (dummy,), str(path), input_names=["ids"], output_names=["y"],
                              dynamo=False, dynamic_axes=axes)
    return path


def _agrees_with_onnxruntime(net, path, length=11):
    """The imported model's single head (output 1 > output 0) against onnxruntime, on strings longer than the
    export's dummy input."""
    model = read_model(path, list("abc"), ["accept"])
    assert bool(model.extra.get("final_only")) == net.last
    strings = words(3, seed=4, count=30, longest=length)
    feed = strings if net.batch_first else strings.T.copy()
    y = ort.InferenceSession(str(path)).run(None, {"ids": feed.astype(np.int64)})[0].astype(np.float64)
    want = y[..., 1] - y[..., 0]  # (B,) for a last-step graph, else (B, T) or (T, B)
    got = run(model, strings).heads[:, :, 0].astype(np.float64)
    got = got[-1] if net.last else got[1:].T if net.batch_first else got[1:]
    assert np.allclose(got, want, atol=1e-5)
    assert np.array_equal(got > 0, want > 0)


@pytest.mark.parametrize("batch_first", [True, False])
def test_the_last_step_taken_after_the_head_is_read(batch_first, tmp_path):
    torch.manual_seed(5)
    net = HeadThenLast("lstm", batch_first=batch_first)
    _agrees_with_onnxruntime(net, _export_ids(net, tmp_path / "m.onnx", dynamo=False))


class TwoModules(torch.nn.Module):
    """Embedding -> one batch_first GRU -> another -> Linear, as two modules (not num_layers=2): the exporter
    writes Transpose -> Shape after the first, to size the second's zero initial state (refused as a fork before;
    a trial's model)."""

    def __init__(self, cell):
        super().__init__()
        self.embed = torch.nn.Embedding(3, 4)
        self.first, self.second = KINDS[cell](4, 6, batch_first=True), KINDS[cell](6, 5, batch_first=True)
        self.fc = torch.nn.Linear(5, 2)
        self.batch_first, self.last = True, False

    def forward(self, ids):
        return self.fc(self.second(self.first(self.embed(ids))[0])[0])


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_two_batch_first_modules_in_a_row_are_read_exactly(cell, tmp_path):
    torch.manual_seed(6)
    net = TwoModules(cell)
    _agrees_with_onnxruntime(net, _export_ids(net, tmp_path / "m.onnx", dynamo=False))


@pytest.mark.parametrize("cell, layers, last", [("lstm", 2, False), ("gru", 1, True)])
def test_torchs_default_exporter_is_read_exactly(cell, layers, last, tmp_path):
    """torch.onnx.export(dynamo=True), the default of recent torch: weights in m.onnx.data, Transpose + Reshape of the
    direction axis computed from Shape."""
    torch.manual_seed(len(cell) + layers)
    net = HeadThenLast(cell, layers=layers, last=last)
    path = _export_ids(net, tmp_path / "m.onnx", dynamo=True)
    _agrees_with_onnxruntime(net, path)


def test_torchs_default_exporter_unrolls_nn_rnn_which_is_refused(tmp_path, capsys):
    torch.manual_seed(2)
    path = _export_ids(HeadThenLast("rnn", last=False), tmp_path / "m.onnx", dynamo=True)
    err = cli_error(["import", str(path), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c", "--heads",
                     "accept"], capsys)
    assert "unrolled recurrence" in err and "dynamo=False" in err


def _external(tmp_path, location: str, payload: bytes | None = None):
    """The default test graph with its LSTM's R stored externally at ``location``."""
    model = onnx.load(str(_edited(tmp_path, None)))
    node = next(n for n in model.graph.node if n.op_type == "LSTM")
    tensor = next(t for t in model.graph.initializer if t.name == node.input[2])
    data = numpy_helper.to_array(tensor).astype("<f4").tobytes()
    tensor.ClearField("raw_data")
    del tensor.float_data[:]
    tensor.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(len(data)))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(tmp_path / "x.onnx"))
    return tmp_path / "x.onnx", data if payload is None else payload


@pytest.mark.parametrize("case, needle", [
    ("parent", "without '..'"), ("absolute", "without '..'"), ("symlink out", "not a regular file inside"),
    ("missing", "missing beside the model"), ("short", "does not fit"), ("folder", "not a regular file inside"),
])
def test_external_data_outside_the_models_folder_is_refused(case, needle, tmp_path, capsys):
    outside = tmp_path / "outside.bin"
    models = tmp_path / "models"
    models.mkdir()
    location = {"parent": "../outside.bin", "absolute": str(outside), "symlink out": "link.bin",
                "missing": "gone.bin", "short": "short.bin", "folder": "sub"}[case]
    path, data = _external(models, location)
    outside.write_bytes(data)
    (models / "link.bin").symlink_to(outside)
    (models / "short.bin").write_bytes(data[:-4])
    (models / "sub").mkdir()
    err = cli_error(["import", str(path), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c", "--heads",
                     "accept next:a"], capsys)
    assert needle in err
    (models / "w.bin").write_bytes(data)  # the same data beside the model is read
    path, _ = _external(models, "w.bin")
    assert read_model(path, list("abc"), ["accept", "next:a"]).layers[0].weight_hh.shape == (20, 5)


def test_an_output_over_the_external_data_it_reads_is_refused(tmp_path, capsys):
    """-o naming the external-data file (w.npz) replaced it before import could be run again (its weights lost)."""
    path, data = _external(tmp_path, "w.npz")
    (tmp_path / "w.npz").write_bytes(data)
    argv = ["--alphabet", "a b c", "--heads", "accept next:a"]
    err = cli_error(["import", str(path), "-o", str(tmp_path / "w.npz"), *argv], capsys)
    assert f"-o {tmp_path / 'w.npz'} is the file" in err and "nothing was written" in err
    assert (tmp_path / "w.npz").read_bytes() == data
    assert main(["import", str(path), "-o", str(tmp_path / "m.npz"), *argv]) == 0


class _ShapeGraph:
    """Just enough of the ONNX walker for onnx_shapes: nodes by output, constants by name."""

    def __init__(self, nodes, constants):
        self.producer = {out: n for n in nodes for out in n.output}
        self.tensors = {k: np.asarray(v, np.int64) for k, v in constants.items()}

    @staticmethod
    def attrs(node):
        return {a.name: helper.get_attribute_value(a) for a in node.attribute}

    def const(self, name, what):
        return self.tensors[name]


def _dims_graph(order, nested=0):
    """Shape(y) sliced into one part per entry of ``order`` (a tuple of axes multiplied), concatenated, then
    ``nested`` more levels of Concat(c, c) for a hostile graph."""
    nodes, constants, parts = [helper.make_node("Shape", ["y"], ["s"])], {}, []
    for k, axes in enumerate(order):
        names = []
        for a in axes:
            constants[f"lo{a}"], constants[f"hi{a}"] = [a], [a + 1]
            nodes.append(helper.make_node("Slice", ["s", f"lo{a}", f"hi{a}"], [f"d{k}_{a}"]))
            names.append(f"d{k}_{a}")
        while len(names) > 1:
            nodes.append(helper.make_node("Mul", names[:2], [f"m{k}_{len(names)}"]))
            names = [f"m{k}_{len(names)}", *names[2:]]
        parts.append(names[0])
    nodes.append(helper.make_node("Concat", parts, ["c0"], axis=0))
    for level in range(nested):
        nodes.append(helper.make_node("Concat", [f"c{level}", f"c{level}"], [f"c{level + 1}"], axis=0))
    return _ShapeGraph(nodes, constants), helper.make_node("Reshape", ["y", f"c{nested}"], ["out"])


@pytest.mark.parametrize("order, merges", [
    (((0,), (1,), (2, 3)), True),  # [T, B, 1 * H]: what the dynamo exporter writes
    (((0,), (1, 2), (3,)), True),  # the size-1 axis merged into B instead: the same data
    (((1,), (0,), (2, 3)), False),  # T and B swapped
    (((0,), (1,), (2,), (3,)), False),  # nothing dropped
    (((0,), (2, 3)), False),  # B lost
])
def test_a_computed_reshape_is_read_only_when_it_drops_the_direction_axis(order, merges):
    from fsm_lstm.onnx_shapes import merges_axis

    graph, reshape = _dims_graph(order)
    assert merges_axis(graph, reshape, "y", 2) is merges


def test_a_hostile_nest_of_concats_stays_cheap():
    from fsm_lstm.onnx_shapes import merges_axis

    graph, reshape = _dims_graph(((0,), (1,), (2, 3)), nested=30)  # 2**30 dimensions if expanded
    assert merges_axis(graph, reshape, "y", 2) is False


class _Scaled(Exported):
    """An input scaled before the recurrent operator: not one-hot, and no embedding."""

    def forward(self, x):
        return super().forward(x * 2.0)


def test_a_transformed_input_is_named_without_guessing_a_one_hot_encoding(tmp_path, capsys):
    """A Mul on the input was described as "(a one-hot encoding in the graph?)", which it is not."""
    path = export(_Scaled("gru"), tmp_path / "scaled.onnx")
    err = cli_error(["import", str(path), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c", "--heads",
                     "accept next:a"], capsys)
    assert "(Mul) transforms the input before the recurrent operators;" in err and "one-hot encoding" not in err
    assert not (tmp_path / "m.npz").exists()


class FinalState(torch.nn.Module):
    """Embedding -> recurrent module -> Linear on the final hidden state h_n[-1], as many classifiers are written
    (refused before, with advice to export the last step of the output instead)."""

    def __init__(self, cell, layers=1, batch_first=True, state="h"):
        super().__init__()
        self.embed = torch.nn.Embedding(3, 4)
        self.rnn = KINDS[cell](4, 6, num_layers=layers, batch_first=batch_first)
        self.fc = torch.nn.Linear(6, 2)
        self.batch_first, self.last, self.state = batch_first, True, state

    def forward(self, ids):
        final = self.rnn(self.embed(ids))[1]
        if isinstance(final, tuple):  # an LSTM's (h_n, c_n)
            final = final[0] if self.state == "h" else final[1]
        return self.fc(final[-1])


@pytest.mark.parametrize("cell, layers, batch_first, dynamo", [
    ("gru", 1, True, False), ("lstm", 2, True, False), ("rnn", 2, False, False), ("lstm", 1, False, False),
    ("gru", 2, True, True), ("lstm", 1, True, True)])
def test_a_head_on_h_n_is_read_exactly(cell, layers, batch_first, dynamo, tmp_path, capsys):
    torch.manual_seed(layers + len(cell))
    net = FinalState(cell, layers, batch_first)
    path = _export_ids(net, tmp_path / "m.onnx", dynamo=dynamo)
    _agrees_with_onnxruntime(net, path)
    assert main(["import", str(path), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c", "--heads", "accept"]) == 0
    assert "reads the final hidden state (h_n)" in capsys.readouterr().out
    strings = words(3, seed=7, count=20, longest=9)  # and torch itself, on the ids as they are
    ids = torch.from_numpy(strings if batch_first else strings.T.copy()).long()
    with torch.no_grad():
        y = net.eval()(ids).double().numpy()
    got = run(load_model(tmp_path / "m.npz"), strings).heads[-1, :, 0]
    assert np.allclose(got, y[:, 1] - y[:, 0], atol=1e-5)


def test_a_head_on_an_lstms_c_n_is_refused(tmp_path, capsys):
    """c_n is no output of the network's steps: it is never read as h."""
    torch.manual_seed(3)
    path = _export_ids(FinalState("lstm", state="c"), tmp_path / "m.onnx", dynamo=False)
    err = cli_error(["import", str(path), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c", "--heads",
                     "accept"], capsys)
    assert "final cell state (Y_c, torch's c_n)" in err and not (tmp_path / "m.npz").exists()


class _BatchFirstInTimeFirstOut(Exported):
    """Input [B, T, K], transposed to time first; output [T, B, M]."""

    def forward(self, x):
        return super().forward(x.transpose(0, 1))


@pytest.mark.parametrize("fixed_axis, noted", [(0, True), (1, False)])
def test_the_output_note_reads_the_outputs_own_time_axis(fixed_axis, noted, tmp_path, capsys):
    """The output's time axis is not the input's when the graph transposes: a fixed batch axis of the output is
    no fixed length, and a fixed time axis is one."""
    net = _BatchFirstInTimeFirstOut("gru")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), (torch.zeros(2, 3, 3),), str(tmp_path / "free.onnx"), input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "B", 1: "T"}, "y": {0: "T", 1: "B"}},
                          opset_version=17, dynamo=False)
    graph = onnx.load(str(tmp_path / "free.onnx"))
    graph.graph.output[0].type.tensor_type.shape.dim[fixed_axis].dim_value = 4
    onnx.save(graph, str(tmp_path / "declared.onnx"))
    assert main(["import", str(tmp_path / "declared.onnx"), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c",
                 "--heads", "accept next:a"]) == 0
    out = capsys.readouterr().out
    assert ("declares its time axis 0 fixed at 4" in out) == noted and "time axis 1" not in out


def _stacked_final_states(widths: tuple[int, int], tmp_path):
    """ids -> Gather (embedding) -> LSTM (widths[0]) -> Squeeze -> LSTM (widths[1]); Concat of both layers' Y_h,
    Gather -1 (torch's h_n[-1]), Gemm: written with onnx.helper, as another exporter may write it."""
    rng = np.random.default_rng(0)
    inits, embed = {"emb": rng.normal(size=(3, 4)), "axis1": np.array([1]), "last": np.array(-1)}, 4
    nodes = [helper.make_node("Gather", ["emb", "ids"], ["e"], axis=0)]
    for k, (name, width) in enumerate(zip("rq", widths)):
        inits |= {f"{name}W": rng.normal(size=(1, 4 * width, embed)),
                  f"{name}R": rng.normal(size=(1, 4 * width, width)),
                  f"{name}B": rng.normal(size=(1, 8 * width))}
        nodes.append(helper.make_node("LSTM", ["e" if k == 0 else "s", f"{name}W", f"{name}R", f"{name}B"],
                                      [f"{name}Y", f"{name}Yh"], hidden_size=width))
        if k == 0:
            nodes.append(helper.make_node("Squeeze", ["rY", "axis1"], ["s"]))
        embed = width
    inits |= {"gw": rng.normal(size=(1, widths[1])), "gb": rng.normal(size=1)}
    nodes += [helper.make_node("Concat", ["rYh", "qYh"], ["hn"], axis=0),
              helper.make_node("Gather", ["hn", "last"], ["hl"], axis=0),
              helper.make_node("Gemm", ["hl", "gw", "gb"], ["y"], transB=1)]
    tensors = [numpy_helper.from_array(v.astype(np.int64 if v.dtype.kind == "i" else np.float32), k)
               for k, v in inits.items()]
    graph = helper.make_graph(nodes, "stacked", [helper.make_tensor_value_info("ids", onnx.TensorProto.INT64,
                                                                               ["T", "B"])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)], tensors)
    path = tmp_path / f"stacked{widths[0]}_{widths[1]}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_final_states_of_different_widths_are_not_concatenated(tmp_path, capsys):
    """ONNX cannot join Y_h of 5 and 4 units (onnxruntime refuses the graph): the import refused it too, where it
    read the last layer's state of a graph that cannot run."""
    with pytest.raises(Exception, match="(?i)merge shape|shape"):
        ort.InferenceSession(str(_stacked_final_states((5, 4), tmp_path)))
    err = cli_error(["import", str(_stacked_final_states((5, 4), tmp_path)), "-o", str(tmp_path / "m.npz"),
                     "--alphabet", "a b c", "--heads", "accept"], capsys)
    assert "concatenates final states of 4 and 5 units" in err and not (tmp_path / "m.npz").exists()
    same = _stacked_final_states((5, 5), tmp_path)  # the same graph with equal widths runs, and imports exactly
    assert main(["import", str(same), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c", "--heads", "accept"]) == 0
    strings = words(3, seed=3, count=20, longest=9)
    session = ort.InferenceSession(str(same))
    want = np.array([session.run(None, {"ids": s[:, None].astype(np.int64)})[0].reshape(-1)[0] for s in strings])
    got = run(load_model(tmp_path / "m.npz"), strings).heads[-1, :, 0]
    assert np.allclose(got, want, atol=1e-5)
