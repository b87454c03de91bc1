"""Common wrong versions of the 08_diffusion_and_ot_paths functions (see solutions/mistakes.py)."""
from __future__ import annotations

import math

import torch

from solutions.flow_matching import per_sample
from solutions.mistakes import registry
from solutions.ot_paths import vp_alpha, vp_schedule

mistake = registry()


# ---------------------------------------------------------------- vp_alpha
@mistake("vp_alpha", "alpha_bar instead of alpha (missing the 1/2)",
         "alpha_s = exp(-1/2 int_0^s beta): without the 1/2 you get alpha_s^2, the DDPM-style alpha_bar.")
def vp_alpha_squared(s, beta_min=0.1, beta_max=20.0):
    return torch.exp(-(beta_min * s + 0.5 * (beta_max - beta_min) * s**2))


@mistake("vp_alpha", "beta evaluated, not integrated",
         "The exponent integrates beta: int_0^s beta = beta_min s + (beta_max - beta_min) s^2 / 2, not beta(s) * s.")
def vp_alpha_not_integrated(s, beta_min=0.1, beta_max=20.0):
    return torch.exp(-0.5 * (beta_min + s * (beta_max - beta_min)) * s)


# ---------------------------------------------------------------- vp_schedule
@mistake("vp_schedule", "derivative taken in diffusion time s (wrong sign)",
         "With s = 1 - t, d/dt alpha_{1-t} = -d/ds alpha_s = +1/2 beta(1 - t) alpha: in flow-matching time the "
         "signal grows, so alpha_t' > 0 and sigma_t' < 0.", showcase=True)
def vp_schedule_ds(t, beta_min=0.1, beta_max=20.0):
    s = 1 - t
    alpha = vp_alpha(s, beta_min, beta_max)
    sigma = (1 - alpha**2).sqrt()
    d_alpha = -0.5 * (beta_min + s * (beta_max - beta_min)) * alpha
    return alpha, sigma, d_alpha, -alpha * d_alpha / sigma


@mistake("vp_schedule", "time convention reversed",
         "Flow-matching time runs the other way from diffusion time: alpha_t = alpha_{1-t} (vp_alpha(1 - t)), "
         "so that t = 0 is noise and t = 1 is data.")
def vp_schedule_reversed(t, beta_min=0.1, beta_max=20.0):
    alpha = vp_alpha(t, beta_min, beta_max)
    sigma = (1 - alpha**2).sqrt()
    d_alpha = -0.5 * (beta_min + t * (beta_max - beta_min)) * alpha
    return alpha, sigma, d_alpha, -alpha * d_alpha / sigma


@mistake("vp_schedule", "beta(t) instead of beta(1 - t)",
         "The chain rule gives alpha_t' = 1/2 beta(s) alpha_t at s = 1 - t: evaluate beta at the diffusion time.")
def vp_schedule_beta_at_t(t, beta_min=0.1, beta_max=20.0):
    alpha = vp_alpha(1 - t, beta_min, beta_max)
    sigma = (1 - alpha**2).sqrt()
    d_alpha = 0.5 * (beta_min + t * (beta_max - beta_min)) * alpha
    return alpha, sigma, d_alpha, -alpha * d_alpha / sigma


@mistake("vp_schedule", "sigma_t = 1 - alpha_t",
         "Variance preserving means alpha_t^2 + sigma_t^2 = 1: sigma_t = sqrt(1 - alpha_t^2).")
def vp_schedule_linear_sigma(t, beta_min=0.1, beta_max=20.0):
    s = 1 - t
    alpha = vp_alpha(s, beta_min, beta_max)
    d_alpha = 0.5 * (beta_min + s * (beta_max - beta_min)) * alpha
    return alpha, 1 - alpha, d_alpha, -d_alpha


@mistake("vp_schedule", "wrong sign of sigma_t'",
         "Differentiate alpha_t^2 + sigma_t^2 = 1: sigma_t' = -alpha_t alpha_t' / sigma_t. As the signal grows "
         "the noise must shrink, so sigma_t' < 0 while alpha_t' > 0.")
def vp_schedule_sigma_sign(t, beta_min=0.1, beta_max=20.0):
    s = 1 - t
    alpha = vp_alpha(s, beta_min, beta_max)
    sigma = (1 - alpha**2).sqrt()
    d_alpha = 0.5 * (beta_min + s * (beta_max - beta_min)) * alpha
    return alpha, sigma, d_alpha, alpha * d_alpha / sigma


# ---------------------------------------------------------------- vp_path_sample
@mistake("vp_path_sample", "time convention reversed",
         "t = 0 is noise and t = 1 is data here: the signal scale is alpha_{1-t} = vp_alpha(1 - t), "
         "not vp_alpha(t).", showcase=True)
def vp_sample_reversed(x1, t, eps, beta_min=0.1, beta_max=20.0):
    alpha = vp_alpha(t, beta_min, beta_max)
    return per_sample(alpha, x1) * x1 + per_sample((1 - alpha**2).sqrt(), x1) * eps


@mistake("vp_path_sample", "sigma_t = 1 - alpha_t",
         "Variance preserving means alpha^2 + sigma^2 = 1: the noise scale is sqrt(1 - alpha^2).")
def vp_sample_linear_sigma(x1, t, eps, beta_min=0.1, beta_max=20.0):
    alpha = vp_alpha(1 - t, beta_min, beta_max)
    return per_sample(alpha, x1) * x1 + per_sample(1 - alpha, x1) * eps


@mistake("vp_path_sample", "(B,) vs (B, 1) broadcasting",
         "alpha has shape (B,); reshape it to (B, 1, ...) (per_sample) so it scales each sample.")
def vp_sample_broadcast(x1, t, eps, beta_min=0.1, beta_max=20.0):
    alpha = vp_alpha(1 - t, beta_min, beta_max)
    return alpha * x1 + (1 - alpha**2).sqrt() * eps


# ---------------------------------------------------------------- vp_conditional_field
@mistake("vp_conditional_field", "x1 instead of mu_t = alpha_t x1",
         "The path is centred at mu_t = alpha_t x1, so the first term is sigma_t'/sigma_t (x - alpha_t x1).")
def vp_field_wrong_mean(x, x1, t, beta_min=0.1, beta_max=20.0):
    alpha, sigma, d_alpha, d_sigma = vp_schedule(t, beta_min, beta_max)
    return per_sample(d_sigma / sigma, x) * (x - x1) + per_sample(d_alpha, x) * x1


@mistake("vp_conditional_field", "mu_t' term dropped",
         "The mean alpha_t x1 moves too: add mu_t' = alpha_t' x1.")
def vp_field_no_mean_velocity(x, x1, t, beta_min=0.1, beta_max=20.0):
    alpha, sigma, d_alpha, d_sigma = vp_schedule(t, beta_min, beta_max)
    return per_sample(d_sigma / sigma, x) * (x - per_sample(alpha, x) * x1)


@mistake("vp_conditional_field", "wrong sign or direction",
         "Use (x - mu_t), not (mu_t - x): with sigma_t' < 0 the field pulls points in towards the mean.")
def vp_field_sign(x, x1, t, beta_min=0.1, beta_max=20.0):
    alpha, sigma, d_alpha, d_sigma = vp_schedule(t, beta_min, beta_max)
    return per_sample(d_sigma / sigma, x) * (per_sample(alpha, x) * x1 - x) + per_sample(d_alpha, x) * x1


# ---------------------------------------------------------------- ve_path_sample
@mistake("ve_path_sample", "time convention reversed",
         "The noise must shrink as t goes from 0 (noise) to 1 (data): use sigma(1 - t), largest at t = 0.")
def ve_sample_reversed(x1, t, eps, sigma_min=0.01, sigma_max=5.0):
    return x1 + per_sample(sigma_min * (sigma_max / sigma_min) ** t, x1) * eps


@mistake("ve_path_sample", "linear instead of geometric sigma",
         "Song et al.'s VE schedule is geometric, sigma_min (sigma_max / sigma_min)^s: equal ratios per unit time.")
def ve_sample_linear(x1, t, eps, sigma_min=0.01, sigma_max=5.0):
    return x1 + per_sample(sigma_min + (sigma_max - sigma_min) * (1 - t), x1) * eps


# ---------------------------------------------------------------- ve_conditional_field
@mistake("ve_conditional_field", "wrong sign or direction",
         "sigma_t = sigma(1 - t) shrinks, so sigma_t'/sigma_t = -log(sigma_max / sigma_min) < 0 and the field "
         "points towards x1: log(sigma_max / sigma_min) (x1 - x).")
def ve_field_sign(x, x1, t, sigma_min=0.01, sigma_max=5.0):
    return math.log(sigma_max / sigma_min) * (x - x1)


@mistake("ve_conditional_field", "missing the log",
         "d/ds of sigma_min r^s is log(r) sigma_min r^s: the rate is log(sigma_max / sigma_min), not the ratio.")
def ve_field_no_log(x, x1, t, sigma_min=0.01, sigma_max=5.0):
    return (sigma_max / sigma_min) * (x1 - x)


# ---------------------------------------------------------------- straightness
@mistake("straightness", "displacement not divided by dt",
         "The velocity on a step is (x_{k+1} - x_k) / (t_{k+1} - t_k): a displacement is not a velocity.",
         showcase=True)
def straightness_no_dt(trajectory, times):
    dt = times[1:] - times[:-1]
    velocity = trajectory[1:] - trajectory[:-1]
    deviation = (trajectory[-1] - trajectory[0]) - velocity
    return (dt * (deviation**2).flatten(2).sum(-1).mean(1)).sum()


@mistake("straightness", "norm not squared",
         "Liu et al. average the squared norm |(x_1 - x_0) - v|^2 over samples.")
def straightness_not_squared(trajectory, times):
    dt = times[1:] - times[:-1]
    velocity = (trajectory[1:] - trajectory[:-1]) / dt.reshape(-1, *([1] * (trajectory.ndim - 1)))
    deviation = (trajectory[-1] - trajectory[0]) - velocity
    return (dt * deviation.flatten(2).norm(dim=-1).mean(1)).sum()


@mistake("straightness", "steps not weighted by dt",
         "S is an integral over t: weight each step's error by its length t_{k+1} - t_k (steps need not be equal).")
def straightness_unweighted(trajectory, times):
    dt = times[1:] - times[:-1]
    velocity = (trajectory[1:] - trajectory[:-1]) / dt.reshape(-1, *([1] * (trajectory.ndim - 1)))
    deviation = (trajectory[-1] - trajectory[0]) - velocity
    return (deviation**2).flatten(2).sum(-1).mean(1).mean()
