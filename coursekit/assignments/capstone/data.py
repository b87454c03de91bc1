"""Goal-conditioned 3-D end-effector paths around an obstacle, for the capstone (not graded).

A robot's hand starts at ``START`` and must reach one of three goals on the far side of a round
obstacle (a sphere, ``OBSTACLE`` with radius ``RADIUS``). The straight line to every goal runs
through the obstacle, so each demonstration goes around it, **beside** it (towards the robot) or
**over** it, by a fair coin: the data are multimodal, two ways around per goal, six modes in all.

A path is ``HORIZON`` = 16 waypoints in 3-D, ``(n, 16, 3)`` float32, in metres. Each one is a
quadratic Bezier curve from the start through a via point to the goal; the via point sits
``DETOUR`` from the obstacle's centre, in the chosen direction, with a little noise, and start and
goal carry a little noise too. Every data path clears the obstacle (``tests/test_capstone_*``).

Also here: the measures the capstone's bar uses (reach error, clearance, which way a path went
round) and the arm that replays a path (a 3-link arm, analytic inverse kinematics and forward
kinematics).
"""
from __future__ import annotations

import math

import torch

from coursekit.validate import check_count, check_tensor

HORIZON = 16
START = torch.tensor([0.55, -0.55, 0.25])
OBSTACLE = torch.tensor([0.55, 0.0, 0.25])
RADIUS = 0.18
DETOUR = 0.32                                      # distance of the via point from the obstacle's centre
GOALS = torch.tensor([[0.55, 0.55, 0.25],          # straight across
                      [0.40, 0.55, 0.45],          # across, nearer and higher
                      [0.70, 0.50, 0.10]])         # across, further and lower
GOAL_NAMES = ("goal A", "goal B", "goal C")
NUM_GOALS = len(GOALS)
WAYS = ("beside", "over")
_DIRECTIONS = torch.tensor([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])   # beside: towards the robot; over: up


def demonstrations(n: int, generator: torch.Generator, goal: torch.Tensor | None = None,
                   way: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n paths (n, HORIZON, 3) float32 with their goal indices (n,) and ways around (n,) int64.

    Goals and ways are uniform unless given (``goal``, ``way``: (n,) int64 tensors).
    """
    check_count("n", n)
    g = torch.randint(0, NUM_GOALS, (n,), generator=generator) if goal is None else goal.long()
    w = torch.randint(0, len(WAYS), (n,), generator=generator) if way is None else way.long()
    start = START + 0.01 * torch.randn(n, 3, generator=generator)                       # (n, 3)
    end = GOALS[g] + 0.01 * torch.randn(n, 3, generator=generator)                      # (n, 3)
    via = OBSTACLE + DETOUR * _DIRECTIONS[w] + 0.03 * torch.randn(n, 3, generator=generator)
    via[:, 1] = 0.5 * (start[:, 1] + end[:, 1]) + 0.03 * torch.randn(n, generator=generator)
    control = 2 * via - 0.5 * (start + end)                                             # curve passes via at s = 1/2
    s = torch.linspace(0, 1, HORIZON)[None, :, None]                                    # (1, H, 1)
    paths = ((1 - s) ** 2 * start[:, None] + 2 * s * (1 - s) * control[:, None] + s ** 2 * end[:, None])
    return paths.float(), g, w


def reach_error(paths: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
    """Distance (n,) from each path's last waypoint to its goal (goal indices (n,))."""
    check_tensor("paths", paths, shape=(None, None, 3))
    return (paths[:, -1] - GOALS[goal]).norm(dim=-1)


def clearance(paths: torch.Tensor) -> torch.Tensor:
    """The smallest distance (n,) from a path's waypoints to the obstacle's surface (negative: inside)."""
    check_tensor("paths", paths, shape=(None, None, 3))
    return (paths - OBSTACLE).norm(dim=-1).min(dim=1).values - RADIUS


def way_around(paths: torch.Tensor) -> torch.Tensor:
    """Which way each path went round (n,) int64: 0 "beside", 1 "over", judged at the waypoint
    nearest the obstacle's plane (y = 0) by the larger of its two offsets from the centre."""
    check_tensor("paths", paths, shape=(None, None, 3))
    k = paths[..., 1].abs().argmin(dim=1)                                              # (n,)
    p = paths[torch.arange(len(paths)), k]                                             # (n, 3)
    return ((p[:, 2] - OBSTACLE[2]) > (OBSTACLE[0] - p[:, 0])).long()


# ---------------------------------------------------------------- the arm that replays a path
BASE = torch.tensor([0.0, 0.0, 0.0])
LINKS = (0.30, 0.60, 0.60)   # a column up from the base, an upper arm, a forearm (metres)


def inverse_kinematics(points: torch.Tensor) -> torch.Tensor:
    """Joint angles (n, 3) that put the arm's hand at points (n, 3): base yaw, shoulder pitch, elbow
    (elbow up). Points out of reach are pulled in to the arm's reach."""
    check_tensor("points", points, shape=(None, 3))
    l0, l1, l2 = LINKS
    d = points - BASE
    yaw = torch.atan2(d[:, 1], d[:, 0])
    r, z = d[:, :2].norm(dim=1), d[:, 2] - l0                                          # in the arm's plane
    reach = torch.sqrt(r ** 2 + z ** 2).clamp(min=1e-6, max=l1 + l2 - 1e-4)
    cos_elbow = ((reach ** 2 - l1 ** 2 - l2 ** 2) / (2 * l1 * l2)).clamp(-1, 1)
    elbow = -torch.acos(cos_elbow)                                                      # elbow up
    shoulder = torch.atan2(z, r) - torch.atan2(l2 * torch.sin(elbow), l1 + l2 * torch.cos(elbow))
    return torch.stack([yaw, shoulder, elbow], dim=1)


def forward_kinematics(q: torch.Tensor) -> torch.Tensor:
    """The arm's four joint positions (n, 4, 3) for joint angles q (n, 3): base, shoulder, elbow, hand."""
    check_tensor("q", q, shape=(None, 3))
    l0, l1, l2 = LINKS
    yaw, shoulder, elbow = q.unbind(dim=1)
    heading = torch.stack([torch.cos(yaw), torch.sin(yaw), torch.zeros_like(yaw)], dim=1)   # (n, 3)
    up = torch.tensor([0.0, 0.0, 1.0])
    base = BASE.expand(len(q), 3)
    shoulder_p = base + l0 * up
    elbow_p = shoulder_p + l1 * (torch.cos(shoulder)[:, None] * heading + torch.sin(shoulder)[:, None] * up)
    a = shoulder + elbow
    hand = elbow_p + l2 * (torch.cos(a)[:, None] * heading + torch.sin(a)[:, None] * up)
    return torch.stack([base, shoulder_p, elbow_p, hand], dim=1)


def sphere_mesh(centre: torch.Tensor = OBSTACLE, radius: float = RADIUS, n: int = 12):
    """Vertices x, y, z (each (n * n,)) of a sphere, for a plotly mesh3d (alphahull 0)."""
    u = torch.linspace(0, 2 * math.pi, n)
    v = torch.linspace(0, math.pi, n)
    x = centre[0] + radius * torch.outer(u.cos(), v.sin())
    y = centre[1] + radius * torch.outer(u.sin(), v.sin())
    z = centre[2] + radius * torch.outer(torch.ones(n), v.cos())
    return x.flatten(), y.flatten(), z.flatten()
