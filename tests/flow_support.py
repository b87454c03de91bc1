"""Helpers shared by the flow-matching and diffusion-path cross-checks (tests/test_flow_matching_reference.py,
tests/test_ot_paths_reference.py)."""
from __future__ import annotations

import pytest
import torch

ATOL = 1e-5


def close(actual, expected, atol=ATOL):
    torch.testing.assert_close(actual, expected, atol=atol, rtol=1e-5)


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def batch():
    """Targets x1, noise x0 and times t in [0, 0.98) with t[0] = 0, 64 of each."""
    g = gen(0)
    x1, x0 = 2 * torch.randn(64, 2, generator=g), torch.randn(64, 2, generator=g)
    t = torch.rand(64, generator=g) * 0.98
    t[0] = 0.0
    return x1, x0, t
