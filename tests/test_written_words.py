"""Long words in messages: written with their longest repeated block counted."""

from __future__ import annotations

import random
import re

from hypothesis import given
from hypothesis import strategies as st

from fsm_lstm.written_words import SHOWN_WHOLE, loop_decomposition, written

words = st.lists(st.sampled_from("abc"), max_size=40).map(tuple)


def typed(w: tuple[str, ...]) -> str:
    return "".join(w)


def most_saved(w: tuple[str, ...]) -> int:
    """Brute force: the most symbols any single block repeated in place saves (loops of at most 16)."""
    best = 0
    for start in range(len(w)):
        for period in range(1, 17):
            loop = w[start:start + period]
            if len(loop) < period:
                break
            count = 1
            while w[start + count * period:start + (count + 1) * period] == loop:
                count += 1
            if count >= 2:
                best = max(best, (count - 1) * period)
    return best


@given(words)
def test_the_decomposition_spells_the_word_and_saves_the_most(w):
    prefix, loop, count, suffix = loop_decomposition(w)
    assert prefix + loop * count + suffix == w
    assert (count >= 2 and len(loop) >= 1) or (loop == () and count == 0)
    assert ((count - 1) * len(loop) if loop else 0) == most_saved(w)


@given(words, st.sampled_from(["a", "ab", "abc", "cab"]), st.integers(30, 300), words)
def test_a_long_word_is_written_shorter_and_short_words_whole(prefix, block, n, suffix):
    w = prefix + tuple(block) * n + suffix
    text = written(w, typed)
    if len(w) <= SHOWN_WHOLE:
        assert text == repr(typed(w))
    else:  # the pieces, read back, spell the word, and are shorter
        assert 4 * len(text) <= 3 * (len(w) + 2)
        pieces = re.fullmatch(r"(?:'(\w*)' then )?'(\w+)' ([\d,]+) times(?: then '(\w*)')?", text)
        assert pieces is not None, text
        head, loop, count, tail = pieces.groups()
        assert (head or "") + loop * int(count.replace(",", "")) + (tail or "") == typed(w)


def test_words_written_as_a_person_reads_them():
    assert written(tuple("ccbadacb") + ("d",) * 196, typed) == "'ccbadacb' then 'd' 196 times"
    assert written(("x",) + tuple("01") * 50 + ("y",), typed) == "'x' then '01' 50 times then 'y'"
    assert written(("0",) * 2000, typed) == "'0' 2,000 times"
    rng = random.Random(3)
    barely = tuple(rng.choice("01") for _ in range(90))  # a random word of 90 symbols: its repeats save little
    assert most_saved(barely) < 12
    assert written(barely, typed) == repr(typed(barely))


def test_nothing_repeats_and_the_empty_word():
    assert loop_decomposition(()) == ((), (), 0, ())
    assert written(tuple("abc"), typed) == "'abc'"
    long = tuple("abcdefghijklmnopq")  # 17 distinct symbols, repeated 6 times: longer than the longest loop
    assert written(long * 6, typed) == repr(typed(long * 6))
