"""Cross-checks of the pi0 reference code (solutions/pi0.py) against independent implementations.

* The time density against torch.distributions.Beta (with the flip u = (s - tau) / s and the
  Jacobian 1/s); the sampler's histogram and empirical CDF against that density and the closed-form
  CDF of Beta(1.5, 1); openpi's own formula t = 0.999 Beta(1.5, 1) + 0.001 draw by draw.
* Noisy actions and the target against torchcfm's ConditionalFlowMatcher(sigma=0) and flow_matching's
  AffineProbPath(CondOTScheduler()); openpi's reversed clock against the conversions.
* The blockwise mask against openpi's make_attn_mask construction (cumulative sum of an
  autoregressive flag per token), re-implemented here in torch.
* Both Euler samplers against torchdiffeq.odeint(method="euler") on increasing and decreasing grids
  and flow_matching's ODESolver; exactness on a straight-line field.
* Cached attention against torch's scaled_dot_product_attention over all tokens with the full mask,
  and the toy model's cached velocity / sampler against recomputing the prefix.
* Input validation: errors name the argument and say what was expected.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from flow_matching.path import AffineProbPath
from flow_matching.path.scheduler import CondOTScheduler
from flow_matching.solver import ODESolver
from torchcfm.conditional_flow_matching import ConditionalFlowMatcher
from torchdiffeq import odeint

from coursekit.assignments.pi0.data import HORIZON, make_episodes, observe
from coursekit.assignments.pi0.model import ToyPi0, precompute_prefix, sample_recomputing, sample_with_cache
from coursekit.kit.toys import ToyVelocityModel
from coursekit.validate import ShapeError
from solutions import pi0 as R

CLOSE = dict(atol=1e-5, rtol=1e-5)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- time distribution
@pytest.mark.parametrize("s,alpha,beta", [(0.999, 1.5, 1.0), (0.8, 2.0, 3.0), (1.0, 1.0, 1.0), (0.9, 0.7, 2.5)])
def test_density_is_the_flipped_beta_over_s(s, alpha, beta):
    tau = torch.rand(500, generator=gen(0)) * s * 0.999 + s * 5e-4            # strictly inside (0, s)
    u = (s - tau.double()) / s
    want = torch.distributions.Beta(torch.tensor(alpha, dtype=torch.float64),
                                    torch.tensor(beta, dtype=torch.float64)).log_prob(u).exp() / s
    torch.testing.assert_close(R.time_density(tau, s, alpha, beta).double(), want, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("s,alpha,beta", [(0.999, 1.5, 1.0), (0.8, 2.0, 3.0), (0.6, 1.2, 1.0)])
def test_density_vanishes_above_s_and_integrates_to_one(s, alpha, beta):
    grid = (torch.arange(200_000, dtype=torch.float32) + 0.5) / 200_000
    p = R.time_density(grid, s, alpha, beta)
    assert float(p[grid > s].abs().max()) == 0.0
    assert float(p.double().mean()) == pytest.approx(1.0, abs=2e-3)


def test_pi0_density_peaks_at_the_noisy_end():
    p = R.time_density(torch.tensor([0.0, 0.5, 0.999, 1.0]))
    assert float(p[0]) == pytest.approx(1.5 / 0.999, rel=1e-5)       # Beta(1, 1.5, 1) = 1.5, over s
    assert float(p[0]) > float(p[1]) > float(p[2]) == 0.0 and float(p[3]) == 0.0


@pytest.mark.parametrize("s,alpha,beta", [(0.999, 1.5, 1.0), (0.8, 2.0, 3.0)])
def test_sampler_histogram_matches_the_density(s, alpha, beta):
    tau = R.sample_time(200_000, gen(1), s, alpha, beta)
    assert tau.dtype == torch.float32 and tau.shape == (200_000,)
    assert float(tau.min()) >= 0 and float(tau.max()) <= s
    edges = torch.linspace(0, 1, 41, dtype=torch.float64)
    hist = torch.histc(tau.double(), bins=40, min=0, max=1) / (len(tau) * (edges[1] - edges[0]))
    fine = (torch.arange(40 * 100, dtype=torch.float32) + 0.5) / 4000
    bin_mean = R.time_density(fine, s, alpha, beta).double().reshape(40, 100).mean(dim=1)  # average over each bin
    assert float((hist - bin_mean).abs().max()) < 0.05 * float(bin_mean.max())


def test_sampler_matches_the_closed_form_cdf_of_beta_1_5_1():
    s = 0.999
    tau = R.sample_time(100_000, gen(2), s).double().sort().values
    cdf = 1 - ((s - tau) / s).clamp(min=0) ** 1.5                      # P(T <= tau) for u ~ Beta(1.5, 1)
    empirical = torch.arange(1, len(tau) + 1, dtype=torch.float64) / len(tau)
    assert float((empirical - cdf).abs().max()) < 0.01                 # Kolmogorov-Smirnov distance


def test_openpi_formula_is_one_minus_tau_draw_by_draw():
    u = R.beta_variates(1000, 1.5, 1.0, gen(3))
    tau = R.sample_time(1000, gen(3))
    torch.testing.assert_close(1 - tau, 0.999 * u + 0.001, atol=1e-6, rtol=0)


def test_beta_variates_depend_only_on_the_generator_and_leave_global_rng_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = R.beta_variates(50, 2.0, 3.0, gen(4))
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(999)
    assert torch.equal(a, R.beta_variates(50, 2.0, 3.0, gen(4)))
    assert not torch.equal(a, R.beta_variates(50, 2.0, 3.0, gen(5)))


# ----------------------------------------------------------------------------- noisy actions, target, clocks
def chunks(seed=0, shape=(6, HORIZON, 2)):
    g = gen(seed)
    return torch.randn(shape, generator=g), torch.randn(shape, generator=g), torch.rand(shape[0], generator=g)


def test_noisy_actions_and_target_match_torchcfm():
    A, eps, tau = chunks()
    t, xt, ut = ConditionalFlowMatcher(sigma=0.0).sample_location_and_conditional_flow(x0=eps, x1=A, t=tau)
    torch.testing.assert_close(R.noisy_actions(A, eps, tau), xt, **CLOSE)
    torch.testing.assert_close(R.target_velocity(A, eps), ut, **CLOSE)


def test_noisy_actions_and_target_match_flow_matching_affine_path():
    A, eps, tau = chunks(1)
    sample = AffineProbPath(scheduler=CondOTScheduler()).sample(x_0=eps, x_1=A, t=tau)
    torch.testing.assert_close(R.noisy_actions(A, eps, tau), sample.x_t, **CLOSE)
    torch.testing.assert_close(R.target_velocity(A, eps), sample.dx_t, **CLOSE)


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")  # the range check reads tau
def test_target_is_the_tau_derivative_of_the_path():
    A, eps, tau = chunks(2)
    tau = tau.clone().requires_grad_(True)
    x = R.noisy_actions(A, eps, tau)
    (grad,) = torch.autograd.grad(x.sum(dim=(1, 2)).sum(), tau)
    torch.testing.assert_close(grad, R.target_velocity(A, eps).sum(dim=(1, 2)), **CLOSE)


def test_openpi_clock_is_the_same_path_with_opposite_velocity():
    A, eps, t = chunks(3)
    openpi_x_t = t[:, None, None] * eps + (1 - t[:, None, None]) * A
    torch.testing.assert_close(R.noisy_actions(A, eps, 1 - t), openpi_x_t, **CLOSE)
    # openpi's exact conditional field for one target A: dx_t/dt = eps - A = (x - A) / t
    openpi_field = lambda x, t_: (x - A) / t_[:, None, None]
    tau = 1 - t
    x = R.noisy_actions(A, eps, tau)
    torch.testing.assert_close(R.tau_field_from_openpi(openpi_field)(x, tau), R.target_velocity(A, eps), atol=1e-4, rtol=1e-4)


def test_conversions_are_inverse_and_reverse_velocity():
    field = ToyVelocityModel(3)
    x, _, tau = chunks(4)
    openpi = R.openpi_field_from_tau(field)
    torch.testing.assert_close(openpi(x, 1 - tau), -field(x, tau), **CLOSE)
    torch.testing.assert_close(R.tau_field_from_openpi(openpi)(x, tau), field(x, tau), **CLOSE)


# ----------------------------------------------------------------------------- blockwise mask
def openpi_make_attn_mask(num_prefix: int, num_state: int, num_actions: int) -> torch.Tensor:
    """openpi's make_attn_mask: a token attends to keys whose cumulative 'ar' count is <= its own.

    pi0's embed_prefix marks every prefix token ar = False; embed_suffix marks the state token True
    and the first action token True, the other action tokens False.
    """
    ar = [0] * num_prefix + [1] * min(num_state, 1) + [0] * max(num_state - 1, 0) + [1] + [0] * (num_actions - 1)
    cumsum = torch.tensor(ar).cumsum(0)
    return cumsum[None, :] <= cumsum[:, None]


@pytest.mark.parametrize("sizes", [(5, 1, 50), (0, 1, 3), (3, 0, 4), (2, 3, 2), (1, 1, 1)])
def test_mask_matches_openpi_construction(sizes):
    mask = R.blockwise_mask(*sizes)
    assert mask.dtype == torch.bool
    assert torch.equal(mask, openpi_make_attn_mask(*sizes))


def test_mask_blocks():
    P, S, A = 4, 1, 6
    m = R.blockwise_mask(P, S, A)
    assert m[:P, :P].all() and not m[:P, P:].any()                     # prefix: itself only
    assert m[P:P + S, :P + S].all() and not m[P:P + S, P + S:].any()   # state: prefix and itself
    assert m[P + S:].all()                                            # actions: everything, both ways


# ----------------------------------------------------------------------------- Euler samplers
def batch_time(field):
    """torchdiffeq / ODESolver call f(t, y) / model(x=, t=) with a scalar t; our fields want (B,)."""
    return lambda t, y: field(y, t.reshape(()).expand(y.shape[0]).float())


@pytest.mark.parametrize("num_steps", [10, 3])
def test_euler_matches_torchdiffeq_both_clocks(num_steps):
    field = ToyVelocityModel(5)
    x0 = torch.randn(4, 7, 2, generator=gen(6))
    up = odeint(batch_time(field), x0, torch.linspace(0, 1, num_steps + 1), method="euler")[-1]
    down = odeint(batch_time(field), x0, torch.linspace(1, 0, num_steps + 1), method="euler")[-1]
    torch.testing.assert_close(R.euler_sample(field, x0, num_steps), up, **CLOSE)
    torch.testing.assert_close(R.euler_sample_openpi(field, x0, num_steps), down, **CLOSE)


def test_euler_matches_flow_matching_ode_solver():
    field = ToyVelocityModel(7)
    x0 = torch.randn(4, 7, 2, generator=gen(7))
    model = lambda x, t: batch_time(field)(t, x)
    want = ODESolver(velocity_model=model).sample(x_init=x0, step_size=0.1, method="euler",
                                                  time_grid=torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(R.euler_sample(field, x0, 10), want, **CLOSE)


def test_both_clocks_give_the_same_actions_and_are_exact_on_straight_lines():
    A = torch.randn(1, 12, 2, generator=gen(8)).expand(5, 12, 2)
    straight = lambda x, tau: (A - x) / (1 - tau[:, None, None])
    x0 = torch.randn(5, 12, 2, generator=gen(9))
    in_tau = R.euler_sample(straight, x0, 10)
    torch.testing.assert_close(in_tau, A, **CLOSE)
    torch.testing.assert_close(R.euler_sample_openpi(R.openpi_field_from_tau(straight), x0, 10), in_tau, **CLOSE)


# ----------------------------------------------------------------------------- cached attention
@pytest.mark.parametrize("P,S,A", [(5, 1, 6), (0, 1, 4), (3, 0, 5), (7, 2, 3)])
def test_cached_attention_equals_full_attention_with_the_mask(P, S, A):
    L, B, h, hd = P + S + A, 2, 3, 8
    g = gen(10)
    q, k, v = (torch.randn(B, h, L, hd, generator=g) for _ in range(3))
    mask = R.blockwise_mask(P, S, A)
    full = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)                  # all L tokens at once
    cached = R.cached_suffix_attention(q[:, :, P:], k[:, :, P:], v[:, :, P:], k[:, :, :P], v[:, :, :P], mask[P:])
    torch.testing.assert_close(cached, full[:, :, P:], **CLOSE)


def test_cached_attention_equals_sdpa_on_an_arbitrary_mask():
    g = gen(11)
    B, h, P, S, hd = 3, 2, 4, 6, 5
    q, k, v = (torch.randn(B, h, S, hd, generator=g) for _ in range(3))
    pk, pv = (torch.randn(B, h, P, hd, generator=g) for _ in range(2))
    mask = torch.rand(S, P + S, generator=g) < 0.6
    mask[:, 0] = True
    want = F.scaled_dot_product_attention(q, torch.cat([pk, k], 2), torch.cat([pv, v], 2), attn_mask=mask)
    torch.testing.assert_close(R.cached_suffix_attention(q, k, v, pk, pv, mask), want, **CLOSE)


@pytest.fixture(scope="module")
def toy():
    model = ToyPi0(seed=1)
    actions, state, task = make_episodes(6, gen(12))
    return model, observe(state, task), R.blockwise_mask(model.num_prefix, model.num_state, HORIZON)


def test_model_cached_velocity_equals_recomputed(toy):
    model, obs, mask = toy
    P = model.num_prefix
    x = torch.randn(6, HORIZON, 2, generator=gen(13))
    tau = torch.rand(6, generator=gen(14))
    with torch.no_grad():
        cache = model.prefix_cache(obs, mask[:P, :P])
        cached = model.velocity_cached(cache, obs.state, x, tau, mask[P:], R.cached_suffix_attention)
        full = model.velocity_full(obs, x, tau, mask)
    torch.testing.assert_close(cached, full, **CLOSE)


def test_model_cached_sampler_equals_recomputing_and_a_leaky_mask_breaks_it(toy):
    model, obs, mask = toy
    noise = torch.randn(6, HORIZON, 2, generator=gen(15))
    with torch.no_grad():
        cached = sample_with_cache(model, obs, noise, mask, R.cached_suffix_attention, R.euler_sample)
        torch.testing.assert_close(cached, sample_recomputing(model, obs, noise, mask, R.euler_sample), **CLOSE)
        leaky = mask.clone()
        leaky[:model.num_prefix, model.num_prefix + model.num_state:] = True
        a = sample_with_cache(model, obs, noise, leaky, R.cached_suffix_attention, R.euler_sample)
        b = sample_recomputing(model, obs, noise, leaky, R.euler_sample)
    assert float((a - b).abs().max()) > 1e-3


def test_precomputed_prefix_equals_per_batch_cache(toy):
    model, _, mask = toy
    P = model.num_prefix
    _, state, task = make_episodes(40, gen(16))
    whole = precompute_prefix(model, state, task, mask[:P, :P], chunk=16)
    with torch.no_grad():
        direct = model.prefix_cache(observe(state, task), mask[:P, :P])
    for (k1, v1), (k2, v2) in zip(whole, direct):
        torch.testing.assert_close(k1, k2, **CLOSE)
        torch.testing.assert_close(v1, v2, **CLOSE)


def test_only_the_expert_is_trainable(toy):
    model, _, _ = toy
    assert not any(p.requires_grad for p in model.vlm.parameters())
    assert all(p.requires_grad for p in model.expert.parameters())


# ----------------------------------------------------------------------------- validation
def test_errors_name_the_problem():
    A, eps, tau = chunks(17, shape=(3, 4, 2))
    with pytest.raises(ShapeError, match=r"tau: expected flow-matching times in \[0, 1\]"):
        R.noisy_actions(A, eps, tau + 1.5)
    with pytest.raises(ShapeError, match=r"noise: expected the same shape as actions"):
        R.noisy_actions(A, eps[:, :3], tau)
    with pytest.raises(ShapeError, match=r"tau: expected shape \(3\), got \(2,\)"):
        R.noisy_actions(A, eps, tau[:2])
    with pytest.raises(ShapeError, match=r"t: expected openpi times in \[0, 1\] \(t = 1 is noise"):
        R.openpi_field_from_tau(ToyVelocityModel(0))(A, torch.tensor([0.1, 0.5, 1.2]))
    with pytest.raises(ShapeError, match=r"tau: expected flow-matching times"):
        R.time_density(torch.tensor([-0.1, 0.5]))
    with pytest.raises(ValueError, match=r"num_prefix: expected a number of tokens >= 0, got -1"):
        R.blockwise_mask(-1, 1, 3)
    with pytest.raises(ValueError, match=r"num_actions: expected a number of tokens >= 1, got 0"):
        R.blockwise_mask(2, 1, 0)
    with pytest.raises(TypeError, match=r"num_state: expected an integer number of tokens, got float"):
        R.blockwise_mask(2, 1.0, 3)
    with pytest.raises(ValueError, match=r"s: expected a number in \[0.0, 1.0\]"):
        R.sample_time(4, gen(0), s=1.5)
    with pytest.raises(ShapeError, match=r"velocity returned shape \(3, 4\); expected \(3, 4, 2\)"):
        R.euler_sample(lambda x, tau: x[..., 0], A)
    q = torch.randn(1, 2, 3, 4)
    with pytest.raises(ShapeError, match=r"mask: expected shape \(3, 8\)"):
        R.cached_suffix_attention(q, q, q, torch.randn(1, 2, 5, 4), torch.randn(1, 2, 5, 4), torch.ones(3, 7, dtype=torch.bool))
    with pytest.raises(ShapeError, match=r"prefix_k: expected shape \(1, 2, \*, 4\)"):
        R.cached_suffix_attention(q, q, q, torch.randn(1, 2, 5, 3), torch.randn(1, 2, 5, 3), torch.ones(3, 8, dtype=torch.bool))
    with pytest.raises(ShapeError, match=r"mask: every query row needs at least one True"):
        R.cached_suffix_attention(q, q, q, torch.randn(1, 2, 5, 4), torch.randn(1, 2, 5, 4), torch.zeros(3, 8, dtype=torch.bool))
