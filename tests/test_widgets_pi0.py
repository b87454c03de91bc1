"""The pi0 widgets (widgets/pi0.py), driven from Python: their traces are the functions' outputs."""
from __future__ import annotations

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from solutions.pi0 import blockwise_mask, sample_time, time_density
from widgets.pi0 import attention_mask_explorer, time_distribution_explorer, token_labels


def assert_float_array(got, want):
    got = np.asarray(got)
    assert got.dtype.kind == "f", got.dtype
    np.testing.assert_allclose(got, np.asarray(want, dtype=np.float64), rtol=1e-7, atol=1e-9)


# ----------------------------------------------------------------------------- attention mask
def test_sliders_drive_the_mask_heat_map():
    panel = attention_mask_explorer(blockwise_mask)
    fig = panel.figure
    assert isinstance(panel, W.VBox) and fig in panel.children and isinstance(fig, go.FigureWidget)
    for P, S, A in [(3, 1, 5), (0, 2, 4), (12, 3, 12), (5, 0, 1)]:
        panel.controls["prefix"].value, panel.controls["state"].value, panel.controls["actions"].value = P, S, A
        L = P + S + A
        mask = blockwise_mask(P, S, A)
        assert_float_array(fig.data[0].z, mask.numpy().astype(np.float64))
        assert list(fig.data[0].x) == list(fig.data[0].y) == token_labels(P, S, A)
        assert panel.figure is fig and len(fig.data) == 1
        assert fig.layout.title.text == (f"prefix {P} · state {S} · actions {A} (L = {L}): "
                                         f"{int(mask.sum())} of {L * L} pairs may attend")
        assert fig.layout.meta == {"state": {"prefix": P, "state": S, "actions": A}}


def test_mask_labels_name_the_blocks():
    assert token_labels(2, 1, 3) == ["p0", "p1", "s0", "a0", "a1", "a2"]


def test_mask_explorer_names_what_the_learner_returned():
    with pytest.raises(ValueError, match=r"blockwise_mask returned dtype torch.float32; expected torch.bool"):
        attention_mask_explorer(lambda P, S, A: blockwise_mask(P, S, A).float())
    with pytest.raises(ValueError, match=r"blockwise_mask \(my_mask\) returned shape \(10, 11\); expected shape \(11, 11\)"):
        def my_mask(P, S, A):
            return blockwise_mask(P, S, A)[1:]
        attention_mask_explorer(my_mask)
    with pytest.raises(TypeError, match="blockwise_mask: expected a function"):
        attention_mask_explorer(None)


# ----------------------------------------------------------------------------- time distribution
def test_sliders_drive_histogram_and_density():
    panel = time_distribution_explorer(sample_time, time_density, num_samples=5000, bins=25, grid_size=80, seed=3)
    fig = panel.figure
    edges = np.linspace(0, 1, 26)
    grid = (np.arange(80) + 0.5) / 80
    for s, alpha, beta in [(0.999, 1.5, 1.0), (0.8, 2.0, 3.0), (0.6, 0.5, 4.0), (1.0, 1.0, 1.0)]:
        panel.controls["s"].value, panel.controls["alpha"].value, panel.controls["beta"].value = s, alpha, beta
        tau = sample_time(5000, torch.Generator().manual_seed(3), s=s, alpha=alpha, beta=beta).numpy()
        assert_float_array(fig.data[0].y, np.histogram(tau, bins=edges, density=True)[0])
        assert_float_array(fig.data[0].x, 0.5 * (edges[:-1] + edges[1:]))
        assert_float_array(fig.data[1].y, time_density(torch.tensor(grid, dtype=torch.float32), s=s, alpha=alpha,
                                                       beta=beta).numpy())
        assert_float_array(fig.data[1].x, grid)
        assert panel.figure is fig and len(fig.data) == 2
        title = fig.layout.title.text
        assert title == (f"s = {s:.3f}, Beta({alpha:.1f}, {beta:.1f}): mean tau = {tau.mean():.3f}, "
                         f"{np.mean(tau < 0.5):.0%} of draws below 0.5")


def test_histogram_of_the_reference_sampler_follows_the_reference_density():
    panel = time_distribution_explorer(sample_time, time_density, num_samples=50_000, bins=20, grid_size=200)
    hist = np.asarray(panel.figure.data[0].y)
    dens = np.asarray(panel.figure.data[1].y).reshape(20, 10).mean(axis=1)   # density averaged over each bin
    assert np.abs(hist - dens).max() < 0.05 * dens.max()


def test_time_explorer_names_bad_learner_functions():
    with pytest.raises(ValueError, match=r"sample_time returned shape \(100, 1\); expected shape \(100,\)"):
        time_distribution_explorer(lambda n, g, **kw: sample_time(n, g, **kw)[:, None], time_density, num_samples=100)
    with pytest.raises(ValueError, match=r"sample_time returned times outside \[0, 1\]"):
        time_distribution_explorer(lambda n, g, **kw: 2 * sample_time(n, g, **kw) - 0.5, time_density, num_samples=100)
    with pytest.raises(ValueError, match=r"time_density returned dtype torch.float64; expected torch.float32"):
        time_distribution_explorer(sample_time, lambda tau, **kw: time_density(tau, **kw).double(), num_samples=100)


def test_the_mask_bank_holds_the_given_functions_masks_not_the_references():
    """The page draws the prefix slider from a bank: every frame is what the function the widget
    was given returned (here a mask that lets every pair attend), never the reference's."""
    def everything(P, S, A):
        L = P + S + A
        return torch.ones(L, L, dtype=torch.bool)

    panel = attention_mask_explorer(everything)
    (bank,) = panel.browser.banks
    assert panel.browser.index == "prefix" and bank.match == {"state": 1, "actions": 6}
    for r, P in enumerate(bank.frame_numbers):
        L = P + 1 + 6
        np.testing.assert_array_equal(bank.rows(0, "z")[r], np.ones((L, L)))
        assert bank.rows(0, "x")[r] == token_labels(P, 1, 6)
        assert bank.titles[r].startswith(f"prefix {P} ·")


def test_the_time_bank_holds_the_given_sampler_histograms():
    panel = time_distribution_explorer(sample_time, time_density, num_samples=100, grid_size=20)
    banks = panel.browser.banks
    assert panel.browser.index == "s" and {k for b in banks for k in b.frame_numbers} == set(range(501))
    before = np.asarray(panel.figure.data[0].y).copy()
    panel.browser.driving = True
    panel.controls["s"].value = 0.9                              # a banked move: the stored frame
    b = next(b for b in banks if 400 in b.frame_numbers)
    r = b.frame_numbers.index(400)
    np.testing.assert_allclose(b.rows(0, "y")[r], panel.figure.data[0].y, rtol=1e-6)
    assert not np.array_equal(before, panel.figure.data[0].y)
    assert panel.figure.layout.title.text == b.titles[r] and panel.figure.layout.title.text.startswith("s = 0.900")
