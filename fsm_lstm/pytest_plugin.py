"""pytest plugin: ``pytest --fsm-grammar grammars/x.toml [--fsm-model m.npz]`` adds the property suite for that
grammar (``--grammar`` and ``--model`` are kept as deprecated aliases).

Registered through the ``pytest11`` entry point, so it is active wherever fsm-lstm is installed. Without
``--fsm-grammar`` it adds nothing. Without ``--fsm-model`` the grammar is compiled and its own network is
checked. The certificate item proves the model against the given grammar; it never certifies another
grammar. For a trained, imported or word-level model it runs the region proof as ``verify`` does: it passes
when that proves every length, fails on a wrong prefix confirmed on the network, and is skipped otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .certify import certificate_grammar, certify
from .compiler import compile_grammar
from .errors import UserError
from .grammar import Grammar
from .grammar_files import load_grammar
from .model import Model, load_model
from .queries import Network
from .reading import Reading, reading_of
from .region_proof import prove_regions
from .reference import reference_for
from .strategies import any_strings, grammar_strings, near_misses
from .verify import REGION_TIME_LIMIT, exhaustive, search
from .words import format_word, symbols_count

__all__ = ["VerifyItem", "pytest_addoption", "pytest_collection_modifyitems"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fsm-lstm", "verify a model against a grammar (fsm-lstm)")
    group.addoption("--fsm-grammar", "--grammar", dest="grammar", metavar="GRAMMAR",
                    help="reference grammar (.toml, .dot or a bundled name); --grammar is a deprecated alias")
    group.addoption("--fsm-model", "--model", dest="model", metavar="MODEL.npz",
                    help="model to check (default: the grammar compiled); --model is a deprecated alias")
    group.addoption("--fsm-max-len", type=int, default=6, help="exhaustive enumeration depth (default 6)")
    group.addoption("--fsm-examples", type=int, default=200, help="hypothesis examples per strategy (default 200)")


class VerifyItem(pytest.Item):
    """One layer of the verification, as a test."""

    def __init__(self, *, check: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.check = check

    def runtest(self) -> None:
        config = self.config
        grammar = load_grammar(config.getoption("grammar"))
        path = config.getoption("model")
        model = load_model(path) if path else compile_grammar(grammar)
        reading = reading_of(model)
        ref = reference_for(model, grammar, bool(model.extra.get("unknown_start", False)), reading)
        net = Network(model, reading)
        if self.check == "certificate":
            stored, reason = (None, "a word-level reading") if reading.final_only else \
                certificate_grammar(model, grammar)
            if stored is None:  # trained, imported or word-level: the region proof, as verify runs it
                _region_proof(model, grammar, reading, f"certificate not applicable ({reason}); region proof: ")
                return
            cert = certify(model, stored)
            assert cert.proven, cert.summary()
            return
        if self.check == "exhaustive":
            found, _, _ = exhaustive(net, ref, config.getoption("fsm_max_len"))
        else:
            strategy = {"pumped loops": grammar_strings(grammar), "near misses": near_misses(grammar),
                        "arbitrary strings": any_strings(grammar)}[self.check]
            found, _, _ = search(net, ref, strategy, config.getoption("fsm_examples"), seed=0)
        if found is not None:
            text = format_word(found.word, model.alphabet)
            raise AssertionError(f"counterexample {text!r} ({symbols_count(len(found.word))}): head {found.head} is "
                                 f"{not found.expected} (logit {found.logit:.4g}), expected {found.expected}")

    def reportinfo(self) -> tuple[Path, int, str]:
        return Path(str(self.config.getoption("grammar"))), 0, f"fsm-lstm {self.check}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, (AssertionError, UserError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


def _region_proof(model: Model, grammar: Grammar, reading: Reading, why: str) -> None:
    """Pass when the region proof holds, fail on a wrong prefix it confirmed on the network, else skip: not
    proven for every length, which the bounded items do not contradict."""
    proof = prove_regions(model, grammar, bool(model.extra.get("unknown_start", False)), reading,
                          time_limit=REGION_TIME_LIMIT)
    failure = proof.failure
    if failure is not None and (failure.counterexample or failure.confirmed):
        raise AssertionError(why + proof.summary())
    if not proof.proven:
        pytest.skip(why + proof.summary())


def _items(session: pytest.Session) -> Iterator[VerifyItem]:
    for check in ("certificate", "exhaustive", "pumped loops", "near misses", "arbitrary strings"):
        yield VerifyItem.from_parent(session, name=f"fsm-lstm[{check}]", check=check)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("grammar"):
        items.extend(_items(session))
