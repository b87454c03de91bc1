"""pi0's flow-matching action expert, reference implementations (assignment 09_pi0).

Conventions (SYLLABUS.md, ERRATUM 3). This course's flow-matching time is tau in [0, 1] with
tau = 0 noise and tau = 1 data (Lipman et al. 2023; pi0's paper, Black et al. 2024, uses the same
tau): the noisy chunk is ``tau A + (1 - tau) eps`` and the velocity that carries noise to data is
``A - eps``. openpi's code runs the clock the other way, ``t = 1 - tau``: ``x_t = t eps + (1 - t) A``,
target ``eps - A``, sampling from t = 1 to t = 0 in 10 Euler steps. The two are converted
explicitly below (``tau_field_from_openpi``, ``openpi_field_from_tau``), never mixed.
Action chunks are (B, H, D) float32; times are (B,) float32, one per chunk. A velocity field is
called as ``velocity(x (B, H, D), time (B,)) -> (B, H, D)``.
Attention masks are boolean, True = may attend, rows are queries and columns keys (as in
``torch.nn.functional.scaled_dot_product_attention``).
"""
from __future__ import annotations

import math

import torch

from coursekit.validate import (ShapeError, check_count, check_flow_times, check_number, check_same_shape, check_tensor,
                                checked_field)


# ---------------------------------------------------------------- 1. the time distribution
def beta_variates(n: int, alpha: float, beta: float, generator: torch.Generator) -> torch.Tensor:
    """n draws u ~ Beta(alpha, beta), (n,) float32, that depend only on ``generator``.

    torch's Beta sampler reads torch's global random state; we draw a seed from ``generator`` and
    sample inside ``fork_rng``, so the global state is left untouched and results are reproducible.
    """
    check_count("n", n, unit="samples")
    check_number("alpha", alpha, positive=True)
    check_number("beta", beta, positive=True)
    seed = int(torch.randint(0, 2**62, (), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        u = torch.distributions.Beta(torch.tensor(float(alpha)), torch.tensor(float(beta))).sample((n,))
    return u.float()


def time_density(tau: torch.Tensor, s: float = 0.999, alpha: float = 1.5, beta: float = 1.0) -> torch.Tensor:
    """pi0's density of training times: p(tau) = Beta((s - tau) / s; alpha, beta) / s for tau <= s, else 0.

    The Beta variable is u = (s - tau) / s, flipped so that tau = 0 (pure noise) is u = 1, where
    Beta(1.5, 1) is largest. The 1 / s is the Jacobian |du / dtau|, so p integrates to 1 over [0, 1].
    Beta(u; a, b) = u^(a - 1) (1 - u)^(b - 1) Gamma(a + b) / (Gamma(a) Gamma(b)).
    tau: (N,) float32 in [0, 1]. Returns (N,) float32.
    """
    check_tensor("tau", tau, ndim=1, dtype=torch.float32)
    check_flow_times("tau", tau, tau.shape[0])
    check_number("s", s, low=0.0, high=1.0)
    check_number("s", s, positive=True)
    check_number("alpha", alpha, positive=True)
    check_number("beta", beta, positive=True)
    ### BEGIN SOLUTION
    u = (s - tau) / s                                                        # (N,) in [1 - 1/s, 1]
    inside = u >= 0                                                          # tau <= s
    u = u.clamp(0.0, 1.0)
    log_norm = math.lgamma(alpha + beta) - math.lgamma(alpha) - math.lgamma(beta)
    log_pdf = torch.special.xlogy(alpha - 1, u) + torch.special.xlogy(beta - 1, 1 - u) + log_norm
    return torch.where(inside, log_pdf.exp() / s, torch.zeros_like(u))
    ### END SOLUTION


def sample_time(batch_size: int, generator: torch.Generator, s: float = 0.999, alpha: float = 1.5,
                beta: float = 1.0) -> torch.Tensor:
    """batch_size training times tau with the density ``time_density``: tau = s (1 - u), u ~ Beta(alpha, beta).

    Draw u with ``beta_variates(batch_size, alpha, beta, generator)`` (one call). Returns (batch_size,) float32.
    """
    check_count("batch_size", batch_size, unit="samples")
    check_number("s", s, low=0.0, high=1.0)
    check_number("s", s, positive=True)
    ### BEGIN SOLUTION
    u = beta_variates(batch_size, alpha, beta, generator)                   # (B,) Beta(alpha, beta)
    return s * (1 - u)
    ### END SOLUTION


# ---------------------------------------------------------------- 2. noisy actions and the target, two clocks
def noisy_actions(actions: torch.Tensor, noise: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """pi0's noisy action chunk A^tau = tau A + (1 - tau) eps: noise at tau = 0, data at tau = 1.

    actions, noise: (B, H, D); tau: (B,) in [0, 1]. Returns (B, H, D).
    """
    check_tensor("actions", actions, ndim=3, dtype=torch.float32)
    check_same_shape("actions", actions, "noise", noise)
    check_flow_times("tau", tau, actions.shape[0])
    ### BEGIN SOLUTION
    tau = tau[:, None, None]                                                 # (B, 1, 1) scales whole chunks
    return tau * actions + (1 - tau) * noise
    ### END SOLUTION


def target_velocity(actions: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The velocity d A^tau / d tau that the network regresses, in tau time: A - eps. (B, H, D)."""
    check_tensor("actions", actions, ndim=3, dtype=torch.float32)
    check_same_shape("actions", actions, "noise", noise)
    ### BEGIN SOLUTION
    return actions - noise
    ### END SOLUTION


def tau_field_from_openpi(velocity_t):
    """Turn an openpi-convention field v_t(x, t) (t = 1 noise, predicts eps - A) into a tau-time field.

    With t = 1 - tau, dx/dtau = -dx/dt, so the returned field is  v(x, tau) = -v_t(x, 1 - tau).
    """
    v_t = checked_field(velocity_t, "velocity_t")

    def velocity(x: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        check_flow_times("tau", tau, x.shape[0])
        ### BEGIN SOLUTION
        return -v_t(x, 1 - tau)
        ### END SOLUTION

    return velocity


def openpi_field_from_tau(velocity):
    """Turn a tau-time field v(x, tau) (tau = 0 noise, predicts A - eps) into openpi's convention.

    With tau = 1 - t, dx/dt = -dx/dtau, so the returned field is  v_t(x, t) = -v(x, 1 - t).
    """
    v = checked_field(velocity, "velocity")

    def velocity_t(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        check_flow_times("t", t, x.shape[0], convention="openpi")
        ### BEGIN SOLUTION
        return -v(x, 1 - t)
        ### END SOLUTION

    return velocity_t


# ---------------------------------------------------------------- 3. the blockwise attention mask
def blockwise_mask(num_prefix: int, num_state: int, num_actions: int) -> torch.Tensor:
    """pi0's attention mask over L = num_prefix + num_state + num_actions tokens: (L, L) bool, True = may attend.

    Tokens come in three blocks, in this order: prefix (image and language), state, actions.
    Within a block attention is bidirectional; across blocks a token sees the blocks up to its own
    and no later ones. Row i is the query token, column j the key token.
    """
    check_count("num_prefix", num_prefix, unit="tokens")
    check_count("num_state", num_state, unit="tokens")
    check_count("num_actions", num_actions, minimum=1, unit="tokens")
    ### BEGIN SOLUTION
    block = torch.tensor([0] * num_prefix + [1] * num_state + [2] * num_actions)   # (L,) block of each token
    return block[None, :] <= block[:, None]                                        # (L, L): key block <= query block
    ### END SOLUTION


# ---------------------------------------------------------------- 4. sampling: 10 Euler steps, both clocks
def euler_sample(velocity, noise: torch.Tensor, num_steps: int = 10) -> torch.Tensor:
    """Integrate dx/dtau = velocity(x, tau) from tau = 0 (x = noise) to tau = 1 with num_steps Euler steps.

    Step size dt = 1 / num_steps; the field is evaluated at tau = 0, dt, ..., 1 - dt (start of each
    step), tau passed as a (B,) tensor. Returns the actions at tau = 1, shaped like noise.
    """
    check_tensor("noise", noise, min_ndim=1, dtype=torch.float32)
    check_count("num_steps", num_steps, minimum=1, unit="steps")
    v = checked_field(velocity, "velocity")
    ### BEGIN SOLUTION
    dt = 1.0 / num_steps
    x = noise
    for k in range(num_steps):
        tau = torch.full((x.shape[0],), k * dt)                              # (B,) start of the step
        x = x + dt * v(x, tau)
    return x
    ### END SOLUTION


def euler_sample_openpi(velocity_t, noise: torch.Tensor, num_steps: int = 10) -> torch.Tensor:
    """openpi's sampler: integrate dx/dt = velocity_t(x, t) from t = 1 (x = noise) down to t = 0.

    Step dt = -1 / num_steps (negative!); the field is evaluated at t = 1, 1 + dt, ..., -dt (start
    of each step), t passed as a (B,) tensor; x <- x + dt * velocity_t(x, t). Returns x at t = 0.
    """
    check_tensor("noise", noise, min_ndim=1, dtype=torch.float32)
    check_count("num_steps", num_steps, minimum=1, unit="steps")
    v_t = checked_field(velocity_t, "velocity_t")
    ### BEGIN SOLUTION
    dt = -1.0 / num_steps
    x = noise
    for k in range(num_steps):
        t = torch.full((x.shape[0],), 1.0 + k * dt)                          # (B,) 1, 0.9, ..., 0.1
        x = x + dt * v_t(x, t)
    return x
    ### END SOLUTION


# ---------------------------------------------------------------- 5. attention with a prefix KV cache
def cached_suffix_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, prefix_k: torch.Tensor,
                            prefix_v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Attention of the S suffix tokens over [cached prefix keys, suffix keys].

    q, k, v: (B, h, S, hd) the suffix's queries, keys, values; prefix_k, prefix_v: (B, h, P, hd) from
    the cache; mask: (S, P + S) bool, True = may attend, columns are the P prefix keys first, then
    the S suffix keys (the suffix rows of the full mask). Scores are scaled by 1 / sqrt(hd).
    Returns (B, h, S, hd): softmax over the allowed keys of the scores, times the values.
    """
    check_tensor("q", q, ndim=4, dtype=torch.float32)
    check_same_shape("q", q, "k", k)
    check_same_shape("q", q, "v", v)
    B, h, S, hd = q.shape
    check_tensor("prefix_k", prefix_k, shape=(B, h, None, hd), dtype=torch.float32)
    check_same_shape("prefix_k", prefix_k, "prefix_v", prefix_v)
    P = prefix_k.shape[2]
    check_tensor("mask", mask, shape=(S, P + S), dtype=torch.bool)
    if mask.numel() and not bool(mask.any(dim=1).all()):
        raise ShapeError("mask: every query row needs at least one True entry (a key it may attend to)")
    ### BEGIN SOLUTION
    keys = torch.cat([prefix_k, k], dim=2)                                   # (B, h, P + S, hd) prefix first
    values = torch.cat([prefix_v, v], dim=2)                                 # (B, h, P + S, hd)
    scores = q @ keys.transpose(-2, -1) / math.sqrt(hd)                      # (B, h, S, P + S)
    scores = scores.masked_fill(~mask, float("-inf"))                        # (S, P + S) broadcasts
    return scores.softmax(dim=-1) @ values                                   # (B, h, S, hd)
    ### END SOLUTION
