"""pi0 widgets: the blockwise attention mask as a heat map, and the Beta time distribution.

Both take the learner's functions as arguments and draw exactly what those return.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ._figure import Figure
from ._panel import Panel
from ._plumbing import check_returned, fn_label, float_slider, int_slider, require_callable, to_numpy

BLOCK_NAMES = ("prefix", "state", "action")


def token_labels(num_prefix: int, num_state: int, num_actions: int) -> list[str]:
    """Axis labels: p0, p1, ... for the prefix, s0, ... for the state, a0, ... for the actions."""
    return ([f"p{i}" for i in range(num_prefix)] + [f"s{i}" for i in range(num_state)]
            + [f"a{i}" for i in range(num_actions)])


def attention_mask_explorer(blockwise_mask: Callable, max_prefix: int = 12, max_state: int = 3,
                            max_actions: int = 12) -> Panel:
    """Sliders for the number of prefix, state and action tokens; the mask as a heat map.

    blockwise_mask: ``fn(num_prefix, num_state, num_actions) -> (L, L) bool``, True = may attend.
    Rows are queries (top to bottom), columns keys; a dark cell is a pair that may attend.
    """
    require_callable(blockwise_mask, "blockwise_mask")
    label = fn_label(blockwise_mask, "blockwise_mask")
    controls = {"prefix": int_slider("prefix tokens", 4, 0, max_prefix),
                "state": int_slider("state tokens", 1, 0, max_state),
                "actions": int_slider("action tokens", 6, 1, max_actions)}

    fig = Figure()
    fig.add_heatmap(z=np.zeros((1, 1)), x=["a0"], y=["a0"], zmin=0.0, zmax=1.0, showscale=False, xgap=1, ygap=1,
                    colorscale=[[0.0, "#f4f4f4"], [1.0, "#2b5fad"]],
                    hovertemplate="query %{y} → key %{x}: %{z}<extra></extra>")
    fig.update_layout(height=460, width=560, margin=dict(t=70, l=60, r=20, b=50), title_font_size=14,
                      xaxis=dict(title="key (attended to)", type="category", side="bottom"),
                      yaxis=dict(title="query (attending)", type="category", autorange="reversed"))

    def update() -> None:
        P, S, A = (controls[k].value for k in ("prefix", "state", "actions"))
        L = P + S + A
        mask = check_returned(label, blockwise_mask(P, S, A), (L, L), dtype=torch.bool)
        labels = token_labels(P, S, A)
        allowed = int(mask.sum())
        with fig.batch_update():
            fig.data[0].z = to_numpy(mask)
            fig.data[0].x = labels
            fig.data[0].y = labels
            fig.layout.title.text = (f"prefix {P} · state {S} · actions {A} (L = {L}): "
                                     f"{allowed} of {L * L} pairs may attend")

    return Panel(fig, controls, update, kind="attention-mask", bank="prefix")


def time_distribution_explorer(sample_time: Callable, time_density: Callable, num_samples: int = 20_000,
                               bins: int = 50, grid_size: int = 200, seed: int = 0) -> Panel:
    """Sliders for s and the Beta parameters; a histogram of ``sample_time`` against ``time_density``.

    sample_time: ``fn(batch_size, generator, s=, alpha=, beta=) -> (batch_size,)`` times tau in [0, 1].
    time_density: ``fn(tau (N,), s=, alpha=, beta=) -> (N,)`` its density.
    The histogram is normalised as a density (area 1) over ``bins`` equal bins of [0, 1]; the density is
    drawn at the midpoints of ``grid_size`` equal cells. Every move redraws from a generator seeded
    with ``seed``, so the same settings give the same histogram.
    """
    require_callable(sample_time, "sample_time")
    require_callable(time_density, "time_density")
    sample_label, density_label = fn_label(sample_time, "sample_time"), fn_label(time_density, "time_density")
    controls = {"s": float_slider("s (cut-off)", 0.999, 0.5, 1.0, 0.001, ".3f"),
                "alpha": float_slider("Beta alpha", 1.5, 0.5, 4.0, 0.1, ".1f"),
                "beta": float_slider("Beta beta", 1.0, 0.5, 4.0, 0.1, ".1f")}
    edges = np.linspace(0.0, 1.0, bins + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    grid = (np.arange(grid_size, dtype=np.float64) + 0.5) / grid_size

    fig = Figure()
    fig.add_bar(x=centres, y=np.zeros(bins), width=1.0 / bins, name="histogram of sample_time",
                marker_color="rgba(43, 95, 173, 0.45)")
    fig.add_scatter(x=grid, y=np.zeros(grid_size), mode="lines", name="time_density", line=dict(color="black"))
    fig.update_layout(height=380, margin=dict(t=70, l=50, r=20, b=50), bargap=0.0, title_font_size=14,
                      xaxis=dict(title="tau  (0 = noise, 1 = data;  openpi's t = 1 - tau)", range=[0, 1]),
                      yaxis=dict(title="density"), legend=dict(x=0.62, y=0.98))

    def update() -> None:
        s, alpha, beta = (round(controls[k].value, 6) for k in ("s", "alpha", "beta"))
        tau = check_returned(sample_label, sample_time(num_samples, torch.Generator().manual_seed(seed),
                                                       s=s, alpha=alpha, beta=beta), (num_samples,))
        if float(tau.min()) < 0 or float(tau.max()) > 1:
            raise ValueError(f"{sample_label} returned times outside [0, 1] (min {float(tau.min()):.4g}, "
                             f"max {float(tau.max()):.4g}); expected tau in [0, 1]")
        values = to_numpy(tau)
        histogram, _ = np.histogram(values, bins=edges, density=True)
        density = check_returned(density_label, time_density(torch.tensor(grid, dtype=torch.float32), s=s,
                                                             alpha=alpha, beta=beta), (grid_size,))
        with fig.batch_update():
            fig.data[0].y = histogram.astype(np.float64)
            fig.data[1].y = to_numpy(density)
            fig.layout.title.text = (f"s = {s:.3f}, Beta({alpha:.1f}, {beta:.1f}): mean tau = {values.mean():.3f}, "
                                     f"{np.mean(values < 0.5):.0%} of draws below 0.5")

    return Panel(fig, controls, update, kind="time-distribution", bank="s")
