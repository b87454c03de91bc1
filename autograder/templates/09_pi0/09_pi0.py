# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 09 · pi0: a flow-matching action expert
#
# pi0 (Black et al. 2024) turns a vision-language model into a robot policy. Camera images and the
# instruction go through the VLM as a **prefix** of tokens; a much smaller transformer, the
# **action expert**, with its own weights, reads the robot **state** and a **noisy chunk of H = 50
# actions** and attends, layer by layer, to the prefix. It is trained by flow matching (Lipman et
# al. 2023) to predict the velocity that carries noise to actions, and it samples a chunk with 10
# Euler steps.
#
# You will implement the pieces that make this work, and then train a tiny pi0 on a CPU:
#
# 1. the **Beta time distribution** pi0 trains on (its density and a sampler);
# 2. **noisy actions and the target velocity**, and the conversion to **openpi's reversed clock**;
# 3. the **blockwise attention mask** (prefix · state · actions);
# 4. **10-step Euler sampling**, in both clocks;
# 5. **attention with a prefix key/value cache**, which must give the same actions as recomputing.
#
# Sources: Black et al., *π0: A Vision-Language-Action Flow Model for General Robot Control* (2024);
# Lipman, Chen, Ben-Hamu, Nickel & Le, *Flow Matching for Generative Modeling* (ICLR 2023);
# Physical Intelligence's `openpi` code (`src/openpi/models/pi0.py`), whose conventions we convert
# to explicitly.
#
# **Two clocks.** This course's flow-matching time is `tau ∈ [0, 1]` with **`tau = 0` noise and
# `tau = 1` data**, as in the paper's notation `A^tau = tau A + (1 - tau) eps`. The openpi code runs
# the clock backwards, **`t = 1 - tau`**: noise at `t = 1`, data at `t = 0`. Formulas written in one
# clock and used in the other flip signs; we never mix them silently.
#
# | | this course (`tau`) | openpi (`t = 1 - tau`) |
# |---|---|---|
# | noise / data | `tau = 0` / `tau = 1` | `t = 1` / `t = 0` |
# | noisy chunk | `tau A + (1 - tau) eps` | `t eps + (1 - t) A` |
# | velocity target | `A - eps` | `eps - A` |
# | sampling | `tau`: 0 → 1, `dt = +1/10` | `t`: 1 → 0, `dt = -1/10` |
#
# Chunks are `(B, H, D)` float32, times `(B,)` float32. Randomness comes from explicit generators.

# %%
import math

import torch
from tqdm.auto import tqdm

from coursekit.checks.visible import checker
from coursekit.hints import hinter
from coursekit.checks.runtime import skip_experiments_when_autograding
from coursekit.validate import (ShapeError, check_count, check_flow_times, check_number, check_same_shape, check_tensor,
                                checked_field)

check = checker("09_pi0")
hint = hinter("09_pi0")  # stuck? hint("<function name>"): a nudge, then the key idea, then the formula
skip_experiments_when_autograding()  # cells starting "# experiment:" carry no points; the autograder skips them
torch.manual_seed(0)
torch.set_num_threads(1);  # tiny models: one thread is fastest here, and leaves the other core free

# %% [markdown]
# ## 1 · Which times to train on
#
# Flow matching regresses a velocity at random times `tau`. Plain flow matching draws
# `tau ~ U[0, 1]`. pi0 puts more weight on the noisy end. Near pure noise the best prediction is
# roughly the *average* chunk given the observation: for images that blurry average is easy and
# says little, but for actions conditioned on a rich observation it is most of the answer, and the
# hard part. pi0 therefore draws
#
# $$p(\tau) = \mathrm{Beta}\Big(\frac{s - \tau}{s};\ 1.5,\ 1\Big), \qquad s = 0.999,$$
#
# which is largest at `tau = 0` and zero above the cut-off `s` (times closer to the data than
# `1 - s` are never trained on). The Beta variable is `u = (s - tau) / s`: **flipped**, so `u = 1`
# is `tau = 0`. As a density of `tau` it needs the Jacobian `|du / dtau| = 1 / s`:
#
# $$p(\tau) = \frac{1}{s}\ \frac{u^{\alpha - 1} (1 - u)^{\beta - 1}}{B(\alpha, \beta)},\qquad
# B(\alpha,\beta) = \frac{\Gamma(\alpha)\Gamma(\beta)}{\Gamma(\alpha+\beta)},\qquad 0 \le \tau \le s .$$
#
# Use `math.lgamma` for the normalising constant and `torch.special.xlogy(a, u)` (`= a log u`, and 0
# when `a = 0`) so that `u = 0` or `u = 1` cause no `nan`.

# %% graded="time_density" points=2

# %% [markdown]
# To **sample**, draw `u ~ Beta(alpha, beta)` and solve `u = (s - tau) / s` for `tau`. torch's
# Beta sampler has no `generator` argument, so here is a helper that makes it reproducible:

# %% provided="beta_variates"

# %% graded="sample_time" points=1

# %% [markdown]
# Compare your sampler with your density. Move `s` down to see the cut-off, and the Beta
# parameters to see what pi0's choice `(1.5, 1)` emphasises. (`alpha = beta = 1` is uniform.)

# %%
# experiment: time distribution explorer
from widgets.pi0 import time_distribution_explorer

time_distribution_explorer(sample_time, time_density)

# %% [markdown]
# openpi writes the same distribution in its own clock: `t = 0.999 * Beta(1.5, 1) + 0.001`. With
# `t = 1 - tau` that is exactly `tau = s (1 - u)`; the same draws `u` give both:

# %%
tau = sample_time(5, torch.Generator().manual_seed(0))
u = beta_variates(5, 1.5, 1.0, torch.Generator().manual_seed(0))
print("1 - tau           :", (1 - tau).numpy().round(4))
print("openpi 0.999u+.001:", (0.999 * u + 0.001).numpy().round(4))
assert torch.allclose(1 - tau, 0.999 * u + 0.001, atol=1e-6)

# %% [markdown]
# ## 2 · Noisy actions and the velocity target
#
# At time `tau` the expert sees the noisy chunk
#
# $$A^\tau = \tau A + (1 - \tau)\,\varepsilon, \qquad \varepsilon \sim \mathcal N(0, I),$$
#
# noise at `tau = 0`, the demonstrated chunk `A` at `tau = 1`. (Some write-ups print the noise weight
# as `(t - tau)`: a typo, the weight is `1 - tau`.) Along this straight line the velocity is
# `d A^tau / d tau = A - eps`, constant in `tau`: that is the regression target. The pi0 paper
# writes the target as `eps - A`, which does not match its own `tau`; that sign is right in
# openpi's reversed clock (next cell). Used with `tau`, it sends the sampler away from the data.
#
# `tau` holds one time per chunk, `(B,)`; reshape it to `(B, 1, 1)` so that it scales whole chunks.

# %% graded="noisy_actions" points=1

# %% graded="target_velocity" points=1

# %% [markdown]
# ### openpi's clock
#
# openpi uses `t = 1 - tau`: `x_t = t eps + (1 - t) A`, target `u_t = dx_t/dt = eps - A`. A network
# trained that way predicts `v_t(x, t) ≈ eps - A`. To use it where a `tau` field is expected, ask it
# at its own time and reverse the velocity, since `dx/dtau = -dx/dt`:
#
# $$v(x, \tau) = -\,v_t(x,\ 1 - \tau), \qquad\text{and back:}\qquad v_t(x, t) = -\,v(x,\ 1 - t).$$
#
# Write both conversions. Each returns a new function (a closure) that calls the one it was given.

# %% graded="tau_field_from_openpi" points=1

# %% graded="openpi_field_from_tau" points=1

# %% [markdown]
# The two clocks describe the same points: openpi's `x_t` at `t = 1 - tau` *is* your `A^tau`, its
# target is minus yours, and converting a field there and back changes nothing.

# %%
g = torch.Generator().manual_seed(1)
A, eps = torch.randn(4, 50, 2, generator=g), torch.randn(4, 50, 2, generator=g)
t = torch.rand(4, generator=g)
openpi_x_t = t[:, None, None] * eps + (1 - t[:, None, None]) * A
assert torch.allclose(openpi_x_t, noisy_actions(A, eps, 1 - t), atol=1e-6)
assert torch.allclose(eps - A, -target_velocity(A, eps))


def some_field(x, tau):  # any field will do
    return torch.sin(3 * x) * (1 + tau[:, None, None])


round_trip = tau_field_from_openpi(openpi_field_from_tau(some_field))
assert torch.allclose(round_trip(A, t), some_field(A, t), atol=1e-6)
print("same points, opposite velocities, and the conversions undo each other")

# %% [markdown]
# ## 3 · The blockwise attention mask
#
# pi0's tokens come in three blocks, in this order: the **prefix** (image patches and instruction
# words), the **state**, and the **actions**. Within a block attention goes both ways; across
# blocks it goes one way, each token seeing the blocks up to its own:
#
# - the prefix sees only the prefix (it is the VLM's input, and knows nothing of the robot's actions);
# - the state sees the prefix and itself;
# - the actions see everything, and each other in both directions: the whole chunk is denoised together.
#
# Return a boolean `(L, L)` mask, **True = may attend**, row `i` the query, column `j` the key (the
# convention of `torch.nn.functional.scaled_dot_product_attention`). Hint: give each token the
# number of its block; then the rule is one comparison.

# %% graded="blockwise_mask" points=2

# %%
# experiment: attention mask explorer
from widgets.pi0 import attention_mask_explorer

attention_mask_explorer(blockwise_mask)

# %% [markdown]
# ### Two sets of weights, one attention
#
# pi0 (Black et al. 2024) is one transformer with two sets of weights in every layer: the VLM's for the
# prefix and the action expert's for the suffix. Each group makes its own queries, keys and values;
# they are put side by side and attend in a single attention, under your mask, and each group's output
# goes back through its own weights. The right panel is **your** `blockwise_mask` on a small example.

# %%
# experiment: picture of one pi0 layer
from coursekit.assignments.pi0.pictures import pi0_layer_figure

pi0_layer_figure(blockwise_mask).show()

# %% [markdown]
# Two consequences to read off the pictures: the prefix rows are empty over the state and action
# columns, so the prefix can be computed **once** per observation (section 5), and so can the
# state's row. Only the action block depends on the noisy actions.
#
# ## 4 · Ten Euler steps
#
# To act, pi0 starts from noise and integrates the learned velocity with 10 Euler steps. In `tau`
# time: `x_0 = eps`, `x <- x + dt v(x, tau)` at `tau = 0, 0.1, ..., 0.9`, with `dt = 1/10`.
# openpi does the same walk in its clock: `x = eps` at `t = 1`, `x <- x + dt v_t(x, t)` at
# `t = 1, 0.9, ..., 0.1` with **`dt = -1/10`**. Write both; pass times as `(B,)` tensors.

# %% graded="euler_sample" points=2

# %% graded="euler_sample_openpi" points=1

# %% [markdown]
# Check both clocks on a field whose answer we know: for a single target chunk `A`, the
# straight-line field `v(x, tau) = (A - x) / (1 - tau)` moves every point along a straight line to
# `A`, and Euler follows straight lines exactly. Both samplers must land on `A`, and on each other.

# %%
target = torch.randn(1, 50, 2, generator=g).expand(6, 50, 2)


def straight_to_target(x, tau):
    return (target - x) / (1 - tau[:, None, None])


start = torch.randn(6, 50, 2, generator=g)
in_tau = euler_sample(straight_to_target, start, 10)
in_openpi = euler_sample_openpi(openpi_field_from_tau(straight_to_target), start, 10)
print(f"tau sampler    -> target: max error {float((in_tau - target).abs().max()):.2e}")
print(f"openpi sampler -> target: max error {float((in_openpi - target).abs().max()):.2e}")
assert torch.allclose(in_tau, target, atol=1e-5) and torch.allclose(in_openpi, in_tau, atol=1e-5)

# %% [markdown]
# ## 5 · Caching the prefix
#
# In every layer, each group of tokens makes queries, keys and values with its own weights, and all
# queries attend over all keys allowed by the mask. Since the prefix never attends to the suffix
# (state and actions), the prefix's keys and values in every layer depend only on the observation.
# pi0 therefore runs the prefix once, keeps its keys and values (the **KV cache**), and in each of
# the 10 Euler steps runs only the suffix, whose queries attend over `[cached prefix keys, suffix
# keys]`. In pi0 the prefix is hundreds of image tokens through a 3-billion-parameter VLM, so at
# inference this saves most of the work. (In training there is nothing to cache: pi0 trains the VLM
# together with the action expert, so the prefix's keys and values change with every update, and one
# training step runs prefix and suffix once anyway, with a single noise level.)
#
# Write the attention of the suffix with a cache. With `q, k, v` of the suffix `(B, h, S, hd)`, the
# cached `prefix_k, prefix_v` `(B, h, P, hd)` and the suffix rows of the mask `(S, P + S)`:
#
# $$\mathrm{out} = \mathrm{softmax}\Big(\frac{q\,[K_{prefix}; K]^\top}{\sqrt{hd}} + M\Big)\,[V_{prefix}; V],
# \qquad M_{ij} = 0 \text{ if allowed, } -\infty \text{ if not}.$$
#
# The mask's columns list the prefix keys first, so concatenate in that order.

# %% graded="cached_suffix_attention" points=3

# %% [markdown]
# ## 6 · Experiment: a tiny pi0
#
# **Task.** A point robot stands somewhere in `[-0.5, 0.5]^2` and gets one of four instructions
# ("turn left", "turn right", "go straight", "draw an s-curve"). Demonstrations are 2-D paths of
# `H = 50` positions, relative to the robot (openpi also trains on such *delta* actions); each draws
# its own heading, curvature and length, so every task is a distribution of chunks.
#
# **Model** (`coursekit/assignments/pi0/model.py`). The prefix is 16 patches of a 16 × 16 camera image plus 4
# instruction words, run through a "VLM" (width 128, random weights standing in for a pretrained
# one). The action expert (width 32, about 15 times smaller) embeds the state as one
# token and each noisy action, mixed with an embedding of `tau`, as one token; in each of its 2
# layers, its queries attend to the prefix keys and values through **your**
# `cached_suffix_attention` with **your** mask. Training uses your time sampler, noisy actions and
# target.
#
# **A simplification of ours, not pi0's.** pi0 fine-tunes the whole model, VLM included, with the
# flow-matching loss. To train on a CPU in seconds, our toy freezes its random stand-in VLM and trains
# only the expert. Only because of that freezing can we compute the prefix keys and values of every
# training observation once, before training, and have each step look up the rows of its mini-batch.
# In pi0 the KV cache is an inference-time optimisation.

# %%
# experiment: training
import copy

from coursekit.assignments.pi0.data import (HORIZON, TASKS, make_episodes, mean_chunk_error, observe, start_error,
                                          task_accuracy, task_prototypes)
from coursekit.assignments.pi0.model import ToyPi0, precompute_prefix, sample_recomputing, sample_with_cache
from coursekit.kit.evidence import labelled_bar, labelled_controls
from coursekit.kit.trajectories import nearest_class
from coursekit.kit.train import train

actions, state, task = make_episodes(4096, torch.Generator().manual_seed(0))
model = ToyPi0(seed=0)
untrained = copy.deepcopy(model)
P, S = model.num_prefix, model.num_state
mask = blockwise_mask(P, S, HORIZON)                                # (L, L), L = 20 + 1 + 50
count = lambda m: sum(p.numel() for p in m.parameters())
print(f"prefix {P} tokens, suffix {S + HORIZON} tokens; VLM {count(model.vlm):,} parameters (frozen), "
      f"action expert {count(model.expert):,} (trained)")
prefix_kv = precompute_prefix(model, state, task, mask[:P, :P])   # per layer: keys, values (4096, h, P, hd)


def loss_on_batch(rows, g):
    i = rows[:, 0].long()                                           # which demonstrations
    tau = sample_time(len(i), g)
    eps = torch.randn(actions[i].shape, generator=g)
    cache = [(k[i], v[i]) for k, v in prefix_kv]
    v = model.velocity_cached(cache, state[i], noisy_actions(actions[i], eps, tau), tau, mask[P:],
                              cached_suffix_attention)
    return ((v - target_velocity(actions[i], eps)) ** 2).mean()


index = torch.arange(len(actions), dtype=torch.float32)[:, None]  # train() draws mini-batches of rows
losses = train(model, loss_on_batch, index, steps=800, batch_size=16, lr=5e-3, desc="action expert")

# %% [markdown]
# **Does it follow the instruction?** We sample 64 chunks per task with the cached sampler and
# classify each by its nearest task prototype (the mean demonstration of each task). Held-out
# demonstrations themselves score below 1, since the tasks overlap a little. We also compare,
# per task, the mean sampled chunk with the prototype.
#
# The bar (`coursekit.kit.evidence.labelled_bar`): the accuracy is at least 0.8 times the held-out
# demonstrations' own, and for every task the spread of the sampled chunks around their mean is
# within a factor 2 of the demonstrations' (neither collapsed onto one chunk nor blurred). The
# untrained expert and four wrong answers must fail it: the average chunk of all tasks, chunks of one
# task whatever the instruction, each task's chunks with four times their spread, and a Gaussian with
# the mean and covariance of all the demonstrations.

# %%
# experiment: does it follow the instruction?
test_task = torch.arange(len(TASKS)).repeat_interleave(64)
test_actions, test_state, _ = make_episodes(len(test_task), torch.Generator().manual_seed(5), task=test_task)
test_obs = observe(test_state, test_task)
noise = torch.randn(test_actions.shape, generator=torch.Generator().manual_seed(6))
with torch.no_grad():
    samples = {name: sample_with_cache(m, test_obs, noise, mask, cached_suffix_attention, euler_sample)
               for name, m in (("untrained", untrained), ("trained", model))}
errors = {name: mean_chunk_error(x, test_task) for name, x in samples.items()}
print(f"{'':>22}{'accuracy':>10}" + "".join(f"{name:>12}" for name in TASKS) + f"{'start err':>11}")
for name, x in [("held-out data", test_actions), *samples.items()]:
    print(f"{name:>22}{task_accuracy(x, test_task):>10.2f}"
          + "".join(f"{e:>12.4f}" for e in mean_chunk_error(x, test_task)) + f"{start_error(x):>11.3f}")
assert all(e_t < 0.5 * e_u for e_t, e_u in zip(errors["trained"], errors["untrained"])), \
    "every task's mean chunk should be much closer to its prototype after training"

controls = labelled_controls(test_actions, test_task, test_task, torch.Generator().manual_seed(7))
classify = lambda x: nearest_class(x, task_prototypes(x.shape[1]))
verdicts = {name: labelled_bar(x, test_task, test_actions, test_task, classify, name=name)
            for name, x in {**samples, **controls}.items()}
print()
for verdict in verdicts.values():
    print(verdict)
assert verdicts["trained"], "the trained expert should follow the instructions: check your sampler, loss pieces and attention"
assert not any(verdicts[name] for name in ["untrained", *controls]), "every negative control should fail the bar"

# %%
# experiment: sampled chunks
import plotly.graph_objects as go
from plotly.subplots import make_subplots

fig = make_subplots(rows=1, cols=len(TASKS), subplot_titles=[f'"{name}"' for name in TASKS],
                    shared_xaxes=True, shared_yaxes=True)
for k in range(len(TASKS)):
    for i in range(8):
        j = 64 * k + i
        for chunk, colour, label in ((test_actions[j], "lightgray", "demonstrations"),
                                     (samples["trained"][j], "crimson", "pi0 samples")):
            xy = (chunk + test_state[j]).numpy()                       # back to absolute positions
            fig.add_scatter(x=xy[:, 0], y=xy[:, 1], mode="lines", line=dict(color=colour, width=1.5),
                            name=label, legendgroup=label, showlegend=(k == 0 and i == 0), row=1, col=k + 1)
    fig.add_scatter(x=test_state[64 * k:64 * k + 8, 0].numpy(), y=test_state[64 * k:64 * k + 8, 1].numpy(),
                    mode="markers", marker=dict(color="black", size=5), name="robot", legendgroup="robot",
                    showlegend=(k == 0), row=1, col=k + 1)
fig.update_layout(height=330, margin=dict(t=40, b=20, l=20, r=20))
fig.show()

# %% [markdown]
# **Same actions, less work.** The cached sampler runs the prefix once; the other recomputes prefix
# and suffix together at each of the 10 steps (with torch's fused attention and the full mask). They
# must agree to float precision.
#
# How much the cache saves depends on how long the prefix is against the suffix (here 51 tokens).
# We time both samplers (16 chunks, 10 steps, best of two) with prefixes of 8 to 260 tokens: the same
# toy VLM cutting its 16 × 16 image into patches of 8, 4, 2 and 1 pixels. pi0's prefix is several
# hundred tokens (256 per camera image plus the instruction). Timings on a shared machine are noisy, so
# we print and plot them and assert nothing about them.

# %%
# experiment: cache vs recompute
import time

few_obs = observe(test_state[:64], test_task[:64])
with torch.no_grad():
    cached = sample_with_cache(model, few_obs, noise[:64], mask, cached_suffix_attention, euler_sample)
    recomputed = sample_recomputing(model, few_obs, noise[:64], mask, euler_sample)
print(f"largest difference cached vs recomputed: {float((cached - recomputed).abs().max()):.2e}")
assert torch.allclose(cached, recomputed, atol=1e-4), "the cache must not change the actions"


def best_time(fn, repeats=2):
    best = float("inf")
    for _ in range(repeats):
        start_time = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start_time)
    return best


timings = {}                                                       # prefix length -> (cached s, recomputing s)
obs16 = observe(test_state[:16], test_task[:16])
with torch.no_grad():
    for patch in (8, 4, 2, 1):
        m = ToyPi0(patch=patch, seed=0)                            # untrained weights time the same
        m_mask = blockwise_mask(m.num_prefix, S, HORIZON)
        timings[m.num_prefix] = (
            best_time(lambda: sample_with_cache(m, obs16, noise[:16], m_mask, cached_suffix_attention, euler_sample)),
            best_time(lambda: sample_recomputing(m, obs16, noise[:16], m_mask, euler_sample)))
print(f"{'prefix tokens':>14}{'cached ms':>11}{'recomputing ms':>16}{'speed-up':>10}")
for length, (t_cached, t_full) in timings.items():
    print(f"{length:>14}{1000 * t_cached:>11.0f}{1000 * t_full:>16.0f}{t_full / t_cached:>9.1f}x")

fig = go.Figure(go.Scatter(x=list(timings), y=[t_full / t_cached for t_cached, t_full in timings.values()],
                           mode="lines+markers"))
fig.update_layout(height=300, width=480, title="speed-up of the prefix cache (16 chunks, 10 Euler steps)",
                  xaxis=dict(type="log", title="prefix tokens"), yaxis=dict(title="recomputing / cached"),
                  margin=dict(t=50, b=40, l=50, r=20))
fig.show()

# %% [markdown]
# Recomputing pays for the prefix at every one of the 10 steps; the cache pays for it once. The
# longer the prefix is against the 51 suffix tokens, the larger the share of the work the cache
# removes: read in the table how the speed-up grows with the prefix length. It can never exceed the
# number of steps, since the suffix is recomputed at every step either way.

# %% [markdown]
# The cache is only valid because of the mask. If the prefix could see the actions, its keys and
# values would change with every noisy chunk; the cached velocity would then silently differ from
# the real one:

# %%
# experiment: a leaky mask breaks the cache
leaky = mask.clone()
leaky[:P, P + S:] = True                                           # prefix rows see the action block
with torch.no_grad():
    tau_half = torch.full((8,), 0.5)
    obs8 = observe(test_state[:8], test_task[:8])
    cache = model.prefix_cache(obs8, leaky[:P, :P])
    v_cached = model.velocity_cached(cache, obs8.state, noise[:8], tau_half, leaky[P:], cached_suffix_attention)
    v_full = model.velocity_full(obs8, noise[:8], tau_half, leaky)
print(f"with a leaky mask, cached vs recomputed velocity differ by up to {float((v_cached - v_full).abs().max()):.3f}")

# %% [markdown]
# **openpi's clock, same actions.** Wrap the trained expert with your conversion and run openpi's
# sampler from `t = 1` to `t = 0`: the chunks are the ones the `tau` sampler produced.

# %%
# experiment: openpi's clock
with torch.no_grad():
    cache = model.prefix_cache(few_obs, mask[:P, :P])
    velocity = lambda x, tau: model.velocity_cached(cache, few_obs.state, x, tau, mask[P:], cached_suffix_attention)
    via_openpi = euler_sample_openpi(openpi_field_from_tau(velocity), noise[:64], 10)
print(f"largest difference, openpi clock vs tau clock: {float((via_openpi - cached).abs().max()):.2e}")
assert torch.allclose(via_openpi, cached, atol=1e-4)

# %% [markdown]
# ## Takeaways
#
# - pi0 trains on `tau ~ Beta((s - tau)/s; 1.5, 1)`: most of the effort goes to the noisy end.
# - `A^tau = tau A + (1 - tau) eps` with target `A - eps`, integrated from `tau = 0` to 1; openpi's
#   `eps - A`, integrated from `t = 1` to 0, is the same method in the reversed clock, `t = 1 - tau`.
# - The blockwise mask keeps the prefix blind to the actions. That is what makes the prefix KV cache
#   exact, so 10 denoising steps cost little more than one pass of the VLM.
