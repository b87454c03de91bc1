"""The flow explorer (widgets/flows.py), driven from Python: its traces are the functions' outputs."""
from __future__ import annotations

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from coursekit.assignments.flows.vector_fields import SpiralField, gaussian_log_prob, pushed_gaussian
from solutions.flows import euler_integrate, rk4_integrate
from widget_support import assert_float_array, trace
from widgets._plumbing import to_numpy
from widgets.flows import ERROR_FLOOR, flow_explorer, mean_error, step_grid

FIELD = SpiralField(a0=1.0, a1=-2.4, omega=2.5)
MEAN0 = torch.tensor([1.2, 0.0])
COV0 = torch.tensor([[0.16, 0.0], [0.0, 0.02]])


def particles(n=60, dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    return (MEAN0 + torch.randn(n, 2, generator=g) @ torch.linalg.cholesky(COV0).T).to(dtype)


def log_prob(points, t):
    return gaussian_log_prob(points, *pushed_gaussian(FIELD, MEAN0, COV0, t))


@pytest.fixture(scope="module")
def box():
    return flow_explorer(euler_integrate, rk4_integrate, FIELD, FIELD.flow, particles(), log_prob=log_prob,
                         num_steps=4, max_steps=32, grid_size=30)


def test_controls_drive_particles_errors_and_density(box):
    fig = box.figure
    assert isinstance(box, W.VBox) and fig in box.children and isinstance(fig, go.FigureWidget)
    x0 = particles()
    for t, steps in [(0.5, 7), (1.0, 32), (0.25, 1), (1.0, 3)]:
        box.controls["t"].value, box.controls["steps"].value = t, steps
        assert box.figure is fig
        exact = FIELD.flow(x0, t)
        euler = euler_integrate(FIELD, x0, steps, 0.0, t)
        rk4 = rk4_integrate(FIELD, x0, steps, 0.0, t)
        for name, want in (("exact", exact), ("Euler", euler), ("RK4", rk4)):
            assert_float_array(trace(fig, name).x, want[:, 0])
            assert_float_array(trace(fig, name).y, want[:, 1])
        # error curves over 1, 2, 4, ..., 32 steps, and the current step count marked
        grid = step_grid(32)
        assert_float_array(trace(fig, "Euler error").x, np.array(grid, dtype=float))
        for name, solve in (("Euler", euler_integrate), ("RK4", rk4_integrate)):
            curve = [max(mean_error(solve(FIELD, x0, n, 0.0, t), exact), ERROR_FLOOR) for n in grid]
            assert_float_array(trace(fig, f"{name} error").y, np.array(curve))
        e_euler, e_rk4 = mean_error(euler, exact), mean_error(rk4, exact)
        assert_float_array(trace(fig, "Euler, current steps").x, np.array([float(steps)]))
        assert_float_array(trace(fig, "Euler, current steps").y, np.array([e_euler]))
        assert_float_array(trace(fig, "RK4, current steps").y, np.array([e_rk4]))
        assert fig.layout.title.text == f"t = {t:.2f}, {steps} steps: mean error Euler {e_euler:.2e}, RK4 {e_rk4:.2e}"
        # the heat map is the exact density on the fixed grid
        heat = trace(fig, "p_t (exact)")
        gx, gy = np.meshgrid(heat.x, heat.y)
        grid_points = torch.tensor(np.stack([gx.ravel(), gy.ravel()], axis=1))
        want = np.exp(to_numpy(log_prob(grid_points, t))).reshape(30, 30)
        np.testing.assert_allclose(np.asarray(heat.z, dtype=float), want, rtol=1e-9, atol=1e-300)


def test_rk4_beats_euler_and_errors_fall_with_steps(box):
    box.controls["t"].value, box.controls["steps"].value = 1.0, 8
    euler_curve, rk4_curve = trace(box.figure, "Euler error").y, trace(box.figure, "RK4 error").y
    assert np.all(rk4_curve[2:] < euler_curve[2:])            # from 4 steps on
    assert np.all(np.diff(euler_curve[1:]) < 0) and np.all(np.diff(rk4_curve[1:]) < 0)
    assert rk4_curve[-1] < 1e-5 < euler_curve[-1]


def test_time_zero_is_the_start_and_errors_sit_on_the_floor(box):
    box.controls["t"].value = 0.0
    x0 = particles()
    assert_float_array(trace(box.figure, "Euler").x, x0[:, 0])
    np.testing.assert_array_equal(trace(box.figure, "RK4 error").y, ERROR_FLOOR)
    assert box.figure.layout.title.text.startswith("t = 0.00,")


def test_float32_particles_and_no_density():
    x0 = particles(20, torch.float32)
    panel = flow_explorer(euler_integrate, rk4_integrate, FIELD, FIELD.flow, x0, max_steps=8)
    names = [t.name for t in panel.figure.data]
    assert "p_t (exact)" not in names and "RK4" in names
    panel.controls["steps"].value = 5
    assert_float_array(trace(panel.figure, "RK4").x, rk4_integrate(FIELD, x0, 5, 0.0, 1.0)[:, 0])


def test_step_grid():
    assert step_grid(64) == [1, 2, 4, 8, 16, 32, 64]
    assert step_grid(10) == [1, 2, 4, 8, 10]
    assert step_grid(1) == [1]


def test_bad_functions_and_arguments_are_named():
    x0 = particles(20)

    def bad(v, x, n, t0, t1):
        return euler_integrate(v, x, n, t0, t1)[:, :1]

    with pytest.raises(ValueError, match=r"euler_integrate \(bad\) returned shape \(20, 1\); expected shape \(20, 2\)"):
        flow_explorer(bad, rk4_integrate, FIELD, FIELD.flow, x0)
    with pytest.raises(ValueError, match=r"rk4_integrate returned dtype torch.float32; expected torch.float64"):
        flow_explorer(euler_integrate, lambda v, x, n, t0, t1: x.float(), FIELD, FIELD.flow, x0)
    with pytest.raises(ValueError, match=r"exact_flow returned shape \(20, 3\)"):
        flow_explorer(euler_integrate, rk4_integrate, FIELD, lambda x, t: torch.zeros(20, 3, dtype=x.dtype), x0)
    with pytest.raises(ValueError, match=r"x0: got shape \(20, 3\); expected shape \(\*, 2\)"):
        flow_explorer(euler_integrate, rk4_integrate, FIELD, FIELD.flow, torch.zeros(20, 3))
    with pytest.raises(TypeError, match="field"):
        flow_explorer(euler_integrate, rk4_integrate, None, FIELD.flow, x0)
    with pytest.raises(ValueError, match=r"num_steps: expected 1..64, got 0"):
        flow_explorer(euler_integrate, rk4_integrate, FIELD, FIELD.flow, x0, num_steps=0)
    with pytest.raises(ValueError, match=r"t: expected a time in \[0, 1\], got 1.5"):
        flow_explorer(euler_integrate, rk4_integrate, FIELD, FIELD.flow, x0, t=1.5)


def test_webgl_canvas_at_screen_pixels(box):
    """The particles' WebGL canvas is drawn at one pixel per screen pixel (plotly's default is 2x,
    which a browser without a GPU redraws in software on every move: widgets/_figure.screen_pixel_gl)."""
    assert any(t.type == "scattergl" for t in box.figure.data)
    assert box.figure._config["plotGlPixelRatio"] == 1
