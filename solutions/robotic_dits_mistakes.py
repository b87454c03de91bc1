"""Common wrong versions of the 05_robotic_dits pieces (see solutions/mistakes.py)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from coursekit.kit.transformer import Mlp, SelfAttention
from coursekit.validate import check_heads
from solutions.mistakes import registry
from solutions.robotic_dits import rms_norm

mistake = registry()


@mistake("rms_norm", "mean subtracted (that is LayerNorm)",
         "RMSNorm divides by sqrt(mean(x^2) + eps) and does not re-centre: leave the mean in x.")
def rms_norm_centred(x, weight, eps=1e-6):
    x = x - x.mean(dim=-1, keepdim=True)
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight


@mistake("rms_norm", "eps outside the square root",
         "eps goes inside: x / sqrt(mean(x^2) + eps), as in torch.nn.RMSNorm.")
def rms_norm_eps_outside(x, weight, eps=1e-6):
    return x / (x.pow(2).mean(dim=-1, keepdim=True).sqrt() + eps) * weight


@mistake("rms_norm", "L2 norm instead of root mean square",
         "Average the squares over the d features before the square root (mean, not sum), so the scale "
         "of the output does not depend on d.")
def rms_norm_l2(x, weight, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).sum(dim=-1, keepdim=True) + eps) * weight


@mistake("qk_norm_attention", "no QK-norm",
         "Normalise queries and keys with rms_norm(q, q_weight) and rms_norm(k, k_weight) before the dot "
         "product: that bounds the attention logits, which keeps large models from collapsing attention.")
def attention_plain(q, k, v, q_weight, k_weight, key_mask=None, eps=1e-6):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    return scores.softmax(dim=-1) @ v


@mistake("qk_norm_attention", "keys not normalised",
         "QK-norm normalises both sides: rms_norm(k, k_weight) as well as rms_norm(q, q_weight).")
def attention_q_only(q, k, v, q_weight, k_weight, key_mask=None, eps=1e-6):
    q = rms_norm(q, q_weight, eps)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if key_mask is not None:
        scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    return scores.softmax(dim=-1) @ v


@mistake("qk_norm_attention", "mask inverted",
         "key_mask is True where a key may be attended to: fill the scores with -inf where the mask is False.")
def attention_mask_inverted(q, k, v, q_weight, k_weight, key_mask=None, eps=1e-6):
    q, k = rms_norm(q, q_weight, eps), rms_norm(k, k_weight, eps)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if key_mask is not None:
        scores = scores.masked_fill(key_mask[:, None, None, :], -1e9)
    return scores.softmax(dim=-1) @ v


@mistake("inject_conditions", "wrong alternation parity",
         "Block 0, 2, 4, ... (even i) cross-attends to the language tokens; block 1, 3, ... (odd i) to the "
         "image tokens. Test i % 2 == 0 for language.", showcase=True)
def inject_odd_language(x, blocks, lang_tokens, img_tokens, lang_mask=None, img_mask=None):
    for i, block in enumerate(blocks):
        if i % 2 == 1:
            x = block(x, lang_tokens, lang_mask)
        else:
            x = block(x, img_tokens, img_mask)
    return x


@mistake("inject_conditions", "masks not passed",
         "Give each block the mask of the tokens it attends to (lang_mask with the language tokens, img_mask "
         "with the image tokens); without it the padding tokens are attended to.")
def inject_without_masks(x, blocks, lang_tokens, img_tokens, lang_mask=None, img_mask=None):
    for i, block in enumerate(blocks):
        x = block(x, lang_tokens if i % 2 == 0 else img_tokens)
    return x


@mistake("inject_conditions", "only language tokens",
         "Alternate: odd blocks attend to the image tokens, so both kinds of condition reach the actions.")
def inject_language_only(x, blocks, lang_tokens, img_tokens, lang_mask=None, img_mask=None):
    for block in blocks:
        x = block(x, lang_tokens, lang_mask)
    return x


@mistake("MLPDecoder", "linear decoder (no nonlinearity)",
         "RDT replaced DiT's linear final layer with an MLP: fc2(GELU(fc1(rms_norm(x)))), the GELU with "
         "approximate='tanh'.")
class MLPDecoderLinear(torch.nn.Module):
    def __init__(self, hidden_size, out_dim):
        super().__init__()
        self.hidden_size = hidden_size
        self.norm_weight = nn.Parameter(torch.ones(hidden_size))
        self.fc1 = nn.Linear(hidden_size, hidden_size)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden_size, out_dim)

    def forward(self, x):
        return self.fc2(self.fc1(rms_norm(x, self.norm_weight)))


@mistake("MLPDecoder", "LayerNorm instead of RMSNorm",
         "Normalise with rms_norm(x, self.norm_weight): no mean subtraction, no bias.")
class MLPDecoderLayerNorm(torch.nn.Module):
    def __init__(self, hidden_size, out_dim):
        super().__init__()
        self.hidden_size = hidden_size
        self.norm_weight = nn.Parameter(torch.ones(hidden_size))
        self.fc1 = nn.Linear(hidden_size, hidden_size)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden_size, out_dim)

    def forward(self, x):
        x = F.layer_norm(x, (self.hidden_size,), eps=1e-6) * self.norm_weight
        return self.fc2(self.act(self.fc1(x)))


@mistake("DecoderBlock", "gates not zero-initialised",
         "Zero the modulation Linear's weight and bias so every gate starts at 0: each decoder block then "
         "starts as the identity, whatever the encoder says.")
class DecoderBlockDefaultInit(torch.nn.Module):
    def __init__(self, hidden_size, num_heads, mlp_ratio=4.0):
        super().__init__()
        check_heads(hidden_size, num_heads)
        self.hidden_size = hidden_size
        self.norm1 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 6 * hidden_size))

    def forward(self, x, t_emb, enc):
        c = enc.mean(dim=1) + t_emb
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).unsqueeze(1).chunk(6, dim=2)
        x = x + gate_msa * self.attn(self.norm1(x) * (1 + scale_msa) + shift_msa)
        return x + gate_mlp * self.mlp(self.norm2(x) * (1 + scale_mlp) + shift_mlp)


@mistake("DecoderBlock", "encoder tokens not pooled (first token only)",
         "The condition is the mean of the encoder layer over its N tokens, enc.mean(dim=1), plus t_emb.")
class DecoderBlockFirstToken(torch.nn.Module):
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

    def forward(self, x, t_emb, enc):
        c = enc[:, 0] + t_emb
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).unsqueeze(1).chunk(6, dim=2)
        x = x + gate_msa * self.attn(self.norm1(x) * (1 + scale_msa) + shift_msa)
        return x + gate_mlp * self.mlp(self.norm2(x) * (1 + scale_mlp) + shift_mlp)


@mistake("DecoderBlock", "time missing from the condition",
         "dit-policy adds the time embedding to the pooled encoder output: c = enc.mean(dim=1) + t_emb.")
class DecoderBlockNoTime(torch.nn.Module):
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

    def forward(self, x, t_emb, enc):
        c = enc.mean(dim=1)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).unsqueeze(1).chunk(6, dim=2)
        x = x + gate_msa * self.attn(self.norm1(x) * (1 + scale_msa) + shift_msa)
        return x + gate_mlp * self.mlp(self.norm2(x) * (1 + scale_mlp) + shift_mlp)


@mistake("to_unified", "slots filled in joint order",
         "Joint j belongs in unified slot slots[j] (its named place), not in slot j: index the last axis with "
         "slots, e.g. unified[..., slots] = actions.", showcase=True)
def to_unified_in_order(actions, slots, size=128):
    B, H, J = actions.shape
    unified = actions.new_zeros(B, H, size)
    unified[..., :J] = actions
    mask = torch.zeros(B, size, dtype=torch.bool)
    mask[:, :J] = True
    return unified, mask


@mistake("to_unified", "mask marks the padding",
         "The mask is True at the slots the robot fills and False at the padding.")
def to_unified_mask_inverted(actions, slots, size=128):
    B, H, J = actions.shape
    unified = actions.new_zeros(B, H, size)
    unified[..., slots] = actions
    mask = torch.ones(B, size, dtype=torch.bool)
    mask[:, slots] = False
    return unified, mask


@mistake("from_unified", "reads the first J slots",
         "Read each joint back from its own slot: unified[..., slots], not unified[..., :J].")
def from_unified_first(unified, slots):
    return unified[..., :len(slots)]


@mistake("masked_mse", "unmasked padding",
         "Weight the squared errors by the mask and divide by the number of entries that count; a plain "
         "mean lets the padding slots, which no robot has, pull the model around.", showcase=True)
def masked_mse_plain(pred, target, mask):
    return ((pred - target) ** 2).mean()


@mistake("masked_mse", "padding counted in the mean",
         "Divide the masked sum by the number of unmasked entries (mask.sum() * H), not by pred.numel(): "
         "otherwise a robot with few joints gets a smaller loss.")
def masked_mse_diluted(pred, target, mask):
    m = mask[:, None, :].to(pred.dtype)
    return ((pred - target) ** 2 * m).sum() / pred.numel()


@mistake("masked_mse", "divided by mask.sum() without the horizon",
         "Every unmasked slot counts once per step of the chunk: divide the masked sum by mask.sum() * H, "
         "not by mask.sum() alone, or the loss grows with the horizon H.")
def masked_mse_no_horizon(pred, target, mask):
    m = mask[:, None, :].to(pred.dtype)
    return ((pred - target) ** 2 * m).sum() / mask.sum()
