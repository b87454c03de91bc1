"""Cross-checks of the theory bridge's reference (solutions/bridge.py) against independent sources.

- diffusers: ``prediction_type`` "epsilon" / "sample" / "v_prediction" in DDPMScheduler.step (the clean-sample
  guess it forms, and the same x_{t-1} from the same information in any kind), ``get_velocity`` (v), and
  DDIMScheduler (eta = 0) against our Euler step of the probability-flow ODE.
- flow_matching (Meta): the schedulers' coefficients (CondOTScheduler, CosineScheduler) against ``flow_path``,
  AffineProbPath's six target/epsilon/velocity conversions against ``predictions`` and ``to_data_eps``,
  ``snr_inverse`` against ``ddpm_to_flow_time``, and ScheduleTransformedModel (a velocity model moved from
  the OT path to the cosine path) against our own route through DDPM's alpha_bar.
- Closed forms and autograd: the exact score of a noised Gaussian mixture, the exact probability-flow ODE
  of Gaussian data (Euler first order, Heun second order), and the bound's KL terms against
  torch.distributions.
diffusers is run with clip_sample=False and 0-based time, as in tests/test_ddpm_reference.py.
"""
from __future__ import annotations

import math

import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler
from flow_matching.path import AffineProbPath
from flow_matching.path.scheduler import CondOTScheduler, CosineScheduler, ScheduleTransformedModel

from solutions import bridge as R
from widgets.mixture import mixture_eps_model, ring_means

ATOL = 1e-5
DIFFUSERS_KINDS = ("epsilon", "sample", "v_prediction")


def close(actual, expected, atol=ATOL):
    torch.testing.assert_close(actual, expected, atol=atol, rtol=0)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def ddpm_scales(alpha_bar: torch.Tensor, t: torch.Tensor):
    zeros = torch.zeros(len(t))
    return alpha_bar[t].sqrt(), (1 - alpha_bar[t]).sqrt(), zeros, zeros


# ----------------------------------------------------------------------------- diffusers

@pytest.fixture(scope="module")
def ddpm():
    return DDPMScheduler(num_train_timesteps=50, beta_schedule="linear", beta_start=1e-4, beta_end=0.05,
                         clip_sample=False, variance_type="fixed_small")


@pytest.mark.parametrize("t", [0, 1, 17, 49])
def test_predictions_match_diffusers_v_and_step_gives_one_x_prev(ddpm, t):
    alpha_bar = ddpm.alphas_cumprod.float()
    data, eps = torch.randn(6, 3, generator=gen(t)), torch.randn(6, 3, generator=gen(100 + t))
    steps = torch.full((6,), t)
    scales = ddpm_scales(alpha_bar, steps)
    x_t = R.per_sample(scales[0], data) * data + R.per_sample(scales[1], data) * eps
    ours = R.predictions(data, eps, *scales)
    close(ours[2], ddpm.get_velocity(data, eps, steps).float())  # v = sqrt(ab) eps - sqrt(1 - ab) x0
    outputs = []
    for kind in DIFFUSERS_KINDS:
        ddpm.register_to_config(prediction_type=kind)
        out = ddpm.step(ours[R.KINDS.index(kind)], t, x_t, generator=gen(7))
        close(out.pred_original_sample, data, atol=1e-4)
        outputs.append(out.prev_sample)
    ddpm.register_to_config(prediction_type="epsilon")
    for other in outputs[1:]:
        close(other, outputs[0], atol=1e-4)


@pytest.mark.parametrize("kind", DIFFUSERS_KINDS)
@pytest.mark.parametrize("t", [1, 25, 49])
def test_to_data_eps_forms_diffusers_clean_guess_from_any_output(ddpm, kind, t):
    """An arbitrary network output, read as ``kind``: our data guess is diffusers' pred_original_sample."""
    alpha_bar = ddpm.alphas_cumprod.float()
    x_t, output = torch.randn(5, 2, generator=gen(t)), torch.randn(5, 2, generator=gen(50 + t))
    steps = torch.full((5,), t)
    data_hat, _ = R.to_data_eps(output, kind, x_t, *ddpm_scales(alpha_bar, steps)[:2])
    ddpm.register_to_config(prediction_type=kind)
    try:
        theirs = ddpm.step(output, t, x_t, generator=gen(0)).pred_original_sample
    finally:
        ddpm.register_to_config(prediction_type="epsilon")
    close(data_hat, theirs, atol=1e-4)


@pytest.mark.parametrize("num_steps", [1, 5, 10, 50])
def test_euler_step_of_the_ode_is_diffusers_ddim_eta0(num_steps):
    T = 50
    s = DDIMScheduler(num_train_timesteps=T, beta_schedule="squaredcos_cap_v2", clip_sample=False,
                      set_alpha_to_one=True, timestep_spacing="leading", steps_offset=0)
    s.set_timesteps(num_steps)
    alpha_bar = s.alphas_cumprod.float()

    exact = _gaussian_ode(0.25, alpha_bar)   # a well-conditioned chain (a poor denoiser amplifies rounding)

    def model(x, t):
        return exact(x, t) + 0.05 * torch.tanh(x + 0.02 * t.float()[:, None])

    x_ours = x_theirs = torch.randn(4, 2, generator=gen(3))
    times = [int(v) for v in s.timesteps] + [-1]
    for t, t_prev in zip(times[:-1], times[1:]):
        x_ours = R.euler_step(model, x_ours, t, t_prev, alpha_bar)
        out = model(x_theirs, torch.full((4,), t))
        x_theirs = s.step(out, t, x_theirs, eta=0.0).prev_sample
    close(x_ours, x_theirs, atol=1e-4)


# ----------------------------------------------------------------------------- flow_matching

SCHEDULERS = {"ot": CondOTScheduler(), "vp": CosineScheduler()}


@pytest.mark.parametrize("kind", ["ot", "vp"])
def test_flow_path_matches_flow_matching_schedulers(kind):
    t = torch.linspace(0, 1, 11)
    theirs = SCHEDULERS[kind](t)
    close(torch.stack(R.flow_path(kind, t)),
          torch.stack([theirs.alpha_t, theirs.sigma_t, theirs.d_alpha_t, theirs.d_sigma_t]))


@pytest.mark.parametrize("kind", ["ot", "vp"])
def test_conversions_match_affine_prob_path(kind):
    path = AffineProbPath(SCHEDULERS[kind])
    g = gen(11)
    t = 0.05 + 0.9 * torch.rand(7, generator=g)
    data, eps = torch.randn(7, 2, generator=g), torch.randn(7, 2, generator=g)
    coeffs = R.flow_path(kind, t)
    sample = path.sample(x_0=eps, x_1=data, t=t)          # their x_0 is the noise, x_1 the data
    close(R.per_sample(coeffs[0], data) * data + R.per_sample(coeffs[1], data) * eps, sample.x_t)
    eps_, data_, _, _, velocity = R.predictions(data, eps, *coeffs)
    close(velocity, sample.dx_t)
    x, tt = sample.x_t, t[:, None]
    close(velocity, path.target_to_velocity(x_1=data, x_t=x, t=tt), atol=1e-4)
    close(velocity, path.epsilon_to_velocity(epsilon=eps, x_t=x, t=tt), atol=1e-4)
    # our way back from a velocity, and from eps or data, against theirs, for an arbitrary velocity
    u = torch.randn(7, 2, generator=g)
    d_hat, e_hat = R.to_data_eps(u, "velocity", x, *coeffs)
    close(d_hat, path.velocity_to_target(velocity=u, x_t=x, t=tt), atol=1e-4)
    close(e_hat, path.velocity_to_epsilon(velocity=u, x_t=x, t=tt), atol=1e-4)
    close(R.to_data_eps(u, "epsilon", x, *coeffs)[0], path.epsilon_to_target(epsilon=u, x_t=x, t=tt), atol=1e-4)
    close(R.to_data_eps(u, "sample", x, *coeffs)[1], path.target_to_epsilon(x_1=u, x_t=x, t=tt), atol=1e-4)


@pytest.mark.parametrize("kind", ["ot", "vp"])
def test_ddpm_to_flow_time_is_snr_inverse(kind):
    alpha_bar = torch.linspace(0.01, 0.99, 25)
    t, _ = R.ddpm_to_flow_time(alpha_bar, kind)
    close(t, SCHEDULERS[kind].snr_inverse((alpha_bar / (1 - alpha_bar)).sqrt()))


class _Velocity(torch.nn.Module):
    """A smooth, arbitrary velocity model called with keywords, as flow_matching's wrappers call it."""

    def forward(self, x, t, **extras):
        t = torch.as_tensor(t, dtype=x.dtype).reshape(-1, 1)
        return torch.tanh(0.8 * x + t) - 0.3 * x * t


def test_schedule_transformed_model_equals_our_route_through_alpha_bar():
    """Move an OT-path velocity model to the cosine path two ways: flow_matching's ScheduleTransformedModel,
    and ours (the cosine point is DDPM's point at alpha_bar = sin^2; ddpm_to_flow_time finds the OT time and
    scale; to_data_eps recovers (data, eps) from the OT velocity; predictions gives the cosine velocity)."""
    model = _Velocity()
    transformed = ScheduleTransformedModel(model, original_scheduler=CondOTScheduler(), new_scheduler=CosineScheduler())
    g = gen(21)
    r = 0.1 + 0.8 * torch.rand(6, generator=g)
    x = torch.randn(6, 2, generator=g)
    with torch.no_grad():
        theirs = transformed(x=x, t=r[:, None])
        alpha_bar = torch.sin(math.pi / 2 * r) ** 2
        t_ot, scale = R.ddpm_to_flow_time(alpha_bar, "ot")
        x_ot = R.per_sample(scale, x) * x
        data, eps = R.to_data_eps(model(x_ot, t_ot), "velocity", x_ot, *R.flow_path("ot", t_ot))
        ours = R.predictions(data, eps, *R.flow_path("vp", r))[4]
    close(ours, theirs, atol=1e-4)


# ----------------------------------------------------------------------------- closed forms

def test_eps_to_score_of_the_exact_eps_is_the_autograd_score():
    """For a Gaussian mixture the exact E[eps | x_t] is known; -eps / sigma must be grad log p_t by autograd."""
    means, std = ring_means(5, 1.5), 0.3
    alpha_bar = torch.tensor([0.9, 0.5, 0.1])
    x = torch.randn(8, 2, generator=gen(31))
    t = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    ab = alpha_bar[t][:, None]
    var = ab * std**2 + 1 - ab                                                    # (B, 1)
    xr = x.clone().requires_grad_(True)
    d2 = ((xr[:, None, :] - ab.sqrt()[:, None, :] * means[None]) ** 2).sum(-1)   # (B, K)
    log_p = torch.logsumexp(-d2 / (2 * var), dim=1) - var[:, 0].log()           # up to constants
    (autograd_score,) = torch.autograd.grad(log_p.sum(), xr)
    eps = mixture_eps_model(means, std, alpha_bar)(x, t)
    close(R.eps_to_score(eps, (1 - alpha_bar[t]).sqrt()), autograd_score, atol=1e-4)


def test_dsm_loss_is_smallest_at_the_exact_score_of_noised_gaussian_data():
    """Data N(0, c^2 I) noised by sigma has score -x / (c^2 + sigma^2): DSM prefers it to scaled versions."""
    c, n = 0.7, 200_000
    g = gen(41)
    x0, noise = c * torch.randn(n, 2, generator=g), torch.randn(n, 2, generator=g)
    sigma = torch.full((n,), 0.5)
    losses = {k: float(R.dsm_loss(lambda x, s, k=k: -k * x / (c**2 + s[:, None] ** 2), x0, sigma, noise))
              for k in (0.8, 1.0, 1.2)}
    assert losses[1.0] < losses[0.8] and losses[1.0] < losses[1.2]


def test_langevin_keeps_a_gaussian_with_the_predicted_inflated_variance():
    """For N(0, s^2) the chain's stationary variance is s^2 / (1 - h / (2 s^2)) (an AR(1) process)."""
    s2, h = 0.25, 0.2
    x = torch.zeros(20_000, 2)
    x = R.langevin_sample(lambda z: -z / s2, x, h, 60, gen(51))   # contracts by 1 - h / s2 = 0.2 per step
    assert float(x.var()) == pytest.approx(s2 / (1 - h / (2 * s2)), rel=0.03)


def _gaussian_ode(c2: float, alpha_bar: torch.Tensor):
    """Exact eps-model of data N(0, c2 I), and the exact PF-ODE map in y = x / sqrt(ab), s = sqrt((1-ab)/ab):
    dy/ds = s y / (c2 + s^2), so y(s) = y(s0) sqrt((c2 + s^2) / (c2 + s0^2))."""
    def model(x, t):
        ab = alpha_bar[t][:, None]
        return (1 - ab).sqrt() * x / (ab * c2 + 1 - ab)
    return model


def test_euler_is_first_order_and_heun_second_order_on_the_exact_ode():
    T, c2 = 1000, 0.5
    alpha_bar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, T, dtype=torch.float64), 0).float()
    model = _gaussian_ode(c2, alpha_bar)
    x_start = torch.randn(4, 2, generator=gen(61))
    errors = {}
    for name, step in (("euler", R.euler_step), ("heun", R.heun_step)):
        for n_steps in (10, 20):
            times = list(range(T - 1, 0, -(T - 1) // n_steps))[: n_steps + 1]   # T-1 down to a time > 0
            x = x_start
            for t, t_prev in zip(times[:-1], times[1:]):
                x = step(model, x, t, t_prev, alpha_bar)
            s = lambda t: float(((1 - alpha_bar[t]) / alpha_bar[t]).sqrt())
            y_exact = x_start / alpha_bar[times[0]].sqrt() * math.sqrt((c2 + s(times[-1]) ** 2) / (c2 + s(times[0]) ** 2))
            errors[name, n_steps] = float((x / alpha_bar[times[-1]].sqrt() - y_exact).abs().max())
    assert errors["euler", 10] / errors["euler", 20] == pytest.approx(2, rel=0.35)
    assert errors["heun", 10] / errors["heun", 20] > 3
    assert errors["heun", 20] < errors["euler", 20] / 5


def test_bound_term_matches_torch_distributions_and_the_weighted_noise_error():
    T = 30
    betas = torch.linspace(1e-3, 0.2, T)
    alpha_bar = torch.cumprod(1 - betas, 0)
    g = gen(71)
    x0, noise = torch.randn(9, 2, generator=g), torch.randn(9, 2, generator=g)
    t = torch.randint(1, T, (9,), generator=g)

    def model(x, tt):
        return torch.tanh(x) * 0.7

    ours = R.bound_term(model, x0, t, betas, alpha_bar, noise)
    ab = alpha_bar[t][:, None]
    ab_prev = alpha_bar[t - 1][:, None]
    beta = 1 - ab / ab_prev
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
    eps_hat = model(x_t, t)
    x0_hat = (x_t - (1 - ab).sqrt() * eps_hat) / ab.sqrt()
    mean = lambda x0_: ab_prev.sqrt() * beta / (1 - ab) * x0_ + (1 - beta).sqrt() * (1 - ab_prev) / (1 - ab) * x_t
    std = ((1 - ab_prev) / (1 - ab) * beta).sqrt().expand_as(x0)
    q, p = torch.distributions.Normal(mean(x0), std), torch.distributions.Normal(mean(x0_hat), std)
    close(ours, torch.distributions.kl_divergence(q, p).sum(-1), atol=1e-4)
    close(ours, R.bound_weight(t, betas, alpha_bar) * ((noise - eps_hat) ** 2).sum(-1), atol=1e-4)
