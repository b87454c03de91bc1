"""The capstone widgets (widgets/capstone.py), driven from Python: the figure shows the sampler's states,
the page gets every state once (a 3-D frame bank), and bad input gets a plain error."""
from __future__ import annotations

import ipywidgets as W
import numpy as np
import pytest
import torch

from coursekit.assignments.capstone.data import GOALS, OBSTACLE, RADIUS, START, forward_kinematics, inverse_kinematics
from widgets._bank import FrameBank
from widgets.capstone import PLAY_INTERVAL_MS, arm_player, formation_player

S, N, H = 6, 4, 16


def states_of(name: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(len(name) + ord(name[-1]))
    return torch.randn(S + 1, N, H, 3, generator=g)


def lines(states: torch.Tensor, k: int) -> np.ndarray:
    """Frame k as the paths trace holds it: the N paths joined, NaN between them."""
    x = states[k].numpy()
    return np.concatenate([x, np.full((N, 1, 3), np.nan, np.float32)], axis=1).reshape(-1, 3)


def xyz(trace) -> np.ndarray:
    return np.stack([np.asarray(trace.x, float), np.asarray(trace.y, float), np.asarray(trace.z, float)], axis=1)


def test_step_and_goal_drive_the_particles_and_the_paths():
    panel = formation_player(states_of, ["goal A", "goal B"], data=torch.randn(10, H, 3), goals=GOALS[:2],
                             start=START, obstacle=(OBSTACLE, RADIUS))
    fig, paths, particles = panel.figure, panel.figure.data[-2], panel.figure.data[-1]
    assert particles.type == "scatter3d" and particles.name == "samples" and particles.mode == "markers"
    assert paths.mode == "lines"
    for name in ("goal A", "goal B"):
        panel.controls["goal"].value = name
        for k in (0, 3, S):
            panel.controls["step"].value = k
            np.testing.assert_allclose(xyz(particles), states_of(name)[k].reshape(-1, 3).numpy(), rtol=1e-6)
            if k == S:                                          # the paths' lines: on the last step only
                np.testing.assert_allclose(xyz(paths), lines(states_of(name), k), equal_nan=True, rtol=1e-6)
            else:
                assert len(paths.x) == N * (H + 1) and np.isnan(xyz(paths)).all()
            assert f"goal = {name}, step = {k} / {S}" in fig.layout.title.text
            assert fig.layout.meta == {"state": {"goal": name, "step": k}}
    assert fig.layout.scene.uirevision == "capstone" and fig.layout.uirevision == "capstone"  # camera stays put


def test_every_state_is_shipped_to_the_page_once():
    calls = []
    panel = formation_player(lambda name: calls.append(name) or states_of(name), ["goal A", "goal B"])
    bank = panel.browser
    assert isinstance(bank, FrameBank) and bank.index == "step"          # the generic bank, carrying z
    panel.controls["goal"].value = "goal B"
    panel.controls["goal"].value = "goal A"
    assert calls == ["goal A", "goal B"]                                 # each goal sampled once
    assert [b.match for b in bank.banks] == [{"goal": "goal A"}, {"goal": "goal B"}]
    first = bank.banks[0]
    paths, particles = first.traces
    assert panel.figure.data[particles].name == "samples" and first.frame_numbers == list(range(S + 1))
    xs = first.rows(1, "x")
    np.testing.assert_allclose(xs[2], states_of("goal A")[2].reshape(-1, 3)[:, 0].numpy())
    zs = first.rows(0, "z")
    np.testing.assert_allclose(zs[S], lines(states_of("goal A"), S)[:, 2], equal_nan=True)
    assert all(len(z) == N * (H + 1) and np.isnan(z).all() for z in zs[:S])
    assert len(first.titles) == S + 1


def test_play_is_linked_to_the_step_in_the_page_at_30_fps():
    panel = formation_player(states_of, ["goal A"])
    play = panel.controls["play"]
    assert isinstance(play, W.Play) and play.max == S and play.interval == PLAY_INTERVAL_MS <= 1000 / 30 + 1e-9
    from ipywidgets.widgets.widget import _instances
    from ipywidgets.widgets.widget_link import Link
    links = [w for w in list(_instances.values()) if isinstance(w, Link)
             and w.source[0] is play and w.target[0] is panel.controls["step"]]
    assert links, "the Play button must drive the step slider in the page (jslink)"


def test_arm_follows_the_path():
    path = torch.tensor([[0.55, -0.55, 0.25], [0.3, 0.0, 0.5], [0.55, 0.55, 0.25]])
    panel = arm_player(path, inverse_kinematics, forward_kinematics, substeps=2)
    arm = panel.figure.data[-1]
    assert panel.controls["frame"].max == 4
    for k, want in [(0, path[0]), (2, path[1]), (4, path[2]), (1, (path[0] + path[1]) / 2)]:
        panel.controls["frame"].value = k
        assert len(arm.x) == 4                                               # base, shoulder, elbow, hand
        hand = np.array([arm.x[-1], arm.y[-1], arm.z[-1]])
        np.testing.assert_allclose(hand, want.numpy(), atol=1e-4)
        assert panel.figure.layout.title.text.startswith(f"frame = {k} / 4")


def test_bad_input_gets_a_plain_error():
    with pytest.raises(ValueError, match=r"sample_states.*shape"):
        formation_player(lambda name: torch.randn(S + 1, N, H, 2), ["goal A"])
    with pytest.raises(TypeError, match="sample_states: expected a function"):
        formation_player(None, ["goal A"])
    with pytest.raises(ValueError, match="goal_names"):
        formation_player(states_of, [])
    with pytest.raises(ValueError, match="path"):
        arm_player(torch.zeros(5, 2), inverse_kinematics, forward_kinematics)


def test_the_box_holds_the_paths_and_goals_not_the_noise_of_step_0():
    data = 0.1 * torch.rand(10, H, 3) + 0.5                                     # paths in a small box
    goals = torch.tensor([[0.55, 0.55, 0.55], [0.6, 0.52, 0.58]])

    def states(name):                                                           # wide noise, then the data
        s = 5 * torch.randn(S + 1, N, H, 3, generator=torch.Generator().manual_seed(3))
        s[-1] = data[:N]
        return s

    scene = formation_player(states, ["goal A", "goal B"], data=data, goals=goals).figure.layout.scene
    box = np.array([scene.xaxis.range, scene.yaxis.range, scene.zaxis.range]).T    # (2, 3) low, high
    inside = torch.cat([data.reshape(-1, 3), goals]).numpy()
    assert (box[0] <= inside.min(0)).all() and (inside.max(0) <= box[1]).all()
    assert (box[1] - box[0]).max() < 0.2                                        # sized to the paths, not the noise
    assert not scene.xaxis.autorange and scene.aspectmode == "data"             # fixed: the camera stays put


def test_what_stays_still_is_two_traces_with_one_marker_size():
    """The scene redraws every WebGL object on every frame: the still parts are one line trace and one
    marker trace (a marker size per point made frames about 3x slower in software WebGL)."""
    panel = formation_player(states_of, ["goal A", "goal B"], data=torch.randn(10, H, 3), goals=GOALS[:2],
                             start=START, obstacle=(OBSTACLE, RADIUS))
    still = panel.figure.data[:-2]
    assert [t.mode for t in still] == ["lines", "markers+text"]
    assert list(still[1].text) == ["goal A", "goal B", ""] and len(still[1].x) == 3      # two goals, the start
    path = torch.tensor([[0.55, -0.55, 0.25], [0.3, 0.0, 0.5], [0.55, 0.55, 0.25]])
    arm = arm_player(path, inverse_kinematics, forward_kinematics, obstacle=(OBSTACLE, RADIUS), goal=GOALS[0])
    assert [t.mode for t in arm.figure.data] == ["lines", "markers", "lines+markers"]
    for fig in (panel.figure, arm.figure):
        assert all(np.ndim(t.marker.size) == 0 for t in fig.data if "markers" in t.mode)
