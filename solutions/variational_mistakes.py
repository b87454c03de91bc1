"""Common wrong versions of the 01_variational_inference functions (see solutions/mistakes.py)."""
from __future__ import annotations

import math

import torch

from solutions.mistakes import registry
from solutions.variational import gaussian_log_prob

mistake = registry()


@mistake("kl_diag_gaussians", "std passed where log-variance is expected",
         "The arguments are log-variances: the variance is exp(logvar), not logvar itself (nor its square).",
         showcase=True)
def kl_treats_logvar_as_std(mu_q, logvar_q, mu_p, logvar_p):
    var_q, var_p = logvar_q**2, logvar_p**2
    return 0.5 * (torch.log(var_p / var_q) + (var_q + (mu_q - mu_p) ** 2) / var_p - 1).sum(dim=-1)


@mistake("kl_diag_gaussians", "KL arguments swapped",
         "KL is not symmetric: KL(q || p) weighs the log-ratio by q, so q's variance goes in the numerator.")
def kl_reversed(mu_q, logvar_q, mu_p, logvar_p):
    return 0.5 * ((logvar_p - logvar_q).exp() + (mu_q - mu_p) ** 2 / logvar_q.exp() - 1 - (logvar_p - logvar_q)).sum(dim=-1)


@mistake("log_evidence", "variance a^2 + s^2 forgotten",
         "Integrating z out adds the prior's spread: p(x) = N(b, a^2 + s^2), not N(b, s^2).")
def evidence_likelihood_only(x, a, b, s):
    return gaussian_log_prob(x, torch.full_like(x, b), torch.full_like(x, 2 * math.log(s)))


@mistake("true_posterior", "std returned instead of log-variance",
         "Return log(v), the log-variance, as the second output.")
def posterior_std(x, a, b, s):
    v = s**2 / (s**2 + a**2)
    return v * a * (x - b) / s**2, torch.full_like(x, math.sqrt(v))


@mistake("elbo_mc", "log q(z) left out",
         "The ELBO is E_q[log p(x, z) - log q(z)]; without the entropy term the bound is not a bound.",
         showcase=True)
def elbo_no_entropy(x, q_mean, q_logvar, a, b, s, num_samples, generator):
    eps = torch.randn((num_samples, x.shape[0]), generator=generator)
    z = q_mean + (0.5 * q_logvar).exp() * eps
    log_lik = gaussian_log_prob(x, a * z + b, torch.full_like(z, 2 * math.log(s)))
    return (log_lik + gaussian_log_prob(z, torch.zeros_like(z), torch.zeros_like(z))).mean(dim=0)


@mistake("elbo_mc", "log-variance used as the standard deviation",
         "With the reparameterisation z = mean + std * eps, std = exp(logvar / 2).")
def elbo_logvar_as_std(x, q_mean, q_logvar, a, b, s, num_samples, generator):
    eps = torch.randn((num_samples, x.shape[0]), generator=generator)
    z = q_mean + q_logvar * eps
    log_lik = gaussian_log_prob(x, a * z + b, torch.full_like(z, 2 * math.log(s)))
    log_prior = gaussian_log_prob(z, torch.zeros_like(z), torch.zeros_like(z))
    return (log_lik + log_prior - gaussian_log_prob(z, q_mean, q_logvar)).mean(dim=0)


@mistake("kl_diag_gaussians", "KL averaged over dimensions instead of summed",
         "The KL of a diagonal Gaussian is a sum over independent dimensions: use .sum(dim=-1), not .mean(dim=-1).")
def kl_mean_over_dims(mu_q, logvar_q, mu_p, logvar_p):
    var_ratio = (logvar_q - logvar_p).exp()
    return 0.5 * (var_ratio + (mu_q - mu_p) ** 2 / logvar_p.exp() - 1 - (logvar_q - logvar_p)).mean(dim=-1)


@mistake("kl_diag_gaussians", "the factor 1/2 missing",
         "KL = 1/2 sum(...): every term of the Gaussian KL carries the 1/2 of the log-density.")
def kl_no_half(mu_q, logvar_q, mu_p, logvar_p):
    var_ratio = (logvar_q - logvar_p).exp()
    return (var_ratio + (mu_q - mu_p) ** 2 / logvar_p.exp() - 1 - (logvar_q - logvar_p)).sum(dim=-1)


@mistake("elbo_mc", "log p(z) left out",
         "The ELBO is E_q[log p(x | z) + log p(z) - log q(z)]: the prior term log N(z; 0, 1) belongs in it.")
def elbo_no_prior(x, q_mean, q_logvar, a, b, s, num_samples, generator):
    eps = torch.randn((num_samples, x.shape[0]), generator=generator)
    z = q_mean + (0.5 * q_logvar).exp() * eps
    log_lik = gaussian_log_prob(x, a * z + b, torch.full_like(z, 2 * math.log(s)))
    return (log_lik - gaussian_log_prob(z, q_mean, q_logvar)).mean(dim=0)


@mistake("elbo_mc", "the reparameterised sample detached",
         "The reparameterisation exists so gradients reach q_mean and q_logvar through z: "
         "keep z = q_mean + std * eps in the graph (no .detach(), no torch.no_grad()).")
def elbo_detached_sample(x, q_mean, q_logvar, a, b, s, num_samples, generator):
    eps = torch.randn((num_samples, x.shape[0]), generator=generator)
    z = (q_mean + (0.5 * q_logvar).exp() * eps).detach()
    log_lik = gaussian_log_prob(x, a * z + b, torch.full_like(z, 2 * math.log(s)))
    log_prior = gaussian_log_prob(z, torch.zeros_like(z), torch.zeros_like(z))
    return (log_lik + log_prior - gaussian_log_prob(z, q_mean, q_logvar)).mean(dim=0)
