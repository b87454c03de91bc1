"""Widgets of the Diffusion Policy assignment (03_diffusion_policy).

- ``horizon_explorer``: To / Tp / Ta sliders and a time slider over one demonstration, showing the
  training window of the learner's ``make_windows``: which steps are observed, predicted, executed,
  and which of them are padding;
- ``chunk_explorer``: action chunks sampled at a chosen robot position, diffusion against regression;
- ``rollout_figure``: a static picture of closed-loop rollouts on the table.

Each takes the learner's functions as arguments and follows widgets/_plumbing.py.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from coursekit.assignments.diffusion_policy.point_robot import EXPERT_SPEED, GOAL, GOAL_RADIUS, OBSTACLE, OBSTACLE_RADIUS, START, WORKSPACE
from ._figure import Figure
from ._panel import Panel
from ._plumbing import (check_argument, check_returned, dropdown, fn_label, int_slider, polylines,
                        require_callable, to_numpy)


def draw_table(fig: go.Figure, row: int | None = None, col: int | None = None) -> None:
    """The obstacle (grey disc), the goal region (green circle) and the start (cross) on a square table."""
    where = {} if row is None else {"row": row, "col": col}
    cx, cy = OBSTACLE
    gx, gy = GOAL
    fig.add_shape(type="circle", x0=cx - OBSTACLE_RADIUS, x1=cx + OBSTACLE_RADIUS, y0=cy - OBSTACLE_RADIUS,
                  y1=cy + OBSTACLE_RADIUS, fillcolor="lightgray", line=dict(color="gray"), layer="below", **where)
    fig.add_shape(type="circle", x0=gx - GOAL_RADIUS, x1=gx + GOAL_RADIUS, y0=gy - GOAL_RADIUS, y1=gy + GOAL_RADIUS,
                  line=dict(color="seagreen", dash="dot"), layer="below", **where)
    fig.add_scatter(x=np.array([START[0]]), y=np.array([START[1]]), mode="markers", name="start",
                    marker=dict(symbol="x", size=9, color="black"), showlegend=False, **where)
    fig.update_xaxes(range=list(WORKSPACE), **where)
    fig.update_yaxes(range=list(WORKSPACE), scaleanchor="x" if row in (None, 1) and col in (None, 1) else None,
                     **where)


def rollout_figure(paths: Mapping[str, torch.Tensor | Sequence[torch.Tensor]],
                   title: str = "closed-loop rollouts") -> go.Figure:
    """One panel per entry: robot paths on the table (a static figure).

    paths: name -> a (B, S, 2) tensor of B paths, or a list of (S_i, 2) tensors of different lengths.
    """
    names = list(paths)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.05)
    for col, name in enumerate(names, start=1):
        group = paths[name]
        group = list(group) if not isinstance(group, torch.Tensor) else list(check_argument(
            f"paths[{name!r}]", group, (None, None, 2)))
        for i, p in enumerate(group):
            check_argument(f"paths[{name!r}][{i}]", p, (None, 2))
        draw_table(fig, 1, col)
        xs = np.concatenate([np.append(to_numpy(p[:, 0]), np.nan) for p in group])
        ys = np.concatenate([np.append(to_numpy(p[:, 1]), np.nan) for p in group])
        fig.add_scatter(x=xs, y=ys, mode="lines", line=dict(width=1, color="royalblue"), opacity=0.5,
                        showlegend=False, row=1, col=col)
        fig.update_yaxes(scaleanchor=f"x{col if col > 1 else ''}", row=1, col=col)
    fig.update_layout(height=380, width=330 * len(names) + 60, title=title, margin=dict(t=70, l=30, r=20, b=30))
    return fig


# ----------------------------------------------------------------------------- horizon explorer
def horizon_explorer(make_windows: Callable, obs: torch.Tensor, actions: torch.Tensor, *, To: int = 2,
                     Tp: int = 16, Ta: int = 8, t: int = 0, max_To: int = 4, max_Tp: int = 24) -> Panel:
    """Sliders for To, Tp, Ta and the current step t over one demonstration episode.

    make_windows(obs, actions, episode_ends, To, Tp, Ta) -> (obs windows (W, To, 2), action windows
        (W, Tp, 2)), the learner's function; it is called on this one episode, and window number t is
        the one whose current (last observed) step is t.
    obs, actions: (L, 2) float32, one episode's positions and position commands.
    Left panel: the episode (grey), the observed positions, the predicted chunk and its executed part.
    Right panel: a time line of the episode's steps; padded steps (outside 0 .. L-1) are hollow.
    Returns a Panel with controls "To", "Tp", "Ta", "t"; the slider limits follow the rules
    Ta <= Tp - To + 1 and t <= W - 1 (the last window's current step).
    """
    require_callable(make_windows, "make_windows")
    check_argument("obs", obs, (None, 2))
    L = obs.shape[0]
    check_argument("actions", actions, (L, 2))
    label = fn_label(make_windows, "make_windows")
    ends = torch.tensor([L])

    controls = {"To": int_slider("To (observed)", To, 1, max_To), "Tp": int_slider("Tp (predicted)", Tp, 2, max_Tp),
                "Ta": int_slider("Ta (executed)", Ta, 1, max_Tp), "t": int_slider("current step t", t, 0, L - 1)}

    fig = Figure(make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55], subplot_titles=(
        "on the table", "steps of the episode (hollow: padding, repeated edge)")))
    draw_table(fig, 1, 1)
    path = to_numpy(torch.cat([obs, actions[-1:]]))
    fig.add_scatter(x=path[:, 0], y=path[:, 1], mode="lines+markers", name="demonstration",
                    line=dict(color="lightgray"), marker=dict(size=4, color="lightgray"), row=1, col=1)
    fig.add_scatter(x=np.zeros(1), y=np.zeros(1), mode="lines+markers", name="predicted chunk (Tp)",
                    line=dict(color="darkorange", width=2), marker=dict(size=6), row=1, col=1)
    fig.add_scatter(x=np.zeros(1), y=np.zeros(1), mode="markers", name="executed (Ta)",
                    marker=dict(size=11, color="seagreen", symbol="circle-open", line=dict(width=2)), row=1, col=1)
    fig.add_scatter(x=np.zeros(1), y=np.zeros(1), mode="markers", name="observed (To)",
                    marker=dict(size=10, color="royalblue"), row=1, col=1)
    rows = {"observed": (2.0, "royalblue"), "predicted": (1.0, "darkorange"), "executed": (0.0, "seagreen")}
    for name, (level, color) in rows.items():
        fig.add_scatter(x=np.zeros(1), y=np.full(1, level), mode="markers", name=f"{name} steps", showlegend=False,
                        marker=dict(size=9, color=color, symbol="square"), row=1, col=2)
    fig.add_scatter(x=np.zeros(1), y=np.zeros(1), mode="markers", name="padded steps", showlegend=False,
                    marker=dict(size=9, color="white", symbol="square", line=dict(width=2, color="black")),
                    row=1, col=2)
    fig.update_yaxes(tickvals=[0, 1, 2], ticktext=["executed", "predicted", "observed"], range=[-0.6, 2.6],
                     row=1, col=2)
    fig.update_xaxes(title_text="step", range=[-max_To - 0.5, L + max_Tp], row=1, col=2)
    fig.update_layout(height=430, margin=dict(t=90, l=40, r=20, b=40), legend=dict(orientation="h", y=-0.12))

    def update() -> None:
        To_ = controls["To"].value
        controls["Tp"].min = To_                                                    # Ta >= 1 needs Tp >= To
        Tp_ = controls["Tp"].value
        controls["Ta"].max = Tp_ - To_ + 1
        Ta_ = controls["Ta"].value
        W = L - Tp_ + Ta_ + To_ - 1                                                 # windows of this episode
        if W < 1:
            raise ValueError(f"this episode ({L} steps) has no window for To = {To_}, Tp = {Tp_}, Ta = {Ta_}")
        obs_w, act_w = make_windows(obs, actions, ends, To_, Tp_, Ta_)
        check_returned(f"{label} (observation windows)", obs_w, (W, To_, 2))
        check_returned(f"{label} (action windows)", act_w, (W, Tp_, 2))
        controls["t"].max = W - 1
        t_ = controls["t"].value
        s = t_ - To_ + 1                                                            # the window's first step
        o, a = to_numpy(obs_w[t_]), to_numpy(act_w[t_])
        executed = a[To_ - 1:To_ - 1 + Ta_]
        timeline = {2.0: np.arange(s, t_ + 1), 1.0: np.arange(s, s + Tp_), 0.0: np.arange(t_, t_ + Ta_)}
        pad = {level: st[(st < 0) | (st > L - 1)].astype(np.float64) for level, st in timeline.items()}
        with fig.batch_update():
            fig.data[2].x, fig.data[2].y = a[:, 0], a[:, 1]
            fig.data[3].x, fig.data[3].y = executed[:, 0], executed[:, 1]
            fig.data[4].x, fig.data[4].y = o[:, 0], o[:, 1]
            for trace, (level, st) in zip(fig.data[5:8], timeline.items()):
                trace.x, trace.y = st.astype(np.float64), np.full(len(st), level)
            fig.data[8].x = np.concatenate(list(pad.values()))
            fig.data[8].y = np.concatenate([np.full(len(v), level) for level, v in pad.items()])
            n_pad = len(pad[1.0])
            fig.layout.title.text = (f"To = {To_}, Tp = {Tp_}, Ta = {Ta_}, t = {t_}: observe steps {s}..{t_}, "
                                     f"predict {s}..{s + Tp_ - 1}, execute {t_}..{t_ + Ta_ - 1}"
                                     + (f" ({n_pad} padded)" if n_pad else ""))

    return Panel(fig, controls, update, rows=[["To", "Tp"], ["Ta", "t"]], kind="horizon-explorer",
                 bank="t")


# ----------------------------------------------------------------------------- chunk explorer
HISTORIES = ("at rest", "moving up")


def state_history(x: float, y: float, To: int, motion: str) -> torch.Tensor:
    """(1, To, 2) observation history of a robot now at (x, y): at rest (all rows equal, as a padded
    episode start), or moving straight up at the expert's speed (earlier rows lower down)."""
    if motion not in HISTORIES:
        raise ValueError(f"motion: expected one of {HISTORIES}, got {motion!r}")
    back = torch.arange(To - 1, -1, -1, dtype=torch.float32) * (EXPERT_SPEED if motion == "moving up" else 0.0)
    return torch.stack([torch.full((To,), float(x)), float(y) - back], dim=1)[None]


def chunk_explorer(diffusion_fn: Callable, regression_fn: Callable, *, To: int = 2, num_samples: int = 16,
                   x: float = START[0], y: float = START[1], seed: int = 0, motion: str = "at rest") -> Panel:
    """Action chunks at a chosen robot position: diffusion samples against the regression chunk.

    diffusion_fn(history (N, To, 2), seed) -> (N, Tp, 2) float32 position commands (N = num_samples copies
        of the same history, so N samples of one conditional distribution; ``seed`` picks the noise);
    regression_fn(history (1, To, 2)) -> (1, Tp, 2) float32, the regression policy's single answer.
    Controls: "x", "y" (the robot's position), "motion" (its history: at rest, or moving up), "seed".
    The title states the state and how many sampled chunks end left / right of the obstacle's centre.
    """
    require_callable(diffusion_fn, "diffusion_fn")
    require_callable(regression_fn, "regression_fn")
    d_label, r_label = fn_label(diffusion_fn, "diffusion_fn"), fn_label(regression_fn, "regression_fn")
    controls = {"x": int_slider("robot x", int(round(x)), int(WORKSPACE[0]) + 5, int(WORKSPACE[1]) - 5),
                "y": int_slider("robot y", int(round(y)), int(WORKSPACE[0]) + 5, int(WORKSPACE[1]) - 5),
                "motion": dropdown("history", HISTORIES, motion), "seed": int_slider("noise seed", seed, 0, 20)}

    fig = Figure()
    draw_table(fig)
    fig.add_scatter(x=np.zeros(1), y=np.zeros(1), mode="lines", name=f"diffusion samples ({num_samples})",
                    line=dict(width=1.5, color="royalblue"), opacity=0.6)
    fig.add_scatter(x=np.zeros(1), y=np.zeros(1), mode="lines+markers", name="regression (one chunk)",
                    line=dict(width=4, color="crimson"), marker=dict(size=5))
    fig.add_scatter(x=np.zeros(1), y=np.zeros(1), mode="markers", name="observed positions",
                    marker=dict(size=12, color="black"))
    fig.update_layout(height=520, width=560, margin=dict(t=80, l=40, r=20, b=40),
                      legend=dict(orientation="h", y=-0.08))

    def update() -> None:
        px, py, m, sd = controls["x"].value, controls["y"].value, controls["motion"].value, controls["seed"].value
        history = state_history(px, py, To, m)                                      # (1, To, 2)
        samples = check_returned(d_label, diffusion_fn(history.repeat(num_samples, 1, 1), sd), (num_samples, None, 2))
        single = check_returned(r_label, regression_fn(history), (1, samples.shape[1], 2))
        xs, ys = polylines(to_numpy(samples))
        ends = to_numpy(samples[:, -1, 0])
        left, right = int((ends < OBSTACLE[0]).sum()), int((ends >= OBSTACLE[0]).sum())
        r = to_numpy(single[0])
        with fig.batch_update():
            fig.data[1].x, fig.data[1].y = xs, ys
            fig.data[2].x, fig.data[2].y = r[:, 0], r[:, 1]
            fig.data[3].x, fig.data[3].y = to_numpy(history[0, :, 0]), to_numpy(history[0, :, 1])
            fig.layout.title.text = (f"robot at ({px}, {py}), {m}, noise seed {sd}: diffusion chunks end {left} left / {right} right; "
                                     f"regression ends at ({r[-1, 0]:.1f}, {r[-1, 1]:.1f})")

    return Panel(fig, controls, update, rows=[["x", "y"], ["motion", "seed"]], kind="chunk-explorer",
                 bank="x")
