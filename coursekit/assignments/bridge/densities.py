"""A known 2-D density with an exact score, and the models of 02b's checks (not graded code).

The eight-Gaussians mixture p(x) = 1/K sum_k N(x; mu_k, s^2 I) has the exact score
    grad log p(x) = sum_k r_k(x) (mu_k - x) / s^2,   r_k the posterior responsibilities,
and, smoothed by Gaussian noise of scale sigma (x + sigma eps), it is the same mixture with
s^2 + sigma^2: so denoising score matching can be measured against the truth.
"""
from __future__ import annotations

import torch

from coursekit.kit.evidence import eight_gaussian_centres

MODE_STD = 0.15   # coursekit.kit.data.eight_gaussians' default


def mixture_score(x: torch.Tensor, sigma: float | torch.Tensor = 0.0, std: float = MODE_STD,
                  centres: torch.Tensor | None = None) -> torch.Tensor:
    """grad log p(x) of the eight-Gaussians density smoothed by noise of scale sigma (0: the data's own).

    x: (n, 2); sigma: a number or (n,) per point. Returns (n, 2).
    """
    centres = eight_gaussian_centres() if centres is None else centres
    var = std**2 + torch.as_tensor(sigma, dtype=x.dtype) ** 2
    var = var.reshape(-1, 1) if var.ndim else var                      # (n, 1) or ()
    diff = centres[None] - x[:, None, :]                                 # (n, K, 2)
    v = var[:, :, None] if var.ndim else var
    r = torch.softmax(-(diff**2).sum(-1) / (2 * var), dim=1)            # (n, K)
    return (r[:, :, None] * diff / v).sum(1)


class ToyScoreModel:
    """A fixed, smooth stand-in for a noise-conditional score network: s(x, sigma) = -tanh(a x) / sigma + b.

    x: (B, D), sigma: (B,). Seeded a, b, so checks see a non-trivial score.
    """

    def __init__(self, seed: int):
        g = torch.Generator().manual_seed(30_000 + seed)
        self.a = 0.5 + torch.rand((), generator=g)
        self.b = 0.3 * torch.randn((), generator=g)

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        if not isinstance(sigma, torch.Tensor) or sigma.shape != (x.shape[0],):
            got = tuple(sigma.shape) if isinstance(sigma, torch.Tensor) else type(sigma).__name__
            raise ValueError(f"score_model: expected sigma of shape ({x.shape[0]},), got {got}")
        return -torch.tanh(self.a * x) / sigma.reshape(-1, 1) + self.b


class ToyScore:
    """A fixed score of one variable, s(x) = -(x - m) / v + c tanh(x), seeded (for Langevin checks)."""

    def __init__(self, seed: int):
        g = torch.Generator().manual_seed(40_000 + seed)
        self.m = torch.randn(2, generator=g)
        self.v = 0.5 + torch.rand((), generator=g)
        self.c = 0.5 * torch.rand((), generator=g)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return -(x - self.m) / self.v + self.c * torch.tanh(x)
