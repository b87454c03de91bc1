"""Seeded inputs for the graded functions of 07_flow_matching (one function per graded name).

Seeds 0 and 1 are the visible checks, 2-4 hidden. Seed 0 has sigma_min > 0 (so "sigma_min ignored"
shows) and includes t = 0 and t = 1 (where a reversed time convention shows); seed 1 uses action
chunks (B, H, D) with B != D, so broadcasting mistakes surface.
"""
from __future__ import annotations

import torch

from coursekit.checks.harness import value_and_gradients
from coursekit.checks.cases import Harnessed
from coursekit.kit.models import ContinuousTimeMLP
from coursekit.kit.toys import ToyVelocityModel

SIGMA_MIN = (0.1, 0.0, 0.05, 0.2, 0.0)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _data_shape(seed: int) -> tuple:
    # Alternate 2-D points (B, D) and action chunks (B, H, D); B != D so broadcasting bugs surface.
    return (5, 2) if seed % 2 == 0 else (3, 4, 2)


def _times(seed: int, batch: int, g: torch.Generator, endpoints: bool) -> torch.Tensor:
    """(batch,) times in [0, 0.9]; with ``endpoints`` the first is 0 and, if sigma_min > 0, the last is 1."""
    t = 0.05 + 0.85 * torch.rand(batch, generator=g)
    if endpoints:
        t[0] = 0.0
        if SIGMA_MIN[seed] > 0:
            t[-1] = 1.0
    return t


def gaussian_path_sample(seed: int) -> dict:
    g, shape = _gen(100 + seed), _data_shape(seed)
    return {"mu_t": torch.randn(shape, generator=g), "sigma_t": 0.2 + torch.rand(shape[0], generator=g),
            "eps": torch.randn(shape, generator=g)}


def conditional_vector_field(seed: int) -> dict:
    g, shape = _gen(200 + seed), _data_shape(seed)
    return {"x": torch.randn(shape, generator=g), "mu_t": torch.randn(shape, generator=g),
            "sigma_t": 0.3 + torch.rand(shape[0], generator=g), "d_mu_t": torch.randn(shape, generator=g),
            "d_sigma_t": torch.randn(shape[0], generator=g)}


def ot_path_sample(seed: int) -> dict:
    g, shape = _gen(300 + seed), _data_shape(seed)
    return {"x1": torch.randn(shape, generator=g), "t": _times(seed, shape[0], g, endpoints=True),
            "eps": torch.randn(shape, generator=g), "sigma_min": SIGMA_MIN[seed]}


def ot_conditional_field(seed: int) -> dict:
    g, shape = _gen(400 + seed), _data_shape(seed)
    return {"x": torch.randn(shape, generator=g), "x1": torch.randn(shape, generator=g),
            "t": _times(seed, shape[0], g, endpoints=True), "sigma_min": SIGMA_MIN[seed]}


def cfm_loss(seed: int) -> dict:
    g, shape = _gen(500 + seed), _data_shape(seed)
    # checked with its gradients with respect to the model's parameters: the loss exists to train it
    return Harnessed(value_and_gradients, wrt=("model",), model=ToyVelocityModel(seed),
                     x1=torch.randn(shape, generator=g), t=_times(seed, shape[0], g, endpoints=True),
                     eps=torch.randn(shape, generator=g), sigma_min=SIGMA_MIN[seed])


def marginal_vector_field(seed: int) -> dict:
    g, shape = _gen(600 + seed), _data_shape(seed)
    n = 6 + seed % 3
    # Times in [0.05, 0.9] and data of unit scale: posterior weights are mixed, neither uniform nor one-hot.
    return {"x": torch.randn(shape, generator=g), "t": _times(seed, shape[0], g, endpoints=False),
            "data": torch.randn((n, *shape[1:]), generator=g), "sigma_min": SIGMA_MIN[seed]}


def small_velocity_mlp(seed: int) -> ContinuousTimeMLP:
    """A seeded 2-D ContinuousTimeMLP (2 hidden layers of 16), built without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(700 + seed)
        return ContinuousTimeMLP(dim=2, hidden=16, depth=2, num_frequencies=2)


def fm_cfm_gradients(seed: int) -> dict:
    g = _gen(800 + seed)
    n, batch = 8, 6
    return {"model": small_velocity_mlp(seed), "data": 1.5 * torch.randn(n, 2, generator=g),
            "index": torch.randint(0, n, (batch,), generator=g), "t": _times(seed, batch, g, endpoints=False),
            "eps": torch.randn(batch, 2, generator=g), "sigma_min": SIGMA_MIN[seed]}
