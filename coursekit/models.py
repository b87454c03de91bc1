"""Small networks that train in seconds on a CPU."""
from __future__ import annotations

import torch
from torch import nn


class TimeConditionedMLP(nn.Module):
    """eps_theta(x, t) for 2-D toy data: an MLP on [x, embedding(t)].

    The time embedding is a learned table (one vector per discrete step): simple, and it leaves
    sinusoidal embeddings for the Diffusion Transformer assignment.
    """

    def __init__(self, num_steps: int, dim: int = 2, hidden: int = 128, depth: int = 3):
        super().__init__()
        self.time_embedding = nn.Embedding(num_steps, hidden)
        layers, width = [], dim + hidden
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # x: (B, dim), t: (B,) integer steps -> (B, dim)
        return self.net(torch.cat([x, self.time_embedding(t)], dim=1))
