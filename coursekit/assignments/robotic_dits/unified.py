"""A unified action space in the spirit of RDT-1B (Liu et al. 2024), and two toy robots that use it.

RDT-1B trains one policy on many robots by giving every physical quantity a fixed place in one
128-slot vector (right arm joint positions in slots 0-9, its gripper in 10-14, ..., the left arm in
50-59, the base velocities at 100-102). A robot fills only the slots it has; the rest are padded with
zeros and switched off by a mask. The slot layout below follows the structure of RDT's, with our own names.

The two toy robots are planar arms that reach for a goal point:

- ``arm2_gripper``: a 2-link arm (links 1.0, 0.8) with a gripper that closes at the end, filling the
  right-arm slots 0, 1 and the right gripper slot 10;
- ``arm3``: a 3-link arm (links 0.8, 0.6, 0.4) that points its last link at the goal, filling the
  left-arm slots 50, 51, 52.

A demonstration is an action chunk (H, J): joint targets moving linearly from a home pose to an
inverse-kinematics solution for the goal.
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
                     "links": (1.0, 0.8), "instruction": ["arm2", "gripper", "reach"]},
    "arm3": {"joints": ["left_arm_joint_0_pos", "left_arm_joint_1_pos", "left_arm_joint_2_pos"],
             "links": (0.8, 0.6, 0.4), "instruction": ["arm3", "reach"]},
}
VOCABULARY = ["<pad>", "arm2", "gripper", "reach", "arm3"]
INSTRUCTION_LENGTH = 3
HOME = {"arm2_gripper": torch.tensor([math.pi / 2, 0.0, 1.0]),             # arm up, gripper open (1)
        "arm3": torch.tensor([math.pi / 2, 0.0, 0.0])}


def forward_kinematics(robot: str, q: torch.Tensor) -> torch.Tensor:
    """End-effector position (N, 2) of joint configurations q (N, J) (a gripper joint is ignored)."""
    links = ROBOTS[robot]["links"]
    angle = torch.zeros(q.shape[0])
    pos = torch.zeros(q.shape[0], 2)
    for i, length in enumerate(links):
        angle = angle + q[:, i]
        pos = pos + length * torch.stack([angle.cos(), angle.sin()], dim=1)
    return pos


def _two_link_ik(p: torch.Tensor, l1: float, l2: float) -> torch.Tensor:
    """Elbow-positive solution (N, 2) reaching points p (N, 2)."""
    r2 = (p ** 2).sum(1)
    cos_elbow = ((r2 - l1 ** 2 - l2 ** 2) / (2 * l1 * l2)).clamp(-1, 1)
    elbow = torch.acos(cos_elbow)
    shoulder = torch.atan2(p[:, 1], p[:, 0]) - torch.atan2(l2 * elbow.sin(), l1 + l2 * elbow.cos())
    return torch.stack([shoulder, elbow], dim=1)


def inverse_kinematics(robot: str, goal: torch.Tensor) -> torch.Tensor:
    """Joint positions (N, J) that put the end effector on goal (N, 2) (gripper closed, 0)."""
    links = ROBOTS[robot]["links"]
    if robot == "arm2_gripper":
        return torch.cat([_two_link_ik(goal, *links), torch.zeros(len(goal), 1)], dim=1)
    heading = torch.atan2(goal[:, 1], goal[:, 0])                        # last link points at the goal
    wrist = goal - links[2] * torch.stack([heading.cos(), heading.sin()], dim=1)
    q12 = _two_link_ik(wrist, links[0], links[1])
    return torch.cat([q12, (heading - q12.sum(1))[:, None]], dim=1)


def sample_goals(n: int, generator: torch.Generator) -> torch.Tensor:
    """Goals (n, 2) in the upper half plane, at radius 0.7..1.5 (reachable by both robots)."""
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
    """Mean distance from the goal of the end effector at the chunk's last step."""
    return float((forward_kinematics(robot, chunks[:, -1]) - goals).norm(dim=1).mean())
