"""Distances between sample sets, for the 'does it really learn' checks."""
from __future__ import annotations

import torch


def energy_distance(x: torch.Tensor, y: torch.Tensor) -> float:
    """Squared energy distance 2 E|X-Y| - E|X-X'| - E|Y-Y'| (Szekely & Rizzo); 0 iff same law.

    x: (n, d), y: (m, d). Uses the unbiased within-set means (diagonal excluded).
    """
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"energy_distance: expected (n, d) and (m, d), got {tuple(x.shape)} and {tuple(y.shape)}")
    n, m = len(x), len(y)
    xy = torch.cdist(x, y).mean()
    xx = torch.cdist(x, x).sum() / (n * (n - 1))
    yy = torch.cdist(y, y).sum() / (m * (m - 1))
    return float(2 * xy - xx - yy)
