"""A toy pi0: a frozen prefix encoder and a small action expert that attends to it (not graded).

Written like nanoGPT / DiT ``models.py``: small modules, shapes in comments. The layout follows
pi0 (Black et al. 2024) and openpi's ``pi0.py``: one transformer whose tokens come in two groups,
each with its own weights in every layer, that meet in a shared attention:

    prefix  = [image patches (16) | instruction words (4)]  -> "VLM" weights, frozen here
    suffix  = [state (1) | noisy actions (H = 50)]          -> action-expert weights, trained

Queries, keys and values of both groups have the same head size, so in every layer the suffix can
attend to the prefix (the VLM is wider than the expert, as in pi0). Which token sees which is set
by the blockwise attention mask you write; the prefix never sees the suffix, so its keys and
values do not depend on the noisy actions and can be computed once per observation and reused
for all 10 denoising steps: the prefix KV cache.

Two ways to get the velocity, which must agree:
  * ``velocity_full``: recompute everything, prefix and suffix, with the full (L, L) mask;
  * ``prefix_cache`` once, then ``velocity_cached`` per step, with an ``attention`` function
    ``attention(q, k, v, prefix_k, prefix_v, mask) -> (B, h, S, hd)`` (you write that one).
The velocity is in flow-matching time tau (0 noise, 1 data) like everything in this course.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from coursekit.assignments.pi0.data import (ACTION_DIM, HORIZON, IMAGE_SIZE, INSTRUCTION_LENGTH, STATE_DIM, VOCAB,
                                Observation, observe)
from coursekit.kit.diffusion import sinusoidal_embedding
from coursekit.validate import check_flow_times, check_tensor

Cache = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: prefix keys, values, each (B, h, P, hd)


def time_embedding(tau: torch.Tensor, dim: int, min_period: float = 4e-3, max_period: float = 4.0) -> torch.Tensor:
    """Sine-cosine embedding of times tau (B,) -> (B, dim), order [sin, cos], as openpi's posemb_sincos:
    periods from min_period to max_period (geometric), i.e. the kit's embedding with these frequencies."""
    return sinusoidal_embedding(tau, dim, max_period=max_period / min_period, scale=2 * math.pi / min_period)


class Block(nn.Module):
    """One layer's weights for one group of tokens: pre-RMSNorm, q/k/v projections, output projection, MLP.

    The attention itself is done outside, over the tokens of both groups: ``qkv`` gives this group's
    heads, ``finish`` adds the attention output and the MLP back into the residual stream.
    """

    def __init__(self, dim: int, num_heads: int, head_dim: int, mlp_ratio: float = 2.0):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, head_dim
        self.norm1 = nn.RMSNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * num_heads * head_dim)
        self.proj = nn.Linear(num_heads * head_dim, dim)
        self.norm2 = nn.RMSNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, int(mlp_ratio * dim)), nn.GELU(approximate="tanh"),
                                 nn.Linear(int(mlp_ratio * dim), dim))

    def heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B, N, _ = x.shape                                                              # (B, N, d)
        qkv = self.qkv(self.norm1(x)).reshape(B, N, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)                                           # 3 x (B, h, N, hd)
        return q, k, v

    def finish(self, x: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        B, _, N, _ = attended.shape                                                    # (B, h, N, hd)
        x = x + self.proj(attended.transpose(1, 2).reshape(B, N, -1))                  # (B, N, d)
        return x + self.mlp(self.norm2(x))


class PrefixEncoder(nn.Module):
    """The "vision-language model": image patches and instruction words -> prefix tokens, then its layers.

    In pi0 this is a pretrained PaliGemma; here it is a randomly initialised, frozen stand-in. Random
    features of the image and words still carry the robot's position and the task, and the action
    expert learns to read them through attention.
    """

    def __init__(self, dim: int, depth: int, num_heads: int, head_dim: int, patch: int = 4, mlp_ratio: float = 4.0):
        super().__init__()
        self.patch = patch
        num_patches = (IMAGE_SIZE // patch) ** 2
        self.patch_embed = nn.Linear(patch * patch, dim)
        self.image_pos = nn.Parameter(0.5 * torch.randn(1, num_patches, dim))
        self.word_embed = nn.Embedding(len(VOCAB), dim)
        self.word_pos = nn.Parameter(0.5 * torch.randn(1, INSTRUCTION_LENGTH, dim))
        self.blocks = nn.ModuleList([Block(dim, num_heads, head_dim, mlp_ratio) for _ in range(depth)])
        self.num_tokens = num_patches + INSTRUCTION_LENGTH

    def embed(self, obs: Observation) -> torch.Tensor:
        B, p = obs.image.shape[0], self.patch
        patches = obs.image.reshape(B, IMAGE_SIZE // p, p, IMAGE_SIZE // p, p)           # (B, gy, p, gx, p)
        patches = patches.permute(0, 1, 3, 2, 4).reshape(B, -1, p * p)                 # (B, 16, p*p)
        image = self.patch_embed(patches) + self.image_pos                              # (B, 16, d_vlm)
        words = self.word_embed(obs.tokens) + self.word_pos                            # (B, 4, d_vlm)
        return torch.cat([image, words], dim=1)                                        # (B, P, d_vlm)


class ActionExpert(nn.Module):
    """The action expert: state and noisy actions (with the time) -> suffix tokens, its layers, the velocity head.

    As in pi0: the state is one token; each noisy action is embedded, given its position in the
    chunk (a fixed sine-cosine code; pi0 uses rotary embeddings) and mixed with the time embedding
    by a small MLP (``action_time_mlp``); a final linear layer reads the velocity off the action tokens.
    """

    def __init__(self, dim: int, depth: int, num_heads: int, head_dim: int, horizon: int):
        super().__init__()
        self.dim = dim
        self.state_proj = nn.Linear(STATE_DIM, dim)
        self.action_in = nn.Linear(ACTION_DIM, dim)
        position = torch.arange(horizon, dtype=torch.float32) / horizon                # (H,) in [0, 1)
        self.register_buffer("action_pos", time_embedding(position, dim)[None], persistent=False)  # (1, H, d_e)
        self.action_time_mlp = nn.Sequential(nn.Linear(2 * dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.blocks = nn.ModuleList([Block(dim, num_heads, head_dim) for _ in range(depth)])
        self.norm = nn.RMSNorm(dim, eps=1e-6)
        self.action_out = nn.Linear(dim, ACTION_DIM)

    def embed(self, state: torch.Tensor, x: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        B, H, _ = x.shape                                                              # x: (B, H, D)
        state_token = self.state_proj(state)[:, None, :]                               # (B, 1, d_e)
        actions = self.action_in(x) + self.action_pos                                  # (B, H, d_e)
        time = time_embedding(tau, self.dim)[:, None, :].expand(B, H, self.dim)        # (B, H, d_e)
        actions = self.action_time_mlp(torch.cat([actions, time], dim=-1))             # (B, H, d_e)
        return torch.cat([state_token, actions], dim=1)                                # (B, S = 1 + H, d_e)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return self.action_out(self.norm(h[:, 1:]))                                    # (B, H, D): drop the state token


class ToyPi0(nn.Module):
    """Frozen prefix encoder (``vlm``) + trainable action expert (``expert``) sharing attention layer by layer."""

    def __init__(self, horizon: int = HORIZON, vlm_dim: int = 128, expert_dim: int = 32, depth: int = 2,
                 num_heads: int = 2, head_dim: int = 16, patch: int = 4, vlm_mlp_ratio: float = 4.0, seed: int = 0):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.vlm = PrefixEncoder(vlm_dim, depth, num_heads, head_dim, patch, vlm_mlp_ratio)
            self.expert = ActionExpert(expert_dim, depth, num_heads, head_dim, horizon)
        self.vlm.requires_grad_(False)  # frozen: only the action expert learns
        self.horizon = horizon
        self.num_prefix, self.num_state = self.vlm.num_tokens, 1

    def _check(self, state: torch.Tensor, x: torch.Tensor, tau: torch.Tensor) -> None:
        check_tensor("x", x, shape=(state.shape[0], self.horizon, ACTION_DIM), dtype=torch.float32)
        check_flow_times("tau", tau, x.shape[0])

    def prefix_cache(self, obs: Observation, prefix_mask: torch.Tensor) -> Cache:
        """Run the prefix through the VLM layers once; keep each layer's keys and values. prefix_mask: (P, P)."""
        check_tensor("prefix_mask", prefix_mask, shape=(self.num_prefix, self.num_prefix), dtype=torch.bool)
        h = self.vlm.embed(obs)                                                        # (B, P, d_vlm)
        cache = []
        for block in self.vlm.blocks:
            q, k, v = block.heads(h)                                                   # 3 x (B, h, P, hd)
            cache.append((k, v))
            h = block.finish(h, F.scaled_dot_product_attention(q, k, v, attn_mask=prefix_mask))
        return cache

    def velocity_cached(self, cache: Cache, state: torch.Tensor, x: torch.Tensor, tau: torch.Tensor,
                        suffix_mask: torch.Tensor, attention: Callable) -> torch.Tensor:
        """The velocity from the suffix alone, attending to the cached prefix keys and values.

        suffix_mask: (S, P + S), the suffix rows of the full mask; attention: see the module docstring.
        """
        self._check(state, x, tau)
        h = self.expert.embed(state, x, tau)                                           # (B, S, d_e)
        for block, (prefix_k, prefix_v) in zip(self.expert.blocks, cache):
            q, k, v = block.heads(h)                                                   # 3 x (B, h, S, hd)
            h = block.finish(h, attention(q, k, v, prefix_k, prefix_v, suffix_mask))   # (B, S, d_e)
        return self.expert.head(h)                                                     # (B, H, D)

    def velocity_full(self, obs: Observation, x: torch.Tensor, tau: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The velocity recomputed from scratch: prefix and suffix together, full mask (L, L), L = P + S."""
        self._check(obs.state, x, tau)
        L = self.num_prefix + self.num_state + self.horizon
        check_tensor("mask", mask, shape=(L, L), dtype=torch.bool)
        hp = self.vlm.embed(obs)                                                       # (B, P, d_vlm)
        hs = self.expert.embed(obs.state, x, tau)                                      # (B, S, d_e)
        P = hp.shape[1]
        for vlm_block, expert_block in zip(self.vlm.blocks, self.expert.blocks):
            qp, kp, vp = vlm_block.heads(hp)                                           # 3 x (B, h, P, hd)
            qs, ks, vs = expert_block.heads(hs)                                        # 3 x (B, h, S, hd)
            q, k, v = (torch.cat(pair, dim=2) for pair in ((qp, qs), (kp, ks), (vp, vs)))  # 3 x (B, h, L, hd)
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)          # (B, h, L, hd)
            hp = vlm_block.finish(hp, attended[:, :, :P])
            hs = expert_block.finish(hs, attended[:, :, P:])
        return self.expert.head(hs)                                                    # (B, H, D)


@torch.no_grad()
def precompute_prefix(model: ToyPi0, state: torch.Tensor, task: torch.Tensor, prefix_mask: torch.Tensor,
                      chunk: int = 512) -> Cache:
    """The prefix cache of a whole data set (N rows), computed ``chunk`` observations at a time.

    The VLM is frozen, so its keys and values never change during training: compute them once.
    """
    parts = [model.prefix_cache(observe(state[i:i + chunk], task[i:i + chunk]), prefix_mask)
             for i in range(0, state.shape[0], chunk)]
    return [(torch.cat([p[layer][0] for p in parts]), torch.cat([p[layer][1] for p in parts]))
            for layer in range(len(parts[0]))]


def sample_with_cache(model: ToyPi0, obs: Observation, noise: torch.Tensor, mask: torch.Tensor,
                      attention: Callable, sampler: Callable, num_steps: int = 10) -> torch.Tensor:
    """Actions from ``sampler(velocity, noise, num_steps)`` (tau from 0 to 1), the prefix encoded once."""
    P = model.num_prefix
    cache = model.prefix_cache(obs, mask[:P, :P])

    def velocity(x: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        return model.velocity_cached(cache, obs.state, x, tau, mask[P:], attention)

    return sampler(velocity, noise, num_steps)


def sample_recomputing(model: ToyPi0, obs: Observation, noise: torch.Tensor, mask: torch.Tensor,
                       sampler: Callable, num_steps: int = 10) -> torch.Tensor:
    """The same actions, recomputing the prefix at every step (what the cache saves)."""
    return sampler(lambda x, tau: model.velocity_full(obs, x, tau, mask), noise, num_steps)
