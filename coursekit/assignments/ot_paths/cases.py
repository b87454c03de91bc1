"""Seeded inputs for the graded functions of 08_diffusion_and_ot_paths (one function per graded name).

Seeds 0 and 1 are the visible checks, 2-4 hidden. Times include the ends t = 0 and (where the
function is defined there) t = 1, where a reversed time convention shows most; seed 1 uses action
chunks (B, H, D) with B != D, so broadcasting mistakes surface. The schedule constants vary by seed
(seed 0 uses the standard VP constants beta_min = 0.1, beta_max = 20).
"""
from __future__ import annotations

import torch

BETAS = ((0.1, 20.0), (0.5, 10.0), (0.1, 20.0), (1.0, 5.0), (0.2, 15.0))
VE_SIGMAS = ((0.01, 5.0), (0.05, 2.0), (0.02, 8.0), (0.1, 3.0), (0.01, 50.0))


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _data_shape(seed: int) -> tuple:
    return (5, 2) if seed % 2 == 0 else (3, 4, 2)


def _times(batch: int, g: torch.Generator, *, zero: bool = True, one: bool = False, high: float = 0.95) -> torch.Tensor:
    t = 0.05 + (high - 0.05) * torch.rand(batch, generator=g)
    if zero:
        t[0] = 0.0
    if one:
        t[-1] = 1.0
    return t


def _betas(seed: int) -> dict:
    beta_min, beta_max = BETAS[seed]
    return {"beta_min": beta_min, "beta_max": beta_max}


def _ve(seed: int) -> dict:
    sigma_min, sigma_max = VE_SIGMAS[seed]
    return {"sigma_min": sigma_min, "sigma_max": sigma_max}


def vp_alpha(seed: int) -> dict:
    return {"s": _times(7, _gen(100 + seed), one=True, high=1.0), **_betas(seed)}


def vp_schedule(seed: int) -> dict:
    return {"t": _times(6, _gen(200 + seed)), **_betas(seed)}


def _path_sample(offset: int, seed: int, schedule: dict) -> dict:
    g, shape = _gen(offset + seed), _data_shape(seed)
    return {"x1": torch.randn(shape, generator=g), "t": _times(shape[0], g, one=True),
            "eps": torch.randn(shape, generator=g), **schedule}


def _conditional_field(offset: int, seed: int, schedule: dict, **times) -> dict:
    g, shape = _gen(offset + seed), _data_shape(seed)
    return {"x": torch.randn(shape, generator=g), "x1": torch.randn(shape, generator=g),
            "t": _times(shape[0], g, **times), **schedule}


def vp_path_sample(seed: int) -> dict:
    return _path_sample(300, seed, _betas(seed))


def vp_conditional_field(seed: int) -> dict:
    return _conditional_field(400, seed, _betas(seed), zero=False)


def ve_path_sample(seed: int) -> dict:
    return _path_sample(500, seed, _ve(seed))


def ve_conditional_field(seed: int) -> dict:
    return _conditional_field(600, seed, _ve(seed), one=True)


def straightness(seed: int) -> dict:
    g, shape = _gen(800 + seed), _data_shape(seed)
    K = 4 + seed % 3
    widths = 0.5 + torch.rand(K, generator=g)                            # unequal steps, none tiny
    times = torch.cat([torch.zeros(1), torch.cumsum(widths, 0) / widths.sum()])
    times[-1] = 1.0
    trajectory = torch.cumsum(torch.randn((K + 1, *shape), generator=g), dim=0)  # a random walk, (K+1, B, ...)
    return {"trajectory": trajectory, "times": times}
