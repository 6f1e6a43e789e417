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
from .extract import extract, judge
from .grammar import Grammar, structural_warnings
from .grammar_files import bundled_names, load_grammar, resolve, save_grammar
from .importer import model_from_tensors, read_tensors
from .model import Model, load_model, save_model
from .plot import plot_trace
from .runtime import run
from .sheets import sample_input, write_workbook
from .torch_export import save_onnx, save_torch
from .train import TrainConfig, train
from .verify import Report, describe, verify
from .words import encode, format_word, parse_word

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
        return extract(model)[1].with_changes(name=Path(spec).stem)
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
    if args.all and args.grammars:
        raise UserError("give grammars or --all, not both")
    specs = bundled_names() if args.all else args.grammars or [DEFAULT_GRAMMAR]
    out_dir = Path(args.out_dir)
    if not out_dir.is_dir():
        if out_dir.exists():
            raise UserError(f"{out_dir} is not a folder; choose another --out-dir")
        out_dir.mkdir(parents=True)
    grammars = [load_grammar(s) for s in specs]  # fail on bad input before writing anything
    print(f"{'grammar':<16} {'states':>6} {'edges':>6} {'units':>6}  {'certificate':<12} {'margin':>7} "
          f"{'time':>7}  outputs")
    failed = 0
    for g in grammars:
        t0 = time.perf_counter()
        model = compile_grammar(g, unknown_start=args.unknown_start)
        cert = certify(model)
        target = out_dir / f"{g.name}.npz"
        save_model(model, target)
        write_workbook(model, out_dir / f"{g.name}.xlsx", sample_input(model), title=g.name)
        states = sum(h.startswith("state:") for h in model.heads)
        verdict = "proven" if cert.proven else "NOT PROVEN"
        failed += not cert.proven
        print(f"{g.name:<16} {states:>6} {model.hidden_size - 1:>6} {model.hidden_size:>6}  "
              f"{verdict:<12} {cert.margin:>7.3f} {time.perf_counter() - t0:>6.2f}s  {target}, {target.with_suffix('.xlsx').name}")
        if not cert.proven and cert.failure:
            print(f"  {cert.failure.message}")
    return 1 if failed else 0


def cmd_compile(args: argparse.Namespace) -> int:
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


def cmd_run(args: argparse.Namespace) -> int:
    model, _ = _load(args.source, unknown_start=args.unknown_start)
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


def cmd_verify(args: argparse.Namespace) -> int:
    model, compiled_from = _load(args.source, unknown_start=args.unknown_start)
    reference = load_grammar(args.grammar) if args.grammar else compiled_from
    if args.max_len is not None and args.max_len < 0 or args.examples < 0:
        raise UserError("--max-len and --examples take whole numbers >= 0")
    tty = sys.stderr.isatty() and not args.json
    progress = (lambda line: print(f"\r\033[K{line}", end="", file=sys.stderr, flush=True)) if tty else None
    report = verify(model, reference, unknown_start=args.unknown_start or None, max_len=args.max_len,
                    examples=args.examples, seed=args.seed, progress=progress)
    if tty:
        print("\r\033[K", end="", file=sys.stderr)
    if args.json:
        print(json.dumps(_report_json(report, model.alphabet), indent=2))
    else:
        print("\n".join(describe(report, model.alphabet)))
    return 0 if report.passed else 1


def _report_json(report: Report, alphabet: Sequence[str]) -> dict:
    c = report.counterexample
    return {"passed": report.passed,
            "counterexample": None if c is None else {
                "string": format_word(c.word, alphabet), "length": len(c.word), "step": c.step, "head": c.head,
                "expected": c.expected, "actual": not c.expected, "logit": c.logit},
            "covered": {"certificate": report.certificate, "proven_all_lengths": report.proven,
                        "exhaustive_max_len": report.max_len, "prefixes": report.prefixes,
                        "examples": report.examples, "longest": report.longest},
            "heads_checked": list(report.checked), "heads_skipped": list(report.skipped)}


def cmd_sheet(args: argparse.Namespace) -> int:
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
                         final_only=args.final_only)
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
    print(f"wrote {args.output}: {config.layers} x {config.hidden} {config.cell.upper()}, heads {' '.join(model.heads)}; "
          f"{result.epochs} epochs, loss {result.loss:.4f}, held-out strings right at every prefix: "
          f"{result.accuracy:.1%}")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    model, _ = _load(args.model)
    reference = load_grammar(args.grammar) if args.grammar else None
    t0 = time.perf_counter()
    _, extracted = extract(model, args.method, seed=args.seed)
    seconds = time.perf_counter() - t0
    extracted = extracted.with_changes(name=Path(args.output).stem)
    save_grammar(extracted, args.output)
    verdict = judge(model, extracted, reference) if reference is not None else None
    if args.json:
        print(json.dumps({"output": args.output, "method": args.method, "states": len(extracted.states),
                          "edges": len(extracted.transitions), "seconds": seconds,
                          **({"verdict": vars(verdict)} if verdict else {})}, indent=2))
    else:
        print(f"wrote {args.output}: {len(extracted.states)} states, {len(extracted.transitions)} edges "
              f"({args.method}, {seconds:.2f} s)")
        if verdict:
            print(verdict.text)
    return 0 if verdict is None or verdict.equivalent else 1


def cmd_export(args: argparse.Namespace) -> int:
    model, _ = _load(args.source)
    (save_onnx if args.to == "onnx" else save_torch)(model, args.output)
    print(f"wrote {args.output} ({args.to}; inputs one-hot [T, B, {len(model.alphabet)}], "
          f"outputs {len(model.heads)} head logits)")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    symbols = args.alphabet.split()
    heads = args.heads.split()
    model = model_from_tensors(read_tensors(args.file), symbols, heads, args.cell)
    save_model(model, args.output)
    print(f"wrote {args.output}: {model.cell} with {len(model.layers)} layer(s) of {model.hidden_size} units, "
          f"heads {' '.join(model.heads)}")
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
    g = load_grammar(args.grammar)
    minimal = minimise(g)
    print(f"{resolve(args.grammar)}: grammar {g.name!r}")
    if g.description:
        print(f"  {g.description}")
    print(f"  states: {len(g.states)} (start {g.start}, accepting {', '.join(s for s in g.states if s in g.accept) or 'none'})")
    print(f"  alphabet: {' '.join(g.alphabet)}")
    print(f"  edges: {len(g.transitions)}; {'deterministic' if g.is_deterministic else 'nondeterministic (an NFA)'}")
    print(f"  minimal DFA: {len(minimal.states)} states, {len(minimal.transitions)} edges "
          f"-> a compiled LSTM of {len(minimal.transitions) + 1} units")
    examples = shortest_accepted(g, 5)
    print(f"  examples: {', '.join(repr(format_word(w, g.alphabet)) for w in examples) or '(the language is empty)'}")
    for note in structural_warnings(g):
        print(f"  warning: {note}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    save_grammar(load_grammar(args.input), args.output)
    print(f"wrote {args.output}")
    return 0


# ----- parser -------------------------------------------------------------------------------
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
    s.add_argument("--json", action="store_true", help="print a JSON report")
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
    s.add_argument("--hidden", type=int, default=16, help="units per layer (default 16)")
    s.add_argument("--layers", type=int, default=1, help="LSTM layers (default 1)")
    s.add_argument("--epochs", type=int, default=300, help="at most this many epochs (default 300)")
    s.add_argument("--samples", type=int, default=2000, help="training strings (default 2000)")
    s.add_argument("--lengths", default="1-20", metavar="A-B", help="string lengths (default 1-20)")
    s.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (default 0.01)")
    s.add_argument("--final-only", action="store_true", help="supervise only the end of each string")
    s.add_argument("--seed", type=int, default=0, help="seed: the same seed gives the same model (default 0)")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("extract", help="extract the finite-state machine a model implements, as a grammar file")
    s.add_argument("model", metavar="MODEL", help="a model file (.npz), or a grammar to compile first")
    s.add_argument("--grammar", metavar="REF", help="compare with this grammar: equivalent, or where not")
    s.add_argument("-o", "--output", required=True, metavar="OUT.toml|OUT.dot")
    s.add_argument("--method", choices=("cluster", "lstar"), default="cluster",
                   help="hidden-state quantisation, or L* with the network as oracle (default cluster)")
    s.add_argument("--seed", type=int, default=0, help="seed of the sampled strings (default 0)")
    s.add_argument("--json", action="store_true", help="print a JSON report")
    s.set_defaults(func=cmd_extract)

    s = sub.add_parser("export", help="export a model to ONNX or to a torch file")
    s.add_argument("source", metavar="MODEL", help=src)
    s.add_argument("--to", choices=("onnx", "torch"), required=True)
    s.add_argument("-o", "--output", required=True, metavar="FILE")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("import", help="import a PyTorch state_dict or safetensors file as a model")
    s.add_argument("file", metavar="FILE", help="a .pt/.pth state_dict or a .safetensors file")
    s.add_argument("-o", "--output", required=True, metavar="MODEL.npz")
    s.add_argument("--alphabet", required=True, help="the input symbols in one-hot order, space-separated")
    s.add_argument("--heads", required=True, help="one label per head output, space-separated "
                   "(accept, next:SYMBOL, state:NAME)")
    s.add_argument("--cell", choices=("lstm", "gru", "rnn"), help="the cell (default: read off the shapes)")
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
    """Entry point: bad input gives one line on stderr and exit code 2."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except UserError as exc:
        print(f"fsm-lstm: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fsm-lstm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
