"""Long words as messages show them: the word itself when it is short, otherwise with the repeated block that
saves the most symbols written once and counted ('ccbadacb' then 'd' 196 times), so that a counterexample of
thousands of symbols fits on one line. JSON output and workbooks keep the whole word."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["SHOWN_WHOLE", "Symbols", "decomposition", "loop_decomposition", "written"]

SHOWN_WHOLE = 80  # characters up to which a word is shown whole
_LONGEST_LOOP = 16  # symbols of the longest block looked for

Symbols = tuple[str, ...]  # a word as symbol names


def loop_decomposition(word: Sequence[str]) -> tuple[Symbols, Symbols, int, Symbols]:
    """(prefix, loop, count, suffix) with word = prefix + loop * count + suffix and the most symbols saved
    by writing the loop once (count >= 2, the shortest loop of those that save as much; the first such run);
    (word, (), 0, ()) when nothing repeats."""
    w = tuple(word)
    best: tuple[int, int, int, int] = (0, 0, 0, 0)  # (saved, -loop length, start, count)
    if not w:
        return (), (), 0, ()
    codes = np.unique(np.array(w, dtype=object), return_inverse=True)[1].astype(np.int64)
    for period in range(1, min(_LONGEST_LOOP, len(w) // 2) + 1):
        same = np.concatenate(([False], codes[period:] == codes[:-period], [False]))  # w[i] == w[i + period]
        edges = np.flatnonzero(np.diff(same.astype(np.int8)))
        for start, stop in zip(edges[::2], edges[1::2]):  # a run of matches covers stop - start + period symbols
            count = (stop - start + period) // period
            saved = (count - 1) * period
            if count >= 2 and (saved, -period) > best[:2]:
                best = (saved, -period, int(start), int(count))
    saved, period, start, count = best[0], -best[1], best[2], best[3]
    if not saved:
        return w, (), 0, ()
    end = start + period * count
    return w[:start], w[start:start + period], count, w[end:]


def decomposition(prefix: Symbols, loop: Symbols, count: int, suffix: Symbols,
                  typed: Callable[[Symbols], str]) -> str:
    """'prefix' then 'loop' N times then 'suffix' (empty pieces left out)."""
    return " then ".join(([repr(typed(prefix))] if prefix else []) + [f"{typed(loop)!r} {count:,} times"]
                         + ([repr(typed(suffix))] if suffix else []))


def written(word: Sequence[str], typed: Callable[[Symbols], str]) -> str:
    """A word for a message, quoted: whole when its text has at most ``SHOWN_WHOLE`` characters, otherwise as
    :func:`loop_decomposition` cuts it where that is at most three quarters as long (a word whose repeats save
    little is shown whole). ``typed`` writes a word as a person types it."""
    whole = repr(typed(tuple(word)))
    if len(whole) <= SHOWN_WHOLE + 2:
        return whole
    prefix, loop, count, suffix = loop_decomposition(word)
    pieces = decomposition(prefix, loop, count, suffix, typed) if loop else whole
    return pieces if 4 * len(pieces) <= 3 * len(whole) else whole
