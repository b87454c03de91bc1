"""Hints for 02 (``hint("q_sample")``): a nudge, the key idea, the formula. No solution code."""

HINTS = {
    "linear_beta_schedule": (
        "T values, evenly spaced, the first exactly beta_start and the last exactly beta_end, as float32.",
        "torch has a function that makes evenly spaced values between two end points, both included: "
        "look up torch.linspace and its dtype argument.",
    ),
    "cosine_beta_schedule": (
        "The cosine schedule defines alpha_bar through f(u); beta at step t is what makes "
        "alpha_bar go from f(t/T) to f((t+1)/T).",
        "beta_t = 1 - f((t+1)/T) / f(t/T), capped at max_beta; the normalisation by f(0) cancels in the ratio. "
        "Compute it for t = 0, ..., T-1.",
        "f(u) = cos^2( (u + s) / (1 + s) * pi/2 );  beta[t] = min(1 - f((t+1)/T) / f(t/T), max_beta). "
        "Return the T values as a float32 tensor.",
    ),
    "compute_alpha_bar": (
        "alpha_bar[t] multiplies the (1 - beta) of every step up to and including t.",
        "A running product: torch has a cumulative-product function (cumprod) that does exactly this along an axis.",
    ),
    "q_sample": (
        "x_t mixes the clean data and the noise; the two weights come from alpha_bar at each sample's own step t. "
        "Watch the shapes: t is (B,) but x0 may be (B, 2) or (B, H, D).",
        "Both weights are square roots: sqrt(alpha_bar_t) for the data, sqrt(1 - alpha_bar_t) for the noise, "
        "so the variances add up to 1. Pick alpha_bar[t] (shape (B,)) and reshape it to (B, 1, ...) so that it "
        "scales whole samples.",
        "With ab = alpha_bar[t] reshaped to (B, 1, ..., 1):\n"
        "    x_t = sqrt(ab) * x0 + sqrt(1 - ab) * noise",
    ),
    "ddpm_loss": (
        "The network sees the noisy x_t (not x0 + noise) and must guess the noise that made it.",
        "Build x_t exactly as in q_sample, call model(x_t, t), and compare the prediction with noise.",
        "loss = mean over every entry of (model(x_t, t) - noise)^2, with "
        "x_t = sqrt(ab) * x0 + sqrt(1 - ab) * noise and ab = alpha_bar[t] reshaped to (B, 1, ...).",
    ),
    "posterior_mean_variance": (
        "You need alpha_bar at t and at t - 1. At t = 0 there is no 'previous' entry: the docstring sets "
        "alpha_bar_{-1} = 1, so prepend a 1 before indexing.",
        "The mean is a weighted sum of x0 and x_t; the variance beta_tilde is beta_t shrunk by "
        "(1 - alpha_bar_{t-1}) / (1 - alpha_bar_t). Reshape every per-sample coefficient to (B, 1, ...).",
        "With ab = alpha_bar_t, ab_prev = alpha_bar_{t-1} and beta = beta_t (all (B, 1, ...)):\n"
        "    mean = sqrt(ab_prev) * beta / (1 - ab) * x0 + sqrt(1 - beta) * (1 - ab_prev) / (1 - ab) * x_t\n"
        "    variance = beta * (1 - ab_prev) / (1 - ab)\n"
        "(beta computed as 1 - ab / ab_prev keeps the rounding consistent with alpha_bar.)",
    ),
    "p_sample": (
        "Three moves: predict the noise, turn it into a guess of x0, then use the posterior you wrote.",
        "The model takes t as a (B,) tensor of steps. x0_hat inverts q_sample: solve "
        "x_t = sqrt(ab) x0 + sqrt(1 - ab) eps for x0. At t = 0 return the mean, no noise.",
        "eps = model(x_t, t as a (B,) tensor); x0_hat = (x_t - sqrt(1 - alpha_bar[t]) * eps) / sqrt(alpha_bar[t]);\n"
        "mean, variance = posterior_mean_variance(x0_hat, x_t, ...);  x_{t-1} = mean + sqrt(variance) * noise "
        "(just mean when t == 0).",
    ),
    "ddpm_sample": (
        "Start from pure noise and call p_sample once per step, from t = T-1 down to 0.",
        "The random numbers must come from generator in the docstring's order: the start first, then one "
        "randn(shape) per step for t = T-1 ... 1. At t = 0 pass zeros, and draw nothing.",
        "x = randn(shape, generator); for t in T-1, ..., 0: noise = randn(shape, generator) if t > 0 else zeros; "
        "then one p_sample step from x with that noise. The trajectory stacks the start and every x: T + 1 frames.",
    ),
    "ddim_step": (
        "Like p_sample, first predict eps and x0_hat; then jump straight to t_prev. t_prev = -1 means the clean "
        "end, where alpha_bar is 1.",
        "x_prev re-noises x0_hat to the level of t_prev using the predicted eps, plus fresh noise of size sigma; "
        "eta scales sigma (eta = 0: no fresh noise at all).",
        "ab = alpha_bar[t], ab_prev = alpha_bar[t_prev] (or 1 if t_prev == -1), "
        "x0_hat = (x_t - sqrt(1 - ab) eps) / sqrt(ab),\n"
        "    sigma = eta * sqrt((1 - ab_prev) / (1 - ab)) * sqrt(1 - ab / ab_prev)\n"
        "    x_prev = sqrt(ab_prev) * x0_hat + sqrt(1 - ab_prev - sigma^2) * eps + sigma * noise",
    ),
    "ddim_sample": (
        "The visited steps come from the provided ddim_timesteps(T, num_steps), largest first; after the last "
        "one, jump to t_prev = -1.",
        "Each step goes from times[i] to times[i+1] (or -1 after the last). Draw x first; draw a fresh "
        "randn(shape) per step only when eta > 0, otherwise pass zeros.",
        "times = ddim_timesteps(T, num_steps); x = randn(shape, generator); for each i: "
        "t_prev = times[i+1] or -1; x = ddim_step(model, x, times[i], t_prev, alpha_bar, eta, noise). "
        "The trajectory has num_steps + 1 frames.",
    ),
}
