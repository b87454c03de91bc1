"""Hints for 03 (``hint("film")``): a nudge, the key idea, the formula. No solution code."""

HINTS = {
    "make_windows": (
        "Work one episode at a time (episode_ends gives where each ends in the flat buffer), and think in "
        "terms of step indices first; pick the rows at the end.",
        "A window starting at s covers steps s ... s + Tp - 1. Starts run from -(To - 1) to L - Tp + Ta - 1. "
        "Clamping each index into 0 ... L - 1 repeats the first row before the episode and the last row after it.",
        "For an episode of length L beginning at row `begin`: starts = -(To-1), ..., L - Tp + Ta - 1; "
        "indices = clamp(start + (0, ..., Tp-1), 0, L-1) + begin, one row of Tp per start. Observation windows "
        "take the first To columns of these indices, action windows all Tp; concatenate the episodes in order.",
    ),
    "film": (
        "cond_encoder(cond) has 2C numbers per sample: the first C are the scales, the next C the biases.",
        "Reshape the encoder's output so that each scale and bias is one number per channel that broadcasts over "
        "the T time steps: (B, 2, C, 1), then split along the axis of size 2.",
        "With scale and bias of shape (B, C, 1):  out = scale * h + bias  (no 1 + scale here, unlike DiT).",
    ),
    "ConditionalResidualBlock1D": (
        "The attribute names and types are part of the exercise: the check loads weights by name "
        "(blocks, cond_encoder, residual_conv). Read the class docstring line by line.",
        "blocks holds two Conv1dBlocks (in -> out, then out -> out); cond_encoder is Mish then a Linear to "
        "2 * out_channels; the residual path needs a 1x1 convolution only when the channel counts differ.",
        "forward: out = blocks[0](x); out = film(out, cond, cond_encoder); out = blocks[1](out); "
        "return out plus residual_conv(x).",
    ),
    "receding_horizon": (
        "Keep a history of the last To observations, start it as obs0 repeated To times, and loop until you "
        "have taken num_steps actions.",
        "Each plan executes Ta actions from the chunk, starting at index To - 1 (the current step). After each "
        "action, call step, append the new observation and drop the oldest from the history. Stop mid-chunk "
        "when num_steps is reached.",
        "history (B, To, obs_dim); repeat: chunk = policy(history); for j in 0 ... Ta-1: action = chunk[:, To-1+j]; "
        "obs = step(last observation, action); history = last To rows of [history, obs]. Return the stacked "
        "observations (obs0 first, num_steps + 1 of them) and actions (num_steps) along dim 1.",
    ),
}
