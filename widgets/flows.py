"""Flow explorer: particles carried by a known vector field, its exact density, and how far
Euler and RK4 land from the exact solution as the number of steps changes (06_normalizing_flows)."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from plotly.subplots import make_subplots

from ._figure import Figure, screen_pixel_gl
from ._panel import Panel
from ._plumbing import (check_argument, check_returned, float_slider, fn_label, int_slider,
                        require_callable, to_numpy)

ERROR_FLOOR = 1e-14  # errors below this (e.g. exactly 0 at t = 0) are drawn at the floor of the log axis


def step_grid(max_steps: int) -> list[int]:
    """The step counts of the error curves: 1, 2, 4, ... up to max_steps, plus max_steps itself."""
    grid = [1]
    while grid[-1] * 2 <= max_steps:
        grid.append(grid[-1] * 2)
    return grid if grid[-1] == max_steps else grid + [max_steps]


def mean_error(x: torch.Tensor, exact: torch.Tensor) -> float:
    """Mean Euclidean distance between matching rows of x and exact (N, 2), in float64."""
    return float((x.double() - exact.double()).norm(dim=1).mean())


def flow_explorer(euler_integrate: Callable, rk4_integrate: Callable, field: Callable, exact_flow: Callable,
                  x0: torch.Tensor, *, log_prob: Callable | None = None, num_steps: int = 4,
                  max_steps: int = 64, t: float = 1.0, grid_size: int = 60) -> Panel:
    """Sliders for the time t and the number of solver steps; particles, density and solver error.

    euler_integrate, rk4_integrate: ``fn(v, x0 (N, 2), num_steps, t0, t1) -> x_t1 (N, 2)``, called
        as ``fn(field, x0, steps, 0.0, t)``.
    field: the vector field ``v(x, t)`` both solvers integrate.
    exact_flow: ``fn(x0 (N, 2), t) -> x_t (N, 2)``, the closed-form solution of the same ODE.
    x0: (N, 2) float32 or float64 particles at t = 0. In float64 RK4's error can fall far below
        float32 rounding (about 1e-7), so its fourth order shows over more step counts.
    log_prob: optional ``fn(points (M, 2), t) -> (M,)``, the exact log p_t, drawn as a heat map of p_t.
    Left panel: p_t, the exact particles (hollow), Euler's (orange) and RK4's (blue) after
    ``steps`` steps from 0 to t. Right panel: mean distance to the exact positions at t against
    the number of steps (log-log; 1, 2, 4, ..., max_steps), a marker at the current count.
    Error curves are cached per t. Returns a Panel with controls "t" and "steps".
    """
    for fn, role in ((euler_integrate, "euler_integrate"), (rk4_integrate, "rk4_integrate"),
                     (field, "field"), (exact_flow, "exact_flow")):
        require_callable(fn, role)
    if log_prob is not None:
        require_callable(log_prob, "log_prob")
    check_argument("x0", x0, (None, 2), dtype=(torch.float32, torch.float64))
    if not 1 <= num_steps <= max_steps:
        raise ValueError(f"num_steps: expected 1..{max_steps}, got {num_steps}")
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t: expected a time in [0, 1], got {t}")
    N, dtype = x0.shape[0], x0.dtype
    solvers = {"Euler": (euler_integrate, fn_label(euler_integrate, "euler_integrate")),
               "RK4": (rk4_integrate, fn_label(rk4_integrate, "rk4_integrate"))}
    exact_label = fn_label(exact_flow, "exact_flow")
    grid_steps = step_grid(max_steps)

    def solve(name: str, steps: int, t_now: float) -> torch.Tensor:
        fn, label = solvers[name]
        with torch.no_grad():
            return check_returned(label, fn(field, x0, steps, 0.0, t_now), (N, 2), dtype)

    def exact(t_now: float) -> torch.Tensor:
        return check_returned(exact_label, exact_flow(x0, t_now), (N, 2), dtype)

    # A fixed view that holds the exact particles at every time.
    ts = np.linspace(0.0, 1.0, 21)
    r = 1.1 * max(float(exact(float(s)).abs().max()) for s in ts)
    axis = np.linspace(-r, r, grid_size)
    gx, gy = np.meshgrid(axis, axis)                                                     # (G, G) each
    grid_points = torch.tensor(np.stack([gx.ravel(), gy.ravel()], axis=1), dtype=dtype)  # (G*G, 2)

    controls = {"t": float_slider("t", t, 0.0, 1.0, 0.05, ".2f"),
                "steps": int_slider("steps", num_steps, 1, max_steps)}

    fig = Figure(make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], subplot_titles=(
        "particles at time t (heat map: exact density p_t)", "mean distance from the exact solution at t")))
    if log_prob is not None:
        fig.add_heatmap(x=axis, y=axis, z=np.zeros((grid_size, grid_size)), name="p_t (exact)",
                        colorscale="Greys", showscale=False, hoverinfo="skip", row=1, col=1)
    zeros = np.zeros(N)
    fig.add_scattergl(x=zeros, y=zeros, mode="markers", name="exact",
                    marker=dict(size=7, color="rgba(0,0,0,0)", line=dict(color="black", width=1)), row=1, col=1)
    fig.add_scattergl(x=zeros, y=zeros, mode="markers", name="Euler",
                    marker=dict(size=4, color="darkorange"), row=1, col=1)
    fig.add_scattergl(x=zeros, y=zeros, mode="markers", name="RK4",
                    marker=dict(size=4, color="royalblue"), row=1, col=1)
    steps_axis = np.asarray(grid_steps, dtype=np.float64)
    for name, color in (("Euler", "darkorange"), ("RK4", "royalblue")):
        fig.add_scatter(x=steps_axis, y=np.ones_like(steps_axis), mode="lines+markers", name=f"{name} error",
                        line=dict(color=color), row=1, col=2)
    for name, color in (("Euler", "darkorange"), ("RK4", "royalblue")):
        fig.add_scatter(x=np.ones(1), y=np.ones(1), mode="markers", name=f"{name}, current steps",
                        marker=dict(size=13, color=color, symbol="diamond"), showlegend=False, row=1, col=2)
    fig.update_xaxes(range=[-r, r], row=1, col=1)
    fig.update_yaxes(range=[-r, r], scaleanchor="x", scaleratio=1, row=1, col=1)
    fig.update_xaxes(type="log", title_text="number of steps", row=1, col=2)
    fig.update_yaxes(type="log", title_text="mean |x - x_exact|", exponentformat="power", row=1, col=2)
    fig.update_layout(height=460, width=980, margin=dict(t=80, l=40, r=20, b=40))
    traces = {trace.name: trace for trace in fig.data}
    screen_pixel_gl(fig)

    curves: dict[float, tuple[np.ndarray, np.ndarray]] = {}  # t -> (Euler errors, RK4 errors) on grid_steps

    def error_curves(t_now: float, target: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        if t_now not in curves:
            curves[t_now] = tuple(np.array([max(mean_error(solve(name, n, t_now), target), ERROR_FLOOR)
                                            for n in grid_steps]) for name in ("Euler", "RK4"))
        return curves[t_now]

    def update() -> None:
        t_now, steps = round(float(controls["t"].value), 6), controls["steps"].value
        target = exact(t_now)
        positions = {name: solve(name, steps, t_now) for name in solvers}
        errors = {name: mean_error(positions[name], target) for name in solvers}
        euler_curve, rk4_curve = error_curves(t_now, target)
        density = None
        if log_prob is not None:
            lp = check_returned(fn_label(log_prob, "log_prob"), log_prob(grid_points, t_now), (grid_size**2,), dtype)
            density = np.exp(to_numpy(lp)).reshape(grid_size, grid_size)
        with fig.batch_update():
            if density is not None:
                traces["p_t (exact)"].z = density
            xy = to_numpy(target)
            traces["exact"].x, traces["exact"].y = xy[:, 0], xy[:, 1]
            for name in solvers:
                xy = to_numpy(positions[name])
                traces[name].x, traces[name].y = xy[:, 0], xy[:, 1]
                current = traces[f"{name}, current steps"]
                current.x, current.y = np.array([float(steps)]), np.array([max(errors[name], ERROR_FLOOR)])
            traces["Euler error"].y, traces["RK4 error"].y = euler_curve, rk4_curve
            fig.layout.title.text = (f"t = {t_now:.2f}, {steps} steps: mean error Euler {errors['Euler']:.2e}, "
                                     f"RK4 {errors['RK4']:.2e}")

    return Panel(fig, controls, update, kind="flow", bank="steps")
