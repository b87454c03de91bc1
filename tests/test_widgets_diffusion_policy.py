"""The Diffusion Policy widgets (widgets/diffusion_policy.py), driven from Python: every trace is what the
functions they are given return, the FigureWidget is kept, and the title states the state."""
from __future__ import annotations

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from coursekit.kit.diffusion import cosine_alpha_bar
from coursekit.assignments.diffusion_policy.point_robot import Normalizer, OBSTACLE, expert_demos
from coursekit.assignments.diffusion_policy.policies import ActionConvNet, DiffusionPolicy, RegressionPolicy
from solutions.diffusion_policy import ConditionalResidualBlock1D, make_windows
from widget_support import assert_float_array, trace
from widgets._plumbing import to_numpy
from widgets.diffusion_policy import chunk_explorer, horizon_explorer, rollout_figure, state_history

DEMOS = expert_demos(4, torch.Generator().manual_seed(0))
OBS, ACTIONS = DEMOS.episode(1)
L = len(OBS)


# ----------------------------------------------------------------------------- horizon explorer
@pytest.fixture()
def horizons():
    return horizon_explorer(make_windows, OBS, ACTIONS, To=2, Tp=16, Ta=8, t=0)


def test_horizon_explorer_shows_the_learners_window(horizons):
    fig = horizons.figure
    assert isinstance(horizons, W.VBox) and fig in horizons.children and isinstance(fig, go.FigureWidget)
    for To, Tp, Ta, t in [(2, 16, 8, 0), (3, 12, 5, 4), (1, 8, 8, 20), (4, 10, 2, 1), (2, 16, 8, L - 8)]:
        horizons.controls["To"].value, horizons.controls["Tp"].value = To, Tp
        horizons.controls["Ta"].value, horizons.controls["t"].value = Ta, t
        assert horizons.figure is fig
        obs_w, act_w = make_windows(OBS, ACTIONS, torch.tensor([L]), To, Tp, Ta)
        assert horizons.controls["t"].max == len(obs_w) - 1 and horizons.controls["Ta"].max == Tp - To + 1
        assert_float_array(trace(fig, "observed (To)").x, obs_w[t, :, 0])
        assert_float_array(trace(fig, "observed (To)").y, obs_w[t, :, 1])
        assert_float_array(trace(fig, "predicted chunk (Tp)").x, act_w[t, :, 0])
        assert_float_array(trace(fig, "predicted chunk (Tp)").y, act_w[t, :, 1])
        assert_float_array(trace(fig, "executed (Ta)").x, act_w[t, To - 1:To - 1 + Ta, 0])
        s = t - To + 1
        assert_float_array(trace(fig, "observed steps").x, np.arange(s, t + 1))
        assert_float_array(trace(fig, "predicted steps").x, np.arange(s, s + Tp))
        assert_float_array(trace(fig, "executed steps").x, np.arange(t, t + Ta))
        padded = [k for k in range(s, s + Tp) if k < 0 or k >= L]
        assert sorted(set(np.asarray(trace(fig, "padded steps").x).tolist())) == padded
        title = f"To = {To}, Tp = {Tp}, Ta = {Ta}, t = {t}: observe steps {s}..{t}, predict {s}..{s + Tp - 1}, " \
                f"execute {t}..{t + Ta - 1}"
        assert fig.layout.title.text == title + (f" ({len(padded)} padded)" if padded else "")
        assert fig.layout.meta["state"] == {"To": To, "Tp": Tp, "Ta": Ta, "t": t}


def test_horizon_explorer_padding_repeats_the_first_observation(horizons):
    horizons.controls["To"].value, horizons.controls["t"].value = 3, 0
    observed = trace(horizons.figure, "observed (To)")
    assert np.all(np.asarray(observed.x) == float(OBS[0, 0])) and np.all(np.asarray(observed.y) == float(OBS[0, 1]))


def test_horizon_explorer_limits_follow_the_horizon_rules(horizons):
    horizons.controls["Ta"].value = 15
    horizons.controls["Tp"].value = 6                                   # Ta must shrink to Tp - To + 1 = 5
    assert horizons.controls["Ta"].value == 5 and horizons.controls["Ta"].max == 5
    horizons.controls["To"].value = 4
    horizons.controls["Tp"].value = 2                                  # Tp cannot go below To
    assert horizons.controls["Tp"].value == 4 and horizons.controls["Ta"].value == 1
    horizons.controls["Tp"].value = 12
    horizons.controls["t"].value = L - 1                               # clamped to the last window's step
    To, Tp, Ta = 4, 12, 1
    assert horizons.controls["t"].value == horizons.controls["t"].max == (L - Tp + Ta + To - 1) - 1


def test_horizon_explorer_names_a_wrong_window_shape():
    def short(obs, actions, episode_ends, To, Tp, Ta):
        o, a = make_windows(obs, actions, episode_ends, To, Tp, Ta)
        return o, a[:, :-1]
    with pytest.raises(ValueError, match=r"make_windows \(short\) \(action windows\) returned shape \(\d+, 15, 2\); "
                                         r"expected shape \(\d+, 16, 2\)"):
        horizon_explorer(short, OBS, ACTIONS)


# ----------------------------------------------------------------------------- chunk explorer
def toy_diffusion(history, seed):
    """Deterministic per seed: N chunks from the last observed position, fanning left and right."""
    g = torch.Generator().manual_seed(seed)
    N = len(history)
    side = torch.where(torch.rand(N, generator=g) < 0.5, -1.0, 1.0)
    k = torch.arange(1, 13, dtype=torch.float32)
    dx = side[:, None] * 2.0 * k[None] + torch.randn(N, 1, generator=g)
    return torch.stack([history[:, -1, :1] + dx, history[:, -1, 1:2] + 3.0 * k[None].expand(N, -1)], dim=-1)


def toy_regression(history):
    k = torch.arange(1, 13, dtype=torch.float32)
    return torch.stack([history[:, -1, :1].expand(-1, 12), history[:, -1, 1:2] + 3.0 * k[None]], dim=-1)


def test_chunk_explorer_shows_the_functions_outputs_for_the_chosen_state():
    panel = chunk_explorer(toy_diffusion, toy_regression, To=2, num_samples=16)
    fig = panel.figure
    for x, y, motion, seed in [(50, 14, "at rest", 0), (30, 40, "moving up", 3), (70, 60, "at rest", 7)]:
        panel.controls["x"].value, panel.controls["y"].value = x, y
        panel.controls["motion"].value, panel.controls["seed"].value = motion, seed
        assert panel.figure is fig
        history = state_history(x, y, 2, motion)
        samples, single = toy_diffusion(history.repeat(16, 1, 1), seed), toy_regression(history)
        lines = trace(fig, "diffusion samples (16)")
        want_x = np.concatenate([np.append(to_numpy(c[:, 0]), np.nan) for c in samples])
        np.testing.assert_allclose(np.asarray(lines.x, dtype=float), want_x, rtol=1e-9, atol=1e-12)
        assert_float_array(trace(fig, "regression (one chunk)").x, single[0, :, 0])
        assert_float_array(trace(fig, "regression (one chunk)").y, single[0, :, 1])
        assert_float_array(trace(fig, "observed positions").y, history[0, :, 1])
        left = int((samples[:, -1, 0] < OBSTACLE[0]).sum())
        assert fig.layout.title.text == (f"robot at ({x}, {y}), {motion}, noise seed {seed}: diffusion chunks end {left} left / "
                                         f"{16 - left} right; regression ends at ({single[0, -1, 0]:.1f}, "
                                         f"{single[0, -1, 1]:.1f})")


def test_state_history_is_at_rest_or_moving_up():
    assert state_history(40, 30, 3, "at rest")[0].tolist() == [[40, 30]] * 3
    assert state_history(40, 30, 2, "moving up")[0].tolist() == [[40, 27], [40, 30]]


def test_chunk_explorer_runs_the_real_policies():
    demos = expert_demos(10, torch.Generator().manual_seed(0))
    normalizer = Normalizer.fit(demos.obs, demos.actions)
    alpha_bar = cosine_alpha_bar(100)
    torch.manual_seed(0)
    net = ActionConvNet(ConditionalResidualBlock1D)                 # untrained: shapes and wiring only
    regression = RegressionPolicy(ActionConvNet(ConditionalResidualBlock1D), normalizer)
    sample = lambda h, seed: DiffusionPolicy(net, normalizer, alpha_bar, num_steps=4, seed=seed)(h)
    panel = chunk_explorer(sample, regression, num_samples=6)
    panel.controls["seed"].value = 2
    want = sample(state_history(50, 14, 2, "at rest").repeat(6, 1, 1), 2)
    got = np.asarray(trace(panel.figure, "diffusion samples (6)").y, dtype=float).reshape(6, 17)[:, :16]
    np.testing.assert_allclose(got, to_numpy(want[:, :, 1]), rtol=1e-6, atol=1e-6)


def test_chunk_explorer_names_a_wrong_chunk_shape():
    with pytest.raises(ValueError, match=r"regression_fn returned shape \(1, 11, 2\); expected shape \(1, 12, 2\)"):
        chunk_explorer(toy_diffusion, lambda h: toy_regression(h)[:, 1:])


# ----------------------------------------------------------------------------- static figure
def test_rollout_figure_takes_batches_and_lists_of_paths():
    paths = torch.stack([DEMOS.episode(e)[0][:20] for e in range(3)])
    fig = rollout_figure({"batch": paths, "list": [DEMOS.episode(e)[0] for e in range(3)]})
    assert [a.text for a in fig.layout.annotations] == ["batch", "list"]
    lines = [t for t in fig.data if t.mode == "lines"]
    assert np.isnan(np.asarray(lines[0].x, dtype=float)).sum() == 3
    with pytest.raises(ValueError, match=r"paths\['bad'\]: got shape \(3, 20\); expected shape \(\*, \*, 2\)"):
        rollout_figure({"bad": paths[..., 0]})


def test_horizon_bank_holds_the_given_functions_windows():
    """The page draws the t slider from a bank filled by the make_windows the widget was given
    (here one whose action windows are shifted by 1), never by the reference."""
    def shifted(obs, actions, ends, To, Tp, Ta):
        obs_w, act_w = make_windows(obs, actions, ends, To, Tp, Ta)
        return obs_w, act_w + 1.0

    panel = horizon_explorer(shifted, OBS, ACTIONS, To=2, Tp=16, Ta=8, t=0)
    banks = panel.browser.banks
    assert panel.browser.index == "t" and banks[0].match == {"To": 2, "Tp": 16, "Ta": 8}
    obs_w, act_w = make_windows(OBS, ACTIONS, torch.tensor([L]), 2, 16, 8)
    b = banks[0]
    i = b.traces.index(2)                                   # the predicted chunk
    assert b.frame_numbers == list(range(len(obs_w)))
    for r in (0, 5, len(obs_w) - 1):
        np.testing.assert_allclose(b.rows(i, "x")[r], to_numpy(act_w[r, :, 0]) + 1.0, rtol=1e-6)
    j = b.traces.index(8)                                   # padded steps: their number changes with t
    assert len({len(row) for row in b.rows(j, "x")}) > 1
