"""Class-conditional 2-D trajectories for the Diffusion Transformer assignment, and their measures.

Every trajectory starts at (0, -1) heading up and bends according to its class:

    0 "left turn", 1 "right turn", 2 "straight", 3 "S-curve".

Each sample draws its own heading, curvature and length, so neighbouring classes overlap a little:
a conditional sample can be ambiguous, and classifier-free guidance has something to trade
(fewer ambiguous samples, less spread). Fidelity is measured by a nearest-prototype classifier
(the prototype of a class is its mean trajectory), diversity by the spread of the samples.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

CLASS_NAMES = ("left turn", "right turn", "straight", "S-curve")
NUM_CLASSES = len(CLASS_NAMES)
HORIZON = 16
_BEND = torch.tensor([2.5, -2.5, 0.0, 0.0])    # mean constant curvature of each class
_WIGGLE = torch.tensor([0.0, 0.0, 0.0, 10.0])   # mean amplitude of the sinusoidal curvature


def class_trajectories(n: int, generator: torch.Generator, horizon: int = HORIZON,
                       labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """n trajectories (n, horizon, 2) float32 and their labels (n,) int64 (uniform unless given)."""
    y = torch.randint(0, NUM_CLASSES, (n,), generator=generator) if labels is None else labels.long()
    bend = _BEND[y] + 0.9 * torch.randn(n, generator=generator)                        # (n,)
    wiggle = _WIGGLE[y] + 2.0 * torch.randn(n, generator=generator)                     # (n,)
    heading0 = math.pi / 2 + 0.25 * torch.randn(n, generator=generator)                 # (n,)
    length = 1.6 + 0.6 * torch.rand(n, generator=generator)                             # (n,)
    s = torch.linspace(0, 1, horizon)                                                   # (H,)
    heading = (heading0[:, None] + bend[:, None] * s
               + wiggle[:, None] * torch.sin(2 * math.pi * s) / (2 * math.pi))           # (n, H)
    step = (length / (horizon - 1))[:, None, None] * torch.stack([heading.cos(), heading.sin()], -1)
    step[:, 0] = 0.0                                                                    # start exactly at the origin
    x = step.cumsum(dim=1) + torch.tensor([0.0, -1.0])                                  # (n, H, 2)
    x = x + 0.02 * torch.randn(x.shape, generator=generator)
    return x.float(), y


def class_prototypes(horizon: int = HORIZON, n: int = 8192) -> torch.Tensor:
    """The mean trajectory of each class, (K, horizon, 2), from a fixed seeded sample."""
    x, y = class_trajectories(n, torch.Generator().manual_seed(1234), horizon)
    return torch.stack([x[y == k].mean(0) for k in range(NUM_CLASSES)])


def nearest_class(x: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """Label of the nearest prototype (mean squared distance over the whole trajectory). (n,) int64."""
    d = ((x[:, None] - prototypes[None]) ** 2).mean(dim=(2, 3))                         # (n, K)
    return d.argmin(dim=1)


def class_accuracy(x: torch.Tensor, labels: torch.Tensor, prototypes: torch.Tensor) -> float:
    """Fraction of trajectories whose nearest prototype is their requested class (fidelity)."""
    return float((nearest_class(x, prototypes) == labels).float().mean())


def spread(x: torch.Tensor) -> float:
    """Root-mean-square distance of the trajectories from their own mean trajectory (diversity)."""
    return float(((x - x.mean(0)) ** 2).sum(-1).mean().sqrt())


def guidance_sweep(sample_fn: Callable[[int, float], torch.Tensor], prototypes: torch.Tensor,
                   w_values: Sequence[float]) -> dict[str, list[float]]:
    """Class accuracy and mean per-class spread of ``sample_fn(label, w)`` for each w.

    sample_fn(label, w) -> (N, H, 2) samples of class ``label`` at guidance scale w.
    """
    out = {"w": [float(w) for w in w_values], "accuracy": [], "spread": []}
    for w in out["w"]:
        samples = [sample_fn(k, w) for k in range(len(prototypes))]
        labels = torch.cat([torch.full((len(s),), k) for k, s in enumerate(samples)])
        out["accuracy"].append(class_accuracy(torch.cat(samples), labels, prototypes))
        out["spread"].append(sum(spread(s) for s in samples) / len(samples))
    return out


def data_statistics(horizon: int = HORIZON, n_per_class: int = 256) -> dict[str, float]:
    """Accuracy and per-class spread of real data: what a perfect model would score at w = 1."""
    g = torch.Generator().manual_seed(99)
    prototypes = class_prototypes(horizon)
    xs = [class_trajectories(n_per_class, g, horizon, torch.full((n_per_class,), k))[0] for k in range(NUM_CLASSES)]
    labels = torch.arange(NUM_CLASSES).repeat_interleave(n_per_class)
    return {"accuracy": class_accuracy(torch.cat(xs), labels, prototypes),
            "spread": sum(spread(x) for x in xs) / NUM_CLASSES}
