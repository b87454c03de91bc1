"""Widgets of the robotic DiTs assignment (05_robotic_dits).

- ``unified_slot_map``: which of the 128 unified action slots a robot fills, and with what;
- ``norm_comparison``: LayerNorm and RMSNorm applied to the same token, under a shift and a gain.

Each takes the learner's functions as arguments and follows widgets/_plumbing.py.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from plotly.subplots import make_subplots

from ._figure import Figure
from ._panel import Panel
from ._plumbing import (check_argument, check_returned, dropdown, float_slider, fn_label, int_slider, readout,
                        require_callable, to_numpy)


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
    fig = Figure(make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25],
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
    fig = Figure()
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

    return Panel(fig, controls, update, rows=[["token"], ["shift", "gain"]], kind="norm-comparison",
                 bank="shift")
