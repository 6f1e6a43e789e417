"""Models from other frameworks, read exactly or not at all, and turned into the documented model format.

``read_model`` picks the reader by the file's suffix: ``.pt``/``.pth``/``.safetensors`` (``import_torch``),
``.keras`` and ``.h5``/``.hdf5`` (``import_keras``), ``model.json`` or a folder holding one (TensorFlow.js
Layers, ``import_tfjs``), ``.onnx`` (``import_onnx``). Each reader gives a :class:`~.import_common.Network`;
:func:`assemble` labels it. The rules of assembly, the same for every format:

- an embedding (one row per symbol) is folded into the first layer: weight_ih_eff = weight_ih @ E.T;
- dense layers after the recurrent ones are composed into one (W = W2 @ W1, b = W2 @ b1 + b2) when nothing
  nonlinear lies between them; a format that cannot tell (a torch state_dict) needs ``compose_linear``;
- a simple RNN runs tanh; a format that does not record the nonlinearity (a torch state_dict) needs
  ``rnn_tanh``, and a ReLU RNN is refused;
- the last dense layer gives the head logits: with a linear, sigmoid or tanh activation as they are
  (sigmoid(z) > 0.5, and tanh(z) > 0, exactly when z > 0); a 2-way softmax as p1 > 0.5 (exactly when
  z1 - z0 > 0); a softmax with 2 or more labels, all out:VALUE, as the largest output (``argmax``, below);
- ``argmax``: the out: heads of a linear output layer give the output with the largest value, as a network
  trained with softmax cross-entropy is read (meta.argmax_outputs, :mod:`argmax_outputs`);
- 2 outputs (linear, or softmax) and a single head label make one head with logit z1 - z0: "class 1 beats
  class 0"; 2 labels for a 2-way softmax give the logits z0 - z1 and z1 - z0; otherwise one label per output.

The model gets default unit labels and ``meta.imported`` = {format, layers (the source's, in order), notes}.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import ModelError, SumsMayOverflow, UserError
from .import_common import Dense, Network, common_dtype
from .labels import parse_head
from .model import Layer, Model

__all__ = ["MARKER_NAMES", "SUFFIXES", "assemble", "exported_model", "file_kind", "import_hint", "model_from_tensors",
           "read_model", "read_network", "read_tensors", "unflagged_markers_note"]

SUFFIXES = {".pt": "torch", ".pth": "torch", ".ckpt": "torch", ".bin": "torch", ".safetensors": "torch",
            ".keras": "keras", ".h5": "keras-h5", ".hdf5": "keras-h5", ".json": "tfjs", ".onnx": "onnx"}
_FRAMEWORKS = {"torch": "PyTorch", "keras": "Keras", "keras-h5": "Keras", "tfjs": "TensorFlow.js", "onnx": "ONNX"}


def import_hint(path: str | os.PathLike[str]) -> str | None:
    """For another framework's model file (or TensorFlow.js folder) given where fsm-lstm's own is expected: what it
    is and how to convert it, or that there is no such file (None for any other path)."""
    path = Path(path)
    kind = "tfjs" if path.is_dir() and (path / "model.json").is_file() else SUFFIXES.get(path.suffix.lower())
    if kind is None:
        return None
    if not path.exists():
        return f"{path}: no such file; check the path"
    article = "an" if kind == "onnx" else "a"
    return (f"{path}: {article} {_FRAMEWORKS[kind]} model file, which commands other than import do not read; "
            f"convert it first (fsm-lstm import {path} -o MODEL.npz --alphabet \"...\" --heads \"...\", see "
            "docs/importing.md) and give MODEL.npz")


def read_tensors(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Named arrays from a .safetensors file or a torch state_dict (.pt, .pth, .ckpt, .bin; weights only)."""
    from .import_torch import read_tensors as read

    return read(path)


def model_from_tensors(tensors: dict[str, np.ndarray], alphabet: Sequence[str], heads: Sequence[str],
                       cell: str | None = None, compose_linear: bool = False, rnn_tanh: bool = False,
                       ordered: bool | None = None) -> Model:
    """Find the recurrent layers, an optional embedding and the linear head(s) among named tensors; label them.
    ``ordered``: the tensors come in their modules' order, as a torch state_dict keeps them (default: unless
    :func:`read_tensors` read them from a safetensors file)."""
    from .import_torch import network_from_tensors

    return assemble(network_from_tensors(tensors, cell, ordered), alphabet, heads, compose_linear=compose_linear,
                    rnn_tanh=rnn_tanh)


def exported_model(path: str | os.PathLike[str]) -> Model | None:
    """The model, with its meta, in a .pt file that fsm-lstm's ``export --to torch`` wrote; None for any other
    file."""
    from .import_torch import exported_model as exported

    return exported(path)


def file_kind(path: str | os.PathLike[str]) -> str:
    """The format of a model file or folder by its name (a key of ``SUFFIXES``' values), or one line on why
    there is none."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    if path.is_dir() and SUFFIXES.get(path.suffix.lower(), "tfjs") != "tfjs":
        raise UserError(f"{path}: a folder, not a {path.suffix} file; give the file itself (a folder is read as a "
                        "TensorFlow.js model holding model.json)")
    kind = "tfjs" if path.is_dir() else SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise UserError(f"{path}: unknown format {path.suffix!r}; import a torch.save file (.pt, .pth, .ckpt, .bin), "
                        "a .safetensors, .keras, .h5 or .onnx file, or a TensorFlow.js model.json")
    return kind


def read_network(path: str | os.PathLike[str], cell: str | None = None) -> Network:
    """The network in a file of any supported format (see the module doc), not yet labelled."""
    path = Path(path)
    kind = file_kind(path)
    if kind == "torch":
        from .import_torch import network_from_tensors, read_tensors as read

        tensors = read(path)  # names the file in its errors
        try:
            return network_from_tensors(tensors, cell)  # a safetensors file's tensors say they are unordered
        except UserError as exc:
            raise UserError(f"{path}: {exc}") from None
    try:
        if kind == "tfjs":
            from .import_tfjs import read_tfjs as reader
        elif kind == "onnx":
            from .import_onnx import read_onnx as reader
        else:
            from .import_keras import read_keras as reader
        net = reader(path)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    if cell is not None and cell != net.cell:
        raise UserError(f"{path}: holds {net.cell.upper()} layers, not {cell}; leave out --cell")
    return net


def read_model(path: str | os.PathLike[str], alphabet: Sequence[str], heads: Sequence[str],
               cell: str | None = None, *, compose_linear: bool = False, rnn_tanh: bool = False,
               final_only: bool = False, start_marker: str | None = None, end_marker: str | None = None,
               argmax: bool = False, unused: Sequence[str] = (), network: Network | None = None) -> Model:
    """Read a foreign model file and label it (see the module doc for the rules); ``network``: the file's network,
    already read."""
    net = read_network(path, cell) if network is None else network
    try:
        return assemble(net, alphabet, heads, compose_linear=compose_linear, rnn_tanh=rnn_tanh,
                        final_only=final_only, start_marker=start_marker, end_marker=end_marker, argmax=argmax,
                        unused=unused)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None


def assemble(net: Network, alphabet: Sequence[str], heads: Sequence[str], *, compose_linear: bool = False,
             rnn_tanh: bool = False, final_only: bool = False, start_marker: str | None = None,
             end_marker: str | None = None, argmax: bool = False, unused: Sequence[str] = ()) -> Model:
    """The documented model of a network read from a file, with the user's alphabet and head labels.
    ``compose_linear`` and ``rnn_tanh`` confirm what a torch state_dict cannot say (see :mod:`import_torch`);
    ``argmax``: the out: heads are read by their largest value (see the module doc); ``unused``: symbols of the
    alphabet that no word holds (padding), left out of the model (:func:`_without_unused`)."""
    alphabet, heads = tuple(alphabet), tuple(heads)
    if net.tanh_unstated and not rnn_tanh:
        raise UserError("this nn.RNN's (or nn.RNNCell's) state_dict does not record its nonlinearity, and fsm-lstm "
                        "runs tanh RNNs only: if the module was built with nonlinearity='tanh' (torch's default), pass "
                        "--rnn-tanh")
    if not heads:
        raise UserError("give the head labels with --heads (accept, next:SYMBOL, state:NAME)")
    if not alphabet:
        raise UserError("give the input symbols with --alphabet, in one-hot order")
    for label in heads:
        kind, arg = parse_head(label)
        if not kind:
            raise UserError(f"--heads: {label!r} is not a head label; a label is accept, next:SYMBOL, state:NAME or "
                            "out:VALUE")
        if kind == "next" and arg not in alphabet:
            raise UserError(f"--heads: {label!r} names a symbol that is not in --alphabet ({' '.join(alphabet)})")
    repeated = sorted({a for a in alphabet if alphabet.count(a) > 1})
    if repeated:
        raise UserError(f"--alphabet names {repeated[0]!r} twice; give each input its own symbol")
    twice = sorted({h for h in heads if heads.count(h) > 1})
    if twice:
        raise UserError(f"--heads names {twice[0]!r} twice; give each output its own label (run and sheet would "
                        "show only one of them)")
    arrays = [a for layer in net.layers for a in vars(layer).values()]
    arrays += [a for d in net.dense for a in (d.weight, d.bias)]
    arrays += [net.embedding] if net.embedding is not None else []
    dtype = common_dtype(arrays)
    notes = list(net.notes)
    layers = [Layer(*(np.asarray(a, dtype) for a in (l.weight_ih, l.weight_hh, l.bias_ih, l.bias_hh)))
              for l in net.layers]
    if net.embedding is not None:
        emb = net.embedding
        if emb.shape[1] != layers[0].weight_ih.shape[1]:
            raise UserError(f"the embedding gives {emb.shape[1]} numbers per symbol but the first recurrent layer "
                            f"reads {layers[0].weight_ih.shape[1]}")
        folded = net.layers[0].weight_ih.astype(np.float64) @ emb.astype(np.float64).T
        layers[0] = Layer(folded.astype(dtype), layers[0].weight_hh, layers[0].bias_ih, layers[0].bias_hh)
        notes.append(f"embedding of {emb.shape[0]:,} symbols folded into the first layer")
    width = layers[0].weight_ih.shape[1]
    if len(alphabet) != width:
        what = "embedding rows" if net.embedding is not None else "one-hot inputs"
        raise UserError(f"the network reads {width} symbols ({what}) but the alphabet has {len(alphabet)}; "
                        "give one symbol per input with --alphabet")
    layers[0], alphabet = _without_unused(net, layers[0], alphabet, tuple(unused), heads,
                                          (start_marker, end_marker), notes)
    weight, bias = _compose(net, compose_linear, layers[-1].hidden_size, notes)
    last = net.dense[-1]
    if net.last_step_only and (last.activation in ("softmax", "logsoftmax", "argmax") and weight.shape[0] > 2):
        raise UserError(f"the model outputs its last step only (its last recurrent layer does not return every "
                        f"step), a {last.activation} over {weight.shape[0]} classes: fsm-lstm reads one verdict per "
                        "word (accept), which 3 or more classes do not make; save the model with "
                        "return_sequences=True to read its outputs after every symbol as out:VALUE heads, or "
                        "train 2 classes")
    if net.last_step_only and "accept" not in heads:
        raise UserError(f"the model outputs its last step only (its last recurrent layer does not return every "
                        f"step), so fsm-lstm reads one verdict per word, labelled accept, not {' '.join(heads)}: "
                        "label a 2-class output accept, or save the model with return_sequences=True to read its "
                        "outputs after every symbol")
    outs = sum(parse_head(h)[0] == "out" for h in heads)
    argmax = argmax or _softmax_outputs(net.dense[-1], heads)
    if argmax and outs < 2:
        raise UserError(f"--argmax reads the out: heads by the largest of them, and {outs} of the heads "
                        f"({' '.join(heads)}) {'is' if outs == 1 else 'are'} labelled out:VALUE; it needs 2 or more")
    weight, bias = _logits(net.dense[-1], weight, bias, len(heads), notes, outs, argmax)
    float64 = all(a.dtype == np.float64 for a in arrays)  # the framework computed in float64: so does fsm-lstm
    if float64:
        notes.append("float64 weights: fsm-lstm runs the network in float64 (meta.precision), as PyTorch runs a "
                     "float64 module; other frameworks' kernels may round otherwise (Keras's float64 layers on its "
                     "torch backend were seen to), so a logit within round-off of 0 may differ from theirs")
    if any(a.dtype == np.float16 for a in arrays):
        notes.append("float16 weights: fsm-lstm runs the network in float32, with every weight exactly as stored; a "
                     "half-precision forward rounds every step to float16, so its logits may differ from these by "
                     "about 1e-2, and a logit that close to 0 may read otherwise")
    extra: dict = {"imported": {"format": net.format, "layers": list(net.sources),
                                **({"notes": notes} if notes else {})}}
    if argmax:
        extra["argmax_outputs"] = True
    if float64:
        extra["precision"] = "float64"
    if final_only or net.last_step_only:
        extra["final_only"] = True
    for key, symbol in (("start_marker", start_marker), ("end_marker", end_marker)):
        if symbol is not None:
            if symbol not in alphabet:
                raise UserError(f"--{key.replace('_', '-')} {symbol!r} is not in the alphabet {' '.join(alphabet)}")
            extra[key] = symbol
    try:
        return Model(layers=tuple(layers), head_weight=weight.astype(dtype), head_bias=bias.astype(dtype),
                     alphabet=alphabet, heads=heads, cell=net.cell, extra=extra)
    except SumsMayOverflow as exc:  # import has no meta.precision to set: the source's own dtype decides it
        wider = exc.float32 and net.format != "tfjs"  # TensorFlow.js weights are float32 only
        raise UserError(f"the weights do not form a model: {exc.reason}; scale the weights down in the source model"
                        + (", or save every weight in float64 (fsm-lstm then runs the network in float64)" if wider
                           else "")) from None
    except ModelError as exc:
        raise UserError(f"the weights do not form a model: {exc}") from None


MARKER_NAMES = ("<s>", "</s>", "<bos>", "<eos>", "<sos>", "<start>", "<end>", "bos", "eos", "sos", "[cls]",
                "[sep]")  # names that start and end markers often have (compared in lower case)


def _without_unused(net: Network, first: Layer, alphabet: tuple[str, ...], unused: tuple[str, ...],
                    heads: tuple[str, ...], markers: tuple[str | None, str | None], notes: list[str]
                    ) -> tuple[Layer, tuple[str, ...]]:
    """The first layer and alphabet without the ``unused`` symbols' inputs: exact on every word without them.
    A symbol whose steps the source skips (Keras mask_zero's id 0) must be one of them: a network that reads
    every symbol cannot skip one, and on words without it the mask never acts."""
    repeated = [symbol for k, symbol in enumerate(unused) if symbol in unused[:k]]
    if repeated:
        raise UserError(f"--unused names {repeated[0]!r} twice; name each symbol once")
    for symbol in unused:
        if symbol not in alphabet:
            raise UserError(f"--unused {symbol!r} is not in --alphabet ({' '.join(alphabet)})")
        if symbol in markers:
            raise UserError(f"--unused {symbol!r} is a marker, which every word holds")
        if f"next:{symbol}" in heads:
            raise UserError(f"--unused {symbol!r} has a head next:{symbol}; an unused symbol is never next")
    skipped = [alphabet[i] for i in net.masked_ids if alphabet[i] not in unused]
    if skipped:
        raise UserError(f"the network skips the steps of input {net.masked_ids[0]} ({skipped[0]!r}: an Embedding "
                        "with mask_zero=True), which a network that reads every symbol cannot represent; if it is "
                        f"only padding, which no word holds, import with --unused {skipped[0]!r}")
    if not unused:
        return first, alphabet
    keep = [i for i, a in enumerate(alphabet) if a not in unused]
    if not keep:
        raise UserError("--unused leaves no symbol to make words of")
    notes.append(f"{' '.join(unused)} left out of the alphabet (--unused): the model reads the words without "
                 f"{'it' if len(unused) == 1 else 'them'} as the source does"
                 + (" (its mask_zero never acts on such words)" if net.masked_ids else ""))
    return (Layer(np.ascontiguousarray(first.weight_ih[:, keep]), first.weight_hh, first.bias_ih, first.bias_hh),
            tuple(alphabet[i] for i in keep))


def unflagged_markers_note(alphabet: Sequence[str], start_marker: str | None, end_marker: str | None) -> str | None:
    """A note for an import without marker flags whose alphabet holds symbols named like start or end markers: a
    network trained on framed words, read without them, is judged after every symbol and on words that never
    start with the start marker."""
    if start_marker is not None or end_marker is not None:
        return None
    named = [a for a in alphabet if a.lower() in MARKER_NAMES]
    if not named:
        return None
    listed = " and ".join(repr(a) for a in named)
    return (f"the alphabet has {listed}, named like start or end markers: if the network was trained on words framed "
            "by them, import it again with --start-marker and/or --end-marker (docs/importing.md); as imported, "
            "extract and verify treat them as ordinary symbols anywhere in a word")


def _compose(net: Network, compose_linear: bool, hidden: int, notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The dense layers as one affine map (float64), refusing anything nonlinear between them."""
    dense = net.dense
    if not dense:
        raise UserError("no dense (linear) layer after the recurrent layers; fsm-lstm needs one to give the heads")
    if len(dense) > 1 and not net.composable and not compose_linear:
        names = " and ".join(d.name for d in dense)
        raise UserError(f"found {len(dense)} linear layers ({names}); the file cannot say whether something "
                        "nonlinear (a ReLU) lies between them: if nothing does, pass --compose-linear")
    for d in dense[:-1]:
        if d.activation != "linear":
            raise UserError(f"{d.with_activation()}; only layers with a linear "
                            "activation can be composed with the next one, and the heads must be one affine map of "
                            "the units: retrain with a linear (or no) activation before the last dense layer")
    if dense[0].weight.shape[1] != hidden:
        raise UserError(f"dense layer {dense[0].name!r} reads {dense[0].weight.shape[1]} numbers but the last "
                        f"recurrent layer has {hidden} units")
    weight, bias = dense[0].weight.astype(np.float64), dense[0].bias.astype(np.float64)
    for prev, d in zip(dense, dense[1:]):
        if d.weight.shape[1] != weight.shape[0]:
            raise UserError(f"dense layer {d.name!r} reads {d.weight.shape[1]} numbers but {prev.name!r} gives "
                            f"{weight.shape[0]}")
        w = d.weight.astype(np.float64)
        weight, bias = w @ weight, w @ bias + d.bias.astype(np.float64)
    if len(dense) > 1:
        notes.append(f"{len(dense)} linear layers composed into one ({', '.join(d.name for d in dense)})")
    return weight, bias


def _softmax_outputs(last: Dense, heads: Sequence[str]) -> bool:
    """Does the last layer end in an ArgMax, or a softmax, with two or more labels, every one out:VALUE? (Both
    are read by their largest output, and their count is checked there; an ArgMax over other labels is refused.)"""
    outs_only = all(parse_head(h)[0] == "out" for h in heads)
    if last.activation == "argmax" and not outs_only:
        raise UserError(f"the output layer {last.name!r} ends in an ArgMax: it gives one of its outputs, so label "
                        "each output out:VALUE with --heads (the outputs of a machine)")
    return outs_only and (last.activation == "argmax" or
                          last.activation in ("softmax", "logsoftmax") and len(heads) >= 2)


def _logits(last: Dense, weight: np.ndarray, bias: np.ndarray, labels: int, notes: list[str], outs: int = 0,
            argmax: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Head logits from the composed map and the last layer's activation (see the module doc); ``outs`` of the
    labels are out: heads, one output of a machine each, read by their largest value with ``argmax``."""
    outputs = weight.shape[0]
    act = last.activation
    if argmax:
        if act not in ("linear", "softmax", "logsoftmax", "argmax"):
            raise UserError(f"the output layer {last.name!r} has activation {act}; --argmax reads a linear or "
                            "softmax output layer (the largest logit gives the output)")
        if labels != outputs:
            raise UserError(f"the output layer has {outputs} outputs but {labels} head labels were given; give "
                            "one label per output with --heads")
        if act != "linear" and outs != outputs:  # a softmax couples every output: none is a logit of its own
            raise UserError(f"the output layer {last.name!r} is a {act} over {outputs} outputs: label every one "
                            "out:VALUE (the largest is the output), or export the logits before it")
        largest = "probability" if act in ("softmax", "logsoftmax") else "value"
        notes.append(f"the {outs} out: heads read together: the output is the one with the largest {largest} "
                     "(argmax); before the first symbol they are not judged")
        return weight, bias
    act = "softmax" if act == "logsoftmax" else act  # the same order of the outputs, so the same decisions
    if act not in ("linear", "sigmoid", "tanh", "softmax"):
        raise UserError(f"the output layer {last.name!r} has activation {act}; fsm-lstm reads linear, sigmoid, "
                        "tanh or a 2-way (log-)softmax (a head is true when its logit is > 0), or a (log-)softmax "
                        "whose outputs are all labelled out:VALUE (the largest is the output)")
    if act == "softmax" and outputs != 2:
        raise UserError(f"the output layer {last.name!r} is a softmax over {outputs} outputs; its 'p > 0.5' is not "
                        "a linear function of the units: label every output out:VALUE to read the largest as the "
                        "output (a machine's outputs), or retrain with sigmoid outputs")
    if outputs == 2 and labels == 1 and act in ("linear", "softmax"):
        notes.append("2 outputs read as one head: true when output 1 > output 0 (logit z1 - z0)")
        return weight[1:] - weight[:1], bias[1:] - bias[:1]
    if labels != outputs:
        extra = " (or one label for a 2-class output)" if outputs == 2 and act in ("linear", "softmax") else ""
        given = f"{labels} head label{'s were' if labels != 1 else ' was'} given"
        raise UserError(f"the output layer has {outputs} output{'s' if outputs != 1 else ''} but {given}; give one "
                        f"label per output with --heads{extra}")
    if act == "softmax":  # p0 > 0.5 iff z0 - z1 > 0, and p1 > 0.5 iff z1 - z0 > 0
        notes.append("2-way softmax read as heads z0 - z1 and z1 - z0 (p > 0.5)")
        diff_w, diff_b = weight[1] - weight[0], bias[1] - bias[0]
        return np.stack([-diff_w, diff_w]), np.array([-diff_b, diff_b])
    if act == "sigmoid":
        notes.append("sigmoid outputs read as logits (p > 0.5 exactly when the logit is > 0)")
    if act == "tanh":
        notes.append("tanh outputs read as their pre-activation z (true when tanh(z) > 0, exactly when z > 0)")
    if act == "linear" and outs > 1:  # a machine's outputs, one at a time: perhaps trained as classes
        notes.append(f"{outputs} linear outputs read as {outputs} heads, each true when its output is > 0, as a "
                     "network trained with sigmoids (binary cross-entropy) reads them; if it was trained with a "
                     "softmax (cross-entropy), import it with --argmax, which reads the largest as the output")
    return weight, bias
