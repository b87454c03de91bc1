"""Hints for 04 (``hint("modulate")``): a nudge, the key idea, the formula. No solution code."""

HINTS = {
    "timestep_embedding": (
        "half = dim // 2 frequencies, each time multiplied by each frequency: a (B, half) table of angles. "
        "DiT puts all the cosines first, then all the sines.",
        "The frequencies fall geometrically from 1 to about 1/max_period: f_i = max_period^(-i / half) for "
        "i = 0 ... half - 1. When dim is odd, add one column of zeros at the end.",
        "args = t[:, None] * f[None, :] (B, half);  emb = [cos(args), sin(args)] concatenated on the last axis "
        "(B, 2 half), plus a zero column if dim is odd. Use float times: t may be fractional.",
    ),
    "modulate": (
        "shift and scale are one vector per sample (B, d), but x has N tokens per sample (B, N, d).",
        "Insert a token axis into shift and scale so they broadcast over the N tokens; scale enters as 1 + scale "
        "so that scale = 0 leaves x unchanged.",
        "x * (1 + scale[:, None, :]) + shift[:, None, :]",
    ),
    "DiTBlock": (
        "adaLN-Zero: one Linear turns the condition c into six vectors, and it starts at zero so that every gate "
        "is 0 and the block is the identity at initialisation.",
        "adaLN_modulation is SiLU then Linear(d, 6d) with zero weight and bias. Split its output into six (B, d) "
        "vectors in the docstring's order: shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp.",
        "x = x + gate_msa (over tokens) * attn(modulate(norm1(x), shift_msa, scale_msa)); then the same with "
        "norm2, mlp and the _mlp vectors. The gates need a token axis, like modulate's shift and scale.",
    ),
    "FinalLayer": (
        "Like the block's modulation but with two vectors (shift, scale) and no gate, then a Linear to the output size.",
        "Both Linear layers (the last one of adaLN_modulation, and linear) start with zero weight and bias, so an "
        "untrained model predicts 0. The order of the two chunks is shift, then scale.",
        "shift, scale = the two halves of adaLN_modulation(c);  out = linear(modulate(norm_final(x), shift, scale)).",
    ),
    "ActionDiT": (
        "The attributes are built for you; forward has three parts: tokens, the condition vector, and the blocks.",
        "Tokens: x_embedder(x) plus the position embedding. Condition: the time embedding (your "
        "timestep_embedding with freq_dim, then t_embedder) plus y_embedder(y). Every block and the final "
        "layer get the same condition.",
        "h = x_embedder(x) + pos_embed;  c = t_embedder(timestep_embedding(t, freq_dim)) + y_embedder(y);  "
        "h = block(h, c) for each block;  output = final_layer(h, c).",
    ),
    "drop_condition": (
        "Draw exactly one uniform number per label from generator (torch.rand with y's shape): the check uses "
        "the same random numbers.",
        "A label is dropped where its uniform draw is below p_uncond; dropped labels become null_label, the others stay.",
        "u = rand(y.shape, generator);  result = null_label where u < p_uncond, else y (torch.where keeps the dtype "
        "if you fill a tensor like y).",
    ),
    "guided_eps": (
        "You need two noise predictions for the same x and t: one with the labels y, one with every label "
        "replaced by null_label.",
        "Guidance extrapolates from the unconditional prediction towards the conditional one by a factor w. "
        "One call on a doubled batch (conditional half first) or two calls give the same numbers.",
        "eps_cond = model(x, t, y), eps_uncond = model(x, t, all null_label);  "
        "result = eps_uncond + w * (eps_cond - eps_uncond).",
    ),
}
