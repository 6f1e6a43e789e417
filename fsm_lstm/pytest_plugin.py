"""pytest plugin: ``pytest --fsm-grammar grammars/x.toml [--fsm-model m.npz]`` adds the property suite for that
grammar (``--grammar`` and ``--model`` are kept as deprecated aliases).

Registered through the ``pytest11`` entry point, so it is active wherever fsm-lstm is installed. Without
``--fsm-grammar`` it adds nothing. Without ``--fsm-model`` the grammar is compiled and its own network is
checked. The certificate item proves the model against the given grammar; it never certifies another
grammar. For a trained, imported or word-level model it runs the region proof as ``verify`` does: it passes
when that proves every length, fails on a wrong prefix confirmed on the network, and is skipped otherwise.
The exhaustive item is skipped when ``--fsm-time-limit`` stops it. ``--fsm-final-only``, the markers and
``--fsm-nonempty`` read the model as ``verify``'s options do, and its messages name the plugin's options. Bad
options, and a grammar or model that does not load, are pytest usage errors: one line, before any item runs.
"""

from __future__ import annotations

import os
import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from .argmax_outputs import value_name
from .certify import certificate_grammar, certify
from .compiler import compile_grammar
from .errors import UserError
from .grammar import Grammar
from .grammar_files import load_grammar
from .limits import EXHAUSTIVE_TIME, MAX_EXAMPLES
from .model import Model, load_model
from .queries import Network
from .reading import Reading, check_markers, reading_of
from .reading_help import READING_HELP
from .region_proof import prove_regions
from .strategies import any_strings, grammar_strings, near_misses
from .trie import walk_trie
from .verify import (REGION_OUT_OF_MEMORY, REGION_TIME_LIMIT, alphabet_notes, check_depth, counterexample_of,
                     judged_reference, nearest_round_off, readable_part, round_off_note, search, t0_note,
                     with_output_said)
from .words import symbols_count
from .written_words import written

__all__ = ["VerifyItem", "pytest_addoption", "pytest_collection_modifyitems", "pytest_configure"]

_LOADED = pytest.StashKey[tuple[Grammar, Model, Reading]]()  # loaded once by pytest_configure
_DEPTH = pytest.StashKey[int]()  # the exhaustive item's depth, checked against --fsm-memory by pytest_configure


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fsm-lstm", "verify a model against a grammar (fsm-lstm)")
    group.addoption("--fsm-grammar", "--grammar", dest="grammar", metavar="GRAMMAR",
                    help="reference grammar (.toml, .dot or a bundled name); --grammar is a deprecated alias")
    group.addoption("--fsm-model", "--model", dest="model", metavar="MODEL.npz",
                    help="model to check (default: the grammar compiled); --model is a deprecated alias")
    group.addoption("--fsm-max-len", type=int, default=6, help="exhaustive enumeration depth (default 6)")
    group.addoption("--fsm-examples", type=int, default=200, help="hypothesis examples per strategy (default 200)")
    group.addoption("--fsm-memory", type=float, default=1024, metavar="MB",
                    help="memory budget of the exhaustive item, which walks the prefix trie depth first in blocks "
                         "(default 1024)")
    h = READING_HELP
    group.addoption("--fsm-final-only", action="store_true", help=h["final-only"])
    group.addoption("--fsm-start-marker", metavar="SYM", help=h["start-marker"].format(final="--fsm-final-only"))
    group.addoption("--fsm-end-marker", metavar="SYM", help=h["end-marker"].format(final="--fsm-final-only"))
    group.addoption("--fsm-nonempty", action="store_true", dest="fsm_nonempty", default=None,
                    help=h["nonempty"].format(no="--fsm-no-nonempty"))
    group.addoption("--fsm-no-nonempty", action="store_false", dest="fsm_nonempty", default=None,
                    help="judge the empty word, whatever meta.nonempty says")
    group.addoption("--fsm-time-limit", type=float, default=EXHAUSTIVE_TIME, metavar="SECONDS",
                    help=f"seconds after which the exhaustive item stops and is skipped, saying up to which length "
                         f"every string agreed (default {EXHAUSTIVE_TIME:g})")


def pytest_configure(config: pytest.Config) -> None:
    """Refuse bad options in one line before any item runs (pytest's usage error): a model without a grammar,
    a negative depth, no examples, a time limit or memory budget that is not positive, a grammar or model that
    does not load, or a depth whose prefixes do not fit the memory budget."""
    grammar, model = (_beside_ini(config, config.getoption(name, None)) for name in ("grammar", "model"))
    if config.getoption("help", False):
        return
    if grammar is None:
        if model is not None:
            raise pytest.UsageError("--fsm-model needs --fsm-grammar: the grammar to check the model against")
        return
    if config.getoption("fsm_max_len") < 0:
        raise pytest.UsageError(f"--fsm-max-len must be a whole number >= 0, not {config.getoption('fsm_max_len')}")
    if not 1 <= config.getoption("fsm_examples") <= MAX_EXAMPLES:
        raise pytest.UsageError(f"--fsm-examples must be from 1 to {MAX_EXAMPLES:,}, not "
                                f"{config.getoption('fsm_examples')}")
    if not config.getoption("fsm_time_limit") > 0:
        raise pytest.UsageError(f"--fsm-time-limit must be a positive number of seconds, not "
                                f"{config.getoption('fsm_time_limit')}")
    if not config.getoption("fsm_memory") > 0:
        raise pytest.UsageError(f"--fsm-memory must be a positive number of MB, not {config.getoption('fsm_memory')}")
    try:
        loaded = load_grammar(grammar)
        network = load_model(model) if model else compile_grammar(loaded)
        start, end = config.getoption("fsm_start_marker"), config.getoption("fsm_end_marker")
        check_markers(network, loaded, start, end)
        reading = reading_of(network, True if config.getoption("fsm_final_only") else None, start, end,
                             config.getoption("fsm_nonempty"))
        config.stash[_LOADED] = (loaded, network, reading)
        config.stash[_DEPTH] = _exhaustive_depth(config)
        for note in alphabet_notes(loaded, network, reading) + _moved_rootdir(config):
            config.issue_config_time_warning(pytest.PytestConfigWarning(f"fsm-lstm: {_options(note)}"), stacklevel=2)
    except (UserError, OSError) as exc:
        raise pytest.UsageError(f"fsm-lstm: {_options(str(exc))}") from None


_PATH_OPTIONS = ("--fsm-grammar", "--grammar", "--fsm-model", "--model")


def _moved_rootdir(config: pytest.Config) -> list[str]:
    """A note when a path given after a space (``--fsm-model /elsewhere/m.npz``) changed pytest's rootdir or ini
    file: pytest chooses them before plugins load, from every argument that names a file, and then reads that ini
    file and writes its cache under that rootdir (a trial's run wrote into another project's .pytest_cache). The
    choice is made again without those paths, with pytest's own rule, and the note comes only when the two differ
    and the first is pytest's actual choice."""
    args = [str(a) for a in config.invocation_params.args]
    spaced = {k + 1: f"{a} {value}" for k, (a, value) in enumerate(zip(args, args[1:]))
              if a in _PATH_OPTIONS and not value.startswith("-")}
    if not spaced:
        return []
    try:  # pytest's own helper; should it move or change, no note rather than a wrong one
        from _pytest.config.findpaths import determine_setup

        def chosen(drop: set[int]) -> tuple[Path, Path | None]:
            kept = [a for k, a in enumerate(args) if k not in drop and not a.startswith("-")]
            root, ini = determine_setup(inifile=config.option.inifilename, override_ini=config.option.override_ini,
                                        args=kept, rootdir_cmd_arg=config.option.rootdir or None,
                                        invocation_dir=Path(config.invocation_params.dir))[:2]
            return root, ini

        actual, without = chosen(set()), chosen(set(spaced))
    except Exception:  # noqa: BLE001 - a private helper of pytest's: any failure means no note
        return []
    if actual != (config.rootpath, config.inipath) or actual == without:
        return []
    what = " and ".join(f"`{text}`" for text in spaced.values())
    joined = " ".join(text.replace(" ", "=", 1) for text in spaced.values())
    ini = lambda path: "no ini file" if path is None else f"ini file {path}"  # noqa: E731
    return [f"pytest chose rootdir {actual[0]} with {ini(actual[1])} because of {what}; without it, it would choose "
            f"{without[0]} with {ini(without[1])} (pytest reads a path given after a space as one of its own "
            f"arguments, before plugins load); write {joined} to keep those"]


def _beside_ini(config: pytest.Config, value: str | None) -> str | None:
    """A relative path the ini file's addopts gives, read from the ini file's folder when it names a file there:
    options in an ini file then hold from any folder pytest runs in (a trial's run from tests/ found no
    grammars/x.toml). A path given on the command line, a bare name (a bundled grammar's, as ``load_grammar``
    reads it), and anything that names no file there are left as given."""
    if value is None or config.inipath is None or not any(
            token == value or token.endswith("=" + value) for token in config.getini("addopts")):
        return value
    path = Path(value)
    if path.is_absolute() or not (path.suffix or os.sep in value):
        return value
    try:
        there = config.inipath.parent / path
        return str(there) if there.is_file() else value
    except OSError:  # a name the file system refuses: the loader says so in one line
        return value


def _options(message: str) -> str:
    """A library message with the command's options named as the plugin's (--nonempty: --fsm-nonempty), those of
    another command (import --nonempty) and quoted text (a word, a symbol) aside."""
    parts = re.split(r"('(?:[^'\\]|\\.)*')", message)  # quoted as repr() quotes: every other part
    option = re.compile(r"(?<!import )--(no-)?(memory|max-len|nonempty|final-only|start-marker|end-marker)\b")
    return "".join(part if k % 2 else option.sub(r"--fsm-\1\2", part) for k, part in enumerate(parts))


def _exhaustive_depth(config: pytest.Config) -> int:
    """The exhaustive item's depth, refused when not even one block of its prefixes fits --fsm-memory."""
    grammar, model, reading = config.stash[_LOADED]
    ref = judged_reference(model, grammar, bool(model.extra.get("unknown_start", False)), reading)[1]
    net = Network(model, reading)
    return check_depth(config.getoption("fsm_max_len"), len(net.inner), net.start.nbytes, _memory(config),
                       len(ref.columns))


def _memory(config: pytest.Config) -> int:
    """--fsm-memory in bytes."""
    return int(config.getoption("fsm_memory") * 2**20)


class VerifyItem(pytest.Item):
    """One layer of the verification, as a test."""

    def __init__(self, *, check: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.check = check

    def runtest(self) -> None:
        config = self.config
        grammar, model, reading = config.stash[_LOADED]
        # the heads verify judges: a machine's output the model has no head for is never given; no state heads
        # against a grammar other than the compiled one
        judged, ref, _, _ = judged_reference(model, grammar, bool(model.extra.get("unknown_start", False)), reading)
        net = Network(judged, reading)
        if self.check == "certificate":
            stored, reason = (None, "a word-level reading") if reading.final_only else \
                certificate_grammar(model, grammar)
            if stored is None:  # trained, imported or word-level: the region proof, as verify runs it
                _region_proof(model, grammar, reading, f" (the certificate is not applicable: {reason})", ref.checked)
                return
            cert = certify(model, stored)
            assert cert.proven, cert.summary()
            return
        if self.check == "exhaustive":
            depth, limit = config.stash[_DEPTH], config.getoption("fsm_time_limit")
            walk = walk_trie(net, ref, depth, _memory(config), deadline=time.perf_counter() + limit)
            found, agreed = counterexample_of(net, ref, walk.failure), walk.agreed
            near = None if found or walk.closest is None or agreed < depth else \
                nearest_round_off(net, ref, walk.closest, model.alphabet, model.argmax_outputs)
            if near is not None:  # a pass in float32 that another float32 implementation may not give
                warnings.warn(pytest.PytestWarning(f"fsm-lstm[exhaustive] passes in float32, and {_options(near[1])}"))
            if found is None and agreed < depth:
                pytest.skip(f"every string up to length {agreed} agreed; the time limit ({limit:g} s, "
                            f"--fsm-time-limit) stopped the enumeration before it finished length {agreed + 1}, of the "
                            f"{depth} asked for")
        else:
            readable = readable_part(grammar, model, reading)  # only strings the network can read
            if readable is None:
                pytest.skip(f"the model reads none of grammar {grammar.name!r}'s symbols")
            strategy = {"pumped loops": grammar_strings(readable), "near misses": near_misses(readable),
                        "arbitrary strings": any_strings(readable)}[self.check]
            found, *_ = search(net, ref, strategy, config.getoption("fsm_examples"), seed=0)
        if found is not None:
            found = with_output_said(net, found, ref)
            text = written(found.word, lambda w: reading.typed(w, model.alphabet))
            t0 = t0_note(model, reading) if not found.word else None
            value = value_name(model.argmax_outputs, found.head)
            raise AssertionError(_options(
                f"counterexample {text} ({symbols_count(len(found.word))}): head {found.head} is {not found.expected} "
                f"({value} {found.logit:.4g}), expected {found.expected}{found.said_clause}"
                + (f" (note: {t0})" if t0 else "")))

    def reportinfo(self) -> tuple[Path, int, str]:
        return Path(str(self.config.getoption("grammar"))), 0, f"fsm-lstm {self.check}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, (AssertionError, UserError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


def _region_proof(model: Model, grammar: Grammar, reading: Reading, why: str, heads: tuple[str, ...]) -> None:
    """Pass when the region proof of ``heads`` holds, fail on a wrong prefix it confirmed on the network, else
    skip: not proven for every length, which the bounded items do not contradict. ``why`` follows the proof's
    summary."""
    unknown_start = bool(model.extra.get("unknown_start", False))
    try:
        proof = prove_regions(model, grammar, unknown_start, reading, time_limit=REGION_TIME_LIMIT, heads=heads)
    except MemoryError:  # not proven, which the bounded items do not contradict
        proof = None  # skipped below, outside the handler, so that the failed proof's frames are let go
    if proof is None:
        pytest.skip(_options(f"region proof: {REGION_OUT_OF_MEMORY}{why}"))
    failure = proof.failure
    if failure is not None and (failure.counterexample or failure.confirmed):
        rounded = round_off_note(model, grammar, unknown_start, reading, failure.counter_word or failure.word)
        raise AssertionError(_options(f"region proof: {proof.summary()}{why}" + (f" (note: {rounded})" if rounded
                                                                                   else "")))
    if not proof.proven:
        pytest.skip(_options(f"region proof: {proof.summary()}{why}"))


def _items(session: pytest.Session) -> Iterator[VerifyItem]:
    """The five layers as items. Their node ids are their names (from the session's, pytest would write them
    "::fsm-lstm[...]"); pytest still shows them relative to the folder it runs in, so a rootdir that a path
    after a space moved (``_moved_rootdir``) prefixes them with that folder's relative path."""
    for check in ("certificate", "exhaustive", "pumped loops", "near misses", "arbitrary strings"):
        name = f"fsm-lstm[{check}]"
        yield VerifyItem.from_parent(session, name=name, nodeid=name, check=check)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("grammar"):
        added = list(_items(session))
        items.extend(added)
        # reported as collected, so that pytest's "collected N items" and --collect-only count them
        config.hook.pytest_collectreport(report=pytest.CollectReport(session.nodeid, "passed", None, added))
