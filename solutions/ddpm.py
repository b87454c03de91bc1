"""DDPM and DDIM, reference implementations (assignment 02_ddpm).

Conventions (see SYLLABUS.md): diffusion time is 0-based, t in {0, ..., T-1};
``alpha_bar[t] = prod_{s<=t} (1 - beta[s])``; the paper's step k is our t = k - 1.
References: Ho et al. 2020 (DDPM), Nichol & Dhariwal 2021 (cosine schedule),
Song et al. 2021 (DDIM).
"""
from __future__ import annotations

import math

import torch

from coursekit.validate import check_same_shape, check_tensor, check_timesteps


def linear_beta_schedule(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """Betas spaced evenly from beta_start to beta_end (Ho et al. 2020). Returns (T,) float32."""
    if T < 1:
        raise ValueError(f"T: expected a positive number of steps, got {T}")
    ### BEGIN SOLUTION
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float32)
    ### END SOLUTION


def cosine_beta_schedule(T: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Betas from the cosine alpha_bar of Nichol & Dhariwal (2021). Returns (T,) float32.

    f(u) = cos^2(((u + s) / (1 + s)) * pi / 2) for u in [0, 1];
    beta[t] = min(1 - f((t + 1) / T) / f(t / T), max_beta).
    """
    if T < 1:
        raise ValueError(f"T: expected a positive number of steps, got {T}")
    ### BEGIN SOLUTION
    def f(u: float) -> float:
        return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2

    betas = [min(1 - f((t + 1) / T) / f(t / T), max_beta) for t in range(T)]
    return torch.tensor(betas, dtype=torch.float32)
    ### END SOLUTION


def compute_alpha_bar(betas: torch.Tensor) -> torch.Tensor:
    """alpha_bar[t] = prod_{s <= t} (1 - betas[s]). Returns (T,)."""
    check_tensor("betas", betas, ndim=1, dtype=torch.float32)
    ### BEGIN SOLUTION
    return torch.cumprod(1.0 - betas, dim=0)
    ### END SOLUTION


def q_sample(x0: torch.Tensor, t: torch.Tensor, alpha_bar: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Sample x_t ~ q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I).

    x0: (B, ...) clean data; t: (B,) integer times; alpha_bar: (T,); noise: like x0.
    """
    check_tensor("x0", x0, min_ndim=1, dtype=torch.float32)
    check_timesteps("t", t, x0.shape[0], alpha_bar.shape[0])
    check_same_shape("x0", x0, "noise", noise)
    ### BEGIN SOLUTION
    a = alpha_bar[t].reshape(-1, *([1] * (x0.ndim - 1)))  # (B, 1, ...) broadcasts over data dims
    return a.sqrt() * x0 + (1 - a).sqrt() * noise
    ### END SOLUTION


def ddpm_loss(model, x0: torch.Tensor, t: torch.Tensor, alpha_bar: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The simple epsilon-prediction loss: mean over all entries of (model(x_t, t) - noise)^2.

    ``model(x_t, t)`` predicts the noise that produced x_t. Returns a scalar tensor.
    """
    check_tensor("x0", x0, min_ndim=1, dtype=torch.float32)
    check_timesteps("t", t, x0.shape[0], alpha_bar.shape[0])
    check_same_shape("x0", x0, "noise", noise)
    ### BEGIN SOLUTION
    a = alpha_bar[t].reshape(-1, *([1] * (x0.ndim - 1)))
    x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
    return ((model(x_t, t) - noise) ** 2).mean()
    ### END SOLUTION


def posterior_mean_variance(x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor,
                            betas: torch.Tensor, alpha_bar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of q(x_{t-1} | x_t, x_0).

    mean = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) x_0
         + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) x_t
    var  = beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t,
    with alpha_bar_{-1} = 1 (so the variance at t = 0 is 0).
    Returns (mean like x_t, variance of shape (B, 1, ...) broadcastable to x_t).
    """
    check_tensor("x_t", x_t, min_ndim=1, dtype=torch.float32)
    check_same_shape("x_t", x_t, "x0", x0)
    check_timesteps("t", t, x_t.shape[0], betas.shape[0])
    ### BEGIN SOLUTION
    view = (-1, *([1] * (x_t.ndim - 1)))
    alpha_bar_prev = torch.cat([torch.ones(1), alpha_bar[:-1]])
    ab, ab_prev = alpha_bar[t].reshape(view), alpha_bar_prev[t].reshape(view)
    beta = 1 - ab / ab_prev  # = betas[t], but rounded consistently with alpha_bar (exactly 1 - ab at t = 0)
    mean = ab_prev.sqrt() * beta / (1 - ab) * x0 + (1 - beta).sqrt() * (1 - ab_prev) / (1 - ab) * x_t
    variance = (1 - ab_prev) / (1 - ab) * beta
    return mean, variance
    ### END SOLUTION


def p_sample(model, x_t: torch.Tensor, t: int, betas: torch.Tensor, alpha_bar: torch.Tensor,
             noise: torch.Tensor) -> torch.Tensor:
    """One ancestral step x_t -> x_{t-1} with the fixed variance beta_tilde_t.

    Predict eps = model(x_t, t), turn it into x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t),
    take the posterior mean, and add sqrt(beta_tilde_t) * noise, except at t = 0, where no noise is added.
    """
    check_tensor("x_t", x_t, min_ndim=1, dtype=torch.float32)
    check_same_shape("x_t", x_t, "noise", noise)
    if not 0 <= t < betas.shape[0]:
        raise ValueError(f"t: expected an integer in 0..{betas.shape[0] - 1}, got {t}")
    ### BEGIN SOLUTION
    t_batch = torch.full((x_t.shape[0],), t, dtype=torch.long)
    eps = model(x_t, t_batch)
    x0_hat = (x_t - (1 - alpha_bar[t]).sqrt() * eps) / alpha_bar[t].sqrt()
    mean, variance = posterior_mean_variance(x0_hat, x_t, t_batch, betas, alpha_bar)
    if t == 0:
        return mean
    return mean + variance.sqrt() * noise
    ### END SOLUTION


def ddpm_sample(model, shape: tuple, betas: torch.Tensor, alpha_bar: torch.Tensor,
                generator: torch.Generator, return_trajectory: bool = False):
    """Ancestral sampling from x_{T-1} ~ N(0, I) down to x_0 with ``p_sample``.

    Random numbers come from ``generator`` in this order: the start x ~ randn(shape), then one
    randn(shape) per step for t = T-1, ..., 1 (none at t = 0).
    Returns x_0, or (x_0, trajectory of shape (T + 1, *shape)) if return_trajectory.
    """
    ### BEGIN SOLUTION
    x = torch.randn(shape, generator=generator)
    trajectory = [x]
    for t in reversed(range(betas.shape[0])):
        noise = torch.randn(shape, generator=generator) if t > 0 else torch.zeros(shape)
        x = p_sample(model, x, t, betas, alpha_bar, noise)
        trajectory.append(x)
    return (x, torch.stack(trajectory)) if return_trajectory else x
    ### END SOLUTION


def ddim_step(model, x_t: torch.Tensor, t: int, t_prev: int, alpha_bar: torch.Tensor,
              eta: float, noise: torch.Tensor) -> torch.Tensor:
    """One DDIM update from time t to an earlier time t_prev (t_prev = -1 means "clean", alpha_bar = 1).

    sigma = eta * sqrt((1 - ab_prev) / (1 - ab_t)) * sqrt(1 - ab_t / ab_prev)
    x_prev = sqrt(ab_prev) x0_hat + sqrt(1 - ab_prev - sigma^2) eps + sigma * noise
    eta = 0 is the deterministic DDIM sampler; eta = 1 matches DDPM's variance.
    """
    check_tensor("x_t", x_t, min_ndim=1, dtype=torch.float32)
    check_same_shape("x_t", x_t, "noise", noise)
    if not -1 <= t_prev < t < alpha_bar.shape[0]:
        raise ValueError(f"t, t_prev: expected -1 <= t_prev < t <= {alpha_bar.shape[0] - 1}, got t={t}, t_prev={t_prev}")
    ### BEGIN SOLUTION
    ab = alpha_bar[t]
    ab_prev = alpha_bar[t_prev] if t_prev >= 0 else torch.tensor(1.0)
    eps = model(x_t, torch.full((x_t.shape[0],), t, dtype=torch.long))
    x0_hat = (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()
    sigma = eta * ((1 - ab_prev) / (1 - ab)).sqrt() * (1 - ab / ab_prev).sqrt()
    return ab_prev.sqrt() * x0_hat + (1 - ab_prev - sigma**2).sqrt() * eps + sigma * noise
    ### END SOLUTION


def ddim_timesteps(T: int, num_steps: int) -> list[int]:
    """Evenly strided ("leading") times, largest first: [(n-1)k, ..., k, 0] with k = T // n."""
    if not 1 <= num_steps <= T:
        raise ValueError(f"num_steps: expected 1..{T}, got {num_steps}")
    k = T // num_steps
    return [i * k for i in reversed(range(num_steps))]


def ddim_sample(model, shape: tuple, alpha_bar: torch.Tensor, num_steps: int,
                generator: torch.Generator, eta: float = 0.0, return_trajectory: bool = False):
    """Strided DDIM sampling over ``ddim_timesteps(T, num_steps)`` using ``ddim_step``.

    Random numbers: x ~ randn(shape) first; then, only if eta > 0, one randn(shape) per step.
    Returns x_0, or (x_0, trajectory of shape (num_steps + 1, *shape)) if return_trajectory.
    """
    ### BEGIN SOLUTION
    times = ddim_timesteps(alpha_bar.shape[0], num_steps)
    x = torch.randn(shape, generator=generator)
    trajectory = [x]
    for i, t in enumerate(times):
        t_prev = times[i + 1] if i + 1 < len(times) else -1
        noise = torch.randn(shape, generator=generator) if eta > 0 else torch.zeros(shape)
        x = ddim_step(model, x, t, t_prev, alpha_bar, eta, noise)
        trajectory.append(x)
    return (x, torch.stack(trajectory)) if return_trajectory else x
    ### END SOLUTION
