"""Multi-task 2-D action chunks and observations for the pi0 assignment (not graded).

A point robot stands at a start position (its *state*) and is told, in a four-word instruction,
which of four motions to draw: the trajectories of ``coursekit.kit.trajectories`` (left turn, right
turn, straight, S-curve). An action chunk is the next H = 50 positions *relative to the robot's
position*, ``(B, H, 2)`` (delta actions, as openpi's ``DeltaActions`` transform makes them; add the
state back to execute them). Each sample also draws its own heading, curvature and length, so a
task is a distribution of chunks, not one chunk.

The observation has the three parts of pi0's input (Black et al. 2024):
  * ``tokens`` (B, 4) int64: the instruction, words of a tiny vocabulary;
  * ``image``  (B, 16, 16): a "camera" picture of the scene, a blob where the robot stands;
  * ``state``  (B, 2): the robot's position (proprioception).

Also here: the measures of the experiment (nearest-task accuracy, per-task mean-trajectory error,
start error).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from coursekit.kit.trajectories import CLASS_NAMES, class_prototypes, class_trajectories, nearest_class
from coursekit.validate import check_count, check_tensor

TASKS = CLASS_NAMES                  # ("left turn", "right turn", "straight", "S-curve")
NUM_TASKS = len(TASKS)
HORIZON = 50                         # pi0's action chunk length H
ACTION_DIM = STATE_DIM = 2
ORIGIN = torch.tensor([0.0, -1.0])   # where coursekit.kit.trajectories starts every trajectory
START_RANGE = 0.5                    # start positions are uniform in [-0.5, 0.5]^2
IMAGE_SIZE, IMAGE_EXTENT = 16, 2.0   # a 16 x 16 picture of the square [-2, 2]^2

VOCAB = ("<pad>", "turn", "left", "right", "go", "straight", "draw", "an", "s-curve")
INSTRUCTIONS = ("turn left", "turn right", "go straight", "draw an s-curve")
INSTRUCTION_LENGTH = 4


# ---------------------------------------------------------------- data
class Observation(NamedTuple):
    tokens: torch.Tensor   # (B, 4) int64 instruction words
    image: torch.Tensor    # (B, 16, 16) float32 camera picture
    state: torch.Tensor    # (B, 2) float32 robot position


def instruction_tokens(task: torch.Tensor) -> torch.Tensor:
    """The instruction of each task as word indices, padded to 4: (B,) int64 -> (B, 4) int64."""
    table = torch.zeros(NUM_TASKS, INSTRUCTION_LENGTH, dtype=torch.int64)
    for k, text in enumerate(INSTRUCTIONS):
        words = [VOCAB.index(w) for w in text.split()]
        table[k, :len(words)] = torch.tensor(words)
    return table[task]


def render_image(state: torch.Tensor, size: int = IMAGE_SIZE, extent: float = IMAGE_EXTENT) -> torch.Tensor:
    """A Gaussian blob (std 0.25) at each robot position on a size x size grid over [-extent, extent]^2.

    state: (B, 2) -> (B, size, size), rows are y (bottom row first), columns are x.
    """
    check_tensor("state", state, shape=(None, STATE_DIM), dtype=torch.float32)
    centres = torch.linspace(-extent, extent, size)                                        # (S,)
    dy = (centres[None, :] - state[:, 1:2]) ** 2                                           # (B, S)
    dx = (centres[None, :] - state[:, 0:1]) ** 2                                           # (B, S)
    return torch.exp(-(dy[:, :, None] + dx[:, None, :]) / (2 * 0.25 ** 2))                 # (B, S, S)


def observe(state: torch.Tensor, task: torch.Tensor) -> Observation:
    """What the policy sees: instruction tokens, camera image and state."""
    check_tensor("state", state, shape=(None, STATE_DIM), dtype=torch.float32)
    check_tensor("task", task, shape=(state.shape[0],), dtype=torch.int64)
    return Observation(instruction_tokens(task), render_image(state), state)


def make_episodes(n: int, generator: torch.Generator, horizon: int = HORIZON,
                  task: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n demonstrations: action chunks (n, horizon, 2), start states (n, 2), tasks (n,) int64.

    Tasks are uniform unless given. Each chunk is a ``coursekit.kit.trajectories`` trajectory of its
    task, relative to the robot's position (it starts near (0, 0)); the robot stands anywhere in
    [-0.5, 0.5]^2, and ``chunk + state[:, None]`` are the positions it visits.
    """
    check_count("n", n, unit="samples")
    if task is not None:
        check_tensor("task", task, shape=(n,), dtype=torch.int64)
    traj, task = class_trajectories(n, generator, horizon, task)                          # (n, H, 2), (n,)
    state = START_RANGE * (2 * torch.rand(n, STATE_DIM, generator=generator) - 1)          # (n, 2)
    return traj - ORIGIN, state, task


# ---------------------------------------------------------------- measures (on chunks relative to the robot)
def task_prototypes(horizon: int = HORIZON) -> torch.Tensor:
    """Mean chunk of each task, (K, horizon, 2)."""
    return class_prototypes(horizon) - ORIGIN


def task_accuracy(actions: torch.Tensor, task: torch.Tensor) -> float:
    """Fraction of chunks whose nearest task prototype is the task they were asked for."""
    check_tensor("actions", actions, shape=(None, None, ACTION_DIM))
    return float((nearest_class(actions, task_prototypes(actions.shape[1])) == task).float().mean())


def mean_chunk_error(actions: torch.Tensor, task: torch.Tensor) -> list[float]:
    """Per task: mean squared distance between the average chunk and the task prototype."""
    check_tensor("actions", actions, shape=(None, None, ACTION_DIM))
    prototypes = task_prototypes(actions.shape[1])
    return [float(((actions[task == k].mean(0) - prototypes[k]) ** 2).sum(-1).mean()) if (task == k).any()
            else float("nan") for k in range(NUM_TASKS)]


def start_error(actions: torch.Tensor) -> float:
    """Mean distance of each chunk's first action from the robot's position (the origin of the chunk)."""
    return float(actions[:, 0].norm(dim=-1).mean())
