"""Ingredients of robotic diffusion transformers, reference implementations (assignment 05_robotic_dits).

RDT-1B (Liu et al. 2024): RMSNorm (Zhang & Sennrich 2019), QK-normalised attention (Henry et al.
2020; Dehghani et al. 2023), cross-attention that alternates between language tokens (even blocks)
and image tokens (odd blocks), a nonlinear MLP decoder, and the unified 128-slot action space.
dit-policy (Dasari et al. 2024, "The Ingredients for Robotic Diffusion Transformers"): decoder blocks
conditioned by adaLN on the matching encoder layer's pooled output plus the time embedding, with
zero-initialised gates.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from coursekit.kit.transformer import Mlp, SelfAttention
from coursekit.validate import ShapeError, check_heads, check_key_mask, check_tensor


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * weight. x (..., d), weight (d,).

    Unlike LayerNorm it does not subtract the mean and has no bias (Zhang & Sennrich 2019)."""
    check_tensor("x", x, min_ndim=1)
    check_tensor("weight", weight, shape=(x.shape[-1],))
    ### BEGIN SOLUTION
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight
    ### END SOLUTION


def qk_norm_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, q_weight: torch.Tensor,
                      k_weight: torch.Tensor, key_mask: torch.Tensor | None = None, eps: float = 1e-6) -> torch.Tensor:
    """Multi-head attention with RMS-normalised queries and keys.

    q (B, h, N, dh), k and v (B, h, M, dh); q_weight, k_weight (dh,) are the RMSNorm weights applied to
    each head's queries and keys; key_mask (B, M) bool, True where a key may be attended to.
    softmax(rms_norm(q) rms_norm(k)^T / sqrt(dh)) v -> (B, h, N, dh).
    """
    check_tensor("q", q, ndim=4)
    B, h, N, dh = q.shape
    check_tensor("k", k, shape=(B, h, None, dh))
    check_tensor("v", v, shape=tuple(k.shape))
    check_key_mask("key_mask", key_mask, B, k.shape[2])
    if key_mask is not None and not bool(key_mask.any(dim=1).all()):
        raise ShapeError("key_mask: every row needs at least one True entry (a key to attend to)")
    ### BEGIN SOLUTION
    q, k = rms_norm(q, q_weight, eps), rms_norm(k, k_weight, eps)
    scores = q @ k.transpose(-2, -1) / math.sqrt(dh)                                  # (B, h, N, M)
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    return scores.softmax(dim=-1) @ v                                                 # (B, h, N, dh)
    ### END SOLUTION


def inject_conditions(x: torch.Tensor, blocks, lang_tokens: torch.Tensor, img_tokens: torch.Tensor,
                      lang_mask: torch.Tensor | None = None, img_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Run the blocks in order; block i cross-attends to the language tokens (with lang_mask) when i is
    even and to the image tokens (with img_mask) when i is odd: ``x = blocks[i](x, tokens, mask)``.

    x (B, N, d); lang_tokens (B, L, d); img_tokens (B, M, d); masks (B, L) and (B, M) bool or None.
    """
    check_tensor("x", x, ndim=3)
    B, _, d = x.shape
    check_tensor("lang_tokens", lang_tokens, shape=(B, None, d))
    check_tensor("img_tokens", img_tokens, shape=(B, None, d))
    check_key_mask("lang_mask", lang_mask, B, lang_tokens.shape[1])
    check_key_mask("img_mask", img_mask, B, img_tokens.shape[1])
    ### BEGIN SOLUTION
    for i, block in enumerate(blocks):
        if i % 2 == 0:
            x = block(x, lang_tokens, lang_mask)
        else:
            x = block(x, img_tokens, img_mask)
    return x
    ### END SOLUTION


class MLPDecoder(nn.Module):
    """RDT's nonlinear output head: RMSNorm, Linear(d, d), GELU (tanh), Linear(d, out_dim).

    Attributes: norm_weight: Parameter (d,) initialised to ones, used as rms_norm(x, norm_weight);
      fc1: Linear(hidden_size, hidden_size); act: GELU(approximate="tanh"); fc2: Linear(hidden_size, out_dim).
    forward(x (B, N, d)) -> (B, N, out_dim).
    """

    def __init__(self, hidden_size: int, out_dim: int):
        super().__init__()
        self.hidden_size = hidden_size
        ### BEGIN SOLUTION
        self.norm_weight = nn.Parameter(torch.ones(hidden_size))
        self.fc1 = nn.Linear(hidden_size, hidden_size)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden_size, out_dim)
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor("x", x, shape=(None, None, self.hidden_size))
        ### BEGIN SOLUTION
        return self.fc2(self.act(self.fc1(rms_norm(x, self.norm_weight))))
        ### END SOLUTION


class DecoderBlock(nn.Module):
    """A dit-policy decoder block: adaLN-Zero conditioned on the matching encoder layer plus time.

    Attributes: norm1, norm2: LayerNorm(hidden_size) without affine parameters; attn: SelfAttention;
      mlp: Mlp(hidden_size, mlp_ratio * hidden_size); adaLN_modulation: Sequential(SiLU(),
      Linear(hidden_size, 6 * hidden_size)) with zero-initialised weight and bias.
    forward(x (B, H, d) action tokens, t_emb (B, d) time embedding, enc (B, N, d) output of the
    matching encoder layer) -> (B, H, d). The condition is c = mean of enc over its N tokens + t_emb;
    the six vectors (shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp) are used as in DiT,
    with modulation norm(x) * (1 + scale) + shift broadcast over the H tokens.
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

    def forward(self, x: torch.Tensor, t_emb: torch.Tensor, enc: torch.Tensor) -> torch.Tensor:
        d = self.hidden_size
        check_tensor("x", x, shape=(None, None, d))
        check_tensor("t_emb", t_emb, shape=(x.shape[0], d))
        check_tensor("enc", enc, shape=(x.shape[0], None, d))
        ### BEGIN SOLUTION
        c = enc.mean(dim=1) + t_emb                                                   # (B, d)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = \
            self.adaLN_modulation(c).unsqueeze(1).chunk(6, dim=2)                     # 6 x (B, 1, d)
        x = x + gate_msa * self.attn(self.norm1(x) * (1 + scale_msa) + shift_msa)
        x = x + gate_mlp * self.mlp(self.norm2(x) * (1 + scale_mlp) + shift_mlp)
        return x                                                                      # (B, H, d)
        ### END SOLUTION


def to_unified(actions: torch.Tensor, slots: torch.Tensor, size: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """Map a robot's actions (B, H, J) into the unified space: joint j goes to slot slots[j].

    Returns (unified (B, H, size) with zeros in every slot the robot does not have,
             mask (B, size) bool, True exactly at the robot's slots).
    """
    check_tensor("actions", actions, ndim=3)
    B, H, J = actions.shape
    check_slots(slots, J, size)
    ### BEGIN SOLUTION
    unified = actions.new_zeros(B, H, size)
    unified[..., slots] = actions
    mask = torch.zeros(B, size, dtype=torch.bool)
    mask[:, slots] = True
    return unified, mask
    ### END SOLUTION


def from_unified(unified: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
    """The robot's actions (B, H, J) read back from unified vectors (B, H, size) at its slots."""
    check_tensor("unified", unified, ndim=3)
    check_slots(slots, len(slots), unified.shape[-1])
    ### BEGIN SOLUTION
    return unified[..., slots]
    ### END SOLUTION


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the slots the mask switches on, ignoring the padding.

    pred, target (B, H, S); mask (B, S) bool, the same for every step of a chunk. The mean is over the
    B * H * (number of True per row) entries that count: padding neither adds error nor dilutes it.
    """
    check_tensor("pred", pred, ndim=3)
    check_tensor("target", target, shape=tuple(pred.shape))
    check_tensor("mask", mask, shape=(pred.shape[0], pred.shape[2]), dtype=torch.bool)
    if not bool(mask.any()):
        raise ShapeError("mask: expected at least one True entry (nothing to average over)")
    ### BEGIN SOLUTION
    m = mask[:, None, :].to(pred.dtype)                                               # (B, 1, S)
    return ((pred - target) ** 2 * m).sum() / (m.sum() * pred.shape[1])
    ### END SOLUTION


# ----------------------------------------------------------------------------- provided helpers
def check_slots(slots, J: int, size: int) -> None:
    """Slot indices: (J,) int64, distinct, each in 0..size-1."""
    check_tensor("slots", slots, shape=(J,), dtype=torch.int64)
    if len(slots) and (int(slots.min()) < 0 or int(slots.max()) >= size):
        raise ShapeError(f"slots: expected indices in 0..{size - 1}, got min {int(slots.min())}, max {int(slots.max())}")
    if len(set(slots.tolist())) != J:
        raise ShapeError(f"slots: expected {J} distinct indices, got {slots.tolist()}")


class QKNormAttention(nn.Module):
    """Self-attention (c = None) or cross-attention to c, with RMS-normalised queries and keys."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        check_heads(dim, num_heads)
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.q_norm = nn.Parameter(torch.ones(dim // num_heads))
        self.k_norm = nn.Parameter(torch.ones(dim // num_heads))

    def forward(self, x, c=None, mask=None):
        c = x if c is None else c                                                     # (B, M, d)
        B, N, d = x.shape
        M, h = c.shape[1], self.num_heads
        q = self.q(x).reshape(B, N, h, d // h).transpose(1, 2)                        # (B, h, N, dh)
        k, v = self.kv(c).reshape(B, M, 2, h, d // h).permute(2, 0, 3, 1, 4)          # 2 x (B, h, M, dh)
        out = qk_norm_attention(q, k, v, self.q_norm, self.k_norm, mask)              # (B, h, N, dh)
        return self.proj(out.transpose(1, 2).reshape(B, N, d))


class RDTBlock(nn.Module):
    """An RDT block: RMSNorm before self-attention, cross-attention and the MLP, all residual."""

    def __init__(self, hidden_size: int, num_heads: int):
        super().__init__()
        self.norm_weights = nn.Parameter(torch.ones(3, hidden_size))                  # three RMSNorm weights
        self.attn = QKNormAttention(hidden_size, num_heads)
        self.cross_attn = QKNormAttention(hidden_size, num_heads)
        self.ffn = Mlp(hidden_size, hidden_size)

    def forward(self, x, c, mask=None):
        x = x + self.attn(rms_norm(x, self.norm_weights[0]))                          # (B, N, d)
        x = x + self.cross_attn(rms_norm(x, self.norm_weights[1]), c, mask)
        return x + self.ffn(rms_norm(x, self.norm_weights[2]))


class TinyRDT(nn.Module):
    """A tiny RDT-style policy over unified action chunks (B, H, S).

    Input tokens: the time (a learned table, one token, in context as in RDT) and one token per chunk
    step from [noisy unified action with its padding zeroed, mask] (RDT also feeds the mask). Conditions: instruction tokens
    (language) and two tokens from the observation (standing in for image tokens), injected by
    alternating cross-attention. Output: predicted noise for every unified slot.
    """

    def __init__(self, horizon: int, obs_dim: int, vocab_size: int, num_steps: int, size: int = 128,
                 hidden_size: int = 32, depth: int = 2, num_heads: int = 4):
        super().__init__()
        d = hidden_size
        self.size = size
        self.x_embedder = nn.Linear(2 * size, d)
        self.t_embedder = nn.Embedding(num_steps, d)
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, 1 + horizon, d))
        self.lang_embedder = nn.Embedding(vocab_size, d)
        self.img_embedder = nn.Linear(obs_dim, 2 * d)
        self.blocks = nn.ModuleList([RDTBlock(d, num_heads) for _ in range(depth)])
        self.decoder = MLPDecoder(d, size)

    def forward(self, x, t, mask, lang_ids, lang_mask, obs):
        B = x.shape[0]
        m = mask[:, None, :].expand_as(x).to(x.dtype)                                            # (B, H, S)
        tokens = self.x_embedder(torch.cat([x * m, m], dim=-1))   # padding zeroed, mask appended: (B, H, d)
        h = torch.cat([self.t_embedder(t)[:, None], tokens], dim=1) + self.pos_embed              # (B, 1 + H, d)
        lang = self.lang_embedder(lang_ids)                                                       # (B, L, d)
        img = self.img_embedder(obs).reshape(B, 2, -1)                                            # (B, 2, d)
        h = inject_conditions(h, self.blocks, lang, img, lang_mask, None)
        return self.decoder(h[:, 1:])                                                             # (B, H, S)
