"""The theory bridge, reference implementations (assignment 02b_theory_bridge).

One Gaussian path links DDPM, score models and flow matching:

    x = alpha * data + sigma * eps,   eps ~ N(0, I),

with a signal scale ``alpha`` and a noise scale ``sigma`` (one per sample, shape (B,)).
- DDPM (discrete, 0-based t in {0, ..., T-1}): alpha = sqrt(alpha_bar[t]), sigma = sqrt(1 - alpha_bar[t]);
  the data is the paper's x_0.
- Flow matching (continuous t in [0, 1], t = 0 noise, t = 1 data): the OT path alpha_t = t, sigma_t = 1 - t,
  and the cosine VP path alpha_t = sin(pi t / 2), sigma_t = cos(pi t / 2); the data is Lipman et al.'s x_1.

A network may predict any of five things, all the same information given x (KINDS, diffusers' names
where diffusers has one): the noise ("epsilon"), the data ("sample"), Salimans & Ho's
v = alpha eps - sigma data ("v_prediction"), the score grad log p(x) = -eps / sigma ("score"), or
the flow-matching velocity dx/dt = alpha' data + sigma' eps ("velocity", which needs the path's
time derivatives). References: Song et al. 2021 (score SDE, probability-flow ODE); Vincent 2011
(denoising score matching); Salimans & Ho 2022 (v-prediction); Lipman et al. 2024 (Flow Matching
Guide and Code); Ho et al. 2020 (the DDPM bound); Song, Meng & Ermon 2021 (DDIM).
"""
from __future__ import annotations

import math

import torch

from coursekit.kit.diffusion import ddim_timesteps
from coursekit.validate import check_flow_times, check_number, check_same_shape, check_tensor, check_timesteps
from solutions.ddpm import posterior_mean_variance  # re-graded here: the bound is built from it
from solutions.flow_matching import per_sample
from solutions.variational import kl_diag_gaussians  # re-graded here: 01's KL is the bound's every term

KINDS = ("epsilon", "sample", "v_prediction", "score", "velocity")


def _check_scales(x: torch.Tensor, **scales) -> None:
    for name, value in scales.items():
        check_tensor(name, value, shape=(x.shape[0],), dtype=torch.float32)


# ---------------------------------------------------------------- 1. the score view

def eps_to_score(eps: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """The score grad_x log p(x) implied by a noise prediction: score = -eps / sigma.

    eps: (B, ...) predicted noise of x = alpha * data + sigma * eps; sigma: (B,) the noise scale
    (the standard deviation, not the variance; sqrt(1 - alpha_bar[t]) for DDPM). Returns like eps.
    """
    check_tensor("eps", eps, min_ndim=1, dtype=torch.float32)
    _check_scales(eps, sigma=sigma)
    ### BEGIN SOLUTION
    return -eps / per_sample(sigma, eps)
    ### END SOLUTION


def dsm_loss(score_model, x0: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Denoising score matching (Vincent 2011) with the weight sigma^2 (Song & Ermon 2019).

    x = x0 + sigma * noise; the score of the noising kernel at x is -noise / sigma, so
    loss = mean over the batch of || sigma * score_model(x, sigma) + noise ||^2 (squared norm summed
    over a sample's coordinates). x0, noise: (B, D); sigma: (B,) noise scales. Returns a 0-d tensor.
    """
    check_tensor("x0", x0, ndim=2, dtype=torch.float32)
    check_same_shape("x0", x0, "noise", noise)
    _check_scales(x0, sigma=sigma)
    ### BEGIN SOLUTION
    s = per_sample(sigma, x0)
    x = x0 + s * noise
    return ((s * score_model(x, sigma) + noise) ** 2).sum(-1).mean()
    ### END SOLUTION


def langevin_step(score, x: torch.Tensor, step_size: float, noise: torch.Tensor) -> torch.Tensor:
    """One step of unadjusted Langevin dynamics: x + step_size * score(x) + sqrt(2 step_size) * noise.

    score: ``score(x (B, D)) -> (B, D)``, grad log p; noise: like x, N(0, I). For small steps and many
    of them, the points are distributed as p.
    """
    check_tensor("x", x, ndim=2, dtype=torch.float32)
    check_same_shape("x", x, "noise", noise)
    check_number("step_size", step_size, positive=True)
    ### BEGIN SOLUTION
    return x + step_size * score(x) + math.sqrt(2 * step_size) * noise
    ### END SOLUTION


def langevin_sample(score, x_init: torch.Tensor, step_size: float, num_steps: int,
                    generator: torch.Generator, return_trajectory: bool = False):
    """``num_steps`` Langevin steps from ``x_init``, one randn(like x) from ``generator`` per step."""
    x, trajectory = x_init, [x_init]
    for _ in range(num_steps):
        x = langevin_step(score, x, step_size, torch.randn(x.shape, generator=generator))
        trajectory.append(x)
    return (x, torch.stack(trajectory)) if return_trajectory else x


# ---------------------------------------------------------------- 2. one model, many parameterisations

def flow_path(kind: str, t: torch.Tensor) -> tuple:
    """The coefficients of a flow-matching path x_t = alpha_t * data + sigma_t * eps, and their d/dt.

    Flow-matching time: t = 0 is noise, t = 1 is data. kind "ot": alpha_t = t, sigma_t = 1 - t;
    kind "vp" (the cosine variance-preserving path): alpha_t = sin(pi t / 2), sigma_t = cos(pi t / 2).
    t: (B,) float32 in [0, 1]. Returns (alpha_t, sigma_t, d_alpha_t, d_sigma_t), each (B,).
    """
    check_tensor("t", t, ndim=1, dtype=torch.float32)
    check_flow_times("t", t, t.shape[0])
    if kind not in ("ot", "vp"):
        raise ValueError(f"kind: expected 'ot' or 'vp', got {kind!r}")
    ### BEGIN SOLUTION
    if kind == "ot":
        return t, 1 - t, torch.ones_like(t), -torch.ones_like(t)
    angle = math.pi / 2 * t
    return angle.sin(), angle.cos(), math.pi / 2 * angle.cos(), -math.pi / 2 * angle.sin()
    ### END SOLUTION


def predictions(data: torch.Tensor, eps: torch.Tensor, alpha: torch.Tensor, sigma: torch.Tensor,
                d_alpha: torch.Tensor, d_sigma: torch.Tensor) -> tuple:
    """What each kind of network is trained to output for the point x = alpha * data + sigma * eps.

    Returns a tuple in the order of KINDS: (eps, data, v, score, velocity) with
    v = alpha * eps - sigma * data (Salimans & Ho), score = -eps / sigma (use ``eps_to_score``),
    velocity = d_alpha * data + d_sigma * eps (dx/dt along the path).
    data, eps: (B, ...); alpha, sigma, d_alpha, d_sigma: (B,).
    """
    check_tensor("data", data, min_ndim=1, dtype=torch.float32)
    check_same_shape("data", data, "eps", eps)
    _check_scales(data, alpha=alpha, sigma=sigma, d_alpha=d_alpha, d_sigma=d_sigma)
    ### BEGIN SOLUTION
    a, s = per_sample(alpha, data), per_sample(sigma, data)
    v = a * eps - s * data
    velocity = per_sample(d_alpha, data) * data + per_sample(d_sigma, data) * eps
    return eps, data, v, eps_to_score(eps, sigma), velocity
    ### END SOLUTION


def to_data_eps(prediction: torch.Tensor, kind: str, x: torch.Tensor, alpha: torch.Tensor, sigma: torch.Tensor,
                d_alpha: torch.Tensor | None = None, d_sigma: torch.Tensor | None = None) -> tuple:
    """Turn a prediction of any kind (one of KINDS) at x = alpha * data + sigma * eps into (data_hat, eps_hat).

    Two linear equations in two unknowns: x = alpha data + sigma eps, and the prediction
    (v = alpha eps - sigma data; score = -eps / sigma; velocity = d_alpha data + d_sigma eps).
    Do not assume alpha^2 + sigma^2 = 1: the OT path breaks it. d_alpha, d_sigma are needed
    for kind "velocity" only. prediction, x: (B, ...); the scales (B,). Returns two tensors like x.
    """
    check_tensor("x", x, min_ndim=1, dtype=torch.float32)
    check_same_shape("x", x, "prediction", prediction)
    _check_scales(x, alpha=alpha, sigma=sigma)
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")
    if kind == "velocity":
        if d_alpha is None or d_sigma is None:
            raise ValueError("kind 'velocity': pass the path's derivatives d_alpha and d_sigma")
        _check_scales(x, d_alpha=d_alpha, d_sigma=d_sigma)
    ### BEGIN SOLUTION
    a, s = per_sample(alpha, x), per_sample(sigma, x)
    if kind == "epsilon":
        return (x - s * prediction) / a, prediction
    if kind == "sample":
        return prediction, (x - a * prediction) / s
    if kind == "v_prediction":
        norm = a**2 + s**2
        return (a * x - s * prediction) / norm, (s * x + a * prediction) / norm
    if kind == "score":
        return (x + s**2 * prediction) / a, -s * prediction
    da, ds = per_sample(d_alpha, x), per_sample(d_sigma, x)
    det = a * ds - s * da
    return (ds * x - s * prediction) / det, (a * prediction - da * x) / det
    ### END SOLUTION


def ddpm_to_flow_time(alpha_bar_t: torch.Tensor, kind: str) -> tuple:
    """The flow-matching time with DDPM's signal-to-noise ratio, and the scale between the two points.

    DDPM at alpha_bar_t has alpha / sigma = sqrt(alpha_bar_t / (1 - alpha_bar_t)) =: r. The flow
    path ``kind`` ("ot" or "vp", as in ``flow_path``) has the same ratio at one time t:
    t = r / (1 + r) on the OT path, t = (2 / pi) * atan(r) on the VP path. There the two noisy points
    differ by a scale only: x_flow = scale * x_ddpm with scale = alpha_t / sqrt(alpha_bar_t).
    alpha_bar_t: (B,) in (0, 1). Returns (t, scale), each (B,).
    """
    check_tensor("alpha_bar_t", alpha_bar_t, ndim=1, dtype=torch.float32)
    if alpha_bar_t.numel() and (float(alpha_bar_t.min()) <= 0 or float(alpha_bar_t.max()) >= 1):
        raise ValueError("alpha_bar_t: expected values strictly between 0 and 1")
    if kind not in ("ot", "vp"):
        raise ValueError(f"kind: expected 'ot' or 'vp', got {kind!r}")
    ### BEGIN SOLUTION
    r = (alpha_bar_t / (1 - alpha_bar_t)).sqrt()
    t = r / (1 + r) if kind == "ot" else 2 / math.pi * torch.atan(r)
    alpha_t = t if kind == "ot" else (math.pi / 2 * t).sin()
    return t, alpha_t / alpha_bar_t.sqrt()
    ### END SOLUTION


def prediction_loss(model, x0: torch.Tensor, t: torch.Tensor, alpha_bar: torch.Tensor, noise: torch.Tensor,
                    kind: str) -> torch.Tensor:
    """The DDPM training loss for a network that predicts ``kind``: "epsilon", "sample" or "v_prediction".

    x_t = sqrt(alpha_bar[t]) x0 + sqrt(1 - alpha_bar[t]) noise; the target is that kind's entry of
    ``predictions`` (the DDPM path has no time derivative: pass zeros); loss = mean over all entries
    of (model(x_t, t) - target)^2. x0, noise: (B, ...); t: (B,) int. Returns a 0-d tensor.
    """
    check_tensor("x0", x0, min_ndim=1, dtype=torch.float32)
    check_timesteps("t", t, x0.shape[0], alpha_bar.shape[0])
    check_same_shape("x0", x0, "noise", noise)
    if kind not in KINDS[:3]:
        raise ValueError(f"kind: expected one of {KINDS[:3]}, got {kind!r}")
    ### BEGIN SOLUTION
    alpha, sigma = alpha_bar[t].sqrt(), (1 - alpha_bar[t]).sqrt()
    x_t = per_sample(alpha, x0) * x0 + per_sample(sigma, x0) * noise
    zeros = torch.zeros_like(alpha)
    target = predictions(x0, noise, alpha, sigma, zeros, zeros)[KINDS.index(kind)]
    return ((model(x_t, t) - target) ** 2).mean()
    ### END SOLUTION


# ---------------------------------------------------------------- 3. the probability-flow ODE

def _scales(alpha_bar: torch.Tensor, t: int) -> torch.Tensor:
    """alpha_bar at a DDIM time, with t = -1 meaning clean data (alpha_bar = 1)."""
    return alpha_bar[t] if t >= 0 else torch.tensor(1.0)


def _check_step(x_t: torch.Tensor, t: int, t_prev: int, alpha_bar: torch.Tensor) -> None:
    check_tensor("x_t", x_t, min_ndim=1, dtype=torch.float32)
    if not -1 <= t_prev < t < alpha_bar.shape[0]:
        raise ValueError(f"t, t_prev: expected -1 <= t_prev < t <= {alpha_bar.shape[0] - 1}, got t={t}, t_prev={t_prev}")


def euler_step(model, x_t: torch.Tensor, t: int, t_prev: int, alpha_bar: torch.Tensor) -> torch.Tensor:
    """One Euler step of the probability-flow ODE in DDIM's variables, from time t to t_prev (-1: clean).

    With y = x / sqrt(alpha_bar) and s = sqrt((1 - alpha_bar) / alpha_bar), the ODE is dy/ds = eps(x, t).
    Step: y_prev = y + (s_prev - s) * model(x_t, t); return x_prev = sqrt(alpha_bar_prev) * y_prev.
    """
    _check_step(x_t, t, t_prev, alpha_bar)
    ### BEGIN SOLUTION
    ab, ab_prev = _scales(alpha_bar, t), _scales(alpha_bar, t_prev)
    s, s_prev = ((1 - ab) / ab).sqrt(), ((1 - ab_prev) / ab_prev).sqrt()
    eps = model(x_t, torch.full((x_t.shape[0],), t, dtype=torch.long))
    return ab_prev.sqrt() * (x_t / ab.sqrt() + (s_prev - s) * eps)
    ### END SOLUTION


def heun_step(model, x_t: torch.Tensor, t: int, t_prev: int, alpha_bar: torch.Tensor) -> torch.Tensor:
    """One Heun (trapezoid) step of the same ODE: a second-order solver with two model calls.

    Take the Euler step to x_e at t_prev; then y_prev = y + (s_prev - s) * (eps_t + eps_e) / 2 with
    eps_e = model(x_e, t_prev). The last step (t_prev = -1, clean) has no model there: use Euler.
    """
    _check_step(x_t, t, t_prev, alpha_bar)
    ### BEGIN SOLUTION
    x_e = euler_step(model, x_t, t, t_prev, alpha_bar)
    if t_prev < 0:
        return x_e
    ab, ab_prev = _scales(alpha_bar, t), _scales(alpha_bar, t_prev)
    s, s_prev = ((1 - ab) / ab).sqrt(), ((1 - ab_prev) / ab_prev).sqrt()
    batch = x_t.shape[0]
    eps = model(x_t, torch.full((batch,), t, dtype=torch.long))
    eps_e = model(x_e, torch.full((batch,), t_prev, dtype=torch.long))
    return ab_prev.sqrt() * (x_t / ab.sqrt() + (s_prev - s) * (eps + eps_e) / 2)
    ### END SOLUTION


def ode_sample(step, model, shape: tuple, alpha_bar: torch.Tensor, num_steps: int,
               generator: torch.Generator, return_trajectory: bool = False):
    """Solve the probability-flow ODE from x ~ randn(shape) over DDIM's times with ``step`` (euler_step or heun_step)."""
    times = ddim_timesteps(alpha_bar.shape[0], num_steps) + [-1]
    x = torch.randn(shape, generator=generator)
    trajectory = [x]
    for t, t_prev in zip(times[:-1], times[1:]):
        x = step(model, x, t, t_prev, alpha_bar)
        trajectory.append(x)
    return (x, torch.stack(trajectory)) if return_trajectory else x


# ---------------------------------------------------------------- 4. the ELBO -> DDPM bridge

def bound_term(model, x0: torch.Tensor, t: torch.Tensor, betas: torch.Tensor, alpha_bar: torch.Tensor,
               noise: torch.Tensor) -> torch.Tensor:
    """The DDPM bound's term L_{t-1} = KL(q(x_{t-1} | x_t, x0) || p(x_{t-1} | x_t)), one per sample.

    x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise. q's mean and variance come from
    ``posterior_mean_variance(x0, ...)``; p uses the same variance and the mean the model implies,
    ``posterior_mean_variance(x0_hat, ...)`` with x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t),
    eps = model(x_t, t). The KL is ``kl_diag_gaussians`` (log-variances!). x0, noise: (B, D);
    t: (B,) with every t >= 1 (at t = 0 the bound has a decoder term, not a KL). Returns (B,).
    """
    check_tensor("x0", x0, ndim=2, dtype=torch.float32)
    check_timesteps("t", t, x0.shape[0], alpha_bar.shape[0])
    check_same_shape("x0", x0, "noise", noise)
    if t.numel() and int(t.min()) < 1:
        raise ValueError("t: expected every t >= 1; at t = 0 the bound's term is the decoder's, not a KL")
    ### BEGIN SOLUTION
    ab = per_sample(alpha_bar[t], x0)
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
    x0_hat = (x_t - (1 - ab).sqrt() * model(x_t, t)) / ab.sqrt()
    mean_q, var = posterior_mean_variance(x0, x_t, t, betas, alpha_bar)
    mean_p, _ = posterior_mean_variance(x0_hat, x_t, t, betas, alpha_bar)
    logvar = var.log().expand_as(x0)
    return kl_diag_gaussians(mean_q, logvar, mean_p, logvar)
    ### END SOLUTION


def bound_weight(t: torch.Tensor, betas: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """w_t with L_{t-1} = w_t * || eps - eps_theta ||^2:  w_t = beta_t^2 / (2 beta_tilde_t alpha_t (1 - alpha_bar_t)).

    alpha_t = 1 - beta_t (one step, not the product); beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t.
    Take beta_t = 1 - alpha_bar_t / alpha_bar_{t-1}, as ``posterior_mean_variance`` does, so the two agree to rounding.
    L_simple sets every w_t to 1. t: (B,) with every t >= 1. Returns (B,).
    """
    check_tensor("t", t, ndim=1)
    check_timesteps("t", t, t.shape[0], alpha_bar.shape[0])
    if t.numel() and int(t.min()) < 1:
        raise ValueError("t: expected every t >= 1 (beta_tilde_0 = 0: there is no KL term at t = 0)")
    ### BEGIN SOLUTION
    ab, ab_prev = alpha_bar[t], alpha_bar[t - 1]
    beta = 1 - ab / ab_prev
    beta_tilde = (1 - ab_prev) / (1 - ab) * beta
    return beta**2 / (2 * beta_tilde * (1 - beta) * (1 - ab))
    ### END SOLUTION
