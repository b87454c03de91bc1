"""Common wrong versions of the 09_pi0 functions (see solutions/mistakes.py).

Each is a complete definition: the grading tests paste its source into a student notebook, where
``math``, ``torch``, the ``coursekit`` checks and the provided ``beta_variates`` are in scope.
"""
from __future__ import annotations

import math

import torch

from solutions.mistakes import registry
from solutions.pi0 import beta_variates

mistake = registry()


# ---------------------------------------------------------------- time distribution
@mistake("time_density", "Beta argument not flipped",
         "pi0 evaluates the Beta density at u = (s - tau) / s, not at tau / s: the flip puts Beta(1.5, 1)'s "
         "peak at tau = 0, the noisy end, which pi0 wants to train on most.")
def time_density_unflipped(tau, s=0.999, alpha=1.5, beta=1.0):
    u = tau / s
    inside = u <= 1
    u = u.clamp(0.0, 1.0)
    log_norm = math.lgamma(alpha + beta) - math.lgamma(alpha) - math.lgamma(beta)
    log_pdf = torch.special.xlogy(alpha - 1, u) + torch.special.xlogy(beta - 1, 1 - u) + log_norm
    return torch.where(inside, log_pdf.exp() / s, torch.zeros_like(u))


@mistake("time_density", "missing 1/s",
         "u = (s - tau) / s changes the variable: the density of tau is Beta(u; a, b) times |du/dtau| = 1/s, "
         "otherwise it integrates to s, not 1.")
def time_density_no_jacobian(tau, s=0.999, alpha=1.5, beta=1.0):
    u = (s - tau) / s
    inside = u >= 0
    u = u.clamp(0.0, 1.0)
    log_norm = math.lgamma(alpha + beta) - math.lgamma(alpha) - math.lgamma(beta)
    log_pdf = torch.special.xlogy(alpha - 1, u) + torch.special.xlogy(beta - 1, 1 - u) + log_norm
    return torch.where(inside, log_pdf.exp(), torch.zeros_like(u))


@mistake("sample_time", "Beta argument not flipped",
         "u ~ Beta(alpha, beta) is (s - tau) / s, so tau = s (1 - u); tau = s u puts the mass near data, not noise.")
def sample_time_unflipped(batch_size, generator, s=0.999, alpha=1.5, beta=1.0):
    return s * beta_variates(batch_size, alpha, beta, generator)


@mistake("sample_time", "openpi's t instead of tau",
         "1 - s (1 - u) = 0.001 + 0.999 u is openpi's reversed time t = 1 - tau (t = 1 is noise); "
         "this course's tau is s (1 - u).")
def sample_time_openpi(batch_size, generator, s=0.999, alpha=1.5, beta=1.0):
    return 1 - s * (1 - beta_variates(batch_size, alpha, beta, generator))


# ---------------------------------------------------------------- noisy actions and target
@mistake("noisy_actions", "(t - tau) eps, the handbook's typo",
         "The noise weight is 1 - tau: A^tau = tau A + (1 - tau) eps is pure noise at tau = 0 and the data at "
         "tau = 1. Do not mix openpi's clock t = 1 - tau into this formula.")
def noisy_actions_erratum(actions, noise, tau):
    t = 1 - tau                                     # openpi's time, mixed in
    tau, t = tau[:, None, None], t[:, None, None]
    return tau * actions + (t - tau) * noise


@mistake("noisy_actions", "time convention reversed",
         "(1 - tau) A + tau eps is openpi's formula with t in place of tau; in this course tau = 0 is noise: "
         "tau A + (1 - tau) eps.")
def noisy_actions_reversed(actions, noise, tau):
    tau = tau[:, None, None]
    return (1 - tau) * actions + tau * noise


@mistake("noisy_actions", "(B,) vs (B, 1, 1) broadcasting",
         "tau has shape (B,); reshape it to (B, 1, 1) so that it scales whole chunks, not the last axis.")
def noisy_actions_broadcast(actions, noise, tau):
    return tau * actions + (1 - tau) * noise


@mistake("target_velocity", "eps - A: the target's sign",
         "With tau = 0 noise and tau = 1 data, d/dtau [tau A + (1 - tau) eps] = A - eps. eps - A is openpi's "
         "target for its reversed time t = 1 - tau; used with tau it makes the sampler walk away from the data.",
         showcase=True)
def target_velocity_sign(actions, noise):
    return noise - actions


# ---------------------------------------------------------------- conversions between the clocks
@mistake("tau_field_from_openpi", "velocity not negated",
         "Reversing time reverses velocities: dx/dtau = -dx/dt, so v(x, tau) = -v_t(x, 1 - tau).")
def tau_field_not_negated(velocity_t):
    def velocity(x, tau):
        return velocity_t(x, 1 - tau)
    return velocity


@mistake("tau_field_from_openpi", "time not flipped",
         "The openpi field must be asked at its own time t = 1 - tau: v(x, tau) = -v_t(x, 1 - tau).")
def tau_field_same_time(velocity_t):
    def velocity(x, tau):
        return -velocity_t(x, tau)
    return velocity


@mistake("openpi_field_from_tau", "velocity not negated",
         "Reversing time reverses velocities: dx/dt = -dx/dtau, so v_t(x, t) = -v(x, 1 - t).")
def openpi_field_not_negated(velocity):
    def velocity_t(x, t):
        return velocity(x, 1 - t)
    return velocity_t


@mistake("openpi_field_from_tau", "time not flipped",
         "The tau field must be asked at its own time tau = 1 - t: v_t(x, t) = -v(x, 1 - t).")
def openpi_field_same_time(velocity):
    def velocity_t(x, t):
        return -velocity(x, t)
    return velocity_t


# ---------------------------------------------------------------- attention mask
@mistake("blockwise_mask", "causal mask inside the action block",
         "The action tokens attend to each other in both directions (the whole chunk is denoised together); "
         "only across blocks is attention one-way.", showcase=True)
def mask_causal_actions(num_prefix, num_state, num_actions):
    block = torch.tensor([0] * num_prefix + [1] * num_state + [2] * num_actions)
    mask = block[None, :] <= block[:, None]
    L = len(block)
    causal = torch.ones(L, L, dtype=torch.bool).tril()
    is_action = block == 2
    return torch.where(is_action[:, None] & is_action[None, :], causal, mask)


@mistake("blockwise_mask", "prefix attends to the action block",
         "Prefix rows must be False in the action columns: the prefix may not see the noisy actions, "
         "otherwise its keys and values change at every denoising step and cannot be cached.")
def mask_prefix_sees_actions(num_prefix, num_state, num_actions):
    block = torch.tensor([0] * num_prefix + [1] * num_state + [2] * num_actions)
    mask = block[None, :] <= block[:, None]
    mask[:num_prefix, num_prefix + num_state:] = True
    return mask


@mistake("blockwise_mask", "rows and columns swapped",
         "Row i is the query, column j the key: mask[i, j] = True when block(j) <= block(i). The transpose "
         "lets earlier blocks see later ones.")
def mask_transposed(num_prefix, num_state, num_actions):
    block = torch.tensor([0] * num_prefix + [1] * num_state + [2] * num_actions)
    return block[:, None] <= block[None, :]


@mistake("blockwise_mask", "state and actions in one block",
         "The state is its own block: it sees the prefix and itself, not the noisy actions (so it too can be cached).")
def mask_state_with_actions(num_prefix, num_state, num_actions):
    block = torch.tensor([0] * num_prefix + [1] * (num_state + num_actions))
    return block[None, :] <= block[:, None]


@mistake("blockwise_mask", "a causal (tril) mask",
         "pi0's mask is block-wise, not causal: inside each block (prefix, state, actions) every token sees every "
         "other one; only across blocks is attention one-way (mask[i, j] = block(j) <= block(i)).")
def mask_causal(num_prefix, num_state, num_actions):
    L = num_prefix + num_state + num_actions
    return torch.ones(L, L, dtype=torch.bool).tril()


# ---------------------------------------------------------------- Euler sampling
@mistake("euler_sample", "integrating in the wrong direction",
         "Start from the noise at tau = 0 and step forward, tau = 0, dt, ..., 1 - dt, with x <- x + dt v(x, tau). "
         "Running tau from 1 down to 0 treats the noise as data.", showcase=True)
def euler_backwards(velocity, noise, num_steps=10):
    dt = 1.0 / num_steps
    x = noise
    for k in range(num_steps):
        tau = torch.full((x.shape[0],), 1.0 - k * dt)
        x = x - dt * velocity(x, tau)
    return x


@mistake("euler_sample", "time grid off by one",
         "Euler evaluates the field at the start of each step: tau = k / num_steps for k = 0 .. num_steps - 1.")
def euler_end_of_step(velocity, noise, num_steps=10):
    dt = 1.0 / num_steps
    x = noise
    for k in range(num_steps):
        tau = torch.full((x.shape[0],), (k + 1) * dt)
        x = x + dt * velocity(x, tau)
    return x


@mistake("euler_sample", "stepping against the field",
         "In tau time the update is x <- x + dt v(x, tau) with dt = 1 / num_steps > 0; subtracting is what "
         "an eps - A field would need, and that belongs to openpi's clock.")
def euler_minus(velocity, noise, num_steps=10):
    dt = 1.0 / num_steps
    x = noise
    for k in range(num_steps):
        x = x - dt * velocity(x, torch.full((x.shape[0],), k * dt))
    return x


@mistake("euler_sample", "time grid from linspace(0, 1, num_steps)",
         "linspace(0, 1, num_steps) includes tau = 1 and spaces the points 1 / (num_steps - 1) apart, not dt: "
         "the steps start at tau = k / num_steps for k = 0 .. num_steps - 1 (never at 1).")
def euler_linspace_grid(velocity, noise, num_steps=10):
    dt = 1.0 / num_steps
    x = noise
    for tau in torch.linspace(0, 1, num_steps).tolist():
        x = x + dt * velocity(x, torch.full((x.shape[0],), tau))
    return x


@mistake("euler_sample_openpi", "integrating in the wrong direction",
         "openpi starts from the noise at t = 1 and walks down to t = 0: t = 1, 1 - 1/n, ..., 1/n, dt = -1/n.")
def euler_openpi_upwards(velocity_t, noise, num_steps=10):
    dt = 1.0 / num_steps
    x = noise
    for k in range(num_steps):
        x = x + dt * velocity_t(x, torch.full((x.shape[0],), k * dt))
    return x


@mistake("euler_sample_openpi", "positive step while t decreases",
         "When t goes from 1 to 0 the step is dt = -1 / num_steps: x <- x + dt v_t(x, t) with a negative dt.")
def euler_openpi_positive_step(velocity_t, noise, num_steps=10):
    x = noise
    for k in range(num_steps):
        t = torch.full((x.shape[0],), 1.0 - k / num_steps)
        x = x + velocity_t(x, t) / num_steps
    return x


# ---------------------------------------------------------------- cached attention
@mistake("cached_suffix_attention", "prefix cache ignored",
         "The suffix attends to the prefix too: concatenate the cached prefix keys and values before the "
         "suffix's own, and use the whole (S, P + S) mask.")
def attention_no_prefix(q, k, v, prefix_k, prefix_v, mask):
    P = prefix_k.shape[2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~mask[:, P:], float("-inf"))
    return scores.softmax(dim=-1) @ v


@mistake("cached_suffix_attention", "cache placed after the suffix",
         "The mask's columns are the P prefix keys first, then the S suffix keys: concatenate [prefix_k, k], "
         "not [k, prefix_k] (same for the values).")
def attention_wrong_order(q, k, v, prefix_k, prefix_v, mask):
    keys, values = torch.cat([k, prefix_k], dim=2), torch.cat([v, prefix_v], dim=2)
    scores = q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return scores.masked_fill(~mask, float("-inf")).softmax(dim=-1) @ values


@mistake("cached_suffix_attention", "mask inverted",
         "True means 'may attend': blocked keys (False) get a score of -inf before the softmax, i.e. "
         "masked_fill(~mask, -inf).")
def attention_inverted_mask(q, k, v, prefix_k, prefix_v, mask):
    keys, values = torch.cat([prefix_k, k], dim=2), torch.cat([prefix_v, v], dim=2)
    scores = q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return scores.masked_fill(mask, float("-inf")).softmax(dim=-1) @ values


@mistake("cached_suffix_attention", "missing 1/sqrt(hd) scaling",
         "Scaled dot-product attention divides the scores by sqrt(head size) before the softmax.")
def attention_unscaled(q, k, v, prefix_k, prefix_v, mask):
    keys, values = torch.cat([prefix_k, k], dim=2), torch.cat([prefix_v, v], dim=2)
    scores = q @ keys.transpose(-2, -1)
    return scores.masked_fill(~mask, float("-inf")).softmax(dim=-1) @ values
