# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 02b · The theory bridge: scores, parameterisations and the probability-flow ODE
#
# 02 taught DDPM as a recipe: add noise, learn to predict it, walk back. Flow matching (07, 08) will
# look like another recipe: learn a velocity, integrate an ODE. They are one idea seen from different
# sides, and this notebook builds the bridges, each one measured:
#
# 1. **the score view**: a noise predictor is a score model, `score = -eps / sigma`; denoising score
#    matching learns it; Langevin dynamics samples with it;
# 2. **one model, many parameterisations**: epsilon, the clean sample, v, the score and the flow
#    velocity are interchangeable outputs of the same network, and DDPM's `alpha_bar` is a
#    flow-matching time in disguise;
# 3. **the probability-flow ODE**: DDIM (eta = 0) is Euler's method on an ODE;
# 4. **the ELBO behind DDPM**: its terms are 01's Gaussian KL, and L_simple reweights them.
#
# Sources: Song et al., *Score-Based Generative Modeling through SDEs* (2021); Vincent, *A Connection
# Between Score Matching and Denoising Autoencoders* (2011); Salimans & Ho, *Progressive Distillation*
# (2022, v-prediction); Lipman et al., *Flow Matching Guide and Code* (2024); Ho et al. (2020);
# Song, Meng & Ermon, *DDIM* (2021).
#
# **Conventions.** Everything here lives on one Gaussian path
#
# $$x = \alpha\, x_{\text{data}} + \sigma\, \varepsilon, \qquad \varepsilon \sim \mathcal N(0, I),$$
#
# with a signal scale `alpha` and a noise scale `sigma` (standard deviations, one per sample, shape `(B,)`).
# - **DDPM** (discrete, 0-based `t ∈ {0, …, T-1}` as in 02): `alpha = sqrt(alpha_bar[t])`,
#   `sigma = sqrt(1 - alpha_bar[t])`; large `t` is noisy.
# - **Flow matching** (continuous `t ∈ [0, 1]`): **`t = 0` is noise, `t = 1` is data** (Lipman et al.);
#   the data is what 07 calls `x1`. Mixing up which end is which is the most common bug in this field.

# %%
import math

import torch

from coursekit.checks.visible import checker
from coursekit.hints import hinter
from coursekit.checks.runtime import skip_experiments_when_autograding
from coursekit.kit.diffusion import ddim_timesteps
from coursekit.validate import check_flow_times, check_number, check_same_shape, check_tensor, check_timesteps

check = checker("02b_theory_bridge")
hint = hinter("02b_theory_bridge")  # stuck? hint("<function name>"): a nudge, then the key idea, then the formula
skip_experiments_when_autograding()  # cells starting "# experiment:" carry no points; the autograder skips them
torch.set_num_threads(1)  # tiny models: one thread is fastest, and leaves the other core free
torch.manual_seed(0);

KINDS = ("epsilon", "sample", "v_prediction", "score", "velocity")

# %% provided="per_sample"

# %% provided="_check_scales"

# %% [markdown]
# ## 1 · The score view
#
# The **score** of a density is `grad_x log p(x)`: an arrow pointing uphill, towards likelier points.
# For the noisy point `x = alpha x_data + sigma eps` with the data known, the density of `x` is
# `N(alpha x_data, sigma^2 I)` and its score is `-(x - alpha x_data) / sigma^2 = -eps / sigma`.
# Averaged over the data that could have produced `x`, the same holds for the best noise predictor
# (Vincent 2011; Song et al. 2021):
#
# $$\nabla_x \log p_t(x) = -\frac{\hat\varepsilon(x, t)}{\sigma_t}, \qquad
#   \hat\varepsilon(x, t) = -\sigma_t\, \nabla_x \log p_t(x).$$
#
# In DDPM's time, `sigma_t = sqrt(1 - alpha_bar[t])` with `t = 0` the cleanest step; in flow-matching
# time, `sigma_t` shrinks towards `t = 1`. `sigma` is a standard deviation: dividing by the variance is a
# classic slip.

# %% graded="eps_to_score" points=1

# %% [markdown]
# ### Denoising score matching
#
# We cannot regress on the score of the data (we do not know it), but we can regress on the score of
# the noising kernel, which we do know: for `x = x0 + sigma * noise` it is `-noise / sigma`. Vincent
# showed that the minimiser is the score of the *noised* data density. Weighting each noise level by
# `sigma^2` (Song & Ermon 2019) makes every level count alike:
#
# $$L = \mathbb E\ \big\| \sigma\, s_\theta(x_0 + \sigma\,\varepsilon,\ \sigma) + \varepsilon \big\|^2 .$$
#
# The squared norm sums over a sample's coordinates; the loss averages over the batch. A loss exists to be
# differentiated, so its check compares two things: the value, and the gradient with respect to each of
# the model's parameters; the feedback says which one differs. A detached path gives the right value and
# no gradient at all.

# %% graded="dsm_loss" points=2

# %% [markdown]
# On the eight-Gaussians data the truth is known: noised by `sigma`, the mixture stays a mixture with
# per-mode variance `0.15^2 + sigma^2`, so its score is exact (`mixture_score`). We train a small network
# with **your** loss for noise levels `sigma ∈ [0.2, 1]` and measure its error against the exact score,
# relative to the score's size. The untrained network is the negative control.

# %%
# experiment: denoising score matching on 2-D data, measured against the exact score
from coursekit.assignments.bridge.densities import MODE_STD, mixture_score
from coursekit.kit.data import eight_gaussians
from coursekit.kit.models import ContinuousTimeMLP
from coursekit.kit.train import train

data = eight_gaussians(4000, torch.Generator().manual_seed(0))
held_out = eight_gaussians(1000, torch.Generator().manual_seed(1))

torch.manual_seed(0)
score_net = ContinuousTimeMLP(hidden=128)


def score_model(x, sigma):
    return score_net(x, sigma) / sigma[:, None]   # the network predicts -noise; the score divides it by sigma


def dsm_on_batch(x0, g):
    sigma = 0.2 + 0.8 * torch.rand(len(x0), generator=g)
    return dsm_loss(score_model, x0, sigma, torch.randn(x0.shape, generator=g))


def relative_score_error(sigma_value):
    g = torch.Generator().manual_seed(5)
    sigma = torch.full((len(held_out),), sigma_value)
    x = held_out + sigma_value * torch.randn(held_out.shape, generator=g)
    with torch.no_grad():
        exact = mixture_score(x, sigma_value)
        return float(((score_model(x, sigma) - exact) ** 2).sum(1).mean() / (exact**2).sum(1).mean())


untrained_error = {s: relative_score_error(s) for s in (0.3, 0.6)}
train(score_net, dsm_on_batch, data, steps=600, batch_size=512, lr=5e-3, desc="score model")
trained_error = {s: relative_score_error(s) for s in (0.3, 0.6)}
for s in trained_error:
    print(f"sigma = {s}: relative squared error of the score, trained {trained_error[s]:.3f}, "
          f"untrained {untrained_error[s]:.3f}")
assert all(e < 0.2 for e in trained_error.values()), "the learned score should be close to the exact one"
assert all(e > 0.5 for e in untrained_error.values()), "the untrained control should be far from it"

# %% [markdown]
# ### Langevin dynamics
#
# With a score we can sample without any network of noise levels: start anywhere and repeat
#
# $$x \leftarrow x + h\, \nabla_x \log p(x) + \sqrt{2h}\; z, \qquad z \sim \mathcal N(0, I).$$
#
# The drift climbs towards likely regions; the noise keeps the points spread out just enough that, for
# a small step `h` and many steps, they are distributed as `p`. The step is not free: for one Gaussian
# mode of standard deviation `s`, the chain's spread is `s / sqrt(1 - h / (2 s^2))` instead of `s`, and
# beyond `h = 2 s^2` a Gaussian chain explodes. Our modes have `s = 0.15`, so `2 s^2 = 0.045`: just past it
# the points overshoot every mode and bounce between them; a little further, they fly off.

# %% graded="langevin_step" points=1

# %% provided="langevin_sample"

# %%
# experiment: Langevin on the known eight-Gaussians density: what the step size does
from coursekit.kit.evidence import eight_gaussian_centres

x_init = 3 * torch.rand(1000, 2, generator=torch.Generator().manual_seed(4)) - 1.5   # a box around the centre


def spread_in_modes(x):
    """RMS per-coordinate distance to the nearest centre, of the points that stayed finite and near a mode."""
    x = x[torch.isfinite(x).all(1)]
    d = torch.cdist(x, eight_gaussian_centres()).min(1).values
    d = d[d < 1.0]
    return float((d**2).mean().div(2).sqrt()) if len(d) else float("nan")


langevin_rows = {}
for h in (0.002, 0.01, 0.03, 0.05, 0.08):
    with torch.no_grad():
        x = langevin_sample(lambda z: mixture_score(z), x_init, h, 300, torch.Generator().manual_seed(5))
    escaped = int((~torch.isfinite(x).all(1) | (x.abs() > 6).any(1)).sum())
    theory = MODE_STD / math.sqrt(1 - h / (2 * MODE_STD**2)) if h < 2 * MODE_STD**2 else float("inf")
    langevin_rows[h] = (spread_in_modes(x), theory, escaped)
    print(f"h = {h:<5}: spread in the modes {langevin_rows[h][0]:.3f} (Gaussian-mode theory {theory:.3f}), "
          f"{escaped} of 1000 escaped")
assert langevin_rows[0.002][2] == 0 and abs(langevin_rows[0.002][0] / MODE_STD - 1) < 0.15, "small steps: right spread"
assert langevin_rows[0.03][0] > 1.3 * langevin_rows[0.002][0], "a larger step inflates the spread"
assert langevin_rows[0.05][0] > 2.5 * MODE_STD, "just past h = 2 s^2 the points no longer settle in the modes"
assert langevin_rows[0.08][2] > 900, "further past h = 2 s^2 the chain explodes"

# %% [markdown]
# Move the step size past 0.045 and watch the modes blur, then the points fly off; at small steps, count how many steps they
# need to reach the modes. Note also what Langevin does *not* do well: a point rarely hops between modes,
# so the share each mode gets depends on where the points started. Annealing the noise level, as a
# diffusion model's reverse process does, is the cure.

# %%
# experiment: the Langevin explorer
from widgets.bridge import langevin_explorer

langevin_explorer(langevin_sample, lambda z: mixture_score(z), x_init, seed=5, mode_std=MODE_STD)

# %% [markdown]
# ## 2 · One model, many parameterisations
#
# Given `x`, the pair `(x_data, eps)` has only one degree of freedom left: `x = alpha x_data + sigma eps`.
# So a network that predicts any one linear combination of them predicts both. The common choices
# (names as in `diffusers`' `prediction_type` where it has one):
#
# | kind | the network predicts | used by |
# |---|---|---|
# | `epsilon` | `eps` | DDPM (02) |
# | `sample` | `x_data` (x0-prediction) | Diffusion Policy (03), RDT (05) |
# | `v_prediction` | `v = alpha eps - sigma x_data` | Salimans & Ho; Stable Diffusion 2 |
# | `score` | `-eps / sigma` | score SDEs |
# | `velocity` | `dx/dt = alpha' x_data + sigma' eps` | flow matching (07, 08), pi0 (09) |
#
# The velocity needs the path's time derivatives. Two flow-matching paths, in flow-matching time
# (`t = 0` noise, `t = 1` data):
# - **OT** (conditional optimal transport): `alpha_t = t`, `sigma_t = 1 - t`;
# - **VP** (cosine, variance preserving): `alpha_t = sin(pi t / 2)`, `sigma_t = cos(pi t / 2)`.

# %% graded="flow_path" points=2

# %% graded="predictions" points=2

# %% [markdown]
# Now the way back: from a prediction of any kind to `(x_data_hat, eps_hat)`. Each kind gives a second
# linear equation next to `x = alpha x_data + sigma eps`; solve the pair. Do not assume
# `alpha^2 + sigma^2 = 1`: it holds for DDPM and VP, not for OT. (From the score you get Tweedie's
# formula, `x_data_hat = (x + sigma^2 score) / alpha`.)

# %% graded="to_data_eps" points=3

# %% [markdown]
# One consequence, checked numerically below. On the VP path `alpha = sin(phi)` and `sigma = cos(phi)`
# with the angle `phi = pi t / 2`, so `dx / dphi = cos(phi) x_data - sin(phi) eps = -v`. Salimans & Ho's
# v is a velocity along the angle, pointing from data towards noise; the flow-matching velocity (in `t`,
# towards data) is `velocity = -(pi / 2) v`.

# %%
g = torch.Generator().manual_seed(7)
t = 0.05 + 0.9 * torch.rand(6, generator=g)
x_data, eps = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
for kind in ("ot", "vp"):
    coeffs = flow_path(kind, t)
    preds = predictions(x_data, eps, *coeffs)
    x = per_sample(coeffs[0], x_data) * x_data + per_sample(coeffs[1], x_data) * eps
    worst = max(float((to_data_eps(p, k, x, *coeffs)[0] - x_data).abs().max()) for p, k in zip(preds, KINDS))
    print(f"{kind}: every kind converts back to the data, worst error {worst:.2e}")
    assert worst < 1e-4
vp_velocity, vp_v = predictions(x_data, eps, *flow_path("vp", t))[4], predictions(x_data, eps, *flow_path("vp", t))[2]
print(f"VP path: largest |velocity + (pi/2) v| = {float((vp_velocity + math.pi / 2 * vp_v).abs().max()):.2e}")
assert torch.allclose(vp_velocity, -math.pi / 2 * vp_v, atol=1e-5)

# %% [markdown]
# ### DDPM's alpha_bar is a flow-matching time
#
# A DDPM point at step `t` and a flow-matching point carry the same information when their
# signal-to-noise ratios `alpha / sigma` agree. DDPM's is `r = sqrt(alpha_bar / (1 - alpha_bar))`; the OT
# path's is `t / (1 - t)`, so `t = r / (1 + r)`; the VP path's is `tan(pi t / 2)`, so `t = (2 / pi) atan(r)`.
# At that time the two noisy points differ by a known scale, `x_flow = (alpha_t / sqrt(alpha_bar)) x_ddpm`,
# so one trained network serves both samplers after rescaling its input (the idea behind
# `flow_matching`'s `ScheduleTransformedModel`).

# %% graded="ddpm_to_flow_time" points=2

# %%
T = 100
betas = torch.linspace(1e-4, 0.2, T)           # 02's linear schedule for a 100-step chain
alpha_bar = torch.cumprod(1 - betas, dim=0)
steps = torch.tensor([0, 10, 50, 90])
ab = alpha_bar[steps]
x_ddpm = per_sample(ab.sqrt(), x_data[:4]) * x_data[:4] + per_sample((1 - ab).sqrt(), x_data[:4]) * eps[:4]
for kind in ("ot", "vp"):
    t_flow, scale = ddpm_to_flow_time(ab, kind)
    alpha_t, sigma_t, _, _ = flow_path(kind, t_flow)
    x_flow = per_sample(alpha_t, x_data[:4]) * x_data[:4] + per_sample(sigma_t, x_data[:4]) * eps[:4]
    gap = float((x_flow - per_sample(scale, x_ddpm) * x_ddpm).abs().max())
    print(f"{kind}: DDPM steps {steps.tolist()} sit at flow time {[round(v, 3) for v in t_flow.tolist()]}; "
          f"point gap after scaling {gap:.1e}")
    assert gap < 1e-5

# %% [markdown]
# ### Train three parameterisations side by side
#
# Same data, same network, same budget (1500 Adam steps), same schedule; only the target changes:
# `epsilon`, `sample` (x0) and `v_prediction`. Each trained network is turned into a noise predictor with
# **your** `to_data_eps` and sampled by the same deterministic DDIM sampler (50 steps). The bar is 02's
# (`mixture_bar`): every mode covered with a fair share, at least 85 % of samples in a mode, each mode's
# spread within a factor 1.4 of the data's, and a kernel distance below a threshold that the negative
# controls set (a ring, seven modes, blobs too wide, a moment-matched Gaussian and the untrained network
# must all fail).
#
# `prediction_loss` is checked like `dsm_loss`: its value, and its gradients with respect to the model.

# %% graded="prediction_loss" points=2

# %%
# experiment: train epsilon-, x0- and v-prediction on the same data and budget
from coursekit.kit.diffusion import ddim_sample
from coursekit.kit.evidence import calibrated_threshold, mixture_bar, mixture_controls
from coursekit.kit.models import TimeConditionedMLP

PARAMETERISATIONS = ("epsilon", "sample", "v_prediction")
torch.manual_seed(0)
untrained = TimeConditionedMLP(num_steps=T)   # a negative control: the same network before training
models = {}
for kind in PARAMETERISATIONS:
    torch.manual_seed(0)
    models[kind] = TimeConditionedMLP(num_steps=T)

    def loss_on_batch(x0, g, model=models[kind], kind=kind):
        t = torch.randint(0, T, (len(x0),), generator=g)
        return prediction_loss(model, x0, t, alpha_bar, torch.randn(x0.shape, generator=g), kind)

    train(models[kind], loss_on_batch, data, steps=1500, batch_size=512, lr=1e-2, desc=kind)


def converted(kind, want):
    """The model of ``kind`` as a predictor of ``want`` ("sample" -> data, "epsilon" -> noise), via to_data_eps."""
    def predict(x, t):
        out = models[kind](x, t)
        data_hat, eps_hat = to_data_eps(out, kind, x, alpha_bar[t].sqrt(), (1 - alpha_bar[t]).sqrt())
        return data_hat if want == "sample" else eps_hat
    return predict


controls = mixture_controls(1000, torch.Generator().manual_seed(3))
threshold = calibrated_threshold(held_out, controls)
with torch.no_grad():
    samples = {kind: ddim_sample(converted(kind, "epsilon"), (1000, 2), alpha_bar, 50,
                                 torch.Generator().manual_seed(2), clip=None) for kind in PARAMETERISATIONS}
    controls_and_untrained = {**controls, "untrained": ddim_sample(untrained, (1000, 2), alpha_bar, 50,
                                                                   torch.Generator().manual_seed(2), clip=None)}
verdicts = {kind: mixture_bar(x, held_out, eight_gaussian_centres(), threshold, name=f"{kind}-prediction")
            for kind, x in samples.items()}
control_verdicts = {name: mixture_bar(x, held_out, eight_gaussian_centres(), threshold, name=name)
                    for name, x in controls_and_untrained.items()}
print(f"MMD threshold (half the closest negative control's): {threshold:.4f}\n")
for verdict in [*verdicts.values(), *control_verdicts.values()]:
    print(verdict)
assert not any(control_verdicts.values()), "every negative control (and the untrained network) must fail the bar"
assert verdicts["epsilon"] and verdicts["v_prediction"], "epsilon- and v-prediction should pass the bar at this budget"
assert not verdicts["sample"] and verdicts["sample"].figures["spread ratio"][0] < 1 / 1.4, \
    "at this budget the x0-model's modes come out too narrow"

# %%
# experiment: where each parameterisation is accurate: error of the data guess along t
g = torch.Generator().manual_seed(6)
probe_noise = torch.randn(held_out.shape, generator=g)
print("mean squared error of the data guess x_data_hat, by step t (same held-out points and noise)")
print("t     " + "  ".join(f"{k:>13}" for k in PARAMETERISATIONS))
data_errors = {}
for step in (1, 10, 30, 60, 99):
    tt = torch.full((len(held_out),), step)
    a = alpha_bar[tt]
    x_t = per_sample(a.sqrt(), held_out) * held_out + per_sample((1 - a).sqrt(), held_out) * probe_noise
    with torch.no_grad():
        errs = [float(((converted(k, "sample")(x_t, tt) - held_out) ** 2).sum(1).mean()) for k in PARAMETERISATIONS]
    print(f"{step:<5} " + "  ".join(f"{e:13.4f}" for e in errs))
    data_errors[step] = dict(zip(PARAMETERISATIONS, errs))
assert data_errors[99]["epsilon"] > 5 * max(data_errors[99]["sample"], data_errors[99]["v_prediction"]), \
    "at the noisiest step the eps-model's data guess should be far worse (it divides by sqrt(alpha_bar))"
assert data_errors[1]["sample"] > 2 * max(data_errors[1]["epsilon"], data_errors[1]["v_prediction"]), \
    "at the cleanest step the x0-model's data guess should be the least accurate"

# %% [markdown]
# Read the two tables together. At this budget epsilon- and v-prediction pass the bar; the x0-model covers
# every mode but makes each one too narrow. The error table says where each model is accurate, and a
# model's errors reach the sampler through the conversion. At the noisiest step the eps-model's data guess
# `(x - sigma eps_hat) / alpha` divides by an `alpha` near 0, and its error is ten times the others'. At the
# cleanest step the x0-model is the least accurate, and the sampler needs its noise guess
# `(x - alpha x_data_hat) / sigma`, which divides that error by a `sigma` near 0. v-prediction is accurate at
# both ends; Salimans & Ho introduced it for samplers with few steps, where the noisiest steps weigh most.
# In 03 the course's Diffusion Policy predicts the clean sample (`prediction_type="sample"`, an option of
# Diffusion Policy's code), as RDT (05) does, and clips it to the action range, which tames the narrow end.
#
# Scrub through `t` below: all three guess the clean data from the same noisy points.

# %%
# experiment: the parameterisations side by side
from widgets.bridge import parameterisation_explorer

probe = held_out[:400]
probe_eps = torch.randn(probe.shape, generator=torch.Generator().manual_seed(8))


def noisy(x0, t):
    a = alpha_bar[t]
    return per_sample(a.sqrt(), x0) * x0 + per_sample((1 - a).sqrt(), x0) * probe_eps


parameterisation_explorer({k: converted(k, "sample") for k in PARAMETERISATIONS}, noisy, probe, T)

# %% [markdown]
# ## 3 · The probability-flow ODE, and DDIM as Euler's method
#
# Song et al. showed that the noisy marginals of a diffusion are also produced by a deterministic ODE,
# the **probability-flow ODE**, whose drift uses the score. Written in the right variables it is tiny.
# Divide the DDPM point by its signal scale:
#
# $$y = \frac{x}{\sqrt{\bar\alpha}} = x_{\text{data}} + s\,\varepsilon, \qquad s = \sqrt{\frac{1-\bar\alpha}{\bar\alpha}} .$$
#
# Now `y` is the data plus noise of scale `s` (the "variance exploding" picture), and its probability-flow
# ODE is `dy/ds = eps_hat(x, t)`: as the noise level `s` shrinks, move `y` against the predicted noise.
#
# **In our words:** DDIM with eta = 0 is exactly one Euler step of this ODE from `s_t` to `s_{t_prev}`,
# since `x_prev = sqrt(ab_prev) x0_hat + sqrt(1 - ab_prev) eps_hat` becomes, after dividing by
# `sqrt(ab_prev)`, `y_prev = x0_hat + s_prev eps_hat = y + (s_prev - s) eps_hat`. Other ODE solvers then
# give other samplers: below, Heun's second-order method against DDIM, on the same model and times.

# %% provided="_scales"

# %% provided="_check_step"

# %% graded="euler_step" points=2

# %% graded="heun_step" points=2

# %% provided="ode_sample"

# %%
# experiment: DDIM is the Euler step (numerically), and quality against step count
eps_model = converted("epsilon", "epsilon")
with torch.no_grad():
    ddim_x = ddim_sample(eps_model, (1000, 2), alpha_bar, 20, torch.Generator().manual_seed(2), clip=None)
    euler_x = ode_sample(euler_step, eps_model, (1000, 2), alpha_bar, 20, torch.Generator().manual_seed(2))
    ode_solution = ode_sample(heun_step, eps_model, (1000, 2), alpha_bar, T, torch.Generator().manual_seed(2))
gap = float((ddim_x - euler_x).abs().max())
print(f"DDIM (eta = 0, 20 steps) against your Euler steps of the ODE: largest difference {gap:.1e}")
assert gap < 1e-4, "DDIM and the Euler step of the probability-flow ODE should agree to rounding"

STEP_COUNTS = (2, 5, 10, 20, 50)
sweep = {}
with torch.no_grad():
    for solver, step in (("DDIM = Euler", euler_step), ("Heun", heun_step)):
        for n in STEP_COUNTS:
            x = ode_sample(step, eps_model, (1000, 2), alpha_bar, n, torch.Generator().manual_seed(2))
            verdict = mixture_bar(x, held_out, eight_gaussian_centres(), threshold, name=f"{solver}, {n} steps")
            sweep[solver, n] = (float((x - ode_solution).norm(dim=1).mean()), verdict)
print("mean distance to the ODE's solution (Heun, 100 steps), and the bar, by number of steps")
print(f"{'steps':>5}  {'DDIM = Euler':>22}  {'Heun':>22}")
for n in STEP_COUNTS:
    cells = [f"{sweep[s, n][0]:.4f} {'pass' if sweep[s, n][1] else 'FAIL'} (MMD {sweep[s, n][1].figures['MMD']:.4f})"
             for s in ("DDIM = Euler", "Heun")]
    print(f"{n:>5}  {cells[0]:>22}  {cells[1]:>22}")
for solver in ("DDIM = Euler", "Heun"):
    distances = [sweep[solver, n][0] for n in STEP_COUNTS]
    assert all(a > b for a, b in zip(distances, distances[1:])), f"{solver}: more steps should get closer"
    assert not sweep[solver, 2][1] and sweep[solver, 50][1], f"{solver}: 2 steps fail the bar, 50 pass"
assert all(sweep["Heun", n][0] < sweep["DDIM = Euler", n][0] for n in (10, 20, 50)), \
    "from 10 steps on, Heun should be closer to the ODE's solution than Euler"
calls = {("DDIM = Euler", n): n for n in STEP_COUNTS} | {("Heun", n): 2 * n - 1 for n in STEP_COUNTS}
print("\nper model call: Heun, 10 steps ({} calls): {:.4f}; DDIM, 20 steps ({} calls): {:.4f}".format(
    calls["Heun", 10], sweep["Heun", 10][0], calls["DDIM = Euler", 20], sweep["DDIM = Euler", 20][0]))
assert sweep["Heun", 10][0] > sweep["DDIM = Euler", 20][0], "at equal model calls DDIM is closer on this chain"

# %%
# experiment: plot quality against step count
import plotly.graph_objects as go
from plotly.subplots import make_subplots

fig = make_subplots(rows=1, cols=2, subplot_titles=["distance to the ODE's solution", "MMD to held-out data"])
for solver, colour in (("DDIM = Euler", "royalblue"), ("Heun", "indianred")):
    fig.add_scatter(x=list(STEP_COUNTS), y=[sweep[solver, n][0] for n in STEP_COUNTS], name=solver,
                    line=dict(color=colour), row=1, col=1)
    fig.add_scatter(x=list(STEP_COUNTS), y=[sweep[solver, n][1].figures["MMD"] for n in STEP_COUNTS],
                    showlegend=False, line=dict(color=colour), row=1, col=2)
fig.add_hline(y=threshold, line=dict(color="gray", dash="dash"), annotation_text="bar (from the controls)", row=1, col=2)
fig.update_xaxes(type="log", title_text="steps (log)")
fig.update_yaxes(type="log")
fig.update_layout(height=340, margin=dict(t=40, b=40, l=40, r=20))
fig.show()

# %% [markdown]
# Read the table by steps and by cost. Per step, Heun is closer to the ODE's solution from 10 steps on, as a
# second-order method should be; with 5 steps or fewer neither solver is accurate. But Heun calls the model
# twice per step, and at an equal number of model calls DDIM is closer on this model (both facts are printed
# and asserted above): a higher order pays only where the solution is smooth enough in the chosen variable. Samplers built for few steps (DPM-Solver, Karras et al.'s schedules) start from this ODE and
# choose the variable and the times with care.
#
# The slider runs both solvers from the same noise; the grey cloud is the ODE's solution.

# %%
# experiment: the solver explorer
from widgets.bridge import solver_explorer

start = {"DDIM = Euler": euler_step, "Heun": heun_step}
solver_explorer({name: (lambda n, step=step: ode_sample(step, eps_model, (400, 2), alpha_bar, n,
                                                        torch.Generator().manual_seed(2)))
                 for name, step in start.items()},
                ode_solution[:400], max_steps=50)

# %% [markdown]
# ## 4 · From the ELBO to DDPM's loss
#
# DDPM is a latent-variable model with latents `x_{T-1}, …, x_0` (our 0-based steps), and Ho et al. train
# it on a bound of the kind 01 built. Apart from a prior term and a decoder term, the bound is a sum over
# steps `t >= 1` of
#
# $$L_{t-1} = \mathrm{KL}\big(q(x_{t-1} \mid x_t, x_0)\ \big\|\ p_\theta(x_{t-1} \mid x_t)\big),$$
#
# a KL between two diagonal Gaussians: exactly 01's `kl_diag_gaussians`. `q` is the posterior of 02
# (`posterior_mean_variance`); `p_theta` has the same variance and the mean that the network's guess
# `x0_hat` gives. Rewrite both means with the noise and the KL becomes
#
# $$L_{t-1} = w_t\, \|\varepsilon - \hat\varepsilon_\theta\|^2, \qquad
#   w_t = \frac{\beta_t^2}{2\,\tilde\beta_t\,\alpha_t\,(1-\bar\alpha_t)} ,$$
#
# so the bound is a **weighted** noise regression, and `L_simple` (02's loss) is the same regression
# with every `w_t` set to 1. Ho et al. found the unweighted one gave better samples, the weighted one
# better likelihoods.
#
# First, write again the two pieces from 01 and 02 that the bound is made of (here graded on their own).

# %% graded="kl_diag_gaussians" points=1

# %% graded="posterior_mean_variance" points=2

# %% graded="bound_term" points=2

# %% graded="bound_weight" points=2

# %%
# experiment: the bound term by term, from your functions, equals the weighted noise regression
all_steps = torch.arange(1, T)
weights = bound_weight(all_steps, betas, alpha_bar)
bound_noise = torch.randn(held_out.shape, generator=torch.Generator().manual_seed(9))


def terms(step):
    """Each held-out point's KL term at ``step``, and w_t times its squared noise error."""
    tt = torch.full((len(held_out),), step)
    kl = bound_term(eps_model, held_out, tt, betas, alpha_bar, bound_noise)
    a = per_sample(alpha_bar[tt], held_out)
    x_t = a.sqrt() * held_out + (1 - a).sqrt() * bound_noise
    error = ((bound_noise - eps_model(x_t, tt)) ** 2).sum(1)
    return kl, bound_weight(tt, betas, alpha_bar) * error


with torch.no_grad():
    worst = max(float((k - w).abs().max() / w.mean()) for k, w in map(terms, range(1, T)))
    per_step = torch.stack([terms(s)[0].mean() for s in range(1, T)])
print(f"largest gap between KL_t and w_t ||eps - eps_hat||^2 over all points and t >= 1, "
      f"relative to that step's mean term: {worst:.1e} (float32 rounding)")
print(f"w_t ranges from {float(weights.min()):.3g} to {float(weights.max()):.3g} (L_simple: 1 everywhere)")
print(f"sum of the KL terms (nats per point): {float(per_step.sum()):.3f}; the largest at t = {int(per_step.argmax()) + 1}")
assert worst < 1e-2, "each KL term should equal the weighted noise error (to float32 rounding)"

# %%
# experiment: the bound explorer
from widgets.bridge import bound_explorer

bound_explorer(lambda step: tuple(v[:300] for v in terms(step)), torch.cat([torch.zeros(1), weights]))

# %% [markdown]
# ## Takeaways
#
# - A noise predictor is a score model: `score = -eps / sigma`, with `sigma` the noise's standard deviation.
#   Denoising score matching learns it; Langevin samples with it if the step is small against the density's scale.
# - epsilon, x0, v, score and flow velocity are one model: two linear equations turn any into any, on any
#   Gaussian path. DDPM's `alpha_bar` maps to a flow-matching time by matching `alpha / sigma`.
# - DDIM (eta = 0) is Euler's method on the probability-flow ODE in `(x / sqrt(alpha_bar), sqrt((1 - alpha_bar) / alpha_bar))`;
#   a second-order solver gets closer with the same number of steps.
# - DDPM's bound is a sum of 01's Gaussian KLs; L_simple drops their weights `w_t`.
#
# Next: Diffusion Policy (03) trains an x0-predicting network with these pieces; 07 and 08 come back to
# the velocity, now as the thing the network learns.
