"""The judge diagnoses mistakes that no registry lists (fast: no nbgrader, no kernel).

Every wrong function here is written apart from ``solutions/*_mistakes.py``, the way a learner
might get it wrong, and none of them matches a registered mistake. Each must get a specific
diagnosis, in the learner's terms, from the visible check; those that need no re-run of the
learner's function get the same diagnosis from the grader's verdict on a recorded output.
"""
from __future__ import annotations

import math

import pytest
import torch

from autograder.grading.verdict import HiddenSpec, judge
from coursekit.checks import record
from coursekit.checks.visible import diagnose


def _per_sample(a, x):
    return a.reshape(-1, *([1] * (x.ndim - 1)))


# --------------------------------------------------------------------------------------- 02_ddpm
def q_sample_noise_coefficient(x0, t, alpha_bar, noise):
    a = _per_sample(alpha_bar[t], x0)
    return a.sqrt() * x0 + (1 - a) ** 0.25 * noise


def q_sample_arguments_exchanged(x0, t, alpha_bar, noise):
    a = _per_sample(alpha_bar[t], x0)
    return a.sqrt() * noise + (1 - a).sqrt() * x0


def q_sample_first_step_special(x0, t, alpha_bar, noise):
    a = _per_sample(torch.where(t == 0, torch.ones_like(alpha_bar[t]), alpha_bar[t]), x0)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def q_sample_divides_by_t(x0, t, alpha_bar, noise):
    a = _per_sample(alpha_bar[t], x0)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise * _per_sample(t / t, x0)


def q_sample_coefficient_with_an_axis_too_many(x0, t, alpha_bar, noise):
    a = alpha_bar[t].reshape(-1, 1, 1)  # (B, 1, 1) meets (B, D): broadcast to (B, B, D)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def ddpm_loss_summed_over_coordinates(model, x0, t, alpha_bar, noise):
    a = _per_sample(alpha_bar[t], x0)
    x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
    return ((model(x_t, t) - noise) ** 2).sum(dim=-1).mean()


def alpha_bar_exclusive(betas):
    return torch.cat([torch.ones(1), torch.cumprod(1 - betas, dim=0)[:-1]])


def alpha_bar_in_float64(betas):
    return torch.cumprod(1 - betas.double(), dim=0)


def p_sample_one_step_late(model, x_t, t, betas, alpha_bar, noise):
    from solutions.ddpm import p_sample  # evaluated one step later than asked
    return p_sample(model, x_t, t + 1, betas, alpha_bar, noise)


def p_sample_eps_coefficient_without_root(model, x_t, t, betas, alpha_bar, noise):
    from solutions.ddpm import posterior_mean_variance
    t_batch = torch.full((x_t.shape[0],), t, dtype=torch.long)
    x0_hat = (x_t - (1 - alpha_bar[t]) * model(x_t, t_batch)) / alpha_bar[t].sqrt()
    mean, variance = posterior_mean_variance(x0_hat, x_t, t_batch, betas, alpha_bar)
    return mean if t == 0 else mean + variance.sqrt() * noise


def ddpm_sample_noise_drawn_first(model, shape, betas, alpha_bar, generator, return_trajectory=False):
    """Random numbers come from ``generator`` in this order: the start x ~ randn(shape), then one
    randn(shape) per step from t = T - 1 down to t = 1."""
    from solutions.ddpm import p_sample
    T = len(betas)
    noises = [torch.randn(shape, generator=generator) for _ in range(T - 1)]  # before the start x
    x = torch.randn(shape, generator=generator)
    for t in reversed(range(T)):
        x = p_sample(model, x, t, betas, alpha_bar, noises[t - 1] if t > 0 else torch.zeros(shape))
    return x


def linear_schedule_doubled_when_long(T, beta_start, beta_end):
    betas = torch.linspace(beta_start, beta_end, T, dtype=torch.float32)
    return 2 * betas if T > 10 else betas  # right on the visible cases (T = 7, 10) only


# ------------------------------------------------------------------------------ 07_flow_matching
def gaussian_path_noise_subtracted(mu_t, sigma_t, eps):
    return mu_t - _per_sample(sigma_t, mu_t) * eps


def ot_field_last_coordinate_doubled(x, x1, t, sigma_min=0.0):
    from solutions.flow_matching import ot_conditional_field
    v = ot_conditional_field(x, x1, t, sigma_min)
    return torch.cat([v[..., :-1], 2 * v[..., -1:]], dim=-1)


# ------------------------------------------------------------------------------------------ 09_pi0
def blockwise_mask_as_numbers(num_prefix, num_state, num_actions):
    from solutions.pi0 import blockwise_mask
    return blockwise_mask(num_prefix, num_state, num_actions).float()


def noisy_actions_time_axis_last(actions, noise, tau):
    tau = tau.reshape(-1, 1, 1)
    return (tau * actions + (1 - tau) * noise).transpose(1, 2)  # (B, D, H): the chunk's axes exchanged


# ----------------------------------------------------------------------------- 05_robotic_dits
def to_unified_mask_as_numbers(actions, slots, size=128):
    B, H, J = actions.shape
    unified = actions.new_zeros(B, H, size)
    unified[..., slots] = actions
    mask = torch.zeros(B, size)
    mask[:, slots] = 1.0
    return unified, mask


# ---------------------------------------------------------------------------------- 08 ot_paths
def straightness_per_step(trajectory, times):
    dt = times[1:] - times[:-1]
    velocity = (trajectory[1:] - trajectory[:-1]) / dt.reshape(-1, *([1] * (trajectory.ndim - 1)))
    deviation = (trajectory[-1] - trajectory[0]) - velocity
    return dt * (deviation ** 2).flatten(2).sum(-1).mean(1) * len(dt)  # one term per step, not summed


# ------------------------------------------------------------------------- 06_normalizing_flows
def euler_one_step_too_many(v, x0, num_steps, t0=0.0, t1=1.0, return_trajectory=False):
    steps = num_steps + 1  # counted the grid's points, not its steps
    h = (t1 - t0) / steps
    x, path = x0, [x0]
    for k in range(steps):
        x = x + h * v(x, t0 + k * h)
        path.append(x)
    return (x, torch.stack(path)) if return_trajectory else x


# -------------------------------------------------------------------------- 01_variational_inference
def kl_averaged_without_the_half(mu_q, logvar_q, mu_p, logvar_p):
    kl = logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p) ** 2) / logvar_p.exp() - 1
    return kl.mean(-1)


def _elbo(x, q_mean, q_logvar, a, b, s, num_samples, generator, std=lambda std: std):
    from solutions.variational import gaussian_log_prob
    eps = torch.randn((num_samples, x.shape[0]), generator=generator)
    z = q_mean + std((0.5 * q_logvar).exp()) * eps
    log_lik = gaussian_log_prob(x, a * z + b, torch.full_like(z, 2 * math.log(s)))
    log_prior = gaussian_log_prob(z, torch.zeros_like(z), torch.zeros_like(z))
    return (log_lik + log_prior - gaussian_log_prob(z, q_mean, q_logvar)).mean(dim=0)


def elbo_std_detached(x, q_mean, q_logvar, a, b, s, num_samples, generator):
    return _elbo(x, q_mean, q_logvar, a, b, s, num_samples, generator, std=torch.Tensor.detach)  # the std only


def elbo_variational_parameters_detached(x, q_mean, q_logvar, a, b, s, num_samples, generator):
    return _elbo(x, q_mean.detach(), q_logvar.detach(), a, b, s, num_samples, generator)


# ---------------------------------------------------------------------- 04_diffusion_transformer
def drop_condition_in_int32(y, null_label, p_uncond, generator):
    drop = torch.rand(y.shape, generator=generator) < p_uncond
    return torch.where(drop, torch.full_like(y, null_label), y).to(torch.int32)


CASES = [  # (assignment, graded name, wrong function, phrase of the diagnosis, the grader says it too)
    ("02_ddpm", "q_sample", q_sample_noise_coefficient,
     "with noise set to zero your output is right, so the part of the result that involves noise is wrong", False),
    ("02_ddpm", "q_sample", q_sample_arguments_exchanged,
     "your output is what the correct function gives with x0 and noise exchanged", True),
    ("02_ddpm", "q_sample", q_sample_first_step_special,
     "your output is right for every sample except those where t = 0", True),
    ("02_ddpm", "q_sample", q_sample_divides_by_t,
     "the first NaN is at index [0, 0] (sample 0, where t = 0)", True),
    ("02_ddpm", "q_sample", q_sample_coefficient_with_an_axis_too_many,
     "your output has shape (5, 5, 2), expected (5, 2): two tensors whose shapes do not line up were broadcast", True),
    ("02_ddpm", "ddpm_loss", ddpm_loss_summed_over_coordinates,
     # ddpm_loss is checked with its gradients: the message names the value, not an index into the check
     "the value of your ddpm_loss is exactly 2 times the expected output everywhere (the size of the last axis of "
     "x0 (2): a sum where a mean belongs?)", True),
    ("02_ddpm", "compute_alpha_bar", alpha_bar_exclusive,
     "your output holds the expected values one position later along axis 0: an off-by-one in an index", True),
    ("02_ddpm", "compute_alpha_bar", alpha_bar_in_float64,
     "your output has dtype torch.float64, the inputs and the expected output torch.float32", True),
    ("02_ddpm", "p_sample", p_sample_one_step_late,
     "your output is what the correct function gives for t + 1 instead of t: an off-by-one in t", True),
    ("02_ddpm", "p_sample", p_sample_eps_coefficient_without_root,
     "with model's output replaced by zeros your output is right, so the way model's prediction enters the "
     "result is wrong", False),
    ("02_ddpm", "ddpm_sample", ddpm_sample_noise_drawn_first,
     "your samples look right in distribution (their mean and spread over 16 generator seeds match the "
     "expected ones) but not draw for draw", False),
    ("07_flow_matching", "gaussian_path_sample", gaussian_path_noise_subtracted,
     "with eps set to zero your output is right, so the part of the result that involves eps is wrong", False),
    ("07_flow_matching", "ot_conditional_field", ot_field_last_coordinate_doubled,
     "your output is right except at the last entry along the last axis", True),
    ("09_pi0", "blockwise_mask", blockwise_mask_as_numbers,
     "your output should be a boolean mask (torch.bool), not torch.float32", True),
    ("09_pi0", "noisy_actions", noisy_actions_time_axis_last,
     "your output has the right numbers with axes 1, 2 exchanged", True),
    ("05_robotic_dits", "to_unified", to_unified_mask_as_numbers,
     "your output[1] should be a boolean mask (torch.bool), not torch.float32", True),
    ("08_diffusion_and_ot_paths", "straightness", straightness_per_step,
     "taking the mean over all entries of your output gives the expected values, so the final mean is missing", True),
    ("06_normalizing_flows", "euler_integrate", euler_one_step_too_many,
     "your output is what the correct function gives for num_steps + 1 instead of num_steps: one too many", True),
    ("01_variational_inference", "kl_diag_gaussians", kl_averaged_without_the_half,
     "your output is 0.6667 times the expected output everywhere: a constant factor is missing or extra", True),
    ("01_variational_inference", "elbo_mc", elbo_std_detached,
     "the value of your elbo_mc is right, but its gradient with respect to q_logvar differs: part of the way from "
     "q_logvar to the value does not carry its gradient", True),
    ("01_variational_inference", "elbo_mc", elbo_variational_parameters_detached,
     "your elbo_mc is detached from q_mean, q_logvar: no gradient flows from its value back to them", True),
    ("04_diffusion_transformer", "drop_condition", drop_condition_in_int32,
     "your output should hold integers (torch.int64), not torch.int32", True),
]


def recorded(assignment: str, name: str, fn, monkeypatch) -> dict:
    published = []
    monkeypatch.setattr(record, "_publish", published.append)
    record.record_outputs(assignment, name, {name: fn})
    return published[0]


@pytest.mark.parametrize("assignment,name,fn,phrase,grader", CASES, ids=[c[2].__name__ for c in CASES])
def test_an_unregistered_mistake_gets_a_specific_diagnosis(assignment, name, fn, phrase, grader, monkeypatch):
    message = diagnose(assignment, name, fn)
    assert message and "Likely mistake" not in message, f"{fn.__name__} should be unregistered:\n{message}"
    assert "\n  Diagnosis: " in message and phrase in message, message
    passed, verdict = judge(HiddenSpec(f"test_{name}", assignment, name), recorded(assignment, name, fn, monkeypatch))
    assert not passed and verdict.split("\n")[0] == message.split("\n")[0]
    if grader:
        assert verdict == message, "the grader and the visible check give the same message"


@pytest.mark.parametrize("assignment,name,mistake,first_line", [
    ("01_variational_inference", "elbo_mc", "elbo_detached_sample", "the gradient of your elbo_mc with respect to q_mean"),
    ("02_ddpm", "ddpm_loss", "loss_detached", "the inputs the gradients of your ddpm_loss reach: expected "
     "'gradients reach model', got 'detached: no gradient reaches model'"),
])
def test_a_gradient_check_names_the_value_and_the_gradients(assignment, name, mistake, first_line):
    """The registered detached mistakes of 01 and 02: the message names what the gradient is taken
    with respect to, never an index into the (value, reach, gradients) check."""
    import importlib
    from coursekit.registry import get
    fn = getattr(importlib.import_module(get(assignment).mistakes), mistake)
    message = diagnose(assignment, name, fn)
    assert first_line in message.split("\n")[0] and "output[" not in message, message
    assert "\n  Likely mistake: " in message and "detached" in message


def test_a_zero_gradient_of_one_parameter_is_named(monkeypatch):
    """A model parameter no gradient reaches, while the others get theirs: named as the model's parameter."""
    from coursekit.checks import cases
    from coursekit.checks.diagnosis import diagnose as diagnosis_of
    from coursekit.checks.judge import Case
    from solutions.ddpm import ddpm_loss
    inputs = cases.case_inputs("02_ddpm", "ddpm_loss", 0)
    value, reach, grads = cases.call(ddpm_loss, inputs)
    labels = [f"model's parameter {attr}" for attr in sorted(vars(inputs["model"]))]
    assert reach == "gradients reach model" and len(grads) == len(labels) == 2
    got = (value, reach, (grads[0], torch.zeros_like(grads[1])))
    message = diagnosis_of(got, Case(0, inputs, (value, reach, grads)), lambda key: None, name="ddpm_loss")
    assert message.startswith(f"the value of your ddpm_loss is right, but its gradient with respect to {labels[1]} "
                              f"is zero: no gradient flows back to {labels[1]}"), message


def test_the_sampler_diagnosis_quotes_the_docstring():
    message = diagnose("02_ddpm", "ddpm_sample", ddpm_sample_noise_drawn_first)
    assert "The docstring asks for: Random numbers come from ``generator`` in this order" in message


def test_hidden_cases_get_a_diagnosis_without_numbers(monkeypatch):
    name = "linear_beta_schedule"
    assert diagnose("02_ddpm", name, linear_schedule_doubled_when_long) is None, "visible cases pass"
    passed, message = judge(HiddenSpec(f"test_{name}", "02_ddpm", name),
                            recorded("02_ddpm", name, linear_schedule_doubled_when_long, monkeypatch))
    assert not passed and message.startswith(f"{name} fails a hidden test (seed 2)")
    assert "Diagnosis: your output is a constant multiple of the expected output" in message
    assert "2 times" not in message and "1/2" not in message


def test_a_passing_check_runs_no_diagnosis(monkeypatch):
    """The diagnosis costs nothing while the checks pass (the visible checks run on every check)."""
    from coursekit.checks import diagnosis
    from solutions.ddpm import q_sample
    monkeypatch.setattr(diagnosis, "diagnose", lambda *a, **k: pytest.fail("diagnosis ran on a pass"))
    assert diagnose("02_ddpm", "q_sample", q_sample) is None


def test_a_tensor_on_another_device_is_named():
    """Strict: the device is compared explicitly ('meta' stands in for a GPU on this machine)."""
    from solutions.ddpm import compute_alpha_bar
    message = diagnose("02_ddpm", "compute_alpha_bar", lambda betas: compute_alpha_bar(betas).to("meta"))
    assert "output: expected a tensor on cpu, got one on meta" in message
    assert "Diagnosis: your output is on meta, the inputs on cpu: create new tensors on the inputs' device" in message
