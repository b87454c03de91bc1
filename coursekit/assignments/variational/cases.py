"""Seeded inputs for the graded functions of 01_variational_inference."""
from __future__ import annotations

import copy

import torch

from coursekit.checks.cases import Harnessed, Seeded
from coursekit.checks.harness import value_and_gradients


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _model(seed: int) -> dict:
    g = _gen(700 + seed)
    a, b, s = (0.5 + 1.5 * torch.rand(3, generator=g)).tolist()
    return {"a": a, "b": b - 1.0, "s": s}


def kl_diag_gaussians(seed: int) -> dict:
    g, shape = _gen(800 + seed), (4, 3)
    return {"mu_q": torch.randn(shape, generator=g), "logvar_q": 0.8 * torch.randn(shape, generator=g),
            "mu_p": torch.randn(shape, generator=g), "logvar_p": 0.8 * torch.randn(shape, generator=g)}


def log_evidence(seed: int) -> dict:
    return {"x": 2 * torch.randn(5, generator=_gen(900 + seed)), **_model(seed)}


def true_posterior(seed: int) -> dict:
    return log_evidence(seed)


def elbo_mc(seed: int) -> dict:
    g = _gen(1000 + seed)
    x = 2 * torch.randn(5, generator=g)
    return Harnessed(value_and_gradients, wrt=("q_mean", "q_logvar"), x=x, q_mean=torch.randn(5, generator=g),
                     q_logvar=0.5 * torch.randn(5, generator=g), **_model(seed), num_samples=64,
                     generator=Seeded(1100 + seed))
