"""Hints for 10 (``hint("tokenize")``): a nudge, the key idea, the formula. No solution code."""
from coursekit.assignments.diffusion_transformer.hints import HINTS as DIT

HINTS = {
    "normalize": (
        "A linear map per coordinate that sends low to -1 and high to +1.",
        "First scale into [0, 1] with (x - low) / (high - low), then stretch to [-1, 1]. low and high (D,) "
        "broadcast over x's last axis.",
        "2 * (x - low) / (high - low) - 1",
    ),
    "unnormalize": (
        "Undo normalize step by step, in reverse order.",
        "From [-1, 1] back to [0, 1] with (x + 1) / 2, then scale by the range and shift by low.",
        "(x + 1) / 2 * (high - low) + low",
    ),
    "tokenize": (
        "Consecutive waypoints are already next to each other in memory; a token is just `patch` of them flattened.",
        "No data moves: a reshape from (B, H, D) to (B, H // patch, patch * D) puts waypoints k*patch ... "
        "k*patch + patch - 1 into token k, each waypoint's D coordinates together.",
    ),
    "detokenize": (
        "The inverse of tokenize, again a single reshape.",
        "tokens (B, N, patch * D) become (B, N * patch, D): D is the token size divided by patch.",
    ),
    "goal_guided_eps": (
        "The same classifier-free guidance as in 04 (guided_eps), with goals instead of class labels.",
        DIT["guided_eps"][1],
        "eps_goal = model(x, t, goal), eps_free = model(x, t, all null_goal);  "
        "result = eps_free + w * (eps_goal - eps_free).",
    ),
    "sample_trajectory": (
        "DDPM's ancestral sampler as in 02, but keep every state, and clip the x0 guess to [-1, 1] each step.",
        "Loop t = T-1 ... 0: eps from the denoiser (t as a (B,) int64 tensor), x0_hat clipped, the posterior mean "
        "from x0_hat and x, and fresh noise from generator only for t > 0. Start the list with the noise itself.",
        "beta = 1 - ab / ab_prev (ab_prev = 1 at t = 0);  mean = sqrt(ab_prev) beta / (1 - ab) x0_hat + "
        "sqrt(1 - beta) (1 - ab_prev) / (1 - ab) x;  x = mean + sqrt(beta (1 - ab_prev) / (1 - ab)) z for t > 0. "
        "Stack the T + 1 states.",
    ),
    "formation_distance": (
        "For every state and sample, compare its path with every data path and keep the nearest.",
        "The path distance is sqrt(mean over waypoints of the squared Euclidean distance) = the Euclidean "
        "distance of the flattened (H * D) paths divided by sqrt(H). torch.cdist on flattened paths gives all pairs.",
        "d[s, b] = min over m of || states[s, b] - data[m] || (flattened) / sqrt(H); result (S, B).",
    ),
}
