"""The public face: every module lists exactly its public names in ``__all__``, and the package exports the
functions and result types a user needs."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import fsm_lstm

PACKAGE = Path(fsm_lstm.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def imported_names(path: Path) -> set[str]:
    """Every name an import statement binds anywhere in the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


@pytest.mark.parametrize("name", MODULES)
def test_all_lists_exactly_the_public_names_defined_in_the_module(name):
    module = importlib.import_module(f"fsm_lstm.{name}")
    defined = {n for n in vars(module) if n.isidentifier() and not n.startswith("_")}  # not pytest's @py_builtins
    defined -= imported_names(PACKAGE / f"{name}.py")
    assert hasattr(module, "__all__"), f"fsm_lstm/{name}.py has no __all__"
    assert len(module.__all__) == len(set(module.__all__)), "a name is listed twice"
    assert set(module.__all__) == defined


def test_the_package_exports_its_functions_and_result_types():
    assert set(fsm_lstm.__all__) == set(fsm_lstm._HOMES)  # every exported name has a home to import it from
    for name in fsm_lstm.__all__:  # imported on first use: each must resolve to what its module defines
        value = getattr(fsm_lstm, name)
        assert not inspect.ismodule(value), name
        assert value is getattr(importlib.import_module(value.__module__), name), name
    exported = {n for n, v in vars(fsm_lstm).items() if not n.startswith("_") and not inspect.ismodule(v)}
    assert set(fsm_lstm.__all__) == exported
    for name in ("Certificate", "Failure", "Report", "Verdict", "Counterexample", "Extraction", "Reading",
                 "BuildResult", "Built", "TrainResult", "Trace", "Grammar", "Model", "UserError",
                 "build", "certify", "compile_grammar", "extract", "judge", "load_grammar", "load_model", "run",
                 "train", "verify", "write_workbook"):
        assert name in fsm_lstm.__all__, name


def test_result_types_have_a_json_form():
    for kind in (fsm_lstm.Certificate, fsm_lstm.BuildResult, fsm_lstm.Built, fsm_lstm.Report, fsm_lstm.Verdict,
                 fsm_lstm.Extraction, fsm_lstm.Reading):
        assert callable(getattr(kind, "to_dict", None)), kind.__name__



def _printed_by(code: str) -> str:
    """What a fresh interpreter prints, so that the imports of this test session do not count."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_importing_a_submodule_keeps_the_package_function_of_the_same_name():
    names = ("verify", "build", "certify", "extract", "train")
    code = (f"import fsm_lstm, {', '.join('fsm_lstm.' + n for n in names)}\n"
            f"print(all(callable(getattr(fsm_lstm, n)) and not isinstance(getattr(fsm_lstm, n), type(fsm_lstm))"
            f" for n in {names!r}))")
    assert _printed_by(code) == "True"


def test_the_command_line_parser_imports_no_heavy_module():
    code = ("import sys; from fsm_lstm.cli import build_parser; build_parser()\n"
            "print(sorted(m for m in ('numpy', 'networkx', 'scipy', 'hypothesis', 'openpyxl', 'xlsxwriter', 'torch')"
            " if m in sys.modules))")
    assert _printed_by(code) == "[]"
