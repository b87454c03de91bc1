"""Cross-checks of the Diffusion Transformer references (solutions/diffusion_transformer.py) against independent
implementations (05's are in test_robotic_dits_reference.py).

Independent references used:
* diffusers ``get_timestep_embedding(t, dim, flip_sin_to_cos=True, downscale_freq_shift=0)`` for the
  [cos, sin] timestep embedding (diffusers pads odd sizes with a zero column, as we do);
* diffusers ``AdaLayerNormZero`` (the DiT block's adaLN-Zero front end: SiLU, Linear to six vectors in
  the order shift/scale/gate msa, shift/scale/gate mlp, affine-free LayerNorm, ``norm(x) (1 + scale) + shift``)
  for ``modulate`` and the chunk order of ``DiTBlock``;
* ``torch.nn.functional.scaled_dot_product_attention`` (with a boolean mask) for QK-norm attention, where
  the maths coincides (attention on RMS-normalised q and k), and for ``coursekit.kit.transformer`` attention;
* ``torch.nn.RMSNorm`` for ``rms_norm`` (and ``torch.nn.functional.layer_norm`` to show the difference);
* boolean indexing for the masked loss, and exact round trips for the unified action space.
"""
from __future__ import annotations


import pytest
import torch
from diffusers.models.embeddings import get_timestep_embedding
from diffusers.models.normalization import AdaLayerNormZero

from coursekit.kit.diffusion import cosine_alpha_bar, ddim_sample
from coursekit.kit.transformer import CrossAttention, SelfAttention
from coursekit.validate import ShapeError
from solutions import diffusion_transformer as D

ATOL = 1e-5


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def close(actual, expected, atol=ATOL):
    torch.testing.assert_close(actual, expected, atol=atol, rtol=0)


# ----------------------------------------------------------------------------- timestep embedding
@pytest.mark.parametrize("dim", [2, 8, 9, 64, 257])
@pytest.mark.parametrize("max_period", [10000, 100])
def test_timestep_embedding_matches_diffusers(dim, max_period):
    t = torch.cat([torch.tensor([0.0, 1.0, 999.0]), 1000 * torch.rand(20, generator=gen(dim))])
    want = get_timestep_embedding(t, dim, flip_sin_to_cos=True, downscale_freq_shift=0, max_period=max_period)
    close(D.timestep_embedding(t, dim, max_period), want, atol=2e-5)


def test_timestep_embedding_order_is_cos_then_sin():
    emb = D.timestep_embedding(torch.zeros(1), 8)
    assert emb.tolist() == [[1, 1, 1, 1, 0, 0, 0, 0]]          # cos(0) = 1 first, then sin(0) = 0
    integer = D.timestep_embedding(torch.arange(5), 6)            # integer times work too
    close(integer, D.timestep_embedding(torch.arange(5).float(), 6))


# ----------------------------------------------------------------------------- adaLN-Zero
def test_modulate_and_chunk_order_match_diffusers_ada_layer_norm_zero():
    d = 16
    ada = AdaLayerNormZero(d, num_embeddings=None)
    with torch.no_grad():
        for p in ada.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=gen(1)))
    block = D.DiTBlock(d, num_heads=4)
    block.adaLN_modulation[1].load_state_dict(ada.linear.state_dict())
    x, c = torch.randn(3, 5, d, generator=gen(2)), torch.randn(3, d, generator=gen(3))
    normed, gate_msa, shift_mlp, scale_mlp, gate_mlp = ada(x, emb=c)
    shift_msa, scale_msa, gate, shift2, scale2, gate2 = block.adaLN_modulation(c).chunk(6, dim=1)
    close(D.modulate(block.norm1(x), shift_msa, scale_msa), normed)
    for ours, theirs in ((gate, gate_msa), (shift2, shift_mlp), (scale2, scale_mlp), (gate2, gate_mlp)):
        close(ours, theirs)


def test_dit_block_is_identity_at_init_and_not_after_training_step():
    block = D.DiTBlock(32, 4)
    x, c = torch.randn(2, 7, 32), torch.randn(2, 32)
    assert torch.equal(block(x, c), x)
    assert not any(p.requires_grad is False for p in block.parameters())
    assert all(n not in dict(block.named_parameters()) for n in ("norm1.weight", "norm2.weight"))  # no affine
    loss = block(x, c).pow(2).sum()
    loss.backward()
    assert block.adaLN_modulation[1].weight.grad.abs().sum() > 0   # zero-init gates still learn


def test_action_dit_predicts_zero_untrained_and_has_the_right_shapes():
    model = D.ActionDiT(action_dim=3, horizon=6, num_classes=4)
    x = torch.randn(5, 6, 3)
    out = model(x, torch.randint(0, 50, (5,)), torch.tensor([0, 1, 2, 3, 4]))
    assert out.shape == (5, 6, 3) and torch.equal(out, torch.zeros_like(out))


# ----------------------------------------------------------------------------- guidance
class _Affine:
    """eps(x, t, y) = x * (1 + y) / 10, easy to combine by hand."""

    def __call__(self, x, t, y):
        return x * (1 + y.float().reshape(-1, 1, 1)) / 10


def test_guided_eps_endpoints_and_linearity():
    model, null = _Affine(), 4
    x, t, y = torch.randn(3, 4, 2), torch.zeros(3, dtype=torch.long), torch.tensor([0, 1, 2])
    cond, uncond = model(x, t, y), model(x, t, torch.full_like(y, null))
    close(D.guided_eps(model, x, t, y, 0.0, null), uncond)
    close(D.guided_eps(model, x, t, y, 1.0, null), cond)
    close(D.guided_eps(model, x, t, y, 3.0, null), uncond + 3 * (cond - uncond))


def test_drop_condition_rate_and_null_label():
    y = torch.randint(0, 4, (20000,), generator=gen(0))
    dropped = D.drop_condition(y, 4, 0.1, gen(1))
    rate = float((dropped == 4).float().mean())
    assert abs(rate - 0.1) < 0.01
    assert torch.equal(dropped[dropped != 4], y[dropped != 4])
    assert torch.equal(D.drop_condition(y, 4, 0.0, gen(1)), y)


def test_ddim_sample_recovers_a_point_mass_with_the_exact_eps():
    """For data = a single point mu, the exact eps is (x - sqrt(ab) mu) / sqrt(1 - ab); DDIM lands on mu."""
    alpha_bar = cosine_alpha_bar(50).clamp(min=1e-2)
    mu = torch.tensor([0.3, -1.2])

    def eps(x, t):
        ab = alpha_bar[t].reshape(-1, 1)
        return (x - ab.sqrt() * mu) / (1 - ab).sqrt()

    out = ddim_sample(eps, (16, 2), alpha_bar, 7, gen(0), clip=None)
    close(out, mu.expand(16, 2), atol=1e-4)


# ----------------------------------------------------------------------------- attention (coursekit.kit.transformer)
def test_coursekit_attention_matches_multihead_attention():
    d, heads = 16, 4
    ours = SelfAttention(d, heads)
    mha = torch.nn.MultiheadAttention(d, heads, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(ours.qkv.weight)
        mha.in_proj_bias.copy_(ours.qkv.bias)
        mha.out_proj.weight.copy_(ours.proj.weight)
        mha.out_proj.bias.copy_(ours.proj.bias)
    x = torch.randn(2, 6, d)
    close(ours(x), mha(x, x, x, need_weights=False)[0])
    cross = CrossAttention(d, heads)
    c, mask = torch.randn(2, 4, d), torch.tensor([[True, True, False, True], [True, False, False, False]])
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([cross.q.weight, cross.kv.weight]))
        mha.in_proj_bias.copy_(torch.cat([cross.q.bias, cross.kv.bias]))
        mha.out_proj.weight.copy_(cross.proj.weight)
        mha.out_proj.bias.copy_(cross.proj.bias)
    close(cross(x, c, mask), mha(x, c, c, key_padding_mask=~mask, need_weights=False)[0])


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, message", [
    (lambda: D.DiTBlock(30, 4), r"hidden_size: expected a multiple of num_heads = 4, got 30"),
    (lambda: D.ActionDiT(2, 8, 4, hidden_size=30, num_heads=4), r"hidden_size: expected a multiple of num_heads = 4"),
    (lambda: D.modulate(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), torch.zeros(2, 4)),
     r"shift: expected shape \(2, 4\), got \(2, 3, 4\)"),
    (lambda: D.DiTBlock(8, 2)(torch.zeros(2, 3, 6), torch.zeros(2, 8)), r"x: expected shape \(\*, \*, 8\), got \(2, 3, 6\)"),
    (lambda: D.ActionDiT(2, 8, 4)(torch.zeros(3, 7, 2), torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long)),
     r"x: expected shape \(\*, 8, 2\), got \(3, 7, 2\)"),
    (lambda: D.timestep_embedding(torch.zeros(2, 1), 8), r"t: expected 1 dimensions, got shape \(2, 1\)"),
])
def test_bad_input_names_the_expected_shape(call, message):
    with pytest.raises(ShapeError, match=message):
        call()
