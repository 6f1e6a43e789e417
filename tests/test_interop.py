"""Export to ONNX and torch, import of state_dicts and safetensors, plots and drawings of trained models."""

from __future__ import annotations

import dataclasses
import json
import struct

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from fsm_lstm.cli import main
from fsm_lstm.compiler import compile_grammar
from fsm_lstm.errors import UserError
from fsm_lstm.generate import walks
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.importer import model_from_tensors, read_tensors
from fsm_lstm.model import load_model, save_model
from fsm_lstm.reading import reading_of
from fsm_lstm.runtime import run
from fsm_lstm.torch_export import load_torch, module_class, save_torch

# what every state_dict import says it cannot see, for the modules read (written out here, as the user reads it)
STATE_DICT_NOTE = ("a state_dict holds weights only: read as {}; a module without weights between them (a ReLU, a "
                   "LayerNorm without affine) or an Embedding's max_norm is not in it and would make this another "
                   "network (an .onnx export records them)")


class Tagger(torch.nn.Module):
    """A user's model as people write them: a recurrent layer and a linear head."""

    def __init__(self, kind, layers: int = 1) -> None:
        super().__init__()
        self.encoder = kind(3, 6, num_layers=layers)
        self.fc = torch.nn.Linear(6, 2)

    def forward(self, x):
        return self.fc(self.encoder(x)[0])


@pytest.mark.parametrize("name", ["reber", "embedded_reber", "tomita5"])
def test_onnx_export_runs_in_onnxruntime_with_the_same_decoded_heads(name, tmp_path):
    g = load_grammar(name)
    model = compile_grammar(g)
    path = tmp_path / "m.onnx"
    assert main(["export", name, "--to", "onnx", "-o", str(path)]) == 0
    session = ort.InferenceSession(str(path))
    assert [i.name for i in session.get_inputs()] == ["x"] and [o.name for o in session.get_outputs()] == ["heads"]
    strings = walks(g, np.random.default_rng(0), 6, 300, leave=0.02)
    logits = session.run(["heads"], {"x": np.eye(len(g.alphabet), dtype=np.float32)[strings.T]})[0]
    assert logits.shape == (300, 6, len(model.heads)) and logits.dtype == np.float32
    assert np.array_equal(logits > 0, run(model, strings).decoded()[1:])


def test_torch_export_loads_with_weights_only_and_rebuilds_the_module(tmp_path):
    model = compile_grammar(load_grammar("reber"))
    path = tmp_path / "m.pt"
    save_torch(model, path)
    data = torch.load(path, weights_only=True)
    assert json.loads(data["meta"])["alphabet"] == list("BTPSXVE")
    net = module_class().from_file(path)
    strings = np.random.default_rng(1).integers(0, 7, size=(4, 50))
    with torch.no_grad():
        logits = net(torch.nn.functional.one_hot(torch.from_numpy(strings.T), 7).float()).numpy()
    assert np.array_equal(logits > 0, run(model, strings).decoded()[1:])
    back = load_torch(path)
    assert all(np.array_equal(v, back.arrays()[k]) for k, v in model.arrays().items())


@pytest.mark.parametrize("kind, layers", [(torch.nn.LSTM, 1), (torch.nn.GRU, 2), (torch.nn.RNN, 1)])
def test_imported_torch_model_round_trips(kind, layers, tmp_path, capsys):
    torch.manual_seed(3)
    user = Tagger(kind, layers)
    torch.save(user.state_dict(), tmp_path / "user.pt")
    assert main(["import", str(tmp_path / "user.pt"), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c",
                 "--heads", "accept next:a"] + (["--rnn-tanh"] if kind is torch.nn.RNN else [])) == 0
    model = load_model(tmp_path / "m.npz")
    assert model.cell == {torch.nn.LSTM: "lstm", torch.nn.GRU: "gru", torch.nn.RNN: "rnn"}[kind]
    strings = np.random.default_rng(2).integers(0, 3, size=(5, 40))
    with torch.no_grad():
        want = user(torch.nn.functional.one_hot(torch.from_numpy(strings.T), 3).float()).numpy()
    assert np.allclose(run(model, strings).heads[1:], want, atol=1e-5)
    save_torch(model, tmp_path / "again.pt")  # and back out again, unchanged
    again = load_torch(tmp_path / "again.pt")
    assert all(np.array_equal(v, again.arrays()[k]) for k, v in model.arrays().items())


def test_an_exported_torch_file_imports_back_with_its_meta_and_nothing_else(tmp_path, capsys):
    """A user's GRU word classifier (markers s and e, verdict after the whole word): imported with flags, exported
    to torch, imported back with none; the model is the same, meta included, and its verdicts are torch's."""
    torch.manual_seed(6)
    user = Tagger(torch.nn.GRU)
    torch.save(user.state_dict(), tmp_path / "user.pt")
    flags = ["--alphabet", "s a e", "--heads", "accept", "--start-marker", "s", "--end-marker", "e"]
    assert main(["import", str(tmp_path / "user.pt"), "-o", str(tmp_path / "m.npz"), *flags]) == 0
    assert main(["export", str(tmp_path / "m.npz"), "--to", "torch", "-o", str(tmp_path / "m.pt")]) == 0
    assert f"`fsm-lstm import {tmp_path / 'm.pt'} -o MODEL.npz` reads it back" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "m.pt"), "-o", str(tmp_path / "back.npz")]) == 0
    assert "(from fsm-lstm's torch export, with its meta)" in capsys.readouterr().out
    model, back = load_model(tmp_path / "m.npz"), load_model(tmp_path / "back.npz")
    assert back.meta == model.meta and (back.meta["start_marker"], back.meta["end_marker"]) == ("s", "e")
    assert all(np.array_equal(v, back.arrays()[k]) for k, v in model.arrays().items())
    for n in range(40):  # the words a^n, framed: s a^n e
        framed = np.array([[0] + [1] * n + [2]])
        with torch.no_grad():
            logits = user(torch.nn.functional.one_hot(torch.from_numpy(framed.T), 3).float()).numpy()[-1, 0]
        assert run(back, framed).decoded()[-1, 0, 0] == (logits[1] > logits[0])
    # flags beside such a file, and no flags beside any other file: one line each, exit 2, nothing written
    assert main(["import", str(tmp_path / "m.pt"), "-o", str(tmp_path / "x.npz"), "--final-only"]) == 2
    assert "keeps its reading in its meta; leave out --final-only" in capsys.readouterr().err
    assert main(["import", str(tmp_path / "user.pt"), "-o", str(tmp_path / "x.npz"), "--alphabet", "s a e"]) == 2
    assert "import needs --heads as well" in capsys.readouterr().err
    assert main(["import", str(tmp_path / "user.pt"), "-o", str(tmp_path / "x.npz")]) == 2
    assert "import needs --alphabet and --heads" in capsys.readouterr().err
    (tmp_path / "user.pkl").write_bytes((tmp_path / "user.pt").read_bytes())
    assert main(["import", str(tmp_path / "user.pkl"), "-o", str(tmp_path / "x.npz")]) == 2
    assert "unknown format '.pkl'" in capsys.readouterr().err  # the format first
    assert not (tmp_path / "x.npz").exists()


def test_a_checkpoint_shaped_like_an_export_is_refused_alone_and_read_as_a_state_dict_with_flags(tmp_path, capsys):
    """A user's checkpoint {"state_dict", "meta"} has the shape of fsm-lstm's torch export: without flags its meta
    must make a model (one line otherwise, never read some other way); with --alphabet and --heads its state_dict
    is read as any other, whatever its meta says."""
    torch.manual_seed(8)
    user = Tagger(torch.nn.LSTM)
    strings = np.random.default_rng(9).integers(0, 3, size=(20, 12))
    with torch.no_grad():
        want = user(torch.nn.functional.one_hot(torch.from_numpy(strings.T), 3).float()).numpy()
    for meta in ("epoch 12", json.dumps({"alphabet": ["x"], "heads": ["accept"], "lr": 0.1}), "[" * 100_000):
        torch.save({"state_dict": user.state_dict(), "meta": meta}, tmp_path / "ckpt.pt")
        assert main(["import", str(tmp_path / "ckpt.pt"), "-o", str(tmp_path / "m.npz")]) == 2
        err = capsys.readouterr().err
        assert "not a model that fsm-lstm export wrote" in err and "import --alphabet and --heads" in err
        assert err.count("\n") == 1 and not (tmp_path / "m.npz").exists()
        assert main(["import", str(tmp_path / "ckpt.pt"), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c",
                     "--heads", "accept"]) == 0  # one label for 2 outputs: output 1 - output 0
        assert np.allclose(run(load_model(tmp_path / "m.npz"), strings).heads[1:, :, 0], want[..., 1] - want[..., 0],
                           atol=1e-5)
        (tmp_path / "m.npz").unlink()
    # an export whose tensors are not the model's: integer heads, a stray tensor, a meta that does not fit
    exported = compile_grammar(load_grammar("parity"))
    save_torch(exported, tmp_path / "good.pt")
    good = torch.load(tmp_path / "good.pt", weights_only=True)
    bad = {"integer heads": {**good["state_dict"], "heads.bias": good["state_dict"]["heads.bias"].long()},
           "stray tensor": {**good["state_dict"], "rnn.extra": torch.zeros(2)}}
    for why, state in bad.items():
        torch.save({"state_dict": state, "meta": good["meta"]}, tmp_path / "bad.pt")
        assert main(["import", str(tmp_path / "bad.pt"), "-o", str(tmp_path / "b.npz")]) == 2, why
        err = capsys.readouterr().err
        assert "not a model that fsm-lstm export wrote" in err and err.count("\n") == 1, why
    torch.save({"state_dict": good["state_dict"], "meta": json.dumps({**json.loads(good["meta"]), "alphabet": ["a"]})},
               tmp_path / "bad.pt")
    assert main(["import", str(tmp_path / "bad.pt"), "-o", str(tmp_path / "b.npz")]) == 2
    assert not (tmp_path / "b.npz").exists()


def write_safetensors(path, tensors: dict[str, np.ndarray]) -> None:
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def test_safetensors_import_matches_the_state_dict(tmp_path):
    torch.manual_seed(4)
    user = Tagger(torch.nn.LSTM)
    tensors = {k: v.detach().numpy() for k, v in user.state_dict().items()}
    write_safetensors(tmp_path / "user.safetensors", tensors)
    read = read_tensors(tmp_path / "user.safetensors")
    assert read.keys() == tensors.keys() and all(np.array_equal(read[k], tensors[k]) for k in tensors)
    model = model_from_tensors(read, ["a", "b", "c"], ["accept", "next:b"])
    assert model.cell == "lstm"
    assert model.extra["imported"] == {"format": "torch", "layers": ["encoder (LSTM, 1 layer)", "fc (Linear)"],
                                       "notes": [STATE_DICT_NOTE.format("encoder -> fc")]}


@pytest.mark.parametrize("change, needle", [
    (lambda t: t, "2 outputs but 3 head labels"),
    (lambda t: {k: v for k, v in t.items() if not k.startswith("fc.")}, "one linear head"),
    (lambda t: {**t, **{"other." + k.split(".", 1)[1]: v for k, v in t.items() if k.startswith("encoder.")}},
     "one recurrent module"),
    (lambda t: {k: v for k, v in t.items() if "bias_hh" not in k}, "lacks bias_hh"),
])
def test_tensors_that_do_not_fit_get_clear_errors(change, needle):
    torch.manual_seed(5)
    tensors = change({k: v.detach().numpy() for k, v in Tagger(torch.nn.GRU).state_dict().items()})
    with pytest.raises(UserError, match=needle):
        model_from_tensors(tensors, ["a", "b", "c"], ["accept", "next:a", "next:b"])


def test_import_refuses_unknown_files(tmp_path, capsys):
    (tmp_path / "x.pkl").write_bytes(b"1234")
    assert main(["import", str(tmp_path / "x.pkl"), "-o", str(tmp_path / "m.npz"), "--alphabet", "a",
                 "--heads", "accept"]) == 2
    (tmp_path / "x.safetensors").write_bytes(b"\x01")
    assert main(["import", str(tmp_path / "x.safetensors"), "-o", str(tmp_path / "m.npz"), "--alphabet", "a",
                 "--heads", "accept"]) == 2
    err = capsys.readouterr().err
    assert "unknown format" in err and "not a safetensors file" in err
    assert not (tmp_path / "m.npz").exists()


def test_plot_writes_a_png_of_the_expected_size(tmp_path, capsys):
    path = tmp_path / "trace.png"
    assert main(["plot", "reber", "BTSSXXTVVE", "-o", str(path)]) == 0
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    width, height = struct.unpack(">II", data[16:24])
    assert f"({width} x {height} pixels)" in capsys.readouterr().out
    assert (width, height) == (600, 1240)


def test_draw_a_trained_model_draws_its_extracted_automaton(tmp_path):
    model = compile_grammar(load_grammar("tomita3"))
    blind = dataclasses.replace(model, units=tuple(f"u{k}" for k in range(model.hidden_size)), extra={})
    save_model(blind, tmp_path / "blind.npz")
    assert main(["draw", str(tmp_path / "blind.npz"), "-o", str(tmp_path / "a.svg")]) == 0
    svg = (tmp_path / "a.svg").read_text()
    assert svg.count("<g id=\"node") == 4 + 1  # four states and the start marker


def test_onnx_export_of_a_word_classifier_says_how_to_read_it_back(tmp_path, capsys):
    """The ONNX graph gives every step's heads: exporting a word classifier dropped its reading silently, and
    importing the file back gave a per-prefix model. The file now keeps its labels and reading in its metadata,
    and the export says how to read it, with every flag for a copy without them: both bring back the same
    verdicts."""
    import shlex


    torch.manual_seed(5)
    user = Tagger(torch.nn.GRU)
    user.encoder = torch.nn.GRU(4, 6)
    torch.save(user.state_dict(), tmp_path / "user.pt")
    assert main(["import", str(tmp_path / "user.pt"), "-o", str(tmp_path / "m.npz"), "--alphabet", "<s> a b </s>",
                 "--heads", "accept next:a", "--start-marker", "<s>", "--end-marker", "</s>"]) == 0
    capsys.readouterr()
    assert main(["export", str(tmp_path / "m.npz"), "--to", "onnx", "-o", str(tmp_path / "m.onnx")]) == 0
    out = capsys.readouterr().out
    note = out.splitlines()[-1]
    assert "feed it <s> WORD </s> and read its verdict at the last step" in out and "fsm_lstm.labels" in note
    plain = shlex.split(note.split("`")[1])  # the file keeps its labels: the plain command reads it back
    assert plain == ["fsm-lstm", "import", str(tmp_path / "m.onnx"), "-o", "MODEL.npz"]
    assert main(["import", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "back.npz")]) == 0
    assert "from the file's fsm_lstm.labels metadata" in capsys.readouterr().out
    command = shlex.split(note.split("imports with `")[1].rstrip("`"))  # for a copy without them: every flag
    assert command[:3] == ["fsm-lstm", "import", str(tmp_path / "m.onnx")] and "MODEL.npz" in command
    assert command[command.index("--alphabet") + 1] == "<s> a b </s>"  # the one-hot order, which a user can't see
    assert command[command.index("--heads") + 1] == "accept next:a"
    assert command[-5:] == ["--final-only", "--start-marker", "<s>", "--end-marker", "</s>"]
    bare = onnx.load(str(tmp_path / "m.onnx"))
    del bare.metadata_props[:]
    onnx.save(bare, str(tmp_path / "bare.onnx"))
    command[command.index(str(tmp_path / "m.onnx"))] = str(tmp_path / "bare.onnx")
    command[command.index("MODEL.npz")] = str(tmp_path / "flagged.npz")
    assert main(command[1:]) == 0
    original = load_model(tmp_path / "m.npz")
    for name in ("back.npz", "flagged.npz"):
        back = load_model(tmp_path / name)
        assert reading_of(back) == reading_of(original) and back.alphabet == original.alphabet
        assert back.heads == original.heads
        for word in ("", "a", "a b b a", "b b b b b a"):
            capsys.readouterr()
            assert main(["run", str(tmp_path / "m.npz"), word, "--json"]) == 0
            want = json.loads(capsys.readouterr().out)
            assert main(["run", str(tmp_path / name), word, "--json"]) == 0
            got = json.loads(capsys.readouterr().out)
            assert got["read"] == f"<s> {word} </s>".replace("  ", " ") and got["accept"] == want["accept"]
            assert abs(got["logit"] - want["logit"]) < 1e-5


@pytest.mark.parametrize("value, needle", [
    ("{", "metadata is not JSON"),
    ('{"alphabet": ["a"]}', "not an object of exactly alphabet"),
    ('{"alphabet": [1], "heads": ["accept"], "final_only": false, "start_marker": null, "end_marker": null, '
     '"argmax": false, "nonempty": false, "unknown_start": false, "units": ["u"]}',
     "alphabet is not a list of strings"),
    ('{"alphabet": ["a", "b", "c"], "heads": ["accept", "next:a"], "final_only": "yes", "start_marker": null, '
     '"end_marker": null, "argmax": false, "nonempty": false, "unknown_start": false, "units": ["u"]}',
     "final_only is not true or false"),
    ('{"alphabet": ["a", "b", "c"], "heads": ["accept", "next:a"], "final_only": false, "start_marker": null, '
     '"end_marker": null, "argmax": false, "nonempty": false, "unknown_start": false, "units": ["u"]}',
     "labelled by"),
    ("x" * 10_001, "10,001 characters, over the limit of 10,000"),
], ids=["not-json", "keys", "alphabet", "final-only", "units", "too-long"])
def test_hostile_onnx_labels_get_one_line(value, needle, tmp_path, capsys, monkeypatch):
    """The metadata of a file from anywhere is checked as what the export writes, never trusted (the limit is
    lowered from 2^28 characters, so that the test need not write such a file)."""
    monkeypatch.setattr("fsm_lstm.onnx_labels.MAX_META", 10_000)
    user = Tagger(torch.nn.GRU)
    torch.save(user.state_dict(), tmp_path / "user.pt")
    assert main(["import", str(tmp_path / "user.pt"), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b c",
                 "--heads", "accept next:a"]) == 0
    assert main(["export", str(tmp_path / "m.npz"), "--to", "onnx", "-o", str(tmp_path / "m.onnx")]) == 0
    graph = onnx.load(str(tmp_path / "m.onnx"))
    graph.metadata_props[0].value = value
    onnx.save(graph, str(tmp_path / "m.onnx"))
    capsys.readouterr()
    assert main(["import", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "back.npz")]) == 2
    err = capsys.readouterr().err
    assert needle in err and "give --alphabet and --heads" in err and err.count("\n") == 1, err
    assert not (tmp_path / "back.npz").exists()
    assert main(["import", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "back.npz"), "--final-only"]) == 2
    assert "leave out --final-only" in capsys.readouterr().err  # flags would change what the export stored
    assert main(["import", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "back.npz"), "--alphabet", "a b c",
                 "--heads", "accept next:a"]) == 0  # given both, the graph alone is read


def test_a_machines_outputs_from_a_plain_linear_layer_carry_a_note_on_how_they_are_read():
    """out: heads from a Linear layer are each read as logit > 0; a network trained with a softmax picks the
    largest instead (a trial's torch network trained with cross-entropy imported without a word). Acceptor heads
    (accept, next:) are sigmoid by nature: no note."""
    torch.manual_seed(4)
    tensors = {k: v.detach().numpy() for k, v in Tagger(torch.nn.LSTM).state_dict().items()}
    as_machine = model_from_tensors(tensors, ["a", "b", "c"], ["out:x", "out:y"])
    assert any("softmax" in note and "--argmax" in note for note in as_machine.extra["imported"]["notes"])
    as_acceptor = model_from_tensors(tensors, ["a", "b", "c"], ["accept", "next:b"])
    assert as_acceptor.extra["imported"]["notes"] == [STATE_DICT_NOTE.format("encoder -> fc")]  # that alone


def test_a_model_whose_meta_grammar_is_not_a_grammar_says_so(tmp_path, capsys):
    """A compiled model's meta.grammar that is not TOML got a bare "not valid TOML" from verify, naming nothing."""
    model = compile_grammar(load_grammar("tomita3"))
    save_model(dataclasses.replace(model, extra={**model.extra, "grammar": "this is [not toml"}), tmp_path / "m.npz")
    assert main(["verify", str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fsm-lstm: error: the grammar the model carries (meta.grammar) is not one: not valid TOML")
    assert err.count("\n") == 1


def test_a_float64_network_exports_to_a_float64_torch_module_and_a_float32_onnx_graph_that_says_so(tmp_path, capsys):
    """A float64 torch GRU, imported (meta.precision float64): its torch export rebuilds a float64 module whose
    logits are fsm-lstm's float64 ones to 1e-12; the ONNX graph is float32 (onnxruntime has no float64 GRU
    kernel) and the export says that its weights were rounded."""
    torch.manual_seed(12)
    rnn, head = torch.nn.GRU(2, 3).double(), torch.nn.Linear(3, 1).double()
    torch.save({"rnn." + k: v for k, v in rnn.state_dict().items()} | {"head." + k: v for k, v in
                                                                       head.state_dict().items()}, tmp_path / "u.pt")
    assert main(["import", str(tmp_path / "u.pt"), "-o", str(tmp_path / "m.npz"), "--alphabet", "a b", "--heads",
                 "accept"]) == 0
    model = load_model(tmp_path / "m.npz")
    assert main(["export", str(tmp_path / "m.npz"), "--to", "torch", "-o", str(tmp_path / "m.pt")]) == 0
    assert "inputs one-hot float64" in capsys.readouterr().out
    (tmp_path / "m.pt").rename(tmp_path / "m.bin")  # the API reads the file whatever its name
    net = module_class().from_file(tmp_path / "m.bin")
    strings = np.random.default_rng(13).integers(0, 2, size=(6, 25))
    x = torch.nn.functional.one_hot(torch.from_numpy(strings.T), 2).double()
    with torch.no_grad():
        ours_in_torch, users = net(x).numpy()[..., 0], head(rnn(x)[0]).numpy()[..., 0]
    assert next(net.parameters()).dtype == torch.float64
    assert np.allclose(ours_in_torch, run(model, strings).heads[1:, :, 0], atol=1e-12, rtol=0)
    assert np.allclose(users, run(model, strings).heads[1:, :, 0], atol=1e-12, rtol=0)
    assert main(["export", str(tmp_path / "m.npz"), "--to", "onnx", "-o", str(tmp_path / "m.onnx")]) == 0
    assert "the ONNX graph in float32, with its weights rounded" in capsys.readouterr().out
    logits = ort.InferenceSession(str(tmp_path / "m.onnx")).run(["heads"], {"x": x.numpy().astype(np.float32)})[0]
    assert np.allclose(logits[..., 0], users, atol=1e-5)


def test_onnx_export_keeps_unknown_start_units_and_nonempty(tmp_path, capsys):
    """The metadata lost a compiled model's unknown start (its import then failed verify against the grammar it
    was compiled from) and its unit labels, and the printed command left out --nonempty."""
    assert main(["compile", "tomita3", "--unknown-start", "-o", str(tmp_path / "t3.npz")]) == 0
    assert main(["export", str(tmp_path / "t3.npz"), "--to", "onnx", "-o", str(tmp_path / "t3.onnx")]) == 0
    assert main(["import", str(tmp_path / "t3.onnx"), "-o", str(tmp_path / "back.npz")]) == 0
    original, back = load_model(tmp_path / "t3.npz"), load_model(tmp_path / "back.npz")
    assert back.units == original.units and back.extra.get("unknown_start") is True
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "back.npz"), "--grammar", "tomita3", "--max-len", "6"]) == 0
    user = Tagger(torch.nn.GRU)
    torch.save(user.state_dict(), tmp_path / "user.pt")
    assert main(["import", str(tmp_path / "user.pt"), "-o", str(tmp_path / "w.npz"), "--alphabet", "<s> a </s>",
                 "--heads", "accept next:a", "--start-marker", "<s>", "--end-marker", "</s>", "--nonempty"]) == 0
    capsys.readouterr()
    assert main(["export", str(tmp_path / "w.npz"), "--to", "onnx", "-o", str(tmp_path / "w.onnx")]) == 0
    assert capsys.readouterr().out.rstrip().endswith("--nonempty`")
    assert main(["import", str(tmp_path / "w.onnx"), "-o", str(tmp_path / "w2.npz")]) == 0
    out = capsys.readouterr().out
    assert "--start-marker" not in out  # no advice to flag markers the metadata already read
    assert reading_of(load_model(tmp_path / "w2.npz")) == reading_of(load_model(tmp_path / "w.npz"))


def test_a_labelled_onnx_import_reads_the_file_once(tmp_path, capsys, monkeypatch):
    """The labels are read from the network the import reads, not from a second reading of the file."""
    import fsm_lstm.import_onnx as import_onnx

    assert main(["export", "parity", "--to", "onnx", "-o", str(tmp_path / "p.onnx")]) == 0
    calls = []
    original = import_onnx.read_onnx
    monkeypatch.setattr(import_onnx, "read_onnx", lambda path: calls.append(path) or original(path))
    assert main(["import", str(tmp_path / "p.onnx"), "-o", str(tmp_path / "p.npz")]) == 0
    assert len(calls) == 1 and load_model(tmp_path / "p.npz").heads == compile_grammar(load_grammar("parity")).heads
