"""Diffusion Policy pieces, reference implementations (assignment 03_diffusion_policy).

Follows Chi et al. 2023 (*Diffusion Policy*) and their code ``real-stanford/diffusion_policy``:
training windows as built by its ``SequenceSampler`` (pad_before = To - 1, pad_after = Ta - 1, edges
repeated), FiLM conditioning (Perez et al. 2018) with ``cond_predict_scale=True`` (out = scale * h +
bias; the condition encoder's output holds the C scales first, then the C biases), the
``ConditionalResidualBlock1D`` (Conv1d -> GroupNorm -> Mish twice, FiLM in between, 1x1 residual
convolution when the channel count changes), and receding-horizon execution.

Shapes: observations (N, obs_dim), actions (N, act_dim); windows (W, To, obs_dim) and (W, Tp, act_dim);
conv features (B, C, T), channels first as nn.Conv1d wants them.
"""
from __future__ import annotations

import torch
from torch import nn

from coursekit.validate import check_episode_ends, check_horizons, check_tensor, checked_policy


def make_windows(obs: torch.Tensor, actions: torch.Tensor, episode_ends: torch.Tensor,
                 To: int, Tp: int, Ta: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All training windows of the demonstrations, as Diffusion Policy's sequence sampler makes them.

    A window starting at step s of an episode of length L covers steps s .. s + Tp - 1: its
    observations are the first To of those steps, its actions all Tp. Starts run from -(To - 1)
    (the first window already has step 0 as its current step) to L - Tp + Ta - 1 (so that at most
    Ta - 1 actions at the end of a chunk are padding). Steps before 0 repeat the episode's first row,
    steps after L - 1 repeat its last row; a window never mixes two episodes.
    Episodes in order, starts in increasing order. Returns (obs windows (W, To, obs_dim),
    action windows (W, Tp, act_dim)), W = sum over episodes of L - Tp + Ta + To - 1 (or 0 if negative).
    """
    check_tensor("obs", obs, ndim=2, dtype=torch.float32)
    check_tensor("actions", actions, shape=(obs.shape[0], None), dtype=torch.float32)
    check_episode_ends(episode_ends, obs.shape[0])
    check_horizons(To, Tp, Ta)
    ### BEGIN SOLUTION
    rows, begin = [], 0
    for end in episode_ends.tolist():
        L = end - begin
        starts = torch.arange(-(To - 1), L - Tp + Ta)                          # (W_e,) may start before 0
        idx = (starts[:, None] + torch.arange(Tp)[None]).clamp(0, L - 1)       # (W_e, Tp) edges repeated
        rows.append(begin + idx)                                               # rows of the whole buffer
        begin = end
    idx = torch.cat(rows)                                                      # (W, Tp)
    return obs[idx[:, :To]], actions[idx]                                      # (W, To, Do), (W, Tp, Da)
    ### END SOLUTION


def film(h: torch.Tensor, cond: torch.Tensor, cond_encoder) -> torch.Tensor:
    """Feature-wise linear modulation: scale * h + bias, one scale and one bias per channel.

    h: (B, C, T) features; cond: (B, cond_dim); cond_encoder maps cond to (B, 2C): the C scales
    first, then the C biases (Diffusion Policy reshapes it to (B, 2, C, 1)). Both broadcast over
    the T time steps. Convention: the scale multiplies directly (no 1 + scale, unlike DiT's adaLN).
    Returns (B, C, T).
    """
    check_tensor("h", h, ndim=3, dtype=torch.float32)
    check_tensor("cond", cond, shape=(h.shape[0], None), dtype=torch.float32)
    B, C, _ = h.shape
    embed = cond_encoder(cond)
    check_tensor("cond_encoder(cond)", embed, shape=(B, 2 * C))
    ### BEGIN SOLUTION
    embed = embed.reshape(B, 2, C, 1)
    scale, bias = embed[:, 0], embed[:, 1]                                     # (B, C, 1) each
    return scale * h + bias                                                    # (B, C, T)
    ### END SOLUTION


class Conv1dBlock(nn.Module):
    """Conv1d -> GroupNorm -> Mish over (B, C_in, T) -> (B, C_out, T); 'same' padding keeps T."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, n_groups: int = 8):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size: expected an odd size (so the output keeps T steps), got {kernel_size}")
        if out_channels % n_groups:
            raise ValueError(f"n_groups: expected a divisor of out_channels = {out_channels}, got {n_groups}")
        self.block = nn.Sequential(
            nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2),
            nn.GroupNorm(n_groups, out_channels),
            nn.Mish(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class ConditionalResidualBlock1D(nn.Module):
    """A 1-D temporal convolution residual block conditioned by FiLM (Chi et al. 2023).

    Attributes (the names are part of the exercise: the checks load weights by name):
      blocks: a ModuleList of two Conv1dBlocks (each with kernel_size and n_groups), the first from
        in_channels to out_channels, the second from out_channels to out_channels;
      cond_encoder: Sequential(Mish(), Linear(cond_dim, 2 * out_channels));
      residual_conv: Conv1d(in_channels, out_channels, 1) if in_channels != out_channels, else Identity().
    forward(x (B, in_channels, T), cond (B, cond_dim)) -> (B, out_channels, T):
      out = blocks[0](x); out = film(out, cond, cond_encoder); out = blocks[1](out);
      return out + residual_conv(x).
    """

    def __init__(self, in_channels: int, out_channels: int, cond_dim: int, kernel_size: int = 5, n_groups: int = 8):
        super().__init__()
        self.in_channels, self.out_channels, self.cond_dim = in_channels, out_channels, cond_dim
        ### BEGIN SOLUTION
        self.blocks = nn.ModuleList([
            Conv1dBlock(in_channels, out_channels, kernel_size, n_groups),
            Conv1dBlock(out_channels, out_channels, kernel_size, n_groups),
        ])
        self.cond_encoder = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * out_channels))
        self.residual_conv = (nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels
                              else nn.Identity())
        ### END SOLUTION

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        check_tensor("x", x, shape=(None, self.in_channels, None), dtype=torch.float32)
        check_tensor("cond", cond, shape=(x.shape[0], self.cond_dim), dtype=torch.float32)
        ### BEGIN SOLUTION
        out = self.blocks[0](x)                                                # (B, out, T)
        out = film(out, cond, self.cond_encoder)                               # (B, out, T)
        out = self.blocks[1](out)                                              # (B, out, T)
        return out + self.residual_conv(x)                                     # (B, out, T)
        ### END SOLUTION


def receding_horizon(policy, step, obs0: torch.Tensor, To: int, Ta: int,
                     num_steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a chunking policy in closed loop: observe, predict a chunk, execute Ta actions, re-plan.

    policy(history (B, To, obs_dim)) -> chunk (B, Tp, act_dim); the history's last row is the current
      observation, and chunk index To - 1 is the action for the current step.
    step(obs (B, obs_dim), action (B, act_dim)) -> next observation (B, obs_dim).
    At the start the history is obs0 repeated To times (the training windows pad the same way).
    Each plan executes chunk[:, To-1], ..., chunk[:, To-1+Ta-1], appending every new observation to
    the history (keeping the last To), then the policy plans again. Stops after num_steps steps (the
    last plan may be cut short). Returns (observations (B, num_steps + 1, obs_dim), obs0 first,
    actions (B, num_steps, act_dim)).
    """
    check_tensor("obs0", obs0, ndim=2, dtype=torch.float32)
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps: expected a positive integer, got {num_steps!r}")
    check_horizons(To, To - 1 + Ta, Ta)                # To, Ta positive; the chunk's Tp is checked below
    policy = checked_policy(policy, To, Ta)
    ### BEGIN SOLUTION
    history = obs0[:, None].repeat(1, To, 1)                                   # (B, To, obs_dim)
    observations, actions = [obs0], []
    while len(actions) < num_steps:
        chunk = policy(history)                                                # (B, Tp, act_dim)
        for action in chunk[:, To - 1:To - 1 + Ta].unbind(dim=1):              # Ta x (B, act_dim)
            if len(actions) == num_steps:
                break
            obs = step(observations[-1], action)                               # (B, obs_dim)
            history = torch.cat([history[:, 1:], obs[:, None]], dim=1)         # drop the oldest
            observations.append(obs)
            actions.append(action)
    return torch.stack(observations, dim=1), torch.stack(actions, dim=1)
    ### END SOLUTION
