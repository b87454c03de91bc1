# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 08 · Diffusion paths and optimal-transport paths
#
# In assignment 07 the conditional path was a free choice: any Gaussian `N(mu_t(x1), sigma_t^2 I)`
# that starts as noise and ends at the data. Diffusion models make a particular choice. The
# forward noising of a DDPM, run in continuous time, is a Gaussian path too, so a diffusion model
# can be trained and sampled *as a flow*. This assignment puts the diffusion paths next to the
# straight OT path and measures what the choice changes.
#
# You will implement:
#
# 1. the **variance-preserving (VP)** path in flow-matching time: its signal scale, its
#    coefficients and their derivatives, samples and the conditional field;
# 2. the **variance-exploding (VE)** path and its field;
# 3. a **straightness** measure of sampled trajectories;
#
# use the conversion of a **noise prediction into a velocity** you wrote in 02b (given here),
# then train VP and OT models on the same data and compare them on sample quality against the
# number of ODE steps, and on straightness.
#
# Sources: Song, Sohl-Dickstein, Kingma, Kumar, Ermon & Poole, *Score-Based Generative Modeling
# through Stochastic Differential Equations* (ICLR 2021; the VP and VE SDEs); Lipman et al.,
# *Flow Matching for Generative Modeling* (ICLR 2023; diffusion paths as conditional paths);
# Liu, Gong & Liu, *Flow Straight and Fast* (ICLR 2023; rectified flow, straightness);
# Albergo & Vanden-Eijnden, *Building normalizing flows with stochastic interpolants* (ICLR 2023);
# Tong et al., *Improving and generalizing flow-based generative models with minibatch optimal
# transport* (TMLR 2024).
#
# **Conventions.** Flow-matching time `t ∈ [0, 1]`, **`t = 0` noise, `t = 1` data**. Diffusion papers
# run their own clock `s` the other way (`s = 0` data, `s = 1` noise); here always `s = 1 - t`.
# Primes are derivatives in `t`. Times are `(B,)` float tensors; data `(B, 2)` or `(B, H, D)`.

# %%
import math

import torch
from tqdm.auto import tqdm

from coursekit.checks.visible import checker
from coursekit.hints import hinter
from coursekit.checks.runtime import skip_experiments_when_autograding
from coursekit.validate import check_flow_times, check_same_shape, check_tensor, check_ve_sigmas, check_vp_betas

check = checker("08_diffusion_and_ot_paths")
hint = hinter("08_diffusion_and_ot_paths")  # stuck? hint("<function name>"): a nudge, then the key idea, then the formula
skip_experiments_when_autograding()  # cells starting "# experiment:" carry no points; the autograder skips them
torch.manual_seed(0)
torch.set_num_threads(1);  # tiny models: one thread is fastest here, and leaves the other core free

# %% [markdown]
# The constants, fixed for the whole assignment: the VP schedule of Song et al. (`beta_min = 0.1`,
# `beta_max = 20`), and a VE schedule from `sigma_min = 0.01` to `sigma_max = 5` (Song et al. pick
# `sigma_max` near the largest distance between two data points: 50 for CIFAR-10 images, about
# 4.5 for our eight Gaussians). And the helper from 07 that reshapes `(B,)` values to `(B, 1, …)`.

# %%
BETA_MIN, BETA_MAX = 0.1, 20.0
VE_SIGMA_MIN, VE_SIGMA_MAX = 0.01, 5.0

# %% provided="solutions.flow_matching.per_sample"

# %% [markdown]
# ## 1 · The VP path
#
# The VP SDE of Song et al. noises data with a rate `beta(s)` that grows linearly in diffusion time,
# `beta(s) = beta_min + s (beta_max - beta_min)`. After time `s` a data point has been scaled down and
# mixed with noise, `x = alpha_s x1 + sqrt(1 - alpha_s^2) eps`, with
#
# $$\alpha_s = \exp\Big(-\tfrac12 \int_0^s \beta(r)\,dr\Big) = \exp\Big(-\tfrac12\big(\beta_{\min} s + \tfrac12(\beta_{\max}-\beta_{\min})\, s^2\big)\Big).$$
#
# (This `alpha_s` is the *square root* of DDPM's `alpha_bar`: `alpha_s^2 + sigma_s^2 = 1`, hence
# "variance preserving".) With the constants above, `alpha_1 ≈ 0.0066`: at `s = 1` almost nothing of
# the data is left.

# %% graded="vp_alpha" points=1

# %% [markdown]
# In flow-matching time the path runs backwards, `mu_t = alpha_{1-t} x1` and
# `sigma_t = sqrt(1 - alpha_{1-t}^2)` (Lipman et al., Sec. 4.1). To build its field we need the
# `t`-derivatives. The chain rule flips a sign: `d/dt alpha_{1-t} = -(d/ds alpha_s)` at `s = 1 - t`,
# and `d/ds alpha_s = -1/2 beta(s) alpha_s`, so
#
# $$\alpha_t' = \tfrac12\,\beta(1-t)\,\alpha_t > 0, \qquad \sigma_t' = -\frac{\alpha_t\,\alpha_t'}{\sigma_t} < 0 .$$
#
# In flow-matching time the signal *grows* and the noise *shrinks*. Writing `alpha_t` for
# `alpha_{1-t}` from here on, implement the four coefficients. At `t = 1`, `sigma_t = 0` and
# `sigma_t'` is infinite; the validation rejects `t = 1`.

# %% graded="vp_schedule" points=2

# %% graded="vp_path_sample" points=1

# %% [markdown]
# The conditional field is 07's general formula with this `mu_t = alpha_t x1` and `sigma_t`:
#
# $$u_t(x \mid x_1) = \frac{\sigma_t'}{\sigma_t}\big(x - \alpha_t x_1\big) + \alpha_t'\, x_1 .$$

# %% graded="vp_conditional_field" points=2

# %% [markdown]
# ## 2 · The VE path
#
# The VE SDE never shrinks the data; it only adds noise, with a geometric schedule
# `sigma(s) = sigma_min (sigma_max / sigma_min)^s`. In flow-matching time: `mu_t = x1`,
# `sigma_t = sigma(1 - t)`, so the path starts wide, `N(x1, sigma_max^2 I)`, and ends
# at `N(x1, sigma_min^2 I)`. Its field is the general formula with `mu_t' = 0`; because
# `sigma_t'/sigma_t = -log(sigma_max / sigma_min)` is a constant, it is
#
# $$u_t(x \mid x_1) = \log\frac{\sigma_{\max}}{\sigma_{\min}}\ (x_1 - x) \quad\text{for every } t .$$

# %% graded="ve_path_sample" points=1

# %% graded="ve_conditional_field" points=1

# %% [markdown]
# Note the VE path's `t = 0` end is `N(x1, sigma_max^2 I)`: close to `N(0, sigma_max^2 I)` only
# because `sigma_max` dwarfs the data. A VE sampler must start from that wide Gaussian, not from
# `N(0, I)`:

# %%
from coursekit.kit.data import eight_gaussians

g = torch.Generator().manual_seed(0)
x1_demo = eight_gaussians(2000, g)
eps_demo = torch.randn(x1_demo.shape, generator=g)
for t_val in (0.0, 0.5, 1.0):
    t_demo = torch.full((2000,), t_val)
    print(f"t = {t_val:.1f}: std of VE samples {float(ve_path_sample(x1_demo, t_demo, eps_demo).std()):.3f}, "
          f"of VP samples {float(vp_path_sample(x1_demo, t_demo, eps_demo).std()):.3f}")

# %% [markdown]
# ### Watch the paths
#
# The same noise and the same data points, moved along the VP path (left) and the OT path of 07
# with `sigma_min = 0` (middle): `x_t = t x1 + (1 - t) eps`. The right panel plots each path as
# `x_t = a_t x1 + s_t eps`. The OT particles travel in straight lines at constant speed. The VP
# particles are still mostly noise at `t = 0.5` (`a_t ≈ 0.28`), then rush to the data along curves.

# %%
def ot_path(x1, t, eps):
    return per_sample(t, x1) * x1 + per_sample(1 - t, x1) * eps   # the OT path of 07, sigma_min = 0


# %%
# experiment: path explorer
from widgets.ot_paths import path_comparison_explorer

path_comparison_explorer({"VP": vp_path_sample, "OT": ot_path}, eight_gaussians(300, torch.Generator().manual_seed(4)))

# %% [markdown]
# ## 3 · From a noise prediction to a velocity
#
# A diffusion model is usually trained to predict the noise, `eps_theta(x_t, t) ≈ eps`. For any Gaussian
# path `x_t = alpha_t x1 + sigma_t eps` that prediction determines a velocity: the noise implies a
# data estimate `x1_hat = (x_t - sigma_t eps) / alpha_t`, and moving both parts along the path gives
#
# $$u = \alpha_t'\,\hat x_1 + \sigma_t'\,\hat\varepsilon .$$
#
# So a noise-prediction network can be sampled with an ODE solver, exactly like a velocity network
# (the "probability-flow ODE" of Song et al.). Dividing by `alpha_t` needs `alpha_t > 0`.
#
# You have written this conversion already: in 02b, `to_data_eps(eps, "epsilon", x, alpha, sigma)`
# gives `x1_hat`, and the `velocity` entry of `predictions` moves it along the path. It is not graded
# twice; here it is, in this assignment's notation, for the path you built above:

# %% provided="eps_to_velocity"

# %% [markdown]
# With the *true* noise the conversion must give your VP conditional field exactly (up to float32
# rounding; a large difference means your `vp_schedule` and `vp_conditional_field` disagree):

# %%
t_demo = 0.95 * torch.rand(2000, generator=g)
x_t_demo = vp_path_sample(x1_demo, t_demo, eps_demo)
from_eps = eps_to_velocity(eps_demo, x_t_demo, *vp_schedule(t_demo))
print(f"largest difference from vp_conditional_field: "
      f"{float((from_eps - vp_conditional_field(x_t_demo, x1_demo, t_demo)).abs().max()):.2e}")

# %% [markdown]
# ## 4 · How straight are the trajectories?
#
# An ODE solver is exact for straight lines run at constant speed, whatever its step count. Liu et
# al. measure how far sampled trajectories are from that ideal:
#
# $$S = \int_0^1 \mathbb E\,\big|(x_1 - x_0) - \tfrac{d}{dt}x_t\big|^2\,dt ,$$
#
# zero only for straight, constant-speed paths. From a sampled trajectory (positions at increasing
# times `t_0 = 0 < … < t_K = 1`), use the finite-difference velocity of each step,
# `(x_{k+1} - x_k) / (t_{k+1} - t_k)`, and weight each step by its length `t_{k+1} - t_k` (the steps need
# not be equal). `|·|^2` is the squared norm over all of a sample's coordinates; `E` the mean over
# the batch. We will also print the dimensionless ratio `S / E|x_1 - x_0|^2`.

# %% graded="straightness" points=2

# %% [markdown]
# ## 5 · Experiment: the same network on two paths
#
# Two copies of the same MLP, the same data, the same number of training steps and the same seed;
# only the path differs:
#
# - **OT**: trained with the OT target `x1 - eps` (07's CFM loss with `sigma_min = 0`);
# - **VP**: trained on the VP path with **your** `vp_path_sample` and `vp_conditional_field`.
#
# VP training times stop just short of `t = 1`, where the field is undefined. Both are sampled
# with Euler steps from `N(0, I)`. Quality is the kernel distance (MMD) to held-out data, and the bar
# is 02's mixture bar: every mode covered with a fair share, 85 % of the samples in a mode, each mode's
# spread within a factor 1.4 of the data's, and an MMD below half that of the closest wrong answer (a
# ring, seven of eight modes, blobs four times too wide, a moment-matched Gaussian).
#
# (A diffusion model trained to predict the noise on the VP path, sampled through
# `eps_to_velocity`, behaves like the VP model here: it is the same path, only a different
# parameterisation of the same field. Try it: train with target `eps` and sample with
# `lambda x, t: eps_to_velocity(model(x, t), x, *vp_schedule(t))`.)

# %%
# experiment: training
from coursekit.kit.evidence import calibrated_threshold, eight_gaussian_centres, mixture_bar, mixture_controls, mmd
from coursekit.kit.models import ContinuousTimeMLP
from coursekit.kit.ode import integrate, time_grid
from coursekit.kit.train import train

data = eight_gaussians(4000, torch.Generator().manual_seed(0))
held_out = eight_gaussians(1000, torch.Generator().manual_seed(1))
T_MAX = 0.999   # VP training times in [0, T_MAX)


def make_loss(model, kind):
    def loss_on_batch(x1, g):
        eps = torch.randn(x1.shape, generator=g)
        if kind == "OT":
            t = torch.rand(len(x1), generator=g)
            return ((model(ot_path(x1, t, eps), t) - (x1 - eps)) ** 2).mean()
        t = T_MAX * torch.rand(len(x1), generator=g)
        x_t = vp_path_sample(x1, t, eps)
        return ((model(x_t, t) - vp_conditional_field(x_t, x1, t)) ** 2).mean()
    return loss_on_batch


fields = {}
for kind in ("OT", "VP"):
    torch.manual_seed(0)
    fields[kind] = ContinuousTimeMLP()
    train(fields[kind], make_loss(fields[kind], kind), data, steps=1500, batch_size=512, lr=1e-2, desc=kind)

# %%
# experiment: quality vs ODE steps
import plotly.graph_objects as go
from plotly.subplots import make_subplots

STEPS = [1, 2, 4, 8, 16, 32, 64]
noise = torch.randn(1000, 2, generator=torch.Generator().manual_seed(2))
with torch.no_grad():
    untrained = integrate(ContinuousTimeMLP(), noise, 32)
    samples = {kind: {n: integrate(f, noise, n) for n in STEPS} for kind, f in fields.items()}
results = {kind: {n: mmd(x, held_out) for n, x in by_steps.items()} for kind, by_steps in samples.items()}
controls = mixture_controls(1000, torch.Generator().manual_seed(3))
THRESHOLD = calibrated_threshold(held_out, controls)
print(f"MMD threshold, half the closest negative control's: {THRESHOLD:.4f}")
print(f"{'Euler steps':>12}" + "".join(f"{kind:>10}" for kind in fields) + f"{'OT ahead':>10}")
for n in STEPS:
    print(f"{n:>12}" + "".join(f"{results[kind][n]:>10.4f}" for kind in fields)
          + f"{str(results['OT'][n] < results['VP'][n]):>10}")
print()
verdicts = {name: mixture_bar(x, held_out, eight_gaussian_centres(), THRESHOLD, name=name)
            for name, x in {"OT, 64 steps": samples["OT"][64], "VP, 64 steps": samples["VP"][64],
                            "untrained": untrained, **controls}.items()}
for verdict in verdicts.values():
    print(verdict)
assert verdicts["OT, 64 steps"] and verdicts["VP, 64 steps"], "every model should match the data with 64 steps"
assert not any(verdicts[name] for name in ["untrained", *controls]), "every negative control should fail the bar"
OT_AHEAD = [n for n in STEPS if results["OT"][n] < results["VP"][n]]
print(f"\nOT has the lower MMD at {OT_AHEAD} steps")
assert all(n in OT_AHEAD for n in (4, 8, 16)), "with few steps, the straighter OT model should be ahead"

fig = go.Figure()
for kind in fields:
    fig.add_scatter(x=STEPS, y=[results[kind][n] for n in STEPS], mode="lines+markers", name=kind)
fig.add_scatter(x=[1, 64], y=[THRESHOLD, THRESHOLD], mode="lines", line=dict(dash="dash"), name="threshold")
fig.update_layout(height=330, width=560, title="sample quality vs Euler steps (same network, same budget)",
                  xaxis=dict(type="log", title="Euler steps"), yaxis=dict(type="log", title="MMD"),
                  margin=dict(t=50, b=40, l=50, r=20))
fig.show()

# %% [markdown]
# At one or two steps every model fails, in two different ways. The OT field at `t = 0` is
# `E[x1] - x0`, so one step from `x0` lands every sample on the data mean. The VP velocity is
# almost zero at small `t` (the path keeps nearly all its noise until about `t = 0.5`), so a VP
# step barely leaves the noise. With few steps the straighter OT model is well ahead (the table's last
# column, asserted for 4, 8 and 16 steps); with many steps the solver's error fades and both models
# end near the same distance, set by the network and its budget.
#
# ### Straightness: conditional paths and learned flows
#
# First the conditional paths themselves, `t -> x_t` for fixed `(x1, eps)` pairs; then 64-step Euler
# trajectories of the two trained models from the same 1000 noise samples. All measured with
# **your** `straightness`.

# %%
# experiment: straightness
times = time_grid(64)
x1_s, eps_s = held_out, torch.randn(held_out.shape, generator=torch.Generator().manual_seed(3))
conditional = {name: torch.stack([path(x1_s, tk.expand(len(x1_s)).contiguous(), eps_s) for tk in times])
               for name, path in (("OT", ot_path), ("VP", vp_path_sample))}
S_conditional = {name: float(straightness(traj, times)) for name, traj in conditional.items()}
with torch.no_grad():
    trajectories = {kind: integrate(f, noise, 64, return_trajectory=True)[1] for kind, f in fields.items()}
S = {kind: float(straightness(traj, times)) for kind, traj in trajectories.items()}
print(f"{'model':>8} {'S, conditional path':>20} {'S, learned flow':>16} {'S / E|x1 - x0|^2':>17} {'quality, 4 steps':>17}")
for kind, traj in trajectories.items():
    span = float(((traj[-1] - traj[0]) ** 2).sum(-1).mean())
    print(f"{kind:>8} {S_conditional[kind]:>20.3f} {S[kind]:>16.3f} {S[kind] / span:>17.3f} {results[kind][4]:>17.4f}")
assert S_conditional["OT"] < 1e-6 < S_conditional["VP"], "OT conditional paths are straight lines, VP ones are not"
assert S["OT"] < S["VP"], "the OT flow should be the straighter one"

fig = make_subplots(rows=1, cols=len(trajectories), subplot_titles=[f"{k}: S = {S[k]:.2f}" for k in trajectories])
for col, (kind, traj) in enumerate(trajectories.items(), start=1):
    lines = torch.cat([traj[:, :60], torch.full((1, 60, 2), float("nan"))]).transpose(0, 1).reshape(-1, 2)
    fig.add_scatter(x=lines[:, 0].numpy(), y=lines[:, 1].numpy(), mode="lines", line=dict(width=0.8),
                    showlegend=False, row=1, col=col)
    fig.add_scatter(x=traj[-1, :60, 0].numpy(), y=traj[-1, :60, 1].numpy(), mode="markers",
                    marker=dict(size=4, color="black"), showlegend=False, row=1, col=col)
fig.update_layout(height=330, margin=dict(t=40, b=20, l=20, r=20))
fig.show()

# %% [markdown]
# What to read off:
#
# - Each OT conditional path is a straight line run at constant speed (`S = 0`); each VP one is
#   curved and changes speed (`S` of about 4 here: the table's first column).
# - The *learned* flows are all curved, OT included, and much closer to each other. The network
#   learns the **marginal** field, an average over every data point a noisy `x` could lead to.
#   With noise and data paired at random, conditional lines cross, and the average bends: early on
#   each particle heads towards the data mean, later it turns towards one mode. Straight conditional
#   paths make the flow *straighter*, not straight.
# - Straighter flows tolerate coarser steps: the OT model is ahead with 4 to 16 steps.
#
# Making the marginal flow itself straight takes a better pairing of noise with data: minibatch
# optimal transport (Tong et al.) or re-training on the model's own (noise, sample) pairs, the
# "reflow" of rectified flow (Liu et al.).
#
# ## Takeaways
#
# - Diffusion's VP and VE noising are Gaussian conditional paths; in flow-matching time
#   `mu_t = alpha_{1-t} x1`, `sigma_t = sqrt(1 - alpha_{1-t}^2)` (VP), `mu_t = x1`, `sigma_t = sigma(1 - t)` (VE).
# - Reversing the clock flips the sign of every derivative: check which way time runs.
# - A noise prediction converts to a velocity, so diffusion models can be sampled as flows.
# - Straight conditional paths give straighter (not straight) learned flows, which need fewer ODE steps.
