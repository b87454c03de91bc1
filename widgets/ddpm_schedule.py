"""Schedule explorer: how the choice of betas shapes alpha_bar_t and the log-SNR."""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable

import numpy as np
import traitlets
from plotly.subplots import make_subplots

from ._hooks import _Companion, esm
from ._figure import Figure
from ._panel import Panel
from ._plumbing import (check_returned, dropdown, float_slider, fn_label, int_slider,
                        require_callable, require_function_dict, to_numpy)


# ---------------------------------------------------------------- closed forms the page draws (js/ddpm_schedule.js)
def closed_form_betas(name: str, T: int, beta_start: float, beta_end: float) -> np.ndarray | None:
    """The betas the browser draws for schedule ``name`` (float64 of float32 values), or None."""
    if name == "linear":
        i = np.arange(T, dtype=np.float64)
        step = (beta_end - beta_start) / (T - 1) if T > 1 else 0.0
        out = np.where(i < T // 2, beta_start + step * i, beta_end - step * (T - 1 - i))
    elif name == "cosine":
        s, max_beta = 0.008, 0.999

        def f(u):
            return np.cos((u + s) / (1 + s) * math.pi / 2) ** 2

        t = np.arange(T, dtype=np.float64)
        out = np.minimum(1 - f((t + 1) / T) / f(t / T), max_beta)
    else:
        return None
    return out.astype(np.float32).astype(np.float64)


def js_fixed(x: float, digits: int) -> str:
    """``x.toFixed(digits)`` as JavaScript writes it (ties round up; Python's format rounds to even)."""
    return str(Decimal(x).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def matches_closed_form(name: str, T: int, beta_start: float, beta_end: float,
                        betas: np.ndarray, alpha_bar: np.ndarray) -> bool:
    """Whether the learner's betas and alpha_bar equal the browser's closed form (float32 rounding)."""
    want = closed_form_betas(name, T, beta_start, beta_end)
    if want is None or betas.shape != want.shape or alpha_bar.shape != want.shape:
        return False
    want_ab = np.cumprod(1.0 - want)
    return bool(np.allclose(betas, want, rtol=1e-5, atol=1e-9)
                and np.allclose(alpha_bar, want_ab, rtol=1e-4, atol=1e-8))


class ScheduleCompanion(_Companion):
    """Draws trusted closed-form schedules in the browser (controls schedule, T, beta_start, beta_end)."""

    _esm = esm("ddpm_schedule.js")
    trusted = traitlets.List(traitlets.Unicode()).tag(sync=True)


# ---------------------------------------------------------------- the widget
def log_snr(alpha_bar: np.ndarray) -> np.ndarray:
    """log(alpha_bar / (1 - alpha_bar)) in float64; nan where it is infinite (plotly leaves a gap)."""
    ab = np.asarray(alpha_bar, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(ab) - np.log1p(-ab)
    out[~np.isfinite(out)] = np.nan
    return out


def schedule_explorer(schedules: dict[str, Callable], compute_alpha_bar: Callable, *,
                      T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> Panel:
    """Sliders for schedule type, T and the beta range; plots beta_t, alpha_bar_t and log-SNR_t.

    schedules: name -> ``fn(T, beta_start, beta_end) -> betas (T,) float32``. A schedule
        without a beta range (cosine) is wrapped by the caller to ignore those two arguments.
    compute_alpha_bar: ``fn(betas (T,)) -> alpha_bar (T,) float32``.
    Returns a Panel with controls "schedule", "T", "beta_start", "beta_end".

    Speed: schedules named "linear" and "cosine" whose output (and compute_alpha_bar's) equals
    the closed form on a few probe settings are drawn in the browser, with no kernel round trip.
    Every move is still computed here with the given functions and compared with what the
    browser drew; on the first difference the browser stops drawing that schedule and the
    plot shows the functions' own output from then on.
    """
    schedules = require_function_dict(schedules, "schedules")
    require_callable(compute_alpha_bar, "compute_alpha_bar")

    controls = {
        "schedule": dropdown("schedule", schedules),
        "T": int_slider("T (steps)", T, 10, 1000, 10),
        "beta_start": float_slider("beta_start", beta_start, 1e-5, 0.01, 1e-5, ".5f"),
        "beta_end": float_slider("beta_end", beta_end, 0.001, 0.1, 0.001, ".3f"),
    }

    fig = Figure(make_subplots(rows=1, cols=3, subplot_titles=(
        "beta_t", "alpha_bar_t = prod (1 - beta_s), s <= t", "log-SNR_t = log(alpha_bar / (1 - alpha_bar))")))
    for col in (1, 2, 3):  # one line per panel; data filled in by update()
        fig.add_scatter(x=np.zeros(1), y=np.zeros(1), mode="lines", showlegend=False, row=1, col=col)
        fig.update_xaxes(title_text="t (0-based)", row=1, col=col)
    fig.update_yaxes(range=[-0.02, 1.02], row=1, col=2)
    fig.update_layout(height=360, margin=dict(t=80, l=40, r=20, b=40))

    def compute(name: str, n: int, b0: float, b1: float) -> tuple[np.ndarray, np.ndarray]:
        label = fn_label(schedules[name], f"schedule {name!r}")
        betas = check_returned(label, schedules[name](n, b0, b1), (n,))               # (T,)
        if float(betas.min()) < 0 or float(betas.max()) > 1:
            raise ValueError(f"{label} returned betas outside [0, 1] "
                             f"(min {float(betas.min()):.4g}, max {float(betas.max()):.4g})")
        alpha_bar = check_returned(fn_label(compute_alpha_bar, "compute_alpha_bar"),
                                   compute_alpha_bar(betas), (n,))                    # (T,)
        return to_numpy(betas), to_numpy(alpha_bar)

    def trusted_at_start() -> list[str]:
        """Schedules whose output equals the browser's closed form on a few probe settings."""
        c = controls
        probes = [(c["T"].value, c["beta_start"].value, c["beta_end"].value),
                  (c["T"].min, c["beta_start"].min, c["beta_end"].max),
                  (c["T"].max // 2, c["beta_start"].max, c["beta_end"].min)]
        names = []
        for name in schedules:
            try:
                if all(matches_closed_form(name, n, b0, b1, *compute(name, n, b0, b1)) for n, b0, b1 in probes):
                    names.append(name)
            except Exception:  # noqa: BLE001 - a failing schedule is simply drawn by the kernel (and raises there)
                pass
        return names

    companion = ScheduleCompanion(fig, controls, list(controls))

    def update() -> bool:
        name, n = controls["schedule"].value, controls["T"].value
        b0, b1 = controls["beta_start"].value, controls["beta_end"].value
        betas, alpha_bar = compute(name, n, b0, b1)
        t = np.arange(n, dtype=np.float64)
        with fig.batch_update():
            for trace, y in zip(fig.data, (betas, alpha_bar, log_snr(alpha_bar))):
                trace.x, trace.y = t, y
            # toFixed's rounding, so the browser's title and this one agree to the character
            fig.layout.title.text = (f"schedule = {name}, T = {n}, "
                                     f"beta_start = {js_fixed(b0, 5)}, beta_end = {js_fixed(b1, 3)}")
        if name not in companion.trusted:
            return False
        if matches_closed_form(name, n, b0, b1, betas, alpha_bar):
            return True  # the browser drew this state, and it is what the functions return
        companion.trusted = [s for s in companion.trusted if s != name]  # never again: draw their output
        return False

    companion.trusted = trusted_at_start()
    return Panel(fig, controls, update, rows=[["schedule", "T"], ["beta_start", "beta_end"]],
                 kind="schedule", browser=companion)
