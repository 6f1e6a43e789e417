"""The help of the options that override a model's reading: the command line's, and the pytest plugin's with
--fsm- before each name. Kept apart from :mod:`reading`, so that the command-line parser imports no numpy."""

from __future__ import annotations

__all__ = ["READING_HELP"]

READING_HELP = {
    "final-only": "a word classifier: only the accept head after the whole word counts (default: the model's "
                  "meta.final_only)",
    "start-marker": "symbol the model reads before each word (implies {final}; default: meta.start_marker)",
    "end-marker": "symbol the model reads after each word (implies {final}; default: meta.end_marker)",
    "nonempty": "words are never empty: leave the empty word unjudged (without markers its heads come from the head "
                "bias alone, which Keras or PyTorch never computes); {no} judges it (default: the model's "
                "meta.nonempty)",
}
