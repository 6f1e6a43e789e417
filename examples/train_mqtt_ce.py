"""Train ``mqtt_ce.safetensors``: a PyTorch GRU that answers the bundled ``mqtt`` Mealy machine's outputs, trained
the way people usually train such a network (an embedding, an ``nn.GRU`` and an ``nn.Linear`` over the 6
outputs, softmax cross-entropy on the output after every symbol). fsm-lstm had no part in it: the README's tour
imports it with ``--argmax`` and extracts the machine back.

Run ``python examples/train_mqtt_ce.py [FOLDER]`` (default: the folder of this script; needs PyTorch). The weights
depend on torch's version and the machine's arithmetic; the committed file was written with torch 2.13.0 (CPU).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from fsm_lstm.grammar_files import load_grammar
from fsm_lstm.outputs import output_word

HIDDEN = 16
STEPS = 400


def main(folder: str | None = None) -> None:
    """Train the network and write it as a safetensors file into ``folder``."""
    import torch
    from safetensors.torch import save_file

    g = load_grammar("mqtt")
    values = sorted(g.output_values)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = torch.nn.Embedding(len(g.alphabet), 8)
            self.rnn = torch.nn.GRU(8, HIDDEN, batch_first=True)
            self.head = torch.nn.Linear(HIDDEN, len(values))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.rnn(self.emb(x))[0])

    torch.manual_seed(0)
    rng = random.Random(0)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(STEPS):
        words = [[rng.randrange(len(g.alphabet)) for _ in range(20)] for _ in range(64)]
        target = [[values.index(o) for o in output_word(g, [g.alphabet[a] for a in w])[1:]] for w in words]
        logits = net(torch.tensor(words))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, len(values)), torch.tensor(target).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = (Path(folder) if folder else Path(__file__).resolve().parent) / "mqtt_ce.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(out))
    print(f"wrote {out}: outputs {' '.join(values)}, loss {loss.item():.4f}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
