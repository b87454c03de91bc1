"""Cross-checks of the diffusion-path references (solutions/ot_paths.py) against independent libraries.

* flow_matching ``VPScheduler(beta_min=0.1, beta_max=20)`` is the same VP path as ours in flow-matching
  time (alpha_t = exp(-T(1 - t) / 2), T(s) = int_0^s beta), with the same derivatives. They differ at
  t = 1, where sigma_t = 0: flow_matching returns a non-finite sigma_t', ours refuses t = 1 with a
  ValueError. flow_matching has no VE path; ours is checked against autograd derivatives of the path.
(The OT path, FM/CFM and the mistakes of both assignments: test_flow_matching_reference.py.)
"""
from __future__ import annotations

import pytest
import torch
from flow_matching.path import AffineProbPath
from flow_matching.path.scheduler import CondOTScheduler, VPScheduler

from solutions import flow_matching as FM
from solutions import ot_paths as P

from flow_support import batch, close, gen  # noqa: F401  (batch is a fixture)


def test_vp_scheduler_matches_our_vp_schedule(batch):
    _, _, t = batch
    ours = P.vp_schedule(t, 0.1, 20.0)
    theirs = VPScheduler(beta_min=0.1, beta_max=20.0)(t)
    for mine, other in zip(ours, (theirs.alpha_t, theirs.sigma_t, theirs.d_alpha_t, theirs.d_sigma_t)):
        close(mine, other)
    close(P.vp_alpha(1 - t), theirs.alpha_t)


def test_vp_affine_path_sample_field_and_eps_conversion(batch):
    x1, x0, t = batch
    path = AffineProbPath(VPScheduler())
    sample = path.sample(x_0=x0, x_1=x1, t=t)
    close(P.vp_path_sample(x1, t, x0), sample.x_t)
    close(P.vp_conditional_field(sample.x_t, x1, t), sample.dx_t, atol=1e-4)  # dx_t grows to ~1e2 near t = 1
    close(P.eps_to_velocity(x0, sample.x_t, *P.vp_schedule(t)),
          path.epsilon_to_velocity(x0, sample.x_t, t[:, None]), atol=1e-4)


def test_eps_to_velocity_matches_flow_matching_on_condot(batch):
    x1, x0, t = batch
    t = t.clamp(min=0.05)                                             # alpha_t = t must be positive
    path = AffineProbPath(CondOTScheduler())
    x_t = path.sample(x_0=x0, x_1=x1, t=t).x_t
    ones = torch.ones_like(t)
    close(P.eps_to_velocity(x0, x_t, t, 1 - t, ones, -ones), path.epsilon_to_velocity(x0, x_t, t[:, None]), atol=1e-4)


def test_conventions_differ_at_t_equal_one():
    t = torch.tensor([0.5, 1.0])
    theirs = VPScheduler()(t)
    assert not torch.isfinite(theirs.d_sigma_t[1])                   # 0 / 0 there
    with pytest.raises(ValueError, match="t = 1"):
        P.vp_schedule(t)


def test_ve_field_is_the_time_derivative_of_the_path():
    g = gen(3)
    x1, eps = torch.randn(8, 2, generator=g), torch.randn(8, 2, generator=g)
    t = torch.rand(8, generator=g).requires_grad_(True)
    x_t = P.ve_path_sample(x1, t.detach(), eps)
    # d/dt of x1 + sigma(1 - t) eps, per sample, by autograd on an independent formula
    sigma = 0.01 * (5.0 / 0.01) ** (1 - t)
    (d_sigma,) = torch.autograd.grad(sigma.sum(), t)
    close(P.ve_conditional_field(x_t, x1, t.detach()), d_sigma[:, None] * eps, atol=1e-4)
    close(P.ve_conditional_field(x_t, x1, t.detach()),
          FM.conditional_vector_field(x_t, x1, sigma.detach(), torch.zeros_like(x1), d_sigma), atol=1e-4)


def test_vp_alpha_matches_numerical_integral():
    s = torch.linspace(0, 1, 11)
    r = torch.linspace(0, 1, 20001, dtype=torch.float64)
    beta = 0.1 + r * 19.9
    integral = torch.cumulative_trapezoid(beta, r)
    want = torch.exp(-0.5 * torch.cat([torch.zeros(1, dtype=torch.float64), integral]))[::2000].float()
    close(P.vp_alpha(s), want)

