"""Diffusion Transformer pieces, reference implementations (assignment 04_diffusion_transformer).

Model code follows facebookresearch/DiT ``models.py`` (Peebles & Xie 2023): sinusoidal timestep
embedding in the order [cos, sin], ``modulate``, the adaLN-Zero block, the final layer. The DiT
here is 1-D: its tokens are the H steps of an action chunk (B, H, D). Classifier-free guidance
follows Ho & Salimans (2022) in the form eps_uncond + w (eps_cond - eps_uncond).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from coursekit.kit.diffusion import denoising_loss
from coursekit.kit.transformer import Mlp, SelfAttention
from coursekit.validate import ShapeError, check_heads, check_tensor


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of (possibly fractional) times t (B,) -> (B, dim), DiT order [cos, sin].

    With half = dim // 2 frequencies f_i = max_period ** (-i / half), i = 0 .. half-1:
    emb = [cos(t f_0), ..., cos(t f_{half-1}), sin(t f_0), ..., sin(t f_{half-1})],
    plus one zero column when dim is odd.
    """
    check_tensor("t", t, ndim=1)
    if dim < 2:
        raise ShapeError(f"dim: expected an embedding size of at least 2, got {dim}")
    ### BEGIN SOLUTION
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)  # (half,)
    args = t[:, None].float() * freqs[None]                                                   # (B, half)
    embedding = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)                         # (B, 2 half)
    if dim % 2:
        embedding = torch.cat([embedding, torch.zeros_like(embedding[:, :1])], dim=-1)        # (B, dim)
    return embedding
    ### END SOLUTION


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Adaptive layer-norm modulation of tokens x (B, N, d) by per-sample shift, scale (B, d):
    x * (1 + scale) + shift, broadcast over the N tokens. scale = 0 leaves x unscaled."""
    check_tensor("x", x, ndim=3)
    B, _, d = x.shape
    check_tensor("shift", shift, shape=(B, d))
    check_tensor("scale", scale, shape=(B, d))
    ### BEGIN SOLUTION
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)
    ### END SOLUTION


class DiTBlock(nn.Module):
    """A DiT block with adaLN-Zero conditioning.

    Attributes (names are part of the exercise; the checks load weights by name):
      norm1, norm2: LayerNorm(hidden_size) without affine parameters (adaLN supplies shift and scale);
      attn: SelfAttention(hidden_size, num_heads);   mlp: Mlp(hidden_size, mlp_ratio * hidden_size);
      adaLN_modulation: Sequential(SiLU(), Linear(hidden_size, 6 * hidden_size)), weight and bias
        zero-initialised, so that at initialisation every gate is 0 and the block is the identity.
    forward(x (B, N, d), c (B, d)) -> (B, N, d). The six (B, d) modulation vectors, in this order:
      shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp;
      x = x + gate_msa * attn(modulate(norm1(x), shift_msa, scale_msa)),
      x = x + gate_mlp * mlp(modulate(norm2(x), shift_mlp, scale_mlp)).
    """

    def __init__(self, hidden_size: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        check_heads(hidden_size, num_heads)
        self.hidden_size = hidden_size
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio))
        ### BEGIN SOLUTION
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size))
        nn.init.zeros_(self.adaLN_modulation[-1].weight)
        nn.init.zeros_(self.adaLN_modulation[-1].bias)
        ### END SOLUTION

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        check_tensor("x", x, shape=(None, None, self.hidden_size))
        check_tensor("c", c, shape=(x.shape[0], self.hidden_size))
        ### BEGIN SOLUTION
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = \
            self.adaLN_modulation(c).chunk(6, dim=1)                                          # 6 x (B, d)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))
        return x                                                                              # (B, N, d)
        ### END SOLUTION


class FinalLayer(nn.Module):
    """The last layer of DiT: adaLN (shift, scale only), then a linear map to the output size.

    Attributes: norm_final: LayerNorm(hidden_size) without affine parameters;
      adaLN_modulation: Sequential(SiLU(), Linear(hidden_size, 2 * hidden_size)), in the order
        shift, scale; linear: Linear(hidden_size, out_dim). Both Linear layers are zero-initialised
        (weight and bias), so an untrained model predicts 0.
    forward(x (B, N, d), c (B, d)) -> (B, N, out_dim).
    """

    def __init__(self, hidden_size: int, out_dim: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.norm_final = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        ### BEGIN SOLUTION
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))
        self.linear = nn.Linear(hidden_size, out_dim)
        for layer in (self.adaLN_modulation[-1], self.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        ### END SOLUTION

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        check_tensor("x", x, shape=(None, None, self.hidden_size))
        check_tensor("c", c, shape=(x.shape[0], self.hidden_size))
        ### BEGIN SOLUTION
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)                               # 2 x (B, d)
        return self.linear(modulate(self.norm_final(x), shift, scale))                        # (B, N, out)
        ### END SOLUTION


class ActionDiT(nn.Module):
    """A small 1-D DiT: eps_theta(x_t, t, y) for action chunks x_t (B, H, D), times t (B,) and
    class labels y (B,) in 0..num_classes, where label num_classes means "no label" (for guidance).

    Tokens: one per chunk step, x_embedder(x) + pos_embed (B, H, d). Condition: one vector
    c = t_embedder(timestep_embedding(t, freq_dim)) + y_embedder(y) (B, d), fed to every block
    through adaLN-Zero and to the final layer. Output: predicted noise (B, H, D).
    """

    def __init__(self, action_dim: int, horizon: int, num_classes: int, hidden_size: int = 32,
                 depth: int = 2, num_heads: int = 4, mlp_ratio: float = 4.0, freq_dim: int = 64):
        super().__init__()
        check_heads(hidden_size, num_heads)
        self.action_dim, self.horizon, self.num_classes, self.freq_dim = action_dim, horizon, num_classes, freq_dim
        self.x_embedder = nn.Linear(action_dim, hidden_size)
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, horizon, hidden_size))       # learned, (1, H, d)
        self.t_embedder = nn.Sequential(nn.Linear(freq_dim, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size))
        self.y_embedder = nn.Embedding(num_classes + 1, hidden_size)                     # + 1: the null label
        self.blocks = nn.ModuleList([DiTBlock(hidden_size, num_heads, mlp_ratio) for _ in range(depth)])
        self.final_layer = FinalLayer(hidden_size, action_dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_tensor("x", x, shape=(None, self.horizon, self.action_dim))
        check_tensor("t", t, shape=(x.shape[0],))
        check_tensor("y", y, shape=(x.shape[0],), dtype=torch.int64)
        ### BEGIN SOLUTION
        h = self.x_embedder(x) + self.pos_embed                                           # (B, H, d)
        c = self.t_embedder(timestep_embedding(t, self.freq_dim)) + self.y_embedder(y)    # (B, d)
        for block in self.blocks:
            h = block(h, c)                                                               # (B, H, d)
        return self.final_layer(h, c)                                                     # (B, H, D)
        ### END SOLUTION


def drop_condition(y: torch.Tensor, null_label: int, p_uncond: float, generator: torch.Generator) -> torch.Tensor:
    """Condition dropout for classifier-free guidance: each label becomes null_label with probability
    p_uncond, using one draw u = torch.rand(y.shape, generator=generator): dropped where u < p_uncond."""
    check_tensor("y", y, ndim=1, dtype=torch.int64)
    if not 0.0 <= p_uncond <= 1.0:
        raise ValueError(f"p_uncond: expected a probability in [0, 1], got {p_uncond}")
    ### BEGIN SOLUTION
    drop = torch.rand(y.shape, generator=generator) < p_uncond                            # (B,) bool
    return torch.where(drop, torch.full_like(y, null_label), y)
    ### END SOLUTION


def guided_eps(model, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, w: float, null_label: int) -> torch.Tensor:
    """Classifier-free guidance: eps_uncond + w (eps_cond - eps_uncond).

    eps_cond = model(x, t, y), eps_uncond = model(x, t, null labels). w = 0 is unconditional,
    w = 1 conditional, w > 1 pushes further towards the condition. (One batched call of size 2B,
    conditional half first, is the usual way; two calls give the same numbers.)
    """
    check_tensor("x", x, min_ndim=2)
    check_tensor("t", t, shape=(x.shape[0],))
    check_tensor("y", y, shape=(x.shape[0],), dtype=torch.int64)
    ### BEGIN SOLUTION
    B = x.shape[0]
    eps = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, null_label)]))
    eps_cond, eps_uncond = eps[:B], eps[B:]
    return eps_uncond + w * (eps_cond - eps_uncond)
    ### END SOLUTION


# ----------------------------------------------------------------------------- provided helpers
def diffusion_loss(model, x0: torch.Tensor, y: torch.Tensor, alpha_bar: torch.Tensor,
                   generator: torch.Generator, p_uncond: float = 0.1) -> torch.Tensor:
    """The epsilon loss of 02 (``denoising_loss``) with condition dropout: labels dropped to
    model.num_classes. Draws t, the noise, then the dropout, all from ``generator``."""
    return denoising_loss(lambda x_t, t: model(x_t, t, drop_condition(y, model.num_classes, p_uncond, generator)),
                          x0, alpha_bar, generator)
