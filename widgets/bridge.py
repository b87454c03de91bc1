"""Widgets of 02b (the theory bridge): Langevin's step size, parameterisations side by side, ODE solvers
against step count, and the DDPM bound term by term. Each is driven by the functions it is given."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from plotly.subplots import make_subplots

from ._figure import Figure
from ._panel import Panel
from ._plumbing import check_argument, check_returned, fn_label, float_slider, int_slider, require_callable, \
    require_function_dict, to_numpy

SHOWN = 6.0   # points are drawn clipped to [-SHOWN, SHOWN]; those outside are counted as escaped


def _points(label: str, value, n: int) -> np.ndarray:
    return to_numpy(check_returned(label, value, (n, 2)))


def _scatter(fig, col: int, color: str, size: int = 3, row: int = 1) -> None:
    fig.add_scattergl(x=np.zeros(1), y=np.zeros(1), mode="markers", showlegend=False,
                      marker=dict(size=size, color=color, opacity=0.6), row=row, col=col)


def langevin_explorer(langevin_sample: Callable, score: Callable, x_init: torch.Tensor, seed: int = 0,
                      mode_std: float | None = None) -> Panel:
    """Sliders for the step size and the number of Langevin steps, from the same start and noise.

    langevin_sample: ``fn(score, x_init, step_size, num_steps, generator) -> (n, 2)``;
    score: ``fn(x (n, 2)) -> (n, 2)``, grad log p of the known density; x_init: (n, 2) start points;
    mode_std: the density's per-mode standard deviation, if known (the title compares the samples' spread).
    Points that run past +-6 (a step too big) are drawn on the border and counted in the title.
    """
    require_callable(langevin_sample, "langevin_sample")
    require_callable(score, "score")
    check_argument("x_init", x_init, (None, 2))
    n = x_init.shape[0]
    controls = {"step_size": float_slider("step size", 0.01, 0.002, 0.1, 0.002, ".3f"),
                "steps": int_slider("steps", 100, 0, 300, 10)}
    fig = Figure(make_subplots(rows=1, cols=1))
    _scatter(fig, 1, "royalblue")
    fig.update_xaxes(range=[-SHOWN, SHOWN])
    fig.update_yaxes(range=[-SHOWN, SHOWN], scaleanchor="x")
    fig.update_layout(height=460, width=520, margin=dict(t=70, l=40, r=20, b=40))

    def update() -> None:
        h, steps = controls["step_size"].value, controls["steps"].value
        with torch.no_grad():
            x = langevin_sample(score, x_init.clone(), h, steps, torch.Generator().manual_seed(seed))
        if not isinstance(x, torch.Tensor) or tuple(x.shape) != (n, 2):  # non-finite points are allowed: they escaped
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{fn_label(langevin_sample, 'langevin_sample')} returned {got}; expected shape ({n}, 2)")
        x = np.nan_to_num(to_numpy(x), nan=2 * SHOWN, posinf=2 * SHOWN, neginf=-2 * SHOWN)
        escaped = int((np.abs(x) > SHOWN).any(1).sum())
        x = np.clip(x, -SHOWN, SHOWN)
        spread = ""
        if mode_std is not None:
            kept = np.abs(x).max(1) < SHOWN
            radius = np.sqrt((x[kept] ** 2).sum(1)) if kept.any() else np.zeros(1)
            spread = f", radial spread {np.std(radius) / mode_std:.2f} x the mode's"
        with fig.batch_update():
            fig.data[0].x, fig.data[0].y = x[:, 0], x[:, 1]
            fig.layout.title.text = f"step size = {h:.3f}, steps = {steps}: {escaped} of {n} escaped{spread}"

    return Panel(fig, controls, update, kind="langevin", bank="step_size")


def parameterisation_explorer(denoisers: dict[str, Callable], noisy: Callable, data: torch.Tensor,
                              num_steps: int) -> Panel:
    """A slider over DDPM's step t: the noisy points and, side by side, each model's guess of the clean data.

    denoisers: name -> ``fn(x_t (n, 2), t (n,) long) -> data_hat (n, 2)`` (each model converted to a data
    prediction); noisy: ``fn(data (n, 2), t (n,) long) -> x_t (n, 2)``, seeded; data: (n, 2) clean points.
    The title gives each model's mean squared error against the clean points.
    """
    denoisers = require_function_dict(denoisers, "denoisers")
    require_callable(noisy, "noisy")
    check_argument("data", data, (None, 2))
    n = data.shape[0]
    names = list(denoisers)
    controls = {"t": int_slider("t", num_steps // 2, 0, num_steps - 1, 1)}
    fig = Figure(make_subplots(rows=1, cols=1 + len(names), subplot_titles=["x_t", *[f"{k}: data guess" for k in names]]))
    for col in range(1, len(names) + 2):
        _scatter(fig, col, "lightgray", 2)
        _scatter(fig, col, "indianred" if col == 1 else "royalblue")
        fig.update_xaxes(range=[-4, 4], row=1, col=col)
        fig.update_yaxes(range=[-4, 4], row=1, col=col)
    clean = to_numpy(data)
    fig.update_layout(height=360, margin=dict(t=80, l=30, r=10, b=30))

    def update() -> None:
        t = controls["t"].value
        steps = torch.full((n,), t, dtype=torch.long)
        with torch.no_grad():
            x_t = _points(fn_label(noisy, "noisy"), noisy(data, steps), n)
            guesses = [_points(f"denoisers[{k!r}]", denoisers[k](torch.as_tensor(x_t, dtype=torch.float32), steps), n)
                       for k in names]
        errors = ", ".join(f"{k} {((g - clean) ** 2).sum(1).mean():.3f}" for k, g in zip(names, guesses))
        with fig.batch_update():
            for col, pts in enumerate([x_t, *guesses]):
                fig.data[2 * col].x, fig.data[2 * col].y = clean[:, 0], clean[:, 1]
                fig.data[2 * col + 1].x, fig.data[2 * col + 1].y = np.clip(pts[:, 0], -SHOWN, SHOWN), \
                    np.clip(pts[:, 1], -SHOWN, SHOWN)
            fig.layout.title.text = f"t = {t}: error of the data guess, {errors}"

    return Panel(fig, controls, update, kind="parameterisations", bank="t")


def solver_explorer(samplers: dict[str, Callable], reference: torch.Tensor, max_steps: int) -> Panel:
    """A slider over the number of steps: each ODE solver's samples from the same noise, and their
    mean distance to ``reference`` (the ODE's solution with many steps, (n, 2)).

    samplers: name -> ``fn(num_steps) -> (n, 2)`` (same start noise for every call).
    """
    samplers = require_function_dict(samplers, "samplers")
    check_argument("reference", reference, (None, 2))
    n = reference.shape[0]
    names = list(samplers)
    controls = {"steps": int_slider("steps", 5, 1, max_steps, 1)}
    fig = Figure(make_subplots(rows=1, cols=len(names), subplot_titles=names))
    ref = to_numpy(reference)
    for col in range(1, len(names) + 1):
        _scatter(fig, col, "lightgray", 2)
        _scatter(fig, col, "royalblue")
        fig.update_xaxes(range=[-4, 4], row=1, col=col)
        fig.update_yaxes(range=[-4, 4], row=1, col=col)
    fig.update_layout(height=360, margin=dict(t=80, l=30, r=10, b=30))

    def update() -> None:
        k = controls["steps"].value
        with torch.no_grad():
            outs = [_points(f"samplers[{name!r}]", samplers[name](k), n) for name in names]
        gaps = ", ".join(f"{name} {np.sqrt(((o - ref) ** 2).sum(1)).mean():.3f}" for name, o in zip(names, outs))
        with fig.batch_update():
            for col, pts in enumerate(outs):
                fig.data[2 * col].x, fig.data[2 * col].y = ref[:, 0], ref[:, 1]
                fig.data[2 * col + 1].x = np.clip(pts[:, 0], -SHOWN, SHOWN)
                fig.data[2 * col + 1].y = np.clip(pts[:, 1], -SHOWN, SHOWN)
            fig.layout.title.text = f"steps = {k}: mean distance to the ODE's solution, {gaps}"

    return Panel(fig, controls, update, kind="ode-solvers", bank="steps")


def bound_explorer(terms: Callable, weights: torch.Tensor) -> Panel:
    """A slider over t >= 1: each sample's bound term KL_t against w_t times its squared noise error
    (they lie on the diagonal), and w_t over t with the chosen t marked.

    terms: ``fn(t: int) -> (kl (n,), weighted (n,))``; weights: (T,) w_t (entry 0 unused).
    """
    require_callable(terms, "terms")
    check_argument("weights", weights, (None,))
    T = weights.shape[0]
    w = to_numpy(weights)
    controls = {"t": int_slider("t", 10, 1, T - 1, 1)}
    fig = Figure(make_subplots(rows=1, cols=2, subplot_titles=[
        "per sample: KL term vs w_t ||eps - eps_hat||^2", "w_t (L_simple uses 1)"]))
    _scatter(fig, 1, "royalblue", 4)
    fig.add_scatter(x=np.zeros(2), y=np.zeros(2), mode="lines", line=dict(color="gray", dash="dash"),
                    showlegend=False, row=1, col=1)
    fig.add_scatter(x=np.arange(1, T, dtype=np.float64), y=w[1:], mode="lines", showlegend=False, row=1, col=2)
    fig.add_scatter(x=np.zeros(1), y=np.zeros(1), mode="markers", marker=dict(size=10, color="indianred"),
                    showlegend=False, row=1, col=2)
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_xaxes(title_text="t", row=1, col=2)
    fig.update_layout(height=360, margin=dict(t=80, l=40, r=20, b=40))

    def update() -> None:
        t = controls["t"].value
        with torch.no_grad():
            kl, weighted = terms(t)
        kl = to_numpy(check_returned("terms (KL)", kl, (None,)))
        weighted = to_numpy(check_returned("terms (weighted error)", weighted, kl.shape))
        top = float(max(kl.max(), weighted.max(), 1e-12))
        with fig.batch_update():
            fig.data[0].x, fig.data[0].y = weighted, kl
            fig.data[1].x, fig.data[1].y = np.array([0.0, top]), np.array([0.0, top])
            fig.data[3].x, fig.data[3].y = np.array([float(t)]), np.array([w[t]])
            fig.layout.title.text = (f"t = {t}: w_t = {w[t]:.4g}, mean KL {kl.mean():.4g}, "
                                     f"mean w_t x error {weighted.mean():.4g}")

    return Panel(fig, controls, update, kind="bound", bank="t")
