"""Seeded inputs for the graded pieces of 03_diffusion_policy (one function per graded name).

Visible seeds 0 and 1 cover every edge a mistake could hide in: an episode shorter than the
prediction horizon (padded at both ends), To > 1 and To = 3, channel counts that change (1x1
residual convolution) and that do not, a last plan cut short by num_steps.
"""
from __future__ import annotations

import torch
from torch import nn

from coursekit.checks.cases import Harnessed
from coursekit.checks.harness import build, linear, load_seeded


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- toy callables
class ToyChunkPolicy:
    """A fixed 'policy': chunk = tanh(history.flatten(1) @ W + b) reshaped to (B, Tp, act_dim), seeded W, b.

    Every chunk entry depends on every history row, so a wrongly padded or stale history shows.
    """

    def __init__(self, seed: int, To: int, Tp: int, obs_dim: int, act_dim: int):
        g = _gen(30_000 + seed)
        self.To, self.Tp, self.obs_dim, self.act_dim = To, Tp, obs_dim, act_dim
        self.W = torch.randn(To * obs_dim, Tp * act_dim, generator=g) / (To * obs_dim) ** 0.5
        self.b = 0.5 * torch.randn(Tp * act_dim, generator=g)

    def __call__(self, history: torch.Tensor) -> torch.Tensor:
        if history.ndim != 3 or history.shape[1:] != (self.To, self.obs_dim):
            raise ValueError(f"policy: expected a history of shape (B, {self.To}, {self.obs_dim}), "
                             f"got {tuple(history.shape)}")
        return torch.tanh(history.flatten(1) @ self.W + self.b).reshape(-1, self.Tp, self.act_dim)


class ToyStep:
    """A fixed, pure 'environment': next_obs = 0.8 obs + 0.5 tanh(action @ M), seeded M (act_dim, obs_dim)."""

    def __init__(self, seed: int, obs_dim: int, act_dim: int):
        self.M = torch.randn(act_dim, obs_dim, generator=_gen(40_000 + seed))

    def __call__(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        if obs.ndim != 2 or action.ndim != 2 or action.shape[1] != self.M.shape[0] or len(obs) != len(action):
            raise ValueError(f"step: expected obs (B, {self.M.shape[1]}) and action (B, {self.M.shape[0]}), "
                             f"got {tuple(obs.shape)} and {tuple(action.shape)}")
        return 0.8 * obs + 0.5 * torch.tanh(action @ self.M)


def seeded_linear(seed: int, fan_in: int, fan_out: int) -> nn.Linear:
    """An nn.Linear with seeded weights (N(0, 1/fan_in)) and biases (N(0, 0.5^2))."""
    layer = build(nn.Linear, seed, in_features=fan_in, out_features=fan_out)
    g = _gen(60_000 + seed)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(fan_out, fan_in, generator=g) / fan_in ** 0.5)
        layer.bias.copy_(0.5 * torch.randn(fan_out, generator=g))
    return layer.requires_grad_(False)


# ----------------------------------------------------------------------------- harness
def residual_block_layout(in_channels: int, out_channels: int, cond_dim: int, kernel_size: int) -> dict:
    """Parameter names and shapes of a ConditionalResidualBlock1D, as its docstring describes them."""
    layout = {}
    for i, c_in in enumerate((in_channels, out_channels)):
        layout[f"blocks.{i}.block.0.weight"] = (out_channels, c_in, kernel_size)   # Conv1d
        layout[f"blocks.{i}.block.0.bias"] = (out_channels,)
        layout[f"blocks.{i}.block.1.weight"] = (out_channels,)                     # GroupNorm
        layout[f"blocks.{i}.block.1.bias"] = (out_channels,)
    layout.update(linear("cond_encoder.1", cond_dim, 2 * out_channels))
    if in_channels != out_channels:
        layout["residual_conv.weight"] = (out_channels, in_channels, 1)
        layout["residual_conv.bias"] = (out_channels,)
    return layout


def run_residual_block(cls, in_channels, out_channels, cond_dim, kernel_size, n_groups, x, cond, seed):
    """The output of a ConditionalResidualBlock1D class, built under a seed with seeded weights."""
    block = build(cls, seed, in_channels=in_channels, out_channels=out_channels, cond_dim=cond_dim,
                  kernel_size=kernel_size, n_groups=n_groups)
    load_seeded(block, residual_block_layout(in_channels, out_channels, cond_dim, kernel_size), seed)
    return block(x, cond)


# ----------------------------------------------------------------------------- cases
def make_windows(seed: int) -> dict:
    g = _gen(100 + seed)
    To, Tp, Ta = [(2, 6, 3), (3, 8, 4), (1, 5, 2), (2, 7, 6), (3, 6, 2)][seed]
    lengths = [[7, 4, 9], [6, 10, 3], [5, 8], [9, 6, 12], [4, 7, 5, 8]][seed]          # some shorter than Tp
    n = sum(lengths)
    return {"obs": torch.randn(n, 3, generator=g), "actions": torch.randn(n, 2, generator=g),
            "episode_ends": torch.tensor(lengths).cumsum(0), "To": To, "Tp": Tp, "Ta": Ta}


def film(seed: int) -> dict:
    g = _gen(200 + seed)
    B, C, T, cond_dim = [(3, 4, 5, 7), (2, 6, 3, 4), (4, 3, 6, 5), (1, 8, 4, 3), (5, 2, 7, 6)][seed]  # B != C != T
    return {"h": torch.randn(B, C, T, generator=g), "cond": torch.randn(B, cond_dim, generator=g),
            "cond_encoder": seeded_linear(seed, cond_dim, 2 * C)}


def ConditionalResidualBlock1D(seed: int) -> dict:
    g = _gen(300 + seed)
    c_in, c_out, cond_dim, k, groups = [(3, 8, 5, 3, 4), (8, 8, 4, 5, 2), (2, 4, 3, 5, 2),
                                         (6, 6, 6, 3, 3), (4, 6, 2, 3, 3)][seed]           # seed 0: 1x1 residual
    B, T = 2, 7
    return Harnessed(run_residual_block, in_channels=c_in, out_channels=c_out, cond_dim=cond_dim,
                     kernel_size=k, n_groups=groups, x=torch.randn(B, c_in, T, generator=g),
                     cond=torch.randn(B, cond_dim, generator=g), seed=seed)


def receding_horizon(seed: int) -> dict:
    g = _gen(400 + seed)
    B, obs_dim, act_dim, To, Tp, Ta, num_steps = [(3, 2, 2, 2, 8, 3, 7), (2, 3, 2, 3, 6, 2, 5),
                                                  (2, 2, 3, 1, 5, 4, 9), (4, 2, 2, 2, 16, 8, 12),
                                                  (1, 3, 3, 3, 7, 1, 4)][seed]
    return {"policy": ToyChunkPolicy(seed, To, Tp, obs_dim, act_dim), "step": ToyStep(seed, obs_dim, act_dim),
            "obs0": torch.randn(B, obs_dim, generator=g), "To": To, "Ta": Ta, "num_steps": num_steps}
