"""Hints for 08 (``hint("vp_alpha")``): a nudge, the key idea, the formula. No solution code."""

HINTS = {
    "vp_alpha": (
        "beta(r) is linear in r, so its integral from 0 to s has a closed form: no numerical integration needed.",
        "int_0^s beta(r) dr = beta_min s + 1/2 (beta_max - beta_min) s^2.",
        "alpha_s = exp( -1/2 * (beta_min * s + 1/2 * (beta_max - beta_min) * s^2) )",
    ),
    "vp_schedule": (
        "Flow-matching time runs the other way: evaluate vp_alpha at s = 1 - t.",
        "sigma_t follows from alpha_t because the path keeps unit variance: sigma_t^2 = 1 - alpha_t^2. "
        "The derivative of alpha_{1-t} in t is minus its s-derivative, -1/2 beta(s) alpha_s.",
        "s = 1 - t;  alpha = vp_alpha(s);  sigma = sqrt(1 - alpha^2);  "
        "d_alpha = 1/2 * beta(s) * alpha with beta(s) = beta_min + s (beta_max - beta_min);  sigma_t' = -alpha_t alpha_t' / sigma_t.",
    ),
    "vp_path_sample": (
        "Same shape of formula as every Gaussian path: signal scale times x1 plus noise scale times eps.",
        "The signal scale is vp_alpha at 1 - t, the noise scale sqrt(1 - alpha^2); both are (B,) and need "
        "reshaping per sample.",
        "alpha = vp_alpha(1 - t);  x_t = alpha * x1 + sqrt(1 - alpha^2) * eps  (per sample).",
    ),
    "vp_conditional_field": (
        "Use the general Gaussian-path field with mu_t = alpha_t x1: the four coefficients come from vp_schedule.",
        "u = sigma_t'/sigma_t (x - mu_t) + mu_t', where mu_t' = alpha_t' x1. Every coefficient is (B,): reshape per sample.",
        "alpha, sigma, d_alpha, d_sigma = vp_schedule(t, ...);  u = (d_sigma / sigma) * (x - alpha * x1) + d_alpha * x1.",
    ),
    "ve_path_sample": (
        "The VE path never moves the mean: x_t is x1 plus noise whose size shrinks with t.",
        "sigma(s) = sigma_min (sigma_max / sigma_min)^s, taken at s = 1 - t, one value per sample.",
        "x_t = x1 + sigma_min * (sigma_max / sigma_min)^(1 - t) * eps  (per sample).",
    ),
    "ve_conditional_field": (
        "Use u = sigma_t'/sigma_t (x - mu_t) + mu_t' with mu_t = x1 (constant, so mu_t' = 0).",
        "For a geometric sigma the ratio sigma_t'/sigma_t does not depend on t: differentiate "
        "log sigma(1 - t) in t.",
        "u = log(sigma_max / sigma_min) * (x1 - x)",
    ),
    "straightness": (
        "Compare, on every step, the trajectory's velocity with the straight line from its start to its end.",
        "The step velocity is a finite difference over the step's own length t_{k+1} - t_k (times are not "
        "necessarily evenly spaced). The squared norm sums over all of a sample's coordinates, then average over "
        "the batch.",
        "v_k = (x_{k+1} - x_k) / (t_{k+1} - t_k);  S = sum_k (t_{k+1} - t_k) * mean over samples of "
        "|(x_K - x_0) - v_k|^2.",
    ),
}
