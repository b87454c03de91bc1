"""Cross-checks of the robotic DiT references (solutions/robotic_dits.py) against independent implementations.

Independent references used:
* ``torch.nn.functional.scaled_dot_product_attention`` (with a boolean mask) for QK-norm attention, where
  the maths coincides (attention on RMS-normalised q and k);
* ``torch.nn.RMSNorm`` for ``rms_norm`` (and ``torch.nn.functional.layer_norm`` to show the difference);
* boolean indexing for the masked loss, and exact round trips for the unified action space.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from coursekit.assignments.robotic_dits.experiment import first_slots, named_slots, robot_demonstrations, shown
from coursekit.assignments.robotic_dits.unified import (ROBOTS, SLOT_NAMES, UNIFIED_SIZE, arm_targets, demonstrations,
                                                        forward_kinematics, slot_indices)
from coursekit.validate import ShapeError
from solutions import robotic_dits as R

ATOL = 1e-5


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def close(actual, expected, atol=ATOL):
    torch.testing.assert_close(actual, expected, atol=atol, rtol=0)


# ----------------------------------------------------------------------------- attention and norms
@pytest.mark.parametrize("eps", [1e-6, 1e-2])
def test_rms_norm_matches_torch_rmsnorm(eps):
    x = 3 * torch.randn(4, 5, 24, generator=gen(0)) + 1
    norm = torch.nn.RMSNorm(24, eps=eps)
    with torch.no_grad():
        norm.weight.copy_(1 + 0.2 * torch.randn(24, generator=gen(1)))
    close(R.rms_norm(x, norm.weight.detach(), eps), norm(x).detach())
    # and it is not LayerNorm: the mean stays
    assert not torch.allclose(R.rms_norm(x, torch.ones(24), eps), F.layer_norm(x, (24,), eps=eps), atol=1e-3)


@pytest.mark.parametrize("masked", [False, True])
def test_qk_norm_attention_matches_sdpa_on_normalised_queries_and_keys(masked):
    B, h, N, M, dh = 2, 3, 5, 7, 8
    g = gen(4)
    q, k, v = (2 * torch.randn(B, h, n, dh, generator=g) for n in (N, M, M))
    qw, kw = 1 + 0.2 * torch.randn(dh, generator=g), 1 + 0.2 * torch.randn(dh, generator=g)
    mask = (torch.rand(B, M, generator=g) < 0.6) | (torch.arange(M) == 0) if masked else None
    qn, kn = torch.nn.RMSNorm(dh, eps=1e-6), torch.nn.RMSNorm(dh, eps=1e-6)
    with torch.no_grad():
        qn.weight.copy_(qw)
        kn.weight.copy_(kw)
    want = F.scaled_dot_product_attention(qn(q), kn(k), v, attn_mask=None if mask is None else mask[:, None, None, :])
    close(R.qk_norm_attention(q, k, v, qw, kw, mask), want.detach())


def test_inject_conditions_alternates_language_then_image():
    calls = []

    class Recorder:
        def __init__(self, i):
            self.i = i

        def __call__(self, x, c, mask=None):
            calls.append((self.i, c.shape[1], mask))
            return x + 1

    x, lang, img = torch.zeros(2, 3, 4), torch.zeros(2, 5, 4), torch.zeros(2, 2, 4)
    lang_mask = torch.ones(2, 5, dtype=torch.bool)
    out = R.inject_conditions(x, [Recorder(i) for i in range(5)], lang, img, lang_mask, None)
    assert [(i, n) for i, n, _ in calls] == [(0, 5), (1, 2), (2, 5), (3, 2), (4, 5)]
    assert all(m is lang_mask for i, _, m in calls if i % 2 == 0) and all(m is None for i, _, m in calls if i % 2)
    assert torch.equal(out, x + 5)


# ----------------------------------------------------------------------------- unified action space
def test_unified_layout_names_and_robot_slots():
    assert len(SLOT_NAMES) == UNIFIED_SIZE == 128 and len(set(SLOT_NAMES)) == 128
    assert SLOT_NAMES[0] == "right_arm_joint_0_pos" and SLOT_NAMES[50] == "left_arm_joint_0_pos"
    assert SLOT_NAMES[100:103] == ("base_vel_x", "base_vel_y", "base_angular_vel")
    assert slot_indices(ROBOTS["arm2_gripper"]["joints"]).tolist() == [0, 1, 10]
    assert slot_indices(ROBOTS["bimanual"]["joints"]).tolist() == [50, 51, 0, 1]
    with pytest.raises(KeyError, match="unknown unified slot"):
        slot_indices(["elbow"])


@pytest.mark.parametrize("seed", range(5))
def test_unified_round_trip_is_lossless(seed):
    g = gen(seed)
    J = int(torch.randint(1, 12, (1,), generator=g))
    slots = torch.randperm(128, generator=g)[:J]
    actions = torch.randn(3, 4, J, generator=g)
    unified, mask = R.to_unified(actions, slots)
    assert torch.equal(R.from_unified(unified, slots), actions)
    assert mask.dtype == torch.bool and mask.sum(1).tolist() == [J] * 3
    assert torch.equal(unified[..., ~mask[0]], torch.zeros(3, 4, 128 - J))


def test_masked_mse_equals_mse_over_selected_entries():
    g = gen(7)
    pred, target = torch.randn(4, 3, 20, generator=g), torch.randn(4, 3, 20, generator=g)
    mask = torch.rand(4, 20, generator=g) < 0.3
    mask[:, 0] = True
    selected = mask[:, None, :].expand_as(pred)
    close(R.masked_mse(pred, target, mask), F.mse_loss(pred[selected], target[selected]))


def test_demonstrations_reach_their_goals():
    for name in ROBOTS:
        goals, chunks = demonstrations(name, 64, 8, gen(0))
        close(forward_kinematics(name, chunks[:, -1]), arm_targets(name, goals), atol=1e-4)


def test_the_robots_share_a_right_arm_in_named_slots_only():
    """The experiment's premise: the same physical quantity lands in the same named slot for both robots
    (and the same goal needs the same right-arm angles), each robot has slots the other lacks, and naive
    first-J padding puts different quantities in the same slot."""
    named = {name: dict(zip(named_slots(name).tolist(), ROBOTS[name]["joints"])) for name in ROBOTS}
    assert set(named["arm2_gripper"]) & set(named["bimanual"]) == {0, 1}
    assert set(named["arm2_gripper"]) ^ set(named["bimanual"]) == {10, 50, 51}
    assert all(SLOT_NAMES[slot] == joint for layout in named.values() for slot, joint in layout.items())
    naive = {name: dict(zip(first_slots(name).tolist(), ROBOTS[name]["joints"])) for name in ROBOTS}
    assert naive["arm2_gripper"][0] == "right_arm_joint_0_pos" and naive["bimanual"][0] == "left_arm_joint_0_pos"
    goals, one = demonstrations("arm2_gripper", 32, 8, gen(3))
    _, two = demonstrations("bimanual", 32, 8, gen(3))
    close(one[..., :2], two[..., 2:])                                  # same goals: same right-arm targets
    demos = robot_demonstrations()
    assert bool(shown("arm2_gripper", demos["arm2_gripper"][0]).all()) and bool((demos["bimanual"][0][:, 0] > 0).any())
    assert 800 < len(demos["arm2_gripper"][0]) < 1200 and len(demos["bimanual"][0]) == 2000


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, message", [
    (lambda: R.qk_norm_attention(torch.zeros(2, 1, 3, 4), torch.zeros(2, 1, 5, 4), torch.zeros(2, 1, 5, 4),
                                 torch.ones(4), torch.ones(4), torch.ones(2, 6, dtype=torch.bool)),
     r"key_mask: expected shape \(2, 5\), got \(2, 6\)"),
    (lambda: R.inject_conditions(torch.zeros(2, 3, 4), [], torch.zeros(2, 5, 4), torch.zeros(2, 2, 4),
                                 torch.ones(2, 4, dtype=torch.bool)), r"lang_mask: expected shape \(2, 5\), got \(2, 4\)"),
    (lambda: R.to_unified(torch.zeros(2, 3, 3), torch.tensor([0, 1, 2, 3])), r"slots: expected shape \(3\), got \(4,\)"),
    (lambda: R.to_unified(torch.zeros(2, 3, 2), torch.tensor([5, 5])), r"slots: expected 2 distinct indices"),
    (lambda: R.to_unified(torch.zeros(2, 3, 1), torch.tensor([128])), r"slots: expected indices in 0..127"),
    (lambda: R.masked_mse(torch.zeros(2, 3, 8), torch.zeros(2, 3, 8), torch.ones(2, 7, dtype=torch.bool)),
     r"mask: expected shape \(2, 8\), got \(2, 7\)"),
    (lambda: R.rms_norm(torch.zeros(2, 8), torch.ones(6)), r"weight: expected shape \(8\), got \(6,\)"),
])
def test_bad_input_names_the_expected_shape(call, message):
    with pytest.raises(ShapeError, match=message):
        call()
