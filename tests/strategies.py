"""Hypothesis strategies for random grammars (DFAs and NFAs) used across the tests."""

from __future__ import annotations

from hypothesis import strategies as st

from fsm_lstm.grammar import Grammar

SYMBOLS = "abcdef"


@st.composite
def grammars(draw, max_states: int = 30, max_symbols: int = 6, deterministic: bool | None = None):
    """A random grammar with up to ``max_states`` states over up to ``max_symbols`` symbols."""
    n = draw(st.integers(1, max_states))
    k = draw(st.integers(1, max_symbols))
    det = draw(st.booleans()) if deterministic is None else deterministic
    names = [f"s{i}" for i in range(n)]
    alphabet = tuple(SYMBOLS[:k])
    state = st.integers(0, n - 1)
    edges: list[tuple[str, str, str]] = []
    if det:
        density = draw(st.floats(0.3, 1.0))
        for p in range(n):
            for a in alphabet:
                if draw(st.floats(0, 1)) < density:
                    edges.append((names[p], a, names[draw(state)]))
    else:
        triples = draw(st.lists(st.tuples(state, st.sampled_from(alphabet), state), min_size=1,
                                max_size=min(3 * n * k, 90), unique=True))
        edges = [(names[p], a, names[q]) for p, a, q in triples]
    accept = draw(st.sets(st.sampled_from(names), max_size=n))
    return Grammar(name="random", start=names[0], accept=frozenset(accept), alphabet=alphabet,
                   states=tuple(names), transitions=tuple(edges))
