"""Toy data the course generates itself (no downloads)."""
from __future__ import annotations

import math

import torch


def eight_gaussians(n: int, generator: torch.Generator, radius: float = 2.0, std: float = 0.15) -> torch.Tensor:
    """n points from eight Gaussians evenly spaced on a circle. Returns (n, 2) float32."""
    k = torch.randint(0, 8, (n,), generator=generator)
    angle = k.float() * (2 * math.pi / 8)
    centres = radius * torch.stack([angle.cos(), angle.sin()], dim=1)
    return centres + std * torch.randn(n, 2, generator=generator)
