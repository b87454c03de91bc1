"""Common wrong versions of the 03_diffusion_policy pieces (see solutions/mistakes.py).

Each is a complete definition (it becomes the solution cell of a simulated submission); wrong
classes use ``torch.nn.Module`` as the base so that their source stands alone.
"""
from __future__ import annotations

import torch
from torch import nn

from solutions.diffusion_policy import Conv1dBlock, film
from solutions.mistakes import registry

mistake = registry()


# ----------------------------------------------------------------------------- make_windows
@mistake("make_windows", "padding with zeros instead of repeating the edge",
         "Steps before the episode's start repeat its first row, steps after its end repeat its last row "
         "(clamp the indices to 0 .. L-1), as Diffusion Policy's sequence sampler does. Zeros are a real "
         "position (the centre of the normalised table) that the robot never saw there.", showcase=True)
def windows_zero_padded(obs, actions, episode_ends, To, Tp, Ta):
    obs_w, act_w, begin = [], [], 0
    for end in episode_ends.tolist():
        L = end - begin
        for s in range(-(To - 1), L - Tp + Ta):
            steps = torch.arange(s, s + Tp)
            inside = (steps >= 0) & (steps < L)
            rows = begin + steps.clamp(0, L - 1)
            obs_w.append(torch.where(inside[:To, None], obs[rows[:To]], torch.zeros_like(obs[rows[:To]])))
            act_w.append(torch.where(inside[:, None], actions[rows], torch.zeros_like(actions[rows])))
        begin = end
    return torch.stack(obs_w), torch.stack(act_w)


@mistake("make_windows", "windows cross episode boundaries",
         "Cut windows episode by episode (episode_ends gives each episode's end): a window that runs into the "
         "next episode teaches the policy to jump from one demonstration's goal to another's start.")
def windows_across_episodes(obs, actions, episode_ends, To, Tp, Ta):
    N = obs.shape[0]
    starts = torch.arange(-(To - 1), N - Tp + Ta)
    idx = (starts[:, None] + torch.arange(Tp)[None]).clamp(0, N - 1)
    return obs[idx[:, :To]], actions[idx]


@mistake("make_windows", "no padding: windows only inside the episode",
         "Start windows at s = -(To - 1) and end them at s = L - Tp + Ta - 1, padding the missing steps: "
         "otherwise the first To - 1 and last steps of every episode never appear as the current step, and "
         "episodes shorter than Tp give no window at all.")
def windows_unpadded(obs, actions, episode_ends, To, Tp, Ta):
    rows, begin = [], 0
    for end in episode_ends.tolist():
        L = end - begin
        starts = torch.arange(0, max(L - Tp + 1, 0))
        rows.append(begin + starts[:, None] + torch.arange(Tp)[None])
        begin = end
    idx = torch.cat(rows)
    return obs[idx[:, :To]], actions[idx]


@mistake("make_windows", "observations taken from the end of the window",
         "A window's observations are its FIRST To steps (idx[:, :To]): the last of them is the current step, and "
         "the Tp actions start from the first observed step. The window's last To steps lie in the future.")
def windows_obs_from_end(obs, actions, episode_ends, To, Tp, Ta):
    rows, begin = [], 0
    for end in episode_ends.tolist():
        L = end - begin
        starts = torch.arange(-(To - 1), L - Tp + Ta)
        rows.append(begin + (starts[:, None] + torch.arange(Tp)[None]).clamp(0, L - 1))
        begin = end
    idx = torch.cat(rows)
    return obs[idx[:, -To:]], actions[idx]


# ----------------------------------------------------------------------------- film
@mistake("film", "scale * h without the bias",
         "FiLM is scale * h + bias: the second half of cond_encoder(cond) is a per-channel bias, added after scaling.",
         showcase=True)
def film_no_bias(h, cond, cond_encoder):
    B, C, _ = h.shape
    embed = cond_encoder(cond).reshape(B, 2, C, 1)
    return embed[:, 0] * h


@mistake("film", "(1 + scale) * h + bias, DiT's convention",
         "Diffusion Policy's FiLM multiplies by the predicted scale itself: scale * h + bias. The 1 + scale form "
         "is adaLN's in DiT (04); both work, but a network's weights only mean something under one convention.")
def film_one_plus_scale(h, cond, cond_encoder):
    B, C, _ = h.shape
    embed = cond_encoder(cond).reshape(B, 2, C, 1)
    return (1 + embed[:, 0]) * h + embed[:, 1]


@mistake("film", "scale and bias swapped",
         "cond_encoder(cond) holds the C scales first, then the C biases (reshape to (B, 2, C, 1): index 0 scale, 1 bias).")
def film_swapped(h, cond, cond_encoder):
    B, C, _ = h.shape
    embed = cond_encoder(cond).reshape(B, 2, C, 1)
    return embed[:, 1] * h + embed[:, 0]


@mistake("film", "scale and bias interleaved",
         "Split the 2C numbers into two blocks of C (reshape(B, 2, C, 1)), not into C pairs (reshape(B, C, 2)): "
         "the first C are the scales, the last C the biases.")
def film_interleaved(h, cond, cond_encoder):
    B, C, _ = h.shape
    embed = cond_encoder(cond).reshape(B, C, 2)
    return embed[:, :, 0:1] * h + embed[:, :, 1:2]


@mistake("film", "the embedding not reshaped to (B, C, 1)",
         "Reshape cond_encoder(cond) to (B, 2, C, 1) before splitting: a (B, C) scale lines up with h's last two "
         "axes (C, T), not with its channels, so it cannot broadcast over the T time steps.")
def film_not_reshaped(h, cond, cond_encoder):
    scale, bias = cond_encoder(cond).chunk(2, dim=-1)
    return scale * h + bias


# ----------------------------------------------------------------------------- residual block
@mistake("ConditionalResidualBlock1D", "residual branch missing",
         "Return out + residual_conv(x): the skip connection lets the input (or its 1x1 projection) through "
         "unchanged, so deep stacks train and the block can start close to the identity.")
class BlockNoResidual(torch.nn.Module):
    def __init__(self, in_channels, out_channels, cond_dim, kernel_size=5, n_groups=8):
        super().__init__()
        self.in_channels, self.out_channels, self.cond_dim = in_channels, out_channels, cond_dim
        self.blocks = nn.ModuleList([Conv1dBlock(in_channels, out_channels, kernel_size, n_groups),
                                     Conv1dBlock(out_channels, out_channels, kernel_size, n_groups)])
        self.cond_encoder = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * out_channels))
        self.residual_conv = (nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels
                              else nn.Identity())

    def forward(self, x, cond):
        out = film(self.blocks[0](x), cond, self.cond_encoder)
        return self.blocks[1](out)


@mistake("ConditionalResidualBlock1D", "FiLM after the second convolution",
         "Modulate between the two Conv1dBlocks: blocks[0], then FiLM, then blocks[1], then the residual.")
class BlockFilmLate(torch.nn.Module):
    def __init__(self, in_channels, out_channels, cond_dim, kernel_size=5, n_groups=8):
        super().__init__()
        self.in_channels, self.out_channels, self.cond_dim = in_channels, out_channels, cond_dim
        self.blocks = nn.ModuleList([Conv1dBlock(in_channels, out_channels, kernel_size, n_groups),
                                     Conv1dBlock(out_channels, out_channels, kernel_size, n_groups)])
        self.cond_encoder = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * out_channels))
        self.residual_conv = (nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels
                              else nn.Identity())

    def forward(self, x, cond):
        out = film(self.blocks[1](self.blocks[0](x)), cond, self.cond_encoder)
        return out + self.residual_conv(x)


@mistake("ConditionalResidualBlock1D", "condition not used",
         "Apply film(out, cond, self.cond_encoder) after the first Conv1dBlock: without it the block ignores the "
         "observation and the diffusion step.")
class BlockNoCondition(torch.nn.Module):
    def __init__(self, in_channels, out_channels, cond_dim, kernel_size=5, n_groups=8):
        super().__init__()
        self.in_channels, self.out_channels, self.cond_dim = in_channels, out_channels, cond_dim
        self.blocks = nn.ModuleList([Conv1dBlock(in_channels, out_channels, kernel_size, n_groups),
                                     Conv1dBlock(out_channels, out_channels, kernel_size, n_groups)])
        self.cond_encoder = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * out_channels))
        self.residual_conv = (nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels
                              else nn.Identity())

    def forward(self, x, cond):
        return self.blocks[1](self.blocks[0](x)) + self.residual_conv(x)


# ----------------------------------------------------------------------------- receding horizon
@mistake("receding_horizon", "executing actions from index 0 instead of To-1",
         "Chunk index To - 1 is the action for the current step (the chunk starts with the To - 1 past steps, "
         "like the training windows): execute chunk[:, To-1 : To-1+Ta].", showcase=True)
def receding_from_zero(policy, step, obs0, To, Ta, num_steps):
    history = obs0[:, None].repeat(1, To, 1)
    observations, actions = [obs0], []
    while len(actions) < num_steps:
        chunk = policy(history)
        for action in chunk[:, :Ta].unbind(dim=1):
            if len(actions) == num_steps:
                break
            obs = step(observations[-1], action)
            history = torch.cat([history[:, 1:], obs[:, None]], dim=1)
            observations.append(obs)
            actions.append(action)
    return torch.stack(observations, dim=1), torch.stack(actions, dim=1)


@mistake("receding_horizon", "history padded with zeros",
         "Start the history as obs0 repeated To times (obs0[:, None].repeat(1, To, 1)), the way the training "
         "windows pad an episode's start; zeros would be a position the policy never saw at the start.")
def receding_zero_history(policy, step, obs0, To, Ta, num_steps):
    history = torch.cat([torch.zeros(obs0.shape[0], To - 1, obs0.shape[1]), obs0[:, None]], dim=1)
    observations, actions = [obs0], []
    while len(actions) < num_steps:
        chunk = policy(history)
        for action in chunk[:, To - 1:To - 1 + Ta].unbind(dim=1):
            if len(actions) == num_steps:
                break
            obs = step(observations[-1], action)
            history = torch.cat([history[:, 1:], obs[:, None]], dim=1)
            observations.append(obs)
            actions.append(action)
    return torch.stack(observations, dim=1), torch.stack(actions, dim=1)


@mistake("receding_horizon", "executing the whole rest of the chunk",
         "Execute only Ta actions per plan (chunk[:, To-1 : To-1+Ta]), then re-plan from the new observations; "
         "running all Tp - To + 1 remaining actions ignores Ta and reacts later to what happens.")
def receding_whole_chunk(policy, step, obs0, To, Ta, num_steps):
    history = obs0[:, None].repeat(1, To, 1)
    observations, actions = [obs0], []
    while len(actions) < num_steps:
        chunk = policy(history)
        for action in chunk[:, To - 1:].unbind(dim=1):
            if len(actions) == num_steps:
                break
            obs = step(observations[-1], action)
            history = torch.cat([history[:, 1:], obs[:, None]], dim=1)
            observations.append(obs)
            actions.append(action)
    return torch.stack(observations, dim=1), torch.stack(actions, dim=1)


@mistake("receding_horizon", "history never updated",
         "After every executed action, append the new observation to the history and drop the oldest row, so "
         "the next plan starts from where the robot really is.")
def receding_stale_history(policy, step, obs0, To, Ta, num_steps):
    history = obs0[:, None].repeat(1, To, 1)
    observations, actions = [obs0], []
    while len(actions) < num_steps:
        chunk = policy(history)
        for action in chunk[:, To - 1:To - 1 + Ta].unbind(dim=1):
            if len(actions) == num_steps:
                break
            observations.append(step(observations[-1], action))
            actions.append(action)
    return torch.stack(observations, dim=1), torch.stack(actions, dim=1)
