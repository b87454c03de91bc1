"""Common wrong versions of the 02_ddpm functions (see solutions/mistakes.py)."""
from __future__ import annotations

import torch

from solutions.ddpm import ddim_step, ddim_timesteps, p_sample, posterior_mean_variance
from solutions.mistakes import registry

mistake = registry()


@mistake("compute_alpha_bar", "alpha instead of alpha_bar",
         "alpha_bar[t] is the running product of (1 - beta) up to t, not 1 - beta[t] alone.", showcase=True)
def alpha_not_cumulative(betas):
    return 1.0 - betas


@mistake("cosine_beta_schedule", "beta not capped",
         "Clip each beta at max_beta (0.999): near t = T the cosine schedule's last beta approaches 1.")
def cosine_uncapped(T, s=0.008, max_beta=0.999):
    import math
    f = lambda u: math.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    return torch.tensor([1 - f((t + 1) / T) / f(t / T) for t in range(T)], dtype=torch.float32)


@mistake("cosine_beta_schedule", "off-by-one in t",
         "beta[t] compares f at (t + 1) / T with f at t / T; with 0-based t the first beta uses f(1/T) / f(0).")
def cosine_shifted(T, s=0.008, max_beta=0.999):
    import math
    f = lambda u: math.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    return torch.tensor([min(1 - f((t + 2) / T) / f((t + 1) / T), max_beta) for t in range(T)], dtype=torch.float32)


@mistake("q_sample", "missing square root",
         "The mean is sqrt(alpha_bar_t) x0 and the standard deviation sqrt(1 - alpha_bar_t): take square roots of both.", showcase=True)
def q_sample_no_sqrt(x0, t, alpha_bar, noise):
    a = alpha_bar[t].reshape(-1, *([1] * (x0.ndim - 1)))
    return a * x0 + (1 - a) * noise


@mistake("q_sample", "off-by-one in t",
         "Time is 0-based here: use alpha_bar[t], not alpha_bar[t - 1] (the paper's step k is our t = k - 1).", showcase=True)
def q_sample_off_by_one(x0, t, alpha_bar, noise):
    a = alpha_bar[t - 1].reshape(-1, *([1] * (x0.ndim - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


@mistake("q_sample", "(B,) vs (B, 1) broadcasting",
         "alpha_bar[t] has shape (B,); reshape it to (B, 1, ...) so it scales each sample, not each coordinate.", showcase=True)
def q_sample_broadcast(x0, t, alpha_bar, noise):
    a = alpha_bar[t]  # (B,): lines up with the last data dimension, not with the batch
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


@mistake("ddpm_loss", "x0 + eps as the network input",
         "The network sees x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps, not x0 + eps.")
def loss_plain_sum(model, x0, t, alpha_bar, noise):
    return ((model(x0 + noise, t) - noise) ** 2).mean()


@mistake("ddpm_loss", "regressing x0 instead of the noise",
         "In epsilon-prediction the target is the noise that was added, not the clean sample.")
def loss_x0_target(model, x0, t, alpha_bar, noise):
    a = alpha_bar[t].reshape(-1, *([1] * (x0.ndim - 1)))
    return ((model(a.sqrt() * x0 + (1 - a).sqrt() * noise, t) - x0) ** 2).mean()


@mistake("posterior_mean_variance", "off-by-one in t",
         "alpha_bar_{t-1} is alpha_bar[t - 1], and it is 1 at t = 0 (prepend a 1), not alpha_bar[t].")
def posterior_same_t(x0, x_t, t, betas, alpha_bar):
    view = (-1, *([1] * (x_t.ndim - 1)))
    beta, ab = betas[t].reshape(view), alpha_bar[t].reshape(view)
    mean = ab.sqrt() * beta / (1 - ab) * x0 + (1 - beta).sqrt() * (1 - ab) / (1 - ab) * x_t
    return mean, beta


@mistake("posterior_mean_variance", "beta_t as the variance",
         "The posterior variance is beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) * beta_t, not beta_t.")
def posterior_beta_variance(x0, x_t, t, betas, alpha_bar):
    mean, _ = posterior_mean_variance(x0, x_t, t, betas, alpha_bar)
    return mean, betas[t].reshape(-1, *([1] * (x_t.ndim - 1)))


@mistake("p_sample", "noise added at the last step",
         "At t = 0 the step returns the posterior mean: adding noise there leaves visible noise in the samples.", showcase=True)
def p_sample_noise_at_zero(model, x_t, t, betas, alpha_bar, noise):
    t_batch = torch.full((x_t.shape[0],), t, dtype=torch.long)
    eps = model(x_t, t_batch)
    x0_hat = (x_t - (1 - alpha_bar[t]).sqrt() * eps) / alpha_bar[t].sqrt()
    mean, variance = posterior_mean_variance(x0_hat, x_t, t_batch, betas, alpha_bar)
    return mean + variance.sqrt() * noise + (betas[t].sqrt() * noise if t == 0 else 0)


@mistake("p_sample", "alpha instead of alpha_bar",
         "x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t) uses the cumulative alpha_bar_t, not alpha_t = 1 - beta_t.")
def p_sample_alpha(model, x_t, t, betas, alpha_bar, noise):
    t_batch = torch.full((x_t.shape[0],), t, dtype=torch.long)
    eps = model(x_t, t_batch)
    alpha = 1 - betas[t]
    x0_hat = (x_t - (1 - alpha).sqrt() * eps) / alpha.sqrt()
    mean, variance = posterior_mean_variance(x0_hat, x_t, t_batch, betas, alpha_bar)
    return mean if t == 0 else mean + variance.sqrt() * noise


@mistake("ddpm_sample", "last step skipped",
         "range(T - 1, 0, -1) stops at t = 1; the loop must run t = T-1, ..., 0 so the final step reaches x_0.")
def ddpm_sample_skips_zero(model, shape, betas, alpha_bar, generator, return_trajectory=False):
    x = torch.randn(shape, generator=generator)
    trajectory = [x]
    for t in range(betas.shape[0] - 1, 0, -1):
        x = p_sample(model, x, t, betas, alpha_bar, torch.randn(shape, generator=generator))
        trajectory.append(x)
    return (x, torch.stack(trajectory)) if return_trajectory else x


@mistake("ddim_step", "eta ignored",
         "sigma = eta * sqrt((1 - ab_prev) / (1 - ab_t)) * sqrt(1 - ab_t / ab_prev) scales the fresh noise and shrinks the eps direction.")
def ddim_no_eta(model, x_t, t, t_prev, alpha_bar, eta, noise):
    ab = alpha_bar[t]
    ab_prev = alpha_bar[t_prev] if t_prev >= 0 else torch.tensor(1.0)
    eps = model(x_t, torch.full((x_t.shape[0],), t, dtype=torch.long))
    x0_hat = (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()
    return ab_prev.sqrt() * x0_hat + (1 - ab_prev).sqrt() * eps


@mistake("ddim_step", "final step not to alpha_bar = 1",
         "When t_prev = -1 the step lands on clean data: use alpha_bar_prev = 1, not alpha_bar[-1] (the last entry).")
def ddim_wraps_index(model, x_t, t, t_prev, alpha_bar, eta, noise):
    ab, ab_prev = alpha_bar[t], alpha_bar[t_prev]
    eps = model(x_t, torch.full((x_t.shape[0],), t, dtype=torch.long))
    x0_hat = (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()
    sigma = eta * ((1 - ab_prev) / (1 - ab)).sqrt() * (1 - ab / ab_prev).abs().sqrt()
    return ab_prev.sqrt() * x0_hat + (1 - ab_prev - sigma**2).clamp(min=0).sqrt() * eps + sigma * noise


@mistake("ddim_sample", "off-by-one in the time grid",
         "Visit ddim_timesteps(T, num_steps) largest first and step to the next entry (or -1 after 0).")
def ddim_sample_shifted(model, shape, alpha_bar, num_steps, generator, eta=0.0, return_trajectory=False):
    times = [t + 1 for t in ddim_timesteps(alpha_bar.shape[0], num_steps)]
    times = [min(t, alpha_bar.shape[0] - 1) for t in times]
    x = torch.randn(shape, generator=generator)
    trajectory = [x]
    for i, t in enumerate(times):
        t_prev = times[i + 1] if i + 1 < len(times) else -1
        noise = torch.randn(shape, generator=generator) if eta > 0 else torch.zeros(shape)
        x = ddim_step(model, x, t, t_prev, alpha_bar, eta, noise)
        trajectory.append(x)
    return (x, torch.stack(trajectory)) if return_trajectory else x


@mistake("ddim_step", "noise added without shrinking the eps direction",
         "When sigma * noise is added, the eps direction must give up that variance: "
         "use sqrt(1 - ab_prev - sigma^2) * eps, not sqrt(1 - ab_prev) * eps.")
def ddim_noise_without_shrink(model, x_t, t, t_prev, alpha_bar, eta, noise):
    ab = alpha_bar[t]
    ab_prev = alpha_bar[t_prev] if t_prev >= 0 else torch.tensor(1.0)
    eps = model(x_t, torch.full((x_t.shape[0],), t, dtype=torch.long))
    x0_hat = (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()
    sigma = eta * ((1 - ab_prev) / (1 - ab)).sqrt() * (1 - ab / ab_prev).sqrt()
    return ab_prev.sqrt() * x0_hat + (1 - ab_prev).sqrt() * eps + sigma * noise


@mistake("ddpm_loss", "the model's output detached",
         "The loss trains the model: keep its output in the graph (no .detach(), no .item(), no torch.no_grad()), "
         "or its gradients are zero.")
def loss_detached(model, x0, t, alpha_bar, noise):
    a = alpha_bar[t].reshape(-1, *([1] * (x0.ndim - 1)))
    x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
    return ((model(x_t, t).detach() - noise) ** 2).mean()
