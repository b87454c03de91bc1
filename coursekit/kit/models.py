"""Small networks that train in seconds on a CPU."""
from __future__ import annotations

import math

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


class ContinuousTimeMLP(nn.Module):
    """v_theta(x, t) for 2-D toy data with a continuous time t in [0, 1]: an MLP on [x, features(t)].

    features(t) = [t, sin(2^k pi t), cos(2^k pi t) for k = 0 .. num_frequencies - 1], fixed (not
    learned). ``t`` may be a (B,) tensor (one time per sample) or a scalar shared by the batch.
    Used as a velocity model (flow matching) or a noise model with continuous time.
    """

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, num_frequencies: int = 4):
        super().__init__()
        self.register_buffer("frequencies", math.pi * 2.0 ** torch.arange(num_frequencies, dtype=torch.float32))
        layers, width = [], dim + 1 + 2 * num_frequencies
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        # x: (B, dim), t: (B,) or scalar in [0, 1] -> (B, dim)
        t = torch.as_tensor(t, dtype=x.dtype)
        t = t.expand(x.shape[0]) if t.ndim == 0 else t
        angles = t[:, None] * self.frequencies                    # (B, F)
        features = torch.cat([t[:, None], angles.sin(), angles.cos()], dim=1)
        return self.net(torch.cat([x, features], dim=1))
