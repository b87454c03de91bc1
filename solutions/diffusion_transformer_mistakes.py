"""Common wrong versions of the 04_diffusion_transformer pieces (see solutions/mistakes.py).

Wrong classes are written out in full (they become the solution cell of a simulated submission),
with ``torch.nn.Module`` as the base so that their source stands alone.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from coursekit.kit.transformer import Mlp, SelfAttention
from coursekit.validate import check_heads
from solutions.diffusion_transformer import DiTBlock, FinalLayer, modulate, timestep_embedding
from solutions.mistakes import registry

mistake = registry()


@mistake("timestep_embedding", "[sin, cos] instead of [cos, sin]",
         "DiT (and diffusers with flip_sin_to_cos=True) puts the cosines first: torch.cat([cos, sin]). "
         "Diffusion Policy uses [sin, cos]; the order must match the one a model was trained with.", showcase=True)
def embedding_sin_first(t, dim, max_period=10000.0):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=-1)
    return torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1) if dim % 2 else emb


@mistake("timestep_embedding", "exponent divided by half - 1",
         "The frequencies are max_period ** (-i / half) for i = 0 .. half-1 (divide by half, so the lowest "
         "frequency is just above 1 / max_period); dividing by half - 1 is diffusers' downscale_freq_shift=1.")
def embedding_shifted(t, dim, max_period=10000.0):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / (half - 1))
    args = t[:, None].float() * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1) if dim % 2 else emb


@mistake("timestep_embedding", "odd dim not padded",
         "With an odd dim there are dim // 2 frequencies: append one column of zeros to reach (B, dim).")
def embedding_unpadded(t, dim, max_period=10000.0):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


@mistake("modulate", "missing 1 + in the scale",
         "Use x * (1 + scale) + shift: with the zero-initialised modulation, scale = 0 must leave x unchanged, "
         "whereas x * scale would wipe the tokens out.", showcase=True)
def modulate_no_one(x, shift, scale):
    return x * scale.unsqueeze(1) + shift.unsqueeze(1)


@mistake("modulate", "shift and scale swapped",
         "The scale multiplies, the shift is added: x * (1 + scale) + shift.")
def modulate_swapped(x, shift, scale):
    return x * (1 + shift.unsqueeze(1)) + scale.unsqueeze(1)


@mistake("DiTBlock", "gates not zero-initialised",
         "adaLN-Zero initialises the modulation Linear's weight and bias to zero (nn.init.zeros_), so every "
         "gate starts at 0 and the block starts as the identity.", showcase=True)
class DiTBlockDefaultInit(torch.nn.Module):
    def __init__(self, hidden_size, num_heads, mlp_ratio=4.0):
        super().__init__()
        check_heads(hidden_size, num_heads)
        self.hidden_size = hidden_size
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size))

    def forward(self, x, c):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        return x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))


@mistake("DiTBlock", "gates not applied",
         "Each residual branch is multiplied by its gate: x + gate_msa * attn(...), x + gate_mlp * mlp(...). "
         "Without gates the block cannot start as the identity.")
class DiTBlockNoGates(torch.nn.Module):
    def __init__(self, hidden_size, num_heads, mlp_ratio=4.0):
        super().__init__()
        check_heads(hidden_size, num_heads)
        self.hidden_size = hidden_size
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size))
        nn.init.zeros_(self.adaLN_modulation[-1].weight)
        nn.init.zeros_(self.adaLN_modulation[-1].bias)

    def forward(self, x, c):
        shift_msa, scale_msa, _, shift_mlp, scale_mlp, _ = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        return x + self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))


@mistake("DiTBlock", "modulation vectors in the wrong order",
         "Split adaLN_modulation(c) into six in the order shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, "
         "gate_mlp (as DiT does), so that trained weights mean the same thing everywhere.")
class DiTBlockWrongOrder(torch.nn.Module):
    def __init__(self, hidden_size, num_heads, mlp_ratio=4.0):
        super().__init__()
        check_heads(hidden_size, num_heads)
        self.hidden_size = hidden_size
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size))
        nn.init.zeros_(self.adaLN_modulation[-1].weight)
        nn.init.zeros_(self.adaLN_modulation[-1].bias)

    def forward(self, x, c):
        scale_msa, shift_msa, gate_msa, scale_mlp, shift_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        return x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))


@mistake("DiTBlock", "one shift/scale pair for both branches",
         "The attention and MLP branches each get their own modulation: modulate(norm1(x), shift_msa, scale_msa) "
         "before attn, modulate(norm2(x), shift_mlp, scale_mlp) before mlp (six vectors, not four).")
class DiTBlockSharedModulation(torch.nn.Module):
    def __init__(self, hidden_size, num_heads, mlp_ratio=4.0):
        super().__init__()
        check_heads(hidden_size, num_heads)
        self.hidden_size = hidden_size
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size))
        nn.init.zeros_(self.adaLN_modulation[-1].weight)
        nn.init.zeros_(self.adaLN_modulation[-1].bias)

    def forward(self, x, c):
        shift, scale, gate_msa, _, _, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift, scale))
        return x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift, scale))


@mistake("FinalLayer", "output layer not zero-initialised",
         "DiT zero-initialises both the final modulation and the final linear layer (weight and bias), "
         "so an untrained model predicts exactly 0.")
class FinalLayerDefaultInit(torch.nn.Module):
    def __init__(self, hidden_size, out_dim):
        super().__init__()
        self.hidden_size = hidden_size
        self.norm_final = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))
        self.linear = nn.Linear(hidden_size, out_dim)
        nn.init.zeros_(self.adaLN_modulation[-1].weight)
        nn.init.zeros_(self.adaLN_modulation[-1].bias)

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


@mistake("FinalLayer", "shift and scale chunks swapped",
         "adaLN_modulation(c).chunk(2, dim=1) gives shift first, then scale.")
class FinalLayerSwapped(torch.nn.Module):
    def __init__(self, hidden_size, out_dim):
        super().__init__()
        self.hidden_size = hidden_size
        self.norm_final = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))
        self.linear = nn.Linear(hidden_size, out_dim)
        for layer in (self.adaLN_modulation[-1], self.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x, c):
        scale, shift = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


@mistake("ActionDiT", "time missing from the condition",
         "The condition vector is c = t_embedder(timestep_embedding(t, freq_dim)) + y_embedder(y): "
         "without the time the network cannot tell how noisy its input is.")
class ActionDiTNoTime(torch.nn.Module):
    def __init__(self, action_dim, horizon, num_classes, hidden_size=32, depth=2, num_heads=4,
                 mlp_ratio=4.0, freq_dim=64):
        super().__init__()
        check_heads(hidden_size, num_heads)
        self.action_dim, self.horizon, self.num_classes, self.freq_dim = action_dim, horizon, num_classes, freq_dim
        self.x_embedder = nn.Linear(action_dim, hidden_size)
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, horizon, hidden_size))
        self.t_embedder = nn.Sequential(nn.Linear(freq_dim, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size))
        self.y_embedder = nn.Embedding(num_classes + 1, hidden_size)
        self.blocks = nn.ModuleList([DiTBlock(hidden_size, num_heads, mlp_ratio) for _ in range(depth)])
        self.final_layer = FinalLayer(hidden_size, action_dim)

    def forward(self, x, t, y):
        h = self.x_embedder(x) + self.pos_embed
        c = self.y_embedder(y)
        for block in self.blocks:
            h = block(h, c)
        return self.final_layer(h, c)


@mistake("ActionDiT", "positional embedding missing",
         "Attention is blind to order: add pos_embed (1, H, d) to the embedded tokens so each chunk step "
         "knows where it is.")
class ActionDiTNoPosition(torch.nn.Module):
    def __init__(self, action_dim, horizon, num_classes, hidden_size=32, depth=2, num_heads=4,
                 mlp_ratio=4.0, freq_dim=64):
        super().__init__()
        check_heads(hidden_size, num_heads)
        self.action_dim, self.horizon, self.num_classes, self.freq_dim = action_dim, horizon, num_classes, freq_dim
        self.x_embedder = nn.Linear(action_dim, hidden_size)
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, horizon, hidden_size))
        self.t_embedder = nn.Sequential(nn.Linear(freq_dim, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size))
        self.y_embedder = nn.Embedding(num_classes + 1, hidden_size)
        self.blocks = nn.ModuleList([DiTBlock(hidden_size, num_heads, mlp_ratio) for _ in range(depth)])
        self.final_layer = FinalLayer(hidden_size, action_dim)

    def forward(self, x, t, y):
        h = self.x_embedder(x)
        c = self.t_embedder(timestep_embedding(t, self.freq_dim)) + self.y_embedder(y)
        for block in self.blocks:
            h = block(h, c)
        return self.final_layer(h, c)


@mistake("drop_condition", "labels kept with probability p_uncond",
         "A label is dropped (replaced by null_label) where u < p_uncond, so a fraction p_uncond of the "
         "batch trains the unconditional model.")
def drop_inverted(y, null_label, p_uncond, generator):
    keep = torch.rand(y.shape, generator=generator) < p_uncond
    return torch.where(keep, y, torch.full_like(y, null_label))


@mistake("drop_condition", "dropped labels set to 0",
         "Label 0 is a real class; a dropped condition uses the extra null label (null_label = num_classes).")
def drop_to_zero(y, null_label, p_uncond, generator):
    drop = torch.rand(y.shape, generator=generator) < p_uncond
    return torch.where(drop, torch.zeros_like(y), y)


@mistake("guided_eps", "conditional and unconditional swapped",
         "Guidance moves away from the unconditional prediction: eps_uncond + w (eps_cond - eps_uncond), "
         "where eps_cond uses the labels y and eps_uncond the null label.")
def guided_swapped(model, x, t, y, w, null_label):
    eps_cond = model(x, t, y)
    eps_uncond = model(x, t, torch.full_like(y, null_label))
    return eps_cond + w * (eps_uncond - eps_cond)


@mistake("guided_eps", "(1 + w) convention",
         "eps_cond + w (eps_cond - eps_uncond) is Ho & Salimans' parameterisation, where w = 0 means conditional. "
         "This course uses eps_uncond + w (eps_cond - eps_uncond): w = 1 is conditional, as in DiT.")
def guided_one_plus_w(model, x, t, y, w, null_label):
    eps_cond = model(x, t, y)
    eps_uncond = model(x, t, torch.full_like(y, null_label))
    return eps_cond + w * (eps_cond - eps_uncond)


@mistake("guided_eps", "zeros used as the null label",
         "The unconditional prediction uses the null label (null_label, an extra class the model was trained with "
         "when labels were dropped), not label 0: label 0 is a real class.")
def guided_zero_null(model, x, t, y, w, null_label):
    eps_cond = model(x, t, y)
    eps_uncond = model(x, t, torch.zeros_like(y))
    return eps_uncond + w * (eps_cond - eps_uncond)
