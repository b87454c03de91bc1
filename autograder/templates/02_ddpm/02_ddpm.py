# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 02 · Denoising diffusion: DDPM and DDIM
#
# A diffusion model learns to undo a fixed, gradual corruption. The *forward process* adds a
# little Gaussian noise at each of `T` steps until data becomes pure noise; a network learns to
# predict that noise, and running the corruption backwards, one small denoising step at a time,
# turns fresh noise into new samples. Robot policies such as Diffusion Policy generate action
# chunks this way.
#
# You will implement, and then watch:
#
# 1. the **noise schedules** (linear and cosine) and the cumulative `alpha_bar`;
# 2. **forward noising** `q_sample` and the **epsilon-prediction loss**;
# 3. the **posterior** `q(x_{t-1} | x_t, x_0)` and one **reverse step**;
# 4. the **ancestral sampler** (DDPM) and the **DDIM** sampler that skips steps.
#
# Sources: Ho, Jain & Abbeel, *Denoising Diffusion Probabilistic Models* (2020);
# Nichol & Dhariwal, *Improved DDPM* (2021); Song, Meng & Ermon, *Denoising Diffusion
# Implicit Models* (2021).
#
# **Conventions.** Tensors are `float32`, batch first. Time is **0-based**: `t ∈ {0, …, T-1}`,
# and our `t` is the paper's step `t + 1` (the same indexing as the `diffusers` library).
# Randomness always comes from an explicit `torch.Generator` or noise tensor, so every result
# is reproducible. Each exercise has a check cell right after it: run it, and read its message.

# %%
import math

import torch
from tqdm.auto import tqdm

from coursekit.checks.visible import checker
from coursekit.hints import hinter
from coursekit.checks.runtime import skip_experiments_when_autograding
from coursekit.validate import check_same_shape, check_tensor, check_timesteps

check = checker("02_ddpm")
hint = hinter("02_ddpm")  # stuck? hint("<function name>"): a nudge, then the key idea, then the formula
skip_experiments_when_autograding()  # cells starting "# experiment:" carry no points; the autograder skips them
torch.set_num_threads(1)  # tiny models: one thread is fastest, and leaves the other core free
torch.manual_seed(0);

# %% [markdown]
# ## 1 · Noise schedules
#
# A schedule fixes the variance `beta_t` of the noise added at step `t`. With
# `alpha_t = 1 - beta_t`, the noise piles up multiplicatively:
#
# $$\bar\alpha_t = \prod_{s=0}^{t} (1 - \beta_s), \qquad q(x_t \mid x_0) = \mathcal N\big(\sqrt{\bar\alpha_t}\, x_0,\ (1-\bar\alpha_t) I\big).$$
#
# Ho et al. spaced `beta` **linearly** from `1e-4` to `0.02` over `T = 1000` steps. Nichol & Dhariwal
# observed that this destroys information too early and proposed a **cosine** schedule that
# defines `alpha_bar` directly, with a small offset `s = 0.008`:
#
# $$f(u) = \cos^2\!\Big(\frac{u + s}{1 + s}\cdot\frac{\pi}{2}\Big),\qquad \beta_t = \min\Big(1 - \frac{f((t+1)/T)}{f(t/T)},\ 0.999\Big).$$
#
# The cap at 0.999 matters: without it the last `beta` is (almost) 1 and the reverse process
# divides by nearly zero.

# %% graded="linear_beta_schedule" points=1

# %% graded="cosine_beta_schedule" points=2

# %% graded="compute_alpha_bar" points=1

# %% [markdown]
# ### Explore the schedules
#
# The sliders below are driven by **your** functions. Compare `alpha_bar` for the two schedules,
# and watch the log signal-to-noise ratio `log(alpha_bar / (1 - alpha_bar))`: the linear schedule
# spends many steps at very low SNR, where the data is already gone.

# %%
from widgets import schedule_explorer

schedule_explorer(
    {"linear": linear_beta_schedule, "cosine": lambda T, beta_start, beta_end: cosine_beta_schedule(T)},
    compute_alpha_bar,
)

# %% [markdown]
# ## 2 · Forward noising and the training loss
#
# Because the forward process is Gaussian all the way, we can jump to any step in one go:
# `x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps` with `eps ~ N(0, I)`.
#
# `t` holds one step per batch item, shape `(B,)`, while `x0` may be `(B, 2)` points or
# `(B, H, D)` action chunks. Reshape `alpha_bar[t]` to `(B, 1, …)` so that it scales whole
# samples; a bare `(B,)` tensor would line up with the *last* axis instead.

# %% graded="q_sample" points=2

# %%
from coursekit.kit.data import eight_gaussians
from widgets import forward_noising_explorer

T = 100
betas = linear_beta_schedule(T, 1e-4, 0.2)   # a shorter chain needs larger betas
alpha_bar = compute_alpha_bar(betas)
data = eight_gaussians(4000, torch.Generator().manual_seed(0))
forward_noising_explorer(q_sample, alpha_bar, data[:1000], seed=0)

# %% [markdown]
# The network `eps_theta(x_t, t)` is trained to recover the noise. Ho et al. compared the plain
# mean squared error on the noise (their "simple" loss, which drops the bound's per-step weights)
# with the full variational bound: the simple loss gave better *samples* (a lower FID), while the
# full bound gave better *likelihoods* (a lower NLL in bits per dimension). Samples are what we
# want here, so we use the simple loss:
#
# $$L = \mathbb E_{x_0, t, \varepsilon}\ \big\| \varepsilon_\theta(\sqrt{\bar\alpha_t} x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon,\ t) - \varepsilon \big\|^2 .$$
#
# Careful: the network's input is the *scaled* mixture above, not `x0 + eps`.

# %% graded="ddpm_loss" points=2

# %% [markdown]
# ## 3 · One step back
#
# Given both `x_t` and `x_0`, the previous state is Gaussian with a closed form
# (Ho et al., eq. 6–7), where `alpha_bar_{-1} = 1`:
#
# $$\tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1-\bar\alpha_t} x_0 + \frac{\sqrt{\alpha_t}\,(1-\bar\alpha_{t-1})}{1-\bar\alpha_t} x_t,
# \qquad \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\,\beta_t .$$
#
# At sampling time `x_0` is unknown, so we plug in the network's guess
# `x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)`, then add `sqrt(beta_tilde_t)`
# times fresh noise, except at the very last step `t = 0`, which returns the mean.

# %% graded="posterior_mean_variance" points=2

# %% graded="p_sample" points=2

# %% [markdown]
# ## 4 · Samplers
#
# **DDPM** (ancestral sampling) starts from `x ~ N(0, I)` and applies `p_sample` for
# `t = T-1, …, 0`: `T` network calls.
#
# **DDIM** (Song et al.) keeps the same trained network but takes a deterministic step
# (for `eta = 0`) between any two times `t > t_prev`: predict `x0_hat`, then re-noise it to the
# level `alpha_bar_{t_prev}` along the predicted noise direction. With
# `sigma = eta * sqrt((1 - ab_prev) / (1 - ab_t)) * sqrt(1 - ab_t / ab_prev)`:
#
# $$x_{t_{prev}} = \sqrt{\bar\alpha_{prev}}\ \hat x_0 + \sqrt{1 - \bar\alpha_{prev} - \sigma^2}\ \hat\varepsilon + \sigma z .$$
#
# `eta = 1` recovers DDPM's variance; `eta = 0` is an ODE-like deterministic map. Because the
# step works between any two times, DDIM can visit only a few of them: here every `T // n`-th
# step (`ddim_timesteps` below), and `t_prev = -1` stands for clean data, `alpha_bar = 1`.

# %% graded="ddpm_sample" points=2

# %% graded="ddim_step" points=2

# %% provided="ddim_timesteps"

# %% graded="ddim_sample" points=2

# %% [markdown]
# ## 5 · Experiment: does it really learn?
#
# A small MLP learns the noise of the eight-Gaussians data set, using **your** loss, and we sample with
# **your** samplers. What counts as "matches the data"? A single distance is easy to fool: the energy
# distance to this data is below 0.05 for a ring with no modes at all, for blobs four times too wide and
# for seven of the eight modes. So the bar (`coursekit.kit.evidence.mixture_bar`) checks the structure
# of the data, mode by mode:
#
# - **coverage**: every mode receives at least half its fair share (1/8) of the samples, within 0.5 of
#   its centre (more than three standard deviations of a mode);
# - **in modes**: at least 85 % of the samples lie in some mode (99 % of real data does);
# - **spread**: in every mode, the samples' RMS distance to the centre is within a factor 1.4 of real data's;
# - **distance**: a kernel distance (MMD, with a Gaussian kernel about as wide as one mode) below a
#   threshold set by the **negative controls**: half the distance of the closest wrong answer among a
#   ring, seven of the eight modes, blobs four times too wide and a Gaussian with the data's mean and
#   covariance.
#
# The untrained network and the four wrong answers must fail it; `tests/test_evidence.py` checks
# that they do, with the seeds and budget used here.

# %%
# experiment: train the eps-model with your loss
from coursekit.kit.evidence import calibrated_threshold, eight_gaussian_centres, mixture_bar, mixture_controls
from coursekit.kit.models import TimeConditionedMLP
from coursekit.kit.train import train

torch.manual_seed(0)
model = TimeConditionedMLP(num_steps=T)
held_out = eight_gaussians(1000, torch.Generator().manual_seed(1))


def loss_on_batch(x0, g):
    t = torch.randint(0, T, (len(x0),), generator=g)
    return ddpm_loss(model, x0, t, alpha_bar, torch.randn(x0.shape, generator=g))


with torch.no_grad():
    untrained = ddpm_sample(model, (1000, 2), betas, alpha_bar, torch.Generator().manual_seed(2))
losses = train(model, loss_on_batch, data, steps=2000, batch_size=512, lr=1e-2, desc="eps-model")

# %%
# experiment: sample with your samplers and measure
with torch.no_grad():
    ddpm_samples = ddpm_sample(model, (1000, 2), betas, alpha_bar, torch.Generator().manual_seed(2))
    ddim_samples = ddim_sample(model, (1000, 2), alpha_bar, 20, torch.Generator().manual_seed(2))

controls = mixture_controls(1000, torch.Generator().manual_seed(3))
threshold = calibrated_threshold(held_out, controls)
print(f"MMD threshold, half the closest negative control's: {threshold:.4f}\n")
verdicts = {name: mixture_bar(x, held_out, eight_gaussian_centres(), threshold, name=name)
            for name, x in {"DDPM, 100 steps": ddpm_samples, "DDIM, 20 steps": ddim_samples,
                            "untrained": untrained, **controls}.items()}
for verdict in verdicts.values():
    print(verdict)
assert verdicts["DDPM, 100 steps"] and verdicts["DDIM, 20 steps"], \
    "samples should match the data: check the loss and the samplers above"
assert not any(verdicts[name] for name in ["untrained", *controls]), "every negative control should fail the bar"

# %%
# experiment: plot the samples
import plotly.graph_objects as go
from plotly.subplots import make_subplots

fig = make_subplots(rows=1, cols=3, subplot_titles=["data", "DDPM (100 steps)", "DDIM (20 steps)"])
for col, pts in enumerate([held_out, ddpm_samples, ddim_samples], start=1):
    fig.add_trace(go.Scattergl(x=pts[:, 0].numpy(), y=pts[:, 1].numpy(), mode="markers",
                               marker=dict(size=3), showlegend=False), row=1, col=col)
fig.update_layout(height=320, margin=dict(t=40, b=20, l=20, r=20))
fig.show()

# %% [markdown]
# ### Watch the samplers
#
# The player runs your samplers with the trained model and lets you scrub through the
# trajectory. Compare DDPM's 100 noisy steps with DDIM's few deterministic ones.

# %%
# experiment: the sampler player
from widgets import reverse_sampling_player


def ddpm_trajectory(num_steps):
    with torch.no_grad():
        return ddpm_sample(model, (500, 2), betas, alpha_bar, torch.Generator().manual_seed(3),
                           return_trajectory=True)[1]


def ddim_trajectory(num_steps):
    with torch.no_grad():
        return ddim_sample(model, (500, 2), alpha_bar, num_steps, torch.Generator().manual_seed(3),
                           return_trajectory=True)[1]


reverse_sampling_player({"DDPM": ddpm_trajectory, "DDIM": ddim_trajectory}, data=held_out)

# %% [markdown]
# ## Takeaways
#
# - `alpha_bar` (cumulative), not `alpha`, sets how much signal survives to step `t`.
# - Training needs only `q_sample` and a regression on the noise.
# - DDPM walks back through every step; DDIM reuses the same network and skips most of them.
#
# Next: Diffusion Policy uses exactly these pieces to generate robot action chunks.
