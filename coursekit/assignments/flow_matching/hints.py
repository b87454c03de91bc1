"""Hints for 07 (``hint("ot_path_sample")``): a nudge, the key idea, the formula. No solution code."""

HINTS = {
    "gaussian_path_sample": (
        "A sample of N(mu_t, sigma_t^2 I) is the mean plus sigma times standard noise.",
        "sigma_t has one value per sample (B,); reshape it to (B, 1, ...) so it scales whole samples of eps "
        "(the notebook's per_sample helper does that).",
    ),
    "conditional_vector_field": (
        "The field moves a point so that it stays at the same 'number of sigmas' from the moving mean.",
        "Two parts: the mean's own velocity mu_t', and a stretch of the offset x - mu_t at the rate sigma_t'/sigma_t. "
        "Both sigma coefficients are (B,) and must broadcast over each sample.",
        "u = (d_sigma_t / sigma_t) (per sample) * (x - mu_t) + d_mu_t",
    ),
    "ot_path_sample": (
        "The OT path is one Gaussian path: say what its mean and standard deviation are, then reuse gaussian_path_sample.",
        "mu_t = t x1 (t reshaped per sample), sigma_t = 1 - (1 - sigma_min) t, one value per sample.",
        "x_t = t * x1 + (1 - (1 - sigma_min) * t) * eps, computed through gaussian_path_sample(mu_t, sigma_t, eps).",
    ),
    "ot_conditional_field": (
        "Plug the OT path's mu_t, sigma_t and their time derivatives into the general field u = sigma'/sigma (x - mu) + mu'.",
        "mu_t' = x1 and sigma_t' = -(1 - sigma_min); after simplifying, only one division remains, by sigma_t.",
        "u = (x1 - (1 - sigma_min) * x) / (1 - (1 - sigma_min) * t), the denominator reshaped per sample.",
    ),
    "marginal_vector_field": (
        "The marginal field at x averages the conditional fields of all N data points, weighted by how likely "
        "each data point is to have produced x at time t.",
        "The weight of x1_i is proportional to N(x; t x1_i, sigma_t^2 I): a softmax over i of -|x - t x1_i|^2 / (2 sigma_t^2) "
        "(flatten trailing axes to compute the squared distance). Evaluate ot_conditional_field for every (x, x1_i) pair.",
        "w[b, i] = softmax over i of ( -|x_b - t_b x1_i|^2 / (2 sigma_t[b]^2) ),  sigma_t = 1 - (1 - sigma_min) t;  "
        "u(x_b) = sum_i w[b, i] * ot_conditional_field(x_b, x1_i, t_b, sigma_min).",
    ),
    "cfm_loss": (
        "Sample x_t on the OT path (use ot_path_sample with the same arguments) and regress the model on the "
        "conditional field there.",
        "At x_t the OT target needs no division: it is x1 - (1 - sigma_min) eps.",
        "loss = mean over all entries of (model(x_t, t) - (x1 - (1 - sigma_min) * eps))^2.",
    ),
    "fm_cfm_gradients": (
        "Build both losses on the same x_t, then ask autograd for the gradient of each with respect to the "
        "parameters, separately.",
        "FM loss: mean of (model(x_t, t) - marginal_vector_field(x_t, t, data, sigma_min))^2. CFM loss: your cfm_loss "
        "with x1, t, eps. torch.autograd.grad(loss, params) returns one gradient per parameter.",
        "x_t from ot_path_sample on (x1, t, eps, sigma_min); grad_fm = autograd.grad(fm, params); grad_cfm = "
        "autograd.grad(cfm, params); flatten each gradient and concatenate in parameter order: two (P,) tensors.",
    ),
}
