"""Seeded inputs for the graded functions of 02b_theory_bridge (one function per graded name).

Quirks on purpose: noise scales away from 1 (so sigma and sigma^2 differ), OT and VP paths both
visible (a conversion that assumes alpha^2 + sigma^2 = 1 fails on OT), batch sizes unlike the data
dimension (broadcasting bugs surface), and times away from the path's ends (no division by zero).
"""
from __future__ import annotations

import copy
import math

import torch

from coursekit.assignments.bridge.densities import ToyScore, ToyScoreModel
from coursekit.assignments.ddpm import cases as ddpm_cases
from coursekit.checks.harness import value_and_gradients
from coursekit.assignments.variational import cases as variational_cases
from coursekit.checks.cases import Harnessed
from coursekit.kit.toys import ToyEpsModel

KINDS = ("epsilon", "sample", "v_prediction", "score", "velocity")


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _shape(seed: int) -> tuple:
    return (5, 2) if seed % 2 == 0 else (3, 4, 2)


def _schedule(seed: int, T: int = 12):
    """A random valid schedule: betas in (0.01, 0.3) and their alpha_bar."""
    betas = 0.01 + 0.29 * torch.rand(T, generator=_gen(700 + seed))
    return betas, torch.cumprod(1 - betas, dim=0)


def _flow_scales(seed: int, batch: int):
    """(alpha, sigma, d_alpha, d_sigma) of the OT path (even seeds) or the VP path (odd), at times in (0.1, 0.9)."""
    t = 0.1 + 0.8 * torch.rand(batch, generator=_gen(800 + seed))
    if seed % 2 == 0:
        return t, 1 - t, torch.ones_like(t), -torch.ones_like(t)
    a = math.pi / 2 * t
    return a.sin(), a.cos(), math.pi / 2 * a.cos(), -math.pi / 2 * a.sin()


# ---------------------------------------------------------------- 1. the score view

def eps_to_score(seed: int) -> dict:
    g, shape = _gen(100 + seed), _shape(seed)
    return {"eps": torch.randn(shape, generator=g), "sigma": 0.2 + 0.6 * torch.rand(shape[0], generator=g)}


def dsm_loss(seed: int) -> dict:
    g = _gen(110 + seed)
    B = 6 if seed % 2 == 0 else 3
    return Harnessed(value_and_gradients, wrt=("score_model",), score_model=ToyScoreModel(seed),
                     x0=torch.randn(B, 2, generator=g), sigma=0.2 + 0.6 * torch.rand(B, generator=g),
                     noise=torch.randn(B, 2, generator=g))


def langevin_step(seed: int) -> dict:
    g = _gen(120 + seed)
    B = 5 if seed % 2 == 0 else 3
    return {"score": ToyScore(seed), "x": torch.randn(B, 2, generator=g), "step_size": [0.05, 0.3, 0.01][seed % 3],
            "noise": torch.randn(B, 2, generator=g)}


# ---------------------------------------------------------------- 2. parameterisations

def flow_path(seed: int) -> dict:
    t = torch.rand(4 + seed, generator=_gen(130 + seed))
    t[0] = 0.0  # the noise end: where swapping the t = 0 / t = 1 conventions shows most
    return {"kind": ["ot", "vp"][seed % 2], "t": t}


def predictions(seed: int) -> dict:
    g, shape = _gen(140 + seed), _shape(seed)
    alpha, sigma, d_alpha, d_sigma = _flow_scales(seed, shape[0])
    return {"data": torch.randn(shape, generator=g), "eps": torch.randn(shape, generator=g),
            "alpha": alpha, "sigma": sigma, "d_alpha": d_alpha, "d_sigma": d_sigma}


def every_kind(fn, predictions: tuple, x, alpha, sigma, d_alpha, d_sigma) -> tuple:
    """The check of ``to_data_eps``: its (data_hat, eps_hat) for a prediction of each kind, in KINDS order."""
    return tuple(fn(p, kind, x, alpha, sigma, d_alpha, d_sigma) for p, kind in zip(predictions, KINDS))


def to_data_eps(seed: int) -> Harnessed:
    """Predictions of every kind, made (with a little distortion, so they are not exactly consistent)
    from one seeded (data, eps) at x = alpha data + sigma eps."""
    g, shape = _gen(150 + seed), _shape(seed)
    alpha, sigma, d_alpha, d_sigma = _flow_scales(seed, shape[0])
    view = (-1, *([1] * (len(shape) - 1)))
    data, eps = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    x = alpha.reshape(view) * data + sigma.reshape(view) * eps
    preds = tuple(torch.randn(shape, generator=g) for _ in KINDS)   # independent predictions: any mix-up shows
    return Harnessed(every_kind, predictions=preds, x=x, alpha=alpha, sigma=sigma, d_alpha=d_alpha, d_sigma=d_sigma)


def ddpm_to_flow_time(seed: int) -> dict:
    _, alpha_bar = _schedule(seed)
    return {"alpha_bar_t": alpha_bar[torch.randperm(len(alpha_bar), generator=_gen(160 + seed))[:5]].contiguous(),
            "kind": ["ot", "vp"][seed % 2]}


def prediction_loss(seed: int) -> dict:
    inputs = ddpm_cases.q_sample(seed)
    return Harnessed(value_and_gradients, wrt=("model",), model=ToyEpsModel(seed), **inputs,
                     kind=["v_prediction", "sample", "epsilon"][seed % 3])


# ---------------------------------------------------------------- 3. the probability-flow ODE

def euler_step(seed: int) -> dict:
    g, shape = _gen(170 + seed), _shape(seed)
    _, alpha_bar = _schedule(seed)
    t = int(torch.randint(3, len(alpha_bar), (1,), generator=g))
    t_prev = -1 if seed % 3 == 1 else t - 3   # seed 1 checks the last step, to clean data
    return {"model": ToyEpsModel(seed), "x_t": torch.randn(shape, generator=g), "t": t, "t_prev": t_prev,
            "alpha_bar": alpha_bar}


def heun_step(seed: int) -> dict:
    inputs = euler_step(seed + 1)           # seed 0 gets a last step (to clean data), seed 1 a middle one
    inputs["model"] = ToyEpsModel(seed)
    return inputs


# ---------------------------------------------------------------- 4. the ELBO -> DDPM bridge

def kl_diag_gaussians(seed: int) -> dict:
    return variational_cases.kl_diag_gaussians(seed)


def posterior_mean_variance(seed: int) -> dict:
    return ddpm_cases.posterior_mean_variance(seed)


def bound_term(seed: int) -> dict:
    g = _gen(180 + seed)
    betas, alpha_bar = _schedule(seed)
    B = 6 if seed % 2 == 0 else 3
    t = torch.randint(1, len(betas), (B,), generator=g)
    t[0] = 1   # the first KL term, where alpha_bar_{t-1} = alpha_bar[0] (not 1)
    return {"model": ToyEpsModel(seed), "x0": torch.randn(B, 2, generator=g), "t": t, "betas": betas,
            "alpha_bar": alpha_bar, "noise": torch.randn(B, 2, generator=g)}


def bound_weight(seed: int) -> dict:
    betas, alpha_bar = _schedule(seed)
    t = torch.arange(1, len(betas)) if seed % 2 == 0 else torch.randint(1, len(betas), (4,), generator=_gen(190 + seed))
    return {"t": t, "betas": betas, "alpha_bar": alpha_bar}
