"""Diffusion (VP, VE) and optimal-transport probability paths, reference implementations
(assignment 08_diffusion_and_ot_paths).

Conventions (see SYLLABUS.md): flow-matching time t in [0, 1], t = 0 noise, t = 1 data. Diffusion
papers run their own time s the other way (s = 0 data, s = 1 noise); here s = 1 - t throughout.
Times are (B,) float32; data are (B, ...) batch first; derivatives (primes) are d/dt.

Constants. VP (Song et al. 2021, "VP SDE"): beta(s) = beta_min + s (beta_max - beta_min) with
beta_min = 0.1, beta_max = 20, alpha_s = exp(-1/2 int_0^s beta(r) dr), and in flow-matching time
mu_t = alpha_{1-t} x1, sigma_t = sqrt(1 - alpha_{1-t}^2) (Lipman et al. 2023, Sec. 4.1).
VE (Song et al. 2021, "VE SDE"): sigma(s) = sigma_min (sigma_max / sigma_min)^s with sigma_min = 0.01
and sigma_max = 5 (Song et al. take sigma_max about the largest distance between data points: 50 for
CIFAR-10, about 4.5 for our eight Gaussians); mu_t = x1, sigma_t = sigma(1 - t).
Straightness (Liu et al. 2023, rectified flow): S = int_0^1 E |(x_1 - x_0) - dx_t/dt|^2 dt, 0 iff
every trajectory is a straight line run at constant speed.
"""
from __future__ import annotations

import math

import torch

from coursekit.validate import (check_flow_times, check_same_shape, check_tensor, check_ve_sigmas,
                                check_vp_betas)
from solutions.flow_matching import per_sample

BETA_MIN, BETA_MAX = 0.1, 20.0
VE_SIGMA_MIN, VE_SIGMA_MAX = 0.01, 5.0


def vp_alpha(s: torch.Tensor, beta_min: float = BETA_MIN, beta_max: float = BETA_MAX) -> torch.Tensor:
    """alpha_s = exp(-1/2 int_0^s beta(r) dr) for the linear beta(r) = beta_min + r (beta_max - beta_min).

    s: (B,) diffusion times in [0, 1] (s = 0 data, s = 1 noise). Returns (B,): the signal scale,
    1 at s = 0 and about 0.0066 at s = 1 with the default constants.
    """
    check_tensor("s", s, ndim=1, dtype=torch.float32)
    if s.numel() and (float(s.min()) < 0 or float(s.max()) > 1):
        raise ValueError(f"s: expected diffusion times in [0, 1] (s = 0 data, s = 1 noise), "
                         f"got min {float(s.min()):.4g}, max {float(s.max()):.4g}")
    check_vp_betas(beta_min, beta_max)
    ### BEGIN SOLUTION
    integral = beta_min * s + 0.5 * (beta_max - beta_min) * s**2
    return torch.exp(-0.5 * integral)
    ### END SOLUTION


def vp_schedule(t: torch.Tensor, beta_min: float = BETA_MIN, beta_max: float = BETA_MAX):
    """The VP path's coefficients in flow-matching time, and their derivatives in t:

        alpha_t = alpha_{1-t} (from ``vp_alpha``),  sigma_t = sqrt(1 - alpha_t^2),
        alpha_t' = 1/2 beta(1 - t) alpha_t,         sigma_t' = -alpha_t alpha_t' / sigma_t.

    (d/dt of alpha_{1-t} is minus the s-derivative, and d/ds alpha_s = -1/2 beta(s) alpha_s.)
    t: (B,) in [0, 1); at t = 1, sigma_t = 0 and sigma_t' is infinite. Returns four (B,) tensors
    (alpha_t, sigma_t, d_alpha_t, d_sigma_t).
    """
    check_tensor("t", t, ndim=1, dtype=torch.float32)
    check_flow_times("t", t, t.shape[0])
    if t.numel() and float(t.max()) == 1.0:
        raise ValueError("t: the VP path reaches sigma_t = 0 at t = 1, where sigma_t' is infinite; "
                         "use times t < 1")
    check_vp_betas(beta_min, beta_max)
    ### BEGIN SOLUTION
    s = 1 - t
    alpha = vp_alpha(s, beta_min, beta_max)
    sigma = (1 - alpha**2).sqrt()
    d_alpha = 0.5 * (beta_min + s * (beta_max - beta_min)) * alpha
    d_sigma = -alpha * d_alpha / sigma
    return alpha, sigma, d_alpha, d_sigma
    ### END SOLUTION


def vp_path_sample(x1: torch.Tensor, t: torch.Tensor, eps: torch.Tensor,
                   beta_min: float = BETA_MIN, beta_max: float = BETA_MAX) -> torch.Tensor:
    """A sample of the VP path: x_t = alpha_{1-t} x1 + sqrt(1 - alpha_{1-t}^2) eps (use ``vp_alpha``).

    x1, eps: (B, ...); t: (B,) in [0, 1]. Almost pure noise at t = 0, exactly x1 at t = 1.
    """
    check_tensor("x1", x1, min_ndim=1, dtype=torch.float32)
    check_flow_times("t", t, x1.shape[0])
    check_same_shape("x1", x1, "eps", eps)
    check_vp_betas(beta_min, beta_max)
    ### BEGIN SOLUTION
    alpha = vp_alpha(1 - t, beta_min, beta_max)
    return per_sample(alpha, x1) * x1 + per_sample((1 - alpha**2).sqrt(), x1) * eps
    ### END SOLUTION


def vp_conditional_field(x: torch.Tensor, x1: torch.Tensor, t: torch.Tensor,
                         beta_min: float = BETA_MIN, beta_max: float = BETA_MAX) -> torch.Tensor:
    """The VP path's conditional field, u_t(x | x1) = sigma_t'/sigma_t (x - alpha_t x1) + alpha_t' x1,
    with the coefficients of ``vp_schedule``. x, x1: (B, ...); t: (B,) in [0, 1).
    """
    check_tensor("x", x, min_ndim=1, dtype=torch.float32)
    check_same_shape("x", x, "x1", x1)
    check_flow_times("t", t, x.shape[0])
    if t.numel() and float(t.max()) == 1.0:
        raise ValueError("t: the VP field divides by sigma_t, which is 0 at t = 1; use times t < 1")
    ### BEGIN SOLUTION
    alpha, sigma, d_alpha, d_sigma = vp_schedule(t, beta_min, beta_max)
    return per_sample(d_sigma / sigma, x) * (x - per_sample(alpha, x) * x1) + per_sample(d_alpha, x) * x1
    ### END SOLUTION


def ve_path_sample(x1: torch.Tensor, t: torch.Tensor, eps: torch.Tensor,
                   sigma_min: float = VE_SIGMA_MIN, sigma_max: float = VE_SIGMA_MAX) -> torch.Tensor:
    """A sample of the VE path: x_t = x1 + sigma(1 - t) eps, with sigma(s) = sigma_min (sigma_max / sigma_min)^s.

    The mean never moves; only the noise shrinks, from sigma_max at t = 0 to sigma_min at t = 1.
    x1, eps: (B, ...); t: (B,) in [0, 1].
    """
    check_tensor("x1", x1, min_ndim=1, dtype=torch.float32)
    check_flow_times("t", t, x1.shape[0])
    check_same_shape("x1", x1, "eps", eps)
    check_ve_sigmas(sigma_min, sigma_max)
    ### BEGIN SOLUTION
    sigma = sigma_min * (sigma_max / sigma_min) ** (1 - t)
    return x1 + per_sample(sigma, x1) * eps
    ### END SOLUTION


def ve_conditional_field(x: torch.Tensor, x1: torch.Tensor, t: torch.Tensor,
                         sigma_min: float = VE_SIGMA_MIN, sigma_max: float = VE_SIGMA_MAX) -> torch.Tensor:
    """The VE path's conditional field, sigma_t'/sigma_t (x - x1) with sigma_t = sigma(1 - t).

    For the geometric sigma the ratio is a constant: u_t(x | x1) = log(sigma_max / sigma_min) (x1 - x).
    x, x1: (B, ...); t: (B,) in [0, 1].
    """
    check_tensor("x", x, min_ndim=1, dtype=torch.float32)
    check_same_shape("x", x, "x1", x1)
    check_flow_times("t", t, x.shape[0])
    check_ve_sigmas(sigma_min, sigma_max)
    ### BEGIN SOLUTION
    return math.log(sigma_max / sigma_min) * (x1 - x)
    ### END SOLUTION


def eps_to_velocity(eps: torch.Tensor, x: torch.Tensor, alpha_t: torch.Tensor, sigma_t: torch.Tensor,
                    d_alpha_t: torch.Tensor, d_sigma_t: torch.Tensor) -> torch.Tensor:
    """Turn a noise prediction into a velocity, for any Gaussian path x_t = alpha_t x1 + sigma_t eps.

    Recover the data the noise implies, x1_hat = (x - sigma_t eps) / alpha_t, and move along the path:
    u = alpha_t' x1_hat + sigma_t' eps. eps, x: (B, ...); the four coefficients: (B,), alpha_t > 0.
    Given, not graded, in 08: 02b grades this algebra (``to_data_eps`` with kind "epsilon", then the
    velocity entry of ``predictions``).
    """
    check_tensor("x", x, min_ndim=1, dtype=torch.float32)
    check_same_shape("x", x, "eps", eps)
    for name, value in (("alpha_t", alpha_t), ("sigma_t", sigma_t), ("d_alpha_t", d_alpha_t), ("d_sigma_t", d_sigma_t)):
        check_tensor(name, value, shape=(x.shape[0],), dtype=torch.float32)
    if alpha_t.numel() and float(alpha_t.min()) <= 0:
        raise ValueError(f"alpha_t: expected positive signal scales (x_t must still contain some data), "
                         f"got min {float(alpha_t.min()):.4g}")
    x1_hat = (x - per_sample(sigma_t, x) * eps) / per_sample(alpha_t, x)
    return per_sample(d_alpha_t, x) * x1_hat + per_sample(d_sigma_t, x) * eps


def straightness(trajectory: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """Liu et al.'s straightness of sampled trajectories, S = int_0^1 E |(x_1 - x_0) - dx_t/dt|^2 dt.

    trajectory: (K+1, B, ...) positions at ``times`` (K+1,), increasing from 0 to 1. On step k the
    velocity is the finite difference v_k = (x_{k+1} - x_k) / (t_{k+1} - t_k); S sums, over steps,
    (t_{k+1} - t_k) times the batch mean of |(x_K - x_0) - v_k|^2 (squared norm over all of a
    sample's coordinates). Returns a scalar tensor; 0 iff every trajectory is a straight line
    travelled at constant speed.
    """
    check_tensor("trajectory", trajectory, min_ndim=2, dtype=torch.float32)
    check_tensor("times", times, shape=(trajectory.shape[0],), dtype=torch.float32)
    if trajectory.shape[0] < 2:
        raise ValueError(f"trajectory: expected at least 2 positions (K+1 >= 2), got {trajectory.shape[0]}")
    if not bool((times[1:] > times[:-1]).all()) or float(times[0]) != 0.0 or float(times[-1]) != 1.0:
        raise ValueError(f"times: expected increasing times from 0 to 1, got {times.tolist()}")
    ### BEGIN SOLUTION
    dt = times[1:] - times[:-1]                                            # (K,)
    velocity = (trajectory[1:] - trajectory[:-1]) / dt.reshape(-1, *([1] * (trajectory.ndim - 1)))
    deviation = (trajectory[-1] - trajectory[0]) - velocity                # (K, B, ...)
    per_step = (deviation**2).flatten(2).sum(-1).mean(1)                   # (K,)
    return (dt * per_step).sum()
    ### END SOLUTION
