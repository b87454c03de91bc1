"""05's experiment: one policy for two robots through the unified action space, against the alternatives.

The notebook and ``tests/test_evidence.py`` both call :func:`compare_action_spaces`, so the evidence
test trains exactly what the notebook trains (same data, seeds and budgets), with the reference
solutions in place of the learner's functions.

The data: both robots reach for goals all around the upper half plane, but ``arm2_gripper`` was only
ever shown goals on the left (x < 0); the ``bimanual`` robot was shown goals everywhere. Reach errors
are measured on the same goals everywhere, and for ``arm2_gripper`` separately on the half it was shown
and on the half only the other robot's right arm was shown. Three ways to train, all on these data,
with 02's epsilon loss and the same total number of training steps:

- **named slots**: one policy; each joint goes to its named slot, so both robots' right arms write the
  same slots (RDT-1B's unified action space);
- **first J slots**: one policy; each robot's joints go to slots 0..J-1 in the robot's own order, so
  slot 0 is the right shoulder of one robot and the left shoulder of the other;
- **per robot**: one policy per robot (named slots), each trained on its own robot's data only, for half
  the steps: together they cost what one shared policy costs (with twice the parameters).

Threat model: the learner's ``to_unified``, ``from_unified`` and ``masked_mse`` and the notebook's
``TinyRDT`` (which runs the learner's norms and attention) are passed in, never imported, so a wrong
function shows in the figures rather than being replaced by the reference.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from coursekit.assignments.robotic_dits.unified import (ROBOTS, UNIFIED_SIZE, VOCABULARY, demonstrations,
                                                        instruction, reach_error, sample_goals, slot_indices)
from coursekit.kit import evidence
from coursekit.kit.diffusion import cosine_alpha_bar, ddim_sample
from coursekit.kit.train import train

H, N_DEMOS, N_EVAL = 8, 2000, 256               # chunk length, demonstrations per robot, goals per evaluation
T, SCALE = 50, 2.0                              # diffusion steps; joint angles are divided by SCALE
STEPS, BATCH, LR = 600, 64, 5e-3                # one shared policy's budget
SAMPLER_STEPS = 10                              # DDIM steps when sampling
SCHEMES = ("named slots", "first J slots", "per robot")


def shown(robot: str, goals: torch.Tensor) -> torch.Tensor:
    """(N,) bool: the goals of the kind the robot's demonstrations cover (arm2_gripper: only x < 0)."""
    return goals[:, 0] < 0 if robot == "arm2_gripper" else torch.ones(len(goals), dtype=torch.bool)


def named_slots(robot: str) -> torch.Tensor:
    """RDT's way: each joint in its named slot."""
    return slot_indices(ROBOTS[robot]["joints"])


def first_slots(robot: str) -> torch.Tensor:
    """Naive padding: the robot's J joints, in its own order, in slots 0..J-1."""
    return torch.arange(len(ROBOTS[robot]["joints"]))


def robot_demonstrations() -> dict:
    """robot -> (goals (n, 2), chunks (n, H, J)): of N_DEMOS demonstrations (seeded by the robot's position
    in ROBOTS), those whose goal is ``shown`` (all of the bimanual robot's, about half of arm2_gripper's)."""
    out = {}
    for i, name in enumerate(ROBOTS):
        goals, chunks = demonstrations(name, N_DEMOS, H, torch.Generator().manual_seed(i))
        keep = shown(name, goals)
        out[name] = goals[keep], chunks[keep]
    return out


@dataclass
class Comparison:
    """What :func:`compare_action_spaces` measured."""
    errors: dict                   # scheme (and "untrained") -> robot -> mean reach error over all goals
    split: dict                    # scheme -> robot -> {"shown": error, "not shown": error} (where there are any)
    samples: dict                  # robot -> (goals, sampled chunks) of the named-slot policy
    verdicts: dict                 # reach bar on the named-slot policy, the untrained one and four controls
    parameters: int                # of one policy
    losses: dict = field(default_factory=dict)   # scheme -> training losses (per robot: robot -> losses)

    def table(self) -> str:
        """Mean reach error per scheme and robot, on the goals its demonstrations cover ("shown") and on
        the others ("not shown"); "all" for a robot shown every kind of goal."""
        cols = [(name, part) for name in ROBOTS for part in self.split["untrained"][name]]
        label = lambda name, part: part if len(self.split["untrained"][name]) > 1 else "all"
        rows = [f"{'reach error':<15}" + "".join(f"{name:>15}" for name, _ in cols),
                f"{'goals':<15}" + "".join(f"{label(name, part):>15}" for name, part in cols)]
        for scheme, split in self.split.items():
            rows.append(f"{scheme:<15}" + "".join(f"{split[name][part]:>15.3f}" for name, part in cols))
        return "\n".join(rows)

    def claims(self) -> dict[str, bool]:
        """The statements 05's prose makes about the table, each with whether the figures bear it out
        (the notebook prints and asserts them; so does tests/test_evidence.py)."""
        split, shared = self.split, ("named slots", "first J slots")
        unseen = {scheme: split[scheme]["arm2_gripper"]["not shown"] for scheme in SCHEMES}
        return {
            "on the goals it was shown, both shared policies reach with every robot (error < 0.3)":
                all(split[s][name]["shown"] < 0.3 for s in shared for name in ROBOTS),
            "on the goals arm2_gripper was never shown, named slots miss by less than half what first J slots "
            "and its own policy miss": unseen["named slots"] < 0.5 * min(unseen["first J slots"], unseen["per robot"]),
            "on the same total budget, per-robot policies are behind both shared ones on every robot's shown goals":
                all(split["per robot"][name]["shown"] > max(split[s][name]["shown"] for s in shared) for name in ROBOTS),
        }


def compare_action_spaces(policy_class: Callable, to_unified: Callable, from_unified: Callable,
                          masked_mse: Callable) -> Comparison:
    """Train and evaluate the three schemes and judge the named-slot policy with ``evidence.reach_bar``.

    ``policy_class(horizon=, obs_dim=, vocab_size=, num_steps=)`` builds a TinyRDT;
    ``to_unified(actions, slots) -> (unified, mask)``, ``from_unified(unified, slots) -> actions`` and
    ``masked_mse(pred, target, mask)`` are the learner's. Every policy starts from ``torch.manual_seed(0)``.
    """
    demos = robot_demonstrations()
    alpha_bar = cosine_alpha_bar(T).clamp(min=1e-2)           # floored, as in 04

    def fresh_policy():
        torch.manual_seed(0)
        return policy_class(horizon=H, obs_dim=2, vocab_size=len(VOCABULARY), num_steps=T)

    def trained(robots, slots, steps, desc):
        columns = []                  # (unified / SCALE, mask, instruction ids, instruction mask, goal)
        for name in robots:
            goals, chunks = demos[name]
            unified, mask = to_unified(chunks, slots(name))
            columns.append((unified / SCALE, mask, *instruction(name, len(goals)), goals))
        U, M, I, LM, G = (torch.cat(c) for c in zip(*columns))
        policy = fresh_policy()

        def policy_loss(idx, g):      # 02's epsilon loss, on the robots' own slots only
            x0 = U[idx]
            t = torch.randint(0, T, (len(idx),), generator=g)
            noise = torch.randn(x0.shape, generator=g)
            a = alpha_bar[t].reshape(-1, 1, 1)
            pred = policy(a.sqrt() * x0 + (1 - a).sqrt() * noise, t, M[idx], I[idx], LM[idx], G[idx])
            return masked_mse(pred, noise, M[idx])

        losses = train(policy, policy_loss, torch.arange(len(U)), steps=steps, batch_size=BATCH, lr=LR, desc=desc)
        return policy, losses

    def sampled(policy, name, slots):
        """(goals, chunks (N_EVAL, H, J)) sampled by the policy for one robot, on the same goals and noise."""
        goals = sample_goals(N_EVAL, torch.Generator().manual_seed(5))
        _, mask = to_unified(torch.zeros(N_EVAL, H, len(ROBOTS[name]["joints"])), slots(name))
        ids, lang_mask = instruction(name, N_EVAL)
        with torch.no_grad():
            unified = ddim_sample(lambda x, t: policy(x, t, mask, ids, lang_mask, goals), (N_EVAL, H, UNIFIED_SIZE),
                                  alpha_bar, SAMPLER_STEPS, torch.Generator().manual_seed(6), clip=None)
        return goals, from_unified(unified * SCALE, slots(name))

    def split_of(samples):
        out = {}
        for name, (goals, chunks) in samples.items():
            seen = shown(name, goals)
            out[name] = {part: reach_error(name, chunks[rows], goals[rows])
                         for part, rows in (("shown", seen), ("not shown", ~seen)) if rows.any()}
        return out

    policy = fresh_policy()
    parameters = sum(p.numel() for p in policy.parameters())
    untrained = {name: sampled(policy, name, named_slots) for name in ROBOTS}
    split = {"untrained": split_of(untrained)}
    errors = {"untrained": {name: reach_error(name, c, g) for name, (g, c) in untrained.items()}}
    losses = {}
    for scheme, slots in (("named slots", named_slots), ("first J slots", first_slots)):
        policy, losses[scheme] = trained(list(ROBOTS), slots, STEPS, f"one policy, {scheme}")
        samples = {name: sampled(policy, name, slots) for name in ROBOTS}
        split[scheme] = split_of(samples)
        errors[scheme] = {name: reach_error(name, c, g) for name, (g, c) in samples.items()}
        if scheme == "named slots":
            named_samples = samples
    per_robot, losses["per robot"] = {}, {}
    for name in ROBOTS:
        policy, losses["per robot"][name] = trained([name], named_slots, STEPS // len(ROBOTS), f"{name} alone")
        per_robot[name] = sampled(policy, name, named_slots)
    split["per robot"] = split_of(per_robot)
    errors["per robot"] = {name: reach_error(name, c, g) for name, (g, c) in per_robot.items()}
    return Comparison(errors, split, named_samples, reach_verdicts(demos, named_samples, errors),
                      parameters, losses)


CONTROL_NAMES = {"average of the labels": "average demonstration", "one label only": "demonstration for another goal",
                 "4x wide": "4x wide", "moment-matched Gaussian": "moment-matched Gaussian"}


def reach_verdicts(demos: dict, samples: dict, errors: dict) -> dict:
    """The reach bar on the named-slot policy, the untrained policy and four answers that ignore the goal:
    the average demonstration, a demonstration for another goal, each demonstration's deviation from the
    average four times larger, and a Gaussian with the demonstrations' mean and covariance (per robot)."""
    g = torch.Generator().manual_seed(8)
    controls = {name: evidence.labelled_controls(demos[name][1], torch.zeros(len(demos[name][1]), dtype=torch.long),
                                                 torch.zeros(len(samples[name][0]), dtype=torch.long), g)
                for name in ROBOTS}
    verdicts = {"trained": evidence.reach_bar(errors["named slots"], name="trained (named slots)"),
                "untrained": evidence.reach_bar(errors["untrained"], name="untrained")}
    for kind, called in CONTROL_NAMES.items():
        verdicts[called] = evidence.reach_bar({name: reach_error(name, controls[name][kind], samples[name][0])
                                               for name in ROBOTS}, name=called)
    return verdicts
