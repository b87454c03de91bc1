"""Hints for 02b (``hint("eps_to_score")``): a nudge, the key idea, the formula. No solution code."""
from coursekit.assignments.ddpm.hints import HINTS as DDPM
from coursekit.assignments.variational.hints import HINTS as VARIATIONAL

HINTS = {
    "eps_to_score": (
        "The noisy point is x = alpha data + sigma eps. How does log p of the noising kernel change as x moves?",
        "The score of N(alpha data, sigma^2 I) at x is -(x - alpha data) / sigma^2 = -eps / sigma. sigma is a "
        "standard deviation with one value per sample: reshape it to (B, 1, ...).",
        "score = -eps / sigma  (sigma reshaped per sample)",
    ),
    "dsm_loss": (
        "Noise the clean points with each sample's own sigma, then ask the model for the score there.",
        "The target score is -noise / sigma; weighting the squared error by sigma^2 turns it into "
        "|| sigma * model + noise ||^2. Sum over a sample's coordinates, then average over the batch.",
        "x = x0 + sigma * noise (sigma per sample);  loss = mean over b of sum over d of "
        "(sigma * score_model(x, sigma) + noise)^2.",
    ),
    "langevin_step": (
        "Langevin dynamics moves uphill on log p (along the score) and adds a little noise each step.",
        "The drift is step_size times the score; the noise has standard deviation sqrt(2 step_size).",
        "x_next = x + step_size * score(x) + sqrt(2 * step_size) * noise",
    ),
    "flow_path": (
        "Two paths, each given by alpha_t and sigma_t; you also need their derivatives in t.",
        "OT: alpha_t = t, sigma_t = 1 - t, so the derivatives are constants (1 and -1) with t's shape. "
        "VP: the angle pi t / 2 gives alpha_t = sin, sigma_t = cos; differentiate with the chain rule.",
        "ot: (t, 1 - t, ones, -ones);  vp: (sin(pi t / 2), cos(pi t / 2), (pi/2) cos(pi t / 2), -(pi/2) sin(pi t / 2)).",
    ),
    "predictions": (
        "Each kind of network predicts a different linear combination of data and eps; return all five, "
        "in the order of KINDS.",
        "eps and data are given as they are; v mixes them with alpha and sigma (Salimans & Ho); the score "
        "comes from your eps_to_score; the velocity is the path's time derivative. Reshape every (B,) "
        "coefficient per sample.",
        "(eps, data, alpha * eps - sigma * data, eps_to_score(eps, sigma), d_alpha * data + d_sigma * eps)",
    ),
    "to_data_eps": (
        "Two unknowns (data, eps) and two linear equations: x = alpha data + sigma eps, and what the prediction "
        "says. Solve them for each kind.",
        "epsilon and sample give one unknown directly; substitute into x = alpha data + sigma eps for the other. "
        "For v and velocity, solve the 2x2 system (Cramer's rule); never assume alpha^2 + sigma^2 = 1.",
        "v: data = (alpha x - sigma v) / (alpha^2 + sigma^2), eps = (sigma x + alpha v) / (alpha^2 + sigma^2);  "
        "score: eps = -sigma * score, data = (x - sigma eps) / alpha;  velocity u: with "
        "det = alpha d_sigma - sigma d_alpha, data = (d_sigma x - sigma u) / det, eps = (alpha u - d_alpha x) / det.",
    ),
    "ddpm_to_flow_time": (
        "Match the signal-to-noise ratio: find the flow time whose alpha_t / sigma_t equals DDPM's "
        "sqrt(alpha_bar / (1 - alpha_bar)).",
        "With r = that ratio: on the OT path t / (1 - t) = r; on the VP path tan(pi t / 2) = r. At equal ratios the "
        "two noisy points differ only by a scale: the flow's alpha_t over DDPM's sqrt(alpha_bar).",
        "r = sqrt(alpha_bar_t / (1 - alpha_bar_t));  t = r / (1 + r) (ot) or (2 / pi) atan(r) (vp);  "
        "scale = alpha_t / sqrt(alpha_bar_t) with alpha_t = t (ot) or sin(pi t / 2) (vp).",
    ),
    "prediction_loss": (
        "Same as DDPM's loss, except the network's target depends on kind.",
        "Build x_t with alpha = sqrt(alpha_bar[t]) and sigma = sqrt(1 - alpha_bar[t]); take the target from your "
        "predictions (pass zeros for the derivatives: DDPM's path has none) at the index of kind in KINDS.",
        "loss = mean over all entries of (model(x_t, t) - target)^2, target = predictions(x0, noise, alpha, sigma, "
        "0, 0)[index of kind].",
    ),
    "euler_step": (
        "Change variables so the ODE becomes simple: y = x / sqrt(alpha_bar) and s = sqrt((1 - alpha_bar) / alpha_bar).",
        "In (y, s) the probability-flow ODE is dy/ds = eps: one Euler step moves y by (s_prev - s) times the model's "
        "eps at (x_t, t). At t_prev = -1, alpha_bar_prev = 1 (s_prev = 0). Map back with sqrt(alpha_bar_prev).",
        "x_prev = sqrt(ab_prev) * ( x_t / sqrt(ab) + (s_prev - s) * model(x_t, t as a (B,) tensor) )",
    ),
    "heun_step": (
        "Heun = take the Euler step, look at the slope where it lands, and redo the step with the average slope.",
        "eps_e = model(x_e, t_prev) at the Euler point x_e. At the last step (t_prev = -1) there is no model "
        "evaluation at the clean end: return the Euler step.",
        "y_prev = y + (s_prev - s) * (eps_t + eps_e) / 2 with y = x_t / sqrt(ab);  x_prev = sqrt(ab_prev) * y_prev.",
    ),
    "kl_diag_gaussians": VARIATIONAL["kl_diag_gaussians"],
    "posterior_mean_variance": DDPM["posterior_mean_variance"],
    "bound_term": (
        "The bound's term compares two Gaussians over x_{t-1} with the same variance: the true posterior "
        "(given x0) and the model's (given its guess of x0).",
        "Build x_t from x0 and noise; x0_hat from the model's eps; take both means from posterior_mean_variance "
        "(with x0 and with x0_hat). kl_diag_gaussians wants LOG-variances, expanded to x0's shape.",
        "mean_q, var = posterior_mean_variance(x0, x_t, ...); mean_p from x0_hat; "
        "L = kl_diag_gaussians(mean_q, log var, mean_p, log var), one value per sample.",
    ),
    "bound_weight": (
        "The KL between two Gaussians with equal variance is the squared distance of the means over twice the "
        "variance. Write the mean difference in terms of eps - eps_theta.",
        "Take beta_t = 1 - alpha_bar_t / alpha_bar_{t-1} (as posterior_mean_variance does), alpha_t = 1 - beta_t "
        "(one step), and beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t.",
        "w_t = beta_t^2 / (2 * beta_tilde_t * alpha_t * (1 - alpha_bar_t))",
    ),
}
