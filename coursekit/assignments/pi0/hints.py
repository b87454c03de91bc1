"""Hints for 09 (``hint("noisy_actions")``): a nudge, the key idea, the formula. No solution code."""

HINTS = {
    "time_density": (
        "It is a Beta density in a flipped, stretched variable u = (s - tau) / s, so tau = 0 (pure noise) is u = 1. "
        "Above tau = s the density is 0.",
        "Write the Beta density in logs: (alpha - 1) log u + (beta - 1) log(1 - u) + log Gamma(alpha + beta) "
        "- log Gamma(alpha) - log Gamma(beta) (math.lgamma). Divide by s, the Jacobian of u. Careful with "
        "0 * log 0 at the edges (torch.special.xlogy).",
        "u = (s - tau) / s;  p(tau) = u^(alpha-1) (1 - u)^(beta-1) Gamma(alpha+beta) / (Gamma(alpha) Gamma(beta)) / s "
        "where tau <= s, and 0 elsewhere.",
    ),
    "sample_time": (
        "Draw u ~ Beta(alpha, beta) with ONE call of the provided beta_variates, then map it to tau.",
        "The map is the inverse of time_density's u = (s - tau) / s.",
        "tau = s (1 - u), with u the one Beta(alpha, beta) draw.",
    ),
    "noisy_actions": (
        "pi0's tau runs from noise (tau = 0) to data (tau = 1): a straight line between the two.",
        "tau has one value per chunk (B,); reshape it to (B, 1, 1) so it scales whole (H, D) chunks.",
        "A_tau = tau * actions + (1 - tau) * noise  (tau reshaped per chunk).",
    ),
    "target_velocity": (
        "Differentiate noisy_actions' formula in tau, with actions and noise held fixed.",
        "The velocity is the same for every tau: data minus noise (in tau time, not openpi's reversed time).",
    ),
    "tau_field_from_openpi": (
        "openpi's time runs backwards: t = 1 - tau. Evaluate the openpi field at the matching t.",
        "Reversing time flips the sign of every velocity: dx/dtau = -dx/dt.",
        "inside the returned function: the negative of v_t(x, 1 - tau).",
    ),
    "openpi_field_from_tau": (
        "The inverse of tau_field_from_openpi: tau = 1 - t.",
        "Reversing time flips the sign: dx/dt = -dx/dtau.",
        "inside the returned function: the negative of v(x, 1 - t).",
    ),
    "blockwise_mask": (
        "Label every token with its block number: 0 for the prefix, 1 for the state, 2 for the actions.",
        "Query i may attend to key j exactly when j's block is not later than i's block. Compare the labels "
        "with broadcasting: a column of query labels against a row of key labels gives the (L, L) table.",
        "block = [0]*num_prefix + [1]*num_state + [2]*num_actions;  mask[i, j] = block[j] <= block[i].",
    ),
    "euler_sample": (
        "num_steps Euler steps of size 1 / num_steps from tau = 0 (x = noise) to tau = 1.",
        "Evaluate the field at the START of each step, tau = k dt, passed as a (B,) tensor (one tau per sample).",
        "dt = 1 / num_steps;  for k = 0 ... num_steps - 1:  x = x + dt * velocity(x, tau = k dt as a (B,) tensor).",
    ),
    "euler_sample_openpi": (
        "openpi integrates from t = 1 (noise) DOWN to t = 0, so the step dt is negative.",
        "The field is evaluated at the start of each step: t = 1, 1 + dt, ..., -dt, as a (B,) tensor; the update "
        "adds dt times the field, and dt < 0 carries the direction.",
        "dt = -1 / num_steps;  for k = 0 ... num_steps - 1:  x = x + dt * velocity_t(x, t = 1 + k dt as a (B,) tensor).",
    ),
    "cached_suffix_attention": (
        "The suffix's queries attend over the prefix keys (from the cache) AND the suffix keys: join them, prefix first.",
        "Concatenate keys and values along the token axis (dim 2), then ordinary scaled attention; the mask's "
        "columns follow the same order (P prefix keys, then S suffix keys).",
        "keys = [prefix_k, k], values = [prefix_v, v] (dim 2); scores = q keys^T / sqrt(hd), -inf where mask is False; "
        "result = softmax(scores over keys) @ values.",
    ),
}
