"""The 02b widgets (widgets/bridge.py), driven from Python: their traces are what the given functions return."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from coursekit.assignments.bridge.densities import MODE_STD, mixture_score
from solutions.bridge import euler_step, heun_step, langevin_sample, ode_sample, to_data_eps
from widgets.bridge import SHOWN, bound_explorer, langevin_explorer, parameterisation_explorer, solver_explorer
from widgets.mixture import mixture_eps_model, ring_means

X_INIT = 3 * torch.rand(200, 2, generator=torch.Generator().manual_seed(4)) - 1.5
T = 40
ALPHA_BAR = torch.cumprod(1 - torch.linspace(1e-3, 0.25, T), 0)
EPS_MODEL = mixture_eps_model(ring_means(8, 2.0), 0.15, ALPHA_BAR)


def xy(trace) -> np.ndarray:
    return np.stack([np.asarray(trace.x, dtype=float), np.asarray(trace.y, dtype=float)], 1)


def test_langevin_explorer_draws_the_chain_the_sliders_name():
    panel = langevin_explorer(langevin_sample, mixture_score, X_INIT, seed=5, mode_std=MODE_STD)
    panel.controls["step_size"].value, panel.controls["steps"].value = 0.02, 50
    want = langevin_sample(mixture_score, X_INIT, 0.02, 50, torch.Generator().manual_seed(5)).numpy()
    np.testing.assert_allclose(xy(panel.figure.data[0]), want, atol=1e-6)
    assert panel.figure.layout.title.text.startswith("step size = 0.020, steps = 50: 0 of 200 escaped")


def test_langevin_explorer_counts_escaped_points_and_keeps_the_plot_finite():
    panel = langevin_explorer(langevin_sample, mixture_score, X_INIT, seed=5)
    panel.controls["step_size"].value, panel.controls["steps"].value = 0.1, 300
    points = xy(panel.figure.data[0])
    assert np.isfinite(points).all() and np.abs(points).max() <= SHOWN
    assert "200 of 200 escaped" in panel.figure.layout.title.text


def test_langevin_explorer_names_a_wrong_shape():
    with pytest.raises(ValueError, match=r"langevin_sample returned \(200, 1\)"):
        langevin_explorer(lambda score, x, h, n, g: x[:, :1], mixture_score, X_INIT)


def noisy(x0, t):
    a = ALPHA_BAR[t][:, None]
    return a.sqrt() * x0 + (1 - a).sqrt() * torch.ones_like(x0) * 0.3


def test_parameterisation_explorer_shows_each_models_data_guess():
    data = torch.randn(50, 2, generator=torch.Generator().manual_seed(1))

    def from_eps(x, t):
        return to_data_eps(EPS_MODEL(x, t), "epsilon", x, ALPHA_BAR[t].sqrt(), (1 - ALPHA_BAR[t]).sqrt())[0]

    panel = parameterisation_explorer({"epsilon": from_eps, "shrunk": lambda x, t: 0.5 * x}, noisy, data, T)
    panel.controls["t"].value = 7
    steps = torch.full((50,), 7)
    x_t = noisy(data, steps)
    np.testing.assert_allclose(xy(panel.figure.data[1]), x_t.numpy(), atol=1e-6)
    np.testing.assert_allclose(xy(panel.figure.data[3]), from_eps(x_t, steps).numpy(), atol=1e-5)
    np.testing.assert_allclose(xy(panel.figure.data[5]), 0.5 * x_t.numpy(), atol=1e-6)
    err = float(((0.5 * x_t - data) ** 2).sum(1).mean())
    assert panel.figure.layout.title.text.startswith("t = 7: ") and f"shrunk {err:.3f}" in panel.figure.layout.title.text


def test_solver_explorer_runs_each_solver_with_the_slider_steps():
    def sampler(step):
        return lambda n: ode_sample(step, EPS_MODEL, (100, 2), ALPHA_BAR, n, torch.Generator().manual_seed(2))

    reference = sampler(heun_step)(T)
    panel = solver_explorer({"Euler": sampler(euler_step), "Heun": sampler(heun_step)}, reference, max_steps=20)
    panel.controls["steps"].value = 4
    np.testing.assert_allclose(xy(panel.figure.data[1]), sampler(euler_step)(4).numpy(), atol=1e-6)
    np.testing.assert_allclose(xy(panel.figure.data[3]), sampler(heun_step)(4).numpy(), atol=1e-6)
    gap = float((sampler(heun_step)(4) - reference).norm(dim=1).mean())
    assert panel.figure.layout.title.text.startswith("steps = 4: ") and f"Heun {gap:.3f}" in panel.figure.layout.title.text


def test_bound_explorer_plots_the_terms_and_marks_w_t():
    weights = torch.linspace(0.1, 2.0, T)

    def terms(step):
        return torch.full((30,), float(step)), torch.full((30,), 2.0 * step)

    panel = bound_explorer(terms, weights)
    panel.controls["t"].value = 12
    np.testing.assert_allclose(xy(panel.figure.data[0]), np.stack([np.full(30, 24.0), np.full(30, 12.0)], 1))
    assert float(panel.figure.data[3].y[0]) == pytest.approx(float(weights[12]))
    assert panel.figure.layout.title.text.startswith("t = 12: w_t = ")


def frame(panel, position):
    """The bank that holds slider position ``position``, and that frame's row in it."""
    (bank,) = [b for b in panel.browser.banks if position in b.frame_numbers]
    r = bank.frame_numbers.index(position)
    return bank, r


def test_the_banks_hold_what_the_given_functions_compute_at_every_slider_position():
    """The page draws each 02b slider from a bank (issue 16): every frame is what the functions the
    widget was given return at that position, here functions no reference has (a scaled Langevin,
    a shrinking denoiser, a solver whose output names its step count, a bound with KL = t)."""
    panel = langevin_explorer(lambda score, x, h, n, g: x * (1 + h) + n / 1000, mixture_score, X_INIT, seed=5)
    assert panel.browser.index == "step_size" and {k for b in panel.browser.banks for k in b.frame_numbers} == set(range(50))
    for k in (0, 9, 49):
        bank, r = frame(panel, k)
        h = round(0.002 + k * 0.002, 10)
        want = np.clip(X_INIT.numpy() * (1 + h) + 0.1, -SHOWN, SHOWN)
        np.testing.assert_allclose(bank.rows(0, "x")[r], want[:, 0], rtol=1e-6)
        assert bank.titles[r].startswith(f"step size = {h:.3f}, steps = 100")

    data = torch.randn(50, 2, generator=torch.Generator().manual_seed(1))
    panel = parameterisation_explorer({"shrunk": lambda x, t: 0.5 * x}, noisy, data, T)
    assert panel.browser.index == "t" and {k for b in panel.browser.banks for k in b.frame_numbers} == set(range(T))
    bank, r = frame(panel, 7)
    x_t = noisy(data, torch.full((50,), 7)).numpy()
    guess = bank.traces.index(3)
    np.testing.assert_allclose(bank.rows(guess, "x")[r], 0.5 * x_t[:, 0], rtol=1e-5)

    reference = torch.zeros(20, 2)
    panel = solver_explorer({"named": lambda n: torch.full((20, 2), float(n))}, reference, max_steps=12)
    assert {k for b in panel.browser.banks for k in b.frame_numbers} == set(range(12))
    bank, r = frame(panel, 3)                                   # position 3 = 4 steps
    np.testing.assert_allclose(bank.rows(bank.traces.index(1), "y")[r], np.full(20, 4.0))
    assert bank.titles[r].startswith("steps = 4: ")

    panel = bound_explorer(lambda step: (torch.full((30,), float(step)), torch.full((30,), 2.0 * step)),
                           torch.linspace(0.1, 2.0, T))
    bank, r = frame(panel, 11)                                  # position 11 = t 12
    np.testing.assert_allclose(bank.rows(0, "y")[r], np.full(30, 12.0))
    assert bank.titles[r].startswith("t = 12: ")


def test_a_banked_move_draws_the_stored_frame():
    panel = langevin_explorer(langevin_sample, mixture_score, X_INIT, seed=5, mode_std=MODE_STD)
    panel.browser.driving = True
    panel.controls["step_size"].value = 0.03                    # position 14
    bank, r = frame(panel, 14)
    np.testing.assert_allclose(np.asarray(panel.figure.data[0].x), bank.rows(0, "x")[r], rtol=1e-6)
    want = langevin_sample(mixture_score, X_INIT, 0.03, 100, torch.Generator().manual_seed(5)).numpy()
    np.testing.assert_allclose(np.asarray(panel.figure.data[0].x), np.clip(want[:, 0], -SHOWN, SHOWN), atol=1e-5)
    assert panel.figure.layout.title.text == bank.titles[r]
