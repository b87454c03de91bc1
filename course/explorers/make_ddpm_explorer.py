"""Write ddpm_explorer.ipynb (no outputs stored). Run: .venv/bin/python course/explorers/make_ddpm_explorer.py"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

md, code = new_markdown_cell, new_code_cell

cells = [
    md("""# DDPM explorer: schedules, noising, sampling

A diffusion model learns to undo a gradual noising process. The forward process
mixes data with Gaussian noise over `T` small steps until nothing of the data is
left; a network is trained to predict the noise that was added; sampling runs the
process backwards, starting from pure noise.

This notebook lets you look at each piece with sliders:

1. **Noise schedules**: how fast the signal fades (linear vs cosine).
2. **Forward noising**: a 2-D point cloud dissolving into noise.
3. **Reverse sampling**: particles travelling from noise back to the data, with the
   DDPM sampler and with the faster DDIM sampler.

The functions behind the plots are the course's *reference implementations* from
`solutions.ddpm`. In assignment 02 learners write these functions themselves, and
the same widgets then run on their code.

Conventions: diffusion time is 0-based, `t` in `{0, ..., T-1}`, and
`alpha_bar[t] = prod_{s <= t} (1 - beta[s])`.

References: J. Ho, A. Jain, P. Abbeel, *Denoising Diffusion Probabilistic Models*, NeurIPS 2020;
A. Nichol, P. Dhariwal, *Improved Denoising Diffusion Probabilistic Models*, ICML 2021;
J. Song, C. Meng, S. Ermon, *Denoising Diffusion Implicit Models*, ICLR 2021."""),
    code("""import torch

from solutions.ddpm import (compute_alpha_bar, cosine_beta_schedule, ddim_sample, ddpm_sample,
                            linear_beta_schedule, q_sample)
from widgets import (forward_noising_explorer, mixture_eps_model, reverse_sampling_player, ring_means,
                     sample_mixture, schedule_explorer)"""),
    md("""## 1. Noise schedules

Step `t` of the forward process adds noise of variance `beta_t`. What matters for the
data at time `t` is the product `alpha_bar_t`: the noised sample is
`x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps` with `eps ~ N(0, I)`.
The log signal-to-noise ratio `log(alpha_bar_t / (1 - alpha_bar_t))` says how much of
the data survives, on a scale where every step counts equally.

* **Linear** (Ho et al. 2020): `beta_t` grows evenly from `beta_start` to `beta_end`.
  With `T = 1000` and the paper's `1e-4 ... 0.02`, `alpha_bar_t` is near 0 long before
  the last step, so many late steps only shuffle pure noise.
* **Cosine** (Nichol & Dhariwal 2021): `alpha_bar_t` follows a squared cosine, so it
  falls more gently and the log-SNR drops roughly linearly over most of the range. It has no beta range; the
  two beta sliders do not affect it.

Try: lower `T` with the linear schedule and watch `alpha_bar` at the last step stay well
above 0 (the final `x` is then not pure noise, but sampling starts from pure noise)."""),
    code("""schedules = {
    "linear": linear_beta_schedule,
    "cosine": lambda T, beta_start, beta_end: cosine_beta_schedule(T),  # no beta range
}
schedule_explorer(schedules, compute_alpha_bar)"""),
    md("""## 2. Forward noising

Because every step is Gaussian, `x_t` can be drawn from `x_0` in one go, with no loop
over steps: that is `q_sample`. Below, 1000 points from a mixture of eight Gaussians on a
ring (grey) are noised with the linear schedule, `T = 1000`. Each point keeps one fixed
noise vector `eps`; since `sqrt(alpha_bar_t)^2 + sqrt(1 - alpha_bar_t)^2 = 1`, moving `t`
carries the point along an arc from its data position `x_0` to its noise position `eps`."""),
    code("""T = 1000
alpha_bar = compute_alpha_bar(linear_beta_schedule(T))
means, std = ring_means(k=8, radius=2.0), 0.1
x0 = sample_mixture(means, std, 1000, torch.Generator().manual_seed(0))  # (1000, 2)
forward_noising_explorer(q_sample, alpha_bar, x0, seed=0)"""),
    md("""## 3. Reverse sampling: DDPM and DDIM

Sampling needs a noise predictor `eps(x_t, t)`. Normally that is a trained network. Here
the data are a known mixture of Gaussians, and for such data the *best possible* noise
predictor has a closed form: noised, each component stays Gaussian,
`N(sqrt(alpha_bar_t) mu_k, v_t I)` with `v_t = alpha_bar_t std^2 + 1 - alpha_bar_t`, and

`eps*(x_t, t) = sqrt(1 - alpha_bar_t) / v_t * sum_k r_k(x_t) (x_t - sqrt(alpha_bar_t) mu_k)`,

where `r_k` is the posterior probability that `x_t` came from component `k`.
(`widgets.mixture_eps_model` implements it.) A trained network can only approximate it,
so what you see is the samplers at their best, with no training noise.

* **DDPM** (Ho et al. 2020) walks back through all `T` steps, adding fresh noise at each
  step except the last.
* **DDIM** (Song et al. 2021, with `eta = 0`) uses the same trained model but a
  deterministic update, and can skip steps: `steps` picks how many evenly spaced times it
  visits.

We use the cosine schedule with `T = 100`. Press play, or drag `frame` (0 is pure noise).
Try DDIM with 20, 5 and 2 steps: with very few steps the samples land between the modes,
pulled towards the centre."""),
    code("""T = 100
betas = cosine_beta_schedule(T)
alpha_bar = compute_alpha_bar(betas)
model = mixture_eps_model(means, std, alpha_bar)  # exact eps for this mixture, no training
n = 500

samplers = {
    "DDPM": lambda num_steps: ddpm_sample(model, (n, 2), betas, alpha_bar, torch.Generator().manual_seed(1),
                                          return_trajectory=True)[1],  # always T steps
    "DDIM": lambda num_steps: ddim_sample(model, (n, 2), alpha_bar, num_steps, torch.Generator().manual_seed(1),
                                          return_trajectory=True)[1],
}
data = sample_mixture(means, std, n, torch.Generator().manual_seed(2))
reverse_sampling_player(samplers, data, num_steps=20, max_steps=T)"""),
    md("""A number to go with the picture: the mean distance from each sample to the nearest
mode. Exact samples from the mixture give about `std * sqrt(pi / 2)`, roughly 0.125."""),
    code("""def mean_distance_to_modes(x):
    return torch.cdist(x, means).min(dim=1).values.mean().item()

print(f"data          {mean_distance_to_modes(data):.3f}")
print(f"DDPM, {T} steps {mean_distance_to_modes(samplers['DDPM'](T)[-1]):.3f}")
for steps in (50, 20, 5, 2):
    print(f"DDIM, {steps:>3} steps {mean_distance_to_modes(samplers['DDIM'](steps)[-1]):.3f}")"""),
]

nb = new_notebook(cells=cells, metadata={
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
})
out = Path(__file__).with_name("ddpm_explorer.ipynb")
nbformat.validate(nb)
nbformat.write(nb, out)
print(f"wrote {out}")
