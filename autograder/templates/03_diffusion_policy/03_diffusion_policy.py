# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 03 · Diffusion Policy: generating robot actions
#
# A policy maps what a robot observes to what it does. Diffusion Policy (Chi et al. 2023) treats that
# map as a *conditional generative model*: given the last few observations, it samples a whole
# **chunk** of future actions with the denoising machinery of 02. Two properties made it work so well
# on real robots:
#
# - a diffusion model can represent **several good answers** to the same situation (multimodality),
#   where a regression policy returns their average, which is often no good answer at all;
# - predicting a chunk and executing several of its actions before re-planning keeps the motion
#   **consistent over time**, yet still reacts to what happens.
#
# In this notebook a point robot must reach a goal around an obstacle; the expert goes around on the
# left or on the right, half the time each. You will build:
#
# 1. the **training windows** (with Diffusion Policy's padding at episode edges);
# 2. **FiLM** conditioning and the **conditional 1-D convolution residual block** of its network;
# 3. **receding-horizon execution**;
#
# then train a diffusion policy and a regression policy with the same network, compare them in closed
# loop, and measure a few design choices.
#
# Sources: Chi et al., *Diffusion Policy: Visuomotor Policy Learning via Action Diffusion* (RSS 2023),
# and their code `real-stanford/diffusion_policy`; Perez et al., *FiLM: Visual Reasoning with a General
# Conditioning Layer* (AAAI 2018); Janner et al., *Planning with Diffusion for Flexible Behavior
# Synthesis* (Diffuser, ICML 2022), where the temporal convolution U-Net comes from; X. Yuan, *Unpacking
# the Individual Components of Diffusion Policy* (2024), for the component study of section 7.
#
# **Conventions.** `float32`, batch first. Action chunks are `(B, Tp, D)`; inside the convolution
# network, features are channels first, `(B, C, T)`, as `nn.Conv1d` wants them. Diffusion time is
# 0-based, `t ∈ {0, …, T-1}`, as in 02. Every graded piece has a check cell right after it.

# %%
import torch
from torch import nn

from coursekit.checks.visible import checker
from coursekit.hints import hinter
from coursekit.checks.runtime import skip_experiments_when_autograding
from coursekit.validate import check_episode_ends, check_horizons, check_tensor, checked_policy

check = checker("03_diffusion_policy")
hint = hinter("03_diffusion_policy")  # stuck? hint("<function name>"): a nudge, then the key idea, then the formula
skip_experiments_when_autograding()  # cells starting "# experiment:" carry no points; the autograder skips them
torch.set_num_threads(1)  # tiny models: one thread is fastest, and leaves the other core free
torch.manual_seed(0);

# %% [markdown]
# ## 1 · The task
#
# The table is `[0, 100]²`. The robot starts near `(50, 14)`, the goal is at `(50, 90)`, and a disc of
# radius 13 sits in between. **Observations** are the robot's position; **actions** are position
# commands, "go to this point" (like Diffusion Policy's Push-T task): one environment step moves the
# robot towards the command by at most 4 units. A move that would enter the obstacle is a collision:
# blocked, and the episode counts as failed.
#
# The scripted expert flips a coin, then swings out around the obstacle on that side at a constant
# speed of 3 units per step, and finally rests at the goal for 8 steps. Near the start, the two kinds
# of demonstration begin at the same place: the position alone cannot tell which way the expert will go.

# %%
# experiment: data
from coursekit.assignments.diffusion_policy.point_robot import expert_demos, step
from widgets.diffusion_policy import rollout_figure

demos = expert_demos(100, torch.Generator().manual_seed(0))
lengths = torch.diff(demos.episode_ends, prepend=torch.zeros(1, dtype=torch.int64))
print(f"{len(lengths)} episodes, {len(demos.obs)} steps, {lengths.min().item()} to {lengths.max().item()} steps each; "
      f"{(demos.sides < 0).sum().item()} go left, {(demos.sides > 0).sum().item()} go right")
rollout_figure({"demonstrations": [demos.episode(e)[0] for e in range(30)]}, title="30 expert demonstrations").show()

# %% [markdown]
# ## 2 · Horizons and training windows
#
# Diffusion Policy works with three horizons. At the current step `t` the policy
#
# - **observes** the last `To` observations, steps `t-To+1 … t`;
# - **predicts** a chunk of `Tp` actions that starts at the same step: `t-To+1 … t-To+Tp` (the first
#   `To-1` entries belong to the past, so the chunk lines up with the observations);
# - **executes** `Ta` of them, `t … t+Ta-1`, which are chunk indices `To-1 … To-1+Ta-1`, then re-plans.
#
# The paper used `To = 2`, `Tp = 16`, `Ta = 8`; so do we.
#
# A training example is a **window** of `Tp` consecutive steps of one episode: its first `To`
# observations and all `Tp` actions. Diffusion Policy's `SequenceSampler` lets windows start before
# the episode (from `s = -(To-1)`, so that step 0 is a current step like any other) and end after it
# (up to `s = L-Tp+Ta-1`, so that at most the last `Ta-1` actions of a chunk are padding). The
# missing steps are **padded by repeating the edge**: the first observation and action before the
# start, the last ones after the end. A robot that waits at its start "observed" its start position,
# and "keep commanding the final position" is what an expert does at the end; zeros would mean
# something else entirely. And a window never mixes two episodes.
#
# Demonstrations are stored end to end, as in Diffusion Policy's replay buffer: `obs (N, obs_dim)`,
# `actions (N, act_dim)`, and `episode_ends (E,)`, the cumulative end of each episode.
#
# *Hint:* for one episode of length `L` starting at row `begin`, the window starting at `s` uses rows
# `begin + clamp(s + k, 0, L-1)` for `k = 0 … Tp-1`.

# %% graded="make_windows" points=3

# %% [markdown]
# A hand-made example: one episode of 4 steps whose observations are 0, 1, 2, 3 and whose actions are
# 10, 11, 12, 13, with `To = 2, Tp = 4, Ta = 2`. The first window starts at `s = -1` and repeats step 0.

# %%
# experiment: hand-made windows
tiny_obs = torch.arange(4.0)[:, None]
tiny_actions = 10 + torch.arange(4.0)[:, None]
tiny_o, tiny_a = make_windows(tiny_obs, tiny_actions, torch.tensor([4]), To=2, Tp=4, Ta=2)
for o, a in zip(tiny_o, tiny_a):
    print("observations", o.flatten().tolist(), " actions", a.flatten().tolist())

# %% [markdown]
# ### Explore the horizons
#
# The explorer runs **your** `make_windows` on one demonstration. Move the current step `t` to the
# start and to the end of the episode to see the padding, and change the horizons: `Ta` can never
# exceed `Tp - To + 1`.

# %%
# experiment: horizon explorer
from widgets.diffusion_policy import horizon_explorer

horizon_explorer(make_windows, *demos.episode(0), To=2, Tp=16, Ta=8, t=0)

# %% [markdown]
# ## 3 · FiLM: conditioning by scale and bias
#
# The denoising network must know the observations and the diffusion step. Diffusion Policy feeds them
# as one condition vector `cond` into every residual block through **FiLM**, feature-wise linear
# modulation (Perez et al. 2018): a small layer maps `cond` to one scale and one bias **per channel**,
# applied at every time step:
#
# $$\text{FiLM}(h)_{b,c,\tau} = \gamma_{b,c}\, h_{b,c,\tau} + \beta_{b,c}, \qquad [\gamma, \beta] = \text{cond\_encoder}(\text{cond}).$$
#
# `cond_encoder(cond)` has shape `(B, 2C)`: the `C` scales first, then the `C` biases (Diffusion Policy
# reshapes it to `(B, 2, C, 1)`). **Convention:** the scale multiplies directly, `scale * h + bias`.
# DiT's adaLN (04) writes `(1 + scale) * h + shift` instead; either works, but a trained network only
# makes sense under the convention it was trained with.

# %% graded="film" points=2

# %% [markdown]
# ## 4 · The conditional residual block
#
# Diffusion Policy's network is a 1-D U-Net over the time axis of the action chunk (from Janner et al.'s
# Diffuser), built from one block, which you now write as Chi et al. did:
#
# ```
# x (B, in, T) ─ Conv1dBlock ─ FiLM(cond) ─ Conv1dBlock ─ (+) ─ out (B, out, T)
#      └────────────── residual_conv (1x1 conv if in != out, else identity) ─┘
# ```
#
# where `Conv1dBlock` is a 1-D convolution (kernel 5, padding that keeps `T`), GroupNorm and the Mish
# activation. Convolutions over time suit action chunks: neighbouring actions are strongly related,
# and the same filter applies at every step.

# %% provided="Conv1dBlock"

# %% graded="ConditionalResidualBlock1D" points=3

# %% [markdown]
# The network used below (`coursekit.assignments.diffusion_policy.policies.ActionConvNet`) stacks three of **your** blocks with 32
# channels, and ends with a 1x1 convolution back to the 2 action dimensions. Its condition is
# `[MLP(sinusoidal(t)), observations flattened]`; the sinusoidal embedding is Diffusion Policy's, in
# the order `[sin, cos]` (DiT uses `[cos, sin]`). We drop the U-Net's down- and up-sampling: with
# `Tp = 16`, three blocks of two kernel-5 convolutions already see the whole chunk, and the model stays
# small enough to train on a CPU in seconds (the paper's U-Net has tens of millions of parameters).

# %%
# experiment: network size
from coursekit.assignments.diffusion_policy.policies import ActionConvNet, count_parameters

net = ActionConvNet(ConditionalResidualBlock1D, action_dim=2, obs_dim=2, To=2, horizon=16, channels=32)
x = torch.randn(5, 16, 2)
print("parameters:", count_parameters(net), " output shape:",
      tuple(net(x, torch.randint(0, 100, (5,)), torch.randn(5, 2, 2)).shape))

# %% [markdown]
# ## 5 · Receding-horizon execution
#
# Closed loop: keep the last `To` observations, ask the policy for a chunk, execute its actions
# `To-1 … To-1+Ta-1` one environment step at a time (appending each new observation to the history),
# then plan again from where the robot really is. At the start, the history is the first observation
# repeated `To` times, exactly as the training windows padded it.
#
# `step(obs, action)` is a pure function of tensors (no hidden state), batched over robots, so one call
# runs many rollouts at once.

# %% graded="receding_horizon" points=3

# %% [markdown]
# ## 6 · Experiment: diffusion against regression
#
# Both policies use the same network and the same windows, normalised to `[-1, 1]` by the minimum and
# maximum of the demonstrations (Diffusion Policy's "limits" normaliser):
#
# - the **diffusion policy** learns to denoise chunks, `T = 100` steps with the cosine schedule, and
#   samples with 10 deterministic DDIM steps (at `t = 90, 80, …, 0`, clean estimates clipped to `[-1, 1]`,
#   as Chi et al. did on real robots). One departure from 02:
#   the network predicts the **clean chunk** rather than the noise (`prediction_type="sample"`, an
#   option of Diffusion Policy's code). With only 400 training steps, noise prediction is poor at the
#   noisiest steps, where recovering the chunk divides by `sqrt(alpha_bar)` ≈ 0; predicting the chunk
#   learned the two modes far sooner in our tests;
# - the **regression policy** is the same network, given zeros for the noisy chunk and step 0, trained
#   with the mean squared error to the demonstrated chunk: it learns the *mean* chunk for each situation.

# %%
# experiment: training
import time

from coursekit.kit.diffusion import cosine_alpha_bar
from coursekit.assignments.diffusion_policy.point_robot import Normalizer, start_positions, summary
from coursekit.assignments.diffusion_policy.policies import DiffusionPolicy, RegressionPolicy, diffusion_loss, regression_loss
from coursekit.kit.train import train

To, Tp, Ta, T, STEPS, BATCH, LR = 2, 16, 8, 100, 400, 64, 3e-3
normalizer = Normalizer.fit(demos.obs, demos.actions)
obs_n, actions_n = normalizer.normalize(demos.obs), normalizer.normalize(demos.actions)
alpha_bar = cosine_alpha_bar(T)


def fit(kind, To=To, Tp=Tp, Ta=Ta, conditioning="film"):
    """Train a diffusion or regression policy on windows of the demonstrations; returns (policy, net, seconds)."""
    obs_w, act_w = make_windows(obs_n, actions_n, demos.episode_ends, To, Tp, Ta)
    torch.manual_seed(0)
    net = ActionConvNet(ConditionalResidualBlock1D, To=To, horizon=Tp, conditioning=conditioning)
    if kind == "diffusion":
        loss_fn = lambda idx, g: diffusion_loss(net, obs_w[idx], act_w[idx], alpha_bar, g)
    else:
        loss_fn = lambda idx, g: regression_loss(net, obs_w[idx], act_w[idx])
    start = time.perf_counter()
    train(net, loss_fn, torch.arange(len(obs_w)), steps=STEPS, batch_size=BATCH, lr=LR, desc=f"{kind} ({conditioning})")
    seconds = time.perf_counter() - start
    policy = DiffusionPolicy(net, normalizer, alpha_bar, num_steps=10, seed=0) if kind == "diffusion" \
        else RegressionPolicy(net, normalizer)
    return policy, net, seconds


diffusion, diffusion_net, diffusion_seconds = fit("diffusion")
regression, regression_net, regression_seconds = fit("regression")
torch.manual_seed(0)                                  # the diffusion policy's network before training
untrained = DiffusionPolicy(ActionConvNet(ConditionalResidualBlock1D, To=To, horizon=Tp), normalizer, alpha_bar,
                            num_steps=10, seed=0)

# %% [markdown]
# Now 64 robots per policy, each from its own start position, for 60 steps (the expert needs about 33),
# all run by **your** `receding_horizon` with `Ta = 8`.
#
# The bar (`coursekit.kit.evidence.policy_bar`): at least 80 % of the rollouts reach the goal, **and**
# each side of the obstacle is taken in at least 20 % of them. Success alone would accept a policy that
# always swings the same way, one mode of the demonstrations lost. The regression policy and the
# untrained network must fail it.

# %%
# experiment: closed-loop rollouts
from coursekit.kit.evidence import policy_bar

starts = start_positions(64, torch.Generator().manual_seed(1))
results, paths, verdicts = {}, {}, {}
for name, policy in [("diffusion", diffusion), ("regression", regression), ("untrained", untrained)]:
    observations, actions = receding_horizon(policy, step, starts, To, Ta, num_steps=60)
    results[name], paths[name] = summary(observations, actions), observations
    verdicts[name] = policy_bar(results[name], name=name)
    print(verdicts[name], f"(collisions {results[name]['collision']:.2f})")

assert verdicts["diffusion"], "the diffusion policy should reach the goal in most rollouts, on both sides"
assert not verdicts["regression"] and not verdicts["untrained"], "the baselines should fail the bar"
del paths["untrained"]
rollout_figure(paths).show()

# %% [markdown]
# The regression policy's first chunk is the average of "swing left" and "swing right": straight up,
# into the obstacle. The diffusion policy samples one of the two swings, commits to it for `Ta` steps,
# and the next plan, seeing where the robot now is, continues on the same side. Over many rollouts it
# uses both sides, about as often as the expert did.
#
# ### Watching a sample choose a side
#
# Why can a diffusion policy keep both swings apart, where regression averages them? Look inside the
# sampler. The cell below runs the trained policy's own DDIM sampler 32 times from the start position,
# where the demonstrations go left or right half the time each, and keeps the chunk after every one
# of the 10 denoising steps. At first the chunks are noise spread over the table; as the noise falls
# they gather onto one of the expert's two swings, and hardly any is left between them. This is the
# picture behind Chi et al.'s (2023) claim that action diffusion represents multimodal action
# distributions. DDIM here is deterministic, so the side a sample ends on is already set by its
# starting noise; the printed step says from when on each sample stays nearest the same swing.
#
# The cell measures what the picture shows and asserts it: no sample is near a swing at the start,
# at least 90 % are at the end, both swings are used, and the regression policy's chunk is near
# neither.

# %%
# experiment: chunks splitting into the two modes
from coursekit.assignments.diffusion_policy.pictures import denoising_split, rms_distance, split_figure
from coursekit.assignments.diffusion_policy.point_robot import START

start_history = torch.tensor(START).expand(To, 2).clone()              # (To, 2): resting at the start
split = denoising_split(diffusion_net, normalizer, alpha_bar, start_history, num_samples=32, seed=0)
claims = split.claims()
regression_chunk = regression(start_history[None])[0]                  # (Tp, 2)
regression_distance = rms_distance(regression_chunk, split.modes)      # (2,): to the left and right swings
print(f"the two swings are {claims['mode_gap']:.1f} units apart (RMS); near = within {claims['radius']:.1f}")
print("share of samples near a swing after each step:", " ".join(f"{f:.2f}" for f in split.near().tolist()))
print(f"start: {claims['near_start']:.0%} near, median distance {claims['median_distance_start']:.1f}; "
      f"end: {claims['near_end']:.0%} near (farthest {claims['max_distance_end']:.1f}), "
      f"{claims['nearer_a_mode_than_average_end']:.0%} nearer a swing than the two swings' average")
print(f"end: {claims['left']:.0%} left, {claims['right']:.0%} right; "
      f"every sample's nearest swing is fixed from step {claims['committed_by']} of 10 on")
print(f"regression's chunk: {regression_distance[0]:.1f} from the left swing, {regression_distance[1]:.1f} from the right")
assert claims["near_start"] == 0, "at the start the samples should be noise, near neither swing"
assert claims["near_end"] >= 0.9, "at the end (nearly) every sample should sit on one swing"
assert min(claims["left"], claims["right"]) >= 0.25, "both swings should be used"
assert bool((regression_distance > split.radius).all()), "the regression chunk should be near neither swing"
split_figure(split, regression_chunk=regression_chunk).show()

# %% [markdown]
# ### Sampled chunks at a chosen state
#
# The explorer samples 16 chunks with the trained diffusion policy at a position you choose, and shows
# the regression policy's single chunk there. At the start both modes appear; move the robot sideways
# or up (and pick the "moving up" history) to see the distribution become unimodal.

# %%
# experiment: chunk explorer
from widgets.diffusion_policy import chunk_explorer


def diffusion_chunks(history, seed):
    return DiffusionPolicy(diffusion_net, normalizer, alpha_bar, num_steps=10, seed=seed)(history)


chunk_explorer(diffusion_chunks, regression, To=To, num_samples=16)

# %% [markdown]
# ## 7 · What matters? A small component study
#
# Which parts of Diffusion Policy matter? Two studies asked, each in its own way. Chi et al. (2023) ablated
# the **action horizon** (how many actions to execute before re-planning), robustness to **latency**,
# **position against velocity** control, and their **CNN against their transformer** backbone. Breaking
# the method into its components, among them how the observation conditions the network (FiLM or not), is
# the framing of X. Yuan, *Unpacking the Individual Components of Diffusion Policy* (2024). A miniature in
# that spirit, each variant trained with the same seed, data and budget:
#
# - **conditioning**: FiLM in every block (yours) against **input concatenation**, where the condition
#   is repeated over time and concatenated to the noisy chunk's channels once, and the blocks receive no
#   condition;
# - **observation horizon**: `To = 1` (position only) against `To = 2` (position and velocity);
# - **action horizon**: the same trained policy executed with `Ta = 1` (re-plan at every step) up to
#   `Ta = 15` (almost open loop). No retraining is needed: `Ta` only changes execution.
#
# Besides success we report the mean number of steps to the goal (over the successful rollouts; the
# expert needs about 33), the mean final distance from the goal, and for each trained model the
# held-out denoising loss (on windows of 50 new demonstrations, same noise and steps for every model).

# %%
# experiment: component study
held_out = expert_demos(50, torch.Generator().manual_seed(2))


def held_out_loss(net, To):
    obs_w, act_w = make_windows(normalizer.normalize(held_out.obs), normalizer.normalize(held_out.actions),
                                held_out.episode_ends, To, Tp, Ta)
    with torch.no_grad():
        return diffusion_loss(net, obs_w, act_w, alpha_bar, torch.Generator().manual_seed(3)).item()


def evaluate(net, To, Ta):
    """Closed-loop summary of a trained diffusion net (the same sampling noise seed for every variant)."""
    policy = DiffusionPolicy(net, normalizer, alpha_bar, num_steps=10, seed=0)
    return summary(*receding_horizon(policy, step, starts, To, Ta, num_steps=60))


rows = [("FiLM, To=2, Ta=8 (above)", evaluate(diffusion_net, 2, 8), held_out_loss(diffusion_net, 2), diffusion_seconds)]
_, concat_net, concat_seconds = fit("diffusion", conditioning="concat")
rows.append(("concatenation, To=2, Ta=8", evaluate(concat_net, 2, 8), held_out_loss(concat_net, 2), concat_seconds))
_, one_obs_net, one_obs_seconds = fit("diffusion", To=1)
rows.append(("FiLM, To=1, Ta=8", evaluate(one_obs_net, 1, 8), held_out_loss(one_obs_net, 1), one_obs_seconds))
for ta in (1, 2, 4, 15):
    rows.append((f"FiLM, To=2, Ta={ta}", evaluate(diffusion_net, 2, ta), None, None))

print(f"{'variant':<28}{'success':>8}{'collide':>8}{'left':>6}{'right':>6}{'steps':>7}{'dist':>6}"
      f"{'held-out':>10}{'train s':>8}")
for name, r, loss, seconds in rows:
    print(f"{name:<28}{r['success']:>8.2f}{r['collision']:>8.2f}{r['left']:>6.2f}{r['right']:>6.2f}{r['steps']:>7.1f}"
          f"{r['final_distance']:>6.1f}" + (f"{loss:>10.4f}{seconds:>8.1f}" if loss is not None else ""))
table = {name: r for name, r, _, _ in rows}
assert table["FiLM, To=2, Ta=8 (above)"]["success"] >= table["concatenation, To=2, Ta=8"]["success"]
assert table["FiLM, To=2, Ta=1"]["steps"] > table["FiLM, To=2, Ta=8 (above)"]["steps"]

# %% [markdown]
# How to read it: one data set, one training seed, 64 rollouts and a few hundred training steps per
# variant, so a hint, not a verdict: another seed can move a success rate by a few rollouts. What this
# run shows (the two comparisons in bold are asserted in the cell above):
#
# - **FiLM succeeded at least as often as concatenation**, and the held-out losses are of the same order.
#   Chi et al. chose FiLM for a network that conditions on long image-feature vectors at every level of a
#   deep U-Net; here the condition is 36 numbers and the network three blocks deep, so a large gap is not
#   to be expected.
# - `To = 1` came close to `To = 2`; compare its held-out loss with its success rate. The expert's speed
#   is constant, so the velocity that a second observation reveals adds little. A lower denoising loss
#   does not always mean a better closed-loop policy, which is why robot-learning papers report rollouts.
# - **Ta = 1 took more steps to arrive than Ta = 8.** It re-samples a fresh chunk at every step, and
#   successive samples need not agree: the robot can hesitate between the two sides. Chunks executed for
#   several steps keep the motion consistent, the paper's argument for action chunking. The price of a
#   long `Ta` is a late reaction when the world changes during the chunk; nothing disturbs this robot, so
#   `Ta = 15` costs little here. Chi et al. settled on re-planning after 8 of 16 actions.
#
# ## Takeaways
#
# - Windows pad episode edges by repeating the first observation and the last action, and never cross
#   episodes; execution starts at chunk index `To - 1`, the current step.
# - FiLM conditions every block with a per-channel `scale * h + bias` computed from the observations and
#   the diffusion step.
# - A regression policy averages the demonstrations' modes; a diffusion policy samples one of them and,
#   with action chunks, sticks to it.
#
# Next (04): replacing the convolution network by a transformer, the Diffusion Transformer.
