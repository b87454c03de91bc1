"""Plain transformer parts for the Diffusion Transformer assignments (not graded).

Written in the style of facebookresearch/DiT ``models.py``: small modules, shapes in comments.
``SelfAttention``, ``CrossAttention`` and ``Mlp`` are the standard pieces a DiT block wraps.
``InContextDiT`` and ``CrossAttentionDiT`` are the two conditioning variants that DiT (Peebles &
Xie 2023, section 3.2) compares with adaLN-Zero; the adaLN-Zero model is the one you write.
Both take the timestep embedding function as an argument, so they use yours.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from coursekit.validate import check_heads, check_key_mask, check_tensor


class SelfAttention(nn.Module):
    """Multi-head self-attention: qkv projection, scaled dot-product attention, output projection."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        check_heads(dim, num_heads)
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, d = x.shape                                                             # (B, N, d)
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, d // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)                                          # 3 x (B, h, N, d/h)
        out = F.scaled_dot_product_attention(q, k, v)                                 # (B, h, N, d/h)
        return self.proj(out.transpose(1, 2).reshape(B, N, d))                        # (B, N, d)


class CrossAttention(nn.Module):
    """Queries from the tokens x, keys and values from condition tokens c; optional key mask."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        check_heads(dim, num_heads)
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, c: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        B, N, d = x.shape                                                             # (B, N, d)
        M, h = c.shape[1], self.num_heads                                             # c: (B, M, d)
        check_key_mask("mask", mask, B, M)
        q = self.q(x).reshape(B, N, h, d // h).transpose(1, 2)                        # (B, h, N, d/h)
        k, v = self.kv(c).reshape(B, M, 2, h, d // h).permute(2, 0, 3, 1, 4)          # 2 x (B, h, M, d/h)
        attn_mask = None if mask is None else mask[:, None, None, :]                  # (B, 1, 1, M)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)            # (B, h, N, d/h)
        return self.proj(out.transpose(1, 2).reshape(B, N, d))


class Mlp(nn.Module):
    """Two linear layers with a tanh-approximated GELU between them (as in DiT)."""

    def __init__(self, dim: int, hidden: int, out_dim: int | None = None):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden, out_dim or dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class _ConditionEmbedding(nn.Module):
    """Time (frequency embedding + MLP) and class label (table with a null label) -> two (B, d) vectors."""

    def __init__(self, hidden_size: int, num_classes: int, time_embedding: Callable, freq_dim: int):
        super().__init__()
        self.time_embedding, self.freq_dim = time_embedding, freq_dim
        self.t_embedder = nn.Sequential(nn.Linear(freq_dim, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size))
        self.y_embedder = nn.Embedding(num_classes + 1, hidden_size)  # label num_classes = "no label"

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.t_embedder(self.time_embedding(t, self.freq_dim)), self.y_embedder(y)  # (B, d), (B, d)


class _PreNormBlock(nn.Module):
    """Pre-LayerNorm transformer block: self-attention, optional cross-attention, MLP, all residual."""

    def __init__(self, hidden_size: int, num_heads: int, mlp_ratio: float, cross: bool):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, eps=1e-6)
        self.attn = SelfAttention(hidden_size, num_heads)
        self.cross = cross
        if cross:
            self.norm_c = nn.LayerNorm(hidden_size, eps=1e-6)
            self.cross_attn = CrossAttention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, eps=1e-6)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio))

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))                                              # (B, N, d)
        if self.cross:
            x = x + self.cross_attn(self.norm_c(x), c)                                # c: (B, M, d)
        return x + self.mlp(self.norm2(x))


class _ConditioningVariant(nn.Module):
    """Shared body of the two variants: tokens in, a LayerNorm + Linear head out."""

    in_context: bool

    def __init__(self, action_dim: int, horizon: int, num_classes: int, time_embedding: Callable,
                 hidden_size: int = 32, depth: int = 2, num_heads: int = 4, mlp_ratio: float = 4.0,
                 freq_dim: int = 64):
        super().__init__()
        check_heads(hidden_size, num_heads)
        self.num_classes, self.action_dim, self.horizon = num_classes, action_dim, horizon
        self.x_embedder = nn.Linear(action_dim, hidden_size)
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, horizon, hidden_size))
        self.cond = _ConditionEmbedding(hidden_size, num_classes, time_embedding, freq_dim)
        self.blocks = nn.ModuleList([_PreNormBlock(hidden_size, num_heads, mlp_ratio, cross=not self.in_context)
                                     for _ in range(depth)])
        self.norm_final = nn.LayerNorm(hidden_size, eps=1e-6)
        self.linear = nn.Linear(hidden_size, action_dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_tensor("x", x, shape=(None, self.horizon, self.action_dim))
        h = self.x_embedder(x) + self.pos_embed                                       # (B, H, d)
        t_emb, y_emb = self.cond(t, y)                                                # (B, d) each
        c = torch.stack([t_emb, y_emb], dim=1)                                        # (B, 2, d)
        if self.in_context:
            h = torch.cat([c, h], dim=1)                                              # (B, 2 + H, d)
            for block in self.blocks:
                h = block(h)
            h = h[:, 2:]                                                              # drop the condition tokens
        else:
            for block in self.blocks:
                h = block(h, c)
        return self.linear(self.norm_final(h))                                        # (B, H, D)


class InContextDiT(_ConditioningVariant):
    """Condition as tokens: the time and label embeddings are prepended to the action tokens."""
    in_context = True


class CrossAttentionDiT(_ConditioningVariant):
    """Condition by cross-attention: every block's tokens attend to the two condition tokens."""
    in_context = False


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
