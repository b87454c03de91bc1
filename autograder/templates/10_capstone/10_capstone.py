# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 10 · Capstone: watching a policy form trajectories
#
# Everything so far comes together here. A robot's hand must go from a start to one of three goals on
# the far side of a round obstacle; the demonstrations go **beside** it or **over** it, so every goal
# has two ways around (six modes in all). You will train a small Diffusion Transformer policy on these
# 3-D paths, conditioned on the goal, and then *watch* it work: a swarm of noise particles settles,
# step by step, into paths that go around the obstacle to the goal you picked.
#
# You write the pieces that turn paths into something a DiT can denoise, and back:
#
# 1. **normalisation** of each coordinate to `[-1, 1]` and back (as Diffusion Policy does);
# 2. **tokenisation**: a path of `H = 16` waypoints becomes `H / P` tokens of `P` consecutive waypoints
#    (DiT cuts images into patches the same way);
# 3. **goal-conditioned guidance** (classifier-free, as in 04);
# 4. a **sampler that keeps every state**, from pure noise to the final paths;
# 5. a **formation metric**: at each step, how far each sample is from the nearest demonstration.
#
# Sources: Chi et al., *Diffusion Policy* (2023) for the normalisation and the action-sequence view;
# Peebles & Xie, *Scalable Diffusion Models with Transformers* (2023) for patches as tokens; Ho & Salimans,
# *Classifier-Free Diffusion Guidance* (2022); Ho et al., *Denoising Diffusion Probabilistic Models* (2020)
# for the sampler. The handbook's "Diffusion Visualization" notebook is the idea this assignment makes
# measurable.
#
# **Conventions.** `float32`, batch first, positions in metres. A path is `(B, H, 3)`. Diffusion time is
# 0-based, `t ∈ {0, …, T-1}` (as in 02). The sampler's states are `(T + 1, B, N, C)`: state 0 is the noise.

# %%
import torch

from coursekit.checks.runtime import skip_experiments_when_autograding
from coursekit.checks.visible import checker
from coursekit.hints import hinter
from coursekit.kit.diffusion import denoising_loss
from coursekit.validate import ShapeError, check_tensor

check = checker("10_capstone")
hint = hinter("10_capstone")  # stuck? hint("<function name>"): a nudge, then the key idea, then the formula
skip_experiments_when_autograding()  # cells starting "# experiment:" carry no points; the autograder skips them
torch.set_num_threads(1)  # tiny models: one thread is fastest, and leaves the other core free
torch.manual_seed(0);

# %% [markdown]
# ## 1 · The data
#
# Each demonstration is a smooth curve from the start through a *via point* (beside or over the
# obstacle, a little noise on it) to the goal. The straight line to every goal goes through the
# obstacle, so a policy that averages the two ways (what a regression policy does) would fail.

# %%
# experiment: data
import plotly.graph_objects as go

from coursekit.assignments.capstone.data import (GOAL_NAMES, GOALS, HORIZON, NUM_GOALS, START, WAYS, clearance,
                                                 demonstrations, sphere_mesh, way_around)

paths, goal, way = demonstrations(4096, torch.Generator().manual_seed(0))
print(f"{len(paths)} demonstrations {tuple(paths.shape)}; closest approach to the obstacle's surface "
      f"{1000 * float(clearance(paths).min()):.0f} mm; way around judged right for "
      f"{float((way_around(paths) == way).float().mean()):.0%} of them")
fig = go.Figure()
x, y, z = sphere_mesh()
fig.add_mesh3d(x=x, y=y, z=z, alphahull=0, opacity=0.35, color="gray", name="obstacle")
for k, name in enumerate(GOAL_NAMES):
    for j, way_name in enumerate(WAYS):
        sel = paths[(goal == k) & (way == j)][:6]
        for p in sel:
            fig.add_scatter3d(x=p[:, 0], y=p[:, 1], z=p[:, 2], mode="lines", showlegend=False,
                              line=dict(width=2, color=["royalblue", "darkorange", "seagreen"][k], dash=["solid", "dot"][j]))
fig.update_layout(height=420, width=560, margin=dict(t=20, l=0, r=0, b=0), scene=dict(aspectmode="data"))
fig.show()

# %% [markdown]
# ## 2 · Normalisation
#
# Diffusion Policy maps every action coordinate to `[-1, 1]` with the data set's range: `low` goes to
# `-1` and `high` to `+1`,
#
# $$\text{normalize}(x) = 2\,\frac{x - \text{low}}{\text{high} - \text{low}} - 1 .$$
#
# Two reasons: the noise `N(0, I)` the sampler starts from then has the scale of the data in every
# coordinate, and the sampler can **clip** its estimate of the clean sample to `[-1, 1]`, the range where
# the data live. `low` and `high` are per coordinate `(D,)`, the same for every path.

# %% graded="normalize" points=1

# %% graded="unnormalize" points=1

# %% [markdown]
# ## 3 · Tokens
#
# A DiT sees a sequence of tokens. For images, DiT cuts the picture into `p × p` patches and flattens
# each patch into one token. For a path, the natural patch is `P` consecutive waypoints: a `(B, H, D)`
# path becomes `(B, H / P, P · D)` tokens, where token `k` lists waypoints `kP, …, kP + P - 1` in time
# order, each waypoint's coordinates together: `[x_0, y_0, z_0, x_1, y_1, z_1]` for `P = 2`.
# Fewer, larger tokens make attention cheaper (it grows with the square of the number of tokens).
# `detokenize` undoes it exactly.

# %% graded="tokenize" points=2

# %% graded="detokenize" points=1

# %% [markdown]
# ## 4 · Goal-conditioned guidance
#
# The policy is told which goal to reach, as an index `0, 1, 2`; index `3` is the **null goal**, "no goal
# given". Training hides the goal for 10 % of the batch, so one network learns both `ε(x_t, t, goal)` and
# `ε(x_t, t, ∅)`. At sampling time, classifier-free guidance combines them:
#
# $$\hat\varepsilon = \varepsilon(x_t, t, \varnothing) + w\,\big(\varepsilon(x_t, t, \text{goal}) - \varepsilon(x_t, t, \varnothing)\big).$$
#
# `w = 0` ignores the goal, `w = 1` is the goal-conditioned model, `w > 1` pushes further towards it.

# %% graded="goal_guided_eps" points=2

# %% [markdown]
# ## 5 · A sampler that keeps every state
#
# To watch the paths form, the sampler must return **every** intermediate state, not only the last.
# This is DDPM's ancestral sampler (02) in the form diffusers' `DDPMScheduler(clip_sample=True)` and
# Diffusion Policy use it: at each step, estimate the clean sample from the predicted noise, **clip** it
# to `[-1, 1]` (the normalised data range, section 2), then step to the posterior mean of `x_{t-1}` and
# add fresh noise, except at the last step:
#
# $$\hat x_0 = \operatorname{clip}\Big(\frac{x_t - \sqrt{1-\bar\alpha_t}\,\hat\varepsilon}{\sqrt{\bar\alpha_t}}\Big),\qquad
# x_{t-1} = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1-\bar\alpha_t}\hat x_0 + \frac{\sqrt{\alpha_t}\,(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}x_t
# + \sqrt{\tilde\beta_t}\,z,\quad \tilde\beta_t = \beta_t\frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}.$$
#
# With `T` steps it returns `T + 1` states of the noise's shape, `(T + 1, B, N, C)`: `states[0]` is the
# noise, `states[-1]` the samples.

# %% graded="sample_trajectory" points=3

# %% [markdown]
# ## 6 · A formation metric
#
# When do the samples "lock in"? At every step, measure how far each sample is from the **nearest**
# demonstration. The distance between two paths is the root-mean-square over their `H` waypoints of
# the distance between matching waypoints, in metres:
#
# $$d(a, b) = \sqrt{\tfrac1H \textstyle\sum_h \lVert a_h - b_h \rVert^2},\qquad
# \text{formation}[s, i] = \min_m d(\text{states}[s, i], \text{data}[m]).$$
#
# `states` is `(S, B, H, D)` (world coordinates), `data` is `(M, H, D)`; the result is `(S, B)`.

# %% graded="formation_distance" points=2

# %% [markdown]
# ## 7 · The policy: a small DiT over path tokens
#
# The network is the course's DiT from 04 in its **in-context** form (`coursekit.kit.transformer.InContextDiT`):
# the time and goal embeddings become two extra tokens in front of the `H / P = 8` path tokens, and
# plain pre-norm transformer blocks process the sequence (04 grades the adaLN-Zero form, so it is not
# repeated here). Time is embedded with the course's sinusoidal embedding. The loss is 02's epsilon loss on
# normalised tokens, with the goal hidden for a tenth of each batch:

# %% provided="policy_loss"

# %%
# experiment: training
import time

from coursekit.assignments.capstone.bar import capstone_bar, capstone_controls, formation_scale
from coursekit.kit.diffusion import cosine_alpha_bar, sinusoidal_embedding
from coursekit.kit.train import train
from coursekit.kit.transformer import InContextDiT, count_parameters

T, P, STEPS, BATCH, LR = 50, 2, 400, 64, 5e-3
alpha_bar = cosine_alpha_bar(T)
low, high = paths.amin(dim=(0, 1)), paths.amax(dim=(0, 1))
tokens = tokenize(normalize(paths, low, high), P)                          # (4096, 8, 6)
assert torch.allclose(unnormalize(detokenize(tokens, P), low, high), paths, atol=1e-5), "round trip"

torch.manual_seed(0)
policy = InContextDiT(action_dim=3 * P, horizon=HORIZON // P, num_classes=NUM_GOALS,
                      time_embedding=sinusoidal_embedding, hidden_size=32, depth=2)
untrained = InContextDiT(action_dim=3 * P, horizon=HORIZON // P, num_classes=NUM_GOALS,
                         time_embedding=sinusoidal_embedding, hidden_size=32, depth=2)
start = time.perf_counter()
losses = train(policy, lambda idx, g: policy_loss(policy, tokens[idx], goal[idx], alpha_bar, g),
               torch.arange(len(tokens)), steps=STEPS, batch_size=BATCH, lr=LR, seed=0, desc="DiT policy")
print(f"{count_parameters(policy):,} parameters, {STEPS} steps in {time.perf_counter() - start:.1f} s; "
      f"loss {sum(losses[:20]) / 20:.3f} -> {sum(losses[-20:]) / 20:.3f}")


def sample_states(model, goals, w=1.0, seed=1):
    """Every state of the sampler, in world coordinates: (T + 1, len(goals), H, 3)."""
    noise = torch.randn(len(goals), HORIZON // P, 3 * P, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        states = sample_trajectory(lambda x, t: goal_guided_eps(model, x, t, goals, w, NUM_GOALS), noise,
                                   alpha_bar, torch.Generator().manual_seed(seed + 1))
    flat = detokenize(states.reshape(-1, *states.shape[2:]), P)             # ((T + 1) B, H, 3)
    return unnormalize(flat, low, high).reshape(len(states), len(goals), HORIZON, 3)

# %% [markdown]
# ## 8 · Did it learn? A bar with negative controls
#
# Asked for a goal, the paths must (a) **reach** it (mean end error under 5 cm), (b) **clear** the
# obstacle (90 % of paths), (c) use **both ways** around for every goal (each way at least 20 %), and
# (d) **form**: lie as close to a demonstration of that goal as fresh demonstrations do (median distance
# at most twice theirs). The same bar must reject what did not learn: the untrained network, the
# trained network asked for the wrong goal, and the wrong answers a policy could give: one way only, the
# average of the two ways (what regression learns), paths four times too wide, a Gaussian with the
# right mean and covariance.

# %%
# experiment: quality bar
held_out, held_goal, _ = demonstrations(1024, torch.Generator().manual_seed(3))
scale = formation_scale(paths, goal, held_out, held_goal)
asked = torch.arange(NUM_GOALS).repeat_interleave(32)                      # 32 paths per goal
wrong = (asked + 1) % NUM_GOALS
candidates = {"trained": sample_states(policy, asked)[-1], "untrained": sample_states(untrained, asked)[-1],
              "trained, wrong goal": sample_states(policy, wrong)[-1]}
candidates.update(capstone_controls(paths, goal, way, asked, torch.Generator().manual_seed(4)))
verdicts = {name: capstone_bar(x, asked, paths, goal, scale, name=name) for name, x in candidates.items()}
print(f"fresh demonstrations lie {1000 * scale:.1f} mm from the nearest training path (median)\n")
for v in verdicts.values():
    print(v)
assert verdicts.pop("trained"), "the trained policy should pass the bar"
assert not any(verdicts.values()), "every negative control should fail the bar"

# %% [markdown]
# ## 9 · Guidance: does the policy listen to the goal?
#
# With `w = 0` the policy ignores the goal: its paths end at any of the three. With `w ≥ 1` they end at
# the one asked for.

# %%
# experiment: guidance
from coursekit.assignments.capstone.data import reach_error

print(f"{'w':>5}{'reach error (m)':>17}{'clear':>8}")
reach = {}
for w in (0.0, 1.0, 2.0):
    final = sample_states(policy, asked, w=w)[-1]
    reach[w] = float(reach_error(final, asked).mean())
    print(f"{w:>5.1f}{reach[w]:>17.3f}{float((clearance(final) > 0).float().mean()):>8.0%}")
assert reach[0.0] > 3 * reach[1.0], "without guidance (w = 0) the paths should miss the asked goal far more often"

# %% [markdown]
# ## 10 · Watching the paths form
#
# The formation metric over the denoising steps: for most of the run the samples are far from every
# demonstration; the distance drops late, when the noise level is low, and the samples **lock in**.

# %%
# experiment: formation
states = {name: sample_states(policy, torch.full((16,), k)) for k, name in enumerate(GOAL_NAMES)}
formation = torch.cat([formation_distance(s, paths) for s in states.values()], dim=1)   # (T + 1, 48)
median = formation.median(dim=1).values
LOCKED = 0.05                                                              # metres, the reach bar
lock_in = int((median < LOCKED).float().argmax())
print(f"median distance to the nearest demonstration: step 0 {median[0]:.3f} m, step {T // 2} {median[T // 2]:.3f} m, "
      f"step {T} {median[-1]:.4f} m; locked in (median under {LOCKED} m) from step {lock_in} of {T}")
assert median[0] > 10 * median[-1] and lock_in > T // 2, "the samples should form late, from noise into paths"
go.Figure(go.Scatter(y=median.numpy(), mode="lines+markers")).update_layout(
    height=300, width=520, xaxis_title="sampler step", yaxis_title="median distance (m)", yaxis_type="log",
    margin=dict(t=20)).show()

# %% [markdown]
# Press **play**: the 16 samples for the chosen goal move from noise (step 0) into paths around the
# obstacle. The animation runs in the page from frames your sampler computed; turn the scene with the
# mouse while it plays, the camera stays where you put it.

# %%
# experiment: formation player
from coursekit.assignments.capstone.data import OBSTACLE, RADIUS
from widgets.capstone import formation_player

formation_player(lambda name: states[name], GOAL_NAMES, data=paths[:200], goals=GOALS, start=START,
                 obstacle=(OBSTACLE, RADIUS))

# %% [markdown]
# ## 11 · From a path to a robot motion
#
# A path is a list of hand positions. A simple 3-link arm (a column, an upper arm and a forearm) follows
# one sampled path: inverse kinematics gives its joint angles at each waypoint, forward kinematics the
# positions of its joints to draw.

# %%
# experiment: arm replay
from coursekit.assignments.capstone.data import forward_kinematics, inverse_kinematics
from widgets.capstone import arm_player

one = states[GOAL_NAMES[0]][-1, 0]                                          # (H, 3)
arm_player(one, inverse_kinematics, forward_kinematics, obstacle=(OBSTACLE, RADIUS), goal=GOALS[0])

# %% [markdown]
# ## Takeaways
#
# - Normalise actions to `[-1, 1]` with the data's range, so noise and data share a scale and the sampler
#   can clip its clean estimate.
# - Tokens of consecutive waypoints are to paths what patches are to images.
# - Guidance makes one network both goal-free and goal-conditioned; `w` decides how much the goal counts.
# - Keeping every state of the sampler shows *when* samples form: late, at low noise.
