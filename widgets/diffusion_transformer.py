"""Widget of the Diffusion Transformer assignment (04_diffusion_transformer).

- ``guidance_explorer``: a guidance-scale slider over class-conditional samples, with class accuracy
  (fidelity) and spread (diversity) measured against w.

It takes the learner's functions as arguments and follows widgets/_plumbing.py.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from plotly.subplots import make_subplots

from coursekit.kit.trajectories import class_accuracy, spread
from ._figure import Figure
from ._panel import Panel
from ._plumbing import (check_argument, check_returned, dropdown, fn_label, float_slider, polylines,
                        require_callable, to_numpy)


# ----------------------------------------------------------------------------- guidance explorer
def guidance_explorer(sample_fn: Callable[[int, float], torch.Tensor], prototypes: torch.Tensor,
                      w_values: Sequence[float], class_names: Sequence[str] | None = None, *,
                      w: float = 1.0) -> Panel:
    """A guidance-scale slider: samples of one class at scale w, and fidelity/diversity against w.

    sample_fn(label, w) -> (N, H, 2) float32 samples of class ``label`` at guidance scale w
        (eps_uncond + w (eps_cond - eps_uncond)); it should be deterministic (fixed noise seed).
    prototypes: (K, H, 2) mean trajectory of each class (for the nearest-prototype accuracy).
    w_values: evenly spaced guidance scales, the slider's stops; every (class, w) is sampled once,
        at construction, so moving the slider only re-reads a cache.
    Returns a Panel with controls "w" and "class"; ``panel.sweep`` holds the measured curves
    {"w", "accuracy", "spread"} (accuracy over all classes, spread averaged over classes).
    """
    require_callable(sample_fn, "sample_fn")
    check_argument("prototypes", prototypes, (None, None, 2))
    K, H = prototypes.shape[0], prototypes.shape[1]
    names = list(class_names) if class_names is not None else [f"class {k}" for k in range(K)]
    if len(names) != K:
        raise ValueError(f"class_names: expected {K} names (one per prototype), got {len(names)}")
    ws = [float(v) for v in w_values]
    steps = np.diff(ws)
    if len(ws) < 2 or np.any(steps <= 0) or not np.allclose(steps, steps[0]):
        raise ValueError(f"w_values: expected at least two evenly spaced increasing values, got {ws}")
    if not ws[0] <= w <= ws[-1]:
        raise ValueError(f"w: expected a value in [{ws[0]}, {ws[-1]}], got {w}")
    label = fn_label(sample_fn, "sample_fn")

    cache: dict[tuple[int, float], torch.Tensor] = {}

    def samples(k: int, scale: float) -> torch.Tensor:
        key = (k, round(scale, 6))
        if key not in cache:
            cache[key] = check_returned(label, sample_fn(k, scale), (None, H, 2))    # (N, H, 2)
        return cache[key]

    sweep = {"w": ws, "accuracy": [], "spread": []}
    for scale in ws:
        xs = [samples(k, scale) for k in range(K)]
        labels = torch.cat([torch.full((len(x),), k) for k, x in enumerate(xs)])
        sweep["accuracy"].append(class_accuracy(torch.cat(xs), labels, prototypes))
        sweep["spread"].append(sum(spread(x) for x in xs) / K)

    controls = {"w": float_slider("guidance w", w, ws[0], ws[-1], float(steps[0]), ".2f"),
                "class": dropdown("class", names)}

    fig = Figure(make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], subplot_titles=(
        "samples at this w (grey: the class prototype)", "fidelity and diversity against w")))
    fig.add_scatter(x=np.zeros(1), y=np.zeros(1), mode="lines", name="samples",
                    line=dict(width=1, color="royalblue"), opacity=0.6, row=1, col=1)
    fig.add_scatter(x=np.zeros(1), y=np.zeros(1), mode="lines", name="prototype",
                    line=dict(width=4, color="grey", dash="dash"), row=1, col=1)
    w_axis = np.asarray(ws, dtype=np.float64)
    fig.add_scatter(x=w_axis, y=np.asarray(sweep["accuracy"], np.float64), mode="lines+markers",
                    name="class accuracy", line=dict(color="seagreen"), row=1, col=2)
    fig.add_scatter(x=w_axis, y=np.asarray(sweep["spread"], np.float64), mode="lines+markers",
                    name="spread", line=dict(color="darkorange"), row=1, col=2)
    fig.add_scatter(x=np.zeros(2), y=np.zeros(2), mode="markers", name="current w", showlegend=False,
                    marker=dict(size=14, color="black", symbol="circle-open"), row=1, col=2)
    proto = to_numpy(prototypes)
    r = 1.3 * float(np.abs(proto).max())
    fig.update_xaxes(range=[-r, r], row=1, col=1)
    fig.update_yaxes(range=[-r, r], scaleanchor="x", scaleratio=1, row=1, col=1)
    fig.update_xaxes(title_text="guidance scale w", row=1, col=2)
    fig.update_layout(height=420, margin=dict(t=90, l=40, r=20, b=40), legend=dict(orientation="h", y=-0.15))

    def update() -> None:
        scale, name = controls["w"].value, controls["class"].value
        k = names.index(name)
        i = int(np.argmin(np.abs(w_axis - scale)))                                   # the slider stops on the grid
        xs, ys = polylines(to_numpy(samples(k, ws[i])))
        with fig.batch_update():
            fig.data[0].x, fig.data[0].y = xs, ys
            fig.data[1].x, fig.data[1].y = proto[k, :, 0], proto[k, :, 1]
            fig.data[4].x = np.array([ws[i], ws[i]])
            fig.data[4].y = np.array([sweep["accuracy"][i], sweep["spread"][i]])
            fig.layout.title.text = (f"class = {name}, w = {ws[i]:.2f}: class accuracy {sweep['accuracy'][i]:.2f}, "
                                     f"spread {sweep['spread'][i]:.2f} (all classes)")

    panel = Panel(fig, controls, update, rows=[["w", "class"]], kind="guidance", bank="w")
    panel.sweep = sweep
    return panel
