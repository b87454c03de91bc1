# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 01 · Variational inference and the ELBO
#
# Diffusion models are trained by maximising a lower bound on the log-likelihood, the
# **evidence lower bound** (ELBO). This short assignment builds the ELBO in a model where
# everything is known exactly, so you can *see* the bound and its gap.
#
# The model: a latent `z ~ N(0, 1)` and an observation `x | z ~ N(a z + b, s^2)`. For any
# approximation `q(z)` of the posterior,
#
# $$\log p(x) = \underbrace{\mathbb E_{q}\big[\log p(x, z) - \log q(z)\big]}_{\text{ELBO}(q)} + \mathrm{KL}\big(q(z)\,\|\,p(z\mid x)\big).$$
#
# Two facts follow, and the course relies on both: the KL divergence is **always ≥ 0** (zero
# only when `q` equals the posterior), so the ELBO never exceeds `log p(x)`; and the **gap**
# between them is exactly `KL(q(z) || p(z | x))`. (Some texts misstate the first as "≥ 1":
# it is ≥ 0.)
#
# Sources: Kingma & Welling, *Auto-Encoding Variational Bayes* (2014); Blei, Kucukelbir &
# McAuliffe, *Variational Inference: A Review for Statisticians* (2017).
#
# **Convention.** Gaussians are given by a mean and a **log-variance** `logvar = log(std^2)`;
# passing a standard deviation where a log-variance is expected is the classic bug here.

# %%
import math

import torch

from coursekit.checks.visible import checker
from coursekit.hints import hinter
from coursekit.checks.runtime import skip_experiments_when_autograding
from coursekit.validate import check_same_shape, check_tensor

check = checker("01_variational_inference")
hint = hinter("01_variational_inference")  # stuck? hint("<function name>"): a nudge, then the key idea, then the formula
skip_experiments_when_autograding()  # cells starting "# experiment:" carry no points; the autograder skips them
torch.set_num_threads(1)  # tiny computations: one thread is fastest, and leaves the other core free
LOG_2PI = math.log(2 * math.pi)

# %% [markdown]
# A helper you can use everywhere below: the log-density of a Gaussian, elementwise.

# %% provided="gaussian_log_prob"

# %% [markdown]
# ## 1 · KL divergence between diagonal Gaussians
#
# For `q = N(mu_q, diag(var_q))` and `p = N(mu_p, diag(var_p))` the KL divergence has a closed
# form; per coordinate,
#
# $$\mathrm{KL}(q\|p) = \tfrac12\Big(\log\frac{\sigma_p^2}{\sigma_q^2} + \frac{\sigma_q^2 + (\mu_q-\mu_p)^2}{\sigma_p^2} - 1\Big),$$
#
# summed over the last axis. It is not symmetric: swapping `q` and `p` gives a different number.

# %% graded="kl_diag_gaussians" points=2

# %%
# experiment: KL is zero for identical distributions and never negative
mu = torch.zeros(1, 3)
print("KL(q || q) =", kl_diag_gaussians(mu, mu, mu, mu).item(), "(zero: identical distributions)")
g = torch.Generator().manual_seed(0)
kls = kl_diag_gaussians(torch.randn(10_000, 3, generator=g), torch.randn(10_000, 3, generator=g),
                        torch.randn(10_000, 3, generator=g), torch.randn(10_000, 3, generator=g))
print(f"smallest KL over 10,000 random pairs: {kls.min().item():.5f} (never negative)")
assert kls.min() >= 0

# %% [markdown]
# ## 2 · The exact answers
#
# Integrating `z` out, `x ~ N(b, a^2 + s^2)`. Bayes' rule for two Gaussians gives the posterior
# `p(z | x) = N(m, v)` with `v = s^2 / (s^2 + a^2)` and `m = v a (x - b) / s^2`.

# %% graded="log_evidence" points=1

# %% graded="true_posterior" points=1

# %% [markdown]
# ## 3 · A Monte Carlo ELBO with the reparameterisation trick
#
# Write samples of `q = N(mean, exp(logvar))` as `z = mean + exp(logvar / 2) * eps` with
# `eps ~ N(0, 1)`. The randomness now sits in `eps`, so gradients flow to `mean` and `logvar`
# (Kingma & Welling). Average `log p(x | z) + log p(z) - log q(z)` over the samples.

# %% graded="elbo_mc" points=2

# %% [markdown]
# ## 4 · Experiment: the gap is the KL to the posterior
#
# Fix one observation and a handful of approximations `q`. For each, compare the Monte Carlo
# ELBO (many samples) with `log p(x) - KL(q || p(z | x))`, computed exactly; they agree up to
# Monte Carlo error.

# %%
# experiment: ELBO against log p(x) - KL
a, b, s = 1.5, 0.5, 0.8
x = torch.tensor([1.2])
post_mean, post_logvar = true_posterior(x, a, b, s)
log_px = log_evidence(x, a, b, s)
print(f"log p(x) = {log_px.item():.4f}")
for q_mean, q_std in [(0.0, 1.0), (0.5, 0.5), (post_mean.item(), math.exp(post_logvar.item() / 2))]:
    qm, qlv = torch.tensor([q_mean]), torch.tensor([2 * math.log(q_std)])
    elbo = elbo_mc(x, qm, qlv, a, b, s, 200_000, torch.Generator().manual_seed(1))
    kl = kl_diag_gaussians(qm[None], qlv[None], post_mean[None], post_logvar[None])
    print(f"q = N({q_mean:+.3f}, {q_std:.3f}^2):  ELBO {elbo.item():.4f}   log p(x) - KL {(log_px - kl).item():.4f}")
    assert abs(elbo.item() - (log_px - kl).item()) < 0.03  # agreement up to Monte Carlo error

# %% [markdown]
# At the posterior itself the KL is zero and the bound is tight: the ELBO equals `log p(x)`.
#
# ## 5 · Maximising the ELBO finds the posterior
#
# Gradient ascent on your Monte Carlo ELBO moves `q` towards `p(z | x)`; the KL shrinks towards 0.

# %%
# experiment: gradient ascent on the ELBO
q_mean = torch.zeros(1, requires_grad=True)
q_logvar = torch.zeros(1, requires_grad=True)
opt = torch.optim.Adam([q_mean, q_logvar], lr=0.05)
g = torch.Generator().manual_seed(2)
for step in range(400):
    loss = -elbo_mc(x, q_mean, q_logvar, a, b, s, 64, g).sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
with torch.no_grad():
    kl_after = kl_diag_gaussians(q_mean[None], q_logvar[None], post_mean[None], post_logvar[None]).item()
print(f"fitted q = N({q_mean.item():.3f}, {math.exp(q_logvar.item() / 2):.3f}^2); "
      f"posterior N({post_mean.item():.3f}, {math.exp(post_logvar.item() / 2):.3f}^2); KL = {kl_after:.5f}")
assert kl_after < 0.01

# %% [markdown]
# ## 6 · Explore
#
# Move `q` with the sliders (your `elbo_mc`, `log_evidence` and `true_posterior` drive the plot).
# The gap never goes below zero, and it closes only where `q` sits on the posterior.

# %%
# experiment: the ELBO explorer
from widgets import elbo_explorer

elbo_explorer(
    elbo=lambda m, lv: elbo_mc(x, m, lv, a, b, s, 20_000, torch.Generator().manual_seed(3)),
    log_evidence=lambda: log_evidence(x, a, b, s),
    posterior=lambda: true_posterior(x, a, b, s),
)

# %% [markdown]
# ## Takeaways
#
# - `KL(q || p) >= 0`, with equality only when `q = p`; so the ELBO is a lower bound on `log p(x)`, and the gap
#   between them is exactly `KL(q(z) || p(z | x))`.
# - The reparameterisation `z = mean + std * eps` moves the randomness into `eps`, so the ELBO's gradients
#   flow to `q`'s parameters and maximising the ELBO pulls `q` onto the posterior.
# - Between diagonal Gaussians the KL has a closed form, your `kl_diag_gaussians`.
#
# Next: a diffusion model is a latent-variable model too. In 02b (the theory bridge) you will find that every
# step of DDPM's bound is one of these Gaussian KLs, and that DDPM's simple loss is a reweighting of them.
