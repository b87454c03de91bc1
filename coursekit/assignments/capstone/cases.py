"""Seeded inputs for the graded pieces of 10_capstone (one function per graded name)."""
from __future__ import annotations

import torch

from coursekit.assignments.diffusion_transformer.cases import ToyLabelEpsModel
from coursekit.checks.cases import Seeded
from coursekit.kit.toys import ToyEpsModel


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _range(g: torch.Generator, D: int) -> tuple[torch.Tensor, torch.Tensor]:
    low = torch.randn(D, generator=g)
    return low, low + 0.5 + 2 * torch.rand(D, generator=g)          # widths differ per coordinate


def normalize(seed: int) -> dict:
    g = _gen(1000 + seed)
    shape = [(3, 8, 3), (2, 4, 3), (5, 3), (2, 6, 2), (4, 4, 4)][seed % 5]   # any leading shape; D varies
    low, high = _range(g, shape[-1])
    x = low + (high - low) * torch.rand(shape, generator=g)                  # inside the range
    return {"x": x, "low": low, "high": high}


def unnormalize(seed: int) -> dict:
    g = _gen(1100 + seed)
    shape = [(3, 8, 3), (2, 4, 3), (5, 3), (2, 6, 2), (4, 4, 4)][seed % 5]
    low, high = _range(g, shape[-1])
    return {"x": 2 * torch.rand(shape, generator=g) - 1, "low": low, "high": high}


def tokenize(seed: int) -> dict:
    g = _gen(1200 + seed)
    B, H, D, patch = [(2, 8, 3, 2), (3, 12, 3, 4), (2, 6, 2, 3), (1, 16, 3, 2), (2, 4, 3, 1)][seed % 5]
    return {"x": torch.randn(B, H, D, generator=g), "patch": patch}          # patch != D in most cases


def detokenize(seed: int) -> dict:
    g = _gen(1300 + seed)
    B, N, D, patch = [(2, 4, 3, 2), (3, 3, 3, 4), (2, 2, 2, 3), (1, 8, 3, 2), (2, 4, 3, 1)][seed % 5]
    return {"tokens": torch.randn(B, N, patch * D, generator=g), "patch": patch}


def goal_guided_eps(seed: int) -> dict:
    g = _gen(1400 + seed)
    B, N, C = [(4, 3, 6), (3, 4, 6), (5, 2, 3), (2, 8, 6), (3, 3, 4)][seed % 5]
    goal = torch.randint(0, 3, (B,), generator=g)
    goal[0] = 1                                                               # a goal that is not 0
    return {"model": ToyLabelEpsModel(seed, num_classes=3, dim=C), "x": torch.randn(B, N, C, generator=g),
            "t": torch.randint(0, 50, (B,), generator=g), "goal": goal,
            "w": [2.0, 0.0, 1.0, 3.5, 1.5][seed % 5], "null_goal": 3}


def _alpha_bar(T: int, g: torch.Generator) -> torch.Tensor:
    betas = torch.linspace(1e-3, 0.5, T) * (0.8 + 0.4 * torch.rand(T, generator=g))   # uneven steps
    return torch.cumprod(1 - betas, dim=0)


def sample_trajectory(seed: int) -> dict:
    g = _gen(1500 + seed)
    B, N, C = [(3, 4, 6), (2, 2, 3), (4, 3, 6), (2, 8, 6), (3, 2, 2)][seed % 5]
    T = [6, 4, 8, 5, 3][seed % 5]
    # noise * 2: the model's clean estimates leave [-1, 1], so a missing clip shows
    return {"denoiser": ToyEpsModel(seed), "noise": 2 * torch.randn(B, N, C, generator=g),
            "alpha_bar": _alpha_bar(T, g), "generator": Seeded(1550 + seed)}


def formation_distance(seed: int) -> dict:
    g = _gen(1600 + seed)
    S, B, H, D, M = [(4, 3, 5, 3, 7), (3, 2, 4, 3, 5), (2, 4, 6, 2, 9), (5, 2, 3, 3, 4), (3, 3, 8, 3, 6)][seed % 5]
    data = torch.randn(M, H, D, generator=g)
    states = torch.randn(S, B, H, D, generator=g)
    states[-1, 0] = data[1] + 0.01 * torch.randn(H, D, generator=g)          # one sample that has formed
    return {"states": states, "data": data}
