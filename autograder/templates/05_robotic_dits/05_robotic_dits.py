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
# The experiment trains **one** small policy on two toy robots that share a right arm, through the
# unified action space, and measures what the named slots buy against naive padding and against one
# policy per robot.
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
# One RDT block (left), and the condition each of four blocks cross-attends to (right). The right panel is
# measured from **your** `inject_conditions`: it runs your function on blocks that only record which
# tokens they were handed. (The experiment's `TinyRDT`, section 8, uses two such blocks.)

# %%
# experiment: picture
from coursekit.assignments.robotic_dits.pictures import rdt_block_figure

rdt_block_figure(inject_conditions)

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
#
# Our two toy robots share a right arm. `arm2_gripper` has that arm (two joints) and a gripper;
# `bimanual` has the same right arm and a left one, and lists its joints left arm first (as ALOHA lists
# its 14 actions). Named slots put both right shoulders in slot 0. Naive padding, "the robot's J joints
# in the first J slots", would put the bimanual robot's *left* shoulder there instead.

# %% provided="check_slots"

# %% graded="to_unified" points=2

# %% graded="from_unified" points=1

# %%
from coursekit.assignments.robotic_dits.experiment import H, first_slots, named_slots, robot_demonstrations
from coursekit.assignments.robotic_dits.unified import ROBOTS, SLOT_NAMES, UNIFIED_SIZE, arm_points, arm_targets

demos = robot_demonstrations()                      # robot -> (goals (n, 2), action chunks (n, H, J))
for name, spec in ROBOTS.items():
    chunks = demos[name][1]
    unified, mask = to_unified(chunks, named_slots(name))
    print(f"{name}: joints {spec['joints']}\n    named slots {named_slots(name).tolist()}, first-J slots "
          f"{first_slots(name).tolist()}; round trip exact: {torch.equal(from_unified(unified, named_slots(name)), chunks)}")
for scheme, slots in (("named slots", named_slots), ("first J slots", first_slots)):
    print(f"slot 0 with {scheme}: " + ", ".join(f"{name} {ROBOTS[name]['joints'][slots(name).tolist().index(0)]}"
                                                for name in ROBOTS))

# %%
# experiment: widget
from widgets.robotic_dits import unified_slot_map

unified_slot_map(to_unified, {name: (named_slots(name), demos[name][1][:20, -1]) for name in ROBOTS}, SLOT_NAMES)

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
_, mask = to_unified(torch.zeros(4, H, 4), named_slots("bimanual"))
scrambled = torch.where(mask[:, None, :], pred, 100 * torch.randn(pred.shape))   # change only the padding
print("loss unchanged by the padding:", torch.equal(masked_mse(pred, target, mask), masked_mse(scrambled, target, mask)))

# %% [markdown]
# ## 8 · Experiment: one policy, two robots, one shared arm
#
# Both robots reach for a goal point. `arm2_gripper` brings its hand to the goal and closes its gripper;
# `bimanual` brings its right hand to the goal and its left hand to the goal's mirror image (both arms
# sit on the same shoulder point). Their demonstrations are 8-step chunks of joint targets. One
# RDT-style policy learns them, told apart by its instruction tokens (`"arm2 gripper reach"` or
# `"bimanual reach"`, padded and masked) and the slot mask, and conditioned on the goal (standing in for
# image tokens).
#
# To see what shared slots are for, the data have a gap: `arm2_gripper` was only ever shown goals on the
# left (x < 0), the bimanual robot goals everywhere. The same right arm reaching for the same goal needs
# the same joint angles on both robots, so the bimanual robot's demonstrations show what `arm2_gripper`'s
# right arm should do on the right, in the slots `arm2_gripper` writes, if the slots are named.
#
# Three ways to train, on the same data, with the same total budget (600 steps of 64 chunks):
#
# - **named slots**: one policy through the unified action space;
# - **first J slots**: one policy, each robot's joints padded into slots 0..J-1 in its own order;
# - **per robot**: two policies (named slots), each on its own robot's data only, 300 steps each.
#
# The policy is given: your RMSNorm, QK-norm attention, alternating injection and MLP decoder inside.
# The diffusion helpers are those of 04.

# %% provided="QKNormAttention"

# %% provided="RDTBlock"

# %% provided="TinyRDT"

# %% [markdown]
# Training is the epsilon loss of 02 on unified chunks (joint angles divided by 2, to be of order 1),
# with **your** `to_unified` and `masked_mse`; sampling is 04's DDIM with 10 steps, read back with your
# `from_unified`. The loop is `compare_action_spaces` in `coursekit/assignments/robotic_dits/experiment.py`
# (the course's evidence tests run the same function). The reach error is the mean distance of each hand
# from its target at the end of a sampled chunk, on 256 goals everywhere; for `arm2_gripper` it is split
# into the goals of the kind it was shown (x < 0) and the others.

# %%
# experiment: one policy, two robots
from coursekit.assignments.robotic_dits.experiment import compare_action_spaces

result = compare_action_spaces(TinyRDT, to_unified, from_unified, masked_mse)
print(f"policy: {result.parameters:,} parameters\n")
print(result.table())

# %% [markdown]
# What the table says (the cell below asserts each point):
#
# - On goals a robot was shown, naive padding learns it **as well as** the named slots (here even a
#   little better): the instruction and the mask tell the policy which robot it drives, and it learns
#   each robot's layout. Naive padding was never a problem for learning each robot on its own data.
# - On the goals `arm2_gripper` was never shown, only the named slots carry the bimanual robot's right
#   arm over: with naive padding or a policy of its own, `arm2_gripper` misses those goals by more than
#   twice as much. This transfer is what the unified action space is for: RDT-1B pre-trains on 46
#   robot datasets and fine-tunes on a robot with little data of its own.
# - Two per-robot policies on the same total budget are far behind both shared ones everywhere: each
#   gets half the training steps. (With a budget this small, one model trained on everything is simply
#   the better use of the steps; we did not measure what per-robot policies reach with twice the budget.)

# %%
# experiment: what the table says
for claim, holds in result.claims().items():
    print(f"{'yes' if holds else 'NO '}  {claim}")
assert all(result.claims().values()), "a claim of the prose above does not hold for these figures"

# The bar (coursekit.kit.evidence.reach_bar) for the named-slot policy, on all goals: every robot's mean
# reach error below 0.3. Wrong answers that ignore the goal must fail it: the untrained policy, the
# average demonstration, a demonstration for another goal, each demonstration's deviation from the
# average four times larger, and a Gaussian with the demonstrations' mean and covariance (per robot).
print()
for verdict in result.verdicts.values():
    print(verdict)
assert result.verdicts["trained"], "the named-slot policy should learn to reach with both robots"
assert not any(v for kind, v in result.verdicts.items() if kind != "trained"), "every negative control should fail the bar"

# %% [markdown]
# Three sampled chunks per robot from the named-slot policy: the arms' final pose (lines), the goal
# (cross) and, for the left arm, the goal's mirror image (circle). The first `arm2_gripper` goal on the
# right (x > 0) is one it was never shown.

# %%
# experiment: sampled poses
import plotly.graph_objects as go
from plotly.subplots import make_subplots

fig = make_subplots(rows=1, cols=2, subplot_titles=list(ROBOTS))
colors = ["royalblue", "seagreen", "darkorange"]
for col, name in enumerate(ROBOTS, start=1):
    goals, chunks = result.samples[name]
    for color, i in zip(colors, [int(torch.nonzero(goals[:, 0] > 0)[0]), *torch.nonzero(goals[:, 0] < 0)[:2].flatten().tolist()]):
        for pts in arm_points(name, chunks[i, -1]):
            fig.add_scatter(x=pts[:, 0].numpy(), y=pts[:, 1].numpy(), mode="lines+markers", showlegend=False,
                            line=dict(color=color), row=1, col=col)
        targets = arm_targets(name, goals[i:i + 1])[0]                                  # (arms, 2)
        fig.add_scatter(x=targets[:, 0].numpy(), y=targets[:, 1].numpy(), mode="markers", showlegend=False,
                        marker=dict(symbol=["x" if arm == "right" else "circle-open" for arm in ROBOTS[name]["arms"]],
                                    size=12, color=color), row=1, col=col)
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
#   ignore the padding. Naive padding learns each robot as well on its own data; the named slots are what
#   carry a shared part (here a right arm) from one robot's data over to another.
