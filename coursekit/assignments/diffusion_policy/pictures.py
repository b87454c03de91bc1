"""The picture of 03_diffusion_policy: sampled chunks splitting into the two modes as the noise falls.

Computed, not drawn: ``denoising_split`` runs the trained policy's own DDIM sampler
(``coursekit.kit.diffusion.ddim_sample`` with ``return_trajectory=True``) from one observation at the
start, where the demonstrations go left or right, and measures every intermediate chunk against the
expert's two chunks from that start (``mode_chunks``). ``split_figure`` plots it; the notebook asserts
what the figure shows, from the same measurements.

Measures (raw table units): ``distance[k, n, m]`` is the root-mean-square distance, over the chunk's Tp
points, between sample n after k denoising steps and mode m (0 left, 1 right); ``offset[k, n]`` is the
sample's mean sideways position relative to the obstacle's centre line. A sample is *near* a mode when within ``mode_gap / 4`` of it (the
average of the two modes, where a regression policy lands, is ``mode_gap / 2`` from both).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from coursekit.assignments.diffusion_policy.point_robot import (EXPERT_SPEED, OBSTACLE, OBSTACLE_RADIUS, START,
                                                                 expert_path)
from coursekit.assignments.diffusion_policy.policies import PREDICTION
from coursekit.kit.diagrams import finish
from coursekit.kit.diffusion import ddim_sample

SIDES = ("left", "right")
COLOURS = ("#2f6db5", "#d9822b")
TYPICAL_WIDTH = 29.0     # the middle of the demonstrations' swing widths (26 to 32)


def mode_chunks(To: int, Tp: int) -> torch.Tensor:
    """The expert's chunk at the first step from START, swinging left and right: (2, Tp, 2) raw positions.

    Chunk index j is step j - (To - 1) of the episode; steps before 0 repeat the first action, as the
    training windows pad them."""
    chunks = []
    for side in (-1, 1):
        actions = expert_path(torch.tensor(START), side, TYPICAL_WIDTH, EXPERT_SPEED, START[1] + 1.0)[1:]  # (L, 2)
        steps = (torch.arange(Tp) - (To - 1)).clamp(0, len(actions) - 1)
        chunks.append(actions[steps])
    return torch.stack(chunks)


@dataclass
class Split:
    trajectory: torch.Tensor   # (K + 1, N, Tp, 2) raw positions after k = 0 .. K denoising steps
    modes: torch.Tensor        # (2, Tp, 2) the expert's left and right chunks
    distance: torch.Tensor     # (K + 1, N, 2) RMS distance to each mode
    to_average: torch.Tensor   # (K + 1, N) RMS distance to the average of the two modes
    offset: torch.Tensor       # (K + 1, N) mean x of the chunk minus the obstacle's x
    final_mode: torch.Tensor   # (N,) 0 left, 1 right: the mode each sample ends nearest to
    mode_gap: float            # RMS distance between the two modes

    @property
    def radius(self) -> float:
        """Within this distance of a mode, a chunk counts as near it: a quarter of the gap between the modes."""
        return self.mode_gap / 4

    def near(self) -> torch.Tensor:
        """(K + 1,) the fraction of samples within ``radius`` of one of the modes, after each step."""
        return (self.distance.min(dim=2).values < self.radius).float().mean(dim=1)

    def claims(self) -> dict:
        """The numbers the picture's claims rest on (the notebook prints and asserts them)."""
        nearest = self.distance.min(dim=2).values                               # (K + 1, N)
        shares = self.final_mode.bincount(minlength=2).float() / len(self.final_mode)
        return {"near_start": float(self.near()[0]), "near_end": float(self.near()[-1]),
                "median_distance_start": float(nearest[0].median()), "max_distance_end": float(nearest[-1].max()),
                "nearer_a_mode_than_average_end": float((nearest[-1] < self.to_average[-1]).float().mean()),
                "left": float(shares[0]), "right": float(shares[1]),
                "committed_by": int(self.committed_from().max()), "radius": self.radius, "mode_gap": self.mode_gap}

    def committed_from(self) -> torch.Tensor:
        """(N,) the first step k from which the sample's nearest mode never changes again."""
        nearest = self.distance.argmin(dim=2)                                   # (K + 1, N)
        same = nearest == self.final_mode[None]                                 # (K + 1, N)
        stays = same.flip(0).cumprod(0).flip(0).bool()                          # same from k to the end
        return len(stays) - stays.sum(dim=0)


def denoising_split(net, normalizer, alpha_bar: torch.Tensor, history: torch.Tensor, num_samples: int = 32,
                    num_steps: int = 10, seed: int = 0) -> Split:
    """Sample ``num_samples`` chunks for one observation history (To, 2) (raw positions) with the net's
    DDIM sampler, keep every intermediate chunk, and measure them against the expert's two modes."""
    if history.ndim != 2 or history.shape != (net.To, 2):
        raise ValueError(f"history: expected shape ({net.To}, 2), got {tuple(history.shape)}")
    obs = normalizer.normalize(history)[None].expand(num_samples, -1, -1)     # (N, To, 2)
    with torch.no_grad():
        _, path = ddim_sample(lambda x, t: net(x, t, obs), (num_samples, net.horizon, net.action_dim), alpha_bar,
                              num_steps, torch.Generator().manual_seed(seed), prediction=PREDICTION,
                              return_trajectory=True)
    trajectory = normalizer.unnormalize(path)                                   # (K + 1, N, Tp, 2)
    modes = mode_chunks(net.To, net.horizon)                                    # (2, Tp, 2)
    distance = rms_distance(trajectory[:, :, None], modes)                      # (K + 1, N, 2)
    to_average = rms_distance(trajectory, modes.mean(dim=0))                    # (K + 1, N)
    offset = trajectory[..., 0].mean(-1) - OBSTACLE[0]                          # (K + 1, N)
    final_mode = distance[-1].argmin(dim=1)                                     # (N,)
    return Split(trajectory, modes, distance, to_average, offset, final_mode,
                 float(rms_distance(modes[0], modes[1])))


def rms_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Root-mean-square distance between chunks (..., Tp, 2), over the Tp points (broadcasting)."""
    return ((a - b) ** 2).sum(-1).mean(-1).sqrt()


def split_figure(split: Split, steps: tuple[int, ...] = (0, 4, 6, 8, 10),
                 regression_chunk: torch.Tensor | None = None) -> go.Figure:
    """Top: the sampled chunks after some denoising steps, coloured by the mode each ends in, with the
    expert's two chunks dashed (and a regression policy's chunk (Tp, 2) in red, if given, in the last
    panel). Bottom: every sample's sideways offset against the step."""
    K, N = len(split.trajectory) - 1, split.trajectory.shape[1]
    steps = [k for k in steps if 0 <= k <= K]
    near = (split.distance.min(dim=2).values < split.radius).sum(dim=1)        # (K + 1,) samples near a mode
    fig = make_subplots(rows=2, cols=len(steps), row_heights=[0.55, 0.45], vertical_spacing=0.14,
                        specs=[[{}] * len(steps), [{"colspan": len(steps)}] + [None] * (len(steps) - 1)],
                        subplot_titles=[f"after {k} of {K} steps:<br>{int(near[k])}/{N} near a mode" for k in steps]
                        + ["sideways offset of each chunk"])
    theta = torch.linspace(0, 2 * math.pi, 60)
    for col, k in enumerate(steps, start=1):
        fig.add_trace(go.Scatter(x=(OBSTACLE[0] + OBSTACLE_RADIUS * theta.cos()).numpy(),
                                 y=(OBSTACLE[1] + OBSTACLE_RADIUS * theta.sin()).numpy(), fill="toself",
                                 fillcolor="#dddddd", line=dict(color="#999999"), hoverinfo="skip"), row=1, col=col)
        for m in (0, 1):
            chunks = split.trajectory[k, split.final_mode == m]                # (n_m, Tp, 2)
            xs = torch.cat([chunks[..., 0], torch.full((len(chunks), 1), float("nan"))], dim=1).flatten()
            ys = torch.cat([chunks[..., 1], torch.full((len(chunks), 1), float("nan"))], dim=1).flatten()
            fig.add_trace(go.Scatter(x=xs.numpy(), y=ys.numpy(), mode="lines", line=dict(color=COLOURS[m], width=1),
                                     opacity=0.6, hoverinfo="skip"), row=1, col=col)
            fig.add_trace(go.Scatter(x=split.modes[m, :, 0].numpy(), y=split.modes[m, :, 1].numpy(), mode="lines",
                                     line=dict(color="black", width=1.5, dash="dash"), hoverinfo="skip"), row=1, col=col)
        if regression_chunk is not None and k == K:
            fig.add_trace(go.Scatter(x=regression_chunk[:, 0].numpy(), y=regression_chunk[:, 1].numpy(), mode="lines",
                                     line=dict(color="#c0392b", width=2.5), hoverinfo="skip"), row=1, col=col)
        fig.update_xaxes(range=[0, 100], showticklabels=False, row=1, col=col)
        fig.update_yaxes(range=[0, 100], showticklabels=col == 1, scaleanchor=f"x{col if col > 1 else ''}",
                         row=1, col=col)
    step_axis = list(range(K + 1))
    for n in range(split.offset.shape[1]):
        m = int(split.final_mode[n])
        fig.add_trace(go.Scatter(x=step_axis, y=split.offset[:, n].numpy(), mode="lines",
                                 line=dict(color=COLOURS[m], width=1), opacity=0.6,
                                 hovertemplate=f"sample {n}, ends {SIDES[m]}<extra></extra>"), row=2, col=1)
    for m in (0, 1):
        fig.add_trace(go.Scatter(x=[K], y=[float(split.modes[m, :, 0].mean()) - OBSTACLE[0]], mode="markers",
                                 marker=dict(color="black", symbol="diamond", size=9),
                                 hovertemplate=f"expert's {SIDES[m]} chunk<extra></extra>"), row=2, col=1)
    fig.update_xaxes(title="denoising steps done", dtick=1, row=2, col=1)
    fig.update_yaxes(title="mean x − 50", row=2, col=1)
    caption = ("Blue ends nearer the expert's left chunk, orange the right one; dashed: the expert's two chunks "
               "from this start" + ("; red: the regression policy's chunk" if regression_chunk is not None else "")
               + f".<br>Near a mode: within {split.radius:.1f} units (RMS over the chunk), a quarter of the gap "
               "between the two modes. Each line is one sample, followed through the deterministic DDIM steps.")
    return finish(fig, "Diffusion Policy's sampler at the start: from noise to one of two swings (after Chi et al. "
                       "2023)", caption, width=1000, height=640, caption_y=-0.1, top=110, bottom=80, left=50)
