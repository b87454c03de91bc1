"""Seeded inputs for the graded functions of 06_normalizing_flows (one function per graded name).

Seeds 0 and 1 are the visible checks, 2-4 the hidden ones. Most fields are ``ToyField``s:
nonlinear, with full Jacobians and a strong time dependence, so that a wrong time grid, a
wrong stage time or a sum over all Jacobian entries changes the numbers. The second visible
case of ``rk4_integrate`` and of ``log_density`` uses the ``SpiralField``, whose flow and
density are known in closed form (a Gaussian stays Gaussian), so a correct answer there is also
close to the exact one.
"""
from __future__ import annotations

import torch

from coursekit.assignments.flows.vector_fields import SpiralField, ToyField, gaussian_log_prob, standard_normal_log_prob

SPIRAL_MEAN0 = torch.tensor([0.8, -0.2])
SPIRAL_COV0 = torch.tensor([[0.3, 0.1], [0.1, 0.2]])


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# (num_steps, t0, t1, dim, return_trajectory) per seed; seed 1 uses 3-D points and a sub-interval.
_SOLVER_SETUPS = {
    0: (4, 0.0, 1.0, 2, True),
    1: (3, 0.25, 0.85, 3, False),
    2: (5, 0.0, 0.6, 2, True),
    3: (2, 0.1, 1.0, 3, False),
    4: (6, 0.0, 1.0, 2, True),
}


def _solver_case(seed: int, offset: int) -> dict:
    num_steps, t0, t1, dim, trajectory = _SOLVER_SETUPS[seed]
    g = _gen(offset + seed)
    return {"v": ToyField(offset + seed, dim=dim), "x0": torch.randn(5 - seed % 2, dim, generator=g),
            "num_steps": num_steps, "t0": t0, "t1": t1, "return_trajectory": trajectory}


def euler_integrate(seed: int) -> dict:
    return _solver_case(seed, 100)


def rk4_integrate(seed: int) -> dict:
    if seed == 1:  # the closed-form spiral: RK4 with 3 steps lands within about 1e-3 of spiral.flow
        return {"v": SpiralField(), "x0": torch.randn(4, 2, generator=_gen(201)), "num_steps": 3,
                "t0": 0.25, "t1": 0.85, "return_trajectory": False}
    return _solver_case(seed, 200)


def divergence(seed: int) -> dict:
    g = _gen(300 + seed)
    x = torch.randn(6, 2, generator=g)
    # even seeds: one float time for all points; odd seeds: one time per point, shape (N,)
    t = [0.3, None, 0.9, None, 0.0][seed] if seed % 2 == 0 else torch.rand(6, generator=g)
    return {"v": ToyField(300 + seed), "x": x, "t": t}


def log_density(seed: int) -> dict:
    g = _gen(400 + seed)
    if seed == 1:  # N(m, S) under the spiral stays Gaussian: log p_t is known in closed form
        x0 = SPIRAL_MEAN0 + torch.randn(5, 2, generator=g) @ torch.linalg.cholesky(SPIRAL_COV0).T
        return {"v": SpiralField(), "x0": x0, "log_p0": gaussian_log_prob(x0, SPIRAL_MEAN0, SPIRAL_COV0),
                "num_steps": 5, "t1": 0.7, "method": "rk4"}
    x0 = torch.randn(5, 2, generator=g)
    num_steps, t1, method = [(4, 1.0, "euler"), None, (3, 1.0, "rk4"),
                             (6, 0.5, "euler"), (4, 0.8, "rk4")][seed]
    return {"v": ToyField(400 + seed), "x0": x0, "log_p0": standard_normal_log_prob(x0),
            "num_steps": num_steps, "t1": t1, "method": method}
