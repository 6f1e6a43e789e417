"""fsm-lstm: finite-state grammars compiled into LSTMs proven correct for every length.

Data flow: grammar file --load--> Grammar --compile--> Model --certify--> proof for every length,
--run--> per-step trace, --sheet--> live workbook, --verify--> pass or shortest counterexample;
trained model --extract--> Grammar --compare--> equivalent or a confirmed counterexample.
"""

import sys as _sys
from importlib import import_module as _import_module
from types import ModuleType as _ModuleType
from typing import TYPE_CHECKING as _TYPE_CHECKING

__version__ = "0.1.0"

_HOMES = {  # public name -> the module that defines it, imported on first use (PEP 562)
    "determinise": "automata",
    "equivalent": "automata",
    "minimise": "automata",
    "shortest_difference": "automata",
    "trim": "automata",
    "BuildResult": "build",
    "Built": "build",
    "build": "build",
    "Certificate": "certify",
    "Failure": "certify",
    "certify": "certify",
    "compile_grammar": "compiler",
    "GrammarError": "errors",
    "ModelError": "errors",
    "UserError": "errors",
    "Extraction": "extract",
    "extract": "extract",
    "Grammar": "grammar",
    "bundled_names": "grammar_files",
    "load_grammar": "grammar_files",
    "save_grammar": "grammar_files",
    "Model": "model",
    "load_model": "model",
    "save_model": "model",
    "stored_grammar": "model",
    "minimal_machine": "outputs",
    "output_difference": "outputs",
    "output_word": "outputs",
    "Reading": "reading",
    "regex_grammar": "regex",
    "Trace": "runtime",
    "run": "runtime",
    "Semantics": "semantics",
    "write_workbook": "sheets",
    "TrainConfig": "train",
    "TrainResult": "train",
    "train": "train",
    "Counterexample": "verify",
    "Report": "verify",
    "Verdict": "verify",
    "judge": "verify",
    "verify": "verify",
}

__all__ = [
    "BuildResult", "Built", "Certificate", "Counterexample", "Extraction", "Failure", "Grammar", "GrammarError",
    "Model", "ModelError", "Reading", "Report", "Semantics", "Trace", "TrainConfig", "TrainResult", "UserError",
    "Verdict", "build", "bundled_names", "certify", "compile_grammar", "determinise", "equivalent", "extract",
    "judge", "load_grammar", "load_model", "minimal_machine", "minimise", "output_difference", "output_word",
    "regex_grammar", "run", "save_grammar", "save_model",
    "shortest_difference", "stored_grammar", "train", "trim", "verify", "write_workbook",
]


if _TYPE_CHECKING:
    from .automata import determinise, equivalent, minimise, shortest_difference, trim
    from .build import BuildResult, Built, build
    from .certify import Certificate, Failure, certify
    from .compiler import compile_grammar
    from .errors import GrammarError, ModelError, UserError
    from .extract import Extraction, extract
    from .grammar import Grammar
    from .grammar_files import bundled_names, load_grammar, save_grammar
    from .model import Model, load_model, save_model, stored_grammar
    from .outputs import minimal_machine, output_difference, output_word
    from .regex import regex_grammar
    from .runtime import Trace, run
    from .semantics import Semantics
    from .sheets import write_workbook
    from .train import TrainConfig, TrainResult, train
    from .reading import Reading
    from .verify import Counterexample, Report, Verdict, judge, verify


def __getattr__(name: str) -> object:
    """Import a public name's module on first use, so that ``fsm-lstm --help`` does not load every module."""
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(_ModuleType):
    """Keeps ``fsm_lstm.verify`` the function when the submodule of the same name is imported after it."""

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, _ModuleType) and value.__name__ == f"{__name__}.{name}" and name in _HOMES:
            value = getattr(value, name)
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
