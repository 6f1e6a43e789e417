"""fsm-lstm: finite-state grammars compiled into LSTMs proven correct for every length.

Data flow: grammar file --load--> Grammar --compile--> Model --certify--> proof for every length,
--run--> per-step trace, --sheet--> live workbook, --verify--> pass or shortest counterexample;
trained model --extract--> Grammar --compare--> equivalent or a confirmed counterexample.
"""

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

__version__ = "0.1.0"

__all__ = [
    "BuildResult", "Built", "Certificate", "Counterexample", "Extraction", "Failure", "Grammar", "GrammarError",
    "Model", "ModelError", "Reading", "Report", "Semantics", "Trace", "TrainConfig", "TrainResult", "UserError",
    "Verdict", "build", "bundled_names", "certify", "compile_grammar", "determinise", "equivalent", "extract",
    "judge", "load_grammar", "load_model", "minimal_machine", "minimise", "output_difference", "output_word",
    "regex_grammar", "run", "save_grammar", "save_model",
    "shortest_difference", "stored_grammar", "train", "trim", "verify", "write_workbook",
]
