"""The DDPM widgets, driven from Python (no browser): traces match the functions they show.

Each widget is built with the reference functions, its controls are set from Python,
and the FigureWidget's trace data are compared with a direct call for that state.
"""
from __future__ import annotations

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from solutions.ddpm import (compute_alpha_bar, cosine_beta_schedule, ddim_sample, ddpm_sample,
                            linear_beta_schedule, q_sample)
from widgets import (forward_noising_explorer, mixture_eps_model, reverse_sampling_player, ring_means,
                     sample_mixture, schedule_explorer)
from widgets._plumbing import check_returned, fn_label, to_numpy, wire
from widgets.ddpm_schedule import log_snr

SCHEDULES = {"linear": linear_beta_schedule, "cosine": lambda T, b0, b1: cosine_beta_schedule(T)}


def assert_float_trace(trace, x, y):
    """Trace data are float numpy arrays equal to x, y."""
    for got, want in ((trace.x, x), (trace.y, y)):
        assert isinstance(got, np.ndarray) and got.dtype.kind == "f", type(got)
        np.testing.assert_allclose(got, to_numpy(want), rtol=1e-6, atol=1e-7, equal_nan=True)


# ---------------------------------------------------------------- plumbing
def test_check_returned_names_function_and_shapes():
    with pytest.raises(ValueError, match=r"my_fn returned shape \(3, 1\); expected shape \(3, 2\)"):
        check_returned("my_fn", torch.zeros(3, 1), (3, 2))
    with pytest.raises(ValueError, match=r"returned dtype torch.float64; expected torch.float32"):
        check_returned("f", torch.zeros(3, dtype=torch.float64), (3,))
    with pytest.raises(ValueError, match=r"returned a list; expected a torch.Tensor of shape \(\*, 2\)"):
        check_returned("f", [[0.0, 0.0]], (None, 2))
    with pytest.raises(ValueError, match="1 non-finite"):
        check_returned("f", torch.tensor([0.0, float("nan")]), (2,))
    x = torch.zeros(4, 2)
    assert check_returned("f", x, (None, 2)) is x


def test_fn_label():
    def my_q(*a):
        pass
    assert fn_label(my_q, "q_sample") == "q_sample (my_q)"
    assert fn_label(lambda: 0, "q_sample") == "q_sample"
    assert fn_label(q_sample, "q_sample") == "q_sample"


def test_wire_calls_update_once_per_change_and_does_not_recurse():
    a, b = W.IntSlider(value=0, max=10), W.IntSlider(value=5, max=10)
    calls = []

    def update():
        calls.append((a.value, b.value))
        b.value = min(b.value, 7)  # an update that edits a control must not re-enter itself

    wire([a, b], update)
    a.value = 3
    b.value = 9
    assert calls == [(3, 5), (3, 9)] and b.value == 7


# ---------------------------------------------------------------- schedule explorer
def test_schedule_explorer_traces_follow_controls():
    box = schedule_explorer(SCHEDULES, compute_alpha_bar)
    assert isinstance(box, W.VBox) and box.figure in box.children
    fig = box.figure
    assert isinstance(fig, go.FigureWidget) and len(fig.data) == 3
    c = box.controls
    c["T"].value, c["beta_start"].value, c["beta_end"].value = 50, 0.001, 0.05

    betas = linear_beta_schedule(50, c["beta_start"].value, c["beta_end"].value)
    alpha_bar = compute_alpha_bar(betas)
    t = np.arange(50.0)
    assert_float_trace(fig.data[0], t, betas)
    assert_float_trace(fig.data[1], t, alpha_bar)
    assert_float_trace(fig.data[2], t, alpha_bar.double().log() - (-alpha_bar.double()).log1p())
    assert fig.layout.title.text == "schedule = linear, T = 50, beta_start = 0.00100, beta_end = 0.050"

    c["schedule"].value = "cosine"
    assert box.figure is fig
    alpha_bar = compute_alpha_bar(cosine_beta_schedule(50))
    assert_float_trace(fig.data[1], t, alpha_bar)
    assert fig.layout.title.text.startswith("schedule = cosine, T = 50,")


def test_log_snr_gaps_instead_of_infinities():
    out = log_snr(np.array([1.0, 0.5, 0.0]))
    assert np.isnan(out[0]) and out[1] == 0.0 and np.isnan(out[2])


@pytest.mark.parametrize("bad, message", [
    (lambda T, b0, b1: torch.zeros(T + 1), r"schedule 'linear' returned shape \(1001,\); expected shape \(1000,\)"),
    (lambda T, b0, b1: torch.zeros(T, dtype=torch.float64), r"schedule 'linear' returned dtype torch.float64"),
    (lambda T, b0, b1: torch.full((T,), 2.0), r"schedule 'linear' returned betas outside \[0, 1\]"),
])
def test_schedule_explorer_rejects_bad_schedule(bad, message):
    with pytest.raises(ValueError, match=message):
        schedule_explorer({"linear": bad}, compute_alpha_bar)


def test_schedule_explorer_rejects_bad_alpha_bar_and_arguments():
    with pytest.raises(ValueError, match=r"compute_alpha_bar returned shape \(999,\); expected shape \(1000,\)"):
        schedule_explorer(SCHEDULES, lambda b: compute_alpha_bar(b)[1:])
    with pytest.raises(TypeError, match="schedules"):
        schedule_explorer({}, compute_alpha_bar)
    with pytest.raises(TypeError, match="compute_alpha_bar"):
        schedule_explorer(SCHEDULES, None)


# ---------------------------------------------------------------- forward-noising explorer
@pytest.fixture
def cloud():
    return sample_mixture(ring_means(), 0.1, 200, torch.Generator().manual_seed(1))  # (200, 2)


def test_forward_explorer_scatter_is_q_sample(cloud):
    alpha_bar = compute_alpha_bar(linear_beta_schedule(100))
    box = forward_noising_explorer(q_sample, alpha_bar, cloud, seed=3)
    fig = box.figure
    noise = torch.randn(cloud.shape, generator=torch.Generator().manual_seed(3))
    for t in (37, 0, 99):
        box.controls["t"].value = t
        want = q_sample(cloud, torch.full((200,), t), alpha_bar, noise)
        assert_float_trace(fig.data[1], want[:, 0], want[:, 1])
        assert fig.layout.title.text == f"t = {t} / 100, alpha_bar_t = {float(alpha_bar[t]):.4f}"
        assert box.figure is fig
    assert_float_trace(fig.data[0], cloud[:, 0], cloud[:, 1])  # the data, unchanged


def test_forward_explorer_rejects_wrong_shape(cloud):
    alpha_bar = compute_alpha_bar(linear_beta_schedule(100))

    def bad(x0, t, ab, noise):
        return q_sample(x0, t, ab, noise)[:, :1]

    with pytest.raises(ValueError, match=r"q_sample \(bad\) returned shape \(200, 1\); expected shape \(200, 2\)"):
        forward_noising_explorer(bad, alpha_bar, cloud)
    with pytest.raises(ValueError, match=r"q_sample returned shape \(200, 1\); expected shape \(200, 2\)"):
        forward_noising_explorer(lambda *a: torch.zeros(200, 1), alpha_bar, cloud)
    with pytest.raises(ValueError, match=r"x0: got shape \(200, 3\); expected shape \(\*, 2\)"):
        forward_noising_explorer(q_sample, alpha_bar, torch.zeros(200, 3))
    with pytest.raises(TypeError, match="x0"):
        forward_noising_explorer(q_sample, alpha_bar, cloud.numpy())
    with pytest.raises(ValueError, match=r"alpha_bar: expected values in \[0, 1\]"):
        forward_noising_explorer(q_sample, alpha_bar + 1, cloud)


def test_forward_explorer_error_on_later_slider_move(cloud):
    """A q_sample that breaks only for some t fails when the slider gets there, naming itself."""
    alpha_bar = compute_alpha_bar(linear_beta_schedule(10))

    def flaky(x0, t, ab, noise):
        return q_sample(x0, t, ab, noise) * (float("nan") if int(t[0]) == 5 else 1.0)

    box = forward_noising_explorer(flaky, alpha_bar, cloud)
    with pytest.raises(ValueError, match=r"q_sample \(flaky\) returned 400 non-finite"):
        box.controls["t"].value = 5


# ---------------------------------------------------------------- reverse sampling player
T, N = 20, 64


def make_samplers(calls):
    betas = linear_beta_schedule(T, 1e-3, 0.2)
    alpha_bar = compute_alpha_bar(betas)
    model = lambda x, t: 0.1 * x  # tiny deterministic eps-model  # noqa: E731

    def ddpm(num_steps):
        calls.append(("DDPM", num_steps))
        return ddpm_sample(model, (N, 2), betas, alpha_bar, torch.Generator().manual_seed(0),
                           return_trajectory=True)[1]

    def ddim(num_steps):
        calls.append(("DDIM", num_steps))
        return ddim_sample(model, (N, 2), alpha_bar, num_steps, torch.Generator().manual_seed(0),
                           return_trajectory=True)[1]

    return {"DDIM": ddim, "DDPM": ddpm}


def test_reverse_player_frames_are_trajectory_entries():
    calls = []
    samplers = make_samplers(calls)
    box = reverse_sampling_player(samplers, data=torch.zeros(5, 2), num_steps=10, max_steps=T)
    fig, c = box.figure, box.controls
    particles = fig.data[-1]
    assert c["frame"].max == c["play"].max == 10

    c["steps"].value = 5
    c["frame"].value = 3
    traj = samplers["DDIM"](5)
    assert_float_trace(particles, traj[3, :, 0], traj[3, :, 1])
    assert c["frame"].max == c["play"].max == 5
    assert fig.layout.title.text == "DDIM, 5 steps, frame 3 / 5"
    assert box.figure is fig


def test_reverse_player_caches_trajectories():
    calls = []
    box = reverse_sampling_player(make_samplers(calls), num_steps=10, max_steps=T)
    c = box.controls
    for k in range(11):
        c["frame"].value = k  # only re-indexes the cached trajectory
    c["steps"].value = 4
    c["steps"].value = 10
    assert calls == [("DDIM", 10), ("DDIM", 4)]


def test_reverse_player_follows_sampler_that_ignores_steps():
    calls = []
    samplers = make_samplers(calls)
    box = reverse_sampling_player(samplers, num_steps=10, max_steps=T)
    c = box.controls
    c["frame"].value = 10                     # the end of the DDIM trajectory ...
    c["sampler"].value = "DDPM"
    assert c["frame"].max == c["play"].max == T
    assert c["frame"].value == T              # ... stays the end of the longer DDPM one
    assert c["steps"].disabled
    traj = samplers["DDPM"](0)
    assert_float_trace(box.figure.data[-1], traj[T, :, 0], traj[T, :, 1])
    assert box.figure.layout.title.text == f"DDPM, {T} steps, frame {T} / {T}"
    c["steps"].value = 3                      # DDPM ignores steps: no new run
    c["sampler"].value = "DDIM"
    assert not c["steps"].disabled and c["frame"].max == 3
    assert [k for k in calls if k[0] == "DDPM"] == [("DDPM", 10), ("DDPM", 0)]


def test_reverse_player_rejects_bad_trajectory():
    bad = {"DDIM": lambda n: torch.zeros(n + 1, N, 3)}
    with pytest.raises(ValueError, match=r"sampler 'DDIM' returned shape \(11, 64, 3\); expected shape \(\*, \*, 2\)"):
        reverse_sampling_player(bad, num_steps=10)
    with pytest.raises(ValueError, match="num_steps"):
        reverse_sampling_player(make_samplers([]), num_steps=0)


# ---------------------------------------------------------------- exact mixture eps-model
def test_mixture_eps_model_single_component_closed_form():
    alpha_bar = compute_alpha_bar(linear_beta_schedule(50))
    mu, std = torch.tensor([[1.0, -2.0]]), 0.3
    model = mixture_eps_model(mu, std, alpha_bar)
    x, t = torch.randn(7, 2, generator=torch.Generator().manual_seed(0)), torch.arange(0, 49, 7)
    ab = alpha_bar[t][:, None]
    want = (1 - ab).sqrt() * (x - ab.sqrt() * mu) / (ab * std**2 + 1 - ab)
    torch.testing.assert_close(model(x, t), want)


def test_mixture_eps_model_samples_land_on_the_modes():
    alpha_bar = compute_alpha_bar(cosine_beta_schedule(100))
    means = ring_means()
    x = ddim_sample(mixture_eps_model(means, 0.1, alpha_bar), (500, 2), alpha_bar, 20,
                    torch.Generator().manual_seed(0))
    nearest = torch.cdist(x, means).min(dim=1).values
    assert nearest.mean() < 0.2  # 0.1 * sqrt(pi / 2) ~ 0.125 for exact samples


def test_every_widget_is_exported_from_the_package():
    """A notebook can write ``from widgets import <any widget>``: every public function of a widget
    module that returns a Panel (or a figure) is in ``widgets.__all__``."""
    import importlib
    import inspect
    import pkgutil
    import typing

    import widgets

    missing = []
    for info in pkgutil.iter_modules(widgets.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"widgets.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module.__name__ or name.startswith("_"):
                continue
            returns = typing.get_type_hints(fn).get("return")
            if returns in (widgets.Panel, go.Figure) and name not in widgets.__all__:
                missing.append(f"widgets.{info.name}.{name}")
    assert not missing, f"not exported from widgets/__init__.py: {missing}"
    assert all(hasattr(widgets, name) for name in widgets.__all__)
