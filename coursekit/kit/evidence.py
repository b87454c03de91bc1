"""Quality bars for the course's experiments, and the wrong answers each bar must reject.

Threat model: a bar that says "the model learned" is only evidence if a model that did *not* learn
fails it. A single distance with a hand-picked threshold is easy to fool: the energy distance to
eight-Gaussians data is below 0.05 for a ring with no modes, for blobs four times too wide and for
seven of the eight modes. So every bar here checks the structure the data has (each mode, each
class, each robot, each task), and ``tests/test_evidence.py`` proves, with the notebooks' own seeds
and budgets, that the trained reference passes and every negative control fails: the untrained
model, a ring, missing modes, blobs too wide, a moment-matched Gaussian and, for policies, the
regression baseline.

Every bar returns a :class:`Verdict`: ``passed``, the figures it measured, and in plain words which
criteria failed, so that a notebook can print it and assert it in one line.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

__all__ = [
    "Verdict", "eight_gaussian_centres", "mixture_report", "mmd", "mixture_controls", "calibrated_threshold",
    "mixture_bar", "labelled_bar", "labelled_controls", "policy_bar", "reach_bar",
]


@dataclass
class Verdict:
    """What a bar decided: ``passed``, the figures it measured, and the criteria that failed."""
    name: str
    passed: bool
    figures: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        shown = ", ".join(f"{k} {_fmt(v)}" for k, v in self.figures.items())
        verdict = "pass" if self.passed else "FAIL: " + "; ".join(self.failures)
        return f"{self.name}: {shown}\n    -> {verdict}"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, tuple):
        return " to ".join(_fmt(x) for x in v)
    if isinstance(v, list):
        return "[" + " ".join(_fmt(x) for x in v) + "]"
    return str(v)


def _judge(name: str, figures: dict, criteria: list[tuple[bool, str]]) -> Verdict:
    failures = [why for ok, why in criteria if not ok]
    return Verdict(name, not failures, figures, failures)


def _check_points(x: torch.Tensor, what: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or len(x) < 2:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{what}: expected a tensor of points (n, d) with n >= 2, got {got}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{what}: the points contain NaN or infinity")
    return x.detach().float()


# ---------------------------------------------------------------- mixtures (eight Gaussians)

def eight_gaussian_centres(radius: float = 2.0) -> torch.Tensor:
    """The eight mode centres of ``coursekit.kit.data.eight_gaussians``, (8, 2)."""
    angle = torch.arange(8) * (2 * math.pi / 8)
    return radius * torch.stack([angle.cos(), angle.sin()], dim=1)


def mixture_report(x: torch.Tensor, centres: torch.Tensor, radius: float) -> dict:
    """Per-mode figures of samples x (n, d) around known mode centres (K, d).

    share[k]: the fraction of all samples within ``radius`` of centre k (a fair share is 1/K);
    in_modes: the fraction within ``radius`` of some centre;
    spread[k]: the root-mean-square distance to centre k of the samples within ``radius`` of it
    (NaN for a mode that received none).
    """
    x = _check_points(x, "mixture_report")
    d = torch.cdist(x, centres.float())                                   # (n, K)
    near = d < radius                                                      # (n, K)
    share = near.float().mean(0)                                           # (K,)
    spread = torch.stack([d[near[:, k], k].pow(2).mean().sqrt() if near[:, k].any() else torch.tensor(float("nan"))
                          for k in range(len(centres))])
    return {"share": share.tolist(), "in_modes": float(near.any(1).float().mean()), "spread": spread.tolist()}


BANDWIDTH = 0.2   # the MMD's kernel width: about the spread of one mode of the eight Gaussians (0.15 per axis)


def mmd(x: torch.Tensor, y: torch.Tensor, bandwidth: float = BANDWIDTH) -> float:
    """Squared maximum mean discrepancy with a Gaussian kernel of the given bandwidth (unbiased estimate).

    Unlike the energy distance, whose kernel is as wide as the data, a bandwidth at the scale of one mode
    sees a mode's width and position: a ring or blobs too wide are far from the data in this distance.
    """
    x, y = _check_points(x, "mmd"), _check_points(y, "mmd")
    k = lambda a, b: torch.exp(-torch.cdist(a, b).pow(2) / (2 * bandwidth ** 2))
    n, m = len(x), len(y)
    kxx = (k(x, x).sum() - n) / (n * (n - 1))
    kyy = (k(y, y).sum() - m) / (m * (m - 1))
    return float(kxx + kyy - 2 * k(x, y).mean())


def mixture_controls(n: int, generator: torch.Generator, radius: float = 2.0, std: float = 0.15) -> dict:
    """Wrong answers for eight-Gaussians data, n points each: what a mixture bar must reject.

    ring: uniform on the circle through the centres (right radius, no modes); seven modes: the data
    without one mode; blobs 4x wide: the right centres with four times the spread; moment-matched
    Gaussian: one Gaussian with the data's mean and covariance.
    """
    from coursekit.kit.data import eight_gaussians   # the data module is the one source of the data's law
    angle = 2 * math.pi * torch.rand(n, generator=generator)
    ring = radius * torch.stack([angle.cos(), angle.sin()], dim=1)
    seven = eight_gaussians(2 * n, generator, radius, std)
    seven = seven[torch.cdist(seven, eight_gaussian_centres(radius)[:1]).squeeze(1) > radius / 2][:n]
    wide = eight_gaussians(n, generator, radius, 4 * std)
    variance = radius ** 2 / 2 + std ** 2                     # per coordinate, from the law of the data
    gaussian = math.sqrt(variance) * torch.randn(n, 2, generator=generator)
    return {"ring": ring, "seven of eight modes": seven, "blobs 4x wide": wide, "moment-matched Gaussian": gaussian}


def calibrated_threshold(held_out: torch.Tensor, controls: dict, bandwidth: float = BANDWIDTH) -> float:
    """A distance threshold set by the negative controls: half the smallest control's MMD to held-out data."""
    return 0.5 * min(mmd(c, held_out, bandwidth) for c in controls.values())


def mixture_bar(samples: torch.Tensor, held_out: torch.Tensor, centres: torch.Tensor, threshold: float,
                radius: float = 0.5, bandwidth: float = BANDWIDTH, name: str = "samples") -> Verdict:
    """Samples of a mixture pass when every mode is covered, with the data's spread, and the MMD is small.

    - coverage: every mode receives at least half its fair share (1/K) of the samples within ``radius``;
    - in modes: at least 85 % of the samples lie within ``radius`` of some centre;
    - spread: each mode's RMS distance to its centre is within a factor 1.4 of the held-out data's;
    - distance: the MMD (kernel ``bandwidth``) to held-out data is below ``threshold``
      (use :func:`calibrated_threshold`).

    The radius (0.5, over three standard deviations of a mode) keeps 99 % of real data in its mode.
    """
    rep, ref = mixture_report(samples, centres, radius), mixture_report(held_out, centres, radius)
    K = len(centres)
    ratios = [s / r for s, r in zip(rep["spread"], ref["spread"]) if not math.isnan(s)] or [float("nan")]
    distance = mmd(samples, held_out, bandwidth)
    figures = {"smallest mode share x K": min(rep["share"]) * K, "in modes": rep["in_modes"],
               "spread ratio": (min(ratios), max(ratios)), "MMD": distance}
    return _judge(name, figures, [
        (min(rep["share"]) >= 0.5 / K, "a mode receives less than half its fair share"),
        (rep["in_modes"] >= 0.85, "fewer than 85 % of the samples lie in a mode"),
        (all(1 / 1.4 <= r <= 1.4 for r in ratios), "a mode's spread is off by more than a factor 1.4"),  # NaN fails
        (distance < threshold, "the MMD to held-out data is above the calibrated threshold"),
    ])


# ---------------------------------------------------------------- labelled samples (classes, tasks)

def _spread(x: torch.Tensor) -> float:
    """Root-mean-square distance of samples (n, ...) from their own mean (over the last axis as points)."""
    return float(((x - x.mean(0)) ** 2).sum(-1).mean().sqrt())


def labelled_bar(samples: torch.Tensor, labels: torch.Tensor, reference: torch.Tensor,
                 reference_labels: torch.Tensor, classify, name: str = "samples",
                 accuracy_ratio: float = 0.8, spread_factor: float = 2.0) -> Verdict:
    """Conditional samples pass when they follow their label about as well as real data, with its spread.

    samples (n, ...) were drawn for ``labels`` (n,); ``reference`` (m, ...) is held-out data with its
    labels; ``classify(x) -> (n,)`` names the label a sample looks like (a nearest-prototype classifier).

    - accuracy: the fraction classified as their own label is at least ``accuracy_ratio`` times the
      reference's own accuracy (data that overlaps between labels cannot score 1);
    - spread: for every label, the samples' spread around their mean is within a factor
      ``spread_factor`` of the reference's (no collapse onto one trajectory, no blur). A factor 2 leaves
      room for a small model on a small budget, which tends to under-disperse a little; collapse (spread 0)
      and four times the spread fail it by far.
    """
    if len(samples) != len(labels) or len(reference) != len(reference_labels):
        raise ValueError(f"{name}: samples and labels differ in length "
                         f"({len(samples)} vs {len(labels)}, reference {len(reference)} vs {len(reference_labels)})")
    accuracy = float((classify(samples) == labels).float().mean())
    reference_accuracy = float((classify(reference) == reference_labels).float().mean())
    ratios = []
    for k in reference_labels.unique().tolist():
        mine = samples[labels == k]
        ratios.append(_spread(mine) / _spread(reference[reference_labels == k]) if len(mine) > 1 else float("nan"))
    figures = {"accuracy": accuracy, "data accuracy": reference_accuracy, "spread ratio": ratios}
    return _judge(name, figures, [
        (accuracy >= accuracy_ratio * reference_accuracy,
         f"accuracy below {accuracy_ratio:g} x the data's own accuracy"),
        (all(1 / spread_factor <= r <= spread_factor for r in ratios),
         f"a label's spread is off by more than a factor {spread_factor:g}"),
    ])


def labelled_controls(reference: torch.Tensor, reference_labels: torch.Tensor, labels: torch.Tensor,
                      generator: torch.Generator) -> dict:
    """Wrong answers for labelled data, one sample per entry of ``labels``: what a labelled bar must reject.

    average of the labels: every sample is the mean of all the data (what regression learns without the
    label); one label only: data of a single label whatever was asked (missing modes); 4x wide: each label's
    data with its deviations from the label's mean four times larger; moment-matched Gaussian: one
    Gaussian with the mean and covariance of all the data, ignoring the label.
    """
    flat = reference.reshape(len(reference), -1)
    n = len(labels)
    pick = lambda k, count: torch.randint(0, int((reference_labels == k).sum()), (count,), generator=generator)
    one_label = reference[reference_labels == reference_labels[0]][pick(reference_labels[0], n)]
    wide = torch.empty(n, *reference.shape[1:])
    for k in labels.unique().tolist():
        of_k = reference[reference_labels == k]
        rows = labels == k
        wide[rows] = of_k.mean(0) + 4 * (of_k[pick(k, int(rows.sum()))] - of_k.mean(0))
    mean = flat.mean(0)
    covariance = torch.cov(flat.T.double()) + 1e-6 * torch.eye(flat.shape[1], dtype=torch.float64)
    factor = torch.linalg.cholesky(covariance).float()
    gaussian = (mean + torch.randn(n, flat.shape[1], generator=generator) @ factor.T).reshape(n, *reference.shape[1:])
    return {"average of the labels": reference.mean(0).expand(n, *reference.shape[1:]).clone(),
            "one label only": one_label, "4x wide": wide, "moment-matched Gaussian": gaussian}


# ---------------------------------------------------------------- policies and reaching

def policy_bar(summary: dict, name: str = "policy", min_success: float = 0.8, min_side: float = 0.2) -> Verdict:
    """A closed-loop policy passes when it reaches the goal in most rollouts and uses both ways around.

    ``summary`` holds the fractions ``success``, ``left`` and ``right`` over the rollouts (as
    ``point_robot.summary`` returns them). Success alone is not enough: a policy that always swings to
    the same side reaches the goal but has lost a mode of the demonstrations.
    """
    figures = {"success": summary["success"], "left": summary["left"], "right": summary["right"]}
    return _judge(name, figures, [
        (summary["success"] >= min_success, f"success below {min_success:g}"),
        (min(summary["left"], summary["right"]) >= min_side, f"a side is used in fewer than {min_side:g} of the rollouts"),
    ])


def reach_bar(errors: dict, name: str = "policy", max_error: float = 0.3) -> Verdict:
    """A goal-reaching policy passes when, for every robot, the mean end-effector distance to the goal at the
    end of its chunks is below ``max_error``.

    Goals lie 0.7 to 1.5 from the base. Answers that ignore the goal (the average demonstration, a
    demonstration for another goal, a Gaussian with the demonstrations' mean and covariance) miss by
    0.75 or more on 05's robots, so 0.3 sits well clear of them.
    """
    return _judge(name, {f"reach error {robot}": e for robot, e in errors.items()},
                  [(e < max_error, f"{robot} misses the goal by {e:.3g} on average (bar {max_error:g})")
                   for robot, e in errors.items()])
