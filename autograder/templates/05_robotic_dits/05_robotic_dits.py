# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 05 · Robotic Diffusion Transformers
#
# A DiT (04) denoises action chunks well. Turning it into a robot policy that trains stably at scale and
# works across robots took a few more ingredients. This notebook builds them from two papers:
#
# - **RDT-1B** (Liu et al. 2024, *RDT-1B: a Diffusion Foundation Model for Bimanual Manipulation*):
#   RMSNorm, QK-normalised attention, cross-attention that alternates between language and image tokens,
#   a nonlinear MLP decoder, and a **unified action space** shared by all robots;
# - **dit-policy** (Dasari et al. 2024, *The Ingredients for Robotic Diffusion Transformers*): decoder
#   blocks conditioned by adaLN on the matching encoder layer, with zero-initialised gates (you write a
#   DiT-style simplification of its block; section 5 says what differs).
#
# The experiment trains **one** small policy on two toy robots with different joints, through the
# unified action space.
#
# **Conventions.** `float32`, batch first; action chunks `(B, H, D)`; diffusion time 0-based as in 02.
# Masks are `bool`, `True` where an entry counts (a key to attend to, a slot a robot has).

# %%
import math

import torch
import torch.nn.functional as F
from torch import nn

from coursekit.checks.visible import checker
from coursekit.hints import hinter
from coursekit.checks.runtime import skip_experiments_when_autograding
from coursekit.kit.transformer import Mlp, SelfAttention
from coursekit.validate import ShapeError, check_heads, check_key_mask, check_tensor

check = checker("05_robotic_dits")
hint = hinter("05_robotic_dits")  # stuck? hint("<function name>"): a nudge, then the key idea, then the formula
skip_experiments_when_autograding()  # cells starting "# experiment:" carry no points; the autograder skips them
torch.set_num_threads(1)  # tiny models: one thread is fastest, and leaves the other core free
torch.manual_seed(0);

# %% [markdown]
# ## 1 · RMSNorm
#
# LayerNorm subtracts the mean of the features and divides by their standard deviation. Zhang & Sennrich
# (2019) found that the re-centring can be dropped: dividing by the **root mean square** is enough, and
# cheaper.
#
# $$\text{RMSNorm}(x) = \frac{x}{\sqrt{\tfrac1d \sum_i x_i^2 + \epsilon}} \odot w .$$
#
# RDT-1B replaced DiT's LayerNorm by RMSNorm for a reason of its own: it treats action generation as a
# time series, and subtracting each token's mean shifts the tokens and their attention, which breaks the
# symmetry of the series. (The unstable numbers come up in the next section, for QK-norm.)

# %% graded="rms_norm" points=1

# %% [markdown]
# The same token through both norms. Shift it: LayerNorm's output does not move (it removes the mean),
# RMSNorm's does. Change the gain: neither moves.

# %%
# experiment: widget
from widgets.robotic_dits import norm_comparison

norm_comparison(rms_norm, torch.randn(6, 16, generator=torch.Generator().manual_seed(0)))

# %% [markdown]
# ## 2 · QK-normalised attention
#
# RDT-1B's reason for this one: the physical quantities a robot reports have unstable numerical ranges,
# which made its gradients unstable and its numbers overflow.
#
# Attention logits are dot products `q · k / sqrt(dh)`. When queries and keys grow during training the
# logits grow quadratically, the softmax becomes one-hot, and training can diverge (Dehghani et al. 2023
# saw this when scaling ViTs to 22B parameters). **QK-norm** normalises each head's queries and keys
# before the dot product, which bounds the logits. Henry et al. (2020) L2-normalised them with a learned
# scale; ViT-22B used LayerNorm; RDT-1B uses a learnable RMSNorm per head, as you do here.
#
# `key_mask (B, M)` marks the keys that may be attended to: padding tokens get `-inf` before the softmax.

# %% graded="qk_norm_attention" points=2

# %% [markdown]
# Scale queries and keys up by 10: plain attention collapses onto one key (entropy near 0), QK-norm does not.

# %%
g = torch.Generator().manual_seed(1)
q, k, v = (torch.randn(1, 1, 8, 16, generator=g) for _ in range(3))
ones = torch.ones(16)


def entropy(p):
    return float(-(p * p.clamp_min(1e-12).log()).sum(-1).mean())


for scale in (1, 10):
    plain = (scale * q @ (scale * k).transpose(-2, -1) / 4).softmax(-1)
    normed = (rms_norm(scale * q, ones) @ rms_norm(scale * k, ones).transpose(-2, -1) / 4).softmax(-1)
    print(f"q, k x {scale:>2}: attention entropy plain {entropy(plain):.2f}, QK-norm {entropy(normed):.2f} "
          f"(uniform: {math.log(8):.2f})")
print("QK-norm attention equals attention on normalised q, k:",
      torch.allclose(qk_norm_attention(q, k, v, ones, ones), (rms_norm(q, ones) @ rms_norm(k, ones).transpose(-2, -1) / 4).softmax(-1) @ v, atol=1e-6))

# %% [markdown]
# ## 3 · Alternating condition injection
#
# RDT-1B conditions on language tokens (the instruction) and image tokens (the cameras). Image tokens far
# outnumber the words of an instruction, so in one cross-attention over both the images would drown out
# the instruction. Instead each block cross-attends to one kind: **even blocks to language, odd blocks to
# images**, each with its own padding mask, so the instruction has blocks of its own.

# %% graded="inject_conditions" points=2

# %% [markdown]
# ## 4 · A nonlinear decoder
#
# DiT ends with one linear layer per token. RDT-1B found a small MLP better for the nonlinear structure of
# robot actions: RMSNorm, `Linear(d, d)`, GELU, `Linear(d, out)`.

# %% graded="MLPDecoder" points=1

# %% [markdown]
# ## 5 · dit-policy: conditioning each decoder layer on its encoder layer
#
# dit-policy is an encoder-decoder transformer. The encoder reads observation tokens; decoder block `i`
# is conditioned, through adaLN, on encoder layer `i`'s output **averaged over its tokens**, plus the time
# embedding. Each decoder layer thus sees observation features of its own depth.
#
# **The block you write is a DiT-style simplification.** It reuses 04's adaLN-Zero as it is: LayerNorms
# without weights of their own, modulation `norm(x) * (1 + scale) + shift`, and the whole modulation layer
# zero-initialised. dit-policy's own block differs in three ways: it modulates as `norm(x) * scale + shift`
# (no `1 +`), its LayerNorms keep their affine weights, and only the layers that make the **gates** start
# at zero, while scale and shift are initialised like any linear layer. Both versions start as the
# identity, because a zero gate alone switches a block's residual branch off.

# %% graded="DecoderBlock" points=2

# %% [markdown]
# A decoder of three blocks, each paired with one layer of an encoder (here `torch.nn.TransformerEncoderLayer`s):

# %%
d = 32
encoder = nn.ModuleList([nn.TransformerEncoderLayer(d, 4, 64, dropout=0.0, batch_first=True) for _ in range(3)])
decoder = nn.ModuleList([DecoderBlock(d, 4) for _ in range(3)])
obs_tokens, actions, t_emb = torch.randn(2, 5, d), torch.randn(2, 8, d), torch.randn(2, d)

enc_outputs, h = [], obs_tokens
for layer in encoder:
    h = layer(h)
    enc_outputs.append(h)                                   # one (B, N, d) output per encoder layer
x = actions
for block, enc in zip(decoder, enc_outputs):                # block i <- encoder layer i
    x = block(x, t_emb, enc)
print("untrained decoder is the identity:", torch.equal(x, actions))

# %% [markdown]
# ## 6 · The unified action space
#
# Robots differ: one arm has two joints and a gripper, another three joints, a third drives a base.
# RDT-1B gives every physical quantity a **fixed, named slot** in one 128-dimensional vector (right-arm
# joint positions in slots 0–9, right gripper from 10, left arm from 50, base velocities at 100–102, …).
# A robot fills its own slots, the rest are zero-padded, and a **mask** records which slots are real. One
# network then reads and writes every robot's actions, and a slot means the same thing for all of them.
#
# `slots[j]` is the unified index of joint `j`. Going there and back must be lossless.

# %% provided="check_slots"

# %% graded="to_unified" points=2

# %% graded="from_unified" points=1

# %%
from coursekit.assignments.robotic_dits.unified import (HOME, INSTRUCTION_LENGTH, ROBOTS, SLOT_NAMES, UNIFIED_SIZE, VOCABULARY,
                               demonstrations, forward_kinematics, instruction, reach_error, sample_goals,
                               slot_indices)

H = 8
demos = {name: demonstrations(name, 2000, H, torch.Generator().manual_seed(i)) for i, name in enumerate(ROBOTS)}
slots = {name: slot_indices(spec["joints"]) for name, spec in ROBOTS.items()}
for name, spec in ROBOTS.items():
    chunks = demos[name][1]
    unified, mask = to_unified(chunks, slots[name])
    print(f"{name:>13}: joints {spec['joints']} -> slots {slots[name].tolist()}; "
          f"round trip exact: {torch.equal(from_unified(unified, slots[name]), chunks)}")

# %%
# experiment: widget
from widgets.robotic_dits import unified_slot_map

unified_slot_map(to_unified, {name: (slots[name], demos[name][1][:20, -1]) for name in ROBOTS}, SLOT_NAMES)

# %% [markdown]
# ## 7 · A loss that ignores the padding
#
# The network predicts all 128 slots, but only the robot's own slots carry a target. The loss averages the
# squared error over the unmasked entries only: padding must neither add error nor dilute it (otherwise a
# robot with few joints would count less).
#
# RDT-1B itself does not mask its loss. Its network predicts the clean action (not the noise), the mask
# is one of its inputs, and the loss is the plain mean squared error over all 128 slots, where the target
# of a padded slot is its zero: the network learns to write zeros where the mask says "absent". Our
# network predicts the noise, as in 02, and there a padded slot's target is the noise that was added to
# its zero: learnable, but work that says nothing about the robot. Averaging over the robot's own slots
# keeps the loss about its actions.

# %% graded="masked_mse" points=2

# %%
pred, target = torch.randn(4, H, UNIFIED_SIZE), torch.randn(4, H, UNIFIED_SIZE)
_, mask = to_unified(torch.zeros(4, H, 3), slots["arm3"])
scrambled = torch.where(mask[:, None, :], pred, 100 * torch.randn(pred.shape))   # change only the padding
print("loss unchanged by the padding:", torch.equal(masked_mse(pred, target, mask), masked_mse(scrambled, target, mask)))

# %% [markdown]
# ## 8 · Experiment: one policy, two robots
#
# Two planar arms reach for a goal point: `arm2_gripper` (two joints and a gripper that closes at the end)
# and `arm3` (three joints, pointing its last link at the goal). Their demonstrations are 8-step chunks of
# joint targets. Both go into the unified space, and one RDT-style policy learns them all, told apart only
# by its instruction tokens (`"arm2 gripper reach"` or `"arm3 reach"`, padded and masked) and conditioned
# on the goal (standing in for image tokens).
#
# The policy is given: your RMSNorm, QK-norm attention, alternating injection and MLP decoder inside.
# The diffusion helpers are those of 04.

# %% provided="QKNormAttention"

# %% provided="RDTBlock"

# %% provided="TinyRDT"

# %% [markdown]
# Training: the epsilon loss of 02 on unified chunks (joint angles divided by 2, to be of order 1), with
# **your** masked loss. 600 steps of batches of 64 from both robots.

# %%
# experiment: one policy, two robots
from coursekit.kit.diffusion import cosine_alpha_bar, ddim_sample
from coursekit.kit.train import train
from coursekit.kit.transformer import count_parameters

T, SCALE, STEPS = 50, 2.0, 600
alpha_bar = cosine_alpha_bar(T).clamp(min=1e-2)  # floored, as in 04
columns = []                                # (unified / SCALE, mask, instruction ids, instruction mask, goal)
for name in ROBOTS:
    goals, chunks = demos[name]
    unified, mask = to_unified(chunks, slots[name])
    ids, lang_mask = instruction(name, len(goals))
    columns.append((unified / SCALE, mask, ids, lang_mask, goals))
U, M, I, LM, G = (torch.cat(c) for c in zip(*columns))


def policy_loss(idx, g):
    x0 = U[idx]
    t = torch.randint(0, T, (len(idx),), generator=g)
    noise = torch.randn(x0.shape, generator=g)
    a = alpha_bar[t].reshape(-1, 1, 1)
    pred = policy(a.sqrt() * x0 + (1 - a).sqrt() * noise, t, M[idx], I[idx], LM[idx], G[idx])
    return masked_mse(pred, noise, M[idx])


def evaluate(model, n=256):
    """Mean end-effector distance to the goal at the end of sampled chunks, per robot."""
    errors, samples = {}, {}
    for name in ROBOTS:
        goals = sample_goals(n, torch.Generator().manual_seed(5))
        _, mask = to_unified(torch.zeros(n, H, len(slots[name])), slots[name])
        ids, lang_mask = instruction(name, n)
        with torch.no_grad():
            unified = ddim_sample(lambda x, t: model(x, t, mask, ids, lang_mask, goals), (n, H, UNIFIED_SIZE),
                                  alpha_bar, 10, torch.Generator().manual_seed(6), clip=None)
        samples[name] = (goals, from_unified(unified * SCALE, slots[name]))
        errors[name] = reach_error(name, samples[name][1], goals)
    return errors, samples


torch.manual_seed(0)
policy = TinyRDT(horizon=H, obs_dim=2, vocab_size=len(VOCABULARY), num_steps=T)
print(f"policy: {count_parameters(policy):,} parameters")
untrained, _ = evaluate(policy)
losses = train(policy, policy_loss, torch.arange(len(U)), steps=STEPS, batch_size=64, lr=5e-3, desc="one policy, two robots")
trained, samples = evaluate(policy)

print(f"{'robot':>13}{'reach error, untrained':>24}{'trained':>9}")
for name in ROBOTS:
    print(f"{name:>13}{untrained[name]:>24.3f}{trained[name]:>9.3f}")

# The bar (coursekit.kit.evidence.reach_bar): every robot's mean reach error below 0.3. Wrong answers that
# ignore the goal must fail it: the average demonstration, a demonstration for another goal, each
# demonstration's deviation from the average four times larger, and a Gaussian with the demonstrations'
# mean and covariance (per robot, from its own demonstrations).
from coursekit.kit.evidence import labelled_controls, reach_bar

n_eval = len(samples[next(iter(ROBOTS))][0])
g = torch.Generator().manual_seed(8)
controls = {name: labelled_controls(demos[name][1], torch.zeros(len(demos[name][1]), dtype=torch.long),
                                    torch.zeros(n_eval, dtype=torch.long), g) for name in ROBOTS}
verdicts = {"trained": reach_bar(trained, name="trained"), "untrained": reach_bar(untrained, name="untrained")}
as_named_here = {"average of the labels": "average demonstration", "one label only": "demonstration for another goal",
                 "4x wide": "4x wide", "moment-matched Gaussian": "moment-matched Gaussian"}
for kind, name_here in as_named_here.items():
    verdicts[name_here] = reach_bar({name: reach_error(name, controls[name][kind], samples[name][0]) for name in ROBOTS},
                                    name=name_here)
print()
for verdict in verdicts.values():
    print(verdict)
assert verdicts["trained"], "the policy should learn to reach with both robots"
assert not any(v for kind, v in verdicts.items() if kind != "trained"), "every negative control should fail the bar"

# %% [markdown]
# Three sampled chunks per robot: the arm's final pose (lines) and the goal (cross).

# %%
# experiment: sampled poses
import plotly.graph_objects as go
from plotly.subplots import make_subplots


def arm_points(name, q):
    """Base, joints and end effector of one configuration q (J,), as (links + 1, 2)."""
    links = ROBOTS[name]["links"]
    angle, pts = 0.0, [torch.zeros(2)]
    for i, length in enumerate(links):
        angle = angle + q[i]
        pts.append(pts[-1] + length * torch.stack([angle.cos(), angle.sin()]))
    return torch.stack(pts)


fig = make_subplots(rows=1, cols=2, subplot_titles=list(ROBOTS))
for col, name in enumerate(ROBOTS, start=1):
    goals, chunks = samples[name]
    for i in range(3):
        pts = arm_points(name, chunks[i, -1])
        fig.add_scatter(x=pts[:, 0].numpy(), y=pts[:, 1].numpy(), mode="lines+markers", showlegend=False,
                        line=dict(color=["royalblue", "seagreen", "darkorange"][i]), row=1, col=col)
        fig.add_scatter(x=goals[i:i + 1, 0].numpy(), y=goals[i:i + 1, 1].numpy(), mode="markers", showlegend=False,
                        marker=dict(symbol="x", size=12, color=["royalblue", "seagreen", "darkorange"][i]), row=1, col=col)
    fig.update_yaxes(scaleanchor=f"x{col}", row=1, col=col)
fig.update_layout(height=360, margin=dict(t=40, b=20))
fig.show()

# %% [markdown]
# ## Takeaways
#
# - RMSNorm: divide by the root mean square, keep the mean; QK-norm: normalise queries and keys per head so
#   attention logits stay bounded.
# - RDT alternates cross-attention between language (even blocks) and image tokens (odd blocks), each with
#   its own mask, and decodes with an MLP.
# - dit-policy conditions decoder block `i` on encoder layer `i` (pooled) plus time, through adaLN-Zero.
# - A fixed, named, masked action space lets one network serve robots with different bodies; the loss must
#   ignore the padding.
