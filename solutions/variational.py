"""Variational inference, reference implementations (assignment 01_variational_inference).

The model with a known answer: z ~ N(0, 1), x | z ~ N(a z + b, s^2). Then
p(x) = N(x; b, a^2 + s^2) and p(z | x) = N(m, v) with v = s^2 / (s^2 + a^2), m = v a (x - b) / s^2,
so every quantity of the ELBO identity  ELBO(q) = log p(x) - KL(q(z) || p(z | x))  is exact.
Reference: Kingma & Welling 2014 (reparameterisation); Blei, Kucukelbir & McAuliffe 2017 (review).
"""
from __future__ import annotations

import math

import torch

from coursekit.validate import check_same_shape, check_tensor

LOG_2PI = math.log(2 * math.pi)


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(x; mean, exp(logvar))."""
    return -0.5 * (LOG_2PI + logvar + (x - mean) ** 2 / logvar.exp())


def kl_diag_gaussians(mu_q: torch.Tensor, logvar_q: torch.Tensor,
                      mu_p: torch.Tensor, logvar_p: torch.Tensor) -> torch.Tensor:
    """KL(q || p) between diagonal Gaussians given by means and LOG-VARIANCES, summed over the last axis.

    KL = 1/2 sum( logvar_p - logvar_q + (exp(logvar_q) + (mu_q - mu_p)^2) / exp(logvar_p) - 1 ).
    Inputs (B, D); returns (B,). Always >= 0, and 0 only when q = p.
    """
    check_tensor("mu_q", mu_q, ndim=2, dtype=torch.float32)
    for name, value in (("logvar_q", logvar_q), ("mu_p", mu_p), ("logvar_p", logvar_p)):
        check_same_shape("mu_q", mu_q, name, value)
    ### BEGIN SOLUTION
    var_ratio = (logvar_q - logvar_p).exp()
    mahalanobis = (mu_q - mu_p) ** 2 / logvar_p.exp()
    return 0.5 * (var_ratio + mahalanobis - 1 - (logvar_q - logvar_p)).sum(dim=-1)
    ### END SOLUTION


def log_evidence(x: torch.Tensor, a: float, b: float, s: float) -> torch.Tensor:
    """Exact log p(x) for the linear-Gaussian model: x ~ N(b, a^2 + s^2). x: (B,), returns (B,)."""
    check_tensor("x", x, ndim=1, dtype=torch.float32)
    ### BEGIN SOLUTION
    return gaussian_log_prob(x, torch.full_like(x, b), torch.full_like(x, math.log(a**2 + s**2)))
    ### END SOLUTION


def true_posterior(x: torch.Tensor, a: float, b: float, s: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and LOG-VARIANCE of p(z | x): v = s^2 / (s^2 + a^2), m = v a (x - b) / s^2. Each (B,)."""
    check_tensor("x", x, ndim=1, dtype=torch.float32)
    ### BEGIN SOLUTION
    v = s**2 / (s**2 + a**2)
    return v * a * (x - b) / s**2, torch.full_like(x, math.log(v))
    ### END SOLUTION


def elbo_mc(x: torch.Tensor, q_mean: torch.Tensor, q_logvar: torch.Tensor, a: float, b: float, s: float,
            num_samples: int, generator: torch.Generator) -> torch.Tensor:
    """Monte Carlo ELBO with the reparameterisation trick, one estimate per x. Returns (B,).

    Draw eps ~ N(0, 1) of shape (num_samples, B) from ``generator``, set z = q_mean + exp(q_logvar / 2) eps,
    and average log p(x | z) + log p(z) - log q(z) over the samples. Gradients flow to q_mean, q_logvar.
    """
    check_tensor("x", x, ndim=1, dtype=torch.float32)
    check_same_shape("x", x, "q_mean", q_mean)
    check_same_shape("x", x, "q_logvar", q_logvar)
    ### BEGIN SOLUTION
    eps = torch.randn((num_samples, x.shape[0]), generator=generator)
    z = q_mean + (0.5 * q_logvar).exp() * eps                                   # (S, B)
    log_lik = gaussian_log_prob(x, a * z + b, torch.full_like(z, 2 * math.log(s)))
    log_prior = gaussian_log_prob(z, torch.zeros_like(z), torch.zeros_like(z))
    log_q = gaussian_log_prob(z, q_mean, q_logvar)
    return (log_lik + log_prior - log_q).mean(dim=0)
    ### END SOLUTION
