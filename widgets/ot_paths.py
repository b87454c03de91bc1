"""Probability paths side by side: the same noise and data pushed along different conditional paths."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from plotly.subplots import make_subplots

from ._figure import Figure, screen_pixel_gl
from ._panel import Panel
from ._plumbing import check_argument, check_returned, float_slider, fn_label, require_function_dict, to_numpy

_COLOURS = ("crimson", "royalblue", "seagreen", "darkorange")


def path_coefficients(path: Callable, t: torch.Tensor, label: str) -> tuple[np.ndarray, np.ndarray]:
    """For an affine Gaussian path x_t = a_t x1 + s_t eps, read a_t and s_t off the path itself:
    a_t = path(x1 = 1, t, eps = 0) and s_t = path(x1 = 0, t, eps = 1), first coordinate. t: (M,)."""
    ones, zeros = torch.ones(len(t), 2), torch.zeros(len(t), 2)
    a = check_returned(label, path(ones, t, zeros), (len(t), 2))
    s = check_returned(label, path(zeros, t, ones), (len(t), 2))
    return to_numpy(a[:, 0]), to_numpy(s[:, 0])


def path_comparison_explorer(paths: dict[str, Callable], x1: torch.Tensor, *, t: float = 0.5,
                             t_steps: int = 50, num_lines: int = 40, seed: int = 0, extent: float = 3.0) -> Panel:
    """One t slider over several conditional paths, each in its own panel, plus their coefficients.

    paths: name -> ``fn(x1 (N, 2), t (N,), eps (N, 2)) -> x_t (N, 2)`` float32, an affine Gaussian
        path x_t = a_t x1 + s_t eps (VP, OT, ...). Flow-matching time: t = 0 noise, t = 1 data.
    x1: (N, 2) float32 data points, one per particle. The noise is drawn once,
        eps = randn(N, 2) from ``seed``, and shared by all paths, so each panel moves the same
        (eps, x1) pairs.
    Each path panel: the data (grey), the whole path t -> x_t of the first ``num_lines`` particles
    (faint lines, on a grid of ``t_steps`` steps computed once), and x_t at the slider's t.
    The last panel plots a_t (solid) and s_t (dashed) of every path against t, with a marker at t.
    Traces, per path i (in order): 4i data, 4i+1 lines, 4i+2 x_t, 4i+3 coefficient marker; then the
    coefficient curves, a_t and s_t per path. The title states t and x_t = a_t x1 + s_t eps per path.
    Returns a Panel with the control "t".
    """
    paths = require_function_dict(paths, "paths")
    check_argument("x1", x1, (None, 2))
    if not 0 <= t <= 1:
        raise ValueError(f"t: expected a flow-matching time in [0, 1], got {t}")
    if t_steps < 1:
        raise ValueError(f"t_steps: expected >= 1, got {t_steps}")
    names, N = list(paths), x1.shape[0]
    labels = {n: fn_label(paths[n], f"path {n!r}") for n in names}
    eps = torch.randn(N, 2, generator=torch.Generator().manual_seed(seed))          # (N, 2)
    times = torch.linspace(0, 1, t_steps + 1)                                        # (K+1,)
    m = min(num_lines, N)

    # Whole paths of the first m particles, and the coefficient curves, computed once.
    lines, coefficients = {}, {}
    for n in names:
        xs = [check_returned(labels[n], paths[n](x1[:m], tk.expand(m).contiguous(), eps[:m]), (m, 2))
              for tk in times]
        traj = to_numpy(torch.stack(xs, dim=1))                                      # (m, K+1, 2)
        gap = np.full((m, 1, 2), np.nan)
        lines[n] = np.concatenate([traj, gap], axis=1).reshape(-1, 2)                # nan between particles
        coefficients[n] = path_coefficients(paths[n], times, labels[n])

    controls = {"t": float_slider("t", round(t * t_steps) / t_steps, 0.0, 1.0, 1.0 / t_steps, ".2f")}
    fig = Figure(make_subplots(rows=1, cols=len(names) + 1, horizontal_spacing=0.05,
                                        subplot_titles=[*(f"{n} path" for n in names), "x_t = a_t x1 + s_t eps"]))
    d = to_numpy(x1)
    tt = to_numpy(times)
    coef_col = len(names) + 1
    for i, n in enumerate(names):
        colour = _COLOURS[i % len(_COLOURS)]
        fig.add_scattergl(x=d[:, 0], y=d[:, 1], mode="markers", name="data x1", showlegend=i == 0,
                        marker=dict(size=3, color="lightgray"), row=1, col=i + 1)
        # SVG, not WebGL: plotly redraws every trace on each move, and its WebGL lines cost a software
        # renderer (no GPU) about 100 ms of CPU per move for these two traces; one SVG path costs a few ms
        fig.add_scatter(x=lines[n][:, 0], y=lines[n][:, 1], mode="lines", name=f"{n}: paths", showlegend=False,
                        line=dict(width=0.7, color=colour), opacity=0.35, row=1, col=i + 1)
        fig.add_scattergl(x=np.zeros(1), y=np.zeros(1), mode="markers", name=f"{n}: x_t",
                        marker=dict(size=4, color=colour), row=1, col=i + 1)
        fig.add_scatter(x=np.zeros(2), y=np.zeros(2), mode="markers", name=f"{n}: a_t, s_t at t", showlegend=False,
                        marker=dict(size=9, color=colour), row=1, col=coef_col)
    for i, n in enumerate(names):
        colour = _COLOURS[i % len(_COLOURS)]
        a, s = coefficients[n]
        fig.add_scatter(x=tt, y=a, mode="lines", name=f"{n}: a_t", line=dict(color=colour), row=1, col=coef_col)
        fig.add_scatter(x=tt, y=s, mode="lines", name=f"{n}: s_t", line=dict(color=colour, dash="dash"),
                        row=1, col=coef_col)
    r = 1.05 * extent
    for i in range(len(names)):
        axis = "x" if i == 0 else f"x{i + 1}"
        fig.update_xaxes(range=[-r, r], row=1, col=i + 1)
        fig.update_yaxes(range=[-r, r], scaleanchor=axis, scaleratio=1, row=1, col=i + 1)
    fig.update_xaxes(range=[0, 1], title_text="t", row=1, col=coef_col)
    fig.update_layout(height=420, width=360 * (len(names) + 1), margin=dict(t=80, l=30, r=20, b=40))
    screen_pixel_gl(fig)

    def update() -> None:
        step = round(controls["t"].value * t_steps)
        t_now = float(times[step])
        t_batch = torch.full((N,), t_now)
        parts = []
        with fig.batch_update():
            for i, n in enumerate(names):
                x_t = to_numpy(check_returned(labels[n], paths[n](x1, t_batch, eps), (N, 2)))
                a, s = coefficients[n][0][step], coefficients[n][1][step]
                fig.data[4 * i + 2].x, fig.data[4 * i + 2].y = x_t[:, 0], x_t[:, 1]
                fig.data[4 * i + 3].x, fig.data[4 * i + 3].y = np.array([t_now, t_now]), np.array([a, s])
                parts.append(f"{n}: x_t = {a:.2f} x1 + {s:.2f} eps")
            fig.layout.title.text = f"t = {t_now:.2f} | " + " | ".join(parts)

    return Panel(fig, controls, update, kind="paths", bank="t")
