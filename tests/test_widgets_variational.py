"""The ELBO explorer shows what the functions it is given compute."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from solutions.variational import elbo_mc, log_evidence, true_posterior
from widgets import elbo_explorer

A, B, S = 1.5, 0.5, 0.8
X = torch.tensor([1.2])


def make(elbo=None):
    return elbo_explorer(
        elbo=elbo or (lambda m, lv: elbo_mc(X, m, lv, A, B, S, 2000, torch.Generator().manual_seed(3))),
        log_evidence=lambda: log_evidence(X, A, B, S),
        posterior=lambda: true_posterior(X, A, B, S))


def test_sliders_drive_elbo_gap_and_q_density():
    panel = make()
    figure = panel.figure
    panel.controls["mean"].value, panel.controls["std"].value = 0.5, 0.6
    want = elbo_mc(X, torch.tensor([0.5]), torch.tensor([2 * math.log(0.6)]), A, B, S, 2000,
                   torch.Generator().manual_seed(3)).item()
    log_px = log_evidence(X, A, B, S).item()
    bars = np.asarray(panel.figure.data[3].y)
    assert bars.dtype.kind == "f"
    assert bars == pytest.approx([want, log_px - want], abs=1e-5)
    z = np.asarray(figure.data[2].x)
    assert np.asarray(figure.data[2].y) == pytest.approx(np.exp(-0.5 * ((z - 0.5) / 0.6) ** 2) / (0.6 * math.sqrt(2 * math.pi)))
    assert panel.figure is figure
    assert figure.layout.title.text.startswith("q = N(0.50, 0.60^2)")
    assert f"gap = {log_px - want:.3f}" in figure.layout.title.text


def test_gap_is_never_negative_over_the_slider_grid():
    panel = make()
    for mean in (-2.0, 0.0, 0.36, 2.0):
        for std in (0.2, 0.47, 1.5):
            panel.controls["mean"].value, panel.controls["std"].value = mean, std
            assert panel.figure.data[3].y[1] > -0.05  # KL >= 0, up to Monte Carlo error


def test_wrong_shape_from_the_learners_elbo_is_named():
    with pytest.raises(ValueError, match=r"elbo returned shape \(2,\); expected shape \(1,\)"):
        make(elbo=lambda m, lv: torch.zeros(2))
