"""The picture of 05_robotic_dits: RDT's block and its alternating condition injection (not graded).

Drawn by the course (``coursekit.kit.diagrams``) after Liu et al. 2024, *RDT-1B*, and after this
course's own ``RDTBlock`` / ``TinyRDT``: RMSNorm before each sub-layer, QK-normalised self-attention,
cross-attention to condition tokens, a feed-forward layer, all residual; block i cross-attends to the
language tokens when i is even and to the image tokens when i is odd.

``rdt_block_figure(inject_conditions)`` can take an ``inject_conditions`` function (yours, or the
reference): the routing in the right panel is then *measured* by running it on blocks that record
which condition they receive, so the picture shows what the code does.
"""
from __future__ import annotations

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from coursekit.kit.diagrams import Diagram, finish

LANGUAGE, IMAGE = "language", "image"
NUM_LANG, NUM_IMG = 3, 5      # token counts of the probe: they tell the two conditions apart


def injection_routing(inject_conditions=None, depth: int = 4) -> list[str]:
    """Which condition each of ``depth`` blocks cross-attends to: "language" or "image".

    With a function ``inject_conditions(x, blocks, lang_tokens, img_tokens, ...)``, measured: each
    block is a recorder that notes the number of condition tokens it is handed. Without one, RDT's
    rule (language in even blocks, image in odd blocks)."""
    if inject_conditions is None:
        return [LANGUAGE if i % 2 == 0 else IMAGE for i in range(depth)]
    seen: list[str] = []

    def recorder(x, tokens, mask=None):
        seen.append({NUM_LANG: LANGUAGE, NUM_IMG: IMAGE}.get(tokens.shape[1], "neither"))
        return x

    d = 4
    inject_conditions(torch.zeros(1, 2, d), [recorder] * depth, torch.zeros(1, NUM_LANG, d),
                      torch.ones(1, NUM_IMG, d))
    if len(seen) != depth:
        raise ValueError(f"inject_conditions called {len(seen)} of the {depth} blocks (expected each once, in order)")
    return seen


def block_diagram() -> Diagram:
    """One RDT block in detail (the course's ``RDTBlock``)."""
    d = Diagram()
    d.box("in", 0, 0, "tokens in: [time | noisy action chunk + mask]", "tokens", w=3.4)
    add1 = d.residual("in", [("norm1", "RMSNorm", "norm"),
                             ("attn", "self-attention, QK-norm", "attention")], prefix="sa_")
    add2 = d.residual(add1, [("norm2", "RMSNorm", "norm"),
                               ("cross", "cross-attention, QK-norm", "attention")], prefix="ca_")
    add3 = d.residual(add2, [("norm3", "RMSNorm", "norm"), ("ffn", "feed-forward (MLP)", "mlp")],
                      prefix="ff_")
    d.box("out", 0, d.boxes[add3].y + 0.8, "tokens out", "tokens", w=3.4)
    d.arrow(add3, "out")
    cross = d.boxes["ca_cross"]
    d.box("cond", 3.0, cross.y, "keys, values:<br>language tokens (even i)<br>or image tokens (odd i)",
          "condition", w=2.3, h=0.9)
    d.arrow("cond", "ca_cross", text="K, V")
    d.label(3.0, d.boxes["sa_attn"].y, "QK-norm: RMSNorm on each<br>head's queries and keys")
    return d


def routing_diagram(routing: list[str]) -> Diagram:
    """The stack of blocks with the condition each one cross-attends to, and the MLP decoder on top."""
    d = Diagram()
    depth, dy = len(routing), 1.0
    d.box("in", 0, 0, "time token + action tokens", "tokens", w=2.6)
    prev = "in"
    for i, source in enumerate(routing):
        key = f"block{i}"
        d.box(key, 0, (i + 1) * dy, f"block {i}: cross-attends to {source}", "attention", w=2.6)
        d.arrow(prev, key)
        prev = key
    top = (depth + 1) * dy
    d.box("decoder", 0, top, "MLP decoder (RMSNorm, Linear, GELU, Linear)", "mlp", w=3.5)
    d.arrow(prev, "decoder")
    d.box("pred", 0, top + dy, "prediction for all 128 unified slots", "tokens", w=2.6)
    d.arrow("decoder", "pred")
    span = depth * dy
    d.box(LANGUAGE, -2.6, (1 + depth) * dy / 2, "language<br>tokens<br>(instruction)", "condition", w=1.3, h=span)
    d.box(IMAGE, 2.6, (1 + depth) * dy / 2, "image<br>tokens<br>(cameras)", "condition", w=1.3, h=span)
    for i, source in enumerate(routing):
        y = (i + 1) * dy
        if source == LANGUAGE:
            d.arrow((-1.95, y), (-1.3, y))
        elif source == IMAGE:
            d.arrow((1.95, y), (1.3, y))
    return d


def rdt_block_figure(inject_conditions=None, depth: int = 4) -> go.Figure:
    """Left: one RDT block. Right: ``depth`` blocks and the condition each cross-attends to (measured
    from ``inject_conditions`` when given). Returns a plotly figure."""
    routing = injection_routing(inject_conditions, depth)
    fig = make_subplots(rows=1, cols=2, column_widths=[0.5, 0.5], horizontal_spacing=0.04,
                        subplot_titles=("one RDT block", "alternating condition injection"))
    block_diagram().draw(fig, 1, 1, font_size=10)
    routing_diagram(routing).draw(fig, 1, 2, font_size=10)
    return finish(
        fig, "RDT's block (Liu et al. 2024, RDT-1B), as this course builds it",
        "Why alternate: image tokens far outnumber the instruction's tokens; attending to both at once would let "
        "the images drown the instruction.<br>Course simplification: TinyRDT has 2 blocks (RDT-1B: 28), a time "
        "token only (RDT-1B adds control frequency and proprioception), word embeddings for the<br>language "
        "tokens (RDT-1B: T5-XXL) and 2 tokens from the observation as the image tokens (RDT-1B: SigLIP features "
        "of several cameras).", width=980, height=600, caption_y=-0.04)
