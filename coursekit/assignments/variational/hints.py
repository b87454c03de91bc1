"""Hints for 01 (``hint("kl_diag_gaussians")``): a nudge, the key idea, the formula. No solution code."""

HINTS = {
    "kl_diag_gaussians": (
        "You are given LOG-variances, not variances or standard deviations. Each of the D coordinates "
        "is an independent 1-D Gaussian, so the KL of the whole vector is a sum of D one-dimensional KLs.",
        "For one coordinate, KL(N(m1, v1) || N(m2, v2)) = 1/2 (log v2 - log v1 + (v1 + (m1 - m2)^2) / v2 - 1). "
        "Turn the log-variances into variances with exp only where a variance itself appears.",
        "With var_q = exp(logvar_q) and var_p = exp(logvar_p), per coordinate:\n"
        "    1/2 * ( logvar_p - logvar_q + (var_q + (mu_q - mu_p)^2) / var_p - 1 )\n"
        "then sum over the last axis, so the result has shape (B,).",
    ),
    "log_evidence": (
        "Integrate z out: x = a z + b + s * noise, with z and the noise independent standard normals. "
        "What distribution is a sum of independent Gaussians?",
        "x is Gaussian with mean b and variance a^2 + s^2 (the variances of a z and of the noise add). "
        "The log-density of N(m, v) at x is -1/2 (log(2 pi) + log v + (x - m)^2 / v).",
        "With v = a^2 + s^2:  log p(x) = -1/2 * ( log(2 pi) + log(v) + (x - b)^2 / v ), one value per entry of x. "
        "The notebook's gaussian_log_prob takes a mean and a LOG-variance, filled to the shape of x.",
    ),
    "true_posterior": (
        "The prior z ~ N(0, 1) and the likelihood x | z ~ N(a z + b, s^2) are both Gaussian in z, so the "
        "posterior is Gaussian too: you only need its mean and variance.",
        "Precisions (1 / variance) add: the posterior precision is 1 (from the prior) + a^2 / s^2 (from the "
        "likelihood). The mean is the posterior variance times a (x - b) / s^2.",
        "v = s^2 / (s^2 + a^2) (the same for every x), m = v * a * (x - b) / s^2. Return m, and log(v) "
        "repeated to the shape of x: the function returns a LOG-variance.",
    ),
    "elbo_mc": (
        "Follow the docstring's order exactly: first draw all the noise from the generator, with shape "
        "(num_samples, B), then build z from it. The check compares with the same random numbers.",
        "Reparameterise: z = q_mean + std * eps with std = exp(q_logvar / 2), so gradients flow to q_mean and "
        "q_logvar. The ELBO for each x is the average over samples of log p(x | z) + log p(z) - log q(z).",
        "With z of shape (num_samples, B): log p(x | z) is the log-density of N(a z + b, s^2) at x, log p(z) "
        "of N(0, 1) at z, log q(z) of N(q_mean, exp(q_logvar)) at z (gaussian_log_prob takes log-variances: "
        "2 log s, 0 and q_logvar). Average their sum over the sample axis (dim 0).",
    ),
}
