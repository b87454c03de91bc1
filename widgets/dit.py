"""Widgets of the Diffusion Transformer assignments (04_diffusion_transformer, 05_robotic_dits).

- ``guidance_explorer``: a guidance-scale slider over class-conditional samples, with class accuracy
  (fidelity) and spread (diversity) measured against w;
- ``unified_slot_map``: which of the 128 unified action slots a robot fills, and with what;
- ``norm_comparison``: LayerNorm and RMSNorm applied to the same token, under a shift and a gain.

Each takes the learner's functions as arguments and follows widgets/_plumbing.py.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from plotly.subplots import make_subplots

from coursekit.kit.trajectories import class_accuracy, spread
from ._plumbing import (Panel, check_argument, check_returned, dropdown, float_slider, fn_label, int_slider, polylines,
                        require_callable, to_numpy)


def readout(value: float, fmt: str = ".2f") -> str:
    """A number as a slider shows it (d3-format writes negatives with the minus sign U+2212)."""
    return format(value, fmt).replace("-", "\u2212")


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

    fig = go.FigureWidget(make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], subplot_titles=(
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


# ----------------------------------------------------------------------------- unified action space
def unified_slot_map(to_unified: Callable, robots: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
                     slot_names: Sequence[str]) -> Panel:
    """Which unified slots each robot fills: the unified vector and its mask for one action.

    to_unified(actions (B, H, J), slots (J,) int64) -> (unified (B, H, S) float32, mask (B, S) bool).
    robots: name -> (slots (J,) int64 slot index of each joint, actions (N, J) float32 examples).
    slot_names: the S names of the unified slots (S = 128 in RDT).
    Returns a Panel with controls "robot" and "sample".
    """
    require_callable(to_unified, "to_unified")
    if not isinstance(robots, Mapping) or not robots:
        raise TypeError(f"robots: expected a non-empty dict name -> (slots, actions), got {robots!r}")
    S = len(slot_names)
    for name, (slots, actions) in robots.items():
        check_argument(f"robots[{name!r}] slots", slots, (None,), torch.int64)
        check_argument(f"robots[{name!r}] actions", actions, (None, len(slots)))
    label = fn_label(to_unified, "to_unified")
    n_max = min(len(a) for _, a in robots.values())

    controls = {"robot": dropdown("robot", list(robots)), "sample": int_slider("sample", 0, 0, n_max - 1)}
    fig = go.FigureWidget(make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25],
                                        vertical_spacing=0.06, subplot_titles=("unified action vector", "mask")))
    slots_axis = np.arange(S, dtype=np.float64)
    fig.add_bar(x=slots_axis, y=np.zeros(S), name="value", marker_color="royalblue",
                hovertext=list(slot_names), row=1, col=1)
    fig.add_bar(x=slots_axis, y=np.zeros(S), name="mask (1 = filled)", marker_color="seagreen",
                hovertext=list(slot_names), row=2, col=1)
    fig.update_yaxes(range=[-0.1, 1.1], row=2, col=1)
    fig.update_xaxes(title_text="unified slot index", range=[-1, S], row=2, col=1)
    fig.update_layout(height=420, bargap=0.1, margin=dict(t=90, l=40, r=20, b=40), showlegend=False,
                      title_font_size=12)

    def update() -> None:
        name, i = controls["robot"].value, controls["sample"].value
        slots, actions = robots[name]
        out = to_unified(actions[i:i + 1, None, :], slots)                        # (1, 1, J) -> (1, 1, S), (1, S)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise ValueError(f"{label} returned {type(out).__name__}; expected a pair (unified, mask)")
        unified = check_returned(f"{label} (unified)", out[0], (1, 1, S))
        mask = check_returned(f"{label} (mask)", out[1], (1, S), torch.bool)
        filled = [f"{slot_names[j]} ({j})" for j in torch.nonzero(mask[0]).flatten().tolist()]
        with fig.batch_update():
            fig.data[0].y = to_numpy(unified[0, 0])
            fig.data[1].y = to_numpy(mask[0].float())
            fig.layout.title.text = (f"robot = {name}, sample {i}: {len(filled)} of {S} slots filled:<br>"  # names wrap
                                     + ", ".join(filled))

    return Panel(fig, controls, update, rows=[["robot", "sample"]], kind="slot-map", bank="sample")


# ----------------------------------------------------------------------------- LayerNorm vs RMSNorm
def norm_comparison(rms_norm: Callable, tokens: torch.Tensor, eps: float = 1e-6) -> Panel:
    """One token, shifted and scaled, through LayerNorm (no affine) and through ``rms_norm``.

    rms_norm(x (..., d), weight (d,), eps) -> (..., d) float32 (weight = ones here).
    tokens: (N, d) float32. The shown input is gain * tokens[i] + shift.
    LayerNorm subtracts the mean, so the shift vanishes from its output; RMSNorm only divides
    by the root mean square, so the shift stays. Both ignore a positive gain.
    Returns a Panel with controls "token", "shift" and "gain".
    """
    require_callable(rms_norm, "rms_norm")
    check_argument("tokens", tokens, (None, None))
    N, d = tokens.shape
    label = fn_label(rms_norm, "rms_norm")
    controls = {"token": int_slider("token", 0, 0, N - 1),
                "shift": float_slider("shift", 0.0, -3.0, 3.0, 0.25, ".2f"),
                "gain": float_slider("gain", 1.0, 0.25, 4.0, 0.25, ".2f")}
    fig = go.FigureWidget()
    features = np.arange(d, dtype=np.float64)
    for name, color in (("input", "lightgray"), ("LayerNorm", "royalblue"), ("RMSNorm", "crimson")):
        fig.add_scatter(x=features, y=np.zeros(d), mode="lines+markers", name=name, line=dict(color=color))
    fig.update_xaxes(title_text="feature")
    fig.update_layout(height=380, margin=dict(t=80, l=40, r=20, b=40))

    def update() -> None:
        i, shift, gain = controls["token"].value, controls["shift"].value, controls["gain"].value
        x = gain * tokens[i] + shift                                                   # (d,)
        ln = F.layer_norm(x, (d,), eps=eps)                                            # (d,)
        rms = check_returned(label, rms_norm(x[None], torch.ones(d), eps), (1, d))[0]  # (d,)
        with fig.batch_update():
            for trace, y in zip(fig.data, (x, ln, rms)):
                trace.y = to_numpy(y)
            fig.layout.title.text = (f"token {i}, shift {readout(shift)}, gain {readout(gain)}: input mean "
                                     f"{readout(float(x.mean()))}, RMS {readout(float(x.pow(2).mean().sqrt()))}; "
                                     f"output means: LayerNorm {readout(float(ln.mean()) + 0.0)}, "
                                     f"RMSNorm {readout(float(rms.mean()))}")

    return Panel(fig, controls, update, rows=[["token"], ["shift", "gain"]], kind="norm-comparison")
