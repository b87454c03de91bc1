"""Common wrong versions of the 07_flow_matching functions (see solutions/mistakes.py)."""
from __future__ import annotations

import torch

from solutions.flow_matching import (cfm_loss, marginal_vector_field, ot_conditional_field, ot_path_sample,
                                     per_sample)
from solutions.mistakes import registry

mistake = registry()


# ---------------------------------------------------------------- gaussian_path_sample
@mistake("gaussian_path_sample", "(B,) vs (B, 1) broadcasting",
         "sigma_t has shape (B,); reshape it to (B, 1, ...) (per_sample) so it scales each sample, not each coordinate.")
def path_sample_broadcast(mu_t, sigma_t, eps):
    return mu_t + sigma_t * eps


@mistake("gaussian_path_sample", "variance instead of standard deviation",
         "sigma_t is already the standard deviation: x_t = mu_t + sigma_t * eps, not mu_t + sigma_t^2 * eps.")
def path_sample_variance(mu_t, sigma_t, eps):
    return mu_t + per_sample(sigma_t**2, mu_t) * eps


# ---------------------------------------------------------------- conditional_vector_field
@mistake("conditional_vector_field", "ratio inverted",
         "The factor is sigma_t' / sigma_t (derivative over value), not sigma_t / sigma_t'.")
def field_ratio_inverted(x, mu_t, sigma_t, d_mu_t, d_sigma_t):
    return per_sample(sigma_t / d_sigma_t, x) * (x - mu_t) + d_mu_t


@mistake("conditional_vector_field", "x instead of x - mu_t",
         "The field rescales the offset from the mean: sigma_t' / sigma_t * (x - mu_t), then adds mu_t'.")
def field_no_offset(x, mu_t, sigma_t, d_mu_t, d_sigma_t):
    return per_sample(d_sigma_t / sigma_t, x) * x + d_mu_t


@mistake("conditional_vector_field", "mu_t' term dropped",
         "Besides rescaling around the mean, the field moves with the mean: add mu_t'.")
def field_no_mean_velocity(x, mu_t, sigma_t, d_mu_t, d_sigma_t):
    return per_sample(d_sigma_t / sigma_t, x) * (x - mu_t)


@mistake("conditional_vector_field", "wrong sign or direction",
         "Use (x - mu_t), not (mu_t - x): with sigma_t' < 0 the field pulls points towards the mean.")
def field_sign(x, mu_t, sigma_t, d_mu_t, d_sigma_t):
    return per_sample(d_sigma_t / sigma_t, x) * (mu_t - x) + d_mu_t


# ---------------------------------------------------------------- ot_path_sample
@mistake("ot_path_sample", "sigma_min ignored",
         "sigma_t = 1 - (1 - sigma_min) t: at t = 1 a little noise (std sigma_min) remains around x1.")
def ot_sample_no_sigma_min(x1, t, eps, sigma_min=0.0):
    tt = per_sample(t, x1)
    return tt * x1 + (1 - tt) * eps


@mistake("ot_path_sample", "time convention reversed",
         "In this course t = 0 is noise and t = 1 is data: mu_t = t x1 and sigma_t = 1 - (1 - sigma_min) t "
         "(the openpi code uses the reverse, t = 1 noise).", showcase=True)
def ot_sample_reversed(x1, t, eps, sigma_min=0.0):
    s = per_sample(1 - t, x1)
    return s * x1 + (1 - (1 - sigma_min) * s) * eps


@mistake("ot_path_sample", "(B,) vs (B, 1) broadcasting",
         "t has shape (B,); reshape it to (B, 1, ...) (per_sample) before multiplying x1.")
def ot_sample_broadcast(x1, t, eps, sigma_min=0.0):
    return t * x1 + (1 - (1 - sigma_min) * t) * eps


# ---------------------------------------------------------------- ot_conditional_field
@mistake("ot_conditional_field", "sigma_min ignored",
         "Keep sigma_min in both places: (x1 - (1 - sigma_min) x) / (1 - (1 - sigma_min) t).")
def ot_field_no_sigma_min(x, x1, t, sigma_min=0.0):
    return (x1 - x) / per_sample(1 - t, x)


@mistake("ot_conditional_field", "wrong sign or direction",
         "The field points from x towards the data: x1 - (1 - sigma_min) x, not the reverse.")
def ot_field_sign(x, x1, t, sigma_min=0.0):
    return ((1 - sigma_min) * x - x1) / per_sample(1 - (1 - sigma_min) * t, x)


@mistake("ot_conditional_field", "mu_t' term dropped",
         "From sigma_t'/sigma_t (x - mu_t) + mu_t' with mu_t = t x1: the mean moves at mu_t' = x1; keep that term.")
def ot_field_no_mean_velocity(x, x1, t, sigma_min=0.0):
    tt = per_sample(t, x)
    return -(1 - sigma_min) * (x - tt * x1) / (1 - (1 - sigma_min) * tt)


# ---------------------------------------------------------------- cfm_loss
@mistake("cfm_loss", "clean point x1 fed to the model",
         "The network must see the noisy point x_t = ot_path_sample(x1, t, eps, sigma_min), not the data x1 "
         "(at sampling time there is no x1 to give it).", showcase=True)
def cfm_loss_clean_input(model, x1, t, eps, sigma_min=0.0):
    target = x1 - (1 - sigma_min) * eps
    return ((model(x1, t) - target) ** 2).mean()


@mistake("cfm_loss", "wrong sign of the target velocity",
         "With t = 0 noise and t = 1 data the velocity points from noise to data: x1 - (1 - sigma_min) eps, "
         "not (1 - sigma_min) eps - x1.")
def cfm_loss_sign(model, x1, t, eps, sigma_min=0.0):
    x_t = ot_path_sample(x1, t, eps, sigma_min)
    return ((model(x_t, t) - ((1 - sigma_min) * eps - x1)) ** 2).mean()


@mistake("cfm_loss", "sigma_min ignored",
         "x_t = t x1 + (1 - (1 - sigma_min) t) eps moves at x1 - (1 - sigma_min) eps: the noise term keeps sigma_min.")
def cfm_loss_no_sigma_min(model, x1, t, eps, sigma_min=0.0):
    x_t = ot_path_sample(x1, t, eps, sigma_min)
    return ((model(x_t, t) - (x1 - eps)) ** 2).mean()


@mistake("cfm_loss", "time convention reversed",
         "This course has t = 0 noise, t = 1 data: x_t = t x1 + (1 - (1 - sigma_min) t) eps. The openpi form "
         "x_t = t eps + (1 - t) x1 with target eps - x1 belongs to the reversed time.")
def cfm_loss_reversed(model, x1, t, eps, sigma_min=0.0):
    s = per_sample(t, x1)
    x_t = (1 - s) * x1 + (1 - (1 - sigma_min) * (1 - s)) * eps
    return ((model(x_t, t) - ((1 - sigma_min) * eps - x1)) ** 2).mean()


@mistake("cfm_loss", "squared norm summed over coordinates",
         "The loss is the mean over ALL entries of (model(x_t, t) - target)^2: .mean(), not .sum(-1).mean(), "
         "which multiplies it by the dimension (and the learning rate with it).")
def cfm_loss_summed_coordinates(model, x1, t, eps, sigma_min=0.0):
    x_t = ot_path_sample(x1, t, eps, sigma_min)
    return ((model(x_t, t) - (x1 - (1 - sigma_min) * eps)) ** 2).sum(-1).mean()


@mistake("cfm_loss", "the model's output detached",
         "The loss trains the model: keep its output in the graph (no .detach(), no .item(), no torch.no_grad()), "
         "or its gradients are zero.")
def cfm_loss_detached(model, x1, t, eps, sigma_min=0.0):
    x_t = ot_path_sample(x1, t, eps, sigma_min)
    return ((model(x_t, t).detach() - (x1 - (1 - sigma_min) * eps)) ** 2).mean()


# ---------------------------------------------------------------- marginal_vector_field
@mistake("marginal_vector_field", "uniform weights instead of the posterior",
         "Weight each conditional field by the posterior w_i(x) proportional to N(x; t x1_i, sigma_t^2 I), "
         "not equally: the points that could have produced x matter most.")
def marginal_uniform(x, t, data, sigma_min=0.0):
    B, N = x.shape[0], data.shape[0]
    fields = ot_conditional_field(x.repeat_interleave(N, dim=0), data.repeat(B, *([1] * (data.ndim - 1))),
                                  t.repeat_interleave(N), sigma_min)
    return fields.reshape(B, N, -1).mean(1).reshape(x.shape)


@mistake("marginal_vector_field", "weights normalised over the batch",
         "The posterior sums to 1 over the data points (softmax over N, dim=1), separately for each x in the batch.")
def marginal_softmax_batch(x, t, data, sigma_min=0.0):
    B, N = x.shape[0], data.shape[0]
    flat_x, flat_data = x.reshape(B, 1, -1), data.reshape(1, N, -1)
    sigma_t = 1 - (1 - sigma_min) * t
    sq_dist = ((flat_x - t[:, None, None] * flat_data) ** 2).sum(-1)
    weights = torch.softmax(-sq_dist / (2 * sigma_t[:, None] ** 2), dim=0)
    fields = ot_conditional_field(x.repeat_interleave(N, dim=0), data.repeat(B, *([1] * (data.ndim - 1))),
                                  t.repeat_interleave(N), sigma_min).reshape(B, N, -1)
    return (weights[:, :, None] * fields).sum(1).reshape(x.shape)


@mistake("marginal_vector_field", "sigma_t instead of sigma_t^2",
         "The Gaussian log-likelihood is -|x - t x1_i|^2 / (2 sigma_t^2): square the standard deviation.")
def marginal_sigma_not_squared(x, t, data, sigma_min=0.0):
    B, N = x.shape[0], data.shape[0]
    flat_x, flat_data = x.reshape(B, 1, -1), data.reshape(1, N, -1)
    sigma_t = 1 - (1 - sigma_min) * t
    sq_dist = ((flat_x - t[:, None, None] * flat_data) ** 2).sum(-1)
    weights = torch.softmax(-sq_dist / (2 * sigma_t[:, None]), dim=1)
    fields = ot_conditional_field(x.repeat_interleave(N, dim=0), data.repeat(B, *([1] * (data.ndim - 1))),
                                  t.repeat_interleave(N), sigma_min).reshape(B, N, -1)
    return (weights[:, :, None] * fields).sum(1).reshape(x.shape)


@mistake("marginal_vector_field", "likelihood centred at x1, not mu_t = t x1",
         "At time t the conditional path around x1_i is centred at mu_t = t x1_i: compare x with t x1_i.")
def marginal_wrong_centre(x, t, data, sigma_min=0.0):
    B, N = x.shape[0], data.shape[0]
    flat_x, flat_data = x.reshape(B, 1, -1), data.reshape(1, N, -1)
    sigma_t = 1 - (1 - sigma_min) * t
    sq_dist = ((flat_x - flat_data) ** 2).sum(-1)
    weights = torch.softmax(-sq_dist / (2 * sigma_t[:, None] ** 2), dim=1)
    fields = ot_conditional_field(x.repeat_interleave(N, dim=0), data.repeat(B, *([1] * (data.ndim - 1))),
                                  t.repeat_interleave(N), sigma_min).reshape(B, N, -1)
    return (weights[:, :, None] * fields).sum(1).reshape(x.shape)


# ---------------------------------------------------------------- fm_cfm_gradients
@mistake("fm_cfm_gradients", "the same target in both losses",
         "The FM loss regresses the marginal field marginal_vector_field(x_t, t, data, sigma_min); the CFM loss "
         "the conditional one. The two gradients agree only on average, not exactly on one batch.")
def gradients_same_target(model, data, index, t, eps, sigma_min=0.0):
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.enable_grad():
        g = torch.autograd.grad(cfm_loss(model, data[index], t, eps, sigma_min), params)
        flat = torch.cat([p.flatten() for p in g])
        return flat, flat.clone()


@mistake("fm_cfm_gradients", "marginal field evaluated at x1",
         "Evaluate the marginal field where the model is evaluated, at x_t, not at the data point x1.")
def gradients_marginal_at_x1(model, data, index, t, eps, sigma_min=0.0):
    params = [p for p in model.parameters() if p.requires_grad]
    x1 = data[index]
    with torch.enable_grad():
        x_t = ot_path_sample(x1, t, eps, sigma_min)
        fm = ((model(x_t, t) - marginal_vector_field(x1, t, data, sigma_min)) ** 2).mean()
        g_fm = torch.autograd.grad(fm, params)
        g_cfm = torch.autograd.grad(cfm_loss(model, x1, t, eps, sigma_min), params)
        return torch.cat([g.flatten() for g in g_fm]), torch.cat([g.flatten() for g in g_cfm])
