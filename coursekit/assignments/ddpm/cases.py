"""Seeded inputs for the graded functions of 02_ddpm (one function per graded name)."""
from __future__ import annotations

import torch

from coursekit.checks.harness import value_and_gradients
from coursekit.checks.cases import Harnessed, Seeded
from coursekit.kit.toys import ToyEpsModel


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _schedule(seed: int, T: int = 12):
    """A random but valid schedule: betas in (0.01, 0.3) and their alpha_bar."""
    betas = 0.01 + 0.29 * torch.rand(T, generator=_gen(seed))
    return betas, torch.cumprod(1 - betas, dim=0)


def _data_shape(seed: int) -> tuple:
    # Alternate 2-D points (B, D) and action chunks (B, H, D); B != D so broadcasting bugs surface.
    return (5, 2) if seed % 2 == 0 else (3, 4, 2)


def linear_beta_schedule(seed: int) -> dict:
    return {"T": 7 + 3 * seed, "beta_start": 1e-4 * (1 + seed), "beta_end": 0.02 + 0.01 * seed}


def cosine_beta_schedule(seed: int) -> dict:
    return {"T": 8 + 5 * seed}


def compute_alpha_bar(seed: int) -> dict:
    return {"betas": _schedule(seed)[0]}


def q_sample(seed: int) -> dict:
    g, shape = _gen(100 + seed), _data_shape(seed)
    _, alpha_bar = _schedule(seed)
    t = torch.randint(0, len(alpha_bar), (shape[0],), generator=g)
    t[0] = 0  # always include the first step, where off-by-one mistakes show
    return {"x0": torch.randn(shape, generator=g), "t": t, "alpha_bar": alpha_bar,
            "noise": torch.randn(shape, generator=g)}


def ddpm_loss(seed: int) -> dict:
    # checked with its gradients with respect to the model's parameters: the loss exists to train it
    return Harnessed(value_and_gradients, wrt=("model",), model=ToyEpsModel(seed), **q_sample(seed))


def posterior_mean_variance(seed: int) -> dict:
    g, shape = _gen(200 + seed), _data_shape(seed)
    betas, alpha_bar = _schedule(seed)
    t = torch.randint(0, len(betas), (shape[0],), generator=g)
    t[0], t[-1] = 0, 1
    return {"x0": torch.randn(shape, generator=g), "x_t": torch.randn(shape, generator=g), "t": t,
            "betas": betas, "alpha_bar": alpha_bar}


def p_sample(seed: int) -> dict:
    g, shape = _gen(300 + seed), _data_shape(seed)
    betas, alpha_bar = _schedule(seed)
    # seed 0 checks the last step (t = 0, no noise); other seeds a middle step
    t = 0 if seed % 3 == 0 else int(torch.randint(1, len(betas), (1,), generator=g))
    return {"model": ToyEpsModel(seed), "x_t": torch.randn(shape, generator=g), "t": t,
            "betas": betas, "alpha_bar": alpha_bar, "noise": torch.randn(shape, generator=g)}


def ddpm_sample(seed: int) -> dict:
    betas, alpha_bar = _schedule(seed, T=6)
    return {"model": ToyEpsModel(seed), "shape": _data_shape(seed), "betas": betas,
            "alpha_bar": alpha_bar, "generator": Seeded(400 + seed)}


def ddim_step(seed: int) -> dict:
    g, shape = _gen(500 + seed), _data_shape(seed)
    _, alpha_bar = _schedule(seed)
    t = int(torch.randint(3, len(alpha_bar), (1,), generator=g))
    t_prev = -1 if seed % 3 == 1 else t - 3
    return {"model": ToyEpsModel(seed), "x_t": torch.randn(shape, generator=g), "t": t, "t_prev": t_prev,
            "alpha_bar": alpha_bar, "eta": [0.6, 0.0, 1.0][seed % 3], "noise": torch.randn(shape, generator=g)}


def ddim_sample(seed: int) -> dict:
    _, alpha_bar = _schedule(seed, T=12)
    return {"model": ToyEpsModel(seed), "shape": _data_shape(seed), "alpha_bar": alpha_bar,
            "num_steps": [4, 3, 6][seed % 3], "generator": Seeded(600 + seed), "eta": [0.0, 0.5, 1.0][seed % 3]}
