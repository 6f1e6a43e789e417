"""Which automaton L* writes after an early stop (fsm_lstm/lstar.py): the smallest hypothesis within OCCAM of
the best validation agreement, its states then merged; never one that falls below --min-fidelity when the best
reaches it. The "network" here is a machine, so every agreement is known independently of the code under test."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from fsm_lstm.lstar import OCCAM, OCCAM_WORDS, _chosen, _merged, tolerance
from fsm_lstm.machine import machine_difference
from fsm_lstm.sampling import Sample
from tests.test_state_merging import ALL, ONE_EXCEPTION, sample_of


def test_no_smaller_hypothesis_is_preferred_for_falling_below_the_fidelity_asked_for():
    """L*'s choice (fsm_lstm.lstar._chosen): the smallest hypothesis within OCCAM (0.25 points) of the best
    validation agreement, but not one below --min-fidelity when the best is at or above it; when the best is
    below it too, the fidelity asked for changes nothing (the run is poor either way)."""
    def seen(*pairs: tuple[int, int]) -> list:  # (states, validation words right out of 1000)
        return [(np.arange(1000) < right, SimpleNamespace(size=size)) for size, right in pairs]

    assert OCCAM == 0.0025
    hypotheses = seen((5, 990), (30, 991), (40, 992))  # 99.0 %, 99.1 %, 99.2 %
    assert _chosen(hypotheses, 0.0).size == 5  # 99.0 % is within 0.25 points of 99.2 %
    assert _chosen(hypotheses, 0.99).size == 5  # and not below 99 %
    assert _chosen(hypotheses, 0.991).size == 30
    assert _chosen(hypotheses, 0.992).size == 40
    assert _chosen(hypotheses, 0.995).size == 5  # the best is below 99.5 % too: OCCAM alone



def test_on_few_validation_words_a_smaller_hypothesis_two_words_behind_is_preferred():
    """On 400 validation words, 0.25 points is one word: the best-scoring hypothesis would win by a single word.
    The tolerance is 2 words there (0.5 points), and stays 0.25 points from 800 words on (10 words of 4,000)."""
    def seen(words: int, *pairs: tuple[int, int]) -> list:  # (states, validation words right out of ``words``)
        return [(np.arange(words) < right, SimpleNamespace(size=size)) for size, right in pairs]

    assert OCCAM_WORDS == 2 and tolerance(4000) == tolerance(800) == OCCAM < tolerance(799)
    assert _chosen(seen(400, (14, 396), (498, 398)), 0.0).size == 14  # 2 words behind
    assert _chosen(seen(400, (14, 395), (498, 398)), 0.0).size == 498  # 3 words behind
    assert _chosen(seen(4000, (14, 3981), (498, 3990)), 0.0).size == 14  # 9 words: under 0.25 points
    assert _chosen(seen(4000, (14, 3979), (498, 3990)), 0.0).size == 498  # 11 words
    # above --min-fidelity, the floor still binds: 396/400 is 99.0 %, 395/400 below it
    assert _chosen(seen(400, (14, 396), (498, 398)), 0.99).size == 14
    assert _chosen(seen(400, (14, 395), (30, 396), (498, 397)), 0.99).size == 30


def test_a_merge_at_a_cost_is_made_only_within_occam_and_never_below_the_fidelity_asked_for():
    """The network and the chosen hypothesis are both ONE_EXCEPTION (it rejects the words that start 'aaa'). On
    samples where 2 of 1,000 validation words and 3 of 2,000 equivalence words start 'aaa', merging its a-chain
    away (accept everything) costs 0.2 points of validation agreement and 0.15 of the other: within OCCAM (0.25),
    so it is made, unless --min-fidelity 0.999 asks for more than the 99.8 % that would be left."""
    rng = np.random.default_rng(0)

    def words(count: int, exceptions: int) -> Sample:
        rest = [(1,) + tuple(int(a) for a in rng.integers(0, 2, size=rng.integers(0, 6))) for _ in range(count)]
        return sample_of(ONE_EXCEPTION, rest[:count - exceptions] + [(0, 0, 0, 1)] * exceptions)

    validation, base = words(1000, 2), words(2000, 3)
    seen = [(np.ones(1000, dtype=bool), ONE_EXCEPTION)]  # the chosen hypothesis, right on every validation word
    for min_fidelity, merged_away in ((0.0, True), (0.99, True), (0.998, True), (0.999, False)):
        merged = _merged(ONE_EXCEPTION, seen, base, validation, False, np.random.default_rng(0), float("inf"),
                         min_fidelity)
        assert (machine_difference(merged, ALL) is None) == merged_away, min_fidelity
        rejects = not merged.outputs[merged.state_after((0, 0, 0, 1))].any()
        assert rejects != merged_away  # kept: 'aaab' still rejected, every validation word right


def test_the_free_merges_keep_the_validation_agreement_too():
    """A free merge (no more wrong prefixes over both samples together) may still make validation words wrong.
    Here the equivalence sample's network accepts everything, and its 3 words 'aaab' make ONE_EXCEPTION wrong on 6
    prefixes ('aaa' and 'aaab' each); the validation sample's network is ONE_EXCEPTION, with 2 words 'aaa' among
    1,000. Merging the chain away (accept everything) leaves 2 wrong prefixes instead of 6, so it is free, and
    costs 0.2 points of validation agreement: made at --min-fidelity 0 (within OCCAM), not at 0.999."""
    rng = np.random.default_rng(1)
    rest = [(1,) + tuple(int(a) for a in rng.integers(0, 2, size=rng.integers(0, 6))) for _ in range(998)]
    validation = sample_of(ONE_EXCEPTION, rest + [(0, 0, 0)] * 2)
    base = sample_of(ALL, [(0, 0, 0, 1)] * 3 + rest)
    seen = [(np.ones(1000, dtype=bool), ONE_EXCEPTION)]
    loose = _merged(ONE_EXCEPTION, seen, base, validation, False, np.random.default_rng(0), float("inf"), 0.0)
    strict = _merged(ONE_EXCEPTION, seen, base, validation, False, np.random.default_rng(0), float("inf"), 0.999)
    assert machine_difference(loose, ALL) is None
    assert machine_difference(strict, ONE_EXCEPTION) is None


def test_the_fidelity_asked_for_reaches_lstar(monkeypatch, tmp_path):
    """extract's min_fidelity (0.99 by default, as the command line's --min-fidelity) is what L* is given."""
    import importlib

    from fsm_lstm.cli import main
    from fsm_lstm.compiler import compile_grammar
    from fsm_lstm.grammar_files import load_grammar

    extraction = importlib.import_module("fsm_lstm.extract")  # the package's `extract` is the function
    given, learn = [], extraction.learn

    def spy(*args, **kwargs):
        given.append(kwargs["min_fidelity"])
        return learn(*args, **kwargs)

    monkeypatch.setattr(extraction, "learn", spy)
    model = compile_grammar(load_grammar("tomita3"))
    extraction.extract(model, min_fidelity=0.97)
    extraction.extract(model)
    assert main(["extract", "tomita3", "-o", str(tmp_path / "t.toml"), "--min-fidelity", "0.95"]) == 0
    assert given == [0.97, 0.99, 0.95]


def test_a_merging_the_deadline_stops_is_flagged():
    """_early_result with no time left for merging says so; with time, it does not (its merging is cheap here)."""
    from fsm_lstm.lstar import _early_result

    rng = np.random.default_rng(0)
    words = [(1,) + tuple(int(a) for a in rng.integers(0, 2, size=rng.integers(0, 6))) for _ in range(200)]
    sample = sample_of(ONE_EXCEPTION, words + [(0, 0, 0, 1)])
    seen = [(np.ones(len(words) + 1, dtype=bool), ONE_EXCEPTION)]
    late = _early_result(seen, 1, "plateau", (), sample, sample, False, np.random.default_rng(0), -1.0, 0.0)
    assert late.merging_cut and late.unmerged is not None
    timely = _early_result(seen, 1, "plateau", (), sample, sample, False, np.random.default_rng(0), 60.0, 0.0)
    assert not timely.merging_cut
