"""Hints for 05 (``hint("rms_norm")``): a nudge, the key idea, the formula. No solution code."""

HINTS = {
    "rms_norm": (
        "Unlike LayerNorm: no mean subtracted, no bias. Only divide by the root mean square of the last axis.",
        "The mean of x^2 is taken over the last axis and kept as a size-1 axis so it broadcasts; eps goes inside "
        "the square root.",
        "x / sqrt(mean(x^2 over the last axis, keepdim) + eps) * weight",
    ),
    "qk_norm_attention": (
        "It is ordinary scaled dot-product attention, except that q and k first go through your rms_norm with "
        "their own weights.",
        "Scores are (B, h, N, M): normalised queries times normalised keys transposed, divided by sqrt(dh). "
        "Where key_mask is False the score must become -inf before the softmax over the keys.",
        "q_n = rms_norm(q, q_weight, eps), k_n = rms_norm(k, k_weight, eps); scores = q_n k_n^T / sqrt(dh); "
        "mask out keys with key_mask[:, None, None, :]; result = softmax(scores, last axis) @ v.",
    ),
    "inject_conditions": (
        "A loop over the blocks; each call is blocks[i](x, tokens, mask), and x is updated every time.",
        "Even i (0, 2, ...) attends to the language tokens with lang_mask; odd i to the image tokens with img_mask.",
    ),
    "MLPDecoder": (
        "Four attributes with the docstring's names: norm_weight (a Parameter of ones), fc1, act, fc2.",
        "The GELU is the tanh approximation; norm_weight is used through your rms_norm, not a LayerNorm.",
        "forward: fc2(act(fc1(rms_norm(x, norm_weight))))",
    ),
    "DecoderBlock": (
        "It is the DiT block you wrote in 04, with a different condition: the mean of the encoder layer's tokens "
        "plus the time embedding.",
        "c = mean of enc over its N tokens + t_emb, shape (B, d). adaLN_modulation (SiLU, Linear(d, 6d), zero-initialised) "
        "turns c into six vectors; give each a token axis so it broadcasts over the H action tokens.",
        "x = x + gate_msa * attn(norm1(x) * (1 + scale_msa) + shift_msa);  "
        "x = x + gate_mlp * mlp(norm2(x) * (1 + scale_mlp) + shift_mlp).",
    ),
    "to_unified": (
        "Start from zeros of shape (B, H, size); the robot's joint j goes to column slots[j].",
        "Indexing the last axis with the whole slots tensor places all joints at once; the mask is (B, size) "
        "bool, True exactly at those slots for every sample.",
    ),
    "from_unified": (
        "The inverse of to_unified: read the columns the robot owns.",
        "Index the last axis of unified with slots; the result is (B, H, J), joints in the order of slots.",
    ),
    "masked_mse": (
        "Padding slots must neither add error nor count in the denominator.",
        "The mask is (B, S); give it a step axis so it covers (B, H, S). Sum the masked squared errors, then "
        "divide by the number of entries that count: H times the number of True entries.",
        "sum of (pred - target)^2 * mask[:, None, :]  divided by  (mask.sum() * H)",
    ),
}
