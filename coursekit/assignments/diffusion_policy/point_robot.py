"""A 2-D point robot that must reach a goal around an obstacle (assignment 03_diffusion_policy).

The table is the square [0, 100] x [0, 100] (think of the units as centimetres). The robot starts
near the bottom, the goal is at the top, and a round obstacle sits in between:

    START = (50, 14),  GOAL = (50, 90),  obstacle: centre (50, 38), radius 13.

Observations are the robot's position (2-D); actions are **position commands** (the next position
to move to), as in Diffusion Policy's Push-T task. One environment step moves the robot towards the
commanded position by at most ``MAX_STEP``; a move whose segment would enter the obstacle is a
**collision**: it is blocked (the robot stays where it is) and the episode counts as failed. An
episode succeeds when the robot gets within ``GOAL_RADIUS`` of the goal without any collision.

The scripted expert drives straight up towards the obstacle, flips a (seeded) coin, and swings out
around it on the left or on the right at a constant speed: the demonstrations are **bimodal**, and
on the straight stretch the robot's position says nothing about which way it will go. The mean of
the two modes goes straight into the obstacle, which is why a regression policy fails here.

Everything is a pure function of tensors (no hidden state), batched over robots: ``step(pos (B, 2),
action (B, 2)) -> pos (B, 2)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from coursekit.validate import check_tensor

START = (50.0, 14.0)
GOAL = (50.0, 90.0)
OBSTACLE = (50.0, 38.0)
OBSTACLE_RADIUS = 13.0
GOAL_RADIUS = 5.0
MAX_STEP = 4.0
EXPERT_SPEED = 3.0    # units per step
JITTER = (0.0, 3.0)   # start positions: START plus uniform noise of this total width in x and y
HOLD = 8              # the expert rests at the goal for this many steps at the end of an episode
SWING_END = 74.0      # the expert is back on the centre line x = 50 at this height
WORKSPACE = (0.0, 100.0)


# ----------------------------------------------------------------------------- environment
def step(pos: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """One environment step for a batch of robots: (B, 2) positions and (B, 2) commands -> (B, 2).

    The robot moves towards the commanded position by at most MAX_STEP; if that move's segment
    would enter the obstacle, the robot stays put. Positions stay on the table [0, 100]^2.
    """
    check_tensor("pos", pos, shape=(None, 2), dtype=torch.float32)
    check_tensor("action", action, shape=(pos.shape[0], 2), dtype=torch.float32)
    proposed = proposed_move(pos, action)                                       # (B, 2)
    blocked = segment_hits_obstacle(pos, proposed)                              # (B,) collisions
    return torch.where(blocked[:, None], pos, proposed)


def proposed_move(pos: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """Where the robot would go: towards the command, at most MAX_STEP, kept on the table. (B, 2)."""
    delta = action - pos                                                        # (B, 2)
    length = delta.norm(dim=1, keepdim=True)                                    # (B, 1)
    delta = delta * (MAX_STEP / length.clamp(min=MAX_STEP))                     # at most MAX_STEP long
    return (pos + delta).clamp(*WORKSPACE)


def segment_hits_obstacle(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Does the segment from a (B, 2) to b (B, 2) pass inside the obstacle? (B,) bool."""
    centre = torch.tensor(OBSTACLE)
    ab, ac = b - a, centre - a                                                  # (B, 2)
    u = ((ac * ab).sum(1) / (ab * ab).sum(1).clamp(min=1e-12)).clamp(0, 1)      # (B,) closest point
    closest = a + u[:, None] * ab
    return (closest - centre).norm(dim=1) < OBSTACLE_RADIUS


# ----------------------------------------------------------------------------- expert demonstrations
@dataclass
class Demos:
    """Demonstrations stored end to end, as in Diffusion Policy's replay buffer.

    obs: (N, 2) positions; actions: (N, 2) position commands (actions[k] is what the expert
    commanded at obs[k]); episode_ends: (E,) int64, the cumulative end index of each episode
    (episode e is rows episode_ends[e-1] .. episode_ends[e] - 1); sides: (E,) int64, -1 left, +1 right.
    """
    obs: torch.Tensor
    actions: torch.Tensor
    episode_ends: torch.Tensor
    sides: torch.Tensor

    def episode(self, e: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(obs (L, 2), actions (L, 2)) of episode e."""
        start = 0 if e == 0 else int(self.episode_ends[e - 1])
        end = int(self.episode_ends[e])
        return self.obs[start:end], self.actions[start:end]


def expert_path(start: torch.Tensor, side: int, width: float, speed: float, split: float,
                hold: int = HOLD) -> torch.Tensor:
    """Positions (L + 1, 2) of one expert episode from ``start`` to GOAL, passing on ``side`` (-1 or +1).

    The path is x(y) = x0 + (GOAL_x - x0) (y - y0) / (GOAL_y - y0) + side * width * bump(y), with
    bump(y) = sin(pi v), v = (y - split) / (SWING_END - split) clipped to [0, 1]: straight up until
    y = split, then a smooth swing out by ``width`` around the obstacle, back on the centre line at
    y = SWING_END. Resampled at a constant ``speed`` (units per step), then ``hold`` steps resting at the
    goal (demonstrations end at rest; and Diffusion Policy's sampler never makes the last Tp - Ta - To + 1
    steps of an episode a current step, so without a rest the policy would never see "arrived").
    """
    y0, x0 = float(start[1]), float(start[0])
    y = torch.linspace(y0, GOAL[1], 1601, dtype=torch.float64)
    v = ((y - split) / (SWING_END - split)).clamp(0, 1)
    x = x0 + (GOAL[0] - x0) * (y - y0) / (GOAL[1] - y0) + side * width * torch.sin(math.pi * v)
    curve = torch.stack([x, y], dim=1)                                          # (1601, 2)
    arc = torch.cat([torch.zeros(1, dtype=torch.float64), (curve[1:] - curve[:-1]).norm(dim=1).cumsum(0)])
    stops = torch.arange(0.0, float(arc[-1]), speed, dtype=torch.float64)
    stops = torch.cat([stops, arc[-1:].expand(hold + 1)])                      # end exactly at the goal
    idx = torch.searchsorted(arc, stops).clamp(1, len(arc) - 1)
    w = ((stops - arc[idx - 1]) / (arc[idx] - arc[idx - 1])).clamp(0, 1)[:, None]
    return (curve[idx - 1] + w * (curve[idx] - curve[idx - 1])).float()


def expert_demos(num_episodes: int, generator: torch.Generator) -> Demos:
    """num_episodes scripted demonstrations; each flips a fair coin for left or right.

    Start positions are jittered around START, the swing starts 0 to 2 units above the start and
    its width is drawn from [26, 32], so episodes differ in shape and length. The speed is always
    EXPERT_SPEED: were it drawn per episode, a policy would read the speed off its observation
    history, and a step slightly too short would make it plan slower and slower (it stalls).
    """
    obs, actions, ends, sides = [], [], [], []
    for _ in range(num_episodes):
        side = 1 if float(torch.rand((), generator=generator)) < 0.5 else -1
        start = torch.tensor(START) + torch.tensor(JITTER) * (torch.rand(2, generator=generator) - 0.5)
        split = float(start[1]) + 2.0 * float(torch.rand((), generator=generator))
        width = 26.0 + 6.0 * float(torch.rand((), generator=generator))
        path = expert_path(start, side, width, EXPERT_SPEED, split)                   # (L + 1, 2)
        obs.append(path[:-1])
        actions.append(path[1:])                                                # command: the next position
        ends.append((ends[-1] if ends else 0) + len(path) - 1)
        sides.append(side)
    return Demos(torch.cat(obs), torch.cat(actions), torch.tensor(ends, dtype=torch.int64),
                 torch.tensor(sides, dtype=torch.int64))


def start_positions(n: int, generator: torch.Generator) -> torch.Tensor:
    """n start positions (n, 2), jittered around START like the demonstrations'."""
    return torch.tensor(START) + torch.tensor(JITTER) * (torch.rand(n, 2, generator=generator) - 0.5)


# ----------------------------------------------------------------------------- normalisation
class Normalizer:
    """Per-dimension min/max scaling of positions to [-1, 1] (Diffusion Policy's "limits" mode).

    Fitted once on the demonstrations (observations and actions share one space, positions).
    """

    def __init__(self, low: torch.Tensor, high: torch.Tensor):
        check_tensor("low", low, ndim=1)
        check_tensor("high", high, shape=tuple(low.shape))
        self.low, self.high = low.float(), high.float()

    @classmethod
    def fit(cls, *data: torch.Tensor) -> "Normalizer":
        """From (..., D) tensors: the min and max of each of the D dimensions over all of them."""
        flat = torch.cat([d.reshape(-1, d.shape[-1]) for d in data])
        return cls(flat.min(0).values, flat.max(0).values)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * (x - self.low) / (self.high - self.low) - 1

    def unnormalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x + 1) / 2 * (self.high - self.low) + self.low


# ----------------------------------------------------------------------------- evaluation
def outcome(observations: torch.Tensor, actions: torch.Tensor) -> dict:
    """Measures of closed-loop rollouts: observations (B, S + 1, 2) positions (start included) and the
    actions (B, S, 2) commanded in between.

    collided: (B,) bool, some commanded move ran into the obstacle;
    success: (B,) bool, the robot got within GOAL_RADIUS of the goal and never collided;
    side: (B,) int64, the side on which it passed the obstacle's centre line y = OBSTACLE_y
      (-1 left, +1 right, 0 never got past it, e.g. stuck at the obstacle);
    steps: (B,) int64, the first step at which the robot was within GOAL_RADIUS of the goal (-1 if never);
    final_distance: (B,) float32, distance from the goal at the last step.
    """
    check_tensor("observations", observations, shape=(None, None, 2))
    check_tensor("actions", actions, shape=(observations.shape[0], observations.shape[1] - 1, 2))
    pos, act = observations[:, :-1].reshape(-1, 2), actions.reshape(-1, 2)
    collided = segment_hits_obstacle(pos, proposed_move(pos, act)).reshape(actions.shape[:2]).any(dim=1)
    distance = (observations - torch.tensor(GOAL)).norm(dim=-1)                 # (B, S + 1)
    near = distance < GOAL_RADIUS
    reached = near.any(dim=1)
    steps = torch.where(reached, near.float().argmax(dim=1), -1)
    crossed = observations[..., 1] >= OBSTACLE[1]                               # (B, S + 1)
    first = crossed.float().argmax(dim=1)                                       # first step at or past the centre
    x_there = observations[torch.arange(len(observations)), first, 0]
    side = torch.where(x_there < OBSTACLE[0], -1, 1)
    side = torch.where(crossed.any(dim=1), side, torch.zeros_like(side))
    return {"collided": collided, "success": reached & ~collided, "side": side, "steps": steps,
            "final_distance": distance[:, -1]}


def summary(observations: torch.Tensor, actions: torch.Tensor) -> dict:
    """Success and collision rates, the fractions of rollouts passing left / right, the mean number of
    steps to the goal over the successful rollouts (nan if none) and the mean final distance (floats)."""
    out = outcome(observations, actions)
    n = len(observations)
    ok = out["success"]
    return {"success": float(ok.float().mean()), "collision": float(out["collided"].float().mean()),
            "left": float((out["side"] == -1).sum()) / n, "right": float((out["side"] == 1).sum()) / n,
            "steps": float(out["steps"][ok].float().mean()) if bool(ok.any()) else float("nan"),
            "final_distance": float(out["final_distance"].mean())}
