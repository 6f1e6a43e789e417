"""Shared fixtures. Hypothesis loads its derandomised "ci" profile by itself when CI is set."""

from __future__ import annotations

import pytest

from fsm_lstm.grammar_files import bundled_names, load_grammar

pytest_plugins = ["pytester"]


@pytest.fixture(params=bundled_names())
def bundled(request):
    """Every bundled grammar."""
    return load_grammar(request.param)
