"""Forward-noising explorer: a 2-D point cloud dissolving into Gaussian noise as t grows."""
from __future__ import annotations

from typing import Callable

import numpy as np
import plotly.graph_objects as go
import torch

from ._plumbing import Panel, check_argument, check_returned, fn_label, int_slider, require_callable, to_numpy


def forward_noising_explorer(q_sample: Callable, alpha_bar: torch.Tensor, x0: torch.Tensor,
                             seed: int = 0) -> Panel:
    """A slider over t in 0..T-1 showing x_t = q_sample(x0, t, alpha_bar, noise).

    q_sample: ``fn(x0 (N, 2), t (N,) long, alpha_bar (T,), noise (N, 2)) -> x_t (N, 2) float32``.
    alpha_bar: (T,) float32, values in [0, 1]. x0: (N, 2) float32 point cloud.
    The noise is drawn once, ``torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))``,
    so every point keeps its own noise vector and moving t shows one path per point.
    Returns a Panel with the control "t".
    """
    require_callable(q_sample, "q_sample")
    check_argument("alpha_bar", alpha_bar, (None,))
    check_argument("x0", x0, (None, 2))
    if float(alpha_bar.min()) < 0 or float(alpha_bar.max()) > 1:
        raise ValueError("alpha_bar: expected values in [0, 1], "
                         f"got min {float(alpha_bar.min()):.4g}, max {float(alpha_bar.max()):.4g}")
    T, N = alpha_bar.shape[0], x0.shape[0]
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))  # (N, 2), fixed
    label = fn_label(q_sample, "q_sample")

    controls = {"t": int_slider("t", 0, 0, T - 1)}

    x0_np = to_numpy(x0)                                             # (N, 2)
    r = max(3.5, 1.1 * float(np.abs(x0_np).max()))                   # fixed view: data and N(0, I)
    fig = go.FigureWidget()
    fig.add_scatter(x=x0_np[:, 0], y=x0_np[:, 1], mode="markers", name="x_0 (data)",
                    marker=dict(size=4, color="lightgray"))
    fig.add_scatter(x=x0_np[:, 0], y=x0_np[:, 1], mode="markers", name="x_t",
                    marker=dict(size=4, color="royalblue", opacity=0.7))
    fig.update_layout(height=480, width=520, margin=dict(t=60, l=40, r=20, b=40),
                      xaxis=dict(range=[-r, r]), yaxis=dict(range=[-r, r], scaleanchor="x", scaleratio=1))

    def update() -> None:
        t = controls["t"].value
        t_batch = torch.full((N,), t, dtype=torch.long)               # (N,)
        x_t = check_returned(label, q_sample(x0, t_batch, alpha_bar, noise), (N, 2))  # (N, 2)
        xy = to_numpy(x_t)
        with fig.batch_update():
            fig.data[1].x, fig.data[1].y = xy[:, 0], xy[:, 1]
            fig.layout.title.text = f"t = {t} / {T}, alpha_bar_t = {float(alpha_bar[t]):.4f}"

    return Panel(fig, controls, update)
