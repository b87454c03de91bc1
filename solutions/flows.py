"""Continuous normalizing flows, reference implementations (assignment 06_normalizing_flows).

Conventions (see SYLLABUS.md): flow time t lies in [0, 1], with t = 0 the noise p_0 and t = 1 the
data p_1. A vector field ``v(x, t)`` takes points x of shape (N, D) and a time t (a float here)
and returns velocities of shape (N, D).

Sign convention: along a solution x_t of dx/dt = v(x_t, t), the log-density of the transported
distribution obeys d/dt log p_t(x_t) = -div v(x_t, t) (the instantaneous change of variables), so

    log p_1(x_1) = log p_0(x_0) - integral_0^1 div v(x_t, t) dt.

References: Chen et al. 2018 (Neural ODEs); Grathwohl et al. 2019 (FFJORD);
Lipman et al. 2023 (Flow Matching).
"""
from __future__ import annotations

import math

import torch

from coursekit.validate import ShapeError, check_count, check_flow_times, check_points, checked_field, checked_integration


def euler_integrate(v, x0: torch.Tensor, num_steps: int, t0: float = 0.0, t1: float = 1.0,
                    return_trajectory: bool = False):
    """Integrate dx/dt = v(x, t) from t0 to t1 with ``num_steps`` equal explicit Euler steps.

    With h = (t1 - t0) / num_steps and t_k = t0 + k h:  x_{k+1} = x_k + h v(x_k, t_k).
    x0: (N, D) float tensor. v is called as v(x, t) with t a Python float.
    Returns x at t1, (N, D); or (x_t1, trajectory) with trajectory (num_steps + 1, N, D),
    starting with x0, if return_trajectory.
    """
    v, t0, t1 = checked_integration(v, x0, num_steps, t0, t1)
    ### BEGIN SOLUTION
    h = (t1 - t0) / num_steps
    x = x0
    trajectory = [x]
    for k in range(num_steps):
        t = t0 + k * h
        x = x + h * v(x, t)
        trajectory.append(x)
    return (x, torch.stack(trajectory)) if return_trajectory else x
    ### END SOLUTION


def rk4_integrate(v, x0: torch.Tensor, num_steps: int, t0: float = 0.0, t1: float = 1.0,
                  return_trajectory: bool = False):
    """Integrate dx/dt = v(x, t) from t0 to t1 with ``num_steps`` classic Runge-Kutta (RK4) steps.

    With h = (t1 - t0) / num_steps and t_k = t0 + k h, one step from (x, t) is
        k1 = v(x, t)
        k2 = v(x + h/2 k1, t + h/2)
        k3 = v(x + h/2 k2, t + h/2)
        k4 = v(x + h k3,   t + h)
        x_next = x + h/6 (k1 + 2 k2 + 2 k3 + k4).
    Same arguments and returns as ``euler_integrate``.
    """
    v, t0, t1 = checked_integration(v, x0, num_steps, t0, t1)
    ### BEGIN SOLUTION
    h = (t1 - t0) / num_steps
    x = x0
    trajectory = [x]
    for k in range(num_steps):
        t = t0 + k * h
        k1 = v(x, t)
        k2 = v(x + 0.5 * h * k1, t + 0.5 * h)
        k3 = v(x + 0.5 * h * k2, t + 0.5 * h)
        k4 = v(x + h * k3, t + h)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        trajectory.append(x)
    return (x, torch.stack(trajectory)) if return_trajectory else x
    ### END SOLUTION


def divergence(v, x: torch.Tensor, t) -> torch.Tensor:
    """The exact divergence div v(x, t) = sum_i d v_i / d x_i at each point, by autograd.

    x: (N, D); t: a float in [0, 1] or an (N,) tensor, passed to v unchanged. Returns (N,).
    It is the trace of the (D, D) Jacobian of v at each point: one backward pass per
    coordinate i gives row i of the Jacobian, of which only the diagonal entry is kept.
    Works under torch.no_grad() too (the checks and the samplers run there): switch autograd
    back on with ``torch.enable_grad()``.
    """
    check_points("x", x)
    check_flow_times("t", t, x.shape[0], scalar=True)
    v = checked_field(v, "v")
    ### BEGIN SOLUTION
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        out = v(x, t)
        div = torch.zeros(x.shape[0], dtype=x.dtype)
        for i in range(x.shape[1]):
            (grad_i,) = torch.autograd.grad(out[:, i].sum(), x, retain_graph=True)  # row i of each Jacobian
            div = div + grad_i[:, i]
    return div
    ### END SOLUTION


def log_density(v, x0: torch.Tensor, log_p0: torch.Tensor, num_steps: int, t1: float = 1.0,
                method: str = "rk4") -> tuple[torch.Tensor, torch.Tensor]:
    """Push samples x0 ~ p_0 along dx/dt = v(x, t) from t = 0 to t1 and track their log-density.

    Instantaneous change of variables (Chen et al. 2018), our sign convention:
        d/dt log p_t(x_t) = -div v(x_t, t),  so  log p_t1(x_t1) = log p_0(x0) - int_0^t1 div v dt.
    Integrate both together as one augmented state z = [x, log p] of shape (N, D + 1) whose
    velocity is [v(x, t), -div v(x, t)], with ``rk4_integrate`` (method="rk4") or
    ``euler_integrate`` (method="euler"), ``num_steps`` steps.
    x0: (N, D); log_p0: (N,) the log-density of p_0 at x0. Returns (x_t1 (N, D), log_p_t1 (N,)).
    """
    check_points("x0", x0)
    if not isinstance(log_p0, torch.Tensor) or log_p0.shape != (x0.shape[0],) or log_p0.dtype != x0.dtype:
        got = (f"shape {tuple(log_p0.shape)}, dtype {log_p0.dtype}" if isinstance(log_p0, torch.Tensor)
               else type(log_p0).__name__)
        raise ShapeError(f"log_p0: expected one log-density per point of x0, shape ({x0.shape[0]},) "
                         f"and dtype {x0.dtype}; got {got}")
    check_flow_times("t1", t1, scalar=True)
    check_count("num_steps", num_steps, minimum=1, unit="steps")
    if method not in ("euler", "rk4"):
        raise ValueError(f"method: expected 'euler' or 'rk4', got {method!r}")
    v = checked_field(v, "v")
    ### BEGIN SOLUTION
    D = x0.shape[1]

    def augmented(z, t):
        x = z[:, :D]
        return torch.cat([v(x, t), -divergence(v, x, t)[:, None]], dim=1)

    z0 = torch.cat([x0, log_p0[:, None]], dim=1)  # (N, D + 1)
    if method == "rk4":
        z1 = rk4_integrate(augmented, z0, num_steps, 0.0, t1)
    else:
        z1 = euler_integrate(augmented, z0, num_steps, 0.0, t1)
    return z1[:, :D], z1[:, D]
    ### END SOLUTION


def fit_order(num_steps, errors) -> float:
    """The measured order p of a solver: the least-squares slope of log(error) against log(h),
    h = 1 / num_steps, so that error ~ C h^p. Returns p as a float."""
    log_h = torch.tensor([-math.log(n) for n in num_steps], dtype=torch.float64)
    log_e = torch.tensor([math.log(float(e)) for e in errors], dtype=torch.float64)
    log_h, log_e = log_h - log_h.mean(), log_e - log_e.mean()
    return float((log_h * log_e).sum() / (log_h**2).sum())


def flow_map_log_det(integrate, v, x0: torch.Tensor, num_steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The numerical flow map x1 = integrate(v, x0, num_steps) and log |det d x1 / d x0| per point.

    Differentiates through every solver step (one backward pass per output coordinate): the
    "discrete" change of variables, log p_1(x1) = log p_0(x0) - log |det d x1 / d x0|, which needs
    no divergence at all but costs a full Jacobian. Returns (x1 (N, D), log_det (N,)).
    """
    with torch.enable_grad():
        x = x0.detach().requires_grad_(True)
        x1 = integrate(v, x, num_steps)
        rows = [torch.autograd.grad(x1[:, i].sum(), x, retain_graph=True)[0] for i in range(x.shape[1])]
    jac = torch.stack(rows, dim=1)  # (N, D, D): jac[n, i, j] = d x1_i / d x0_j (points are independent)
    return x1.detach(), torch.linalg.slogdet(jac)[1]
