"""The ``fsm-lstm`` command. Library code raises; only this module prints."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import __version__
from .automata import minimise, shortest_accepted
from .certify import Certificate, certify, model_grammar
from .compiler import compile_grammar
from .decode import decode
from .draw import draw
from .errors import UserError
from .extract import Extraction, extract
from .grammar import Grammar, structural_warnings
from .grammar_files import bundled_names, load_grammar, resolve, save_grammar
from .importer import read_model
from .model import Model, load_model, save_model
from .plot import plot_trace
from .runtime import run
from .sheets import sample_input, write_workbook
from .torch_export import save_onnx, save_torch
from .train import TrainConfig, check_config, train
from .reading import Reading, reading_of
from .verify import Verdict, describe, judge, verify
from .words import encode, format_word, parse_word, read_words

DEFAULT_GRAMMAR = "reber"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _load(spec: str, unknown_start: bool = False) -> tuple[Model, Grammar | None]:
    """A model file as it is, or a grammar compiled on the fly (with the grammar it came from)."""
    if Path(spec).suffix == ".npz":
        return load_model(spec), None
    g = load_grammar(spec)
    return compile_grammar(g, unknown_start=unknown_start), g


def _grammar_of(spec: str) -> Grammar:
    """A grammar file, a compiled model's grammar, or the automaton extracted from a trained model."""
    if Path(spec).suffix == ".npz":
        model = load_model(spec)
        if model.extra.get("grammar"):
            return model_grammar(model)
        return extract(model).grammar.with_changes(name=Path(spec).stem)
    return load_grammar(spec)


def _certificate_json(c: Certificate) -> dict:
    out = {"proven": c.proven, "margin": c.margin if c.proven else None, "configurations": c.configurations,
           "iterations": c.iterations, "precision": c.precision,
           "on_box": dict(zip(("c_lo", "c_hi", "h_lo", "h_hi"), c.on_box)),
           "off_box": dict(zip(("c_lo", "c_hi", "h_lo", "h_hi"), c.off_box))}
    if c.failure:
        out["failure"] = {k: v for k, v in vars(c.failure).items() if v is not None}
    return out


# ----- commands -----------------------------------------------------------------------------
def cmd_build(args: argparse.Namespace) -> int:
    import re

    from .sheets import check_text

    def safe(name: str) -> bool:  # usable as a file name in --out-dir: no path, no hidden file, no control character
        return not re.search(r"[/\\\x00-\x1f\x7f]", name) and not name.startswith(".") and 0 < len(name) <= 120

    if args.all and args.grammars:
        raise UserError("give grammars or --all, not both")
    specs = bundled_names() if args.all else args.grammars or [DEFAULT_GRAMMAR]
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir} is not a folder; choose another --out-dir")
    grammars = [load_grammar(s) for s in specs]  # fail on bad input before writing anything
    stems = []
    for spec, g in zip(specs, grammars):
        for what, values in (("grammar name", [g.name]), ("description", [g.description]), ("state", g.states),
                             ("symbol", g.alphabet)):
            for value in values:
                check_text(value, f"{resolve(spec)}: {what}")  # the workbook could not hold it
        stem = g.name if safe(g.name) else resolve(spec).stem  # output files are named after the grammar
        if not safe(stem):
            raise UserError(f"{resolve(spec)}: cannot name output files after grammar {g.name!r}; rename it")
        stems.append(stem)
    created = [p for p in (out_dir, *out_dir.parents) if not p.exists()]  # the folder first, then its parents
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the folder {out_dir}: {exc.strerror}; choose another --out-dir") from None
    try:
        print(f"{'grammar':<16} {'states':>6} {'edges':>6} {'units':>6}  {'certificate':<12} {'margin':>7} "
              f"{'time':>7}  outputs")
        failed = 0
        for stem, g in zip(stems, grammars):
            t0 = time.perf_counter()
            model = compile_grammar(g, unknown_start=args.unknown_start)
            cert = certify(model)
            target = out_dir / f"{stem}.npz"
            save_model(model, target)
            write_workbook(model, out_dir / f"{stem}.xlsx", sample_input(model), title=g.name)
            states = sum(h.startswith("state:") for h in model.heads)
            verdict = "proven" if cert.proven else "NOT PROVEN"
            failed += not cert.proven
            print(f"{stem:<16} {states:>6} {model.hidden_size - 1:>6} {model.hidden_size:>6}  "
                  f"{verdict:<12} {cert.margin:>7.3f} {time.perf_counter() - t0:>6.2f}s  {target}, {target.with_suffix('.xlsx').name}")
            if not cert.proven and cert.failure:
                print(f"  {cert.failure.message}")
    finally:
        for folder in created:  # folders made for nothing are not left behind (rmdir keeps non-empty ones)
            try:
                folder.rmdir()
            except OSError:
                break
    return 1 if failed else 0


def cmd_compile(args: argparse.Namespace) -> int:
    from .atomic import output_path

    output_path(args.output)  # a folder, pipe or device there: refuse before compiling
    g = load_grammar(args.grammar)
    model = compile_grammar(g, unknown_start=args.unknown_start)
    save_model(model, args.output)
    print(f"wrote {args.output}: {model.hidden_size} units, {len(model.heads)} heads "
          f"({len(g.states)} states, {len(g.transitions)} edges in {args.grammar})")
    return 0


def cmd_certify(args: argparse.Namespace) -> int:
    model, _ = _load(args.source, unknown_start=args.unknown_start)
    cert = certify(model, precision=args.precision)
    if args.json:
        print(json.dumps(_certificate_json(cert), indent=2))
    else:
        print(cert.summary())
    return 0 if cert.proven else 1


def _reading(model: Model, args: argparse.Namespace) -> Reading:
    """The model's reading with the command line's --final-only and markers."""
    return reading_of(model, True if args.final_only else None, args.start_marker, args.end_marker)


def _memory(args: argparse.Namespace) -> int:
    if not args.memory > 0:
        raise UserError(f"--memory takes a positive number of MB, not {args.memory}")
    return int(args.memory * 2**20)


def cmd_run(args: argparse.Namespace) -> int:
    model, _ = _load(args.source, unknown_start=args.unknown_start)
    reading = _reading(model, args)
    if reading.final_only:
        return _run_word(model, reading, args)
    word = parse_word(args.string, model.alphabet)
    dtype = np.float64 if args.dtype == "float64" else np.float32
    truth = run(model, encode([word], model.alphabet), dtype=dtype).decoded()[:, 0]
    records = []
    for t in range(len(word) + 1):
        ans = decode(model, truth[t])
        records.append({"t": t, "symbol": word[t - 1] if t else None,
                        "states": list(ans.states) if ans.states is not None else None,
                        "accept": ans.accept, "next": list(ans.next) if ans.next is not None else None})
    if args.json:
        print(json.dumps(records))
        return 0
    show = lambda v: "-" if v is None else (" ".join(v) if v else "(none)")  # noqa: E731
    rows = [(str(r["t"]), r["symbol"] or "", show(r["states"]),
             "-" if r["accept"] is None else ("yes" if r["accept"] else "no"), show(r["next"])) for r in records]
    head = ("t", "symbol", "states", "accept", "next")
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    for row in (head, *rows):
        print("  ".join(x.ljust(w) for x, w in zip(row, widths)).rstrip())
    return 0


def _run_word(model: Model, reading: Reading, args: argparse.Namespace) -> int:
    """A word-level model: only the answer after the whole (framed) word."""
    word = reading.strip(parse_word(args.string, model.alphabet))
    framed = reading.frame(word)
    dtype = np.float64 if args.dtype == "float64" else np.float32
    logit = float(run(model, encode([framed], model.alphabet), dtype=dtype).heads[-1, 0, model.heads.index("accept")])
    record = {"word": format_word(word, model.alphabet), "read": format_word(framed, model.alphabet),
              "accept": logit > 0, "logit": logit}
    if args.json:
        print(json.dumps(record))
    else:
        print(f"{record['read']!r}: {'accepted' if logit > 0 else 'rejected'} (accept logit {logit:.4g})")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    model, compiled_from = _load(args.source, unknown_start=args.unknown_start)
    reference = load_grammar(args.grammar) if args.grammar else compiled_from
    tty = sys.stderr.isatty() and not args.json
    progress = (lambda line: print(f"\r\033[K{line}", end="", file=sys.stderr, flush=True)) if tty else None
    report = verify(model, reference, unknown_start=args.unknown_start or None, max_len=args.max_len,
                    examples=args.examples, seed=args.seed, progress=progress, reading=_reading(model, args),
                    memory=_memory(args))
    if tty:
        print("\r\033[K", end="", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict(model.alphabet), indent=2))
    else:
        print("\n".join(describe(report, model.alphabet)))
    return 0 if report.passed else 1


def cmd_sheet(args: argparse.Namespace) -> int:
    from .atomic import output_path
    from .sheets import check_steps

    check_steps(args.steps)  # refuse a hopeless request before any work
    output_path(args.output)
    model, g = _load(args.source, unknown_start=args.unknown_start)
    text = sample_input(model) if args.input is None else args.input
    write_workbook(model, args.output, text, steps=args.steps, title=g.name if g else Path(args.source).stem)
    print(f"wrote {args.output} (input {text!r}; open the Trace sheet and type into cell B2)")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    g = load_grammar(args.grammar)
    try:
        lo, hi = (int(x) for x in args.lengths.split("-"))
    except ValueError:
        raise UserError(f"--lengths {args.lengths!r} is not a range such as 1-20") from None
    config = TrainConfig(task=args.task, cell=args.cell, hidden=args.hidden, layers=args.layers, epochs=args.epochs,
                         samples=args.samples, lengths=(lo, hi), seed=args.seed, learning_rate=args.lr,
                         batch=args.batch, final_only=args.final_only, start_marker=args.start_marker,
                         end_marker=args.end_marker, threads=args.threads)
    check_config(g, config)  # before anything is written
    tty = sys.stderr.isatty()

    def progress(epoch: int, epochs: int, loss: float, acc: float) -> None:
        if tty:
            bar = "#" * int(30 * epoch / epochs)
            print(f"\r[{bar:<30}] epoch {epoch}/{epochs} loss {loss:.4f} held-out {acc:.1%}", end="",
                  file=sys.stderr, flush=True)

    model, result = train(g, config, progress)
    if tty:
        print(file=sys.stderr)
    save_model(model, args.output)
    marks = " ".join(f"{name} marker {m!r}" for name, m in (("start", config.start_marker), ("end", config.end_marker))
                     if m is not None)
    measure = "held-out words right" if marks else "held-out strings right at every prefix"
    print(f"wrote {args.output}: {config.layers} x {config.hidden} {config.cell.upper()}, heads {' '.join(model.heads)}"
          f"{f' (word classifier, {marks})' if marks else ''}; {result.epochs} epochs in {result.seconds:.1f} s, "
          f"loss {result.loss:.4f}, {measure}: {result.accuracy:.1%}")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    model, _ = _load(args.model)
    reading = _reading(model, args)
    reference = load_grammar(args.grammar) if args.grammar else None
    if not 0 <= args.min_fidelity <= 1:
        raise UserError(f"--min-fidelity takes a share between 0 and 1, not {args.min_fidelity}")
    words = read_words(args.words, model.alphabet, reading.strip) if args.words else None
    tty = sys.stderr.isatty() and not args.json
    progress = (lambda line: print(f"\r\033[K{line}", end="", file=sys.stderr, flush=True)) if tty else None
    result = extract(model, args.method, seed=args.seed, reading=reading, words=words, max_states=args.max_states,
                     time_limit=args.time_limit, progress=progress)
    if tty:
        print("\r\033[K", end="", file=sys.stderr)
    extracted = result.grammar.with_changes(name=Path(args.output).stem)
    save_grammar(extracted, args.output)
    verdict = judge(model, extracted, reference, reading) if reference is not None else None
    poor = result.fidelity < args.min_fidelity
    if args.json:
        print(json.dumps({"output": args.output, **result.to_dict(), "min_fidelity": args.min_fidelity,
                          "below_min_fidelity": poor,
                          **({"verdict": verdict.to_dict(model.alphabet)} if verdict else {})}, indent=2))
    else:
        print("\n".join(_extraction_lines(args.output, result, args.min_fidelity, args.time_limit, verdict)))
    return 1 if poor or (verdict is not None and verdict.status == "fails") else 0


def _extraction_lines(output: str, r: Extraction, min_fidelity: float, time_limit: float,
                      verdict: Verdict | None) -> list[str]:
    lines = [f"wrote {output}: {r.states} states, {len(r.grammar.transitions)} edges ({r.method}, {r.seconds:.2f} s, "
             f"{r.queries:,} network queries)",
             f"fidelity: the automaton agrees with the network on {r.fidelity:.2%} of {r.held_out:,} held-out words "
             f"({r.held_out_source})"]
    if r.reading.final_only:
        lines.append(f"reading: {r.reading.describe()}")
    if r.stopped == "time-limit":
        lines.append(f"stopped at the time limit ({time_limit:g} s): the automaton is the best found so far")
    elif r.stopped == "max-states":
        lines.append("stopped at --max-states: the automaton is the best found so far")
    if r.fidelity < min_fidelity:
        lines.append(f"POOR FIDELITY: {r.fidelity:.2%} is below --min-fidelity {min_fidelity:.2%}; {output} holds the "
                     "best automaton found, which does not describe the network faithfully")
    if verdict is not None:
        lines.append(verdict.text)
    return lines


def cmd_export(args: argparse.Namespace) -> int:
    model, _ = _load(args.source)
    (save_onnx if args.to == "onnx" else save_torch)(model, args.output)
    print(f"wrote {args.output} ({args.to}; inputs one-hot [T, B, {len(model.alphabet)}], "
          f"outputs {len(model.heads)} head logits)")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    model = read_model(args.file, args.alphabet.split(), args.heads.split(), args.cell,
                       compose_linear=args.compose_linear, final_only=args.final_only,
                       start_marker=args.start_marker, end_marker=args.end_marker)
    save_model(model, args.output)
    imported = model.extra["imported"]
    print(f"wrote {args.output}: {model.cell} with {len(model.layers)} layer(s) of {model.hidden_size} units, "
          f"heads {' '.join(model.heads)} (from {imported['format']}: {', '.join(imported['layers'])})")
    for note in imported.get("notes", []):
        print(f"  note: {note}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    model, _ = _load(args.source)
    word = parse_word(args.string, model.alphabet)
    width, height = plot_trace(model, word, args.output)
    print(f"wrote {args.output} ({width} x {height} pixels)")
    return 0


def cmd_draw(args: argparse.Namespace) -> int:
    g = _grammar_of(args.source)
    draw(g, args.output)
    print(f"wrote {args.output}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    import re

    from .compiler import minimal_dfa
    from .grammar import shortest_accepted_length

    def shown(text: str) -> str:  # names and descriptions as text: control characters escaped, not obeyed
        return re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", lambda m: repr(m.group())[1:-1], text)

    g = load_grammar(args.grammar)
    try:
        minimal = minimal_dfa(g)
    except UserError as exc:
        raise UserError(f"{resolve(args.grammar)}: {exc}") from None
    print(f"{shown(str(resolve(args.grammar)))}: grammar {g.name!r}")
    if g.description:
        print(f"  {shown(g.description)}")
    accepting = [s for s in g.states if s in g.accept]
    more = f", ... ({len(accepting):,} in all)" if len(accepting) > 20 else ""
    print(f"  states: {len(g.states)} (start {shown(g.start)}, accepting "
          f"{shown(', '.join(accepting[:20])) + more or 'none'})")
    print(f"  alphabet: {shown(' '.join(g.alphabet))}")
    print(f"  edges: {len(g.transitions)}; {'deterministic' if g.is_deterministic else 'nondeterministic (an NFA)'}")
    print(f"  minimal DFA: {len(minimal.states)} states, {len(minimal.transitions)} edges "
          f"-> a compiled LSTM of {len(minimal.transitions) + 1} units")
    shortest = shortest_accepted_length(g)  # emptiness is decided by reachability, not by the search below
    examples = shortest_accepted(g, 5) if shortest is not None and shortest <= 64 else []
    if shortest is None:
        shown_examples = "(the language is empty)"
    elif not examples:
        shown_examples = f"(the shortest accepted string has {shortest:,} symbols, too long to show)"
    else:
        shown_examples = ", ".join(repr(format_word(w, g.alphabet)) for w in examples)
    print(f"  examples: {shown_examples}")
    for note in structural_warnings(g):
        print(f"  warning: {shown(note)}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    save_grammar(load_grammar(args.input), args.output)
    print(f"wrote {args.output}")
    return 0


# ----- parser -------------------------------------------------------------------------------
def _reading_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--final-only", action="store_true", help="a word classifier: only the accept head after the "
                   "whole word counts (default: the model's meta.final_only)")
    s.add_argument("--start-marker", metavar="SYM", help="symbol the model reads before each word (implies "
                   "--final-only; default: meta.start_marker)")
    s.add_argument("--end-marker", metavar="SYM", help="symbol the model reads after each word (implies "
                   "--final-only; default: meta.end_marker)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fsm-lstm", description="Compile finite-state grammars into LSTMs proven correct for every "
                "length; run, certify and draw them.")
    p.add_argument("--version", action="version", version=f"fsm-lstm {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    src = "a grammar (.toml, .dot, or a bundled name such as reber) or a model (.npz)"

    s = sub.add_parser("build", help="compile and certify grammars, writing models and workbooks "
                       "(default: the bundled Reber grammar)")
    s.add_argument("grammars", nargs="*", metavar="GRAMMAR", help="grammar files or bundled names (default: reber)")
    s.add_argument("--all", action="store_true", help="build every bundled grammar")
    s.add_argument("--out-dir", default="sheets", help="folder for the outputs (default: sheets)")
    s.add_argument("--unknown-start", action="store_true", help="every state is possible before the first symbol")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("compile", help="compile a grammar into a model file")
    s.add_argument("grammar", metavar="GRAMMAR")
    s.add_argument("-o", "--output", required=True, metavar="MODEL.npz")
    s.add_argument("--unknown-start", action="store_true", help="every state is possible before the first symbol")
    s.set_defaults(func=cmd_compile)

    s = sub.add_parser("certify", help="prove the model right for every length (exit 0) or show where it breaks (1)")
    s.add_argument("source", metavar="GRAMMAR|MODEL", help=src)
    s.add_argument("--precision", choices=("float32", "float64"), default="float32",
                   help="the arithmetic whose rounding the proof covers (float32 covers float64 too)")
    s.add_argument("--unknown-start", action="store_true", help="with a grammar: compile for an unknown start")
    s.add_argument("--json", action="store_true", help="print a JSON report")
    s.set_defaults(func=cmd_certify)

    s = sub.add_parser("run", help="run a string and show the decoded heads after every prefix")
    s.add_argument("source", metavar="GRAMMAR|MODEL", help=src)
    s.add_argument("string", metavar="STRING", help="symbols without separators (BTXSE), or space-separated")
    s.add_argument("--json", action="store_true", help="print a list of {t, symbol, states, accept, next}")
    s.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    s.add_argument("--unknown-start", action="store_true", help="with a grammar: compile for an unknown start")
    _reading_options(s)
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("verify", help="check a model against a grammar: pass (0) or the shortest string it gets "
                       "wrong (1)")
    s.add_argument("source", metavar="MODEL|GRAMMAR", help=src)
    s.add_argument("--grammar", metavar="REF", help="the reference grammar (default: the one the model carries)")
    s.add_argument("--max-len", type=int, metavar="N", help="enumerate every string up to this length "
                   "(default: as long as 2 million prefixes allow)")
    s.add_argument("--examples", type=int, default=200, metavar="N", help="hypothesis examples (default 200)")
    s.add_argument("--seed", type=int, default=0, help="seed of the hypothesis search (default 0)")
    s.add_argument("--unknown-start", action="store_true", help="every state is possible before the first symbol")
    s.add_argument("--memory", type=float, default=1024, metavar="MB",
                   help="memory budget of the exhaustive layer; a deeper --max-len is refused (default 1024)")
    s.add_argument("--json", action="store_true", help="print a JSON report")
    _reading_options(s)
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser("sheet", help="write a workbook whose formulas run the model live")
    s.add_argument("source", metavar="GRAMMAR|MODEL", help=src)
    s.add_argument("-o", "--output", required=True, metavar="BOOK.xlsx")
    s.add_argument("--input", metavar="STRING", help="the string in the input cell (default: an accepted example)")
    s.add_argument("--steps", type=int, metavar="N", help="rows of the trace (default: 30, or the input's length)")
    s.add_argument("--unknown-start", action="store_true", help="with a grammar: compile for an unknown start")
    s.set_defaults(func=cmd_sheet)

    s = sub.add_parser("train", help="train an nn.LSTM with heads on grammar strings (needs PyTorch)")
    s.add_argument("grammar", metavar="GRAMMAR")
    s.add_argument("-o", "--output", required=True, metavar="MODEL.npz")
    s.add_argument("--task", choices=("next", "accept", "both"), default="both", help="heads to train (default both)")
    s.add_argument("--cell", choices=("lstm", "gru", "rnn"), default="lstm", help="recurrent cell (default lstm)")
    s.add_argument("--hidden", type=int, default=16, help="units per layer, up to 4096 (default 16)")
    s.add_argument("--layers", type=int, default=1, help="recurrent layers (default 1)")
    s.add_argument("--epochs", type=int, default=300, help="at most this many epochs (default 300)")
    s.add_argument("--samples", type=int, default=2000, help="training strings (default 2000)")
    s.add_argument("--lengths", default="1-20", metavar="A-B", help="string lengths (default 1-20)")
    s.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (default 0.01)")
    s.add_argument("--batch", type=int, default=100, metavar="N", help="strings per training batch (default 100)")
    s.add_argument("--final-only", action="store_true", help="supervise only the end of each string")
    s.add_argument("--start-marker", metavar="SYM", help="word classifier (with --final-only --task accept): a "
                   "symbol outside the grammar read before each word; the alphabet gains it")
    s.add_argument("--end-marker", metavar="SYM", help="word classifier: a symbol read after each word; the accept "
                   "head after it is the verdict on the word")
    s.add_argument("--threads", type=int, default=1, metavar="N",
                   help="torch threads (default 1: on a busy machine more threads can be far slower)")
    s.add_argument("--seed", type=int, default=0, help="seed: the same seed gives the same model (default 0)")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("extract", help="extract the finite-state machine a model implements, as a grammar file; "
                       "exit 1 if its fidelity is below --min-fidelity or the network fails --grammar")
    s.add_argument("model", metavar="MODEL", help="a model file (.npz), or a grammar to compile first")
    s.add_argument("--grammar", metavar="REF", help="judge the network against this grammar: proven, agrees on what "
                   "was run, or a counterexample confirmed on the network")
    s.add_argument("-o", "--output", required=True, metavar="OUT.toml|OUT.dot", help="the automaton, as a grammar")
    s.add_argument("--method", choices=("lstar", "cluster"), default="lstar",
                   help="L* with the network as teacher (default), or hidden-state quantisation (small networks)")
    s.add_argument("--words", metavar="FILE", help="typical words, one a line, symbols separated by spaces (markers "
                   "optional): they guide the search, and 30%% are held out to measure fidelity")
    s.add_argument("--max-states", type=int, default=500, metavar="N", help="stop at N states (default 500)")
    s.add_argument("--time-limit", type=float, default=60.0, metavar="S", help="stop after S seconds with the best "
                   "automaton so far (default 60)")
    s.add_argument("--min-fidelity", type=float, default=0.99, metavar="F", help="exit 1 when the automaton agrees "
                   "with the network on less than this share of held-out words (default 0.99)")
    s.add_argument("--seed", type=int, default=0, help="seed of the sampled words (default 0)")
    s.add_argument("--json", action="store_true", help="print a JSON report")
    _reading_options(s)
    s.set_defaults(func=cmd_extract)

    s = sub.add_parser("export", help="export a model to ONNX or to a torch file")
    s.add_argument("source", metavar="MODEL", help=src)
    s.add_argument("--to", choices=("onnx", "torch"), required=True)
    s.add_argument("-o", "--output", required=True, metavar="FILE")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("import", help="import a PyTorch, safetensors, Keras, TensorFlow.js or ONNX model, exactly "
                       "or not at all")
    s.add_argument("file", metavar="FILE", help="a .pt/.pth state_dict, .safetensors, .keras, .h5, .onnx, or a "
                   "TensorFlow.js model.json (or its folder)")
    s.add_argument("-o", "--output", required=True, metavar="MODEL.npz")
    s.add_argument("--alphabet", required=True, help="the input symbols in one-hot order (or one per embedding "
                   "row), space-separated")
    s.add_argument("--heads", required=True, help="one label per head output, space-separated "
                   "(accept, next:SYMBOL, state:NAME); one label for 2 outputs means 'output 1 > output 0'")
    s.add_argument("--cell", choices=("lstm", "gru", "rnn"), help="the cell (default: read off the file)")
    s.add_argument("--compose-linear", action="store_true", help="a state_dict's linear layers have nothing "
                   "nonlinear between them: compose them into one head")
    s.add_argument("--final-only", action="store_true", help="only the heads after the last symbol are meant "
                   "(stored as meta.final_only)")
    s.add_argument("--start-marker", metavar="SYM", help="the symbol every string starts with (meta.start_marker)")
    s.add_argument("--end-marker", metavar="SYM", help="the symbol every string ends with (meta.end_marker)")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("plot", help="heatmaps of gates, c and h over the steps of a string (needs matplotlib)")
    s.add_argument("source", metavar="GRAMMAR|MODEL", help=src)
    s.add_argument("string", metavar="STRING")
    s.add_argument("-o", "--output", required=True, metavar="FILE.png")
    s.set_defaults(func=cmd_plot)

    s = sub.add_parser("draw", help="draw a grammar, a compiled model's grammar, or the automaton extracted from "
                       "a trained model, with Graphviz")
    s.add_argument("source", metavar="GRAMMAR|MODEL", help=src)
    s.add_argument("-o", "--output", required=True, metavar="FILE.svg|png|pdf")
    s.set_defaults(func=cmd_draw)

    s = sub.add_parser("check", help="describe a grammar file: states, determinism, minimal size, examples, warnings")
    s.add_argument("grammar", metavar="GRAMMAR")
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("convert", help="convert a grammar between TOML and DOT")
    s.add_argument("input", metavar="IN")
    s.add_argument("-o", "--output", required=True, metavar="OUT.toml|OUT.dot")
    s.set_defaults(func=cmd_convert)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point. Bad input (a UserError, or running out of memory) gives one line on stderr and exit code 2;
    anything else is a bug in fsm-lstm: one line ``fsm-lstm: internal error: ...`` and exit code 3, with the
    traceback only under ``--debug`` (anywhere on the command line) or FSM_LSTM_DEBUG=1. SIGTERM/SIGHUP exit
    128 + the signal's number, Ctrl-C 130, after removing temporary files."""
    import os
    import re
    import traceback

    from .atomic import terminate_as_exception
    from .errors import Terminated

    def say(message: str) -> None:  # exactly one line, whatever the message holds
        line = re.sub(r"[\x00-\x1f\x7f\u2028\u2029]", lambda m: repr(m.group())[1:-1], message)
        print(f"fsm-lstm: {line[:4000] + ' ...' if len(line) > 4000 else line}", file=sys.stderr)

    argv = list(sys.argv[1:] if argv is None else argv)
    end = argv.index("--") if "--" in argv else len(argv)
    debug = "--debug" in argv[:end] or os.environ.get("FSM_LSTM_DEBUG", "") not in ("", "0")
    argv = [a for k, a in enumerate(argv) if k >= end or a != "--debug"]
    parser = build_parser()
    parser.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    args = parser.parse_args(argv)
    try:
        with terminate_as_exception():
            return int(args.func(args))
    except UserError as exc:
        say(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except Terminated as exc:
        say(f"terminated by signal {exc.signum}; no partial output was left")
        return 128 + exc.signum
    except BrokenPipeError:
        return 0
    except MemoryError:
        if debug:
            traceback.print_exc()
        say("error: out of memory; try a smaller grammar, model, --steps or input")
        return 2
    except Exception as exc:  # the last resort: a bug, reported in one line
        if debug:
            traceback.print_exc()
        first = (str(exc).strip().splitlines() or [""])[0]
        say(f"internal error: {type(exc).__name__}: {first[:300]} (please report this; rerun with --debug for the "
            "traceback)")
        return 3


if __name__ == "__main__":
    sys.exit(main())
