"""Common wrong versions of the 10_capstone pieces (see solutions/mistakes.py)."""
from __future__ import annotations

import torch

from solutions.mistakes import registry

mistake = registry()


@mistake("normalize", "mapped to [0, 1] instead of [-1, 1]",
         "Diffusion Policy normalises to [-1, 1]: 2 (x - low) / (high - low) - 1. The sampler clips its clean "
         "estimate to [-1, 1], so data in [0, 1] uses only half the range.", showcase=True)
def normalize_unit(x, low, high):
    return (x - low) / (high - low)


@mistake("normalize", "each sample's own min and max used",
         "Normalise with the data set's range, low and high, the same for every path: a path's own min and max "
         "change from path to path and cannot be undone at sampling time.")
def normalize_per_sample(x, low, high):
    lo, hi = x.amin(dim=-2, keepdim=True), x.amax(dim=-2, keepdim=True)
    return 2 * (x - lo) / (hi - lo) - 1


@mistake("unnormalize", "inverse of a [0, 1] map",
         "Undo 2 (x - low) / (high - low) - 1: first (x + 1) / 2, then * (high - low) + low.")
def unnormalize_unit(x, low, high):
    return x * (high - low) + low


@mistake("tokenize", "coordinates grouped before time",
         "Keep each waypoint's coordinates together and the waypoints in time order: a plain "
         "x.reshape(B, H // patch, patch * D). Transposing first puts all x's, then all y's, into the tokens.")
def tokenize_coordinate_major(x, patch):
    B, H, D = x.shape
    return x.transpose(1, 2).reshape(B, H // patch, patch * D)


@mistake("tokenize", "coordinates interleaved within a token",
         "A token lists waypoint by waypoint, [x_0, y_0, z_0, x_1, y_1, z_1]; not coordinate by coordinate "
         "[x_0, x_1, y_0, y_1, z_0, z_1].")
def tokenize_interleaved(x, patch):
    B, H, D = x.shape
    return x.reshape(B, H // patch, patch, D).transpose(2, 3).reshape(B, H // patch, patch * D)


@mistake("detokenize", "coordinates grouped before time",
         "detokenize must undo tokenize exactly: tokens.reshape(B, N * patch, C // patch), no transpose.")
def detokenize_coordinate_major(tokens, patch):
    B, N, C = tokens.shape
    return tokens.reshape(B, C // patch, N * patch).transpose(1, 2)


@mistake("goal_guided_eps", "goal 0 used as the null goal",
         "The goal-free prediction uses the model's null index, null_goal (torch.full_like(goal, null_goal)); "
         "zeros are goal 0, a real goal.", showcase=True)
def guided_zero_null(model, x, t, goal, w, null_goal):
    eps_goal = model(x, t, goal)
    eps_free = model(x, t, torch.zeros_like(goal))
    return eps_free + w * (eps_goal - eps_free)


@mistake("goal_guided_eps", "guidance around the conditional prediction",
         "Extrapolate from the goal-free prediction: eps_free + w (eps_goal - eps_free); with w = 0 it must "
         "ignore the goal.")
def guided_from_cond(model, x, t, goal, w, null_goal):
    eps_goal = model(x, t, goal)
    eps_free = model(x, t, torch.full_like(goal, null_goal))
    return eps_goal + w * (eps_goal - eps_free)


@mistake("sample_trajectory", "noise added at the last step",
         "At t = 0 the sample is the posterior mean: add sqrt(variance) z only for t > 0.", showcase=True)
def sample_noise_at_end(denoiser, noise, alpha_bar, generator):
    x, states = noise, [noise]
    for t in range(len(alpha_bar) - 1, -1, -1):
        ab = alpha_bar[t]
        ab_prev = alpha_bar[t - 1] if t > 0 else torch.tensor(1.0)
        beta = 1 - ab / ab_prev
        eps = denoiser(x, torch.full((x.shape[0],), t, dtype=torch.long))
        x0 = ((x - (1 - ab).sqrt() * eps) / ab.sqrt()).clamp(-1, 1)
        x = (ab_prev.sqrt() * beta / (1 - ab)) * x0 + ((1 - beta).sqrt() * (1 - ab_prev) / (1 - ab)) * x
        variance = beta * (1 - ab_prev) / (1 - ab) if t > 0 else beta    # t = 0: beta_0 instead of no noise
        x = x + variance.sqrt() * torch.randn(x.shape, generator=generator)
        states.append(x)
    return torch.stack(states)


@mistake("sample_trajectory", "clean estimate not clipped",
         "Clip x0_hat to [-1, 1], the range of normalised data (diffusers' clip_sample=True), before the "
         "posterior mean.")
def sample_unclipped(denoiser, noise, alpha_bar, generator):
    x, states = noise, [noise]
    for t in range(len(alpha_bar) - 1, -1, -1):
        ab = alpha_bar[t]
        ab_prev = alpha_bar[t - 1] if t > 0 else torch.tensor(1.0)
        beta = 1 - ab / ab_prev
        eps = denoiser(x, torch.full((x.shape[0],), t, dtype=torch.long))
        x0 = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
        x = (ab_prev.sqrt() * beta / (1 - ab)) * x0 + ((1 - beta).sqrt() * (1 - ab_prev) / (1 - ab)) * x
        if t > 0:
            x = x + (beta * (1 - ab_prev) / (1 - ab)).sqrt() * torch.randn(x.shape, generator=generator)
        states.append(x)
    return torch.stack(states)


@mistake("sample_trajectory", "the starting noise left out",
         "Return every state, the starting noise included: T + 1 states for T steps, states[0] = noise.")
def sample_without_start(denoiser, noise, alpha_bar, generator):
    x, states = noise, []
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


@mistake("formation_distance", "average over the data instead of the nearest path",
         "Each sample's figure is its distance to the nearest data path: take the minimum over the M paths.")
def formation_mean(states, data):
    S, B, H, D = states.shape
    d = torch.cdist(states.reshape(S * B, H * D), data.reshape(len(data), H * D))
    return (d.mean(dim=1) / H ** 0.5).reshape(S, B)


@mistake("formation_distance", "summed over waypoints, not averaged",
         "Use the root-mean-square over the H waypoints, sqrt(mean_h |a_h - b_h|^2): divide the squared "
         "distance by H (or the distance by sqrt(H)).")
def formation_summed(states, data):
    S, B, H, D = states.shape
    d = torch.cdist(states.reshape(S * B, H * D), data.reshape(len(data), H * D))
    return d.min(dim=1).values.reshape(S, B)


@mistake("formation_distance", "squared distance (no square root)",
         "The figure is a distance, in metres: take the square root of the mean squared waypoint distance.")
def formation_squared(states, data):
    S, B, H, D = states.shape
    d = torch.cdist(states.reshape(S * B, H * D), data.reshape(len(data), H * D))
    return (d.min(dim=1).values ** 2 / H).reshape(S, B)
