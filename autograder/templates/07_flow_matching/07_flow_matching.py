# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 07 · Flow matching and conditional flow matching
#
# A continuous normalizing flow moves samples with an ODE, `dx/dt = v(x, t)`. Assignment 06
# trained nothing: the field was given. Here we *learn* `v` so that its flow carries Gaussian
# noise at `t = 0` to the data at `t = 1`, and we do it without ever simulating the ODE during
# training. The trick is to regress, at random times, a velocity that we can write down for
# **one** data point at a time, and to prove that this is enough.
#
# You will implement:
#
# 1. samples of a **Gaussian conditional path** `p_t(x | x1)` and the **field that generates it**;
# 2. the **optimal-transport (OT) path** of Lipman et al. and its closed-form field;
# 3. the **exact marginal field** of a small data set: what the network should learn;
# 4. the **conditional flow matching (CFM) loss**, and a numerical check that it has the same
#    gradient as the intractable flow matching (FM) loss;
#
# then train a 2-D model with your loss and measure sample quality against the number of ODE steps.
#
# Sources: Lipman, Chen, Ben-Hamu, Nickel & Le, *Flow Matching for Generative Modeling* (ICLR 2023);
# Tong et al., *Improving and generalizing flow-based generative models with minibatch optimal
# transport* (TMLR 2024; the `torchcfm` library); Liu, Gong & Liu, *Flow Straight and Fast:
# rectified flow* (ICLR 2023); Albergo & Vanden-Eijnden, *Building normalizing flows with stochastic
# interpolants* (ICLR 2023).
#
# **Conventions.** Flow-matching time `t ∈ [0, 1]`, with **`t = 0` noise and `t = 1` data** (as in
# Lipman et al. and `torchcfm`; pi0's code uses the reverse, see assignment 09). Times are `(B,)`
# float tensors, one per sample; data are `(B, 2)` points or `(B, H, D)` action chunks. A model or
# field is called `v(x, t)` and returns a tensor shaped like `x`. Losses are means over all entries.

# %%
import math

import torch
from tqdm.auto import tqdm

from coursekit.checks.visible import checker
from coursekit.hints import hinter
from coursekit.checks.runtime import skip_experiments_when_autograding
from coursekit.validate import check_flow_times, check_same_shape, check_sigma_min, check_tensor, checked_field

check = checker("07_flow_matching")
hint = hinter("07_flow_matching")  # stuck? hint("<function name>"): a nudge, then the key idea, then the formula
skip_experiments_when_autograding()  # cells starting "# experiment:" carry no points; the autograder skips them
torch.manual_seed(0)
torch.set_num_threads(1);  # tiny models: one thread is fastest here, and leaves the other core free

# %% [markdown]
# ## 1 · Gaussian conditional paths
#
# Pick one data point `x1`. A *conditional probability path* is a family of Gaussians that starts
# as noise and ends concentrated on `x1`:
#
# $$p_t(x \mid x_1) = \mathcal N\big(x;\ \mu_t(x_1),\ \sigma_t(x_1)^2 I\big), \qquad \mu_0 = 0,\ \sigma_0 = 1,\qquad \mu_1 = x_1,\ \sigma_1 = \sigma_{\min}\ \text{(small)}.$$
#
# Sampling it is the reparameterisation you know from DDPM: `x_t = mu_t + sigma_t * eps` with
# `eps ~ N(0, I)`. `sigma_t` holds one standard deviation per sample, shape `(B,)`; the helper
# below reshapes such per-sample values to `(B, 1, …)` so that they scale whole samples.

# %% provided="per_sample"

# %% graded="gaussian_path_sample" points=1

# %% [markdown]
# ## 2 · The field that generates a path
#
# Read `x_t = mu_t + sigma_t * eps` as a map of the starting noise, `psi_t(eps) = sigma_t eps + mu_t`.
# Following one noise vector through time, its velocity is `d/dt psi_t(eps) = sigma_t' eps + mu_t'`.
# Write that in terms of the current position `x = psi_t(eps)` (so `eps = (x - mu_t) / sigma_t`) and
# you get the field that moves every point of the path (Lipman et al., Theorem 3):
#
# $$u_t(x \mid x_1) = \frac{\sigma_t'}{\sigma_t}\,\big(x - \mu_t\big) + \mu_t' .$$
#
# The first term stretches or shrinks the cloud around its mean, the second moves the mean.
# Primes are derivatives in `t`; `sigma_t` and `sigma_t'` are `(B,)`, the rest are shaped like `x`.

# %% graded="conditional_vector_field" points=2

# %% [markdown]
# ## 3 · The optimal-transport path
#
# The simplest choice moves the mean and the standard deviation *linearly* in time:
#
# $$\mu_t = t\,x_1, \qquad \sigma_t = 1 - (1 - \sigma_{\min})\, t .$$
#
# Lipman et al. call it the OT path: each noise sample travels along a straight line at constant
# speed, `psi_t(eps) = t x1 + (1 - (1 - sigma_min) t) eps`. With `sigma_min = 0` this is the
# "rectified flow" interpolation `x_t = t x1 + (1 - t) x0` of Liu et al. and of `torchcfm`.
# Plugging `mu_t' = x1` and `sigma_t' = -(1 - sigma_min)` into the general formula and simplifying:
#
# $$u_t(x \mid x_1) = \frac{x_1 - (1 - \sigma_{\min})\,x}{1 - (1 - \sigma_{\min})\,t}.$$
#
# Implement the sample with your `gaussian_path_sample`, and the field in this closed form. With
# `sigma_min = 0` the field divides by zero at `t = 1`; the validation rejects that case.

# %% graded="ot_path_sample" points=1

# %% graded="ot_conditional_field" points=2

# %% [markdown]
# Two routes to the same field: the closed form, and the general formula with the OT path's
# `mu_t, sigma_t` and their derivatives. They must agree.

# %%
g = torch.Generator().manual_seed(0)
x1_demo, x_demo = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
t_demo, s_min = torch.rand(6, generator=g), 0.05
general = conditional_vector_field(x_demo, t_demo[:, None] * x1_demo, 1 - (1 - s_min) * t_demo,
                                   x1_demo, torch.full((6,), -(1 - s_min)))
closed = ot_conditional_field(x_demo, x1_demo, t_demo, s_min)
print(f"largest difference between the two routes: {float((general - closed).abs().max()):.2e}")

# %% [markdown]
# ## 4 · From one point to the whole data set: the marginal field
#
# Mixing the conditional paths over the data gives the *marginal* path
# `p_t(x) = E_{x1 ~ data} p_t(x | x1)`: pure noise at `t = 0`, (almost) the data at `t = 1`. The field
# that generates it is an average of the conditional fields, each weighted by how likely it is
# that `x` came from that data point (Lipman et al., Theorem 1):
#
# $$u_t(x) = \sum_i w_i(x)\, u_t(x \mid x_1^{(i)}), \qquad w_i(x) = \frac{\mathcal N(x;\ t\,x_1^{(i)},\ \sigma_t^2 I)}{\sum_j \mathcal N(x;\ t\,x_1^{(j)},\ \sigma_t^2 I)} .$$
#
# `w_i(x)` is the posterior probability of data point `i` given `x_t = x`: a softmax over the data
# of `-|x - t x1_i|^2 / (2 sigma_t^2)` (the Gaussians' normalising constants are equal and cancel).
# For a data set of `N` points this is exact and cheap. For a real data distribution it is out of
# reach, which is why we will train a network.
#
# Shapes: `x` is `(B, …)`, `data` is `(N, …)`; compare every `x` with every data point, `(B, N)`
# weights, rows summing to one. Use your `ot_conditional_field` for the conditional fields.

# %% graded="marginal_vector_field" points=3

# %% [markdown]
# ### Explore the two fields
#
# Left: the conditional field of one data point (pick it with the `x1` slider); every particle
# heads straight for `x1`. Right: the marginal field of a 100-point data set; the particles split
# between the modes and arrive on the data. Both are drawn from **your** functions. The arrows are
# rescaled per panel (their mean length is fixed); the title gives the largest speed. Move `t`
# towards 1 and watch the marginal field sharpen around the data points.

# %%
# experiment: conditional and marginal fields
from coursekit.kit.data import eight_gaussians
from widgets.flow_matching import flow_field_explorer

SIGMA_MIN = 0.05
small_data = eight_gaussians(100, torch.Generator().manual_seed(5))
flow_field_explorer(lambda x, x1, t: ot_conditional_field(x, x1, t, SIGMA_MIN),
                    lambda x, t: marginal_vector_field(x, t, small_data, SIGMA_MIN),
                    small_data, t=0.5)

# %% [markdown]
# ## 5 · Conditional flow matching
#
# *Flow matching* regresses a network onto the marginal field: `L_FM = E_{t, x ~ p_t} |v(x, t) - u_t(x)|^2`.
# We cannot evaluate `u_t(x)` for real data. *Conditional* flow matching swaps in the conditional field:
#
# $$L_{\mathrm{CFM}} = \mathbb E_{t \sim U[0,1],\ x_1 \sim \text{data},\ \varepsilon \sim \mathcal N(0, I)}\ \big|\, v(x_t, t) - u_t(x_t \mid x_1) \big|^2, \qquad x_t = \psi_t(\varepsilon).$$
#
# At `x_t = psi_t(eps)` the OT target simplifies to `x1 - (1 - sigma_min) eps`: the constant velocity
# of the straight line from noise to data. Two classic slips: feeding the network the clean `x1`
# (it must see the noisy `x_t`, the only thing available when sampling), and flipping the sign of
# the target (the velocity points from noise **to** data).

# %% graded="cfm_loss" points=2

# %% [markdown]
# ### Same gradient, tractable target
#
# Why may we swap the targets? Expand both squares: `|v|^2` is the same, the cross terms agree
# because `E[u_t(x | x1) | x_t = x] = u_t(x)`, and what is left, `|u|^2`, does not depend on the
# network. So the two losses differ by a constant and **their gradients are equal in expectation**
# (Lipman et al., Theorem 2). On one finite batch they differ by sampling noise, which shrinks as
# the batch grows.
#
# Compute both gradients on the same batch: for a data set small enough that
# `marginal_vector_field` gives the exact FM target. `torch.autograd.grad(loss, params)` returns one
# gradient per parameter; flatten and concatenate them.

# %% graded="fm_cfm_gradients" points=2

# %%
# experiment: FM and CFM gradients
from coursekit.kit.models import ContinuousTimeMLP

torch.manual_seed(1)
probe = ContinuousTimeMLP(hidden=32, depth=2)
grad_data = eight_gaussians(64, torch.Generator().manual_seed(6))
g = torch.Generator().manual_seed(7)


def draw(batch):
    return (torch.randint(0, 64, (batch,), generator=g), torch.rand(batch, generator=g),
            torch.randn(batch, 2, generator=g))


print(f"{'batch':>6} {'|g_FM - g_CFM| / |g_FM|':>26} {'|g_CFM - g_CFM_2| / |g_FM|':>28}   (means of 3 draws)")
for batch in (16, 128, 1024, 8192):
    gap, noise = 0.0, 0.0
    for _ in range(3):
        g_fm, g_cfm = fm_cfm_gradients(probe, grad_data, *draw(batch), SIGMA_MIN)
        _, g_cfm_2 = fm_cfm_gradients(probe, grad_data, *draw(batch), SIGMA_MIN)  # an independent batch
        gap += float((g_fm - g_cfm).norm() / g_fm.norm()) / 3
        noise += float((g_cfm_2 - g_cfm).norm() / g_fm.norm()) / 3
    print(f"{batch:>6} {gap:>26.3f} {noise:>28.3f}")

# %% [markdown]
# The FM–CFM gap falls roughly like `1 / sqrt(batch)`, and it is smaller than the gap between two
# independent CFM batches: swapping the target costs nothing but a little extra noise.
#
# ## 6 · Experiment: train, then sample with an ODE solver
#
# A small MLP `v(x, t)` (continuous time, Fourier features of `t`) learns the eight-Gaussians data
# with **your** `cfm_loss`. Sampling solves `dx/dt = v(x, t)` from `x ~ N(0, I)` at `t = 0` to
# `t = 1`; here with `coursekit.kit.ode.integrate` (fixed-step Euler, `x <- x + h v(x, t)`).
#
# Sample quality is judged by the mixture bar of 02 (`coursekit.kit.evidence.mixture_bar`): every
# mode covered with a fair share, 85 % of the samples in a mode, each mode's spread within a factor
# 1.4 of the data's, and a kernel distance (MMD) to held-out data below half that of the closest
# wrong answer (a ring, seven of eight modes, blobs four times too wide, a moment-matched Gaussian).
# The untrained network and those wrong answers must fail it.

# %%
# experiment: training
from coursekit.kit.evidence import calibrated_threshold, eight_gaussian_centres, mixture_bar, mixture_controls, mmd
from coursekit.kit.ode import integrate
from coursekit.kit.train import train

data = eight_gaussians(4000, torch.Generator().manual_seed(0))
held_out = eight_gaussians(1000, torch.Generator().manual_seed(1))
torch.manual_seed(0)
model = ContinuousTimeMLP()


def loss_on_batch(x1, g):
    return cfm_loss(model, x1, torch.rand(len(x1), generator=g), torch.randn(x1.shape, generator=g), SIGMA_MIN)


def sample(field, num_steps, n=1000, seed=2):
    return integrate(field, torch.randn(n, 2, generator=torch.Generator().manual_seed(seed)), num_steps)


with torch.no_grad():
    untrained = sample(model, 32)
losses = train(model, loss_on_batch, data, steps=1500, batch_size=512, lr=1e-2, desc="CFM")

# %%
# experiment: quality vs ODE steps
import plotly.graph_objects as go
from plotly.subplots import make_subplots

STEPS = [1, 2, 4, 8, 16, 32, 64]
with torch.no_grad():
    samples = {n: sample(model, n) for n in STEPS}
controls = mixture_controls(1000, torch.Generator().manual_seed(3))
THRESHOLD = calibrated_threshold(held_out, controls)
quality = {n: mmd(s, held_out) for n, s in samples.items()}
print(f"MMD threshold, half the closest negative control's: {THRESHOLD:.4f}")
for n in STEPS:
    print(f"trained, {n:>2} Euler steps: MMD {quality[n]:.4f}")
print()
verdicts = {name: mixture_bar(x, held_out, eight_gaussian_centres(), THRESHOLD, name=name)
            for name, x in {"trained, 32 steps": samples[32], "untrained, 32 steps": untrained, **controls}.items()}
for verdict in verdicts.values():
    print(verdict)
assert verdicts["trained, 32 steps"], "32-step samples should match the data: check cfm_loss above"
assert not any(verdicts[name] for name in ["untrained, 32 steps", *controls]), "every negative control should fail the bar"

fig = make_subplots(rows=1, cols=3, subplot_titles=["quality vs Euler steps", "data", "samples, 4 and 32 steps"])
fig.add_scatter(x=STEPS, y=[quality[n] for n in STEPS], mode="lines+markers", name="trained", row=1, col=1)
fig.add_scatter(x=[1, 64], y=[THRESHOLD, THRESHOLD], mode="lines", line=dict(dash="dash"), name="threshold", row=1, col=1)
fig.add_scattergl(x=held_out[:, 0].numpy(), y=held_out[:, 1].numpy(), mode="markers", marker=dict(size=3),
                  name="held-out data", row=1, col=2)
for n, colour in ((4, "orange"), (32, "crimson")):
    fig.add_scattergl(x=samples[n][:, 0].numpy(), y=samples[n][:, 1].numpy(), mode="markers",
                      marker=dict(size=3, color=colour, opacity=0.6), name=f"{n} steps", row=1, col=3)
fig.update_xaxes(type="log", title_text="Euler steps", row=1, col=1)
fig.update_yaxes(type="log", title_text="MMD", row=1, col=1)
fig.update_layout(height=340, margin=dict(t=40, b=20, l=20, r=20))
fig.show()

# %% [markdown]
# One Euler step lands every sample on the *average* velocity's endpoint, the middle of the
# data; a handful of steps already separates the modes, and the error flattens out by about 16
# steps, where the network's own error dominates the solver's.
#
# ### Why train a network at all?
#
# The exact marginal field of a training set is also a velocity field. Sampled with the same
# solver and a tiny `sigma_min`, it reproduces the training points: with a finite data set, the
# FM optimum *memorises*. Does a network trained with CFM on the **same** 100 points, with the same
# budget as above, copy them too? We compare how far samples land from the nearest training point.

# %%
# experiment: memorisation
train_subset = data[:100]
torch.manual_seed(0)
small_data_model = ContinuousTimeMLP()
train(small_data_model, lambda x1, g: cfm_loss(small_data_model, x1, torch.rand(len(x1), generator=g),
                                                torch.randn(x1.shape, generator=g), SIGMA_MIN),
      train_subset, steps=1500, batch_size=512, lr=1e-2, desc="CFM on 100 points")
with torch.no_grad():
    exact = sample(lambda x, t: marginal_vector_field(x, t, train_subset, 1e-3), 32, n=500)
    learned = sample(small_data_model, 32, n=500)
nearest = lambda x: float(torch.cdist(x, train_subset).min(dim=1).values.median())
distances = {"exact marginal field (sigma_min = 0.001)": nearest(exact),
             "network trained on the 100 points": nearest(learned),
             "fresh data, for comparison": nearest(held_out[:500])}
print("median distance to the nearest of the 100 training points:")
for name, d in distances.items():
    print(f"  {name:<42}{d:.4f}")
assert distances["exact marginal field (sigma_min = 0.001)"] < 0.25 * distances["fresh data, for comparison"], \
    "the exact field should land on the training points"
assert distances["network trained on the 100 points"] > 3 * distances["exact marginal field (sigma_min = 0.001)"], \
    "the network should not copy its training points"

# %% [markdown]
# The exact field's samples sit on the training points; the network's samples, trained on exactly those
# points, land several times farther away, about as far as fresh data does. The network is a smooth
# function fitted on a budget: it has learned the blobs, not the hundred points. (Train it much longer
# and larger and it would drift towards the exact field; memorisation is where the optimum lies.)

# %% [markdown]
# ## Takeaways
#
# - A Gaussian conditional path and its field, `sigma'/sigma (x - mu) + mu'`, are all the
#   training needs; the OT path makes the target the straight-line velocity `x1 - (1 - sigma_min) eps`.
# - The marginal field is a posterior average of conditional fields; CFM regresses onto its
#   noisy, tractable stand-in and gets the same gradient on average.
# - Sampling is solving an ODE: fewer steps are faster and less accurate.
#
# Next (08): diffusion models are Gaussian paths too, just curved ones.
