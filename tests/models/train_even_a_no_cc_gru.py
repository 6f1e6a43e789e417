"""How tests/models/even_a_no_cc_gru.safetensors was made: a model fsm-lstm did not build, trained in PyTorch.

A 2-layer GRU of 32 units with an embedding before it and two Linear layers after it, trained on words over
a, b, c read as ``<s> word </s>``; class 1 means "an even number of a's and no cc". Run with torch installed:
``python tests/models/train_even_a_no_cc_gru.py OUT.safetensors`` (seeded, but torch's training on another
machine or version may give other weights; the test only needs a network trained this way).
"""

import random
import sys

import torch
from safetensors.torch import save_file

SYMBOLS = ["<s>", "a", "b", "c", "</s>"]


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(5, 8)
        self.rnn = torch.nn.GRU(8, 32, num_layers=2, batch_first=True)
        self.fc1 = torch.nn.Linear(32, 16)
        self.fc2 = torch.nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o, _ = self.rnn(self.emb(x))
        return self.fc2(self.fc1(o[:, -1]))


def label(word: list[str]) -> int:
    return int(word.count("a") % 2 == 0 and "cc" not in "".join(word))


def main(out: str) -> None:
    torch.manual_seed(0)
    random.seed(0)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), 0.01)
    for _ in range(1500):
        length = random.randint(0, 12)
        words = [[random.choice("abc") for _ in range(length)] for _ in range(64)]
        x = torch.tensor([[0] + [SYMBOLS.index(s) for s in w] + [4] for w in words])
        loss = torch.nn.functional.cross_entropy(net(x), torch.tensor([label(w) for w in words]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, out)


if __name__ == "__main__":
    main(sys.argv[1])
