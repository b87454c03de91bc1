"""Seeded inputs for the graded functions of 09_pi0 (one function per graded name).

Seeds 0 and 1 are the visible checks; they include the end points tau = 0 and tau = 1 (t = 1 and
t = 0), shapes with B != H != D (and one with B == D, where a (B,) time silently broadcasts over
the last axis), and attention masks with at least one allowed and one blocked key in every row
and in both the prefix and the suffix columns, so that every registered mistake shows.
"""
from __future__ import annotations

import torch

from coursekit.checks.cases import Harnessed, Seeded
from coursekit.kit.toys import ToyVelocityModel

_TIME_PARAMS = {0: (0.999, 1.5, 1.0), 1: (0.8, 2.0, 3.0)}   # (s, alpha, beta): pi0's own, then another


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _time_params(seed: int) -> tuple[float, float, float]:
    if seed in _TIME_PARAMS:
        return _TIME_PARAMS[seed]
    g = _gen(900 + seed)
    s, alpha, beta = (0.6 + 0.4 * torch.rand(3, generator=g)).tolist()
    return round(s, 3), round(1.0 + 2 * alpha, 2), round(1.0 + 2 * beta, 2)


def _chunk_shape(seed: int) -> tuple[int, int, int]:
    # seed 0: B == D (2), where tau of shape (B,) broadcasts over D without an error
    return [(2, 5, 2), (3, 4, 2), (4, 6, 3), (2, 7, 2), (5, 3, 2)][seed % 5]


def _times(seed: int, batch: int) -> torch.Tensor:
    """Times in [0, 1] with both end points included."""
    tau = torch.rand(batch, generator=_gen(1000 + seed))
    tau[0] = 0.0
    if batch > 1:
        tau[1] = 1.0
    return tau


def time_density(seed: int) -> dict:
    s, alpha, beta = _time_params(seed)
    if seed < 2:
        tau = torch.cat([torch.linspace(0, 1, 21), torch.tensor([s, 0.5 * s])])
    else:
        tau = torch.cat([torch.rand(30, generator=_gen(1100 + seed)), torch.tensor([0.0, 1.0])])
    return {"tau": tau, "s": s, "alpha": alpha, "beta": beta}


def sample_time(seed: int) -> dict:
    s, alpha, beta = _time_params(seed)
    return {"batch_size": 6 + seed, "generator": Seeded(1200 + seed), "s": s, "alpha": alpha, "beta": beta}


def noisy_actions(seed: int) -> dict:
    g, shape = _gen(1300 + seed), _chunk_shape(seed)
    return {"actions": torch.randn(shape, generator=g), "noise": torch.randn(shape, generator=g),
            "tau": _times(seed, shape[0])}


def target_velocity(seed: int) -> dict:
    g, shape = _gen(1400 + seed), _chunk_shape(seed)
    return {"actions": torch.randn(shape, generator=g), "noise": torch.randn(shape, generator=g)}


def _evaluate_field(fn, velocity, x, time):
    """Convert ``velocity`` with the graded ``fn`` and evaluate the new field at (x, time)."""
    return fn(velocity)(x, time)


def _field_case(seed: int, offset: int) -> Harnessed:
    g, shape = _gen(offset + seed), _chunk_shape(seed + 1)
    return Harnessed(_evaluate_field, velocity=ToyVelocityModel(seed), x=torch.randn(shape, generator=g),
                     time=_times(seed, shape[0]))


def tau_field_from_openpi(seed: int) -> Harnessed:
    return _field_case(seed, 1500)


def openpi_field_from_tau(seed: int) -> Harnessed:
    return _field_case(seed, 1600)


def blockwise_mask(seed: int) -> dict:
    num_prefix, num_state, num_actions = [(3, 1, 4), (2, 2, 3), (5, 1, 6), (0, 1, 3), (4, 0, 2)][seed % 5]
    return {"num_prefix": num_prefix, "num_state": num_state, "num_actions": num_actions}


def euler_sample(seed: int) -> dict:
    g = _gen(1700 + seed)
    return {"velocity": ToyVelocityModel(seed), "noise": torch.randn(_chunk_shape(seed + 1), generator=g),
            "num_steps": [10, 3, 10, 5, 1][seed % 5]}


def euler_sample_openpi(seed: int) -> dict:
    g = _gen(1800 + seed)
    return {"velocity_t": ToyVelocityModel(seed), "noise": torch.randn(_chunk_shape(seed + 1), generator=g),
            "num_steps": [10, 4, 10, 2, 1][seed % 5]}


def _random_suffix_mask(g: torch.Generator, P: int, S: int) -> torch.Tensor:
    """(S, P + S) bool: random, but every row allows and blocks at least one prefix and one suffix key."""
    mask = torch.rand(S, P + S, generator=g) < 0.5
    for i in range(S):
        for lo, hi in ((0, P), (P, P + S)):
            cols = torch.randperm(hi - lo, generator=g)[:2] + lo
            mask[i, cols[0]], mask[i, cols[1]] = True, False
    return mask


def _blockwise_suffix_mask(P: int, S: int) -> torch.Tensor:
    """The suffix rows of pi0's mask with one state token: prefix always visible, the state token
    sees only itself in the suffix, the action tokens see the whole suffix."""
    mask = torch.ones(S, P + S, dtype=torch.bool)
    mask[0, P + 1:] = False
    return mask


def cached_suffix_attention(seed: int) -> dict:
    g = _gen(1900 + seed)
    B, h, P, S, hd = [(2, 2, 3, 5, 4), (1, 3, 4, 2, 6), (2, 2, 6, 4, 8), (3, 1, 2, 5, 4), (2, 4, 5, 3, 2)][seed % 5]
    mask = _blockwise_suffix_mask(P, S) if seed == 2 else _random_suffix_mask(g, P, S)
    q, k, v = (torch.randn(B, h, S, hd, generator=g) for _ in range(3))
    prefix_k, prefix_v = (torch.randn(B, h, P, hd, generator=g) for _ in range(2))
    return {"q": q, "k": k, "v": v, "prefix_k": prefix_k, "prefix_v": prefix_v, "mask": mask}
