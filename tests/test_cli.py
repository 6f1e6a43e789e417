"""The command line as a user meets it: outputs, exit codes, and one-line errors."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from fsm_lstm.cli import build_parser, main
from fsm_lstm.compiler import Gains, compile_grammar
from fsm_lstm.grammar_files import bundled_dir, load_grammar
from fsm_lstm.model import load_model, save_model
from fsm_lstm.progress import ProgressDisplay
from tests.oracle import next_symbols, states_after


def test_build_with_no_argument_builds_and_certifies_reber(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["build"]) == 0
    out = capsys.readouterr().out
    assert "reber" in out and "proven" in out
    model = load_model(tmp_path / "sheets" / "reber.npz")
    assert model.hidden_size == 13
    assert (tmp_path / "sheets" / "reber.xlsx").stat().st_size > 10_000


def test_build_several_grammars_into_a_folder(tmp_path, capsys):
    assert main(["build", "parity", "tomita3", "--out-dir", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "parity.npz", "parity.xlsx", "tomita3.npz", "tomita3.xlsx"]


def test_build_validates_every_grammar_before_writing(tmp_path, capsys):
    assert main(["build", "parity", str(tmp_path / "missing.toml"), "--out-dir", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o" / "parity.npz").exists()


def test_run_json_records_follow_the_semantics(capsys):
    word = "BTSSXXVPSE"
    assert main(["run", "reber", word, "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    g = load_grammar("reber")
    assert [r["t"] for r in records] == list(range(len(word) + 1))
    assert records[0]["symbol"] is None and records[1]["symbol"] == "B"
    for r in records:
        states = states_after(g, word[: r["t"]])
        assert set(r["states"]) == states
        assert r["accept"] == bool(states & g.accept)
        assert set(r["next"]) == next_symbols(g, states)
        logits = r["logits"]  # every head's logit: true exactly when > 0 (compiled heads sit near +-2)
        assert (logits["accept"] > 0) == r["accept"] and {h[5:] for h, v in logits.items() if
                                                          h.startswith("next:") and v > 0} == set(r["next"])
        assert {h[6:] for h, v in logits.items() if h.startswith("state:") and v > 0} == states
    assert records[-1]["accept"] is True


def test_run_table_for_a_string_that_leaves_the_grammar(capsys):
    assert main(["run", "reber", "BTT"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["t", "symbol", "states", "accept", "next"]
    assert lines[-1].split() == ["3", "T", "(none)", "no", "(none)"]


def test_run_on_a_model_file_and_multi_character_symbols(tmp_path, capsys):
    grammar = tmp_path / "stack.toml"
    grammar.write_text('start = "empty"\naccept = ["empty"]\n'
                       'transitions = [["empty", "push", "one"], ["one", "pop", "empty"]]\n')
    assert main(["compile", str(grammar), "-o", str(tmp_path / "s.npz")]) == 0
    capsys.readouterr()
    assert main(["run", str(tmp_path / "s.npz"), "push pop push", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["accept"] for r in records] == [True, False, True, False]


def test_certify_exits_0_when_proven_and_1_when_not(tmp_path, capsys):
    assert main(["certify", "reber"]) == 0
    assert "proven" in capsys.readouterr().out
    weak = tmp_path / "weak.npz"
    save_model(compile_grammar(load_grammar("reber"), gains=Gains(gate=2.0)), weak)
    assert main(["certify", str(weak), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["proven"] is False and report["failure"]["unit"].startswith("edge")


def test_certify_model_without_grammar_is_a_usage_error(tmp_path, capsys):
    model = compile_grammar(load_grammar("parity"))
    model = dataclasses.replace(model, extra={})
    save_model(model, tmp_path / "bare.npz")
    assert main(["certify", str(tmp_path / "bare.npz")]) == 2
    assert "carries no grammar" in capsys.readouterr().err


@pytest.mark.parametrize("argv, needle", [
    (["run", "reber", "BTZ"], "unknown symbol 'Z' at position 3"),
    (["run", "nowhere.toml", "B"], "no such file"),
    (["compile", "reber", "-o", "/nonexistent-dir/x.npz"], "does not exist"),
    (["draw", "reber", "-o", "picture.bmp"], ".svg, .png or .pdf"),
    (["run", "x.npz", "B"], "no such model file"),
    (["run", "net.pt", "B"], "net.pt: no such file; check the path"),
    # another framework's model where fsm-lstm's own is expected: say what it is and how to convert it
    (["run", "{d}/net.pt", "B"], "net.pt: a PyTorch model file, which commands other than import do not read; "),
    (["verify", "{d}/net.keras", "--grammar", "tomita1"], "a Keras model file"),
    (["extract", "{d}/net.onnx", "-o", "x.toml"], "net.onnx: an ONNX model file, which commands other than import"),
    (["extract", "{d}/net.onnx", "-o", "x.toml"], "(fsm-lstm import {d}/net.onnx -o MODEL.npz --alphabet"),
    (["sheet", "{d}/web/model.json", "-o", "x.xlsx"], "model.json: a TensorFlow.js model file"),
    (["run", "{d}/web", "B"], "web: a TensorFlow.js model file"),
    (["verify-many", "{d}/a.safetensors", "--grammar", "tomita1"], "a PyTorch model file"),
    (["verify", "reber", "--examples", "10000000"], "--examples 10,000,000 is over the limit of 100,000"),  # ran on
    (["certify", "parity", "--time-limit", "0"], "--time-limit must be a positive number of seconds, not 0"),
    (["certify", "parity", "--max-regions", "0"], "--max-regions must be a whole number >= 1, not 0"),  # accepted
])
def test_bad_input_is_one_line_on_stderr_with_exit_2(argv, needle, tmp_path, capsys):
    (tmp_path / "web").mkdir()
    for name in ("net.pt", "net.keras", "net.onnx", "web/model.json", "a.safetensors"):
        (tmp_path / name).write_bytes(b"not read")
    argv, needle = [a.format(d=tmp_path) for a in argv], needle.format(d=tmp_path)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert needle in captured.err and captured.err.count("\n") == 1 and captured.out == ""


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-5"])
def test_a_memory_bound_that_is_not_a_positive_number_is_one_line_with_exit_2(value, tmp_path, capsys):
    """--memory inf crashed with exit 3 (an OverflowError converting it to bytes)."""
    assert main(["compile", "tomita1", "-o", str(tmp_path / "t.npz")]) == 0
    capsys.readouterr()
    for command in (["verify", "tomita1"], ["verify-many", str(tmp_path / "t.npz"), "--grammar", "tomita1"]):
        assert main(command + ["--memory", value]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--memory takes a positive number of MB" in err


@pytest.mark.parametrize("argv, needle", [
    (["extract", "tomita1", "-o", "x.toml", "--seed", "-1"], "argument --seed: -1 is not a seed; give a whole"),
    (["verify", "tomita1", "--seed", str(2 ** 64)], f"argument --seed: {2 ** 64} is not a seed"),
    (["train", "tomita1", "-o", "x.npz", "--seed", "1.5"], "argument --seed: '1.5' is not a whole number"),
])
def test_a_seed_numpy_or_torch_would_refuse_is_one_line_with_exit_2(argv, needle, tmp_path, monkeypatch, capsys):
    """numpy and torch take seeds from 0 to 2**64 - 1: a negative one crashed extract with exit 3."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(argv)
    captured = capsys.readouterr()
    assert exited.value.code == 2 and needle in captured.err and captured.err.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_unwritable_output_leaves_existing_file_untouched(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    target = folder / "m.npz"
    target.write_bytes(b"keep me")
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # root ignores permissions: use a path under a file instead
            target2 = target / "x.npz"
            assert main(["compile", "reber", "-o", str(target2)]) == 2
        else:
            assert main(["compile", "reber", "-o", str(target)]) == 2
    finally:
        folder.chmod(0o700)
    assert target.read_bytes() == b"keep me"


def test_draw_svg_and_png(tmp_path):
    assert main(["draw", "reber", "-o", str(tmp_path / "r.svg")]) == 0
    svg = (tmp_path / "r.svg").read_text()
    assert "<svg" in svg and ">s4<" in svg
    assert main(["draw", "parity", "-o", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_draw_shows_names_graphviz_would_refuse(tmp_path, capsys):
    """A NUL or control character in a symbol, a name over 16,384 characters and a long alphabet: every other
    command read these grammars, and draw exited 2 with Graphviz's 'syntax error in line 3'."""
    long_name = "s" * 20_000
    symbols = [f"x{k}" for k in range(3000)]  # 'x0 x1 ... x2999': 17,000 characters
    path = tmp_path / "g.toml"
    path.write_text("name = " + json.dumps("g\x07") + "\nstart = " + json.dumps(long_name) + "\naccept = ["
                    + json.dumps(long_name) + "]\ntransitions = [" + ", ".join(
                        f'[{json.dumps(long_name)}, {json.dumps(a)}, "t"]' for a in ["a\x00b", "c\x07", *symbols])
                    + "]\n")
    assert main(["check", str(path)]) == 0
    assert main(["draw", str(path), "-o", str(tmp_path / "g.svg")]) == 0
    capsys.readouterr()
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", (tmp_path / "g.svg").read_text())
    assert "a\u2400b" in texts and "c\u2407" in texts  # the control pictures of NUL and BEL
    assert "s" * 199 + "\u2026" in texts and "t" in texts


def test_draw_and_plot_are_bounded(tmp_path, capsys, monkeypatch):
    """A 20,000-state chain kept Graphviz busy past 120 s; plot of 100,000 symbols ran for minutes at 3.6 GB."""
    import fsm_lstm.draw

    monkeypatch.setattr(fsm_lstm.draw, "DRAW_SECONDS", 0.01)
    assert main(["draw", "embedded_reber", "-o", str(tmp_path / "e.svg")]) == 2
    err = capsys.readouterr().err
    assert "Graphviz did not lay out" in err and "within 0.01 s" in err and not (tmp_path / "e.svg").exists()
    assert main(["plot", "parity", "01" * 251, "-o", str(tmp_path / "p.png")]) == 2
    err = capsys.readouterr().err
    assert "the string has 502 symbols; plot draws at most 500" in err and not (tmp_path / "p.png").exists()


def test_check_reports_structure_and_warnings(tmp_path, capsys):
    path = tmp_path / "g.toml"
    path.write_text('start = "a"\naccept = ["b"]\ntransitions = [["a","x","b"], ["c","x","b"], ["a","y","d"]]\n')
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "unreachable states" in out and "c" in out and "dead states" in out and "'x'" in out


def test_every_command_has_help():
    for cmd in ["build", "compile", "certify", "run", "verify", "sheet", "draw", "check", "convert"]:
        done = subprocess.run([sys.executable, "-m", "fsm_lstm.cli", cmd, "--help"], capture_output=True, text=True)
        assert done.returncode == 0 and "usage:" in done.stdout


def test_every_command_describes_itself_and_its_arguments():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        assert command.description, name
        if name == "train":  # its parser is being changed elsewhere just now
            continue
        for action in command._actions:
            if not action.option_strings or "-o" in action.option_strings:
                assert action.help, f"{name} {action.dest}"


def test_build_writes_into_o_and_refuses_two_outputs_to_one_path(tmp_path, capsys):
    assert main(["build", "parity", "-o", str(tmp_path / "out")]) == 0
    assert f"{tmp_path / 'out' / 'parity.npz'}, parity.xlsx" in capsys.readouterr().out
    twin = tmp_path / "parity.toml"  # named parity, in a file named parity: both would write parity.npz
    twin.write_text(load_grammar_text("parity"))
    assert main(["build", "tomita3", "parity", str(twin), "-o", str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "parity (bundled) and " in err and "would both write" in err
    assert not (tmp_path / "new").exists()
    assert main(["build", "parity", "-o", str(tmp_path / "parity.npz")]) == 2  # a file name, not a folder
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "looks like a file name" in err and f"give -o {tmp_path}" in err
    assert not (tmp_path / "parity.npz").exists()


def test_build_json_reports_every_grammar(tmp_path, capsys):
    assert main(["build", "parity", "tomita3", "-o", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["proven"] is True
    assert [g["grammar"] for g in report["grammars"]] == ["parity", "tomita3"]
    assert report["grammars"][0]["certificate"]["proven"] is True and report["grammars"][0]["units"] == 5


def test_certify_against_a_reference_grammar(tmp_path, capsys):
    dot = tmp_path / "reber.dot"
    assert main(["convert", "reber", "-o", str(dot)]) == 0  # the same language, other states (a sink)
    capsys.readouterr()
    assert main(["certify", "reber", "--grammar", str(dot)]) == 0
    out = capsys.readouterr().out  # compiling the DOT file gives reber's own minimal machine: nothing to note
    assert out.startswith("proven for every length") and "note:" not in out
    renamed = tmp_path / "renamed.dot"
    renamed.write_text(dot.read_text().replace("s0", "q0"))  # the same language; one state has another name
    assert main(["certify", "reber", "--grammar", str(renamed)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("proven for every length")
    assert (f"note: the state heads are proven for the states of the model's own grammar 'reber', not those of "
            f"{renamed}; {renamed} has the same language, so the accept and next heads hold for it") in out
    assert main(["certify", "reber", "--grammar", "tomita3"]) == 1
    assert capsys.readouterr().out.startswith("not applicable: the model was compiled from 'reber', whose language")
    bare = tmp_path / "bare.npz"
    save_model(dataclasses.replace(compile_grammar(load_grammar("parity")), extra={}), bare)
    # without its grammar the compiled network is just weights: the region proof (for trained networks) proves it
    assert main(["certify", str(bare), "--grammar", "parity", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["proven"] is True and report["method"] == "regions" and report["regions"] >= 2


def test_check_shows_the_path_as_given(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.toml").write_text(load_grammar_text("parity"))
    assert main(["check", "g.toml"]) == 0
    assert capsys.readouterr().out.startswith("g.toml: grammar 'parity'")
    assert main(["check", "parity"]) == 0
    assert capsys.readouterr().out.startswith("parity (bundled): grammar 'parity'")


def load_grammar_text(name: str) -> str:
    """The text of a bundled grammar file."""
    return (bundled_dir() / f"{name}.toml").read_text(encoding="utf-8")


def test_console_script_runs_without_traceback_on_bad_input():
    done = subprocess.run(["fsm-lstm", "run", "reber", "B!"], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_pumped_string_on_the_command_line(capsys):
    word = "BT" + "S" * 5000 + "XSE"
    assert main(["run", "reber", word, "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert records[-1]["accept"] and all(r["states"] == ["s1"] for r in records[2:5002])
    assert np.all([r["next"] == ["S", "X"] for r in records[2:5002]])


@pytest.mark.parametrize("argv", [["verify", "reber", "--max-len", "4", "--examples", "20"],
                                  ["build", "parity", "tomita3", "-o", "{tmp}"],
                                  ["sheet", "parity", "-o", "{tmp}/p.xlsx"]])
def test_progress_goes_to_a_terminal_on_stderr_and_leaves_stdout_alone(argv, tmp_path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    plain = subprocess.run([sys.executable, "-m", "fsm_lstm.cli", *argv], capture_output=True, text=True)
    controller, terminal = os.openpty()
    drawn: list[bytes] = []

    def read() -> None:  # drain the terminal, so that the child never blocks on it
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                return
            if not chunk:
                return
            drawn.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        shown = subprocess.run([sys.executable, "-m", "fsm_lstm.cli", *argv], stdout=subprocess.PIPE,
                               stderr=terminal, text=True)
    finally:
        os.close(terminal)
        reader.join(5)
        os.close(controller)
    assert plain.returncode == shown.returncode == 0 and plain.stderr == ""
    assert re.sub(r"\d+\.\d+s", "", shown.stdout) == re.sub(r"\d+\.\d+s", "", plain.stdout)
    assert b"\x1b[" in b"".join(drawn)  # something was drawn on the terminal, and taken away again


def test_progress_display_is_silent_unless_stderr_is_a_terminal(capsys):
    with ProgressDisplay("working", total=3) as shown:
        assert shown.callback(shown.line) is None
        shown.advance(1, text="one")
        shown.line("two")
    assert capsys.readouterr().err == ""


def test_one_state_and_one_edge_are_singular(tmp_path, capsys):
    (tmp_path / "one.toml").write_text('name = "one"\nstart = "q"\naccept = ["q"]\nalphabet = ["a"]\n'
                                       'transitions = [["q", "a", "q"]]\n')
    assert main(["check", str(tmp_path / "one.toml")]) == 0
    assert "  minimal DFA: 1 state, 1 edge -> a compiled LSTM of 2 units" in capsys.readouterr().out
    assert main(["compile", str(tmp_path / "one.toml"), "-o", str(tmp_path / "one.npz")]) == 0
    assert "(1 state, 1 edge in " in capsys.readouterr().out
    assert main(["extract", str(tmp_path / "one.npz"), "-o", str(tmp_path / "x.toml")]) == 0
    assert f"wrote {tmp_path / 'x.toml'}: 1 state, 1 edge (lstar, " in capsys.readouterr().out


def test_check_gives_the_units_compile_builds_for_an_nfa(tmp_path, capsys):
    """An NFA is compiled as it is (trimmed), one unit per edge and one 'started': check said the minimal DFA's
    count (7 units for a model of 5)."""
    path = tmp_path / "nfa.toml"
    path.write_text('name = "nfa"\nstart = "a"\naccept = ["c"]\n'
                    'transitions = [["a", "x", "b"], ["a", "x", "c"], ["b", "y", "c"], ["c", "y", "c"]]\n')
    assert main(["check", str(path)]) == 0
    said = re.search(r"a compiled LSTM of (\d+) units", capsys.readouterr().out)
    assert main(["compile", str(path), "-o", str(tmp_path / "nfa.npz")]) == 0
    assert said is not None and int(said.group(1)) == load_model(tmp_path / "nfa.npz").hidden_size == 5


def test_check_quotes_an_output_holding_a_space_or_comma(tmp_path, capsys):
    """One output 'o k' was listed as 'outputs: o k', which reads as two."""
    path = tmp_path / "m.toml"
    path.write_text('name = "m"\nstart = "a"\nalphabet = ["x"]\ntransitions = [["a", "x", "a", "o k"], ]\n')
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "  outputs: 'o k'\n" in out and "gives outputs 'o k', 'o k'" in out, out
    # "it's ok", 'x, 'x, y', ': an apostrophe opened a quote that was not one; once one output is quoted, all are
    outputs = ["it's ok", "'x", "x, y", "'"]
    path.write_text('name = "m"\nstart = "a"\nalphabet = ["p", "q", "r", "s"]\ntransitions = ['
                    + ", ".join(f'["a", "{a}", "a", {json.dumps(o)}]' for a, o in zip("pqrs", outputs)) + "]\n")
    assert main(["check", str(path)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("  outputs: "))
    assert sorted(ast.literal_eval("[" + line.removeprefix("  outputs: ") + "]")) == sorted(outputs), line


def test_extract_of_a_network_that_never_gives_an_output_exits_1_with_its_verdict(tmp_path, capsys):
    """A badly trained network whose out: heads are never true: extract said 'error' and exited 2 (bad input),
    even with --grammar, whose verdict it then never gave. Here mqtt compiled with its out: heads pushed to
    -100: no machine is written, the verdict names the first output the machine gives ('connect' -> CONNACK)."""
    import dataclasses

    from fsm_lstm.compiler import compile_grammar
    from fsm_lstm.grammar_files import load_grammar

    full = compile_grammar(load_grammar("grammars/machines/mqtt.toml"))
    bias = np.array([b - 100 if h.startswith("out:") else b for h, b in zip(full.heads, full.head_bias)], np.float32)
    save_model(dataclasses.replace(full, head_bias=bias, extra={}), tmp_path / "mute.npz")
    out = tmp_path / "mute.toml"
    assert main(["extract", str(tmp_path / "mute.npz"), "-o", str(out), "--grammar",
                 "grammars/machines/mqtt.toml"]) == 1
    said = capsys.readouterr()
    assert f"nothing written to {out}" in said.out and not out.exists() and said.err == "", said
    assert "the network disagrees with mqtt on 'connect'" in said.out and "out:CONNACK" in said.out, said.out


def _exit_with_stdout_closed(argv: list[str], cwd: str) -> subprocess.CompletedProcess:
    """Run the command with a standard output whose reader has already gone (`| true`)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "fsm_lstm.cli", *argv], stdout=write, stderr=subprocess.PIPE,
                              text=True, cwd=cwd)
    finally:
        os.close(write)


@pytest.mark.parametrize(("argv", "code"), [(["verify", "examples/leaky.npz", "--max-len", "3", "--examples", "30"], 1),
                                            (["verify", "reber", "--max-len", "3", "--examples", "30"], 0),
                                            (["run", "reber", "B!"], 2)])
def test_a_closed_pipe_on_stdout_keeps_the_verdicts_exit_code(argv, code):
    """`fsm-lstm verify M | head` under `set -o pipefail`: a failing network must not pass (it exited 0)."""
    done = _exit_with_stdout_closed(argv, cwd=str(Path(__file__).resolve().parent.parent))
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


def test_a_stdout_closed_from_the_start_keeps_the_verdicts_exit_code():
    """`fsm-lstm verify ... >&-` (cron, a daemon): sys.stdout is None; wrapping it crashed with exit 120."""
    root = str(Path(__file__).resolve().parent.parent)
    for argv, code in ((["verify", "examples/leaky.npz", "--max-len", "3", "--examples", "30"], 1),
                       (["check", "reber"], 0)):
        done = subprocess.run([sys.executable, "-m", "fsm_lstm.cli", *argv], stdout=None, stderr=subprocess.PIPE,
                              text=True, cwd=root, preexec_fn=lambda: os.close(1))
        assert done.returncode == code and done.stderr == "", done.stderr


def test_a_full_disk_is_one_line_with_exit_2_not_an_internal_error():
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "fsm_lstm.cli", "run", "reber", "BTXSE"], stdout=full,
                              stderr=subprocess.PIPE, text=True)
    assert done.returncode == 2 and done.stderr == ("fsm-lstm: error: no space left on device; free some space and "
                                                    "run it again\n")


def test_a_reference_with_the_models_grammar_name_but_another_language_is_told_apart(tmp_path, capsys):
    """An edited copy keeps its graph's name: 'compiled from 'parity', whose language differs from that of the
    grammar given ('parity')' read as a contradiction."""
    from fsm_lstm.grammar_files import save_grammar

    g = load_grammar("parity")
    edited = g.with_changes(accept=frozenset(s for s in g.states if s not in g.accept))
    assert edited.name == g.name
    save_grammar(edited, tmp_path / "parity_edited.toml")
    assert main(["verify", "parity", "--grammar", str(tmp_path / "parity_edited.toml"), "--max-len", "2",
                 "--examples", "5"]) == 1
    assert "the grammar given ('parity' too, but another)" in capsys.readouterr().out


def _strict_json(text: str):
    """JSON as a strict parser (JavaScript's JSON.parse) reads it: NaN and Infinity are refused."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_json_outputs_are_strict_json(capsys):
    """A certificate that fails before its first step has no margin and no boxes: null, not NaN (which Python
    writes and JavaScript's JSON.parse refuses)."""
    leaky = str(Path(__file__).parent.parent / "examples" / "leaky.npz")
    assert main(["certify", leaky, "--json"]) == 1
    out = _strict_json(capsys.readouterr().out)
    assert out["margin"] is None and out["on_box"]["c_lo"] is None and out["failure"]["unit"] == "leak"
    from fsm_lstm.json_text import json_text
    assert _strict_json(json_text({"a": [float("-inf"), 1.5, (float("nan"),)]})) == {"a": [None, 1.5, [None]]}


def test_run_escapes_a_state_name_holding_a_line_break(tmp_path, capsys):
    """A state named "line\\nbreak" split its table row in two; check already showed it escaped."""
    path = tmp_path / "nl.toml"
    path.write_text('start = "a"\naccept = ["line\\nbreak"]\ntransitions = [["a", "x", "line\\nbreak"]]\n')
    assert main(["run", str(path), "x"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[2].split() == ["1", "x", "line\\nbreak", "yes", "(none)"]


def test_an_unknown_option_points_to_the_commands_own_help(capsys):
    """It pointed to `fsm-lstm --help`, which does not list run's options."""
    with pytest.raises(SystemExit) as exit_:
        main(["run", "reber", "--jsn", "BT"])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1
    assert err.startswith("fsm-lstm run: error: unrecognized arguments: --jsn") and "did you mean --json?" in err
    assert err.endswith("(see fsm-lstm run --help)")
    with pytest.raises(SystemExit):
        main(["verify", "reber", "--max-length", "3"])
    assert "did you mean --max-len?" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "reber", "BT", "extra"])
    err = capsys.readouterr().err
    assert "unrecognized arguments: extra (see fsm-lstm run --help)" in err and "did you mean" not in err


def test_messages_name_the_mistake_for_folders_grammars_and_duplicates(tmp_path, capsys, monkeypatch):
    """A folder was an "unknown grammar format '(no extension)'", a grammar given to verify-many "no such model
    file", a model named without .npz had no hint, a grammar given twice to build was told to be renamed, and a
    sheet's input with a symbol outside the alphabet did not say that the workbook itself reads one."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    save_model(compile_grammar(load_grammar("parity")), tmp_path / "weak.npz")
    cases = [(["check", "results"], "results: a folder, not a grammar file"),
             (["verify-many", "reber", "--grammar", "reber"], "reber: a grammar; verify-many takes model files"),
             (["run", "weak", "01"], "did you mean the model weak.npz?"),
             (["build", "reber", "reber", "-o", "out"], "reber (bundled) is given twice; give it once"),
             (["sheet", "reber", "-o", "r.xlsx", "--input", "BTXSQTE"], "type this one there")]
    for argv, needle in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1, (argv, err)
    assert not (tmp_path / "out").exists() and not (tmp_path / "r.xlsx").exists()


def test_names_the_file_system_refuses_or_that_are_also_files_are_read_as_given(tmp_path, capsys, monkeypatch):
    """A model file named like a bundled grammar is a model to verify-many; a model named without .npz gets a
    hint there too; a 253-character name (254+ with .toml) crashed with exit 3; an option before the command is
    told to go after it."""
    monkeypatch.chdir(tmp_path)
    save_model(compile_grammar(load_grammar("parity")), tmp_path / "p2.npz")
    (tmp_path / "parity").write_bytes((tmp_path / "p2.npz").read_bytes())
    assert main(["verify-many", "parity", "--grammar", "parity", "--max-len", "3"]) == 0
    assert "parity: PASS" in capsys.readouterr().out
    long_name = "a" * 253
    for argv, needle in [(["verify-many", "p2", "--grammar", "parity"], "did you mean p2.npz?"),
                         (["check", long_name], "no such grammar file"), (["run", long_name, "0"], "no such grammar"),
                         (["verify-many", long_name, "--grammar", "parity"], "no such model file")]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1, (argv, err)
    with pytest.raises(SystemExit):
        main(["--json", "run", "reber", "BT"])
    assert "--json goes after the command: fsm-lstm run --json ..." in capsys.readouterr().err


def test_build_names_files_after_their_file_when_grammars_share_a_name(tmp_path, capsys):
    """LearnLib names every graph g: two LearnLib files were refused as both writing g.npz (a trial)."""
    learnlib = ('digraph g {{\n s0 [shape="circle" label="0"];\n s0 -> s0 [label="a / {out}"];\n'
                ' __start0 [label="" shape="none" width="0" height="0"];\n __start0 -> s0;\n}}\n')
    for name, out in (("first", "x"), ("second", "y")):
        (tmp_path / f"{name}.dot").write_text(learnlib.format(out=out))
    assert main(["build", str(tmp_path / "first.dot"), str(tmp_path / "second.dot"), "-o", str(tmp_path / "o")]) == 0
    assert {p.name for p in (tmp_path / "o").iterdir()} == {"first.npz", "first.xlsx", "second.npz", "second.xlsx"}
    capsys.readouterr()
    assert main(["build", str(tmp_path / "first.dot"), str(tmp_path / "first.dot"), "-o", str(tmp_path / "p")]) == 2
    assert "is given twice" in capsys.readouterr().err
    assert main(["build", "parity", str(tmp_path / "first.dot"), "-o", str(tmp_path / "q")]) == 0  # names differ
    assert {p.name for p in (tmp_path / "q").iterdir()} == {"parity.npz", "parity.xlsx", "g.npz", "g.xlsx"}


def test_verify_help_gives_the_region_proofs_own_time(capsys):
    """verify --time-limit 10 ran 22 s on a trained GRU: its help now says the region proof's time comes first."""
    from fsm_lstm.verify import REGION_TIME_LIMIT

    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"a trained model's region proof runs before, in {REGION_TIME_LIMIT:g} s of its own and at most " \
           f"{REGION_TIME_LIMIT:g} s more" in text
