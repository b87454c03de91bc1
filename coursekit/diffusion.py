"""Small, non-graded diffusion helpers for the policy assignments: schedule, loss, DDIM sampler.

These are the tools of 02_ddpm, rewritten compactly so that later assignments can sample without
the learner's (or the reference) 02 solutions. Conventions as in the course: 0-based discrete time
t in {0, ..., T-1}, alpha_bar[t] = prod_{s<=t} (1 - beta[s]), epsilon prediction.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from coursekit.validate import check_tensor


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Diffusion Policy's ``SinusoidalPosEmb``: t (B,) -> (B, dim), order **[sin, cos]**.

    With half = dim // 2, the frequencies are f_i = max_period ** (-i / (half - 1)), i = 0 .. half-1
    (the highest is 1, the lowest exactly 1 / max_period):
    emb = [sin(t f_0), ..., sin(t f_{half-1}), cos(t f_0), ..., cos(t f_{half-1})].
    This equals diffusers' ``get_timestep_embedding(t, dim, flip_sin_to_cos=False,
    downscale_freq_shift=1)``; DiT (04) uses [cos, sin] with exponent -i / half instead.
    """
    check_tensor("t", t, ndim=1)
    if dim < 4 or dim % 2:
        raise ValueError(f"dim: expected an even embedding size >= 4, got {dim}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / (half - 1))  # (half,)
    args = t.float()[:, None] * freqs[None]                                                         # (B, half)
    return torch.cat([args.sin(), args.cos()], dim=-1)                                              # (B, dim)


def cosine_alpha_bar(T: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """alpha_bar (T,) of the cosine schedule (Nichol & Dhariwal 2021) with betas capped at max_beta,
    i.e. diffusers' ``beta_schedule="squaredcos_cap_v2"``, which Diffusion Policy uses."""
    f = lambda u: math.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    betas = torch.tensor([min(1 - f((t + 1) / T) / f(t / T), max_beta) for t in range(T)], dtype=torch.float64)
    return torch.cumprod(1 - betas, dim=0).float()


def epsilon_loss(eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x0: torch.Tensor,
                 alpha_bar: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mean squared error of eps_fn(x_t, t) against the noise, at uniformly drawn steps t.

    x0: (B, ...) clean samples. Draws t (B,) then the noise (like x0) from ``generator``.
    """
    t = torch.randint(0, len(alpha_bar), (x0.shape[0],), generator=generator)
    noise = torch.randn(x0.shape, generator=generator)
    a = alpha_bar[t].reshape(-1, *([1] * (x0.ndim - 1)))
    x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
    return ((eps_fn(x_t, t) - noise) ** 2).mean()


def ddim_sample(eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], shape: tuple,
                alpha_bar: torch.Tensor, num_steps: int, generator: torch.Generator,
                clip: float | None = 1.0) -> torch.Tensor:
    """Deterministic DDIM (eta = 0) from x ~ N(0, I) of ``shape`` down to a clean sample.

    Visits ``num_steps`` times spread evenly over T-1 .. 0. At each, x0 is estimated from the
    predicted noise and (if ``clip``) clipped to [-clip, clip], the range of normalised actions, as
    diffusers' schedulers do with ``clip_sample=True`` (Diffusion Policy's setting); the noise is then
    re-derived from the clipped estimate and both are mixed at the next noise level.
    """
    T = len(alpha_bar)
    times = torch.linspace(T - 1, 0, num_steps).round().long().tolist()
    x = torch.randn(shape, generator=generator)
    for i, t in enumerate(times):
        ab = alpha_bar[t]
        ab_next = alpha_bar[times[i + 1]] if i + 1 < len(times) else torch.tensor(1.0)
        eps = eps_fn(x, torch.full((shape[0],), t, dtype=torch.long))
        x0 = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
        if clip is not None:
            x0 = x0.clamp(-clip, clip)
            eps = (x - ab.sqrt() * x0) / (1 - ab).sqrt()
        x = ab_next.sqrt() * x0 + (1 - ab_next).sqrt() * eps
    return x
