"""Generators of hostile inputs too large to commit: a zip bomb, an .npy header declaring terabytes, and large
grammars. Used by tests/test_hostile.py and bench/hostile.py."""

from __future__ import annotations

import io
import json
import random
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy

META = json.dumps({"alphabet": ["a"], "heads": ["accept"], "cell": "lstm"})


def _npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    out = io.BytesIO()
    npy.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue()


def _npy(arr: np.ndarray) -> bytes:
    out = io.BytesIO()
    npy.write_array(out, arr, allow_pickle=False)
    return out.getvalue()


def _gf2_times(mat: list[int], vec: int) -> int:
    total, k = 0, 0
    while vec:
        if vec & 1:
            total ^= mat[k]
        vec >>= 1
        k += 1
    return total


def _gf2_square(mat: list[int]) -> list[int]:
    return [_gf2_times(mat, mat[n]) for n in range(32)]


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A + B from crc(A), crc(B) and len(B) (zlib's crc32_combine)."""
    if len2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]
    even = _gf2_square(odd)
    odd = _gf2_square(even)
    while True:
        even = _gf2_square(odd)
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def _write_zip(path: Path, members: list[tuple[str, bytes, int, int, int]]) -> None:
    """A zip file of (name, stored bytes, method, crc, uncompressed size) members; sizes over 4 GiB use zip64."""
    out = bytearray()
    central = bytearray()
    for name, data, method, crc, size in members:
        raw = name.encode()
        big = size >= 0xFFFFFFFF
        extra = struct.pack("<HHQQ", 1, 16, size, len(data)) if big else b""
        csize, usize = (0xFFFFFFFF, 0xFFFFFFFF) if big else (len(data), size)
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, method, 0, 0x21, crc, csize, usize, len(raw), len(extra))
        out += raw + extra + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, method, 0, 0x21, crc, csize, usize,
                               len(raw), len(extra), 0, 0, 0, 0, offset)
        central += raw + extra
    start = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), start, 0)
    path.write_bytes(bytes(out))


def _deflated_zeros(header: bytes, gib: int) -> tuple[bytes, int, int]:
    """``header`` then ``gib`` GiB of zero bytes, deflated (a few MB): (data, crc, uncompressed size)."""
    block = bytes(2**24)
    blocks = gib * 2**30 // len(block)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = comp.compress(header) + comp.flush(zlib.Z_FULL_FLUSH)
    unit = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)  # the same bytes for every block after a full flush
    tail = comp.flush()
    crc_blocks, length, count = zlib.crc32(block), len(block), 1
    while count < blocks:  # doubling: the CRC of 2^k zero blocks
        crc_blocks = crc32_combine(crc_blocks, crc_blocks, length)
        length *= 2
        count *= 2
    assert count == blocks, "gib must be a power of two"
    return head + unit * blocks + tail, crc32_combine(zlib.crc32(header), crc_blocks, length), len(header) + length


def zip_bomb(path: str | Path, gib: int = 4) -> Path:
    """A model .npz whose ``weight_hh_l0`` is ``gib`` GiB of float32 zeros, a few MB on disk, with a valid CRC."""
    path = Path(path)
    data, crc, size = _deflated_zeros(_npy_header((gib * 2**30 // 4,)), gib)
    meta = _npy(np.array(META))
    _write_zip(path, [("meta.npy", meta, 0, zlib.crc32(meta), len(meta)), ("weight_hh_l0.npy", data, 8, crc, size)])
    return path


def torch_bomb(path: str | Path, gib: int = 2) -> Path:
    """A torch.save state_dict archive whose one tensor record declares ``gib`` GiB (deflated zeros, a few MB);
    torch allocates a record's declared size as it loads it."""
    import torch

    path = Path(path)
    buffer = io.BytesIO()
    torch.save({"rnn.weight_ih_l0": torch.zeros(3, 2)}, buffer)
    with zipfile.ZipFile(buffer) as z:
        members = []
        for info in z.infolist():
            raw = z.read(info)
            if info.filename.split("/")[-2:-1] == ["data"]:  # the tensor's storage record
                data, crc, size = _deflated_zeros(b"", gib)
                members.append((info.filename, data, 8, crc, size))
            else:
                members.append((info.filename, raw, 0, zlib.crc32(raw), len(raw)))
    _write_zip(path, members)
    return path


def huge_header(path: str | Path, elements: int = 2**40) -> Path:
    """A model .npz (under 1 kB) whose ``weight_ih_l0`` header declares ``elements`` float32 numbers (4 TiB)."""
    path = Path(path)
    meta = _npy(np.array(META))
    member = _npy_header((elements,)) + bytes(64)
    _write_zip(Path(path), [("meta.npy", meta, 0, zlib.crc32(meta), len(meta)),
                            ("weight_ih_l0.npy", member, 0, zlib.crc32(member), len(member))])
    return path


def random_dfa(path: str | Path, states: int, symbols: str = "ab", seed: int = 0) -> Path:
    """A grammar file: a random DFA with ``states`` states, every state with an edge on every symbol, and one
    state in seven accepting."""
    rng = random.Random(seed)
    path = Path(path)
    lines = [f'name = "random{states}"', 'start = "s0"',
             "accept = [" + ", ".join(f'"s{k}"' for k in range(0, states, 7)) + "]", "transitions = ["]
    lines += [f'  ["s{k}", "{a}", "s{rng.randrange(states)}"],' for k in range(states) for a in symbols]
    path.write_text("\n".join(lines + ["]"]) + "\n")
    return path


def chain(path: str | Path, states: int) -> Path:
    """A grammar file: s0 -a-> s1 -a-> ... with only the last state accepting (its minimal DFA is itself)."""
    path = Path(path)
    lines = ['start = "s0"', f'accept = ["s{states - 1}"]', "transitions = ["]
    lines += [f'  ["s{k}", "a", "s{k + 1}"],' for k in range(states - 1)]
    path.write_text("\n".join(lines + ["]"]) + "\n")
    return path


def _model_arrays() -> dict[str, np.ndarray]:
    """The arrays of the compiled parity network (5 units), the base of the hostile model files."""
    from fsm_lstm.compiler import compile_grammar
    from fsm_lstm.grammar_files import load_grammar

    model = compile_grammar(load_grammar("parity"))
    arrays = {k: v.copy() for k, v in model.arrays().items()}
    arrays["meta"] = np.array(json.dumps(model.meta))
    return arrays


def _npz(**arrays: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def corpus() -> dict[str, bytes]:
    """The committed corpus in ``files/``: file name -> bytes (regenerate with ``python -m tests.hostile.make``)."""
    regex = lambda pattern, alphabet="": (f"regex = {json.dumps(pattern)}\n"  # noqa: E731
                                          + (f"alphabet = {json.dumps(list(alphabet))}\n" if alphabet else "")).encode()
    files = {
        "regex_nested_300.toml": regex("(" * 300 + "a" + ")" * 300),
        "regex_plain_600.toml": regex("ab" * 300),
        "regex_alternation_3000.toml": regex("|".join("ab"[k % 2] for k in range(3000))),
        "regex_exponential_dfa.toml": regex("(a|b)*a(a|b){30}"),
        "regex_glushkov_blowup.toml": regex("(" + "|".join("a" * 3000) + ")*"),
        "regex_counted_backwards.toml": regex("a{3,2}"),
        "regex_counted_huge.toml": regex("a{99999}"),
        "regex_anchor_middle.toml": regex("a^b"),
        "regex_range_backwards.toml": regex("[z-a]"),
        "regex_range_huge.toml": b'regex = "[\\u0001-\\U0010FFFF]"\n',
        "regex_stray_brace.toml": regex("a}"),
        "toml_nested_arrays.toml": b"start = \"a\"\naccept = []\ntransitions = " + b"[" * 2000 + b"]" * 2000 + b"\n",
        "toml_empty_state.toml": b'start = ""\naccept = [""]\ntransitions = [["", "a", ""]]\n',
        "toml_not_utf8.toml": b'name = "\xff\xfe"\nstart = "a"\n',
        "toml_binary.toml": bytes(range(256)) * 4,
        "toml_formula_names.toml": (
            'name = "=HYPERLINK(\\"http://example.com\\",\\"x\\")"\n'
            'description = "+cmd|\' /C calc\'!A0"\n'
            'start = "=1+1"\naccept = ["@SUM(A1)", "q\\"x"]\n'
            'transitions = [["=1+1", "=A1", "-2"], ["-2", "+A2", "@SUM(A1)"], ["@SUM(A1)", "@x", "q\\"x"],\n'
            '  ["q\\"x", "=A1", "=1+1"]]\n').encode(),
        "toml_control_names.toml": (
            'name = "ctl\\u007f"\nstart = "__start0"\naccept = ["node", "a\\\\b\\"c"]\n'
            'transitions = [["__start0", "x", "node"], ["node", "y", "\\u0001\\r\\n\\u007f"],\n'
            '  ["\\u0001\\r\\n\\u007f", "\\u00e9", "a\\\\b\\"c"], ["a\\\\b\\"c", "\U0001F600", "__start9"],\n'
            '  ["__start9", "x", "node"]]\n').encode(),
        "toml_exponential_nfa.toml": (
            'start = "q0"\naccept = ["q26"]\ntransitions = [["q0", "a", "q0"], ["q0", "b", "q0"], ["q0", "a", "q1"],\n'
            + "".join(f'  ["q{k}", "a", "q{k + 1}"], ["q{k}", "b", "q{k + 1}"],\n' for k in range(1, 26)) + "]\n"
        ).encode(),
        "dot_truncated_in_attributes.dot": b'digraph g {\n__start0 -> a;\na -> b [label="x", ',
        "dot_truncated_after_equals.dot": b'digraph g {\n__start0 -> a;\na -> b [label=',
        "dot_whitespace_label.dot": b'digraph g {\n__start0 -> a;\na -> b [label=" "];\n}\n',
        "dot_space_in_label.dot": b'digraph g {\n__start0 -> a;\na -> b [label="x y"];\n}\n',
        "dot_subgraph.dot": b'digraph g {\nsubgraph s { a -> b [label="x"]; }\n__start0 -> a;\n}\n',
        "dot_no_start.dot": b'digraph g {\na -> b [label="x"];\n}\n',
        "dot_keyword_names.dot": (
            'digraph "node" {\nn0 [label="node", shape=doublecircle];\nn1 [label="__start9"];\n'
            'n2 [label="}"];\nn0 -> n1 [label="a"];\nn1 -> n2 [label="]"];\nn2 -> n0 [label="{"];\n'
            '__start0 [label="", shape=none];\n__start0 -> n0 [label=""];\n}\n').encode(),
        "dot_empty_label.dot": b'digraph g {\na [label=""];\n__start0 -> a;\na -> a [label="x"];\n}\n',
        "dot_unterminated_string.dot": b'digraph g {\n__start0 -> a;\na -> b [label="x];\n}\n',
        "dot_binary.dot": bytes(range(256)) * 4,
        "dot_deep_subgraphs.dot": ("digraph g { __start0 -> a; " + "subgraph { " * 3000 + 'a -> b [label="x/1"];'
                                   + " }" * 3000 + " }").encode(),
        "dot_mdp.dot": b'digraph g {\ns0 [label="o1"];\ns1 [label="o2"];\ns0 -> s1 [label="a:0.25"];\n'
                       b's0 -> s0 [label="a:0.75"];\ns1 -> s1 [label="a:1.0"];\n__start0 -> s0;\n}\n',
        "dot_html_labels.dot": ('digraph g {\n__start0 -> a;\na [label=<' + "<b>" * 2000 + "A" + "</b>" * 2000
                                + '>];\na -> a [label=<x&lt;&gt;/<i>1</i>>];\n}\n').encode(),
    }
    base = _model_arrays()
    variant = lambda **changes: _npz(**{**base, **changes})  # noqa: E731
    meta = json.loads(str(base["meta"]))
    files.update({
        "npz_string_weights.npz": variant(weight_ih_l0=base["weight_ih_l0"].astype(str)),
        "npz_complex_weights.npz": variant(weight_hh_l0=base["weight_hh_l0"].astype(np.complex64)),
        "npz_float128_weights.npz": variant(bias_ih_l0=base["bias_ih_l0"].astype(np.longdouble)),
        "npz_integer_weights.npz": variant(**{"heads.bias": np.zeros(base["heads.bias"].shape, np.int64)}),
        "npz_meta_grammar_number.npz": variant(meta=np.array(json.dumps({**meta, "grammar": 5}))),
        "npz_meta_not_json.npz": variant(meta=np.array("{not json")),
        "npz_meta_surrogate.npz": variant(meta=np.array(json.dumps({**meta, "units": ["\ud800"] + meta["units"][1:]}))),
        "npz_meta_bytes.npz": variant(meta=np.array(b"{}")),
        "npz_is_npy.npz": _npy(base["weight_hh_l0"]),
        "npz_text.npz": b"hello, I am not a zip file\n",
        "pt_garbage.pt": b"PK\x03\x04garbage" * 10,
    })
    pickled = io.BytesIO()  # an object array: loading it would unpickle, so it must be refused unread
    npy.write_array(pickled, np.array([1, "x"], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(out := io.BytesIO(), "w") as z:
        for name, arr in base.items():
            z.writestr(f"{name}.npy", pickled.getvalue() if name == "weight_ih_l0" else _npy(arr))
    files["npz_object_pickle.npz"] = out.getvalue()
    with tempfile.TemporaryDirectory() as folder:
        files["npz_header_4tib.npz"] = huge_header(Path(folder) / "h.npz").read_bytes()
    return files


if __name__ == "__main__":
    target = Path(__file__).resolve().parent / "files"
    target.mkdir(exist_ok=True)
    for name, data in corpus().items():
        (target / name).write_bytes(data)
    print(f"wrote {len(corpus())} files to {target}")


def heads_bomb(path: str | Path) -> Path:
    """Reber's compiled model whose ``heads.weight`` declares (16384, 16384) float32 (1 GiB of deflated zeros, a
    few MB on disk): within the array limits, but not the shape meta's 16 heads and 13 units need."""
    from fsm_lstm.compiler import compile_grammar
    from fsm_lstm.grammar_files import load_grammar

    model = compile_grammar(load_grammar("reber"))
    arrays = {**model.arrays(), "meta": np.array(json.dumps(model.meta))}
    members = []
    for name, arr in arrays.items():
        if name == "heads.weight":
            data, crc, size = _deflated_zeros(_npy_header((16384, 16384)), 1)
            members.append(("heads.weight.npy", data, 8, crc, size))
        else:
            raw = _npy(np.asarray(arr))
            members.append((f"{name}.npy", raw, 0, zlib.crc32(raw), len(raw)))
    _write_zip(Path(path), members)
    return Path(path)


def overflowing_model(path: str | Path) -> Path:
    """Compiled tomita3 with one head's weights at +-3e38 on two units: finite in float32, but its sum can pass the
    float range (infinity or NaN by the order of summation), so loading it is refused."""
    from fsm_lstm.compiler import compile_grammar
    from fsm_lstm.grammar_files import load_grammar
    from fsm_lstm.model import save_model

    model = compile_grammar(load_grammar("tomita3"))
    model.head_weight[0, :2] = (3e38, -3e38)  # in place: a Model refuses such sums when it is made
    save_model(model, path)
    return Path(path)
