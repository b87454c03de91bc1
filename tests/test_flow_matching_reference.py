"""Cross-checks of the flow-matching references (solutions/flow_matching.py, solutions/ot_paths.py)
and the shared ODE sampler (coursekit/kit/ode.py) against independent libraries.

Conventions, and where the libraries agree with ours (all use t = 0 noise, t = 1 data):

* torchcfm ``ConditionalFlowMatcher(sigma)`` samples x_t = t x1 + (1 - t) x0 + sigma * eps with a
  *constant* std sigma around the straight line, and target u = x1 - x0. Our OT path (Lipman et al.)
  has sigma_t = 1 - (1 - sigma_min) t with x0 = eps as the noise, i.e. x_t = t x1 + (1 - (1 - sigma_min) t) x0.
  The two coincide only for sigma = sigma_min = 0 (then both are the rectified-flow line); for
  sigma > 0 they are different paths (tested below). torchcfm's ``TargetConditionalFlowMatcher(sigma)``
  *is* Lipman's OT path with sigma_min = sigma, and matches ours for every sigma.
* flow_matching ``AffineProbPath(CondOTScheduler())``: x_t = t x_1 + (1 - t) x_0 and dx_t = x_1 - x_0,
  our OT path with sigma_min = 0 (its x_0 is our noise eps). The VP and VE paths of 08 are checked in
  test_ot_paths_reference.py.
* Sampling: coursekit.kit.ode.integrate (Euler, midpoint) against flow_matching's ``ODESolver`` and
  torchdiffeq ``odeint`` with the same fixed step, on the same field (they call it as f(t, x) with a
  scalar t; we pass one t per sample).
"""
from __future__ import annotations

import pytest
import torch
from flow_matching.path import AffineProbPath
from flow_matching.path.scheduler import CondOTScheduler
from flow_matching.solver import ODESolver
from torchcfm.conditional_flow_matching import ConditionalFlowMatcher, TargetConditionalFlowMatcher
from torchdiffeq import odeint

from coursekit.checks.visible import diagnose
from coursekit.kit.data import eight_gaussians
from coursekit.kit.models import ContinuousTimeMLP
from coursekit.kit.ode import integrate, time_grid
from coursekit.validate import ShapeError
from solutions import flow_matching as FM
from solutions import ot_paths as P

from flow_support import batch, close, gen  # noqa: F401  (batch is a fixture)


# ---------------------------------------------------------------- torchcfm
def test_torchcfm_sigma_zero_is_our_ot_path(batch):
    x1, x0, t = batch
    t_out, xt, ut = ConditionalFlowMatcher(sigma=0.0).sample_location_and_conditional_flow(x0, x1, t)
    assert torch.equal(t_out, t)
    close(FM.ot_path_sample(x1, t, x0, 0.0), xt)
    close(FM.ot_conditional_field(xt, x1, t, 0.0), ut)            # u_t(x_t | x1) = x1 - x0 on the path
    # and the CFM loss uses exactly torchcfm's target
    model = ContinuousTimeMLP(hidden=16, depth=2)
    with torch.no_grad():
        want = ((model(xt, t) - ut) ** 2).mean()
        close(FM.cfm_loss(model, x1, t, x0, 0.0), want)


def test_torchcfm_target_matcher_is_lipmans_ot_path_for_any_sigma_min(batch):
    x1, x0, t = batch
    for sigma in (0.01, 0.1, 0.3):
        torch.manual_seed(1)
        _, xt, ut, eps = TargetConditionalFlowMatcher(sigma=sigma).sample_location_and_conditional_flow(
            x0, x1, t, return_noise=True)
        close(FM.ot_path_sample(x1, t, eps, sigma), xt)
        close(FM.ot_conditional_field(xt, x1, t, sigma), ut)


def test_torchcfm_constant_sigma_is_a_different_path(batch):
    """ConditionalFlowMatcher(sigma > 0) keeps std sigma all the way; ours shrinks from 1 to sigma_min."""
    x1, x0, t = batch
    sigma = 0.1
    torch.manual_seed(2)
    _, xt, _, eps = ConditionalFlowMatcher(sigma=sigma).sample_location_and_conditional_flow(x0, x1, t, return_noise=True)
    close(xt, t[:, None] * x1 + (1 - t[:, None]) * x0 + sigma * eps)   # what torchcfm documents
    ours = FM.ot_path_sample(x1, t, x0, sigma)
    assert (ours - xt).abs().max() > 0.05                              # not the same path


# ---------------------------------------------------------------- flow_matching (Meta)
def test_condot_affine_path_is_our_ot_path(batch):
    x1, x0, t = batch
    sample = AffineProbPath(CondOTScheduler()).sample(x_0=x0, x_1=x1, t=t)
    close(FM.ot_path_sample(x1, t, x0, 0.0), sample.x_t)
    close(FM.ot_conditional_field(sample.x_t, x1, t, 0.0), sample.dx_t)
    # the general formula with the OT coefficients, too
    general = FM.conditional_vector_field(sample.x_t, t[:, None] * x1, 1 - t, x1, -torch.ones_like(t))
    close(general, sample.dx_t)


# ---------------------------------------------------------------- marginal field and FM = CFM
def test_marginal_field_with_one_data_point_is_the_conditional_field():
    g = gen(4)
    x, t, data = torch.randn(10, 2, generator=g), torch.rand(10, generator=g), torch.randn(1, 2, generator=g)
    close(FM.marginal_vector_field(x, t, data, 0.05), FM.ot_conditional_field(x, data.expand(10, 2), t, 0.05))


def test_marginal_field_is_the_posterior_mean_velocity():
    """u_t(x) = E[u_t(x_t | x1) | x_t = x]: the residual u_t(x_t | x1) - u_t(x_t) is orthogonal to every
    function of x_t. Checked by Monte Carlo for a few test functions, with a negative control."""
    g = gen(5)
    data = torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0]])
    n, sigma_min = 200_000, 0.1
    x1, eps = data[torch.randint(0, 3, (n,), generator=g)], torch.randn(n, 2, generator=g)
    t = torch.rand(n, generator=g) * 0.9
    x_t = FM.ot_path_sample(x1, t, eps, sigma_min)
    u = x1 - (1 - sigma_min) * eps
    tests = torch.stack([torch.ones(n), x_t[:, 0], x_t[:, 1], torch.tanh(x_t[:, 0] * x_t[:, 1]), t], dim=1)  # (n, 5)

    def worst_z_score(field):
        residual = u - field                                              # (n, 2)
        products = (residual[:, :, None] * tests[:, None, :]).reshape(n, -1)
        return float((products.mean(0) / (products.std(0) / n**0.5)).abs().max())

    assert worst_z_score(FM.marginal_vector_field(x_t, t, data, sigma_min)) < 4.5
    from solutions.flow_matching_mistakes import marginal_uniform
    assert worst_z_score(marginal_uniform(x_t, t, data, sigma_min)) > 20


def test_fm_and_cfm_gradients_agree_for_a_large_batch():
    torch.manual_seed(0)
    model = ContinuousTimeMLP(hidden=32, depth=2)
    g = gen(6)
    data = eight_gaussians(32, g)
    B = 20_000
    g_fm, g_cfm = FM.fm_cfm_gradients(model, data, torch.randint(0, 32, (B,), generator=g),
                                      torch.rand(B, generator=g), torch.randn(B, 2, generator=g), 0.05)
    assert float((g_fm - g_cfm).norm() / g_fm.norm()) < 0.05
    assert g_fm.shape == (sum(p.numel() for p in model.parameters()),)


# ---------------------------------------------------------------- ODE sampling
def _field(x, t):
    """A smooth nonlinear time-dependent test field, vectorised over per-sample t (B,)."""
    return torch.tanh(x.flip(-1)) * (1 + t[:, None]) - 0.5 * x


@pytest.mark.parametrize("method", ["euler", "midpoint"])
def test_integrate_matches_flow_matching_odesolver_and_torchdiffeq(method):
    x0 = torch.randn(50, 2, generator=gen(7))
    n = 8                                                            # step 1/8 is exact in float32
    ours, traj = integrate(_field, x0, n, method=method, return_trajectory=True)

    def velocity(x, t):                                               # scalar t -> one per sample
        return _field(x, t.expand(x.shape[0]))

    solver = ODESolver(velocity_model=velocity)
    close(solver.sample(x_init=x0, step_size=1 / n, method=method), ours)
    path = odeint(lambda t, x: velocity(x, t), x0, time_grid(n), method=method)
    close(path, traj)


def test_midpoint_converges_to_an_adaptive_solution_on_the_exact_marginal_field():
    data = eight_gaussians(50, gen(8))
    field = lambda x, t: FM.marginal_vector_field(x, t, data, 0.2)  # noqa: E731
    x0 = torch.randn(30, 2, generator=gen(9))
    # dopri5 may probe times a little past 1: clamp them (the field is smooth there, sigma_min > 0)
    reference = odeint(lambda t, x: field(x, t.clamp(0, 1).expand(x.shape[0])), x0, torch.tensor([0.0, 1.0]),
                       method="dopri5", rtol=1e-6, atol=1e-6)[-1]
    errors = [float((integrate(field, x0, n, method="midpoint") - reference).abs().max()) for n in (8, 32)]
    assert errors[1] < errors[0] / 4 and errors[1] < 1e-2


# ---------------------------------------------------------------- bad input names the problem
def test_times_outside_unit_interval_are_rejected():
    x = torch.zeros(3, 2)
    with pytest.raises(ShapeError, match=r"t: expected flow-matching times in \[0, 1\].*max 1.5"):
        FM.ot_path_sample(x, torch.tensor([0.0, 0.5, 1.5]), x)
    with pytest.raises(ShapeError, match=r"t: expected flow-matching times in \[0, 1\].*min -0.1"):
        P.vp_path_sample(x, torch.tensor([-0.1, 0.5, 1.0]), x)
    with pytest.raises(ValueError, match=r"s: expected diffusion times in \[0, 1\]"):
        P.vp_alpha(torch.tensor([0.5, 2.0]))


def test_mismatched_batch_shapes_are_rejected():
    with pytest.raises(ShapeError, match=r"eps: expected the same shape as x1 \(4, 2\), got \(3, 2\)"):
        FM.ot_path_sample(torch.zeros(4, 2), torch.zeros(4), torch.zeros(3, 2))
    with pytest.raises(ShapeError, match=r"t: expected shape \(4\), got \(5,\)"):
        FM.cfm_loss(lambda x, t: x, torch.zeros(4, 2), torch.zeros(5), torch.zeros(4, 2))
    with pytest.raises(ShapeError, match=r"data: expected shape \(\*, 4, 2\), got \(6, 2\)"):
        FM.marginal_vector_field(torch.zeros(3, 4, 2), torch.zeros(3), torch.zeros(6, 2))
    with pytest.raises(ShapeError, match=r"times: expected shape \(5\), got \(4,\)"):
        P.straightness(torch.zeros(5, 3, 2), torch.linspace(0, 1, 4))


def test_a_field_with_the_wrong_output_shape_is_named():
    x = torch.zeros(4, 2)
    with pytest.raises(ShapeError, match=r"model returned shape \(4, 1\); expected \(4, 2\), the shape of its input x"):
        FM.cfm_loss(lambda x, t: x[:, :1], x, torch.zeros(4), x)
    with pytest.raises(ShapeError, match=r"field returned shape \(4,\); expected \(4, 2\)"):
        integrate(lambda x, t: t, x, 4)
    with pytest.raises(ShapeError, match=r"field returned a list"):
        integrate(lambda x, t: [0.0], x, 4)


def test_undefined_ends_of_the_paths_are_refused():
    x = torch.zeros(2, 2)
    with pytest.raises(ValueError, match="sigma_min = 0.*t = 1"):
        FM.ot_conditional_field(x, x, torch.tensor([0.2, 1.0]), 0.0)
    FM.ot_conditional_field(x, x, torch.tensor([0.2, 1.0]), 0.01)   # fine with sigma_min > 0
    with pytest.raises(ValueError, match="t = 1"):
        P.vp_conditional_field(x, x, torch.tensor([0.2, 1.0]))
    with pytest.raises(ValueError, match="alpha_t: expected positive"):
        P.eps_to_velocity(x, x, torch.zeros(2), torch.ones(2), torch.ones(2), torch.ones(2))
    with pytest.raises(ValueError, match="times: expected increasing times from 0 to 1"):
        P.straightness(torch.zeros(3, 2, 2), torch.tensor([0.0, 0.5, 0.9]))
    with pytest.raises(ValueError, match="sigma_min: expected a number in"):
        FM.ot_path_sample(x, torch.zeros(2), x, sigma_min=1.0)
    with pytest.raises(ValueError, match="beta_max: expected beta_max >= beta_min"):
        P.vp_alpha(torch.zeros(2), beta_min=5.0, beta_max=1.0)


# ---------------------------------------------------------------- the named mistakes the brief asks for
@pytest.mark.parametrize("assignment, function, label", [
    ("07_flow_matching", "cfm_loss", "clean point x1 fed to the model"),
    ("07_flow_matching", "cfm_loss", "wrong sign of the target velocity"),
    ("07_flow_matching", "cfm_loss", "sigma_min ignored"),
    ("07_flow_matching", "cfm_loss", "time convention reversed"),
    ("07_flow_matching", "ot_path_sample", "time convention reversed"),
    ("07_flow_matching", "ot_conditional_field", "wrong sign or direction"),
    ("08_diffusion_and_ot_paths", "vp_path_sample", "time convention reversed"),
    ("08_diffusion_and_ot_paths", "vp_schedule", "derivative taken in diffusion time s (wrong sign)"),
    ("08_diffusion_and_ot_paths", "ve_conditional_field", "wrong sign or direction"),
])
def test_flow_matching_mistakes_are_named(assignment, function, label):
    from solutions import flow_matching_mistakes, ot_paths_mistakes
    registry = flow_matching_mistakes.mistake.all + ot_paths_mistakes.mistake.all
    (m,) = [m for m in registry if m.function == function and m.label == label]
    message = diagnose(assignment, function, m.fn)
    assert message and label in message
