"""The flow-matching widgets (07, 08), driven from Python (no browser).

Each widget is built with the reference functions; controls are set from Python and the
FigureWidget's traces are compared with direct calls of those functions for that state.
"""
from __future__ import annotations

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from coursekit.kit.data import eight_gaussians
from coursekit.kit.ode import integrate
from solutions.flow_matching import marginal_vector_field, ot_conditional_field, per_sample
from solutions.ot_paths import ve_path_sample, vp_path_sample
from widgets._plumbing import to_numpy
from widgets.flow_matching import arrow_segments, flow_field_explorer
from widgets.ot_paths import path_comparison_explorer

SIGMA_MIN = 0.05


def assert_float_trace(trace, x, y):
    """Trace data are float numpy arrays equal to x, y (nan where the expected values are nan)."""
    for got, want in ((trace.x, x), (trace.y, y)):
        assert isinstance(got, np.ndarray) and got.dtype.kind == "f", type(got)
        np.testing.assert_allclose(got, to_numpy(want), rtol=1e-5, atol=1e-6, equal_nan=True)


# ---------------------------------------------------------------- 07: conditional vs marginal fields
@pytest.fixture
def data():
    return eight_gaussians(20, torch.Generator().manual_seed(0))


def make_fields(data, calls=None):
    def conditional(x, x1, t):
        if calls is not None:
            calls.append("conditional")
        return ot_conditional_field(x, x1, t, SIGMA_MIN)

    def marginal(x, t):
        if calls is not None:
            calls.append("marginal")
        return marginal_vector_field(x, t, data, SIGMA_MIN)

    return conditional, marginal


def grid_points(grid_size, extent):
    axis = torch.linspace(-extent, extent, grid_size)
    gx, gy = torch.meshgrid(axis, axis, indexing="xy")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


def test_arrow_segments_mean_length_heads_and_gaps():
    points = np.array([[0.0, 0.0], [1.0, 1.0]])
    vectors = np.array([[3.0, 0.0], [0.0, 1.0]])
    xs, ys = arrow_segments(points, vectors, 0.5)
    assert xs.shape == ys.shape == (14,)
    assert np.allclose(xs[0::7], points[:, 0]) and np.allclose(ys[0::7], points[:, 1])   # tails at the points
    lengths = np.hypot(xs[1::7] - xs[0::7], ys[1::7] - ys[0::7])
    assert np.isclose(lengths.mean(), 0.5) and np.isclose(lengths[0] / lengths[1], 3.0)
    assert np.allclose(xs[1::7], xs[4::7]) and np.allclose(ys[1::7], ys[4::7])         # both barbs start at the tip
    # the first arrow points along +x: its barbs lie behind the tip, one above and one below the shaft
    assert xs[2] < xs[1] and xs[5] < xs[1] and ys[2] * ys[5] < 0 and np.isclose(ys[2], -ys[5])
    for k in (3, 6):
        assert np.isnan(xs[k::7]).all() and np.isnan(ys[k::7]).all()
    xs, _ = arrow_segments(points, np.zeros((2, 2)), 0.5)                 # a zero field draws dots, no nan
    assert np.allclose(xs[0::7], xs[1::7])


def test_flow_explorer_traces_are_the_fields_and_the_flows(data):
    t_steps, grid_size, extent, P = 10, 5, 3.0, 30
    box = flow_field_explorer(*make_fields(data), data, t=0.5, t_steps=t_steps, grid_size=grid_size,
                              num_particles=P, seed=3, extent=extent)
    assert isinstance(box, W.VBox) and box.figure in box.children
    fig = box.figure
    assert isinstance(fig, go.FigureWidget) and len(fig.data) == 7
    grid = grid_points(grid_size, extent)
    spacing = 2 * extent / (grid_size - 1)
    x0 = torch.randn(P, 2, generator=torch.Generator().manual_seed(3))
    # Independent reference for the particles: coursekit's Euler integrator on the same grid.
    marginal_traj = integrate(lambda x, t: marginal_vector_field(x, t, data, SIGMA_MIN), x0, t_steps,
                              return_trajectory=True)[1]
    for t_val, k in ((0.7, 4), (0.0, 0), (1.0, 19)):
        box.controls["t"].value, box.controls["x1"].value = t_val, k
        step = round(t_val * t_steps)
        t_grid = torch.full((len(grid),), step / t_steps)
        x1 = data[k].expand_as(grid)
        u_cond = ot_conditional_field(grid, x1, t_grid, SIGMA_MIN)
        u_marg = marginal_vector_field(grid, t_grid, data, SIGMA_MIN)
        assert_float_trace(fig.data[1], *arrow_segments(grid.numpy(), u_cond.numpy(), 0.8 * spacing))
        assert_float_trace(fig.data[5], *arrow_segments(grid.numpy(), u_marg.numpy(), 0.8 * spacing))
        cond_traj = integrate(lambda x, t: ot_conditional_field(x, data[k].expand_as(x), t, SIGMA_MIN), x0, t_steps,
                              return_trajectory=True)[1]
        assert_float_trace(fig.data[2], cond_traj[step, :, 0], cond_traj[step, :, 1])
        assert_float_trace(fig.data[6], marginal_traj[step, :, 0], marginal_traj[step, :, 1])
        assert_float_trace(fig.data[3], data[k, :1], data[k, 1:])
        assert fig.layout.title.text == (
            f"t = {step / t_steps:.2f}, x1 = data[{k}] = ({float(data[k, 0]):.2f}, {float(data[k, 1]):.2f}); "
            f"largest |u|: conditional {float(u_cond.norm(dim=1).max()):.2f}, "
            f"marginal {float(u_marg.norm(dim=1).max()):.2f}")
        assert box.figure is fig
    assert_float_trace(fig.data[0], data[:, 0], data[:, 1])                 # the data, unchanged
    assert_float_trace(fig.data[4], data[:, 0], data[:, 1])


def test_flow_explorer_particles_end_near_the_data(data):
    box = flow_field_explorer(*make_fields(data), data, t_steps=50, grid_size=4, num_particles=200)
    box.controls["t"].value = 1.0
    ends = torch.tensor(np.stack([box.figure.data[6].x, box.figure.data[6].y], axis=1), dtype=torch.float32)
    assert float(torch.cdist(ends, data).min(dim=1).values.median()) < 0.1   # the marginal flow reaches the data
    cond = torch.tensor(np.stack([box.figure.data[2].x, box.figure.data[2].y], axis=1), dtype=torch.float32)
    assert float((cond - data[0]).norm(dim=1).max()) < 0.5                    # every particle reaches x1 = data[0]


def test_flow_explorer_caches_particle_flows(data, monkeypatch):
    import widgets._hooks

    monkeypatch.setattr(widgets._hooks, "enabled", False)  # no bank: each move is one kernel draw
    calls = []
    box = flow_field_explorer(*make_fields(data, calls), data, t_steps=10, grid_size=3, num_particles=5)
    built = len(calls)                      # first draw: 10 + 10 flow steps, plus two grid evaluations
    assert calls.count("marginal") == 11 and calls.count("conditional") == 11
    for t_val in (0.1, 0.2, 0.9):
        box.controls["t"].value = t_val     # only the grid is re-evaluated
    assert len(calls) == built + 6
    box.controls["x1"].value = 3            # a new x1: one new conditional flow
    assert calls.count("conditional") == 11 + 3 + 10 + 1
    box.controls["x1"].value = 0            # cached
    assert calls.count("conditional") == 11 + 3 + 10 + 1 + 1


def test_flow_explorer_rejects_bad_fields_and_arguments(data):
    conditional, marginal = make_fields(data)
    with pytest.raises(ValueError, match=r"marginal_field \(bad\) returned shape \(\d+, 1\); expected shape \(\d+, 2\)"):
        def bad(x, t):
            return marginal(x, t)[:, :1]
        flow_field_explorer(conditional, bad, data, t_steps=4, grid_size=3)
    with pytest.raises(ValueError, match=r"conditional_field returned dtype torch.float64"):
        flow_field_explorer(lambda x, x1, t: conditional(x, x1, t).double(), marginal, data, t_steps=4, grid_size=3)
    with pytest.raises(TypeError, match="marginal_field"):
        flow_field_explorer(conditional, None, data)
    with pytest.raises(ValueError, match=r"data: got shape \(20, 3\); expected shape \(\*, 2\)"):
        flow_field_explorer(conditional, marginal, torch.zeros(20, 3))
    with pytest.raises(ValueError, match=r"t: expected a flow-matching time in \[0, 1\]"):
        flow_field_explorer(conditional, marginal, data, t=1.5)


def test_flow_explorer_error_on_a_later_slider_move(data):
    conditional, marginal = make_fields(data)

    def flaky(x, t):
        return marginal(x, t) * (float("nan") if len(x) == 9 and float(t[0]) > 0.75 else 1.0)

    box = flow_field_explorer(conditional, flaky, data, t_steps=4, grid_size=3, num_particles=5)
    with pytest.raises(ValueError, match=r"marginal_field \(flaky\) returned 18 non-finite"):
        box.controls["t"].value = 1.0


# ---------------------------------------------------------------- 08: paths side by side
def ot_path(x1, t, eps):
    return per_sample(t, x1) * x1 + per_sample(1 - t, x1) * eps


@pytest.fixture
def x1():
    return eight_gaussians(50, torch.Generator().manual_seed(1))


def test_path_explorer_traces_are_the_paths(x1):
    paths = {"VP": vp_path_sample, "OT": ot_path}
    box = path_comparison_explorer(paths, x1, t=0.5, t_steps=20, num_lines=10, seed=4)
    fig = box.figure
    assert isinstance(fig, go.FigureWidget) and len(fig.data) == 4 * 2 + 2 * 2
    eps = torch.randn(50, 2, generator=torch.Generator().manual_seed(4))
    for t_val in (0.3, 0.0, 1.0, 0.85):
        box.controls["t"].value = t_val
        step = round(t_val * 20)
        t_now = step / 20
        parts = []
        for i, (name, path) in enumerate(paths.items()):
            x_t = path(x1, torch.full((50,), t_now), eps)
            assert_float_trace(fig.data[4 * i + 2], x_t[:, 0], x_t[:, 1])
            a = float(path(torch.ones(1, 2), torch.tensor([t_now]), torch.zeros(1, 2))[0, 0])
            s = float(path(torch.zeros(1, 2), torch.tensor([t_now]), torch.ones(1, 2))[0, 0])
            assert_float_trace(fig.data[4 * i + 3], np.array([t_now, t_now]), np.array([a, s]))
            parts.append(f"{name}: x_t = {a:.2f} x1 + {s:.2f} eps")
        assert fig.layout.title.text == f"t = {t_now:.2f} | " + " | ".join(parts)
        assert box.figure is fig
    # the faint lines are the whole paths of the first 10 particles, nan-separated
    times = torch.linspace(0, 1, 21)
    vp_lines = torch.stack([vp_path_sample(x1[:10], tk.expand(10).contiguous(), eps[:10]) for tk in times], dim=1)
    want = torch.cat([vp_lines, torch.full((10, 1, 2), float("nan"))], dim=1).reshape(-1, 2)
    assert_float_trace(fig.data[1], want[:, 0], want[:, 1])
    assert_float_trace(fig.data[0], x1[:, 0], x1[:, 1])


def test_path_explorer_endpoints(x1):
    """t = 0 is noise, t = 1 is data: the OT panel shows eps at t = 0 and x1 at t = 1."""
    box = path_comparison_explorer({"OT": ot_path, "VE": ve_path_sample}, x1, t_steps=10, seed=0)
    eps = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))
    box.controls["t"].value = 0.0
    assert_float_trace(box.figure.data[2], eps[:, 0], eps[:, 1])
    box.controls["t"].value = 1.0
    assert_float_trace(box.figure.data[2], x1[:, 0], x1[:, 1])
    assert box.figure.layout.title.text.startswith("t = 1.00 | OT: x_t = 1.00 x1 + 0.00 eps | VE: x_t = 1.00 x1 + 0.01 eps")


def test_path_explorer_rejects_bad_paths(x1):
    with pytest.raises(ValueError, match=r"path 'OT' \(bad\) returned shape \(10, 3\); expected shape \(10, 2\)"):
        def bad(x1, t, eps):
            return torch.zeros(len(x1), 3)
        path_comparison_explorer({"OT": bad}, x1, num_lines=10)
    with pytest.raises(TypeError, match="paths"):
        path_comparison_explorer({}, x1)
    with pytest.raises(TypeError, match=r"paths\['VP'\]"):
        path_comparison_explorer({"VP": 3}, x1)
    with pytest.raises(TypeError, match="x1"):
        path_comparison_explorer({"OT": ot_path}, x1.numpy())
