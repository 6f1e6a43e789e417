"""The ``fsm-lstm`` command. Library code raises; only this module prints."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .errors import Terminated, UserError
from .json_text import json_text
from .shown_text import shown_text
from .limits import (EXHAUSTIVE_BUDGET, EXHAUSTIVE_CAP, EXHAUSTIVE_TIME, MAX_COLUMNS, MAX_EXAMPLES, MAX_LOCAL_WORKERS,
                     MAX_PLOT_SYMBOLS, MAX_REGIONS, MIN_FIDELITY, PATIENCE, TIME_LIMIT)

if TYPE_CHECKING:  # commands import what they use when they run, so that --help starts at once
    from .extract import Extraction
    from .grammar import Grammar
    from .model import Model
    from .onnx_labels import ExportedLabels
    from .reading import Reading
    from .train import TrainConfig
    from .verify import Verdict

__all__ = ["DEFAULT_GRAMMAR", "build_parser", "cmd_build", "cmd_certify", "cmd_check", "cmd_compile", "cmd_convert",
           "cmd_draw", "cmd_export", "cmd_extract", "cmd_import", "cmd_plot", "cmd_run", "cmd_sheet", "cmd_train",
           "cmd_verify", "cmd_verify_many", "main"]

DEFAULT_GRAMMAR = "reber"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _load(spec: str, unknown_start: bool = False) -> tuple[Model, Grammar | None]:
    """A model file as it is, or a grammar compiled on the fly (with the grammar it came from)."""
    from .compiler import compile_grammar
    from .grammar_files import load_grammar
    from .model import load_model

    if Path(spec).suffix.lower() == ".npz":  # any case, as outputs are named
        return load_model(spec), None
    g = load_grammar(spec)
    return compile_grammar(g, unknown_start=unknown_start), g


def _grammar_of(spec: str) -> Grammar:
    """A grammar file, a compiled model's grammar, or the automaton extracted from a trained model."""
    from .extract import extract
    from .grammar_files import load_grammar
    from .model import load_model, stored_grammar

    if Path(spec).suffix.lower() == ".npz":  # any case, as outputs are named
        model = load_model(spec)
        stored = stored_grammar(model)
        return stored if stored is not None else extract(model).grammar.with_changes(name=Path(spec).stem)
    return load_grammar(spec)


def _warn_if_empty(g: Grammar | None, unknown_start: bool) -> None:
    """One line on stderr when the grammar answers nothing (no accepting state reachable, no outputs)."""
    from .grammar import empty_language_warning

    note = empty_language_warning(g, unknown_start) if g is not None else None
    if note:
        print(f"fsm-lstm: warning: {note}", file=sys.stderr)


# ----- commands -----------------------------------------------------------------------------
def cmd_build(args: argparse.Namespace) -> int:
    from .build import build
    from .grammar_files import bundled_names
    from .progress import ProgressDisplay

    if args.all and args.grammars:
        raise UserError("give grammars or --all, not both")
    specs = bundled_names() if args.all else args.grammars or [DEFAULT_GRAMMAR]
    with ProgressDisplay("building", total=len(specs), enabled=not args.json) as shown:
        result = build(specs, args.out_dir, unknown_start=args.unknown_start,
                       progress=shown.callback(lambda k, n, name: shown.advance(k, n, f"building {name}")))
    if args.json:
        print(json_text(result.to_dict(), indent=2))
        return 0 if result.proven else 1
    print(f"{'grammar':<16} {'states':>6} {'edges':>6} {'units':>6}  {'certificate':<12} {'margin':>7} "
          f"{'time':>7}  outputs")
    for b in result.built:
        if b.warning:
            print(f"fsm-lstm: warning: {b.warning}", file=sys.stderr)
        cert = b.certificate
        print(f"{b.stem:<16} {b.states:>6} {b.edges:>6} {b.units:>6}  {'proven' if cert.proven else 'NOT PROVEN':<12} "
              f"{cert.margin:>7.3f} {b.seconds:>6.2f}s  {b.model}, {b.workbook.name}")
        if not cert.proven and cert.failure:
            print(f"  {cert.failure.message}")
    return 0 if result.proven else 1


def cmd_compile(args: argparse.Namespace) -> int:
    from .compiler import compile_grammar
    from .words import counted
    from .grammar_files import load_grammar
    from .model import save_model

    g = load_grammar(args.grammar)
    _warn_if_empty(g, args.unknown_start)
    model = compile_grammar(g, unknown_start=args.unknown_start)
    save_model(model, args.output)
    print(f"wrote {args.output}: {counted(model.hidden_size, 'unit')}, {counted(len(model.heads), 'head')} "
          f"({counted(len(g.states), 'state')}, {counted(len(g.transitions), 'edge')} in {args.grammar})")
    return 0


def cmd_certify(args: argparse.Namespace) -> int:
    from .certify import certificate_grammar, certify, region_proof_instead, states_proven_for
    from .grammar_files import load_grammar
    from .labels import parse_head
    from .model import stored_grammar
    from .region_proof import prove_regions
    from .verify import alphabet_notes, judged_reference, round_off_note, t0_note

    if not 0 < args.time_limit < math.inf:
        raise UserError(f"--time-limit must be a positive number of seconds, not {args.time_limit:g}")
    if args.max_regions < 1:
        raise UserError(f"--max-regions must be a whole number >= 1, not {args.max_regions}")
    model, g = _load(args.source, unknown_start=args.unknown_start)
    _reading(model, args)  # a meta every other command refuses (nonempty "true") is refused here too
    _warn_if_empty(g if g is not None else stored_grammar(model), args.unknown_start)
    reference = load_grammar(args.grammar) if args.grammar else None
    by_regions = region_proof_instead(model)  # trained, imported, read by argmax, or with an output's head gone
    if reference is None and by_regions and stored_grammar(model) is not None:
        reference = stored_grammar(model)
    if reference is not None:
        stored, reason = certificate_grammar(model, reference)
        if stored is None and by_regions:  # the region proof
            reading = _reading(model, args, reference)
            _, ref, left_out, _ = judged_reference(model, reference, args.unknown_start, reading)  # verify's heads
            proof = prove_regions(model, reference, args.unknown_start, reading, args.precision,
                                  args.max_regions, args.time_limit, heads=ref.checked)
            failure = proof.failure
            at_t0 = failure is not None and failure.confirmed and failure.prefix == "" and failure.kind == "head"
            t0 = t0_note(model, reading) if at_t0 else None
            notes = left_out + alphabet_notes(reference, model, reading) + ([t0] if t0 else [])
            if failure is not None and failure.confirmed:
                rounded = round_off_note(model, reference, args.unknown_start, reading,
                                         failure.counter_word or failure.word)
                notes += [rounded] if rounded else []
            if not proof.proven and not (failure is not None and failure.confirmed):  # nothing found on the network
                command = f"`fsm-lstm verify {args.source} --grammar {args.grammar or reference.name}" \
                          f"{_reading_flags(args)}`"
                notes.append(f"the proof was not attempted, and nothing was searched; {command} checks the network on "
                             "strings" if proof.regions == 0 else
                             f"no counterexample was found here; {command} also searches long and pumped strings, "
                             "and may find one")
            if args.json:
                print(json_text({**proof.to_dict(), **({"notes": notes} if notes else {})}, indent=2))
            else:
                print("\n".join([proof.summary(), *(f"  note: {note}" for note in notes)]))
            return 0 if proof.proven else 1
        if stored is None:
            reason += (f"; `fsm-lstm verify {args.source} --grammar {args.grammar}{_reading_flags(args)}` checks it on "
                       "strings instead")
            print(json_text({"proven": False, "not_applicable": reason}, indent=2) if args.json else
                  f"not applicable: {reason}")
            return 1
    if reference is None and stored_grammar(model) is None:
        raise UserError(f"{args.source} carries no grammar (it was trained or imported); give the grammar it should "
                        f"follow: fsm-lstm certify {args.source} --grammar REF")
    cert = certify(model, precision=args.precision)
    if args.json:
        print(json_text(cert.to_dict(), indent=2))
        return 0 if cert.proven else 1
    print(cert.summary())
    unknown_start = bool(model.extra.get("unknown_start"))
    if cert.proven and reference is not None and not states_proven_for(stored, reference, unknown_start) \
            and any(parse_head(h)[0] == "state" for h in model.heads):
        shared = ("outputs", "out: heads") if stored.machine else ("language", "accept and next heads")
        print(f"note: the state heads are proven for the states of the model's own grammar {stored.name!r}, not "
              f"those of {args.grammar}; {args.grammar} has the same {shared[0]}, so the {shared[1]} hold for it "
              "as they are")
    return 0 if cert.proven else 1


def _reading(model: Model, args: argparse.Namespace, grammar: Grammar | None = None) -> Reading:
    """The model's reading with the command line's --final-only and markers; a marker given there that is a
    symbol of ``grammar`` (the words it frames hold it) is refused."""
    from .reading import check_markers, reading_of

    if grammar is not None:
        check_markers(model, grammar, args.start_marker, args.end_marker)
    return reading_of(model, True if args.final_only else None, args.start_marker, args.end_marker, args.nonempty)


def _reading_flags(args: argparse.Namespace) -> str:
    """The reading options given on the command line, as typed again for another command ('' for none)."""
    flags = [" --final-only" if args.final_only else "",
             {True: " --nonempty", False: " --no-nonempty", None: ""}[args.nonempty]]
    flags += [f" --{name}-marker {m}" for name, m in (("start", args.start_marker), ("end", args.end_marker)) if m]
    return "".join(flags)


def _memory(args: argparse.Namespace) -> int:
    """--memory in bytes. A budget given over the memory available now (the machine's, a control group's or the
    address-space limit's) is refused (100 TB grew to 7 GB before it failed); the default, 1024 MB, is cut to what
    is available. Not checked for a Dask scheduler, whose workers run elsewhere."""
    from .free_memory import available_memory

    if args.memory is not None and not 0 < args.memory < math.inf:
        raise UserError(f"--memory takes a positive number of MB, not {args.memory}")
    available = None if getattr(args, "scheduler", None) else available_memory()
    if args.memory is None:
        return _DEFAULT_MEMORY if available is None else max(_MIN_MEMORY, min(_DEFAULT_MEMORY, available))
    budget = int(args.memory * 2**20)
    if available is not None and budget > available:
        raise UserError(f"--memory {args.memory:,.0f} MB is more than the {available // 2**20:,} MB available now; "
                        "give at most that")
    return budget


def cmd_run(args: argparse.Namespace) -> int:
    from .argmax_outputs import read_prefixes
    from .decode import decode
    from .runtime import run
    from .words import encode, parse_word

    model, _ = _load(args.source, unknown_start=args.unknown_start)
    reading = _reading(model, args)
    if reading.final_only:
        return _run_word(model, reading, args)
    word = parse_word(args.string, model.alphabet)
    logits = run(model, encode([word], model.alphabet), dtype=_dtype(args), raw=True).heads
    heads = read_prefixes(model, logits)  # as the heads are read: argmax out: heads by their margins
    truth = heads[:, 0] > 0
    records = []
    for t in range(len(word) + 1):
        ans = decode(model, truth[t])
        records.append({"t": t, "symbol": word[t - 1] if t else None,
                        "states": list(ans.states) if ans.states is not None else None,
                        "accept": ans.accept, "next": list(ans.next) if ans.next is not None else None,
                        **({"output": list(ans.output)} if ans.output is not None else {})})
    if args.json:  # with every head's logit: a head is true when its logit is > 0 (argmax: its margin)
        for t, record in enumerate(records):
            record["logits"] = {h: float(v) for h, v in zip(model.heads, logits[t, 0])}
            if model.argmax_outputs:
                record["margins"] = {h: float(v) for h, v in zip(model.heads, heads[t, 0]) if h.startswith("out:")}
        print(json_text(records))
        return 0
    show = lambda v: "-" if v is None else (" ".join(v) if v else "(none)")  # noqa: E731
    machine = bool(records) and "output" in records[0]  # a Moore or Mealy machine: no accept or next heads
    rows = [tuple(map(shown_text, (str(r["t"]), r["symbol"] or "", show(r["states"]))
                      + (((", ".join(r["output"]) or "(none)"),) if machine else
                         ("-" if r["accept"] is None else ("yes" if r["accept"] else "no"), show(r["next"])))))
            for r in records]
    head = ("t", "symbol", "states") + (("output",) if machine else ("accept", "next"))
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    for row in (head, *rows):
        print("  ".join(x.ljust(w) for x, w in zip(row, widths)).rstrip())
    if reading.nonempty:
        print("t = 0 is not judged (--nonempty): its heads are shown as the network gives them")
    return 0


def _dtype(args: argparse.Namespace) -> type | None:
    """``run --dtype`` as a numpy type; None (not given): the model's own arithmetic, ``meta.precision``."""
    import numpy as np

    return {"float64": np.float64, "float32": np.float32}.get(args.dtype)


def _run_word(model: Model, reading: Reading, args: argparse.Namespace) -> int:
    """A word-level model: only the answer after the whole (framed) word."""
    from .runtime import run
    from .words import encode, format_word

    word = reading.parse(args.string, model.alphabet)
    framed = reading.frame(word)
    heads = run(model, encode([framed], model.alphabet), dtype=_dtype(args)).heads
    logit = float(heads[-1, 0, model.heads.index("accept")])
    unjudged = reading.nonempty and not word
    record = {"word": reading.typed(word, model.alphabet), "read": format_word(framed, model.alphabet),
              "accept": logit > 0, "logit": logit, **({"judged": False} if unjudged else {})}
    if args.json:
        print(json_text(record))
    else:
        print(f"{record['read']!r}: {'accepted' if logit > 0 else 'rejected'} (accept logit {logit:.4g})"
              + ("; the empty word is not judged (--nonempty)" if unjudged else ""))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .grammar_files import load_grammar
    from .model import stored_grammar
    from .progress import ProgressDisplay
    from .sheets import check_workbook_room, write_workbook
    from .verify import describe, report_rows, report_word, verify

    model, compiled_from = _load(args.source, unknown_start=args.unknown_start)
    reference = load_grammar(args.grammar) if args.grammar else compiled_from
    reading = _reading(model, args, reference)
    if args.report:
        check_workbook_room(model)
    with ProgressDisplay("verifying", enabled=not args.json) as shown:
        report = verify(model, reference, unknown_start=args.unknown_start or None, max_len=args.max_len,
                        examples=args.examples, seed=args.seed, progress=shown.callback(shown.line),
                        reading=reading, memory=_memory(args), merge=not args.no_merge,
                        workers=args.workers, scheduler=args.scheduler, time_limit=args.time_limit)
    grammar = reference or stored_grammar(model)
    if args.report and grammar is None:
        raise UserError(f"{args.source} carries no grammar; give the reference with --grammar for --report")
    # the verdict first: a workbook refused for the counterexample's length leaves it said
    print(json_text(report.to_dict(model.alphabet), indent=2) if args.json else
          "\n".join(describe(report, model.alphabet)))
    if args.report:
        word = report_word(report, grammar)
        write_workbook(model, args.report, reading.typed(word, model.alphabet), title=f"verify {grammar.name}",
                       automaton=grammar, reading=reading,
                       summary=report_rows(report, word, model.alphabet, grammar.name))
        if not args.json:
            what = "the counterexample" if report.counterexample else "an accepted string checked; the Summary " \
                "sheet says which"
            print(f"wrote {args.report} (input {reading.typed(word, model.alphabet)!r}, {what})")
    return 0 if report.passed else 1


def cmd_verify_many(args: argparse.Namespace) -> int:
    from .grammar_files import FORMATS, load_grammar, resolve
    from .model import load_model
    from .progress import ProgressDisplay
    from .verify import describe
    from .verify_many import verify_many

    reference = load_grammar(args.grammar)
    for path in args.models:
        # a grammar file or a bundled name (a model file of that name is a model)
        if Path(path).suffix.lower() in FORMATS or (not Path(path).is_file() and resolve(path) != Path(path)):
            raise UserError(f"{path}: a grammar; verify-many takes model files (.npz): compile it first "
                            f"(fsm-lstm compile {path} -o MODEL.npz), or give it to `fsm-lstm verify`")
    models = [load_model(path) for path in args.models]  # every file checked before any work
    with ProgressDisplay("verifying", enabled=not args.json) as shown:
        reports = verify_many(models, reference, max_len=args.max_len, examples=args.examples, seed=args.seed,
                              memory=_memory(args), workers=args.workers, scheduler=args.scheduler,
                              progress=shown.callback(shown.line), time_limit=args.time_limit)
    if args.json:
        print(json_text([{"model": path, **r.to_dict(m.alphabet)} for path, m, r in zip(args.models, models, reports)],
                         indent=2))
    else:
        for path, m, r in zip(args.models, models, reports):  # one line each, its notes (as verify prints them) last
            lines = describe(r, m.alphabet)
            verdict = [line for line in lines if line.startswith(("PASS", "FAIL"))]
            after = [line.strip() for line in lines[lines.index(verdict[0]) + 1:]]
            layer = "hypothesis search" if r.found_by == "hypothesis" else r.found_by
            found = [f"(found by the {layer})"] if layer else []  # the layers' own lines are left out
            print(f"{path}: {' '.join(verdict + after + found + [f'(note: {note})' for note in r.notes])}")
    return 0 if all(r.passed for r in reports) else 1


def cmd_sheet(args: argparse.Namespace) -> int:
    from .grammar_files import load_grammar
    from .free_memory import available_memory
    from .model import densified
    from .progress import ProgressDisplay
    from .sheets import check_steps, sample_input, write_workbook

    check_steps(args.steps)  # refuse a hopeless request before any work
    model, g = _load(args.source, unknown_start=args.unknown_start)
    if model.hidden_size > MAX_COLUMNS:  # before anything reads the (possibly sparse) weights
        raise UserError(f"{args.source}: the model has {model.hidden_size:,} units, and a workbook needs a column "
                        f"per unit; spreadsheets hold at most {MAX_COLUMNS:,} columns")
    model = densified(model, "a workbook", available_memory())
    text = sample_input(model) if args.input is None else args.input
    automaton = load_grammar(args.automaton) if args.automaton else None
    try:
        with ProgressDisplay(f"writing {args.output}"):
            write_workbook(model, args.output, text, steps=args.steps, title=g.name if g else Path(args.source).stem,
                           automaton=automaton)
    except UserError as exc:
        if not str(exc).startswith("unknown symbol "):
            raise
        raise UserError(f"{exc}. The workbook's cached values are computed for symbols of the alphabet, but its "
                        "formulas read any symbol typed into Run!B2 (one outside the alphabet as an all-zero "
                        "input): write it with another --input and type this one there") from None
    if automaton is not None:  # once the workbook is written: a refusal stays one line
        _warn_if_alphabets_differ(model, automaton)
    print(f"wrote {args.output} (input {text!r}; open the Run sheet and type into cell B2)")
    return 0


def _warn_if_alphabets_differ(model: Model, automaton: Grammar) -> None:
    """A warning when the automaton beside the network reads other symbols than the network's words hold."""
    from .reading import reading_of

    inner = reading_of(model).inner(model.alphabet)
    named = lambda symbols: ", ".join(map(repr, symbols[:5])) + (" ..." if len(symbols) > 5 else "")  # noqa: E731
    parts = [f"{whose} {named(symbols)} ({why})" for whose, symbols, why in (
        ("the model's", [a for a in inner if a not in automaton.alphabet], "where the automaton has no transition"),
        ("the automaton's", [a for a in automaton.alphabet if a not in inner], "which the network cannot read"))
        if symbols]
    if parts:
        print(f"fsm-lstm: warning: the automaton {automaton.name!r} and the model read different symbols: only "
              f"{' and only '.join(parts)}", file=sys.stderr)


def cmd_train(args: argparse.Namespace) -> int:
    from .grammar_files import load_grammar
    from .model import save_model
    from .progress import ProgressDisplay
    from .train import TrainConfig, check_config, train

    g = load_grammar(args.grammar)
    try:
        lo, hi = (int(x) for x in args.lengths.split("-"))
    except ValueError:
        raise UserError(f"--lengths {args.lengths!r} is not a range such as 1-20") from None
    config = TrainConfig(task=args.task or ("output" if g.machine else "both"), cell=args.cell, hidden=args.hidden,
                         layers=args.layers, epochs=args.epochs, samples=args.samples, lengths=(lo, hi), seed=args.seed,
                         learning_rate=args.lr, batch=args.batch, final_only=args.final_only,
                         start_marker=args.start_marker, end_marker=args.end_marker, threads=args.threads)
    if not 0 <= args.min_accuracy <= 1:
        raise UserError(f"--min-accuracy takes a share between 0 and 1, not {args.min_accuracy}")
    check_config(g, config)  # before anything is written
    if args.certify:
        return _train_certified(g, config, args.output, args.restarts, args.budget)
    if args.restarts is not None or args.budget is not None:
        raise UserError("--restarts and --budget go with --certify")
    with ProgressDisplay("training", total=config.epochs) as shown:
        def progress(epoch: int, epochs: int, loss: float, acc: float) -> None:
            shown.advance(epoch, epochs, f"epoch {epoch}/{epochs} loss {loss:.4f} held-out {acc:.1%}")

        model, result = train(g, config, shown.callback(progress))
    save_model(model, args.output)
    marks = " ".join(f"{name} marker {m!r}" for name, m in (("start", config.start_marker), ("end", config.end_marker))
                     if m is not None)
    measure = "held-out words right" if marks else "held-out strings right at every prefix"
    print(f"wrote {args.output}: {config.layers} x {config.hidden} {config.cell.upper()}, heads {' '.join(model.heads)}"
          f"{f' (word classifier, {marks})' if marks else ''}; {result.epochs} epochs in {result.seconds:.1f} s, "
          f"loss {result.loss:.4f}, {measure}: {result.accuracy:.1%}")
    if result.accuracy < args.min_accuracy:
        print(f"below --min-accuracy {args.min_accuracy:.0%}: the model is written, but it did not learn its task; "
              "raise --epochs, --samples or --hidden")
        return 1
    return 0


def _train_certified(g: Grammar, config: TrainConfig, output: str, restarts: int | None, budget: float | None
                     ) -> int:
    from .certified_training import CertifyConfig, train_certified
    from .model import save_model
    from .progress import ProgressDisplay

    with ProgressDisplay("training until proven", total=config.epochs) as shown:
        def progress(epoch: int, epochs: int, loss: float, acc: float, proof: str) -> None:
            shown.advance(epoch, epochs, f"epoch {epoch}/{epochs} loss {loss:.4f} held-out {acc:.1%} {proof}")

        certify = CertifyConfig.for_cell(config.cell)
        certify = replace(certify, restarts=certify.restarts if restarts is None else restarts, budget=budget)
        model, result = train_certified(g, config, certify, progress=shown.callback(progress))
    save_model(model, output)
    r = result.train
    print(f"wrote {output}: {config.layers} x {config.hidden} {config.cell.upper()}, heads {' '.join(model.heads)}; "
          f"seed {result.seed} (attempt {result.seed - config.seed + 1} of {result.runs} tried), {r.epochs} epochs; "
          f"{r.seconds:.1f} s in all; held-out strings right at every prefix: {r.accuracy:.1%}")
    print(result.proof.summary() if result.proof.proven else
          f"{result.proof.summary()}; no proof within {config.epochs} epochs and {result.runs} seeds "
          "(raise --epochs, --restarts, --budget or --hidden)")
    return 0 if result.proof.proven else 1


def cmd_extract(args: argparse.Namespace) -> int:
    from .extract import extract
    from .grammar_files import load_grammar, save_grammar
    from .free_memory import available_memory
    from .model import densified
    from .outputs import NoOutputError
    from .progress import ProgressDisplay
    from .shard_queries import observing_on
    from .sheet_summary import disagreements, summary_rows
    from .sheets import check_workbook_room, write_workbook
    from .verify import judge
    from .words import read_words

    model, _ = _load(args.model)
    reference = load_grammar(args.grammar) if args.grammar else None
    reading = _reading(model, args, reference)
    if not 0 <= args.min_fidelity <= 1:
        raise UserError(f"--min-fidelity takes a share between 0 and 1, not {args.min_fidelity}")
    words = read_words(args.words, lambda text: reading.parse(text, model.alphabet)) if args.words else None
    if args.sheet:
        check_workbook_room(model)
    try:
        with observing_on(args.workers, args.scheduler, model, reading) as run_on, \
                ProgressDisplay("extracting", enabled=not args.json) as shown:
            result = extract(model, args.method, seed=args.seed, reading=reading, words=words,
                             max_states=args.max_states, time_limit=args.time_limit,
                             progress=shown.callback(shown.line), run=run_on, patience=args.patience,
                             min_fidelity=args.min_fidelity, samples=args.samples)
    except NoOutputError as exc:  # a poor network, not bad input: its verdict, and exit 1
        verdict = judge(model, None, reference, reading, time_limit=args.time_limit) if reference is not None else None
        if args.json:
            print(json_text({"output": None, "written": False, "reason": str(exc),
                              **({"verdict": verdict.to_dict(model.alphabet)} if verdict else {})}, indent=2))
        else:
            print("\n".join([f"nothing written to {args.output}: {exc}",
                             *([verdict.text, *verdict.notes] if verdict else [])]))
        return 1
    extracted = result.grammar.with_changes(name=Path(args.output).stem)
    save_grammar(extracted, args.output)
    verdict = judge(model, extracted, reference, reading, time_limit=args.time_limit) if reference is not None \
        else None
    poor = result.fidelity < args.min_fidelity
    if args.sheet:
        found = disagreements(model, extracted, seed=args.seed, reading=reading)
        rows = summary_rows(model, extracted, result.fidelity, result.held_out, result.held_out_source, found, reading)
        word = found.shown if found else ()
        write_workbook(densified(model, "a workbook", available_memory()), args.sheet,
                       reading.typed(word, model.alphabet), title=f"extracted {extracted.name}", automaton=extracted,
                       summary=rows, reading=reading)
    if args.json:
        notes = [line.removeprefix("note: ") for line in _extraction_lines(args, result, None)
                 if line.startswith("note: ")]
        print(json_text({"output": args.output, **result.to_dict(), "min_fidelity": args.min_fidelity,
                          "below_min_fidelity": poor, "notes": notes,
                          **({"verdict": verdict.to_dict(model.alphabet)} if verdict else {})}, indent=2))
    else:
        print("\n".join(_extraction_lines(args, result, verdict)))
        if args.sheet:
            on = "accept" if "accept" in model.heads else "the output"
            print(f"wrote {args.sheet} (Summary: " + (f"{found.disagree:,} of {found.checked:,} words searched "
                  f"disagree on {on}" if found else "no search for disagreements") + ")")
    return 1 if poor or (verdict is not None and verdict.status == "fails") else 0


def _extraction_lines(args: argparse.Namespace, r: Extraction, verdict: Verdict | None) -> list[str]:
    """The report of ``extract``: what was written, its fidelity, why the search stopped, and the verdict."""
    from .labels import parse_head
    from .words import counted

    output, min_fidelity = args.output, args.min_fidelity
    where = "on" if r.reading.final_only else "after every prefix of"  # what a word agreeing means (extract.agreement)
    if r.reading.nonempty and not r.reading.final_only:
        where = "after every nonempty prefix of"
    lines = [f"wrote {output}: {counted(r.states, 'state')}, {counted(len(r.grammar.transitions), 'edge')} "
             f"({r.method}, {r.seconds:.2f} s, "
             f"{r.queries:,} network queries)",
             f"fidelity: the automaton agrees with the network {where} {r.fidelity:.2%} of {r.held_out:,} held-out "
             f"words ({r.held_out_source})"]
    if r.longer is not None:
        lines.append(f"on longer words: it agrees {where} {r.longer.fidelity:.2%} of {r.longer.words:,} uniform "
                     f"random words of length {r.longer.shortest}-{r.longer.longest}")
    if r.reading.final_only or r.reading.nonempty:
        lines.append(f"reading: {r.reading.describe()}")
    if r.method == "lstar":
        from .lstar import OCCAM, OCCAM_WORDS, OUTGROWN_FACTOR, OUTGROWN_SHARE

        within = f"within {OCCAM * 100:g} points (or {OCCAM_WORDS} words, where that is more) of the best"
        chosen = r.unmerged_states if r.unmerged_states is not None else r.states
        kept = (f"the automaton written ({counted(r.states, 'state')}) comes from the smallest hypothesis "
                f"({counted(chosen, 'state')}) whose agreement with the network on the validation words is {within} "
                "one's (and not below --min-fidelity, when the best reaches it)"
                + (", its states then merged" if chosen > r.states else ""))
    else:
        kept = f"the automaton written ({counted(r.states, 'state')}) is the best found so far"
    if r.stopped == "time-limit":
        lines.append(f"stopped at the time limit ({args.time_limit:g} s): {kept}")
    elif r.stopped == "max-states":
        lines.append(f"L*'s hypotheses reached --max-states {args.max_states} before it was done: {kept}")
    elif r.stopped == "plateau":
        lines.append(f"stopped on a plateau: no hypothesis of the last --patience rounds (or of the last "
                     f"{OUTGROWN_SHARE:.0%} of them, once every one had {OUTGROWN_FACTOR} times the states of the one "
                     f"chosen) agreed significantly better with the network on the validation words; {kept}")
    if r.seconds > 1.5 * args.time_limit:  # the 200-word floor of the samples, on a large network
        lines.append(f"note: the run took {r.seconds:.1f} s, over --time-limit {args.time_limit:g} s: its samples of "
                     "at least 200 words and the measure of fidelity take that long on this network, whatever the "
                     "limit")
    if r.unmerged_states is not None and r.unmerged_states > r.states:
        lines.append(f"states merged: {r.unmerged_states} -> {r.states} (first where no more of the sampled words' "
                     f"prefixes go wrong, then where the agreement stays {within})")
    if r.samples_cut is not None:
        from .extract import SAMPLING_SHARE

        lines.append(f"note: timed on a few words, {r.samples_cut[1]:,} words per sample looked to take this network "
                     f"more than {SAMPLING_SHARE:.0%} of --time-limit {args.time_limit:g} s: the samples were cut to "
                     f"{r.samples_cut[0]:,} words each, a size that depends on the machine's speed and load (a "
                     "longer --time-limit keeps them whole; --samples N fixes them)")
    if r.words_left_out is not None:
        from .extract import MAX_WORD_LENGTH, OUTLIER_FACTOR

        count, bound = r.words_left_out
        lines.append(f"note: {counted(count, 'distinct word')} of --words left out, longer than {bound:,} symbols ("
                     f"{OUTLIER_FACTOR} times the 90th percentile of their lengths, at least 20 and at most "
                     f"{MAX_WORD_LENGTH:,}): the longest word sets the length of every sampled word, and an outlier "
                     "would make them all that long")
    if r.merging_cut:
        lines.append("note: the time limit stopped the merging of states before it was done: a run with a longer "
                     "--time-limit may write fewer states")
    if r.several_outputs:
        lines.append(f"note: after {r.several_outputs:.2%} of the held-out words the network has 2 or more out: heads "
                     "true at once; a Mealy or Moore machine gives one output, so the automaton keeps the first true "
                     "head and those words count as disagreements; a network trained with softmax cross-entropy "
                     "gives the largest: import it again with --argmax (docs/importing.md)")
    acceptor = not any(parse_head(h)[0] == "out" for h in r.machine.labels)  # a machine's heads: other notes
    unwritable = acceptor and r.machine_fidelity is not None and r.machine_fidelity >= min_fidelity > r.fidelity
    if r.fidelity < min_fidelity:
        lines.append(f"POOR FIDELITY: {r.fidelity:.2%} is below --min-fidelity {min_fidelity:.2%}; {output} holds the "
                     "automaton extracted, which does not describe the network faithfully"
                     + ("" if unwritable else _more_work(r, args)))
    if unwritable:
        language = "" if r.accept_fidelity is None else (
            f"the automaton's language agrees with the network's accept head after {r.accept_fidelity:.2%} of the "
            "same words, and ")
        lines.append(f"note: {language}the machine learned, whose heads are separate outputs, agrees with every head "
                     f"after {r.machine_fidelity:.2%}{'' if language else ' of the same words'}: the network's next: "
                     "heads are not the symbols that can still lead to acceptance, as a grammar's are, so no grammar "
                     "file gives them all" + ("; --final-only compares the accept head alone, after whole words"
                                              if language else ""))
    if 0 < min_fidelity < 1 and r.held_out and r.fidelity >= min_fidelity and min_fidelity ** r.held_out > 0.05:
        needed = math.ceil(math.log(0.05) / math.log(min_fidelity))
        lines.append(f"note: {counted(r.held_out, 'held-out word')} are too few to show --min-fidelity "
                     f"{min_fidelity:.2%}: even with all of them right, the agreement is known at 95 % confidence to "
                     f"be only at least {0.05 ** (1 / r.held_out):.2%}; that takes {needed:,} held-out words (with "
                     "--words, 30 % of its distinct words are held out from 200 on)")
    if r.longer is not None and r.longer.fidelity < min_fidelity <= r.fidelity:
        lines.append(f"note: on longer words the agreement falls below --min-fidelity {min_fidelity:.2%}: the "
                     f"automaton describes the network on words of up to about {r.longer.shortest - 1} symbols")
    if verdict is not None:
        lines.append(verdict.text)
        lines += verdict.notes  # what verify says of the alphabets
    return lines


def _more_work(r: Extraction, args: argparse.Namespace) -> str:
    """What may raise a poor fidelity: L* after clustering, the limit that stopped the run, or typical words."""
    hints = ["--method lstar"] if r.method == "cluster" else []
    stop = {"time-limit": f"a --time-limit above {args.time_limit:g} s",
            "max-states": f"a --max-states above {args.max_states}",
            "plateau": f"a --patience above {args.patience}"}.get(r.stopped or "")
    if stop:
        hints.append(stop)
    elif not args.words:
        hints.append("typical words with --words, where the search and the fidelity look")
    return f" (may help: {'; '.join(hints)})" if hints else ""


def cmd_export(args: argparse.Namespace) -> int:
    import shlex

    from .free_memory import available_memory
    from .model import densified
    from .reading import reading_of
    from .torch_export import save_onnx, save_torch

    model, _ = _load(args.source)
    model = densified(model, f"export --to {args.to}", available_memory())
    (save_onnx if args.to == "onnx" else save_torch)(model, args.output)
    kind = "float64" if model.precision == "float64" and args.to == "torch" else "float32"
    print(f"wrote {args.output} ({args.to}; inputs one-hot {kind} [T, B, {len(model.alphabet)}], "
          f"outputs {len(model.heads)} head logits)")
    if model.precision == "float64" and args.to == "onnx":
        print("  note: the network computes in float64 (meta.precision), but the ONNX graph in float32, with its "
              "weights rounded: onnxruntime runs no float64 recurrent operator; --to torch keeps float64")
    reading = reading_of(model)
    if args.to == "torch":
        print(f"  note: `fsm-lstm import {shlex.quote(str(args.output))} -o MODEL.npz` reads it back with its meta "
              "(alphabet, heads, reading)")
        return 0
    if reading.final_only:  # the ONNX file has heads at every step and no fsm-lstm meta
        framed = " ".join(m for m in (reading.start, "WORD", reading.end) if m is not None)
        print(f"  note: a word classifier: feed it {framed} and read its verdict at the last step")
    if model.argmax_outputs:
        print("  note: its out: heads are read together, the largest logit giving the output")
    print(f"  note: `fsm-lstm import {shlex.quote(str(args.output))} -o MODEL.npz` reads it back: the file keeps "
          f"its labels in its metadata (fsm_lstm.labels); {_onnx_import_command(model, args.output)}")
    return 0


def _onnx_import_command(model: Model, path: str) -> str:
    """How to import an exported ONNX file back: the one-hot order of the alphabet, the heads in order, and the
    reading, which the file does not hold (a wrong order would import another network without a word)."""
    import shlex

    from .reading import reading_of

    labels = [*model.alphabet, *model.heads]
    if any(not label or len(label.split()) != 1 or label != label.strip() for label in labels):
        return ("a copy without them cannot be labelled by flags: a symbol or head label holds white space, "
                "which --alphabet and --heads cannot give")
    reading = reading_of(model)
    flags = ["--final-only"] if reading.final_only else []
    flags += [f"--{side}-marker {shlex.quote(m)}" for side, m in (("start", reading.start), ("end", reading.end))
              if m is not None]
    flags += ["--argmax"] if model.argmax_outputs else []
    flags += ["--nonempty"] if reading.nonempty else []
    command = ["fsm-lstm import", shlex.quote(str(path)), "-o MODEL.npz --alphabet",
               shlex.quote(" ".join(model.alphabet)), "--heads", shlex.quote(" ".join(model.heads)), *flags]
    return f"a copy without them imports with `{' '.join(command)}`"


def cmd_import(args: argparse.Namespace) -> int:
    from .importer import exported_model, file_kind, read_model, read_network, unflagged_markers_note
    from .model import save_model
    from .output_names import check_not_read
    from .side_files import opened_beside
    from .reading import reading_of

    flags = {"--alphabet": args.alphabet, "--heads": args.heads, "--cell": args.cell,
             "--compose-linear": args.compose_linear, "--rnn-tanh": args.rnn_tanh, "--final-only": args.final_only,
             "--argmax": args.argmax, "--start-marker": args.start_marker, "--end-marker": args.end_marker,
             "--unused": args.unused, "--nonempty": args.nonempty}
    missing = [flag for flag in ("--alphabet", "--heads") if flags[flag] is None]
    given = [flag for flag, value in flags.items() if value not in (None, False)]
    labels = None  # the labels and reading the file holds (`fsm-lstm export --to onnx` stored them)
    stored = len(missing) == 2 and file_kind(args.file) == "onnx"  # a file of no known format says so first
    if len(missing) == 2 and not stored:  # only a file fsm-lstm exported labels itself
        exported = exported_model(args.file)
        if exported is None:
            raise UserError("import needs --alphabet and --heads: the input symbols in one-hot (or embedding row) "
                            "order and one label per head output (only a file `fsm-lstm export` wrote carries "
                            "its own)")
        if given:
            raise UserError(f"{args.file}: written by `fsm-lstm export --to torch`, it keeps its reading in its "
                            f"meta; leave out {' '.join(given)} (or give --alphabet and --heads, which read its "
                            "state_dict alone)")
        reading_of(exported)
        save_model(exported, args.output)
        print(f"wrote {args.output}: {_layers_text(exported)}, heads {' '.join(exported.heads)} (from fsm-lstm's "
              "torch export, with its meta)")
        return 0
    if missing and not stored:
        raise UserError(f"import needs {missing[0]} as well: " + ("the input symbols in one-hot (or embedding row) "
                        "order" if missing[0] == "--alphabet" else "one label per head output"))
    with opened_beside() as read:
        network = read_network(args.file, args.cell)
        if stored:
            labels = _onnx_labels(args.file, network.labels, given)
            args.alphabet, args.heads, args.final_only, args.start_marker, args.end_marker, args.argmax, \
                args.nonempty = labels.alphabet, labels.heads, labels.final_only, labels.start_marker, \
                labels.end_marker, labels.argmax, labels.nonempty
    with _labelled_by(labels, args.file):
        model = read_model(args.file, _labels(args.alphabet), _labels(args.heads), args.cell,
                           compose_linear=args.compose_linear, rnn_tanh=args.rnn_tanh, final_only=args.final_only,
                           start_marker=args.start_marker, end_marker=args.end_marker, argmax=args.argmax,
                           unused=(args.unused or "").split(), network=network)
        if labels is not None:
            model = _with_exported_labels(model, labels)
        if args.nonempty:
            imported = {**model.extra["imported"], "notes": [*model.extra["imported"].get("notes", []),
                        "words are never empty (meta.nonempty): the empty word is not judged"]}
            model = replace(model, extra={**model.extra, "nonempty": True, "imported": imported})
        reading_of(model)  # markers that no command could read are refused before anything is written
    check_not_read(args.output, read)  # a weight shard or external-data file is an input too
    save_model(model, args.output)
    imported = model.extra["imported"]
    print(f"wrote {args.output}: {_layers_text(model)}, heads {' '.join(model.heads)} (from {imported['format']}: "
          f"{', '.join(imported['layers'])})")
    unflagged = unflagged_markers_note(model.alphabet, args.start_marker, args.end_marker) if labels is None else None
    notes = imported.get("notes", [])
    if labels is not None:  # the export said how its heads are read: no advice on --argmax
        notes = ["alphabet, heads and reading from the file's fsm_lstm.labels metadata (fsm-lstm export wrote it)",
                 *(n for n in notes if "import it with --argmax" not in n)]
    for note in notes + ([unflagged] if unflagged else []):
        print(f"  note: {note}")
    return 0


@contextmanager
def _labelled_by(labels: ExportedLabels | None, path: str) -> Iterator[None]:
    """A refusal of labels the file's metadata gave says so (the user gave no flag it could name)."""
    try:
        yield
    except UserError as exc:
        if labels is None:
            raise
        raise UserError(f"{exc} (labelled by {path}'s fsm_lstm.labels metadata; give --alphabet and --heads to "
                        "read its graph alone)") from None


def _with_exported_labels(model: Model, labels: ExportedLabels) -> Model:
    """The model with what the export stored besides the reading: the unit labels and a compiled model's unknown
    start (both as the model format checks them)."""
    extra = {**model.extra, **({"unknown_start": True} if labels.unknown_start else {})}
    try:
        return replace(model, units=labels.units, extra=extra)
    except UserError as exc:
        raise UserError(f"its fsm_lstm.labels units do not fit the network ({exc})") from None


def _labels(given: str | tuple[str, ...]) -> list[str]:
    """--alphabet or --heads as given (split at white space), or as an export's metadata holds them."""
    return given.split() if isinstance(given, str) else list(given)


def _onnx_labels(path: str, text: str | None, given: list[str]) -> ExportedLabels:
    """The labels `fsm-lstm export --to onnx` stored in the file (``onnx_labels``; ``text``, its metadata entry),
    when no flag labels it; one line when there are none (the graph cannot say its alphabet's order) or when flags
    would change them."""
    from .onnx_labels import exported_labels

    if text is None:
        raise UserError("import needs --alphabet and --heads: the input symbols in one-hot (or embedding row) order "
                        "and one label per head output (only a file `fsm-lstm export` wrote carries its own)")
    if given:
        raise UserError(f"{path}: written by `fsm-lstm export --to onnx`, it keeps its labels and reading in its "
                        f"metadata; leave out {' '.join(given)} (or give --alphabet and --heads, which read its "
                        "graph alone)")
    try:
        return exported_labels(text)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None


def _layers_text(model: Model) -> str:
    """'gru with 2 layers of 64 units' (each layer's units, when they differ)."""
    from .words import counted

    sizes = [layer.hidden_size for layer in model.layers]
    units = ", ".join(f"{s:,}" for s in sizes) + " units" if len(set(sizes)) > 1 else counted(sizes[0], "unit")
    return f"{model.cell} with {len(sizes)} layer{'s' if len(sizes) > 1 else ''} of {units}"


def cmd_plot(args: argparse.Namespace) -> int:
    from .plot import plot_trace
    from .words import parse_word

    model, _ = _load(args.source)
    word = parse_word(args.string, model.alphabet)
    width, height = plot_trace(model, word, args.output)
    print(f"wrote {args.output} ({width} x {height} pixels)")
    return 0


def cmd_draw(args: argparse.Namespace) -> int:
    from .draw import draw

    g = _grammar_of(args.source)
    draw(g, args.output)
    print(f"wrote {args.output}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .automata import shortest_accepted
    from .compiler import minimal_dfa, prepare
    from .grammar import shortest_accepted_length, structural_warnings
    from .grammar_files import load_grammar, shown_path
    from .outputs import describe_machine
    from .words import counted, format_word


    g = load_grammar(args.grammar)
    try:
        minimal = minimal_dfa(g) if not g.machine else None
    except UserError as exc:
        raise UserError(f"{shown_path(args.grammar)}: {exc}") from None
    print(f"{shown_text(shown_path(args.grammar))}: grammar {g.name!r}")
    if g.description:
        print(f"  {shown_text(g.description)}")
    if minimal is None:
        warned = [f"  warning: {shown_text(n)}" for n in structural_warnings(g)]
        print("\n".join(describe_machine(g, shown_text) + warned))
        return 0
    accepting = [s for s in g.states if s in g.accept]
    more = f", ... ({len(accepting):,} in all)" if len(accepting) > 20 else ""
    print(f"  states: {len(g.states):,} (start {shown_text(g.start)}, accepting "
          f"{shown_text(', '.join(accepting[:20])) + more or 'none'})")
    print(f"  alphabet: {shown_text(' '.join(g.alphabet))}")
    print(f"  edges: {len(g.transitions):,}; {'deterministic' if g.is_deterministic else 'nondeterministic (an NFA)'}")
    compiled = minimal if g.is_deterministic else prepare(g)  # what compile builds (prepare): an NFA, trimmed
    print(f"  minimal DFA: {counted(len(minimal.states), 'state')}, {counted(len(minimal.transitions), 'edge')}"
          + (" " if g.is_deterministic else f"; the NFA, trimmed ({counted(len(compiled.transitions), 'edge')}) ")
          + f"-> a compiled LSTM of {counted(len(compiled.transitions) + 1, 'unit')}")
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
        print(f"  warning: {shown_text(note)}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from .grammar_files import load_grammar, save_grammar

    save_grammar(load_grammar(args.input), args.output)
    print(f"wrote {args.output}")
    return 0


# ----- parser -------------------------------------------------------------------------------
def _examples_option(s: argparse.ArgumentParser) -> None:
    s.add_argument("--examples", type=int, default=200, metavar="N", help="strings the hypothesis search "
                   f"generates (default 200, at most {MAX_EXAMPLES:,}; the report counts the distinct ones run, only "
                   "those longer than the enumeration reached: more when a failure is shrunk)")


def _cluster_options(s: argparse.ArgumentParser, purpose: str) -> None:
    s.add_argument("--workers", type=int, metavar="N", help=f"{purpose} a Dask LocalCluster of N worker processes "
                   f"(at most {MAX_LOCAL_WORKERS}; needs pip install 'fsm-lstm[dask]')")
    s.add_argument("--scheduler", metavar="ADDRESS", help=f"{purpose} the existing Dask cluster at ADDRESS "
                   "(e.g. tcp://host:8786)")


def _seed(text: str) -> int:
    """A --seed: a whole number from 0 to 2**64 - 1 (numpy's and torch's seeds)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2 ** 64:
        raise argparse.ArgumentTypeError(f"{text} is not a seed; give a whole number from 0 to 2**64 - 1")
    return value


def _reading_options(s: argparse.ArgumentParser) -> None:
    from .reading_help import READING_HELP as h

    s.add_argument("--final-only", action="store_true", help=h["final-only"])
    s.add_argument("--start-marker", metavar="SYM", help=h["start-marker"].format(final="--final-only"))
    s.add_argument("--end-marker", metavar="SYM", help=h["end-marker"].format(final="--final-only"))
    s.add_argument("--nonempty", action=argparse.BooleanOptionalAction, default=None,
                   help=h["nonempty"].format(no="--no-nonempty"))


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fsm-lstm", description="Compile finite-state grammars into LSTMs proven correct for every "
                "length; run, certify and draw them.")
    p.add_argument("--version", action="version", version=f"fsm-lstm {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p.commands = sub.choices  # type: ignore[attr-defined]  # for the errors of arguments a command does not take
    src = "a grammar (.toml, .dot, or a bundled name such as reber) or a model (.npz)"
    grammar = "a grammar file (.toml, .dot) or a bundled name such as reber"

    s = sub.add_parser("build", help="compile and certify grammars, writing models and workbooks "
                       "(default: the bundled Reber grammar)")
    s.add_argument("grammars", nargs="*", metavar="GRAMMAR", help="grammar files or bundled names (default: reber); "
                   "each writes NAME.npz and NAME.xlsx, named after the grammar's `name` (after its file when "
                   "files share one)")
    s.add_argument("--all", action="store_true", help="build every bundled grammar")
    s.add_argument("-o", "--out-dir", default="sheets", metavar="FOLDER",
                   help="folder for the outputs, created if needed (default: sheets)")
    s.add_argument("--unknown-start", action="store_true", help="every state is possible before the first symbol")
    s.add_argument("--json", action="store_true", help="print a JSON report")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("compile", help="compile a grammar into a model file")
    s.add_argument("grammar", metavar="GRAMMAR", help=grammar)
    s.add_argument("-o", "--output", required=True, metavar="MODEL.npz", help="the model file to write")
    s.add_argument("--unknown-start", action="store_true", help="every state is possible before the first symbol")
    s.set_defaults(func=cmd_compile)

    s = sub.add_parser("certify", help="prove the model right for every length (exit 0) or show where it breaks (1)")
    s.add_argument("source", metavar="GRAMMAR|MODEL", help=src)
    s.add_argument("--grammar", metavar="REF", help="certify against this grammar: a compiled model is proven when "
                   "its grammar has REF's language, else 'not applicable' (exit 1); a trained or imported model by "
                   "the region proof (docs/region-proof.md)")
    s.add_argument("--precision", choices=("float32", "float64"),
                   help="the arithmetic whose rounding the proof covers (default: the model's meta.precision, "
                   "float32 unless it says float64; for float32 weights a float32 proof covers float64 too)")
    s.add_argument("--unknown-start", action="store_true", help="with a grammar: compile for an unknown start")
    s.add_argument("--max-regions", type=int, default=MAX_REGIONS, metavar="N", help="trained models: give up "
                   f"when the region proof needs more than N boxes (default {MAX_REGIONS})")
    s.add_argument("--time-limit", type=float, default=TIME_LIMIT, metavar="S", help="trained models: give up the "
                   f"region proof after S seconds (default {TIME_LIMIT:g}); when it fails, up to 30 s more pump the "
                   "loops of the word where it failed, looking for a counterexample")
    s.add_argument("--json", action="store_true", help="print a JSON report")
    _reading_options(s)
    s.set_defaults(func=cmd_certify)

    s = sub.add_parser("run", help="run a string and show the decoded heads after every prefix")
    s.add_argument("source", metavar="GRAMMAR|MODEL", help=src)
    s.add_argument("string", metavar="STRING", help="symbols without separators (BTXSE), or space-separated")
    s.add_argument("--json", action="store_true", help="print a list of {t, symbol, states, accept, "
                   "next, logits}; for a word-level model one {word, read, accept, logit}")
    s.add_argument("--dtype", choices=("float32", "float64"),
                   help="the arithmetic of the forward pass (default: the model's meta.precision, else float32)")
    s.add_argument("--unknown-start", action="store_true", help="with a grammar: compile for an unknown start")
    _reading_options(s)
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("verify", help="check a model against a grammar: pass (0) or a string it gets wrong (1), "
                       "the shortest of all when found by a whole --max-len enumeration")
    s.add_argument("source", metavar="MODEL|GRAMMAR", help=src)
    s.add_argument("--grammar", metavar="REF", help="the reference grammar (default: the one the model carries)")
    s.add_argument("--max-len", type=int, metavar="N", help="enumerate every string up to this length (default: "
                   f"the longest whose strings number at most {EXHAUSTIVE_BUDGET:,} in all, at most "
                   f"{EXHAUSTIVE_CAP})")
    _examples_option(s)
    s.add_argument("--seed", type=_seed, default=0, help="seed of the hypothesis search (default 0)")
    s.add_argument("--unknown-start", action="store_true", help="every state is possible before the first symbol")
    s.add_argument("--memory", type=float, metavar="MB",
                   help="memory budget of the exhaustive layer, which walks the prefix trie depth first in blocks "
                   "(default 1024, or the memory available when that is less)")
    s.add_argument("--no-merge", action="store_true",
                   help="run every prefix, without merging prefixes whose hidden states are bitwise identical")
    s.add_argument("--time-limit", type=float, default=EXHAUSTIVE_TIME, metavar="S", help="stop the enumeration "
                   "after S seconds and report the length up to which every string was run (default "
                   f"{EXHAUSTIVE_TIME:g}); the hypothesis search after it runs in what is left, and at least a "
                   "tenth of S; a trained model's region proof runs before, in 5 s of its own and at most 5 s more "
                   "to search after a failure")
    s.add_argument("--json", action="store_true", help="print a JSON report")
    s.add_argument("--report", metavar="BOOK.xlsx", help="also write a workbook with the counterexample (or, when "
                   "it passes, an accepted string checked) as input, the reference grammar as the automaton beside the "
                   "network, and a Summary sheet saying which string it shows and why")
    _cluster_options(s, "shard the exhaustive layer by prefix over")
    _reading_options(s)
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser("verify-many", help="verify many models against one grammar, side by side on a Dask cluster "
                       "with --workers or --scheduler: one line per model; exit 1 when any fails")
    s.add_argument("models", nargs="+", metavar="MODEL", help="model .npz files")
    s.add_argument("--grammar", required=True, metavar="G", help="the reference grammar")
    s.add_argument("--max-len", type=int, metavar="N", help="as for verify")
    s.add_argument("--time-limit", type=float, default=EXHAUSTIVE_TIME, metavar="S", help="as for verify, for each "
                   f"model (default {EXHAUSTIVE_TIME:g})")
    _examples_option(s)
    s.add_argument("--seed", type=_seed, default=0, help="seed of the hypothesis search (default 0)")
    s.add_argument("--memory", type=float, metavar="MB", help="memory budget per verification "
                   "(default 1024, or the memory available when that is less)")
    s.add_argument("--json", action="store_true", help="print one JSON report per model, as a list")
    _cluster_options(s, "run the verifications on")
    s.set_defaults(func=cmd_verify_many)

    s = sub.add_parser("sheet", help="write a workbook whose formulas run the model live")
    s.add_argument("source", metavar="GRAMMAR|MODEL", help=src)
    s.add_argument("-o", "--output", required=True, metavar="BOOK.xlsx", help="the workbook to write")
    s.add_argument("--input", metavar="STRING", help="the string in the input cell (default: an accepted example "
                   "of the model's grammar; for a trained or imported model, which carries none, the first 4 symbols "
                   "of its alphabet, markers aside)")
    s.add_argument("--steps", type=int, metavar="N", help="rows of the trace (default: 30, or the input's length)")
    s.add_argument("--unknown-start", action="store_true", help="with a grammar: compile for an unknown start")
    s.add_argument("--automaton", metavar="GRAMMAR", help="an automaton (grammar file or bundled name) to run beside "
                   "the network: an Automaton sheet, its state and accept on Run, and where they agree")
    s.set_defaults(func=cmd_sheet)

    s = sub.add_parser("train", help="train an nn.LSTM with heads on grammar strings (needs PyTorch)")
    s.add_argument("grammar", metavar="GRAMMAR")
    s.add_argument("-o", "--output", required=True, metavar="MODEL.npz")
    s.add_argument("--task", choices=("next", "accept", "both", "output"), default=None,
                   help="heads to train: next, accept or both (the default), or output, the out: heads of a Moore or "
                   "Mealy machine (the default for machines)")
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
    s.add_argument("--seed", type=_seed, default=0, help="seed: the same seed gives the same model (default 0)")
    s.add_argument("--min-accuracy", type=float, default=0.99, metavar="P",
                   help="exit 1 when the share of held-out strings right is below P (default 0.99; the model is "
                   "written either way)")
    s.add_argument("--certify", action="store_true", help="train a network (any --layers) until the all-lengths "
                   "region proof holds (exit 0) or the epochs run out (exit 1); see docs/region-proof.md")
    s.add_argument("--restarts", type=int, metavar="N", help="--certify: when an attempt ends unproven, train again "
                   "with seed SEED+1, SEED+2, ... at most N times (default 3)")
    s.add_argument("--budget", type=float, metavar="SECONDS", help="--certify: start no further epoch or seed once "
                   "training has taken this long (default: no limit but --epochs and --restarts)")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("extract", help="extract the finite-state machine a model implements, as a grammar file; "
                       "exit 1 if its fidelity is below --min-fidelity or the network fails --grammar")
    s.add_argument("model", metavar="MODEL", help="a model file (.npz), or a grammar to compile first")
    s.add_argument("--grammar", metavar="REF", help="judge the network against this grammar: proven, agrees on what "
                   "was run, or a counterexample confirmed on the network")
    s.add_argument("-o", "--output", required=True, metavar="OUT.toml|OUT.dot", help="the automaton, as a grammar")
    s.add_argument("--sheet", metavar="BOOK.xlsx", help="also write a workbook with the automaton beside the network "
                   "and a Summary sheet: states, fidelity, and sampled words where they disagree, shortest first")
    s.add_argument("--method", choices=("lstar", "cluster"), default="lstar",
                   help="L* with the network as teacher (default), or hidden-state clustering (compiled networks)")
    s.add_argument("--words", metavar="FILE", help="typical words, one a line, symbols separated by spaces (or "
                   "together when each is one character; markers optional): they guide the search, and 30%% of 200 "
                   "or more distinct words are held out to measure fidelity")
    s.add_argument("--max-states", type=int, default=500, metavar="N", help="stop at N states (default 500)")
    s.add_argument("--time-limit", type=float, default=60.0, metavar="S", help="stop after S seconds with the best "
                   "automaton so far (default 60); with --grammar, the verdict's verification gets as long again")
    s.add_argument("--patience", type=int, default=PATIENCE, metavar="N", help="lstar: stop when N rounds in a row "
                   "give no significant gain in validation agreement (default %(default)s)")
    s.add_argument("--min-fidelity", type=float, default=MIN_FIDELITY, metavar="F", help="exit 1 when the automaton "
                   f"agrees with the network on less than this share of held-out words (default {MIN_FIDELITY}); "
                   "no smaller automaton is preferred for falling below it")
    s.add_argument("--seed", type=_seed, default=0, help="seed of the sampled words (default 0)")
    s.add_argument("--samples", type=int, metavar="N", help="words per sample (searched, validation, held out; "
                   "default 2000, cut to 1000, 500 or 200 when running them would take over 40%% of --time-limit; "
                   "given, never cut)")
    s.add_argument("--json", action="store_true", help="print a JSON report")
    _cluster_options(s, "run the network queries over the sampled and --words words on")
    _reading_options(s)
    s.set_defaults(func=cmd_extract)

    s = sub.add_parser("export", help="export a model to ONNX or to a torch file")
    s.add_argument("source", metavar="MODEL", help=src)
    s.add_argument("--to", choices=("onnx", "torch"), required=True, help="ONNX, or a torch file for "
                   "torch.load(..., weights_only=True)")
    s.add_argument("-o", "--output", required=True, metavar="FILE", help="the file to write")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("import", help="import a PyTorch, safetensors, Keras, TensorFlow.js or ONNX model, exactly "
                       "or not at all")
    s.add_argument("file", metavar="FILE", help="a .pt/.pth state_dict, .safetensors, .keras, .h5, .onnx, or a "
                   "TensorFlow.js model.json (or its folder)")
    s.add_argument("-o", "--output", required=True, metavar="MODEL.npz", help="the model file to write")
    s.add_argument("--alphabet", help="the input symbols in one-hot order (or one per embedding row), "
                   "space-separated (required, except for a file `fsm-lstm export --to torch` wrote)")
    s.add_argument("--heads", help="one label per head output, space-separated (accept, next:SYMBOL, state:NAME, "
                   "out:VALUE); one label for 2 outputs means 'output 1 > output 0' (required, as --alphabet)")
    s.add_argument("--cell", choices=("lstm", "gru", "rnn"), help="the cell (default: read off the file)")
    s.add_argument("--compose-linear", action="store_true", help="a state_dict's linear layers have nothing "
                   "nonlinear between them: compose them into one head")
    s.add_argument("--rnn-tanh", action="store_true", help="a state_dict's nn.RNN uses nonlinearity='tanh' "
                   "(torch's default; a state_dict does not record it, and a ReLU RNN is refused)")
    s.add_argument("--final-only", action="store_true", help="only the heads after the last symbol are meant "
                   "(stored as meta.final_only)")
    s.add_argument("--argmax", action="store_true", help="the out: heads give the output with the largest value, "
                   "as a network trained with softmax cross-entropy (stored as meta.argmax_outputs)")
    s.add_argument("--unused", metavar="SYMBOLS", help="symbols of --alphabet that no word holds (padding, "
                   "[UNK]), left out of the model: exact on every word without them; needed for an Embedding with "
                   "mask_zero=True, whose id 0 they must name")
    s.add_argument("--start-marker", metavar="SYM", help="the symbol every word starts with (meta.start_marker); "
                   "must be in --alphabet, differ from --end-marker, and implies --final-only")
    s.add_argument("--end-marker", metavar="SYM", help="the symbol every word ends with (meta.end_marker); must be "
                   "in --alphabet and implies --final-only")
    s.add_argument("--nonempty", action="store_true", help="words are never empty: the empty word is not judged "
                   "(stored as meta.nonempty; its heads before the first symbol come from the head bias alone)")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("plot", help="heatmaps of gates, c and h over the steps of a string of at most "
                       f"{MAX_PLOT_SYMBOLS} symbols (needs matplotlib)")
    s.add_argument("source", metavar="GRAMMAR|MODEL", help=src)
    s.add_argument("string", metavar="STRING", help="symbols without separators (BTXSE), or space-separated")
    s.add_argument("-o", "--output", required=True, metavar="FILE.png", help="the picture to write")
    s.set_defaults(func=cmd_plot)

    s = sub.add_parser("draw", help="draw a grammar, a compiled model's grammar, or the automaton extracted from "
                       "a trained model, with Graphviz")
    s.add_argument("source", metavar="GRAMMAR|MODEL", help=src)
    s.add_argument("-o", "--output", required=True, metavar="FILE.svg|png|pdf",
                   help="the picture to write; its extension picks the format")
    s.set_defaults(func=cmd_draw)

    s = sub.add_parser("check", help="describe a grammar file: states, determinism, minimal size, examples, warnings")
    s.add_argument("grammar", metavar="GRAMMAR", help=grammar)
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("convert", help="convert a grammar between TOML and DOT (the AALpy convention)")
    s.add_argument("input", metavar="IN", help=grammar)
    s.add_argument("-o", "--output", required=True, metavar="OUT.toml|OUT.dot",
                   help="the grammar file to write; its extension picks the format")
    s.set_defaults(func=cmd_convert)
    for action in sub._choices_actions:  # every command's --help opens with its one-line summary
        command = sub.choices[action.dest]
        command.description = command.description or action.help
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point. Bad input (a UserError, or running out of memory) gives one line on stderr and exit code 2;
    anything else is a bug in fsm-lstm: one line ``fsm-lstm: internal error: ...`` and exit code 3, with the
    traceback only under ``--debug`` (anywhere on the command line) or FSM_LSTM_DEBUG=1. SIGTERM/SIGHUP exit
    128 + the signal's number, Ctrl-C 130, after removing temporary files. A full disk is bad input too (2); a
    reader that stops reading the output leaves the exit code as the command's verdict made it."""
    import os

    from .standard_streams import readers_may_leave

    def say(message: str) -> None:  # exactly one line, whatever the message holds
        line = shown_text(message)
        print(f"fsm-lstm: {line[:4000] + ' ...' if len(line) > 4000 else line}", file=sys.stderr)

    argv = list(sys.argv[1:] if argv is None else argv)
    end = argv.index("--") if "--" in argv else len(argv)
    debug = "--debug" in argv[:end] or os.environ.get("FSM_LSTM_DEBUG", "") not in ("", "0")
    argv = [a for k, a in enumerate(argv) if k >= end or a != "--debug"]
    parser = build_parser()
    parser.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        _unrecognized(parser, args.command, unknown)
    with readers_may_leave():  # `| head` ends the reading, not the command: it exits with its verdict's code
        return _run(args, say, debug)


def _unrecognized(parser: argparse.ArgumentParser, command: str, unknown: list[str]) -> None:
    """Refuse arguments the command does not take, pointing to the command's own help, with the nearest of its
    options for a mistyped one (``--jsn``: did you mean --json?)."""
    import difflib

    command_parser = parser.commands[command]  # type: ignore[attr-defined]
    options = [o for action in command_parser._actions for o in action.option_strings if o.startswith("--")]
    near = [m for a in unknown if a.startswith("--")
            for m in difflib.get_close_matches(a.split("=")[0], options, n=1, cutoff=0.6)]
    hint = f"; did you mean {near[0]}?" if near else ""
    if near and near[0] in unknown:  # given before the command: fsm-lstm --json run ...
        hint = f"; {near[0]} goes after the command: fsm-lstm {command} {near[0]} ..."
    command_parser.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")


_DEFAULT_MEMORY = 1024 * 2**20  # verify's --memory
_MIN_MEMORY = 64 * 2**20  # the default's least, when even less is available (the walk then refuses what cannot fit)
_MEMORY_HINT = "try a smaller grammar, model or input"
_MEMORY_HINTS = {  # what to lower, by command
    "verify": "lower --memory (the enumeration's budget), --max-len or --time-limit",
    "verify-many": "lower --memory (each model's budget), --max-len or --time-limit, or verify fewer models at once",
    "certify": "lower --max-regions or --time-limit (a trained network's region proof)",
    "extract": "lower --samples, --max-states or --time-limit",
    "sheet": "lower --steps, or give a shorter input",
    "train": "lower --samples or --hidden",
}


def _run(args: argparse.Namespace, say: Callable[[str], None], debug: bool) -> int:
    """The command, its errors told in one line (see :func:`main`)."""
    import errno
    import os
    import traceback

    from .atomic import terminate_as_exception
    from .output_names import check_outputs

    try:
        with terminate_as_exception():
            check_outputs(args)  # extensions, kinds and inputs written over: refused before any work
            code = int(args.func(args))
            if sys.stdout is not None:
                sys.stdout.flush()  # a full disk is told here, not lost at exit
            return code
    except UserError as exc:
        say(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except Terminated as exc:
        say(f"terminated by signal {exc.signum}; no partial output was left")
        return 128 + exc.signum
    except MemoryError:
        if debug:
            traceback.print_exc()
        say(f"error: out of memory; {_MEMORY_HINTS.get(getattr(args, 'command', ''), _MEMORY_HINT)}")
        return 2
    except Exception as exc:  # the last resort: a bug, reported in one line, unless the disk is full
        signal = _interrupted_within(exc)  # a library caught it and raised its own (hypothesis: Flaky...)
        if isinstance(signal, KeyboardInterrupt):
            say("interrupted")
            return 130
        if signal is not None:
            say(f"terminated by signal {signal.signum}; no partial output was left")
            return 128 + signal.signum
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            where = f" writing {exc.filename}" if exc.filename else ""
            say(f"error: {os.strerror(exc.errno).lower()}{where}; free some space and run it again")
            return 2
        if debug:
            traceback.print_exc()
        first = (str(exc).strip().splitlines() or [""])[0]
        say(f"internal error: {type(exc).__name__}: {first[:300]} (please report this; rerun with --debug for the "
            "traceback)")
        return 3


def _interrupted_within(exc: BaseException) -> Terminated | KeyboardInterrupt | None:
    """The signal's exception (Terminated, KeyboardInterrupt) an exception was raised from or during, if any: both
    links of every exception on the way are followed."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        cause = todo.pop()
        if cause is None or id(cause) in seen:
            continue
        if isinstance(cause, (Terminated, KeyboardInterrupt)):
            return cause
        seen.add(id(cause))
        todo += [cause.__cause__, cause.__context__]
    return None


if __name__ == "__main__":
    sys.exit(main())
