"""Cross-checks of the reference DDPM/DDIM (solutions/ddpm.py) against diffusers, in float32.

diffusers' DDPMScheduler / DDIMScheduler index time the same way the course does (0-based,
alpha_bar[t] = prod_{s<=t} (1 - beta[s]), no noise added at t = 0), so with clip_sample=False,
variance_type="fixed_small", set_alpha_to_one=True and "leading" spacing they compute the same
quantities.  Every comparison uses atol = 1e-5, rtol = 0.

Two toy noise predictors are used:
* ``toy_eps`` (eps = tanh(0.7 x + 0.01 t)) for single steps;
* ``gaussian_eps_model`` for whole sampling chains.  toy_eps is a poor denoiser, and a reverse
  chain driven by it amplifies float32 rounding by 10^2..10^3 (samples of size ~10^3), which
  would make a chain comparison meaningless.  gaussian_eps_model is the exact eps-predictor for
  data ~ N(0, c^2 I) plus a small nonlinear, time-dependent term, so the chain is well
  conditioned and a 1e-5 disagreement means the samplers really differ.
"""
from __future__ import annotations

import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler
from diffusers.schedulers.scheduling_ddpm import betas_for_alpha_bar

from solutions import ddpm as R

ATOL = 1e-5
BETA_START, BETA_END = 1e-4, 0.02
SCHEDULES = {"linear": "linear", "cosine": "squaredcos_cap_v2"}


# ----------------------------------------------------------------------------- helpers

def close(actual: torch.Tensor, expected: torch.Tensor, atol: float = ATOL) -> None:
    torch.testing.assert_close(actual, expected, atol=atol, rtol=0)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def bcast(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B, 1, ..., 1) so that it broadcasts over x's data dims."""
    return v.reshape(-1, *([1] * (x.ndim - 1)))


def ref_betas(kind: str, T: int) -> torch.Tensor:
    if kind == "linear":
        return R.linear_beta_schedule(T, BETA_START, BETA_END)
    return R.cosine_beta_schedule(T)


def ref_schedule(kind: str, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    betas = ref_betas(kind, T)
    return betas, R.compute_alpha_bar(betas)


def ddpm_sched(kind: str, T: int) -> DDPMScheduler:
    return DDPMScheduler(num_train_timesteps=T, beta_schedule=SCHEDULES[kind], beta_start=BETA_START,
                         beta_end=BETA_END, clip_sample=False, variance_type="fixed_small")


def ddim_sched(kind: str, T: int, n: int) -> DDIMScheduler:
    s = DDIMScheduler(num_train_timesteps=T, beta_schedule=SCHEDULES[kind], beta_start=BETA_START,
                      beta_end=BETA_END, clip_sample=False, set_alpha_to_one=True,
                      timestep_spacing="leading", steps_offset=0)
    s.set_timesteps(n)
    return s


def toy_eps(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return torch.tanh(0.7 * x + 0.01 * bcast(t, x).to(x.dtype))


def gaussian_eps_model(alpha_bar: torch.Tensor, c2: float = 0.25):
    """Exact E[eps | x_t] for data ~ N(0, c2 I), plus a small nonlinear t-dependent term."""
    def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = bcast(alpha_bar[t], x)
        return (1 - a).sqrt() * x / (a * c2 + 1 - a) + 0.05 * torch.tanh(x + 0.01 * bcast(t, x).to(x.dtype))
    return model


def batch_t(t: int, x: torch.Tensor) -> torch.Tensor:
    return torch.full((x.shape[0],), int(t), dtype=torch.long)


def same_stream_position(g1: torch.Generator, g2: torch.Generator) -> bool:
    """True if both generators have consumed the same random numbers (their next draws agree)."""
    return torch.equal(torch.randn(4, generator=g1), torch.randn(4, generator=g2))


# ----------------------------------------------------------------------------- schedules

@pytest.mark.parametrize("T", [1, 2, 10, 100, 1000])
@pytest.mark.parametrize("start_end", [(BETA_START, BETA_END), (1e-3, 0.05)])
def test_linear_beta_schedule_matches_diffusers(T, start_end):
    start, end = start_end
    ours = R.linear_beta_schedule(T, start, end)
    theirs = DDPMScheduler(num_train_timesteps=T, beta_schedule="linear", beta_start=start, beta_end=end).betas
    assert ours.shape == (T,) and ours.dtype == torch.float32
    close(ours, theirs)


@pytest.mark.parametrize("T", [1, 2, 10, 100, 1000])
def test_cosine_beta_schedule_matches_diffusers(T):
    ours = R.cosine_beta_schedule(T)
    theirs = DDPMScheduler(num_train_timesteps=T, beta_schedule="squaredcos_cap_v2").betas
    assert ours.shape == (T,) and ours.dtype == torch.float32
    close(ours, theirs)


def test_cosine_beta_schedule_cap():
    betas = R.cosine_beta_schedule(1000)
    assert betas.max().item() == pytest.approx(0.999)  # the last beta hits the cap
    close(R.cosine_beta_schedule(100, max_beta=0.5), betas_for_alpha_bar(100, max_beta=0.5))
    assert R.cosine_beta_schedule(100, max_beta=0.5).max().item() == pytest.approx(0.5)


@pytest.mark.parametrize("fn", [R.linear_beta_schedule, R.cosine_beta_schedule])
def test_schedules_reject_nonpositive_T(fn):
    with pytest.raises(ValueError, match=r"^T: .*got 0"):
        fn(0)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("T", [10, 100, 1000])
def test_compute_alpha_bar_matches_diffusers(kind, T):
    _, alpha_bar = ref_schedule(kind, T)
    assert alpha_bar.shape == (T,) and alpha_bar.dtype == torch.float32
    close(alpha_bar, ddpm_sched(kind, T).alphas_cumprod)


def test_compute_alpha_bar_validates_betas():
    with pytest.raises(ValueError) as e:
        R.compute_alpha_bar(torch.full((5,), 0.1, dtype=torch.float64))
    msg = str(e.value)
    assert msg.startswith("betas:") and "torch.float32" in msg and "torch.float64" in msg
    with pytest.raises(ValueError) as e:
        R.compute_alpha_bar(torch.full((2, 5), 0.1))
    msg = str(e.value)
    assert msg.startswith("betas:") and "1 dimensions" in msg and "(2, 5)" in msg


# ----------------------------------------------------------------------------- forward process

@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("shape", [(16, 3), (16, 8, 2)], ids=["B,D", "B,H,D"])
@pytest.mark.parametrize("t_dtype", [torch.long, torch.int32])
def test_q_sample_matches_add_noise(kind, shape, t_dtype):
    T = 1000
    _, alpha_bar = ref_schedule(kind, T)
    g = gen(0)
    x0 = torch.randn(shape, generator=g)
    noise = torch.randn(shape, generator=g)
    t = torch.randint(0, T, (shape[0],), generator=g)
    t[:2] = torch.tensor([0, T - 1])  # always include both ends
    ours = R.q_sample(x0, t.to(t_dtype), alpha_bar, noise)
    theirs = ddpm_sched(kind, T).add_noise(x0, noise, t)
    assert ours.shape == shape and ours.dtype == torch.float32
    close(ours, theirs)


@pytest.mark.parametrize("shape", [(6, 6), (4, 3, 4), (5, 5, 5)], ids=["B==D", "B==D,H", "B==H==D"])
def test_q_sample_square_batch_broadcasting_regression(shape):
    """(B,) coefficients must broadcast over the batch axis, not the last (data) axis, when B == D."""
    T = 50
    _, alpha_bar = ref_schedule("linear", T)
    g = gen(1)
    x0 = torch.randn(shape, generator=g)
    noise = torch.randn(shape, generator=g)
    t = torch.randperm(T, generator=g)[: shape[0]]  # distinct times so a wrong broadcast shows
    ours = R.q_sample(x0, t, alpha_bar, noise)
    loop = torch.stack([alpha_bar[ti].sqrt() * x0[i] + (1 - alpha_bar[ti]).sqrt() * noise[i]
                        for i, ti in enumerate(t.tolist())])
    close(ours, loop)
    close(ours, torch.cat([R.q_sample(x0[i:i + 1], t[i:i + 1], alpha_bar, noise[i:i + 1])
                           for i in range(shape[0])]))
    close(ours, ddpm_sched("linear", T).add_noise(x0, noise, t))
    # the loss must broadcast the same way (every item has the same number of entries -> mean of means)
    per_item = torch.stack([R.ddpm_loss(toy_eps, x0[i:i + 1], t[i:i + 1], alpha_bar, noise[i:i + 1])
                            for i in range(shape[0])])
    close(R.ddpm_loss(toy_eps, x0, t, alpha_bar, noise), per_item.mean())


@pytest.mark.parametrize("shape", [(16, 3), (16, 8, 2)], ids=["B,D", "B,H,D"])
def test_ddpm_loss_is_mse_of_eps_prediction(shape):
    T = 50
    _, alpha_bar = ref_schedule("cosine", T)
    g = gen(2)
    x0, noise = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    t = torch.randint(0, T, (shape[0],), generator=g)
    seen = []

    def model(x, tt):
        seen.append(tt.clone())
        return toy_eps(x, tt)

    loss = R.ddpm_loss(model, x0, t, alpha_bar, noise)
    assert loss.ndim == 0
    assert len(seen) == 1 and torch.equal(seen[0], t)  # the model sees the per-item times
    expected = torch.nn.functional.mse_loss(toy_eps(R.q_sample(x0, t, alpha_bar, noise), t), noise)
    close(loss, expected)
    # and with diffusers' forward process
    x_t = ddpm_sched("cosine", T).add_noise(x0, noise, t)
    close(loss, ((toy_eps(x_t, t) - noise) ** 2).mean())


def test_ddpm_loss_gradients_match_manual_mse():
    T, D = 50, 3
    _, alpha_bar = ref_schedule("linear", T)
    torch.manual_seed(0)
    net = torch.nn.Linear(D + 1, D)

    def model(x, t):
        return net(torch.cat([x, t[:, None].float() / T], dim=1))

    g = gen(3)
    x0, noise = torch.randn(8, D, generator=g), torch.randn(8, D, generator=g)
    t = torch.randint(0, T, (8,), generator=g)
    grads_ref = torch.autograd.grad(R.ddpm_loss(model, x0, t, alpha_bar, noise), list(net.parameters()))
    x_t = alpha_bar[t].sqrt()[:, None] * x0 + (1 - alpha_bar[t]).sqrt()[:, None] * noise
    grads_man = torch.autograd.grad(((model(x_t, t) - noise) ** 2).mean(), list(net.parameters()))
    for a, b in zip(grads_ref, grads_man):
        close(a, b)


# ----------------------------------------------------------------------------- input validation

def _call_q_sample(x0, t, alpha_bar, noise):
    return R.q_sample(x0, t, alpha_bar, noise)


def _call_ddpm_loss(x0, t, alpha_bar, noise):
    return R.ddpm_loss(toy_eps, x0, t, alpha_bar, noise)


_B, _D, _T = 4, 3, 50
_VALIDATION_CASES = {
    # name: (x0, t, noise, argument named, fragments the message must contain)
    "x0 float64": (torch.zeros(_B, _D, dtype=torch.float64), torch.zeros(_B, dtype=torch.long),
                   torch.zeros(_B, _D), "x0", ["torch.float32", "got torch.float64"]),
    "x0 not a tensor": ([[0.0] * _D] * _B, torch.zeros(_B, dtype=torch.long),
                        torch.zeros(_B, _D), "x0", ["torch.Tensor", "got list"]),
    "t shape (B,1)": (torch.zeros(_B, _D), torch.zeros(_B, 1, dtype=torch.long),
                      torch.zeros(_B, _D), "t", ["expected shape (4", "got (4, 1)"]),
    "t wrong length": (torch.zeros(_B, _D), torch.zeros(_B + 1, dtype=torch.long),
                       torch.zeros(_B, _D), "t", ["expected shape (4", "got (5,)"]),
    "t float dtype": (torch.zeros(_B, _D), torch.zeros(_B),
                      torch.zeros(_B, _D), "t", ["torch.int64", "got torch.float32"]),
    "t == T": (torch.zeros(_B, _D), torch.tensor([0, 1, 2, _T]),
               torch.zeros(_B, _D), "t", [f"0..{_T - 1}", f"max {_T}"]),
    "t < 0": (torch.zeros(_B, _D), torch.tensor([-1, 1, 2, 3]),
              torch.zeros(_B, _D), "t", [f"0..{_T - 1}", "min -1"]),
    "noise shape": (torch.zeros(_B, _D), torch.zeros(_B, dtype=torch.long),
                    torch.zeros(_B, _D - 1), "noise", ["(4, 3)", "got (4, 2)"]),
}


@pytest.mark.parametrize("fn", [_call_q_sample, _call_ddpm_loss], ids=["q_sample", "ddpm_loss"])
@pytest.mark.parametrize("case", list(_VALIDATION_CASES), ids=list(_VALIDATION_CASES))
def test_forward_validation_messages(fn, case):
    x0, t, noise, arg, fragments = _VALIDATION_CASES[case]
    _, alpha_bar = ref_schedule("linear", _T)
    with pytest.raises(ValueError) as e:
        fn(x0, t, alpha_bar, noise)
    msg = str(e.value)
    assert msg.startswith(f"{arg}:"), msg
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in {msg!r}"


def test_reverse_step_validation_messages():
    betas, alpha_bar = ref_schedule("linear", _T)
    x = torch.zeros(_B, _D)
    cases = [
        (lambda: R.p_sample(toy_eps, x.double(), 3, betas, alpha_bar, x.double()), "x_t", ["torch.float64"]),
        (lambda: R.p_sample(toy_eps, x, 3, betas, alpha_bar, torch.zeros(_B, _D + 1)), "noise", ["(4, 3)", "(4, 4)"]),
        (lambda: R.p_sample(toy_eps, x, _T, betas, alpha_bar, x), "t", [f"0..{_T - 1}", f"got {_T}"]),
        (lambda: R.p_sample(toy_eps, x, -1, betas, alpha_bar, x), "t", ["got -1"]),
        (lambda: R.ddim_step(toy_eps, x, 5, 5, alpha_bar, 0.0, x), "t, t_prev", ["t=5", "t_prev=5"]),
        (lambda: R.ddim_step(toy_eps, x, _T, 0, alpha_bar, 0.0, x), "t, t_prev", [f"t={_T}"]),
        (lambda: R.ddim_step(toy_eps, x, 5, -2, alpha_bar, 0.0, x), "t, t_prev", ["t_prev=-2"]),
        (lambda: R.ddim_step(toy_eps, x, 5, 0, alpha_bar, 0.0, torch.zeros(_B + 1, _D)), "noise", ["(5, 3)"]),
        (lambda: R.ddim_timesteps(_T, 0), "num_steps", ["got 0"]),
        (lambda: R.ddim_timesteps(_T, _T + 1), "num_steps", [f"got {_T + 1}"]),
    ]
    for call, arg, fragments in cases:
        with pytest.raises(ValueError) as e:
            call()
        msg = str(e.value)
        assert msg.startswith(f"{arg}:"), msg
        for frag in fragments:
            assert frag in msg, f"{frag!r} not in {msg!r}"


# ----------------------------------------------------------------------------- DDPM reverse step

_P_SAMPLE_CONFIGS = [("linear", 50), ("linear", 1000), ("cosine", 50)]


@pytest.mark.parametrize("kind,T", _P_SAMPLE_CONFIGS, ids=[f"{k}-T{T}" for k, T in _P_SAMPLE_CONFIGS])
@pytest.mark.parametrize("where", ["0", "1", "mid", "last"])
def test_p_sample_matches_diffusers_step(kind, T, where):
    t = {"0": 0, "1": 1, "mid": T // 2, "last": T - 1}[where]
    betas, alpha_bar = ref_schedule(kind, T)
    sched = ddpm_sched(kind, T)
    x = torch.randn(8, 4, 3, generator=gen(10))
    theirs = sched.step(toy_eps(x, batch_t(t, x)), t, x, generator=gen(11)).prev_sample
    noise = torch.randn(x.shape, generator=gen(11))  # what diffusers drew (t > 0)
    ours = R.p_sample(toy_eps, x, t, betas, alpha_bar, noise)
    assert ours.shape == x.shape and ours.dtype == torch.float32
    close(ours, theirs)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_p_sample_adds_no_noise_at_t0(kind):
    T = 50
    betas, alpha_bar = ref_schedule(kind, T)
    x = torch.randn(8, 4, 3, generator=gen(12))
    a = R.p_sample(toy_eps, x, 0, betas, alpha_bar, torch.randn(x.shape, generator=gen(13)))
    b = R.p_sample(toy_eps, x, 0, betas, alpha_bar, 100.0 * torch.randn(x.shape, generator=gen(14)))
    assert torch.equal(a, b)
    # ...while at t = 1 the noise matters
    c = R.p_sample(toy_eps, x, 1, betas, alpha_bar, torch.randn(x.shape, generator=gen(13)))
    d = R.p_sample(toy_eps, x, 1, betas, alpha_bar, torch.randn(x.shape, generator=gen(14)))
    assert not torch.allclose(c, d)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_p_sample_at_t0_returns_x0_hat(kind):
    """alpha_bar_{-1} = 1, so the t = 0 posterior mean is exactly the predicted x0 (coefficients 1 and 0)."""
    T = 50
    betas, alpha_bar = ref_schedule(kind, T)
    x = torch.randn(8, 4, 3, generator=gen(15))
    eps = toy_eps(x, batch_t(0, x))
    x0_hat = (x - (1 - alpha_bar[0]).sqrt() * eps) / alpha_bar[0].sqrt()
    close(R.p_sample(toy_eps, x, 0, betas, alpha_bar, torch.zeros_like(x)), x0_hat)


# ----------------------------------------------------------------------------- DDIM

@pytest.mark.parametrize("T,n", [(50, 10), (50, 7), (50, 50), (10, 1), (1000, 50), (1000, 3), (1000, 1000)])
def test_ddim_timesteps_match_diffusers(T, n):
    assert R.ddim_timesteps(T, n) == [int(v) for v in ddim_sched("linear", T, n).timesteps]


_DDIM_CONFIGS = [("linear", 50, 10), ("linear", 1000, 20), ("cosine", 50, 7)]


@pytest.mark.parametrize("kind,T,n", _DDIM_CONFIGS, ids=[f"{k}-T{T}-n{n}" for k, T, n in _DDIM_CONFIGS])
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_step_matches_diffusers(kind, T, n, eta):
    _, alpha_bar = ref_schedule(kind, T)
    sched = ddim_sched(kind, T, n)
    times = [int(v) for v in sched.timesteps]
    g = gen(20)
    x = torch.randn(8, 4, 3, generator=g)
    for i, t in enumerate(times):
        t_prev = t - T // n if i + 1 < len(times) else -1
        noise = torch.randn(x.shape, generator=g)
        theirs = sched.step(toy_eps(x, batch_t(t, x)), t, x, eta=eta, variance_noise=noise).prev_sample
        ours = R.ddim_step(toy_eps, x, t, t_prev, alpha_bar, eta, noise)
        assert torch.isfinite(ours).all(), (t, t_prev)
        close(ours, theirs)


def test_ddim_step_eta0_ignores_noise():
    _, alpha_bar = ref_schedule("linear", 50)
    x = torch.randn(8, 3, generator=gen(21))
    a = R.ddim_step(toy_eps, x, 20, 10, alpha_bar, 0.0, torch.randn(x.shape, generator=gen(22)))
    b = R.ddim_step(toy_eps, x, 20, 10, alpha_bar, 0.0, torch.randn(x.shape, generator=gen(23)))
    assert torch.equal(a, b)


def _diffusers_ddim_loop(kind, T, n, shape, g, eta, model):
    sched = ddim_sched(kind, T, n)
    x = torch.randn(shape, generator=g)
    xs = [x]
    for t in sched.timesteps:
        x = sched.step(model(x, batch_t(t, x)), t, x, eta=eta, generator=g if eta > 0 else None).prev_sample
        xs.append(x)
    return x, torch.stack(xs)


_DDIM_SAMPLE_CONFIGS = [("linear", 1000, 50), ("cosine", 50, 10), ("linear", 50, 50)]


@pytest.mark.parametrize("kind,T,n", _DDIM_SAMPLE_CONFIGS, ids=[f"{k}-T{T}-n{n}" for k, T, n in _DDIM_SAMPLE_CONFIGS])
@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_ddim_sample_matches_diffusers_loop(kind, T, n, eta):
    shape = (16, 8, 2)
    _, alpha_bar = ref_schedule(kind, T)
    model = gaussian_eps_model(alpha_bar)
    g_ref, g_dif = gen(30), gen(30)
    ours, traj = R.ddim_sample(model, shape, alpha_bar, n, g_ref, eta=eta, return_trajectory=True)
    theirs, traj_d = _diffusers_ddim_loop(kind, T, n, shape, g_dif, eta, model)
    assert traj.shape == (n + 1, *shape)
    assert torch.equal(traj[0], torch.randn(shape, generator=gen(30)))  # starts from the first draw
    assert torch.equal(traj[-1], ours)
    assert same_stream_position(g_ref, g_dif)  # both consumed the same random numbers
    close(traj, traj_d)
    close(ours, theirs)
    # without a trajectory the result is the same
    close(R.ddim_sample(model, shape, alpha_bar, n, gen(30), eta=eta), ours, atol=0)


# ----------------------------------------------------------------------------- full DDPM sampler

def _diffusers_ddpm_loop(kind, T, shape, g, model):
    """Start from randn(shape, g); diffusers then draws one randn(shape, g) inside step() for every t > 0."""
    sched = ddpm_sched(kind, T)
    x = torch.randn(shape, generator=g)
    xs = [x]
    for t in sched.timesteps:  # T-1, ..., 0
        x = sched.step(model(x, batch_t(t, x)), t, x, generator=g).prev_sample
        xs.append(x)
    return x, torch.stack(xs)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("shape", [(16, 3), (16, 8, 2)], ids=["B,D", "B,H,D"])
def test_ddpm_sample_matches_diffusers_loop(kind, shape):
    T = 50
    betas, alpha_bar = ref_schedule(kind, T)
    model = gaussian_eps_model(alpha_bar)
    g_ref, g_dif = gen(40), gen(40)
    ours, traj = R.ddpm_sample(model, shape, betas, alpha_bar, g_ref, return_trajectory=True)
    theirs, traj_d = _diffusers_ddpm_loop(kind, T, shape, g_dif, model)
    assert traj.shape == (T + 1, *shape)
    assert torch.equal(traj[0], torch.randn(shape, generator=gen(40)))
    assert torch.equal(traj[-1], ours)
    # diffusers draws nothing at t = 0, so equal stream positions => the reference drew T numbers-blocks too
    assert same_stream_position(g_ref, g_dif)
    close(traj, traj_d)
    close(ours, theirs)
    close(R.ddpm_sample(model, shape, betas, alpha_bar, gen(40)), ours, atol=0)


def test_ddpm_sample_noise_order():
    """Documented stream: x_{T-1} = randn, then noise for t = T-1, ..., 1; none at t = 0."""
    T, shape = 10, (6, 2)
    betas, alpha_bar = ref_schedule("linear", T)
    model = gaussian_eps_model(alpha_bar)
    g = gen(41)
    x = torch.randn(shape, generator=g)
    noises = {t: torch.randn(shape, generator=g) for t in reversed(range(1, T))}
    for t in reversed(range(T)):
        x = R.p_sample(model, x, t, betas, alpha_bar, noises.get(t, torch.zeros(shape)))
    g_ref = gen(41)
    close(R.ddpm_sample(model, shape, betas, alpha_bar, g_ref), x, atol=0)
    assert same_stream_position(g_ref, g)
