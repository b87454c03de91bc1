"""A unified action space in the spirit of RDT-1B (Liu et al. 2024), and two toy robots that use it.

RDT-1B trains one policy on many robots by giving every physical quantity a fixed place in one
128-slot vector (right arm joint positions in slots 0-9, its gripper in 10-14, ..., the left arm in
50-59, the base velocities at 100-102). A robot fills only the slots it has; the rest are padded with
zeros and switched off by a mask. The slot layout below follows the structure of RDT's, with our own names.

The two toy robots are planar arms that reach for a goal point, and they share a right arm:

- ``arm2_gripper``: one 2-link arm (links 1.0, 0.8), its right arm, with a gripper that closes at the
  end; its joints are listed right shoulder, right elbow, gripper, and fill slots 0, 1 and 10;
- ``bimanual``: two such arms on the same shoulder point. The right arm reaches for the goal, the left
  arm for its mirror image (-x, y). Its joints are listed left arm first (as ALOHA lists its 14
  actions), and fill slots 50, 51 (left arm) and 0, 1 (right arm).

So the same physical quantity, the right shoulder angle say, lands in the same named slot for both
robots, and each robot also has slots the other lacks (the gripper; the left arm). Padding each
robot's joints into the *first* J slots instead would put the bimanual robot's left shoulder where the
other robot keeps its right shoulder.

A demonstration is an action chunk (H, J): joint targets moving linearly from a home pose (arms up,
gripper open) to an inverse-kinematics solution for the goal.
"""
from __future__ import annotations

import math

import torch

UNIFIED_SIZE = 128


def _slot_names() -> list[str]:
    names = [f"reserved_{i}" for i in range(UNIFIED_SIZE)]

    def put(start: int, block: list[str]) -> None:
        names[start:start + len(block)] = block

    for side, base in (("right", 0), ("left", 50)):
        put(base + 0, [f"{side}_arm_joint_{i}_pos" for i in range(10)])
        put(base + 10, [f"{side}_gripper_joint_{i}_pos" for i in range(5)])
        put(base + 15, [f"{side}_arm_joint_{i}_vel" for i in range(10)])
        put(base + 25, [f"{side}_gripper_joint_{i}_vel" for i in range(5)])
        put(base + 30, [f"{side}_eef_pos_{a}" for a in "xyz"])
        put(base + 33, [f"{side}_eef_angle_{i}" for i in range(6)])
        put(base + 39, [f"{side}_eef_vel_{a}" for a in "xyz"])
        put(base + 42, [f"{side}_eef_angular_vel_{a}" for a in ("roll", "pitch", "yaw")])
    put(100, ["base_vel_x", "base_vel_y", "base_angular_vel"])
    return names


SLOT_NAMES: tuple[str, ...] = tuple(_slot_names())


def slot_indices(names: list[str]) -> torch.Tensor:
    """The unified slot index of each named joint, (J,) int64."""
    unknown = [n for n in names if n not in SLOT_NAMES]
    if unknown:
        raise KeyError(f"unknown unified slot name(s) {unknown}; see coursekit.assignments.robotic_dits.unified.SLOT_NAMES")
    return torch.tensor([SLOT_NAMES.index(n) for n in names], dtype=torch.int64)


ROBOTS = {
    "arm2_gripper": {"joints": ["right_arm_joint_0_pos", "right_arm_joint_1_pos", "right_gripper_joint_0_pos"],
                     "arms": {"right": (0, 1)}, "instruction": ["arm2", "gripper", "reach"]},
    "bimanual": {"joints": ["left_arm_joint_0_pos", "left_arm_joint_1_pos",
                            "right_arm_joint_0_pos", "right_arm_joint_1_pos"],
                 "arms": {"left": (0, 1), "right": (2, 3)}, "instruction": ["bimanual", "reach"]},
}
LINKS = (1.0, 0.8)                        # every arm's two links; both shoulders sit at the origin
VOCABULARY = ["<pad>", "arm2", "gripper", "reach", "bimanual"]
INSTRUCTION_LENGTH = 3
HOME = {"arm2_gripper": torch.tensor([math.pi / 2, 0.0, 1.0]),             # arm up, gripper open (1)
        "bimanual": torch.tensor([math.pi / 2, 0.0, math.pi / 2, 0.0])}    # both arms up


def arm_targets(robot: str, goals: torch.Tensor) -> torch.Tensor:
    """Where each arm of the robot must put its hand, (N, arms, 2): the right arm at the goal, the left
    arm at the goal's mirror image (-x, y). Arms in the order of ``ROBOTS[robot]["arms"]``."""
    mirror = torch.tensor([-1.0, 1.0])
    return torch.stack([goals if arm == "right" else goals * mirror for arm in ROBOTS[robot]["arms"]], dim=1)


def arm_points(robot: str, q: torch.Tensor) -> list[torch.Tensor]:
    """Shoulder, elbow and hand of each arm for one configuration q (J,): a list of (3, 2), one per arm."""
    out = []
    for joints in ROBOTS[robot]["arms"].values():
        angle, pts = torch.tensor(0.0), [torch.zeros(2)]
        for j, length in zip(joints, LINKS):
            angle = angle + q[j]
            pts.append(pts[-1] + length * torch.stack([angle.cos(), angle.sin()]))
        out.append(torch.stack(pts))
    return out


def forward_kinematics(robot: str, q: torch.Tensor) -> torch.Tensor:
    """Hand positions (N, arms, 2) of joint configurations q (N, J) (a gripper joint is ignored)."""
    hands = []
    for joints in ROBOTS[robot]["arms"].values():
        angle, pos = torch.zeros(q.shape[0]), torch.zeros(q.shape[0], 2)
        for j, length in zip(joints, LINKS):
            angle = angle + q[:, j]
            pos = pos + length * torch.stack([angle.cos(), angle.sin()], dim=1)
        hands.append(pos)
    return torch.stack(hands, dim=1)


def _two_link_ik(p: torch.Tensor, l1: float, l2: float, elbow_sign: float = 1.0) -> torch.Tensor:
    """Shoulder and elbow (N, 2) reaching points p (N, 2); elbow_sign -1 gives the mirrored elbow."""
    r2 = (p ** 2).sum(1)
    cos_elbow = ((r2 - l1 ** 2 - l2 ** 2) / (2 * l1 * l2)).clamp(-1, 1)
    elbow = elbow_sign * torch.acos(cos_elbow)
    shoulder = torch.atan2(p[:, 1], p[:, 0]) - torch.atan2(l2 * elbow.sin(), l1 + l2 * elbow.cos())
    return torch.stack([shoulder, elbow], dim=1)


def inverse_kinematics(robot: str, goal: torch.Tensor) -> torch.Tensor:
    """Joint positions (N, J) that put every hand on its target for goals (N, 2) (gripper closed, 0).

    The right arm bends its elbow one way, the left arm, its mirror image, the other way."""
    targets = arm_targets(robot, goal)                                               # (N, arms, 2)
    q = torch.zeros(len(goal), len(ROBOTS[robot]["joints"]))                          # a gripper stays 0
    for i, (arm, joints) in enumerate(ROBOTS[robot]["arms"].items()):
        q[:, list(joints)] = _two_link_ik(targets[:, i], *LINKS, elbow_sign=1.0 if arm == "right" else -1.0)
    return q


def sample_goals(n: int, generator: torch.Generator) -> torch.Tensor:
    """Goals (n, 2) in the upper half plane, at radius 0.7..1.5 (reachable by every arm; so are their mirror images)."""
    r = 0.7 + 0.8 * torch.rand(n, generator=generator)
    a = math.pi * (0.1 + 0.8 * torch.rand(n, generator=generator))
    return torch.stack([r * a.cos(), r * a.sin()], dim=1)


def demonstrations(robot: str, n: int, horizon: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(goals (n, 2), action chunks (n, horizon, J)): joint targets from HOME to the IK solution."""
    goals = sample_goals(n, generator)
    target = inverse_kinematics(robot, goals)                                        # (n, J)
    s = torch.linspace(1 / horizon, 1, horizon)[None, :, None]                       # (1, H, 1)
    chunks = HOME[robot] + s * (target - HOME[robot])[:, None, :]                    # (n, H, J)
    return goals, chunks.float()


def instruction(robot: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (n, INSTRUCTION_LENGTH) int64 and their mask (n, INSTRUCTION_LENGTH) bool (False = padding)."""
    words = ROBOTS[robot]["instruction"]
    ids = [VOCABULARY.index(w) for w in words] + [0] * (INSTRUCTION_LENGTH - len(words))
    mask = [True] * len(words) + [False] * (INSTRUCTION_LENGTH - len(words))
    return torch.tensor(ids).repeat(n, 1), torch.tensor(mask).repeat(n, 1)


def reach_error(robot: str, chunks: torch.Tensor, goals: torch.Tensor) -> float:
    """Mean distance of each hand from its target (``arm_targets``) at the chunk's last step, over all arms."""
    return float((forward_kinematics(robot, chunks[:, -1]) - arm_targets(robot, goals)).norm(dim=-1).mean())
