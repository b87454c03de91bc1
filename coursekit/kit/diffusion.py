"""Diffusion tools for the assignments after 02 (03, 04, 05): schedule, loss, DDIM sampler, embedding.

The one learner-visible copy of each; 02 grades its own versions (``solutions/ddpm.py``).
Conventions as in the course: 0-based discrete time t in {0, ..., T-1},
alpha_bar[t] = prod_{s<=t} (1 - beta[s]). The network may predict the noise
(``prediction="epsilon"``, as in 02) or the clean sample (``prediction="sample"``).

The cosine schedule is graded in 02, so it is not written here: :func:`cosine_alpha_bar` reads the
numbers that ``python -m autograder build`` computes with 02's reference (``schedules.pt``), for the
lengths later assignments use only.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Callable

import torch

from coursekit.validate import check_tensor

SCHEDULES = Path(__file__).parent / "schedules.pt"
SCHEDULE_LENGTHS = (50, 100)   # T of 04 and 05 (50), 03 (100)


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0, scale: float = 1.0) -> torch.Tensor:
    """Diffusion Policy's ``SinusoidalPosEmb``: t (B,) -> (B, dim), order **[sin, cos]**; the course's one copy.

    With half = dim // 2, the frequencies are f_i = scale * max_period ** (-i / (half - 1)), i = 0 .. half-1
    (the highest is scale, the lowest exactly scale / max_period):
    emb = [sin(t f_0), ..., sin(t f_{half-1}), cos(t f_0), ..., cos(t f_{half-1})].
    With scale = 1 this equals diffusers' ``get_timestep_embedding(t, dim, flip_sin_to_cos=False,
    downscale_freq_shift=1)``. pi0 (09) uses it with periods from 4e-3 to 4 (openpi's posemb_sincos).
    DiT's [cos, sin] with exponent -i / half is graded in 04, so it is not here.
    """
    check_tensor("t", t, ndim=1)
    if dim < 4 or dim % 2:
        raise ValueError(f"dim: expected an even embedding size >= 4, got {dim}")
    half = dim // 2
    freqs = scale * torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / (half - 1))  # (half,)
    args = t.float()[:, None] * freqs[None]                                                         # (B, half)
    return torch.cat([args.sin(), args.cos()], dim=-1)                                              # (B, dim)


def cosine_alpha_bar(T: int) -> torch.Tensor:
    """alpha_bar (T,) float32 of the cosine schedule (Nichol & Dhariwal 2021, s = 0.008, betas capped at
    0.999: diffusers' ``"squaredcos_cap_v2"``, which Diffusion Policy uses), as numbers (see the module
    docstring). T: one of SCHEDULE_LENGTHS."""
    if T not in SCHEDULE_LENGTHS:
        raise ValueError(f"T: the course ships the cosine schedule for T in {SCHEDULE_LENGTHS}, got {T!r} "
                         "(02 is where you write it for any T)")
    return _schedules(SCHEDULES.stat().st_mtime_ns)[f"cosine_{T}"].clone()


@functools.lru_cache(maxsize=2)
def _schedules(mtime_ns: int) -> dict:
    return torch.load(SCHEDULES, weights_only=True)


PREDICTIONS = ("epsilon", "sample")


def _check_prediction(prediction: str) -> None:
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction: expected one of {PREDICTIONS}, got {prediction!r}")


def denoising_loss(denoiser: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x0: torch.Tensor,
                   alpha_bar: torch.Tensor, generator: torch.Generator, prediction: str = "epsilon") -> torch.Tensor:
    """Mean squared error of denoiser(x_t, t) at uniformly drawn steps t, x_t = sqrt(ab) x0 + sqrt(1 - ab) eps.

    prediction="epsilon": the target is the noise eps (Ho et al.); prediction="sample": the target is
    the clean x0 itself (diffusers' and Diffusion Policy's ``prediction_type="sample"``).
    x0: (B, ...) clean samples. Draws t (B,) then the noise (like x0) from ``generator``.
    """
    _check_prediction(prediction)
    t = torch.randint(0, len(alpha_bar), (x0.shape[0],), generator=generator)
    noise = torch.randn(x0.shape, generator=generator)
    a = alpha_bar[t].reshape(-1, *([1] * (x0.ndim - 1)))
    x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
    target = noise if prediction == "epsilon" else x0
    return ((denoiser(x_t, t) - target) ** 2).mean()


def ddim_timesteps(T: int, num_steps: int) -> list[int]:
    """The times DDIM visits, "leading" spacing (diffusers' default, which Diffusion Policy used):
    k * (T // num_steps) for k = num_steps - 1 down to 0. T = 100, 10 steps: 90, 80, ..., 0."""
    if not 1 <= num_steps <= T:
        raise ValueError(f"num_steps: expected 1 .. T = {T}, got {num_steps}")
    ratio = T // num_steps
    return [k * ratio for k in range(num_steps - 1, -1, -1)]


def ddim_sample(denoiser: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], shape: tuple,
                alpha_bar: torch.Tensor, num_steps: int, generator: torch.Generator,
                prediction: str = "epsilon", clip: float | None = 1.0,
                return_trajectory: bool = False):
    """Deterministic DDIM (eta = 0) from x ~ N(0, I) of ``shape`` down to a clean sample.

    ``denoiser(x, t)`` (t a (B,) int64 tensor) predicts the noise (prediction="epsilon") or the clean
    sample (prediction="sample"). Visits ``ddim_timesteps(T, num_steps)``; after the last (t = 0) the
    next noise level is alpha_bar = 1, clean. At each step the clean estimate x0 is clipped to
    [-clip, clip] (the range of normalised actions) and the noise estimate eps is the unclipped one,
    exactly as diffusers' ``DDIMScheduler(clip_sample=True)`` (Diffusion Policy's setting) computes it:
    x <- sqrt(alpha_bar_next) x0 + sqrt(1 - alpha_bar_next) eps.
    Returns x0, or (x0, trajectory (num_steps + 1, *shape)) if return_trajectory.
    """
    _check_prediction(prediction)
    times = ddim_timesteps(len(alpha_bar), num_steps)
    x = torch.randn(shape, generator=generator)
    trajectory = [x]
    for i, t in enumerate(times):
        ab = alpha_bar[t]
        ab_next = alpha_bar[times[i + 1]] if i + 1 < len(times) else torch.tensor(1.0)
        out = denoiser(x, torch.full((shape[0],), t, dtype=torch.long))
        if prediction == "epsilon":
            x0, eps = (x - (1 - ab).sqrt() * out) / ab.sqrt(), out
        else:
            x0, eps = out, (x - ab.sqrt() * out) / (1 - ab).sqrt()
        if clip is not None:
            x0 = x0.clamp(-clip, clip)
        x = ab_next.sqrt() * x0 + (1 - ab_next).sqrt() * eps
        trajectory.append(x)
    return (x, torch.stack(trajectory)) if return_trajectory else x
