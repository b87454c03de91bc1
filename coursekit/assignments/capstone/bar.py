"""The capstone's quality bar, and the wrong answers it must reject (see ``coursekit.kit.evidence``).

Threat model: a goal-conditioned policy over multimodal paths can look right in a picture while
being wrong in four ways: it ignores the goal (lands elsewhere), it cuts through the obstacle, it
has lost a way around (one mode per goal), or its paths are blurred or shifted away from anything
the demonstrations did. The bar checks each one separately, per goal, and
``tests/test_capstone_evidence.py`` proves, with the notebook's seeds and budget, that the trained
reference passes while the untrained model, the model asked for the wrong goal, one way only, the
average of the ways (what regression learns), paths four times too wide and a moment-matched
Gaussian all fail.
"""
from __future__ import annotations

import torch

from coursekit.assignments.capstone.data import NUM_GOALS, WAYS, clearance, reach_error, way_around
from coursekit.kit.evidence import Verdict

MAX_REACH = 0.05        # metres: the goals are 0.22 m or more apart
MIN_CLEAR = 0.9         # fraction of paths whose every waypoint stays outside the obstacle
MIN_WAY = 0.2           # each way around gets at least this share of each goal's paths
FORMATION_FACTOR = 2.0  # the median distance to the nearest same-goal data path, against held-out data's own


def nearest_distance(paths: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
    """RMS-over-waypoints distance (n,) from each path (n, H, 3) to the nearest data path (M, H, 3)."""
    H = paths.shape[1]
    d = torch.cdist(paths.reshape(len(paths), -1), data.reshape(len(data), -1),
                    compute_mode="donot_use_mm_for_euclid_dist")
    return d.min(dim=1).values / H ** 0.5


def _per_goal_nearest(paths, goals, data, data_goals) -> torch.Tensor:
    out = torch.empty(len(paths))
    for k in range(NUM_GOALS):
        rows = goals == k
        if rows.any():
            out[rows] = nearest_distance(paths[rows], data[data_goals == k])
    return out


def formation_scale(data: torch.Tensor, data_goals: torch.Tensor, held_out: torch.Tensor,
                    held_out_goals: torch.Tensor) -> float:
    """The median distance from held-out demonstrations to the nearest same-goal data path: what
    "as close to the data as real paths are" means for this data set and its size."""
    return float(_per_goal_nearest(held_out, held_out_goals, data, data_goals).median())


def capstone_bar(paths: torch.Tensor, goals: torch.Tensor, data: torch.Tensor, data_goals: torch.Tensor,
                 scale: float, name: str = "policy") -> Verdict:
    """Goal-conditioned paths pass when, for the goals they were asked for, they

    - reach: the mean distance from the last waypoint to the asked goal is below MAX_REACH;
    - clear: at least MIN_CLEAR of the paths keep every waypoint outside the obstacle;
    - use both ways: for every goal, each way around gets at least MIN_WAY of its paths;
    - form: the median distance to the nearest data path *of the asked goal* is at most
      FORMATION_FACTOR times ``scale`` (see :func:`formation_scale`).
    """
    paths = paths.detach().float()
    if not torch.isfinite(paths).all():
        return Verdict(name, False, {}, ["the paths contain NaN or infinity"])
    reach = float(reach_error(paths, goals).mean())
    clear = float((clearance(paths) > 0).float().mean())
    way = way_around(paths)
    shares = [float((way[goals == k] == 1).float().mean()) for k in range(NUM_GOALS) if (goals == k).any()]
    smallest_way = min(min(s, 1 - s) for s in shares)
    formed = float(_per_goal_nearest(paths, goals, data, data_goals).median())
    figures = {"reach error m": reach, "clear": clear, f"share '{WAYS[1]}' per goal": shares,
               "smallest way share": smallest_way, "formation / data": formed / scale}
    criteria = [
        (reach < MAX_REACH, f"the paths end {reach:.3g} m from their goal on average (bar {MAX_REACH:g})"),
        (clear >= MIN_CLEAR, f"only {clear:.0%} of the paths clear the obstacle (bar {MIN_CLEAR:.0%})"),
        (smallest_way >= MIN_WAY, f"a way around gets under {MIN_WAY:.0%} of a goal's paths (a lost mode)"),
        (formed <= FORMATION_FACTOR * scale,
         f"the paths are {formed / scale:.3g} x as far from the data as real paths (bar {FORMATION_FACTOR:g})"),
    ]
    failures = [why for ok, why in criteria if not ok]
    return Verdict(name, not failures, figures, failures)


def capstone_controls(data: torch.Tensor, data_goals: torch.Tensor, data_ways: torch.Tensor,
                      goals: torch.Tensor, generator: torch.Generator) -> dict:
    """Wrong answers, one path per entry of ``goals`` (n,): what the capstone bar must reject.

    wrong goal: demonstrations of the next goal; one way only: demonstrations that all go beside;
    average of the ways: each goal's mean path (what a regression policy learns); 4x wide: each
    (goal, way)'s demonstrations with their deviations from its mean four times larger;
    moment-matched Gaussian: per goal, a Gaussian with the mean and covariance of its paths.
    """
    n, shape = len(goals), data.shape[1:]
    out = {name: torch.empty(n, *shape) for name in
           ("wrong goal", "one way only", "average of the ways", "4x wide", "moment-matched Gaussian")}

    def pick(rows: torch.Tensor, count: int) -> torch.Tensor:
        pool = data[rows]
        return pool[torch.randint(0, len(pool), (count,), generator=generator)]

    for k in range(NUM_GOALS):
        asked = goals == k
        m = int(asked.sum())
        if m == 0:
            continue
        of_k = data_goals == k
        out["wrong goal"][asked] = pick(data_goals == (k + 1) % NUM_GOALS, m)
        out["one way only"][asked] = pick(of_k & (data_ways == 0), m)
        out["average of the ways"][asked] = data[of_k].mean(0)
        ways = torch.randint(0, len(WAYS), (m,), generator=generator)
        wide = torch.empty(m, *shape)
        for j in range(len(WAYS)):
            rows = of_k & (data_ways == j)
            mean = data[rows].mean(0)
            wide[ways == j] = mean + 4 * (pick(rows, int((ways == j).sum())) - mean)
        out["4x wide"][asked] = wide
        flat = data[of_k].reshape(int(of_k.sum()), -1).double()
        cov = torch.cov(flat.T) + 1e-8 * torch.eye(flat.shape[1], dtype=torch.float64)
        z = torch.randn(m, flat.shape[1], generator=generator, dtype=torch.float64)
        out["moment-matched Gaussian"][asked] = (flat.mean(0) + z @ torch.linalg.cholesky(cov).T).float().reshape(m, *shape)
    return out
