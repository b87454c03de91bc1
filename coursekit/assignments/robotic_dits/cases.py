"""Seeded inputs for the graded pieces of 05_robotic_dits (one function per graded name)."""
from __future__ import annotations

import torch

from coursekit.assignments.diffusion_transformer.cases import IDENTITY, NOT_IDENTITY, block_layout
from coursekit.checks.harness import value_and_gradients
from coursekit.checks.cases import Harnessed
from coursekit.checks.harness import build, linear, load_seeded


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _mask(g: torch.Generator, B: int, M: int) -> torch.Tensor:
    """(B, M) bool with some False entries but at least one True per row."""
    mask = torch.rand(B, M, generator=g) < 0.6
    mask[:, 0] = True
    mask[-1, -1] = False
    return mask


class ToyCrossBlock:
    """A fixed stand-in for a cross-attention block: x + tanh(x A + masked_mean(c) U), seeded A, U.

    Its output depends on which tokens c it gets and on the mask (the masked mean skips padding),
    so the order of conditions and the masks both show in the result.
    """

    def __init__(self, seed: int, d: int):
        g = _gen(30_000 + seed)
        self.A = torch.randn(d, d, generator=g) / d ** 0.5
        self.U = torch.randn(d, d, generator=g) / d ** 0.5

    def __call__(self, x, c, mask=None):
        if mask is None:
            pooled = c.mean(dim=1)                                                    # (B, d)
        else:
            if mask.shape != c.shape[:2]:
                raise ValueError(f"block: expected a mask of shape {tuple(c.shape[:2])}, got {tuple(mask.shape)}")
            m = mask[..., None].float()
            pooled = (c * m).sum(1) / m.sum(1)
        return x + torch.tanh(x @ self.A + (pooled @ self.U)[:, None, :])


# ----------------------------------------------------------------------------- harnesses
def run_mlp_decoder(cls, hidden_size, out_dim, x, seed):
    decoder = build(cls, seed, hidden_size=hidden_size, out_dim=out_dim)
    layout = {"norm_weight": (hidden_size,), **linear("fc1", hidden_size, hidden_size),
              **linear("fc2", hidden_size, out_dim)}
    return load_seeded(decoder, layout, seed)(x)


def run_decoder_block(cls, hidden_size, num_heads, mlp_ratio, x, t_emb, enc, seed):
    block = build(cls, seed, hidden_size=hidden_size, num_heads=num_heads, mlp_ratio=mlp_ratio)
    verdict = IDENTITY if torch.equal(block(x, t_emb, enc), x) else NOT_IDENTITY
    load_seeded(block, block_layout(hidden_size, int(hidden_size * mlp_ratio)), seed)
    return verdict, block(x, t_emb, enc)


# ----------------------------------------------------------------------------- cases
def rms_norm(seed: int) -> dict:
    g = _gen(100 + seed)
    shape = [(3, 4, 8), (5, 6), (2, 3, 4, 5), (7, 3), (2, 9)][seed % 5]
    scale = [1.0, 0.3, 2.0, 0.5, 1.0][seed % 5]                                       # small x: eps matters
    out = {"x": scale * torch.randn(shape, generator=g) + 0.5,                         # non-zero mean
           "weight": 1 + 0.3 * torch.randn(shape[-1], generator=g)}
    out["eps"] = [1e-6, 0.5, 1e-5, 0.1, 1e-6][seed % 5]
    return out


def qk_norm_attention(seed: int) -> dict:
    g = _gen(200 + seed)
    B, h, N, M, dh = [(2, 2, 3, 5, 4), (3, 1, 4, 4, 6), (1, 3, 2, 6, 4), (2, 2, 5, 3, 8), (2, 4, 1, 7, 2)][seed % 5]
    return {"q": 2 * torch.randn(B, h, N, dh, generator=g), "k": 2 * torch.randn(B, h, M, dh, generator=g),
            "v": torch.randn(B, h, M, dh, generator=g),
            "q_weight": 1 + 0.3 * torch.randn(dh, generator=g), "k_weight": 1 + 0.3 * torch.randn(dh, generator=g),
            "key_mask": None if seed == 3 else _mask(g, B, M)}


def inject_conditions(seed: int) -> dict:
    g = _gen(300 + seed)
    B, N, L, M, d = [(2, 4, 3, 5, 6), (3, 2, 4, 2, 4), (2, 3, 2, 6, 8), (1, 5, 3, 4, 4), (2, 2, 5, 3, 6)][seed % 5]
    depth = [3, 4, 2, 5, 1][seed % 5]                                                 # both parities, more than once
    return {"x": torch.randn(B, N, d, generator=g), "blocks": [ToyCrossBlock(10 * seed + i, d) for i in range(depth)],
            "lang_tokens": torch.randn(B, L, d, generator=g), "img_tokens": torch.randn(B, M, d, generator=g),
            "lang_mask": _mask(g, B, L), "img_mask": None if seed == 2 else _mask(g, B, M)}


def MLPDecoder(seed: int) -> dict:
    g = _gen(400 + seed)
    d, out_dim = [(8, 5), (6, 128), (12, 3), (4, 7), (10, 2)][seed % 5]
    return Harnessed(run_mlp_decoder, hidden_size=d, out_dim=out_dim, x=torch.randn(3, 4, d, generator=g) + 0.5,
                     seed=seed)


def DecoderBlock(seed: int) -> dict:
    g = _gen(500 + seed)
    d, heads = [(8, 2), (12, 3), (8, 4), (16, 2), (6, 3)][seed % 5]
    B, H, N = 3, 4, [5, 2, 7, 6, 1][seed % 5]                                        # N != B: pooling axis shows
    return Harnessed(run_decoder_block, hidden_size=d, num_heads=heads, mlp_ratio=2.0,
                     x=torch.randn(B, H, d, generator=g), t_emb=torch.randn(B, d, generator=g),
                     enc=torch.randn(B, N, d, generator=g) + 0.3, seed=seed)


def _slots(g: torch.Generator, J: int, size: int) -> torch.Tensor:
    slots = torch.randperm(size, generator=g)[:J]
    if J > 1 and bool((slots[1:] > slots[:-1]).all()):                                # not sorted: order matters
        slots = slots.flip(0)
    return slots


def to_unified(seed: int) -> dict:
    g = _gen(600 + seed)
    B, H, J, size = [(2, 3, 3, 128), (3, 2, 5, 16), (1, 4, 2, 128), (2, 2, 7, 12), (4, 1, 1, 8)][seed % 5]
    out = {"actions": torch.randn(B, H, J, generator=g), "slots": _slots(g, J, size)}
    if size != 128:
        out["size"] = size
    return out


def from_unified(seed: int) -> dict:
    g = _gen(700 + seed)
    B, H, J, size = [(2, 3, 3, 128), (3, 2, 5, 16), (1, 4, 2, 128), (2, 2, 7, 12), (4, 1, 1, 8)][seed % 5]
    return {"unified": torch.randn(B, H, size, generator=g), "slots": _slots(g, J, size)}


def masked_mse(seed: int) -> dict:
    g = _gen(800 + seed)
    B, H, S = [(3, 4, 10), (2, 5, 16), (4, 2, 8), (1, 3, 128), (5, 2, 6)][seed % 5]
    # a training loss: checked with its gradient with respect to the prediction too
    return Harnessed(value_and_gradients, wrt=("pred",), pred=torch.randn(B, H, S, generator=g),
                     target=torch.randn(B, H, S, generator=g), mask=_mask(g, B, S))
