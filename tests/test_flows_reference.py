"""Cross-checks of the reference CNF code (solutions/flows.py) against independent implementations.

* Euler against torchdiffeq.odeint(method="euler") and flow_matching's ODESolver on the same grid.
* RK4: torchdiffeq's fixed-grid "rk4" method is the 3/8-rule variant (rk4_alt_step_func), not the
  classic tableau. Both are 4-stage fourth-order methods, so on a *linear autonomous* field they
  give the same update (the degree-4 Taylor polynomial of exp(hA)) up to rounding; on a
  nonlinear time-dependent field they differ by O(h^5) per step. We therefore compare exactly
  with torchdiffeq's classic step (rk_common.rk4_step_func) on the nonlinear field, and with
  odeint(method="rk4") / ODESolver(method="rk4") exactly on a linear field and loosely otherwise.
* The divergence against the trace of torch.autograd.functional.jacobian.
* The log-density against closed forms (linear and spiral fields with Gaussian p_0) and against
  flow_matching's ODESolver.compute_likelihood with the exact divergence (backward in time).
* Input validation: errors name the argument and say what was expected.
Computations are in float64 where an exact comparison is wanted (tolerance 1e-10).
"""
from __future__ import annotations

import math

import pytest
import torch
from flow_matching.solver import ODESolver
from torchdiffeq import odeint
from torchdiffeq._impl.rk_common import rk4_step_func

from coursekit.validate import ShapeError
from coursekit.assignments.flows.vector_fields import (LinearField, SpiralField, ToyField, bend_field, gaussian_log_prob,
                                     pushed_gaussian, standard_normal_log_prob)
from solutions import flows as R

EXACT = dict(atol=1e-10, rtol=0)
A_MATRIX = [[-0.3, 1.7], [-0.9, 0.4]]  # non-normal, trace 0.1


def points(n: int = 50, dim: int = 2, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def torchdiffeq_field(field):
    return lambda t, y: field(y, t)


class KeywordModel:
    """What flow_matching's ODESolver expects: model(x=..., t=...)."""

    def __init__(self, field):
        self.field = field

    def __call__(self, x, t):
        return self.field(x, t)


FIELDS = {
    "toy-2d": lambda: ToyField(7, dim=2),
    "toy-3d": lambda: ToyField(8, dim=3),
    "spiral": lambda: SpiralField(),
    "bend": lambda: bend_field,
}


def dim_of(name: str) -> int:
    return 3 if name == "toy-3d" else 2


# ----------------------------------------------------------------------------- Euler
@pytest.mark.parametrize("name", FIELDS)
@pytest.mark.parametrize("t0,t1,n", [(0.0, 1.0, 8), (0.2, 0.9, 5)])
def test_euler_matches_torchdiffeq_trajectory(name, t0, t1, n):
    field, x0 = FIELDS[name](), points(dim=dim_of(name))
    x1, traj = R.euler_integrate(field, x0, n, t0, t1, return_trajectory=True)
    grid = torch.linspace(t0, t1, n + 1, dtype=torch.float64)
    want = odeint(torchdiffeq_field(field), x0, grid, method="euler")
    torch.testing.assert_close(traj, want, **EXACT)
    torch.testing.assert_close(x1, want[-1], **EXACT)


@pytest.mark.parametrize("name", FIELDS)
def test_euler_matches_flow_matching_ode_solver(name):
    field, x0 = FIELDS[name](), points(dim=dim_of(name))
    want = ODESolver(velocity_model=KeywordModel(field)).sample(
        x_init=x0, step_size=1 / 8, method="euler", time_grid=torch.tensor([0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(R.euler_integrate(field, x0, 8), want, **EXACT)


# ----------------------------------------------------------------------------- RK4
@pytest.mark.parametrize("name", FIELDS)
@pytest.mark.parametrize("t0,t1,n", [(0.0, 1.0, 8), (0.2, 0.9, 5)])
def test_rk4_matches_torchdiffeq_classic_step(name, t0, t1, n):
    field, x0 = FIELDS[name](), points(dim=dim_of(name))
    func = lambda t, y, perturb=None: field(y, t)  # rk4_step_func passes perturb= to some calls
    grid = torch.linspace(t0, t1, n + 1, dtype=torch.float64)
    x, want = x0, [x0]
    for a, b in zip(grid[:-1], grid[1:]):
        x = x + rk4_step_func(func, a, b - a, b, x)
        want.append(x)
    x1, traj = R.rk4_integrate(field, x0, n, t0, t1, return_trajectory=True)
    torch.testing.assert_close(traj, torch.stack(want), **EXACT)
    torch.testing.assert_close(x1, x, **EXACT)


def test_rk4_equals_torchdiffeq_rk4_on_a_linear_field():
    field, x0 = LinearField(A_MATRIX), points()
    grid = torch.linspace(0.0, 1.0, 7, dtype=torch.float64)
    want = odeint(torchdiffeq_field(field), x0, grid, method="rk4")  # 3/8 rule: same update on linear fields
    torch.testing.assert_close(R.rk4_integrate(field, x0, 6, return_trajectory=True)[1], want, **EXACT)
    solver = ODESolver(velocity_model=KeywordModel(field))
    want = solver.sample(x_init=x0, step_size=1 / 8, method="rk4",
                         time_grid=torch.tensor([0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(R.rk4_integrate(field, x0, 8), want, **EXACT)


@pytest.mark.parametrize("name", FIELDS)
def test_rk4_agrees_with_torchdiffeq_rk4_to_fourth_order(name):
    """Different fourth-order tableaus: their gap shrinks like h^4 (at least 10x per halving here)."""
    field, x0 = FIELDS[name](), points(dim=dim_of(name))
    gaps = []
    for n in (4, 8, 16):
        want = ODESolver(velocity_model=KeywordModel(field)).sample(
            x_init=x0, step_size=1 / n, method="rk4", time_grid=torch.tensor([0.0, 1.0], dtype=torch.float64))
        gaps.append(float((R.rk4_integrate(field, x0, n) - want).abs().max()))
    assert gaps[-1] < 1e-5 and gaps[1] < gaps[0] / 10 and gaps[2] < gaps[1] / 10, gaps


@pytest.mark.parametrize("solver,order", [(R.euler_integrate, 1), (R.rk4_integrate, 4)])
def test_measured_orders_on_the_spiral(solver, order):
    field, x0 = SpiralField(), points(200)
    steps = [16, 32, 64, 128]
    errors = [float((solver(field, x0, n) - field.flow(x0, 1.0)).norm(dim=1).mean()) for n in steps]
    assert abs(R.fit_order(steps, errors) - order) < 0.15


def test_integrators_reach_the_closed_form_of_a_linear_field():
    field, x0 = LinearField(A_MATRIX), points()
    torch.testing.assert_close(R.rk4_integrate(field, x0, 200), field.flow(x0, 1.0), atol=1e-9, rtol=0)
    torch.testing.assert_close(R.euler_integrate(field, x0, 20000), field.flow(x0, 1.0), atol=5e-4, rtol=0)


def test_integrators_keep_float32_and_run_backwards():
    field, x0 = ToyField(1), points(dtype=torch.float32)
    assert R.euler_integrate(field, x0, 3).dtype == torch.float32
    x1 = R.rk4_integrate(field, x0.double(), 64)
    back = R.rk4_integrate(field, x1, 64, t0=1.0, t1=0.0)  # t1 < t0: integrate back in time
    torch.testing.assert_close(back, x0.double(), atol=1e-7, rtol=0)


# ----------------------------------------------------------------------------- divergence
def jacobian_trace(field, x: torch.Tensor, t) -> torch.Tensor:
    traces = []
    for i in range(x.shape[0]):
        ti = t[i:i + 1] if isinstance(t, torch.Tensor) else t
        J = torch.autograd.functional.jacobian(lambda p: field(p[None], ti)[0], x[i])
        traces.append(torch.trace(J))
    return torch.stack(traces)


@pytest.mark.parametrize("name", FIELDS)
@pytest.mark.parametrize("per_point_time", [False, True])
def test_divergence_is_the_jacobian_trace(name, per_point_time):
    field, x = FIELDS[name](), points(20, dim=dim_of(name))
    t = torch.linspace(0, 1, 20, dtype=torch.float64) if per_point_time else 0.37
    torch.testing.assert_close(R.divergence(field, x, t), jacobian_trace(field, x, t), **EXACT)


def test_divergence_under_no_grad_and_closed_forms():
    x = points(10)
    with torch.no_grad():
        div = R.divergence(SpiralField(a0=0.5, a1=-1.0), x, 0.25)
    assert not div.requires_grad
    torch.testing.assert_close(div, torch.full((10,), 2 * (0.5 - 0.25), dtype=torch.float64), **EXACT)
    torch.testing.assert_close(R.divergence(LinearField(A_MATRIX), x, 0.0),
                               torch.full((10,), 0.1, dtype=torch.float64), **EXACT)
    # bend_field: 1.2 / cosh(2 x1)^2 - 0.4
    torch.testing.assert_close(R.divergence(bend_field, x, 0.6), 1.2 / torch.cosh(2 * x[:, 0]) ** 2 - 0.4, **EXACT)


# ----------------------------------------------------------------------------- log-density
@pytest.mark.parametrize("method,steps,atol", [("rk4", 128, 1e-8), ("euler", 4000, 2e-3)])
def test_log_density_matches_closed_form_for_the_spiral(method, steps, atol):
    field = SpiralField()
    mean0 = torch.tensor([0.8, -0.3], dtype=torch.float64)
    cov0 = torch.tensor([[0.3, 0.1], [0.1, 0.2]], dtype=torch.float64)
    x0 = mean0 + points(300) @ torch.linalg.cholesky(cov0).T
    x1, log_p1 = R.log_density(field, x0, gaussian_log_prob(x0, mean0, cov0), steps, method=method)
    torch.testing.assert_close(x1, field.flow(x0, 1.0), atol=atol, rtol=0)
    torch.testing.assert_close(log_p1, gaussian_log_prob(x1, *pushed_gaussian(field, mean0, cov0, 1.0)),
                               atol=10 * atol, rtol=0)


@pytest.mark.parametrize("t1", [0.4, 1.0])
def test_log_density_linear_field_loses_t_trace(t1):
    field, x0 = LinearField(A_MATRIX), points()
    log_p0 = standard_normal_log_prob(x0)
    for method in ("euler", "rk4"):  # a constant divergence is integrated exactly by both
        x1, log_p1 = R.log_density(field, x0, log_p0, 10, t1=t1, method=method)
        torch.testing.assert_close(log_p1, log_p0 - t1 * 0.1, **EXACT)
    x1, log_p1 = R.log_density(field, x0, log_p0, 100, t1=t1)
    cov = field.flow_matrix(t1) @ field.flow_matrix(t1).T  # N(0, I) -> N(0, M M^T)
    torch.testing.assert_close(log_p1, gaussian_log_prob(x1, torch.zeros(2, dtype=torch.float64), cov),
                               atol=1e-9, rtol=0)


@pytest.mark.parametrize("name", ["toy-2d", "bend"])
def test_log_density_matches_flow_matching_compute_likelihood(name):
    """flow_matching integrates backward from x1 to t = 0 with the exact divergence; same sign convention."""
    field, x0 = FIELDS[name](), points(40)
    x1, log_p1 = R.log_density(field, x0, standard_normal_log_prob(x0), 64)
    solver = ODESolver(velocity_model=KeywordModel(field))
    x0_back, log_p1_fm = solver.compute_likelihood(
        x_1=x1, log_p0=standard_normal_log_prob, step_size=1 / 64, method="rk4", exact_divergence=True,
        time_grid=torch.tensor([1.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(x0_back, x0, atol=1e-7, rtol=0)
    torch.testing.assert_close(log_p1, log_p1_fm, atol=1e-7, rtol=0)


def test_log_density_matches_flow_map_determinant():
    x0 = points(100)
    log_p0 = standard_normal_log_prob(x0)
    x1, log_p1 = R.log_density(bend_field, x0, log_p0, 64)
    x1_map, log_det = R.flow_map_log_det(R.rk4_integrate, bend_field, x0, 64)
    torch.testing.assert_close(x1, x1_map, **EXACT)
    torch.testing.assert_close(log_p1, log_p0 - log_det, atol=1e-8, rtol=0)
    assert float(log_p1.max() - log_p1.min()) > 1  # the density really varies


def test_closed_form_visible_cases_are_near_the_exact_answer():
    """The second visible case of rk4_integrate and log_density uses the spiral (closed form)."""
    from coursekit.assignments.flows import cases
    from coursekit.checks.cases import materialise
    c = materialise(cases.rk4_integrate(1))
    exact = c["v"].flow(c["x0"], c["t1"], c["t0"])
    assert float((R.rk4_integrate(**c) - exact).abs().max()) < 2e-3
    c = materialise(cases.log_density(1))
    x1, log_p1 = R.log_density(**c)
    mean, cov = pushed_gaussian(c["v"], cases.SPIRAL_MEAN0, cases.SPIRAL_COV0, c["t1"])
    assert float((x1 - c["v"].flow(c["x0"], c["t1"])).abs().max()) < 1e-3
    assert float((log_p1 - gaussian_log_prob(x1, mean, cov)).abs().max()) < 5e-3


def test_fit_order_recovers_a_power_law():
    steps = [4, 8, 16, 32]
    assert R.fit_order(steps, [3.0 * (1 / n) ** 2.5 for n in steps]) == pytest.approx(2.5)


# ----------------------------------------------------------------------------- validation
def test_time_outside_unit_interval_is_rejected():
    field, x0 = ToyField(0), points(5, dtype=torch.float32)
    with pytest.raises(ValueError, match=r"t1: expected flow-matching time in \[0, 1\] .*got 1.5"):
        R.euler_integrate(field, x0, 4, t1=1.5)
    with pytest.raises(ValueError, match=r"t0: expected flow-matching time in \[0, 1\].*got -0.1"):
        R.rk4_integrate(field, x0, 4, t0=-0.1)
    with pytest.raises(ValueError, match=r"t: expected flow-matching times in \[0, 1\].*min 0, max 2"):
        R.divergence(field, x0, torch.tensor([0.0, 0.5, 1.0, 2.0, 0.1]))
    with pytest.raises(ValueError, match=r"t1: expected flow-matching time"):
        R.log_density(field, x0, standard_normal_log_prob(x0), 4, t1=float("nan"))


def test_mismatched_batch_shapes_are_named():
    field, x0 = ToyField(0), points(5, dtype=torch.float32)
    with pytest.raises(ShapeError, match=r"t: expected a float or a tensor of shape \(\) or \(5,\).*got shape \(4,\)"):
        R.divergence(field, x0, torch.rand(4))
    with pytest.raises(ShapeError, match=r"log_p0: expected one log-density per point of x0, shape \(5,\)"):
        R.log_density(field, x0, torch.zeros(4), 4)
    with pytest.raises(ShapeError, match=r"log_p0: .*dtype torch.float32; got shape \(5,\), dtype torch.float64"):
        R.log_density(field, x0, torch.zeros(5, dtype=torch.float64), 4)
    with pytest.raises(ShapeError, match=r"x0: expected 2 dimensions, got shape \(5,\)"):
        R.euler_integrate(field, torch.zeros(5), 4)


def test_field_with_the_wrong_output_is_named():
    x0 = points(5, dtype=torch.float32)
    wrong_shape = lambda x, t: torch.zeros(x.shape[0], 3)
    for fn in (R.euler_integrate, R.rk4_integrate):
        with pytest.raises(ShapeError, match=r"v returned shape \(5, 3\); expected \(5, 2\), the shape of its input x"):
            fn(wrong_shape, x0, 2)
    with pytest.raises(ShapeError, match=r"v returned shape \(5, 3\)"):
        R.divergence(wrong_shape, x0, 0.5)
    with pytest.raises(ShapeError, match=r"v returned dtype torch.float64; expected torch.float32"):
        R.euler_integrate(lambda x, t: x.double(), x0, 2)
    with pytest.raises(ShapeError, match=r"v returned a list"):
        R.rk4_integrate(lambda x, t: x.tolist(), x0, 2)
    with pytest.raises(ValueError, match=r"v returned non-finite values"):
        R.euler_integrate(lambda x, t: x / 0.0, x0, 2)
    with pytest.raises(TypeError, match=r"v: expected a vector field"):
        R.euler_integrate("not a field", x0, 2)


def test_bad_step_counts_and_methods():
    field, x0 = ToyField(0), points(5, dtype=torch.float32)
    for bad in (0, -3):
        with pytest.raises(ValueError, match=r"num_steps: expected a number of steps >= 1"):
            R.rk4_integrate(field, x0, bad)
    for bad in (2.5, True):
        with pytest.raises(TypeError, match=r"num_steps: expected an integer number of steps"):
            R.rk4_integrate(field, x0, bad)
    with pytest.raises(ValueError, match=r"method: expected 'euler' or 'rk4', got 'midpoint'"):
        R.log_density(field, x0, standard_normal_log_prob(x0), 4, method="midpoint")


def test_gaussian_helpers_agree_with_torch_distributions():
    x, mean = points(7), torch.tensor([0.5, -1.0], dtype=torch.float64)
    cov = torch.tensor([[0.7, 0.2], [0.2, 0.3]], dtype=torch.float64)
    want = torch.distributions.MultivariateNormal(mean, cov).log_prob(x)
    torch.testing.assert_close(gaussian_log_prob(x, mean, cov), want, **EXACT)
    torch.testing.assert_close(standard_normal_log_prob(x),
                               torch.distributions.Normal(0.0, 1.0).log_prob(x).sum(1), **EXACT)
    field = SpiralField()
    M = field.flow_matrix(0.7)
    torch.testing.assert_close(M, torch.linalg.matrix_exp(
        field.log_scale(0.7) * torch.eye(2, dtype=torch.float64)
        + field.omega * 0.7 * torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)), **EXACT)
    assert math.isclose(field.log_det(0.7), 2 * field.log_scale(0.7))
