"""Fixed-step ODE integration for sampling flows (shared, not graded).

A flow-matching model is a velocity field ``v(x, t)``; samples are the solution of
``dx/dt = v(x, t)`` from noise at ``t = 0`` to ``t = 1`` (flow-matching time: t = 0 noise,
t = 1 data). The field is called as ``field(x (B, ...), t (B,) float32) -> (B, ...)``,
one time per sample, all equal within a step.
"""
from __future__ import annotations

import torch

from coursekit.validate import check_tensor, checked_field

METHODS = ("euler", "midpoint")


def time_grid(num_steps: int, t0: float = 0.0, t1: float = 1.0) -> torch.Tensor:
    """num_steps + 1 evenly spaced times from t0 to t1, float32."""
    if not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"num_steps: expected a positive integer, got {num_steps!r}")
    return torch.linspace(t0, t1, num_steps + 1, dtype=torch.float32)


@torch.no_grad()
def integrate(field, x0: torch.Tensor, num_steps: int, method: str = "euler", t0: float = 0.0,
              t1: float = 1.0, return_trajectory: bool = False):
    """Solve dx/dt = field(x, t) from x(t0) = x0 to t1 with ``num_steps`` equal steps.

    method "euler":    x <- x + h v(x, t)
    method "midpoint": x <- x + h v(x + h/2 v(x, t), t + h/2)   (two field calls per step)
    Returns x(t1), or (x(t1), trajectory of shape (num_steps + 1, *x0.shape)) if return_trajectory;
    the trajectory's times are ``time_grid(num_steps, t0, t1)``.
    """
    check_tensor("x0", x0, min_ndim=1, dtype=torch.float32)
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    v = checked_field(field, "field")
    times = time_grid(num_steps, t0, t1)
    x, trajectory = x0, [x0]
    batch = x0.shape[0]
    for k in range(num_steps):
        t, h = times[k], times[k + 1] - times[k]
        t_batch = t.expand(batch).contiguous()
        if method == "euler":
            x = x + h * v(x, t_batch)
        else:
            x_mid = x + (h / 2) * v(x, t_batch)
            x = x + h * v(x_mid, (t + h / 2).expand(batch).contiguous())
        trajectory.append(x)
    return (x, torch.stack(trajectory)) if return_trajectory else x
