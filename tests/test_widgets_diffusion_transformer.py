"""The Diffusion Transformer widgets, driven from Python: traces equal what the functions compute.

Each widget is built with the reference functions (or a cheap deterministic stand-in for a trained
sampler), its controls are set from Python, and the FigureWidget's traces are compared with a direct
computation for that state. The figure object must be kept, and the title must state the controls.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
import torch.nn.functional as F

from coursekit.checks.runtime import NOTICE, _skip_experiment
from coursekit.kit.trajectories import CLASS_NAMES, class_prototypes, guidance_sweep
from coursekit.assignments.robotic_dits.unified import ROBOTS, SLOT_NAMES, demonstrations, slot_indices
from solutions.robotic_dits import rms_norm, to_unified
from widgets._plumbing import to_numpy
from widgets._plumbing import polylines
from widgets.diffusion_transformer import guidance_explorer
from widgets.robotic_dits import norm_comparison, unified_slot_map

W_GRID = [0.0, 0.5, 1.0, 1.5, 2.0]


def assert_float(got, want):
    assert isinstance(got, np.ndarray) and got.dtype.kind == "f", type(got)
    np.testing.assert_allclose(got, to_numpy(want), rtol=1e-6, atol=1e-7, equal_nan=True)


@pytest.fixture(scope="module")
def prototypes():
    return class_prototypes()


def fake_sampler(prototypes, calls=None):
    """Deterministic stand-in for a guided sampler: more guidance, closer to the class prototype."""
    noise = torch.randn(12, *prototypes.shape[1:], generator=torch.Generator().manual_seed(0))

    def sample_fn(label, w):
        if calls is not None:
            calls.append((label, w))
        return prototypes[label] + noise / (1 + 2 * w)
    return sample_fn


# ---------------------------------------------------------------- guidance explorer
def test_guidance_explorer_traces_follow_controls(prototypes):
    sample_fn = fake_sampler(prototypes)
    box = guidance_explorer(sample_fn, prototypes, W_GRID, CLASS_NAMES)
    fig = box.figure
    assert isinstance(fig, go.FigureWidget) and fig in box.children and len(fig.data) == 5
    want_sweep = guidance_sweep(sample_fn, prototypes, W_GRID)
    assert box.sweep == want_sweep
    assert_float(fig.data[2].y, want_sweep["accuracy"])
    assert_float(fig.data[3].y, want_sweep["spread"])

    for w, name in [(2.0, "S-curve"), (0.0, "left turn"), (1.5, "straight")]:
        box.controls["w"].value, box.controls["class"].value = w, name
        k, i = CLASS_NAMES.index(name), W_GRID.index(w)
        xs, ys = polylines(sample_fn(k, w).numpy())
        assert_float(fig.data[0].x, xs)
        assert_float(fig.data[0].y, ys)
        assert_float(fig.data[1].x, prototypes[k, :, 0])
        assert_float(fig.data[4].y, [want_sweep["accuracy"][i], want_sweep["spread"][i]])
        assert fig.layout.title.text == (f"class = {name}, w = {w:.2f}: class accuracy {want_sweep['accuracy'][i]:.2f}, "
                                         f"spread {want_sweep['spread'][i]:.2f} (all classes)")
        assert box.figure is fig


def test_guidance_explorer_samples_each_state_once(prototypes):
    calls = []
    box = guidance_explorer(fake_sampler(prototypes, calls), prototypes, W_GRID)
    assert sorted(calls) == sorted((k, w) for k in range(4) for w in W_GRID)
    box.controls["w"].value = 0.5
    box.controls["class"].value = "class 2"
    assert len(calls) == 4 * len(W_GRID)                                   # moving the slider re-reads the cache


def test_guidance_explorer_shows_more_fidelity_with_more_guidance(prototypes):
    box = guidance_explorer(fake_sampler(prototypes), prototypes, W_GRID)
    assert box.sweep["spread"] == sorted(box.sweep["spread"], reverse=True)


def test_guidance_explorer_rejects_bad_input(prototypes):
    sample_fn = fake_sampler(prototypes)
    with pytest.raises(ValueError, match="evenly spaced"):
        guidance_explorer(sample_fn, prototypes, [0.0, 1.0, 3.0])
    with pytest.raises(ValueError, match=r"class_names: expected 4 names"):
        guidance_explorer(sample_fn, prototypes, W_GRID, ["a", "b"])

    def flat(label, w):
        return sample_fn(label, w).reshape(12, -1)

    with pytest.raises(ValueError, match=r"sample_fn \(flat\) returned shape \(12, 32\); expected shape \(\*, 16, 2\)"):
        guidance_explorer(flat, prototypes, W_GRID)
    with pytest.raises(TypeError, match="prototypes"):
        guidance_explorer(sample_fn, prototypes.numpy(), W_GRID)


# ---------------------------------------------------------------- unified slot map
@pytest.fixture(scope="module")
def robots():
    return {name: (slot_indices(spec["joints"]), demonstrations(name, 5, 8, torch.Generator().manual_seed(0))[1][:, -1])
            for name, spec in ROBOTS.items()}


def test_unified_slot_map_traces_are_to_unified(robots):
    box = unified_slot_map(to_unified, robots, SLOT_NAMES)
    fig = box.figure
    for name, i in [("bimanual", 2), ("arm2_gripper", 4), ("arm2_gripper", 0)]:
        box.controls["robot"].value, box.controls["sample"].value = name, i
        slots, actions = robots[name]
        unified, mask = to_unified(actions[i:i + 1, None, :], slots)
        assert_float(fig.data[0].y, unified[0, 0])
        assert_float(fig.data[1].y, mask[0].float())
        filled = ", ".join(f"{SLOT_NAMES[j]} ({j})" for j in sorted(slots.tolist()))
        assert fig.layout.title.text == f"robot = {name}, sample {i}: {len(slots)} of 128 slots filled:<br>{filled}"
        assert box.figure is fig


def test_unified_slot_map_rejects_bad_to_unified(robots):
    with pytest.raises(ValueError, match=r"to_unified returned Tensor; expected a pair"):
        unified_slot_map(lambda a, s: torch.zeros(1, 1, 128), robots, SLOT_NAMES)

    def mask_as_float(a, s):
        u, m = to_unified(a, s)
        return u, m.float()

    with pytest.raises(ValueError, match=r"\(mask\) returned dtype torch.float32; expected torch.bool"):
        unified_slot_map(mask_as_float, robots, SLOT_NAMES)
    with pytest.raises(ValueError, match=r"robots\['bimanual'\] actions: got shape \(5, 2\); expected shape \(\*, 4\)"):
        unified_slot_map(to_unified, {"bimanual": (robots["bimanual"][0], torch.zeros(5, 2))}, SLOT_NAMES)


# ---------------------------------------------------------------- LayerNorm vs RMSNorm
def test_norm_comparison_traces_follow_controls():
    tokens = torch.randn(4, 10, generator=torch.Generator().manual_seed(0))
    box = norm_comparison(rms_norm, tokens)
    fig = box.figure
    reference = torch.nn.RMSNorm(10, eps=1e-6)
    for token, shift, gain in [(1, 1.5, 1.0), (3, -2.0, 2.5), (0, 0.0, 0.5)]:
        c = box.controls
        c["token"].value, c["shift"].value, c["gain"].value = token, shift, gain
        x = gain * tokens[token] + shift
        assert_float(fig.data[0].y, x)
        assert_float(fig.data[1].y, F.layer_norm(x, (10,), eps=1e-6))
        assert_float(fig.data[2].y, reference(x).detach())
        shown = f"{shift:.2f}".replace("-", "\u2212")                    # as the slider's readout shows it
        assert fig.layout.title.text.startswith(f"token {token}, shift {shown}, gain {gain:.2f}: ")
        assert box.figure is fig


def test_norm_comparison_shows_layernorm_ignores_the_shift_and_rmsnorm_does_not():
    box = norm_comparison(rms_norm, torch.randn(2, 10, generator=torch.Generator().manual_seed(1)))
    before = [np.array(t.y) for t in box.figure.data]
    box.controls["shift"].value = 2.0
    after = [np.array(t.y) for t in box.figure.data]
    np.testing.assert_allclose(after[1], before[1], atol=1e-5)             # LayerNorm: unchanged
    assert np.abs(after[2] - before[2]).max() > 0.1                         # RMSNorm: moved


def test_norm_comparison_rejects_bad_rms_norm():
    with pytest.raises(ValueError, match=r"rms_norm returned shape \(10,\); expected shape \(1, 10\)"):
        norm_comparison(lambda x, w, eps: x[0], torch.randn(2, 10))


# ---------------------------------------------------------------- experiments skipped under autograde
def test_experiment_cells_are_skipped_only_under_autograde(monkeypatch):
    cell = ["# experiment: training\n", "train()\n"]
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert _skip_experiment(cell) == cell
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert _skip_experiment(cell) == [NOTICE]
    assert _skip_experiment(["check('x', x)\n"]) == ["check('x', x)\n"]
