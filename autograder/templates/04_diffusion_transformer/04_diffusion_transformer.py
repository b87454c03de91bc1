# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 04 · The Diffusion Transformer (DiT)
#
# Diffusion Policy denoises action chunks with a 1-D convolutional U-Net. Peebles & Xie replaced the
# U-Net of image diffusion with a plain transformer, the **DiT**. They found that its sample quality
# (FID) improves steadily with its compute (Gflops), whether from more depth and width or from more
# tokens, and their largest model beat the U-Net-based diffusion models of the day on ImageNet. (The
# paper compares final results with U-Nets; it has no head-to-head scaling curve against them.)
# Robot action generators such as RDT-1B and dit-policy took the idea over. In this notebook an action chunk
# `(B, H, D)` becomes `H` tokens, and you build the pieces that make a DiT work:
#
# 1. the sinusoidal **timestep embedding**;
# 2. **adaLN-Zero**: `modulate`, the DiT block, the final layer, and a small 1-D DiT;
# 3. **classifier-free guidance**: condition dropout in training, guided noise at sampling.
#
# Then you train it on trajectories of four classes, turn the guidance scale up and down, and compare
# three ways of feeding the condition into a transformer on the same budget.
#
# Sources: Peebles & Xie, *Scalable Diffusion Models with Transformers* (2023), and their code
# `facebookresearch/DiT`; Ho & Salimans, *Classifier-Free Diffusion Guidance* (2022); Vaswani et al.,
# *Attention Is All You Need* (2017) for the sinusoids.
#
# **Conventions.** `float32`, batch first. Diffusion time is 0-based, `t ∈ {0, …, T-1}` (as in 02).
# Guidance is written `eps_uncond + w (eps_cond - eps_uncond)`: `w = 0` ignores the condition, `w = 1`
# is the plain conditional model. Every graded piece has a check cell right after it.

# %%
import math

import torch
from torch import nn
from tqdm.auto import tqdm

from coursekit.checks.visible import checker
from coursekit.hints import hinter
from coursekit.checks.runtime import skip_experiments_when_autograding
from coursekit.kit.transformer import Mlp, SelfAttention
from coursekit.validate import ShapeError, check_heads, check_tensor

check = checker("04_diffusion_transformer")
hint = hinter("04_diffusion_transformer")  # stuck? hint("<function name>"): a nudge, then the key idea, then the formula
skip_experiments_when_autograding()  # cells starting "# experiment:" carry no points; the autograder skips them
torch.set_num_threads(1)  # tiny models: one thread is fastest, and leaves the other core free
torch.manual_seed(0);

# %% [markdown]
# ## 1 · Timestep embedding
#
# The network must know how noisy its input is. DiT turns the time `t` into `dim` numbers with sinusoids
# of geometrically spaced frequencies, then passes them through a small MLP. With `half = dim // 2`:
#
# $$f_i = \text{max\_period}^{-i/\text{half}},\quad i = 0, \dots, \text{half}-1, \qquad
# \text{emb}(t) = [\cos(t f_0), \dots, \cos(t f_{\text{half}-1}),\ \sin(t f_0), \dots, \sin(t f_{\text{half}-1})].$$
#
# **Order matters.** DiT puts the cosines first; Diffusion Policy puts the sines first. Both work, but a
# network trained with one order is wrong with the other. An odd `dim` gets one column of zeros.

# %% graded="timestep_embedding" points=2

# %% [markdown]
# ## 2 · adaLN-Zero
#
# How does the condition (time, class) get into the transformer? DiT's best answer is **adaptive layer
# norm**: instead of learned per-feature scale and shift, a LayerNorm without its own parameters is
# followed by a shift and a scale *regressed from the condition vector* `c`:
#
# $$\text{modulate}(x, \text{shift}, \text{scale}) = x \odot (1 + \text{scale}) + \text{shift}.$$
#
# `x` holds tokens `(B, N, d)`, while shift and scale are one vector per sample `(B, d)`: broadcast them over
# the `N` tokens. The `1 +` makes `scale = 0` mean "leave x alone".

# %% graded="modulate" points=1

# %% [markdown]
# ### The DiT block
#
# One `Linear` on `SiLU(c)` produces **six** vectors: shift, scale and a **gate** for the attention branch,
# and the same three for the MLP branch:
#
# ```
# x = x + gate_msa * attn(modulate(norm1(x), shift_msa, scale_msa))
# x = x + gate_mlp * mlp (modulate(norm2(x), shift_mlp, scale_mlp))
# ```
#
# The **Zero** in adaLN-Zero: that `Linear` starts with zero weight and bias. Every gate is then 0, and a
# freshly built block is *exactly the identity*: a deep stack starts as a short path from input to output,
# which trains stably (Goyal et al. used the same trick for ResNets). The check builds your block and
# verifies both this and the forward pass with seeded weights.
#
# The layer names are fixed (the check loads weights by name); the norms, attention and MLP are given.
#
# The picture draws the block you are about to write (after Peebles & Xie 2023, in this course's names).
# Follow `c` from the bottom right: one `Linear` turns it into the six vectors, and they act in four
# places, two `modulate`s and two gates. With the `Linear` at zero, both gates multiply their branch by 0.

# %%
# experiment: picture of the DiT block
from coursekit.assignments.diffusion_transformer.pictures import dit_block_figure

dit_block_figure().show()

# %% graded="DiTBlock" points=3

# %%
block = DiTBlock(hidden_size=32, num_heads=4)
x, c = torch.randn(2, 16, 32), torch.randn(2, 32)
print("a fresh block is the identity:", torch.equal(block(x, c), x))

# %% [markdown]
# ## 3 · The final layer and a 1-D DiT
#
# The last layer normalises, modulates with a shift and a scale (no gate), and maps each token back to
# the action size. DiT zero-initialises it too, so an untrained model predicts exactly 0.
#
# The whole model, for action chunks:
#
# - **tokens**: each of the `H` steps of the noisy chunk `(B, H, D)` is embedded by a `Linear`, plus a
#   learned position embedding `(1, H, d)`;
# - **condition**: `c = t_embedder(timestep_embedding(t)) + y_embedder(y)`, one vector `(B, d)`; the label
#   table has one extra row, the **null label** `num_classes`, used for guidance below;
# - `depth` DiT blocks, then the final layer: predicted noise `(B, H, D)`.

# %% graded="FinalLayer" points=1

# %% graded="ActionDiT" points=2

# %% [markdown]
# ## 4 · Classifier-free guidance
#
# One network learns both `p(x | y)` and `p(x)`: during training, a fraction `p_uncond` of the labels is
# replaced by the null label (**condition dropout**). At sampling time, both predictions are combined
# (Ho & Salimans 2022):
#
# $$\hat\varepsilon = \varepsilon_\theta(x_t, t, \varnothing) + w\,\big(\varepsilon_\theta(x_t, t, y) - \varepsilon_\theta(x_t, t, \varnothing)\big).$$
#
# With `w > 1` the sampler moves further in the direction that makes `y` more likely: samples look more
# like their class (fidelity) and less like each other (diversity). Ho & Salimans write the same rule with
# `1 + w` in place of `w`; here `w = 1` is the plain conditional model, as in the DiT code.

# %% graded="drop_condition" points=1

# %% graded="guided_eps" points=2

# %% [markdown]
# ## 5 · Experiment: four classes of trajectories
#
# Each trajectory has `H = 16` 2-D points. It starts at `(0, -1)` heading up and then turns left, turns
# right, goes straight, or makes an S-curve. Every sample draws its own heading, curvature and length, so
# some are ambiguous between classes. To measure **fidelity** we classify a trajectory by its nearest class
# prototype (the class mean); **diversity** is the spread of the samples around their own mean.

# %%
# experiment: data
import plotly.graph_objects as go

from coursekit.kit.trajectories import (CLASS_NAMES, HORIZON, NUM_CLASSES, class_accuracy, class_prototypes,
                                    class_trajectories, data_statistics, guidance_sweep, spread)
from widgets import polylines

x_data, y_data = class_trajectories(4096, torch.Generator().manual_seed(0))
prototypes = class_prototypes()
print("data:", {k: round(v, 3) for k, v in data_statistics().items()}, "(accuracy below 1: some samples are ambiguous)")

fig = go.Figure()
for k, name in enumerate(CLASS_NAMES):
    xs, ys = polylines(x_data[y_data == k][:12].numpy())
    fig.add_scatter(x=xs, y=ys, mode="lines", name=name, line=dict(width=1))
fig.update_layout(height=380, width=480, yaxis=dict(scaleanchor="x"), margin=dict(t=30, b=20))
fig.show()

# %% [markdown]
# The diffusion helpers are given (`coursekit.kit.diffusion`, the course's one copy of each): the epsilon
# loss of 02, here with **your** condition dropout, a deterministic DDIM sampler (02) that calls any noise
# predictor, and the cosine schedule of Nichol & Dhariwal (02) with `T = 50` steps, with **one change of
# ours**: we floor `alpha_bar` at 0.01. Their schedule ends at `alpha_bar` of about 1e-6, pure noise.
# 10-step DDIM starts there and gets its first clean estimate by dividing by `sqrt(alpha_bar)`, so any
# error of a small model trained for a few hundred steps is multiplied by a thousand; the floor (it
# changes only the last 4 of the 50 steps) keeps that factor at 10. The price: training never sees pure
# noise, while sampling starts from it.

# %% provided="diffusion_loss"

# %% [markdown]
# Train a 2-block DiT (`d = 32`, about 44k parameters) for 300 steps, with 10 % of the labels dropped.
# `sample_fn(label, w)` draws 48 samples of one class with 10 DDIM steps and **your** guidance; the noise
# is the same for every `w`, so differences come from guidance alone.

# %%
# experiment: training
import copy
import functools
import time

from coursekit.kit.diffusion import cosine_alpha_bar, ddim_sample, denoising_loss
from coursekit.kit.train import train
from coursekit.kit.transformer import count_parameters

T, STEPS, BATCH, LR, P_UNCOND = 50, 300, 64, 3e-3, 0.1
alpha_bar = cosine_alpha_bar(T).clamp(min=1e-2)  # floored: DDIM divides by sqrt(alpha_bar); few steps amplify errors
index = torch.arange(len(x_data))   # train() draws batches of indices; the loss looks the data up


def make_sample_fn(model, n=48, num_steps=10):
    @functools.lru_cache(maxsize=None)
    def sample_fn(label, w):
        y = torch.full((n,), label)
        with torch.no_grad():
            return ddim_sample(lambda x, t: guided_eps(model, x, t, y, w, model.num_classes),
                               (n, HORIZON, 2), alpha_bar, num_steps, torch.Generator().manual_seed(7), clip=None)
    return sample_fn


def train_denoiser(model, desc):
    loss_fn = lambda idx, g: diffusion_loss(model, x_data[idx], y_data[idx], alpha_bar, g, P_UNCOND)
    return train(model, loss_fn, index, steps=STEPS, batch_size=BATCH, lr=LR, seed=0, desc=desc)


torch.manual_seed(0)
model = ActionDiT(action_dim=2, horizon=HORIZON, num_classes=NUM_CLASSES)
untrained_model = copy.deepcopy(model)
untrained = guidance_sweep(make_sample_fn(untrained_model), prototypes, [1.0])
start = time.perf_counter()
losses = train_denoiser(model, "adaLN-Zero DiT")
train_seconds = time.perf_counter() - start
sample_fn = make_sample_fn(model)

# %% [markdown]
# ### Guidance against fidelity and diversity
#
# The same trained model, sampled at several guidance scales:

# %%
# experiment: guidance sweep
W_GRID = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
sweep = guidance_sweep(sample_fn, prototypes, W_GRID)
print(f"{'':>10}{'w':>6}{'class accuracy':>16}{'spread':>9}")
print(f"{'untrained':>10}{1.0:>6.1f}{untrained['accuracy'][0]:>16.3f}{untrained['spread'][0]:>9.3g}")
for w, acc, spr in zip(sweep["w"], sweep["accuracy"], sweep["spread"]):
    print(f"{'trained':>10}{w:>6.1f}{acc:>16.3f}{spr:>9.3f}")

at = {w: i for i, w in enumerate(W_GRID)}
acc, spr = sweep["accuracy"], sweep["spread"]
assert acc[at[0.0]] < 0.5, "w = 0 ignores the label: accuracy near chance (0.25)"
assert acc[at[3.0]] > acc[at[1.0]], "guidance beyond the conditional model (w = 1) should raise class accuracy"
assert spr[at[3.0]] < spr[at[1.0]], "guidance beyond the conditional model (w = 1) should tighten each class"

# %% [markdown]
# Read the table: `w = 0` samples the whole data set whatever the label (chance accuracy, wide spread);
# `w = 1` is the plain conditional model; larger `w` removes the ambiguous samples and tightens the spread,
# until every sample looks like its prototype. Fidelity is bought with diversity. (The comparison that
# tests this claim is `w = 3` against `w = 1`: against `w = 0`, which ignores the label and spreads over
# all four classes, any conditional model would look tight.) Move the slider to see it.
#
# **Did the model learn the classes?** At `w = 1` the samples should look like the data of their class.
# The bar (`coursekit.kit.evidence.labelled_bar`): class accuracy at least 0.8 times that of held-out data
# (whose own accuracy is below 1, since classes overlap), and every class's spread within a factor 2 of
# the data's. The untrained model and four wrong answers must fail it: the average trajectory of all
# classes, trajectories of one class whatever the label, each class with four times its spread, and a
# Gaussian with the mean and covariance of all the data.

# %%
# experiment: the bar at w = 1
from coursekit.kit.evidence import labelled_bar, labelled_controls
from coursekit.kit.trajectories import nearest_class

labels = torch.arange(NUM_CLASSES).repeat_interleave(48)
x_ref, y_ref = class_trajectories(1024, torch.Generator().manual_seed(11))
candidates = {"trained, w = 1": torch.cat([sample_fn(k, 1.0) for k in range(NUM_CLASSES)]),
              "untrained, w = 1": torch.cat([make_sample_fn(untrained_model)(k, 1.0) for k in range(NUM_CLASSES)]),
              **labelled_controls(x_ref, y_ref, labels, torch.Generator().manual_seed(12))}
verdicts = {name: labelled_bar(x, labels, x_ref, y_ref, lambda x: nearest_class(x, prototypes), name=name)
            for name, x in candidates.items()}
for verdict in verdicts.values():
    print(verdict)
assert verdicts["trained, w = 1"], "the trained model should follow its labels: check the DiT pieces and guided_eps"
assert not any(v for name, v in verdicts.items() if name != "trained, w = 1"), "every negative control should fail the bar"

# %%
# experiment: guidance slider
from widgets.diffusion_transformer import guidance_explorer

guidance_explorer(sample_fn, prototypes, W_GRID, CLASS_NAMES)

# %% [markdown]
# ## 6 · Three ways to condition, on one budget
#
# The DiT paper compared several block designs for feeding in the condition:
#
# - **in-context**: the time and label embeddings become two extra tokens in the sequence;
# - **cross-attention**: every block attends from the action tokens to the two condition tokens;
# - **adaLN-Zero**: your model above.
#
# The two others come from `coursekit.kit.transformer` (plain pre-norm blocks, using your timestep embedding).
# Same data, seed, batches, steps and learning rate; we report the denoising loss on a fixed held-out batch
# and the class accuracy at `w = 1`. One seed and 300 steps is a small experiment: read it as a hint.

# %%
# experiment: conditioning comparison
from coursekit.kit.transformer import CrossAttentionDiT, InContextDiT

g = torch.Generator().manual_seed(3)
x_val, y_val = class_trajectories(1024, g)
t_val = torch.randint(0, T, (1024,), generator=g)
noise_val = torch.randn(x_val.shape, generator=g)
a_val = alpha_bar[t_val].reshape(-1, 1, 1)
xt_val = a_val.sqrt() * x_val + (1 - a_val).sqrt() * noise_val


def held_out_loss(m):
    with torch.no_grad():
        return float(((m(xt_val, t_val, y_val) - noise_val) ** 2).mean())


rows = [("adaLN-Zero (yours)", model, train_seconds)]
for name, cls in [("in-context tokens", InContextDiT), ("cross-attention", CrossAttentionDiT)]:
    torch.manual_seed(0)
    variant = cls(action_dim=2, horizon=HORIZON, num_classes=NUM_CLASSES, time_embedding=timestep_embedding)
    start = time.perf_counter()
    train_denoiser(variant, name)
    rows.append((name, variant, time.perf_counter() - start))

results = {}
print(f"{'conditioning':<20}{'parameters':>11}{'train s':>9}{'held-out loss':>15}{'accuracy (w=1)':>16}")
for name, m, seconds in rows:
    acc1 = sweep["accuracy"][at[1.0]] if m is model else guidance_sweep(make_sample_fn(m), prototypes, [1.0])["accuracy"][0]
    results[name] = (held_out_loss(m), acc1)
    print(f"{name:<20}{count_parameters(m):>11,}{seconds:>9.1f}{results[name][0]:>15.4f}{acc1:>16.3f}")
best = min(results, key=lambda n: results[n][0])
print(f"lowest held-out loss: {best}")

# %% [markdown]
# Compare with the paper: at DiT-XL/2 scale, adaLN-Zero gave the best FID of these variants while costing
# the fewest Gflops. Here adaLN-Zero has the most *parameters* (its modulation layers), so more parameters
# alone could explain a win; the in-context and cross-attention variants also have to route the condition
# through attention before it can change a token, whereas adaLN-Zero scales and shifts every normalised
# token directly.
#
# ## Takeaways
#
# - DiT embeds time as `[cos, sin]` sinusoids; keep the order the model was trained with.
# - adaLN-Zero: the condition regresses shift, scale and gate; zero-initialised gates make each block
#   start as the identity.
# - Classifier-free guidance trains one model with and without the label and extrapolates between them:
#   more fidelity, less diversity, as `w` grows.
#
# Next (05): the ingredients that robot transformers added: RMSNorm, QK-norm, alternating cross-attention,
# per-layer conditioning, and one action space for many robots.
