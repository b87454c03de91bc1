"""The picture of 04_diffusion_transformer: the DiT block with adaLN-Zero (not graded).

Drawn by the course (``coursekit.kit.diagrams``) after Peebles & Xie 2023 (DiT) and after this
course's own ``DiTBlock`` and ``ActionDiT``: the condition c = t_embedder(timestep_embedding(t)) +
y_embedder(y) goes through SiLU and one zero-initialised Linear(d, 6d), whose six vectors are the
shift, scale and gate of the attention branch and of the MLP branch (``MODULATION``, in the order the
block splits them).
"""
from __future__ import annotations

import plotly.graph_objects as go

from coursekit.kit.diagrams import Diagram

# the six (B, d) vectors of adaLN_modulation(c).chunk(6), in order
MODULATION = ("shift_msa", "scale_msa", "gate_msa", "shift_mlp", "scale_mlp", "gate_mlp")


def dit_block_diagram() -> Diagram:
    d = Diagram()
    d.box("in", 0, 0, "tokens x (B, H, d): one per step of the noisy chunk", "tokens", w=3.6)
    add1 = d.residual("in", [("norm", "LayerNorm (no affine)", "norm"),
                             ("mod", "modulate: x (1 + scale) + shift", "modulation"),
                             ("attn", "multi-head self-attention", "attention"),
                             ("gate", "×", "op")], prefix="msa_", skip_dx=-2.1)
    add2 = d.residual(add1, [("norm", "LayerNorm (no affine)", "norm"),
                             ("mod", "modulate: x (1 + scale) + shift", "modulation"),
                             ("mlp", "MLP (pointwise feed-forward)", "mlp"),
                             ("gate", "×", "op")], prefix="mlp_", skip_dx=-2.1)
    d.box("out", 0, d.boxes[add2].y + 0.8, "tokens out (B, H, d)", "tokens", w=3.6)
    d.arrow(add2, "out")
    for b in ("msa_mod", "msa_attn", "mlp_mod", "mlp_mlp", "msa_norm", "mlp_norm"):
        d.boxes[b].w = 2.6

    # adaLN-Zero: one Linear(d, 6d) on SiLU(c), drawn as a bus feeding the four places it acts on
    low, high = d.boxes["msa_mod"].y - 0.4, d.boxes["mlp_gate"].y + 0.4
    bus = d.box("adaln", 4.6, (low + high) / 2,
                "adaLN_modulation<br>SiLU, Linear(d, 6d)<br><br>weight and bias<br>zero at initialisation:<br>"
                "all six vectors are 0,<br>so both gates are 0<br>and the block is<br>the identity",
                "modulation", w=1.9, h=high - low)
    shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = MODULATION
    targets = [("msa_mod", f"{shift_msa}, {scale_msa}"), ("msa_gate", gate_msa),
               ("mlp_mod", f"{shift_mlp}, {scale_mlp}"), ("mlp_gate", gate_mlp)]
    for key, text in targets:
        b = d.boxes[key]
        d.arrow((bus.x - bus.w / 2, b.y), b.right(), text=text, color="#7a4fa3")

    # the condition: time and label embeddings summed into c
    cx = 7.6
    d.box("t", cx - 0.9, 0.0, "diffusion step t", "condition", w=1.6)
    d.box("temb", cx - 0.9, 0.9, "timestep_embedding<br>[cos, sin]", "condition", w=1.6, h=0.6)
    d.box("tmlp", cx - 0.9, 1.9, "t_embedder<br>Linear, SiLU, Linear", "condition", w=1.6, h=0.6)
    d.box("y", cx + 0.95, 0.0, "class label y", "condition", w=1.6)
    d.box("yemb", cx + 0.95, 1.9, "y_embedder (table;<br>+1 row: null label)", "condition", w=1.6, h=0.6)
    d.arrow("t", "temb")
    d.arrow("temb", "tmlp")
    d.arrow("y", "yemb")
    plus = d.op("csum", cx, 3.0, "+")
    d.arrow("tmlp", (cx - 0.9, plus.y), plus.left())
    d.arrow("yemb", (cx + 0.95, plus.y), plus.right())
    d.box("c", cx, bus.y, "c (B, d)<br>same for every token", "condition", w=1.6, h=0.6)
    d.arrow("csum", "c")
    d.arrow("c", (bus.x + bus.w / 2, bus.y))
    return d


def dit_block_figure() -> go.Figure:
    """The DiT block with adaLN-Zero as the course's ``DiTBlock`` computes it. Returns a plotly figure."""
    return dit_block_diagram().figure(
        "The DiT block with adaLN-Zero (after Peebles & Xie 2023), as you build it",
        "Each branch: x = x + gate * branch(modulate(norm(x), shift, scale)). The block is DiT's; the one change "
        "in this course is what the tokens are:<br>the H steps of an action chunk (DiT: patches of an image "
        "latent), with a learned position embedding (DiT: fixed 2-D sine-cosine).", width=1000, height=690)
