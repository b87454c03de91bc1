"""ELBO explorer: move q(z) = N(mean, std^2) and watch the ELBO, log p(x) and the gap between them."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from plotly.subplots import make_subplots

from ._figure import Figure
from ._panel import Panel
from ._plumbing import check_returned, float_slider, require_callable


def _normal_pdf(z: np.ndarray, mean: float, var: float) -> np.ndarray:
    return np.exp(-0.5 * (z - mean) ** 2 / var) / math.sqrt(2 * math.pi * var)


def elbo_explorer(elbo: Callable, log_evidence: Callable, posterior: Callable, z_range: float = 4.0) -> Panel:
    """Sliders for q's mean and standard deviation; live ELBO, log p(x) and their gap.

    elbo: ``fn(q_mean (1,), q_logvar (1,)) -> (1,)``, an ELBO estimate for the observed x.
    log_evidence: ``fn() -> (1,)``, the exact log p(x).
    posterior: ``fn() -> (mean (1,), logvar (1,))``, the exact p(z | x).
    The learner's functions are wrapped by the notebook into these closures.
    """
    for fn, role in ((elbo, "elbo"), (log_evidence, "log_evidence"), (posterior, "posterior")):
        require_callable(fn, role)
    log_px = float(check_returned("log_evidence", log_evidence(), (1,)))
    post_mean, post_logvar = (check_returned("posterior", v, (1,)) for v in posterior())
    post_mean, post_var = float(post_mean), math.exp(float(post_logvar))

    controls = {"mean": float_slider("q mean", 0.0, -3.0, 3.0, 0.05, ".2f"),
                "std": float_slider("q std", 1.0, 0.1, 2.0, 0.05, ".2f")}

    z = np.linspace(-z_range, z_range, 400)
    fig = Figure(make_subplots(rows=1, cols=2, column_widths=[0.62, 0.38],
                                        subplot_titles=["densities over z", "log p(x) = ELBO + KL(q || p(z|x))"]))
    fig.add_scattergl(x=z, y=_normal_pdf(z, 0.0, 1.0), name="prior p(z)", line=dict(color="lightgray"), row=1, col=1)
    fig.add_scattergl(x=z, y=_normal_pdf(z, post_mean, post_var), name="posterior p(z|x)",
                    line=dict(color="black", dash="dash"), row=1, col=1)
    fig.add_scattergl(x=z, y=_normal_pdf(z, 0.0, 1.0), name="q(z)", line=dict(color="royalblue"), row=1, col=1)
    fig.add_bar(x=["ELBO", "gap"], y=[0.0, 0.0], marker_color=["royalblue", "indianred"], showlegend=False,
                row=1, col=2)
    fig.add_scatter(x=["ELBO", "gap"], y=[log_px, log_px], mode="lines", name="log p(x)",
                    line=dict(color="black"), row=1, col=2)
    fig.update_layout(height=380, margin=dict(t=70, l=40, r=20, b=40))

    def update() -> None:
        mean, std = controls["mean"].value, controls["std"].value
        q_mean = torch.tensor([mean], dtype=torch.float32)
        q_logvar = torch.tensor([2 * math.log(std)], dtype=torch.float32)
        value = float(check_returned("elbo", elbo(q_mean, q_logvar), (1,)))
        with fig.batch_update():
            fig.data[2].y = _normal_pdf(z, mean, std**2)
            fig.data[3].y = np.array([value, log_px - value], dtype=np.float64)
            fig.layout.title.text = (f"q = N({mean:.2f}, {std:.2f}^2): ELBO = {value:.3f}, "
                                     f"log p(x) = {log_px:.3f}, gap = {log_px - value:.3f}")

    return Panel(fig, controls, update, kind="elbo", bank="mean")
