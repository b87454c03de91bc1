"""Capstone pieces, reference implementations (assignment 10_capstone).

A goal-conditioned diffusion policy over 3-D end-effector paths: normalise each coordinate to
[-1, 1] as Diffusion Policy does (Chi et al. 2023), cut a path into tokens of consecutive
waypoints as DiT cuts an image into patches (Peebles & Xie 2023), guide towards the asked goal
with classifier-free guidance (Ho & Salimans 2022), sample with DDPM's ancestral sampler with the
clean estimate clipped to the data range (Ho et al. 2020; diffusers' ``DDPMScheduler`` with
``clip_sample=True``), keeping every intermediate state, and measure how the samples form: at
each step, the distance from each sample to the nearest data path.
"""
from __future__ import annotations

import torch

from coursekit.kit.diffusion import denoising_loss
from coursekit.validate import ShapeError, check_tensor


def normalize(x: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Map x (..., D) to [-1, 1] per coordinate: low (D,) goes to -1, high (D,) to +1."""
    check_tensor("x", x, min_ndim=1)
    check_tensor("low", low, shape=(x.shape[-1],))
    check_tensor("high", high, shape=(x.shape[-1],))
    if not bool((high > low).all()):
        raise ValueError("high: expected every coordinate of high to be above low (a range of zero width "
                         "cannot be normalised)")
    ### BEGIN SOLUTION
    return 2 * (x - low) / (high - low) - 1
    ### END SOLUTION


def unnormalize(x: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """The inverse of ``normalize``: -1 goes to low (D,), +1 to high (D,), per coordinate of x (..., D)."""
    check_tensor("x", x, min_ndim=1)
    check_tensor("low", low, shape=(x.shape[-1],))
    check_tensor("high", high, shape=(x.shape[-1],))
    ### BEGIN SOLUTION
    return (x + 1) / 2 * (high - low) + low
    ### END SOLUTION


def tokenize(x: torch.Tensor, patch: int) -> torch.Tensor:
    """Cut paths x (B, H, D) into H // patch tokens of ``patch`` consecutive waypoints: (B, H // patch, patch * D).

    Token k holds waypoints k * patch .. k * patch + patch - 1, in time order, each waypoint's D
    coordinates together: [x_0, y_0, z_0, x_1, y_1, z_1, ...].
    """
    check_tensor("x", x, ndim=3)
    if x.shape[1] % patch:
        raise ShapeError(f"patch: the horizon H = {x.shape[1]} must be a multiple of the patch size, got {patch}")
    ### BEGIN SOLUTION
    B, H, D = x.shape
    return x.reshape(B, H // patch, patch * D)
    ### END SOLUTION


def detokenize(tokens: torch.Tensor, patch: int) -> torch.Tensor:
    """The inverse of ``tokenize``: tokens (B, N, patch * D) -> paths (B, N * patch, D)."""
    check_tensor("tokens", tokens, ndim=3)
    if tokens.shape[2] % patch:
        raise ShapeError(f"patch: the token size {tokens.shape[2]} must be a multiple of the patch size, got {patch}")
    ### BEGIN SOLUTION
    B, N, C = tokens.shape
    return tokens.reshape(B, N * patch, C // patch)
    ### END SOLUTION


def goal_guided_eps(model, x: torch.Tensor, t: torch.Tensor, goal: torch.Tensor, w: float,
                    null_goal: int) -> torch.Tensor:
    """Classifier-free guidance towards a goal: eps_free + w (eps_goal - eps_free).

    eps_goal = model(x, t, goal) with the goal indices (B,); eps_free = model(x, t, null) with every
    goal replaced by ``null_goal`` (the model's "no goal" index). w = 0 ignores the goal, w = 1 is the
    plain goal-conditioned model, w > 1 pushes further towards the goal.
    """
    check_tensor("x", x, min_ndim=2)
    check_tensor("t", t, shape=(x.shape[0],))
    check_tensor("goal", goal, shape=(x.shape[0],), dtype=torch.int64)
    ### BEGIN SOLUTION
    B = x.shape[0]
    eps = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([goal, torch.full_like(goal, null_goal)]))
    eps_goal, eps_free = eps[:B], eps[B:]
    return eps_free + w * (eps_goal - eps_free)
    ### END SOLUTION


def sample_trajectory(denoiser, noise: torch.Tensor, alpha_bar: torch.Tensor,
                      generator: torch.Generator) -> torch.Tensor:
    """DDPM's ancestral sampler from x_{T-1} = noise down to x_0, returning **every** state.

    ``denoiser(x, t)`` predicts the noise; t is a (B,) int64 tensor. At each t = T-1, ..., 0:
      x0_hat = (x - sqrt(1 - ab_t) eps) / sqrt(ab_t), clipped to [-1, 1] (the normalised data range);
      x <- posterior mean  sqrt(ab_prev) beta_t / (1 - ab_t) x0_hat + sqrt(alpha_t) (1 - ab_prev) / (1 - ab_t) x,
      plus sqrt(beta_t (1 - ab_prev) / (1 - ab_t)) z with z = torch.randn(x.shape, generator=generator)
      for t > 0 only (no noise at the last step);
    with alpha_t = 1 - beta_t = ab_t / ab_prev and ab_prev = alpha_bar[t - 1] (1 at t = 0).
    Returns the states (T + 1, *noise.shape): [noise, x_{T-2}, ..., x_0]; the last one is the sample.
    """
    check_tensor("noise", noise, min_ndim=2, dtype=torch.float32)
    check_tensor("alpha_bar", alpha_bar, ndim=1)
    ### BEGIN SOLUTION
    x, states = noise, [noise]
    for t in range(len(alpha_bar) - 1, -1, -1):
        ab = alpha_bar[t]
        ab_prev = alpha_bar[t - 1] if t > 0 else torch.tensor(1.0)
        beta = 1 - ab / ab_prev
        eps = denoiser(x, torch.full((x.shape[0],), t, dtype=torch.long))
        x0 = ((x - (1 - ab).sqrt() * eps) / ab.sqrt()).clamp(-1, 1)
        x = (ab_prev.sqrt() * beta / (1 - ab)) * x0 + ((1 - beta).sqrt() * (1 - ab_prev) / (1 - ab)) * x
        if t > 0:
            x = x + (beta * (1 - ab_prev) / (1 - ab)).sqrt() * torch.randn(x.shape, generator=generator)
        states.append(x)
    return torch.stack(states)
    ### END SOLUTION


def formation_distance(states: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
    """How far each sample is from the data at each step: states (S, B, H, D), data (M, H, D) -> (S, B).

    The distance between two paths is the root-mean-square over the H waypoints of the Euclidean
    distance between matching waypoints, sqrt(mean_h |a_h - b_h|^2); each sample's figure is its
    distance to the **nearest** of the M data paths.
    """
    check_tensor("states", states, ndim=4)
    check_tensor("data", data, shape=(None, *states.shape[2:]))
    ### BEGIN SOLUTION
    S, B, H, D = states.shape
    flat = states.reshape(S * B, H * D)
    d = torch.cdist(flat, data.reshape(len(data), H * D), compute_mode="donot_use_mm_for_euclid_dist")
    return (d.min(dim=1).values / H ** 0.5).reshape(S, B)
    ### END SOLUTION


# ----------------------------------------------------------------------------- provided helpers
def policy_loss(model, tokens: torch.Tensor, goal: torch.Tensor, alpha_bar: torch.Tensor,
                generator: torch.Generator, p_free: float = 0.1) -> torch.Tensor:
    """The epsilon loss of 02 (``denoising_loss``) on normalised tokens (B, N, C), with the goal hidden
    for the first ``round(p_free * B)`` rows of the batch (given ``model.num_classes``, the null goal).
    Batches are drawn at random, so this trains the goal-free model on a fraction p_free of them."""
    hidden = goal.clone()
    hidden[:round(p_free * len(goal))] = model.num_classes
    return denoising_loss(lambda x_t, t: model(x_t, t, hidden), tokens, alpha_bar, generator)
