"""The picture of 09_pi0: two sets of weights meeting in one attention, next to the blockwise mask (not graded).

Drawn by the course (``coursekit.kit.diagrams``) after Black et al. 2024 (pi0) and after this course's
``ToyPi0.velocity_full``: in every layer the prefix tokens (image patches, words) go through the VLM's
weights and the suffix tokens (state, noisy actions) through the action expert's weights; their
queries, keys and values are concatenated and attend in **one** attention under the blockwise mask,
and each group's output goes back through its own weights.

The mask panel is not drawn by hand: it is the output of the ``blockwise_mask`` function passed in
(yours in the notebook), so the picture and the code cannot disagree.
"""
from __future__ import annotations

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from coursekit.kit.diagrams import Diagram, finish
from coursekit.validate import check_tensor


def layer_diagram() -> Diagram:
    """One layer of the toy pi0: two columns of weights, one shared attention in the middle."""
    d = Diagram()
    columns = [("vlm", -2.3, -1.9, "prefix: 16 image patches | 4 words", "VLM weights (width 128)"),
               ("exp", 2.3, 1.9, "suffix: state | 50 noisy actions (+ time)", "action-expert weights (width 32)")]
    attention_y = 2.9
    d.box("shared", 0, attention_y, "ONE shared attention over all 71 tokens<br>"
          "softmax(q k<sup>T</sup> / √16, blockwise mask) v", "attention", w=6.2, h=0.75)
    for side, x, skip_dx, tokens, weights in columns:
        d.box(f"{side}_in", x, 0, tokens, "tokens", w=3.3)
        d.box(f"{side}_norm1", x, 0.8, "RMSNorm", "norm", w=2.6)
        d.box(f"{side}_qkv", x, 1.6, f"q, k, v projections<br>{weights}", "mlp" if side == "exp" else "condition",
              w=2.6, h=0.65)
        d.arrow(f"{side}_in", f"{side}_norm1")
        d.arrow(f"{side}_norm1", f"{side}_qkv")
        d.arrow(d.boxes[f"{side}_qkv"].top(), (x, attention_y - 0.375), text="q, k, v (heads of 16)")
        d.box(f"{side}_proj", x, 4.15, f"output projection<br>({'VLM' if side == 'vlm' else 'expert'} weights)",
              "mlp" if side == "exp" else "condition", w=2.6, h=0.6)
        d.arrow((x, attention_y + 0.375), f"{side}_proj")
        plus = d.op(f"{side}_add1", x, 4.95)
        d.arrow(f"{side}_proj", f"{side}_add1")
        start = d.boxes[f"{side}_in"].top()
        d.arrow((x, start[1] + 0.15), (x + skip_dx, start[1] + 0.15), (x + skip_dx, plus.y),
                plus.left() if skip_dx < 0 else plus.right())
        add2 = d.residual(f"{side}_add1", [("norm2", "RMSNorm", "norm"),
                                          ("mlp", f"MLP ({'VLM' if side == 'vlm' else 'expert'} weights)",
                                           "mlp" if side == "exp" else "condition")],
                          prefix=f"{side}_mlp_", skip_dx=skip_dx)
        d.box(f"{side}_out", x, d.boxes[add2].y + 0.75,
              "prefix to the next layer" if side == "vlm" else "suffix to the next layer", "tokens", w=3.3)
        d.arrow(add2, f"{side}_out")
    return d


def mask_panel(blockwise_mask, num_prefix: int, num_state: int, num_actions: int) -> tuple[go.Heatmap, list[str]]:
    """The heat map of ``blockwise_mask(num_prefix, num_state, num_actions)`` and its token names."""
    mask = blockwise_mask(num_prefix, num_state, num_actions)
    L = num_prefix + num_state + num_actions
    check_tensor("blockwise_mask(...)", mask, shape=(L, L), dtype=torch.bool)
    names = [f"p{i + 1}" for i in range(num_prefix)] + [f"s{i + 1}" if num_state > 1 else "s" for i in range(num_state)] \
        + [f"a{i + 1}" for i in range(num_actions)]
    heat = go.Heatmap(z=mask.int().numpy(), x=names, y=names, zmin=0, zmax=1, showscale=False, xgap=1, ygap=1,
                      colorscale=[[0, "#f4f4f4"], [0.5, "#f4f4f4"], [0.5, "#2f6db5"], [1, "#2f6db5"]],
                      hovertemplate="query %{y}, key %{x}: %{z}<extra></extra>")
    return heat, names


def pi0_layer_figure(blockwise_mask, num_prefix: int = 6, num_state: int = 1, num_actions: int = 5) -> go.Figure:
    """Left: one layer, two sets of weights, one attention. Right: ``blockwise_mask``'s output (blue = may
    attend; rows are queries, columns keys) for a small example: prefix tokens p, the state s, actions a."""
    heat, names = mask_panel(blockwise_mask, num_prefix, num_state, num_actions)
    fig = make_subplots(rows=1, cols=2, column_widths=[0.64, 0.36], horizontal_spacing=0.06,
                        subplot_titles=("one layer: two sets of weights, one attention",
                                        f"blockwise_mask({num_prefix}, {num_state}, {num_actions})"))
    layer_diagram().draw(fig, 1, 1, font_size=10)
    fig.add_trace(heat, row=1, col=2)
    fig.update_yaxes(autorange="reversed", title="query", scaleanchor="x2", row=1, col=2)
    fig.update_xaxes(title="key", side="bottom", row=1, col=2)
    for edge in (num_prefix, num_prefix + num_state):
        for kind in ("x", "y"):
            line = dict(x0=edge - 0.5, x1=edge - 0.5, y0=-0.5, y1=len(names) - 0.5) if kind == "x" else \
                dict(y0=edge - 0.5, y1=edge - 0.5, x0=-0.5, x1=len(names) - 0.5)
            fig.add_shape(type="line", line=dict(color="#c0392b", width=2), row=1, col=2, **line)
    return finish(
        fig, "pi0 (Black et al. 2024): a VLM and an action expert share attention in every layer",
        "Blue: may attend. The prefix sees only the prefix, the state the prefix and itself, the actions "
        "everything (both ways within each block; no causal triangle).<br>Course simplification: the toy's VLM is "
        "a small frozen random encoder (pi0 fine-tunes a pretrained PaliGemma together with the expert), "
        "2 layers (pi0: 18).", width=1100, height=640, caption_y=-0.16, bottom=120)
