"""Forward-noising explorer: a 2-D point cloud dissolving into Gaussian noise as t grows."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ._bank import FrameBank
from ._figure import Figure
from ._panel import Panel
from ._plumbing import check_argument, check_returned, fn_label, int_slider, require_callable, to_numpy


def forward_noising_explorer(q_sample: Callable, alpha_bar: torch.Tensor, x0: torch.Tensor,
                             seed: int = 0) -> Panel:
    """A slider over t in 0..T-1 showing x_t = q_sample(x0, t, alpha_bar, noise).

    q_sample: ``fn(x0 (N, 2), t (N,) long, alpha_bar (T,), noise (N, 2)) -> x_t (N, 2) float32``.
    alpha_bar: (T,) float32, values in [0, 1]. x0: (N, 2) float32 point cloud.
    The noise is drawn once, ``torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))``,
    so every point keeps its own noise vector and moving t shows one path per point.
    Returns a Panel with the control "t".

    Every frame is computed once, up front, by calling ``q_sample`` for each t (the call
    the slider would make) and shipped to the page, so moving t needs no kernel round trip.
    A t for which ``q_sample`` fails is left to the kernel, which raises when the slider gets there.
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
    fig = Figure()
    fig.add_scattergl(x=x0_np[:, 0], y=x0_np[:, 1], mode="markers", name="x_0 (data)",
                    marker=dict(size=4, color="lightgray"))
    fig.add_scattergl(x=x0_np[:, 0], y=x0_np[:, 1], mode="markers", name="x_t",
                    marker=dict(size=4, color="royalblue", opacity=0.7))
    fig.update_layout(height=480, width=520, margin=dict(t=60, l=40, r=20, b=40),
                      xaxis=dict(range=[-r, r]), yaxis=dict(range=[-r, r], scaleanchor="x", scaleratio=1))

    def title(t: int) -> str:
        return f"t = {t} / {T}, alpha_bar_t = {float(alpha_bar[t]):.4f}"

    def q_sample_at(t: int) -> np.ndarray:
        t_batch = torch.full((N,), t, dtype=torch.long)               # (N,)
        return to_numpy(check_returned(label, q_sample(x0, t_batch, alpha_bar, noise), (N, 2)),
                        np.float32)                                   # (N, 2)

    frames: dict[int, np.ndarray] = {}  # t -> (N, 2) float32, filled once the panel exists

    def update() -> bool:
        t = controls["t"].value
        xy = frames[t] if t in frames else q_sample_at(t)
        with fig.batch_update():
            fig.data[1].x, fig.data[1].y = xy[:, 0], xy[:, 1]
            fig.layout.title.text = title(t)
        return t in frames  # the page drew this frame itself

    bank = FrameBank(fig, controls, ["t"], index="t")
    panel = Panel(fig, controls, update, kind="forward_noising", browser=bank)
    xs, ys, valid = np.zeros((T, N), np.float32), np.zeros((T, N), np.float32), np.zeros(T, bool)
    for t in range(T):
        try:
            xy = q_sample_at(t)
        except Exception:  # noqa: BLE001 - this t stays with the kernel, which raises when it is reached
            continue
        frames[t], xs[t], ys[t], valid[t] = xy, xy[:, 0], xy[:, 1], True
    bank.add({}, [1], [xs], [ys], [title(t) for t in range(T)], valid)
    return panel
