"""Conditional vs marginal flow-matching fields at a chosen time, with particles flowing along each."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from plotly.subplots import make_subplots

from ._figure import Figure
from ._panel import Panel
from ._plumbing import check_argument, check_returned, float_slider, fn_label, int_slider, require_callable, to_numpy


def arrow_segments(points: np.ndarray, vectors: np.ndarray, length: float) -> tuple[np.ndarray, np.ndarray]:
    """Line segments for a quiver plot: an arrow from each point p along s * v, with a small head.

    points, vectors: (M, 2). The scale s makes the *mean* arrow ``length`` long (as matplotlib's
    quiver does), so the picture stays readable while the field grows near t = 1. Each arrow is
    7 entries: [p, tip, left barb, nan, tip, right barb, nan]; the barbs are 30% of the arrow,
    25 degrees off its shaft. Returns x and y arrays of length 7M.
    """
    points, vectors = np.asarray(points, dtype=np.float64), np.asarray(vectors, dtype=np.float64)
    mean = float(np.linalg.norm(vectors, axis=1).mean()) if len(vectors) else 0.0
    s = length / mean if mean > 0 else 0.0
    shaft = s * vectors                                               # (M, 2)
    tips = points + shaft
    c, n = np.cos(np.radians(25)), np.sin(np.radians(25))
    back = -0.3 * shaft
    left = tips + np.stack([c * back[:, 0] - n * back[:, 1], n * back[:, 0] + c * back[:, 1]], axis=1)
    right = tips + np.stack([c * back[:, 0] + n * back[:, 1], -n * back[:, 0] + c * back[:, 1]], axis=1)
    gap = np.full_like(points, np.nan)
    xy = np.stack([points, tips, left, gap, tips, right, gap], axis=1).reshape(-1, 2)  # (7M, 2)
    return np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])


def euler_positions(field: Callable, x0: torch.Tensor, times: torch.Tensor, label: str) -> torch.Tensor:
    """Particles pushed through ``field(x, t)`` by Euler steps on the grid ``times`` (K+1,): (K+1, M, 2)."""
    x, out = x0, [x0]
    for k in range(len(times) - 1):
        t = times[k].expand(x.shape[0]).contiguous()
        v = check_returned(label, field(x, t), tuple(x.shape))
        x = x + (times[k + 1] - times[k]) * v
        out.append(x)
    return torch.stack(out)


def flow_field_explorer(conditional_field: Callable, marginal_field: Callable, data: torch.Tensor, *,
                        t: float = 0.5, t_steps: int = 50, grid_size: int = 15, num_particles: int = 300,
                        seed: int = 0, extent: float = 3.0) -> Panel:
    """Two panels under one t slider: the conditional field u_t(x | x1) for one data point x1, and the
    marginal field u_t(x) of the whole data set, as arrows on a grid, with particles flowing.

    conditional_field: ``fn(x (M, 2), x1 (M, 2), t (M,)) -> (M, 2)`` float32.
    marginal_field:    ``fn(x (M, 2), t (M,)) -> (M, 2)`` float32 (the caller binds the data set).
    data: (N, 2) float32, the data set; the "x1" slider picks the conditioning point data[k].
    Time is flow-matching time: t = 0 noise, t = 1 data; the slider moves on a grid of ``t_steps``
    equal steps from 0 to 1. Particles start at x0 = randn(num_particles, 2) from ``seed`` and move
    by Euler steps on that same grid (computed once per field, and per x1 for the conditional one),
    so the slider shows where they are at t. Arrows: see :func:`arrow_segments`, mean length 0.8
    grid spacings per panel; the title gives the largest |u| in each panel.
    Traces: 0 data, 1 conditional arrows, 2 conditional particles, 3 x1 (left panel);
            4 data, 5 marginal arrows, 6 marginal particles (right panel).
    Returns a Panel with controls "t" and "x1".
    """
    require_callable(conditional_field, "conditional_field")
    require_callable(marginal_field, "marginal_field")
    check_argument("data", data, (None, 2))
    if not 0 <= t <= 1:
        raise ValueError(f"t: expected a flow-matching time in [0, 1], got {t}")
    if t_steps < 1 or grid_size < 2 or num_particles < 1:
        raise ValueError(f"t_steps, grid_size, num_particles: expected >= 1, >= 2, >= 1, "
                         f"got {t_steps}, {grid_size}, {num_particles}")
    cond_label, marg_label = fn_label(conditional_field, "conditional_field"), fn_label(marginal_field, "marginal_field")
    N = data.shape[0]
    times = torch.linspace(0, 1, t_steps + 1)                                         # (K+1,)
    x0 = torch.randn(num_particles, 2, generator=torch.Generator().manual_seed(seed))  # (P, 2)
    axis = torch.linspace(-extent, extent, grid_size)
    gx, gy = torch.meshgrid(axis, axis, indexing="xy")
    grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)                      # (G, 2)
    spacing = 2 * extent / (grid_size - 1)

    controls = {"t": float_slider("t", round(t * t_steps) / t_steps, 0.0, 1.0, 1.0 / t_steps, ".2f"),
                "x1": int_slider("x1 = data[k], k", 0, 0, N - 1)}

    cache: dict = {}

    def conditional_particles(k: int) -> np.ndarray:
        if ("cond", k) not in cache:
            x1 = data[k].expand(num_particles, 2)
            pos = euler_positions(lambda x, s: conditional_field(x, x1, s), x0, times, cond_label)
            cache[("cond", k)] = to_numpy(pos)
        return cache[("cond", k)]

    def marginal_particles() -> np.ndarray:
        if "marg" not in cache:
            cache["marg"] = to_numpy(euler_positions(marginal_field, x0, times, marg_label))
        return cache["marg"]

    d = to_numpy(data)
    fig = Figure(make_subplots(rows=1, cols=2, horizontal_spacing=0.06, subplot_titles=(
        "conditional field u_t(x | x1)", "marginal field u_t(x)")))
    for col, kind in ((1, "conditional"), (2, "marginal")):
        fig.add_scattergl(x=d[:, 0], y=d[:, 1], mode="markers", name="data", showlegend=col == 1,
                        marker=dict(size=3, color="lightgray"), row=1, col=col)
        fig.add_scattergl(x=np.zeros(1), y=np.zeros(1), mode="lines", name=f"{kind} field", showlegend=False,
                        line=dict(width=1, color="slategray"), row=1, col=col)
        fig.add_scattergl(x=np.zeros(1), y=np.zeros(1), mode="markers", name="particles", showlegend=col == 1,
                        marker=dict(size=4, color="crimson", opacity=0.6), row=1, col=col)
        if col == 1:
            fig.add_scatter(x=np.zeros(1), y=np.zeros(1), mode="markers", name="x1",
                            marker=dict(size=12, color="black", symbol="x"), row=1, col=1)
    r = 1.05 * extent
    for col in (1, 2):
        fig.update_xaxes(range=[-r, r], row=1, col=col)
        fig.update_yaxes(range=[-r, r], scaleanchor="x" if col == 1 else "x2", scaleratio=1, row=1, col=col)
    fig.update_layout(height=470, width=920, margin=dict(t=80, l=30, r=20, b=30))

    def update() -> None:
        step = round(controls["t"].value * t_steps)
        t_now, k = float(times[step]), controls["x1"].value
        t_grid = torch.full((grid_size * grid_size,), t_now)                           # (G,)
        u_cond = check_returned(cond_label, conditional_field(grid, data[k].expand_as(grid), t_grid), tuple(grid.shape))
        u_marg = check_returned(marg_label, marginal_field(grid, t_grid), tuple(grid.shape))
        cond_xy, marg_xy = conditional_particles(k)[step], marginal_particles()[step]
        g = to_numpy(grid)
        cx, cy = arrow_segments(g, to_numpy(u_cond), 0.8 * spacing)
        mx, my = arrow_segments(g, to_numpy(u_marg), 0.8 * spacing)
        x1 = to_numpy(data[k])
        with fig.batch_update():
            fig.data[1].x, fig.data[1].y = cx, cy
            fig.data[2].x, fig.data[2].y = cond_xy[:, 0], cond_xy[:, 1]
            fig.data[3].x, fig.data[3].y = x1[:1], x1[1:]
            fig.data[5].x, fig.data[5].y = mx, my
            fig.data[6].x, fig.data[6].y = marg_xy[:, 0], marg_xy[:, 1]
            fig.layout.title.text = (f"t = {t_now:.2f}, x1 = data[{k}] = ({x1[0]:.2f}, {x1[1]:.2f}); "
                                     f"largest |u|: conditional {float(u_cond.norm(dim=1).max()):.2f}, "
                                     f"marginal {float(u_marg.norm(dim=1).max()):.2f}")

    return Panel(fig, controls, update, kind="flow-field", bank="x1")
