"""A Gaussian mixture and its exact noise predictor, to drive the samplers with no training.

If x_0 ~ sum_k w_k N(mu_k, s^2 I) and x_t = sqrt(ab) x_0 + sqrt(1 - ab) eps, then
x_t ~ sum_k w_k N(sqrt(ab) mu_k, v I) with v = ab s^2 + 1 - ab, and the best possible
eps-predictor (the one minimising the DDPM loss) is
    E[eps | x_t] = -sqrt(1 - ab) * grad log p_t(x_t) = sqrt(1 - ab) / v * sum_k r_k (x_t - sqrt(ab) mu_k),
with r_k the posterior responsibilities of the components. A trained network can only approximate it.
"""
from __future__ import annotations

import math

import torch


def ring_means(k: int = 8, radius: float = 2.0) -> torch.Tensor:
    """k points evenly spaced on a circle, (k, 2) float32: the "eight Gaussians" centres for k = 8."""
    angle = torch.arange(k, dtype=torch.float32) * (2 * math.pi / k)
    return radius * torch.stack([angle.cos(), angle.sin()], dim=1)


def sample_mixture(means: torch.Tensor, std: float, n: int, generator: torch.Generator) -> torch.Tensor:
    """n points from the equal-weight mixture of N(means[k], std^2 I). Returns (n, D) float32."""
    which = torch.randint(means.shape[0], (n,), generator=generator)                   # (n,)
    return means[which] + std * torch.randn(n, means.shape[1], generator=generator)   # (n, D)


def mixture_eps_model(means: torch.Tensor, std: float, alpha_bar: torch.Tensor):
    """The exact eps-predictor ``model(x_t (B, D), t (B,) long) -> eps (B, D)`` for that mixture.

    means: (K, D) component centres (equal weights); std: their common standard deviation;
    alpha_bar: (T,) the schedule the samplers will use.
    """
    def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ab = alpha_bar[t].to(x.dtype).unsqueeze(1)                   # (B, 1)
        v = ab * std**2 + (1 - ab)                                   # (B, 1) per-component variance
        diff = x[:, None, :] - ab.sqrt()[:, None, :] * means[None]  # (B, K, D)
        r = torch.softmax(-(diff**2).sum(-1) / (2 * v), dim=1)       # (B, K) responsibilities
        return (1 - ab).sqrt() / v * (r[:, :, None] * diff).sum(1)   # (B, D)

    return model
