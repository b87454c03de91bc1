"""Seeded inputs for the graded functions of 01_variational_inference."""
from __future__ import annotations

import copy

import torch

from coursekit.checks.cases import Harnessed, Seeded


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def value_and_gradients(fn, wrt: tuple, **inputs) -> tuple:
    """The check of a function that exists to be differentiated: (value, which inputs gradients reach, gradients).

    ``wrt`` names the inputs to differentiate: a tensor input directly, a model (a toy with tensor
    attributes) through those attributes, its parameters. The gradients are those of the output's sum.
    A function that computes the right number through a detached path (``.detach()``, ``.item()``,
    ``torch.no_grad()``) fails on the second item, which names the inputs no gradient reaches, and
    on zero gradients.
    """
    leaves = {}
    with torch.enable_grad():
        for name in wrt:
            if isinstance(inputs[name], torch.Tensor):
                inputs[name] = inputs[name].clone().requires_grad_(True)
                leaves[inputs[name]] = name
                continue
            model = inputs[name] = copy.copy(inputs[name])
            for attr, value in sorted(vars(model).items()):
                if isinstance(value, torch.Tensor):
                    setattr(model, attr, value.clone().requires_grad_(True))
                    leaves[getattr(model, attr)] = name
        out = fn(**inputs)
        grads = [None] * len(leaves)
        if isinstance(out, torch.Tensor) and out.requires_grad:
            grads = torch.autograd.grad(out.sum(), list(leaves), allow_unused=True)
    unreached = [n for n in wrt if all(g is None for g, m in zip(grads, leaves.values()) if m == n)]
    reach = (f"detached: no gradient reaches {', '.join(unreached)}" if unreached
             else f"gradients reach {', '.join(wrt)}")
    grads = tuple(torch.zeros_like(p) if g is None else g for p, g in zip(leaves, grads))
    return (out.detach() if isinstance(out, torch.Tensor) else out), reach, grads


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
