"""Tiny deterministic stand-ins used as check inputs (not models anyone trains)."""
from __future__ import annotations

import torch


class ToyEpsModel:
    """A fixed, smooth 'noise predictor' eps(x, t) = tanh(a * x + b * t / 10) with seeded a, b.

    Works elementwise on any (B, ...) shape, so it can stand in for a trained network in checks.
    """

    def __init__(self, seed: int):
        g = torch.Generator().manual_seed(10_000 + seed)
        self.a = 0.5 + torch.rand((), generator=g)
        self.b = 0.1 + 0.2 * torch.rand((), generator=g)

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if t.shape != (x.shape[0],):
            raise ValueError(f"model: expected t of shape ({x.shape[0]},), got {tuple(t.shape)}")
        t = t.to(x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
        return torch.tanh(self.a * x + self.b * t / 10)


class ToyVelocityModel:
    """A fixed, smooth 'velocity model' v(x, t) = tanh(a x + b t) - c x, with seeded a, b, c.

    Continuous time: t is a (B,) float tensor in [0, 1]. Works elementwise on any (B, ...) shape,
    so it can stand in for a trained flow-matching network in checks.
    """

    def __init__(self, seed: int):
        g = torch.Generator().manual_seed(20_000 + seed)
        self.a = 0.5 + torch.rand((), generator=g)
        self.b = 1.0 + torch.rand((), generator=g)
        self.c = 0.2 + 0.3 * torch.rand((), generator=g)

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if not isinstance(t, torch.Tensor) or t.shape != (x.shape[0],):
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"model: expected t of shape ({x.shape[0]},), got {got}")
        t = t.to(x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
        return torch.tanh(self.a * x + self.b * t) - self.c * x
