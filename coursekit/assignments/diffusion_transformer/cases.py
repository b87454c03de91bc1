"""Seeded inputs for the graded pieces of 04_diffusion_transformer (one function per graded name).

Graded classes are checked through harnesses (coursekit.harness): build the class under a seed,
record a verdict about the freshly initialised module (adaLN-Zero: "the identity at
initialisation"), then load seeded weights by name and compare the forward pass.
"""
from __future__ import annotations

import torch

from coursekit.checks.cases import Harnessed, Seeded
from coursekit.checks.harness import build, linear, load_seeded


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class ToyLabelEpsModel:
    """A fixed 'noise predictor' eps(x, t, y) = tanh(a x + b t / 10 + e[y]) with seeded a, b and a
    seeded offset e[y] (last axis) per label 0..num_classes (the last one is the null label)."""

    def __init__(self, seed: int, num_classes: int, dim: int):
        g = _gen(20_000 + seed)
        self.num_classes = num_classes
        self.a = 0.5 + torch.rand((), generator=g)
        self.b = 0.1 + 0.2 * torch.rand((), generator=g)
        self.e = torch.randn(num_classes + 1, dim, generator=g)

    def __call__(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if t.shape != (x.shape[0],) or y.shape != (x.shape[0],):
            raise ValueError(f"model: expected t and y of shape ({x.shape[0]},), got {tuple(t.shape)}, {tuple(y.shape)}")
        view = (-1, *([1] * (x.ndim - 1)))
        offset = self.e[y].reshape(x.shape[0], *([1] * (x.ndim - 2)), -1)
        return torch.tanh(self.a * x + self.b * t.to(x.dtype).reshape(view) / 10 + offset)


# ----------------------------------------------------------------------------- layouts and harnesses
def block_layout(d: int, mlp_hidden: int, prefix: str = "") -> dict:
    """Parameter names and shapes of a DiTBlock(d, heads, mlp_ratio = mlp_hidden / d)."""
    return {**linear(f"{prefix}attn.qkv", d, 3 * d), **linear(f"{prefix}attn.proj", d, d),
            **linear(f"{prefix}mlp.fc1", d, mlp_hidden), **linear(f"{prefix}mlp.fc2", mlp_hidden, d),
            **linear(f"{prefix}adaLN_modulation.1", d, 6 * d)}


def final_layout(d: int, out_dim: int, prefix: str = "") -> dict:
    return {**linear(f"{prefix}adaLN_modulation.1", d, 2 * d), **linear(f"{prefix}linear", d, out_dim)}


def dit_layout(action_dim, horizon, num_classes, hidden_size, depth, mlp_ratio, freq_dim) -> dict:
    d = hidden_size
    layout = {**linear("x_embedder", action_dim, d), "pos_embed": (1, horizon, d),
              **linear("t_embedder.0", freq_dim, d), **linear("t_embedder.2", d, d),
              "y_embedder.weight": (num_classes + 1, d), **final_layout(d, action_dim, "final_layer.")}
    for i in range(depth):
        layout.update(block_layout(d, int(d * mlp_ratio), f"blocks.{i}."))
    return layout


IDENTITY, NOT_IDENTITY = "the identity at initialisation", "not the identity at initialisation"
ZERO, NOT_ZERO = "outputs 0 at initialisation", "does not output 0 at initialisation"


def run_dit_block(cls, hidden_size, num_heads, mlp_ratio, x, c, seed):
    """(verdict at initialisation, output with seeded weights) of a DiTBlock class."""
    block = build(cls, seed, hidden_size=hidden_size, num_heads=num_heads, mlp_ratio=mlp_ratio)
    verdict = IDENTITY if torch.equal(block(x, c), x) else NOT_IDENTITY
    load_seeded(block, block_layout(hidden_size, int(hidden_size * mlp_ratio)), seed)
    return verdict, block(x, c)


def run_final_layer(cls, hidden_size, out_dim, x, c, seed):
    layer = build(cls, seed, hidden_size=hidden_size, out_dim=out_dim)
    out = layer(x, c)
    verdict = ZERO if torch.equal(out, torch.zeros_like(out)) else NOT_ZERO
    load_seeded(layer, final_layout(hidden_size, out_dim), seed)
    return verdict, layer(x, c)


def run_action_dit(cls, config, x, t, y, seed):
    model = build(cls, seed, **config)
    out = model(x, t, y)
    verdict = ZERO if torch.equal(out, torch.zeros_like(out)) else NOT_ZERO
    layout = dit_layout(config["action_dim"], config["horizon"], config["num_classes"], config["hidden_size"],
                        config["depth"], config["mlp_ratio"], config["freq_dim"])
    load_seeded(model, layout, seed)
    return verdict, model(x, t, y)


# ----------------------------------------------------------------------------- cases
def timestep_embedding(seed: int) -> dict:
    g = _gen(100 + seed)
    t = torch.cat([torch.tensor([0.0, 1.0, 999.0]), 50 * torch.rand(2 + seed, generator=g)])  # t = 0 shows the order
    dim = [16, 9, 12, 7, 32][seed % 5]                                                        # odd sizes are padded
    out = {"t": t, "dim": dim}
    if seed == 3:
        out["max_period"] = 100.0
    return out


def modulate(seed: int) -> dict:
    g = _gen(200 + seed)
    B, N, d = [(3, 5, 4), (2, 7, 6), (4, 3, 5), (1, 6, 8), (5, 2, 3)][seed % 5]               # B != N != d
    return {"x": torch.randn(B, N, d, generator=g), "shift": torch.randn(B, d, generator=g),
            "scale": torch.randn(B, d, generator=g)}


def DiTBlock(seed: int) -> dict:
    g = _gen(300 + seed)
    d, heads = [(8, 2), (12, 3), (8, 4), (16, 2), (6, 3)][seed % 5]
    B, N = 3, 5
    return Harnessed(run_dit_block, hidden_size=d, num_heads=heads, mlp_ratio=2.0,
                     x=torch.randn(B, N, d, generator=g), c=torch.randn(B, d, generator=g), seed=seed)


def FinalLayer(seed: int) -> dict:
    g = _gen(400 + seed)
    d, out_dim = [(8, 3), (6, 2), (12, 5), (4, 1), (10, 4)][seed % 5]
    return Harnessed(run_final_layer, hidden_size=d, out_dim=out_dim,
                     x=torch.randn(3, 5, d, generator=g), c=torch.randn(3, d, generator=g), seed=seed)


def ActionDiT(seed: int) -> dict:
    g = _gen(500 + seed)
    config = dict(action_dim=2 + seed % 2, horizon=5, num_classes=3, hidden_size=8, depth=2,
                  num_heads=2, mlp_ratio=2.0, freq_dim=[6, 5, 8, 6, 4][seed % 5])
    B = 4
    t = torch.randint(0, 50, (B,), generator=g)
    t[0] = 0
    y = torch.randint(0, 4, (B,), generator=g)
    y[-1] = 3                                                                                  # the null label
    return Harnessed(run_action_dit, config=config, x=torch.randn(B, 5, config["action_dim"], generator=g),
                     t=t, y=y, seed=seed)


def drop_condition(seed: int) -> dict:
    g = _gen(600 + seed)
    return {"y": torch.randint(0, 5, (16,), generator=g), "null_label": 5,
            "p_uncond": [0.3, 0.6, 0.1, 0.0, 1.0][seed % 5], "generator": Seeded(650 + seed)}


def guided_eps(seed: int) -> dict:
    g = _gen(700 + seed)
    shape = [(3, 4, 2), (2, 5, 3), (4, 3, 2), (3, 2), (2, 6, 2)][seed % 5]
    return {"model": ToyLabelEpsModel(seed, num_classes=4, dim=shape[-1]), "x": torch.randn(shape, generator=g),
            "t": torch.randint(0, 50, (shape[0],), generator=g), "y": torch.randint(0, 4, (shape[0],), generator=g),
            "w": [2.5, 1.0, 0.0, 4.0, 1.5][seed % 5], "null_label": 4}
