"""Optional dependencies: imported when a feature needs them, and refused with one line saying how to install
them when they are missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import UserError

__all__ = ["INSTALL", "NAMES", "require"]

INSTALL = {"torch": "pip install 'fsm-lstm[train]' (or torch==2.13.0)", "matplotlib": "pip install 'fsm-lstm[plot]'",
           "onnx": "pip install 'fsm-lstm[onnx]'", "h5py": "pip install h5py",
           "safetensors": "pip install safetensors"}
NAMES = {"torch": "PyTorch", "safetensors": "the safetensors package"}


def require(module: str, purpose: str) -> ModuleType:
    """``import module``; when it is missing, a UserError: "PURPOSE needs NAME: how to install it"."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.partition(".")[0]
        raise UserError(f"{purpose} needs {NAMES.get(top, top)}: {INSTALL.get(top, f'pip install {top}')}") from None
