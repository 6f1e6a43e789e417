"""Write the two example models the README's tour uses, deterministically:

- ``weak.npz``: the compiled Reber network with input-gate gain 3 instead of the derived 22.8, which the
  certificate refuses;
- ``leaky.npz``: the compiled Reber network plus a unit that leaks a little on every S of the loop, so that
  the accept head turns wrongly true after 20 S's in a row (and no sooner).

Run ``python examples/make_examples.py [FOLDER]`` (default: the folder of this script).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import numpy as np

from fsm_lstm.compiler import Gains, compile_grammar
from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.model import Layer, Model, save_model

LEAK_REPEATS = 20
WEAK_GATE = 3.0


def weak_reber() -> Model:
    """Compiled Reber with input-gate gain WEAK_GATE: too weak for the on/off boxes to separate."""
    return compile_grammar(load_grammar("reber"), gains=Gains(gate=WEAK_GATE))


def leaky_reber(repeats: int = LEAK_REPEATS) -> Model:
    """Compiled Reber plus a 'leak' unit that counts S-loop crossings (never forgets) and pushes the accept
    head up by a little each time: accept turns wrongly true after ``repeats`` S's in a row, and no sooner."""
    model = compile_grammar(load_grammar("reber"))
    layer = model.layers[0]
    H, K = layer.hidden_size, len(model.alphabet)
    loop = model.units.index("edge s1 -S-> s1")
    step = 0.05
    w_ih, w_hh = np.zeros((4 * (H + 1), K), np.float32), np.zeros((4 * (H + 1), H + 1), np.float32)
    b = np.zeros(4 * (H + 1), np.float32)
    for q in range(4):  # copy the old gates into the new layout (gate blocks grow by one unit)
        w_ih[q * (H + 1): q * (H + 1) + H] = layer.weight_ih[q * H:(q + 1) * H]
        w_hh[q * (H + 1): q * (H + 1) + H, :H] = layer.weight_hh[q * H:(q + 1) * H]
        b[q * (H + 1): q * (H + 1) + H] = layer.bias_ih[q * H:(q + 1) * H]
    leak = H
    w_ih[leak] = layer.weight_ih[loop]  # input gate: open exactly when the S loop fires
    w_hh[leak, :H] = layer.weight_hh[loop]
    b[leak] = layer.bias_ih[loop]
    b[(H + 1) + leak] = 20.0  # forget gate open: it keeps counting
    b[2 * (H + 1) + leak] = math.atanh(step)  # each crossing adds `step` to its cell
    b[3 * (H + 1) + leak] = 20.0
    head_w = np.concatenate([model.head_weight, np.zeros((len(model.heads), 1), np.float32)], axis=1)
    threshold = (math.tanh(step * (repeats - 1)) + math.tanh(step * repeats)) / 2
    head_w[model.heads.index("accept"), leak] = -float(model.head_bias[model.heads.index("accept")]) / threshold
    new = Layer(w_ih, w_hh, b, np.zeros_like(b))
    return dataclasses.replace(model, layers=(new,), head_weight=head_w, units=model.units + ("leak",))


EXAMPLES = {"weak.npz": weak_reber, "leaky.npz": leaky_reber}


def main(folder: str | None = None) -> None:
    """Write every example model into ``folder``."""
    out = Path(folder) if folder else Path(__file__).resolve().parent
    for name, make in EXAMPLES.items():
        save_model(make(), out / name)
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
