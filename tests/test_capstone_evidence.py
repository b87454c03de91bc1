"""The capstone's bar separates right from wrong: the trained reference passes it, every negative control fails.

Trains what 10_capstone trains, with the reference solutions in place of the learner's functions and the
notebook's seeds and budget (``SETTINGS`` pins the template's lines that fix them), and judges with the bar the
notebook asserts (``coursekit.assignments.capstone.bar``). Controls: the untrained network; the trained network
asked for the wrong goal; demonstrations of the wrong goal; one way around only; the average of the two ways
(what regression learns); paths four times too wide; a moment-matched Gaussian. Also: guidance matters
(w = 0 misses the goal) and the samples form late.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

TEMPLATE = Path(__file__).resolve().parents[1] / "autograder" / "templates" / "10_capstone" / "10_capstone.py"
SETTINGS = [
    "paths, goal, way = demonstrations(4096, torch.Generator().manual_seed(0))",
    "T, P, STEPS, BATCH, LR = 50, 2, 400, 64, 5e-3",
    "time_embedding=sinusoidal_embedding, hidden_size=32, depth=2)",
    "torch.arange(len(tokens)), steps=STEPS, batch_size=BATCH, lr=LR, seed=0",
    "noise = torch.randn(len(goals), HORIZON // P, 3 * P, generator=torch.Generator().manual_seed(seed))",
    "held_out, held_goal, _ = demonstrations(1024, torch.Generator().manual_seed(3))",
    "asked = torch.arange(NUM_GOALS).repeat_interleave(32)",
    "capstone_controls(paths, goal, way, asked, torch.Generator().manual_seed(4))",
]


def test_the_notebook_uses_these_settings():
    text = TEMPLATE.read_text()
    missing = [line for line in SETTINGS if line not in text]
    assert not missing, f"10_capstone: the template no longer says {missing}; update this test's run to match"


@pytest.fixture(scope="module")
def run():
    from coursekit.assignments.capstone.bar import capstone_bar, capstone_controls, formation_scale
    from coursekit.assignments.capstone.data import HORIZON, NUM_GOALS, demonstrations, reach_error
    from coursekit.kit.diffusion import cosine_alpha_bar, sinusoidal_embedding
    from coursekit.kit.train import train
    from coursekit.kit.transformer import InContextDiT
    from solutions import capstone as C

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        paths, goal, way = demonstrations(4096, torch.Generator().manual_seed(0))
        T, P, STEPS, BATCH, LR = 50, 2, 400, 64, 5e-3
        alpha_bar = cosine_alpha_bar(T)
        low, high = paths.amin(dim=(0, 1)), paths.amax(dim=(0, 1))
        tokens = C.tokenize(C.normalize(paths, low, high), P)
        make = lambda: InContextDiT(action_dim=3 * P, horizon=HORIZON // P, num_classes=NUM_GOALS,
                                    time_embedding=sinusoidal_embedding, hidden_size=32, depth=2)
        torch.manual_seed(0)
        policy, untrained = make(), make()
        train(policy, lambda idx, g: C.policy_loss(policy, tokens[idx], goal[idx], alpha_bar, g),
              torch.arange(len(tokens)), steps=STEPS, batch_size=BATCH, lr=LR, seed=0, desc="DiT policy")

        def sample_states(model, goals, w=1.0, seed=1):
            noise = torch.randn(len(goals), HORIZON // P, 3 * P, generator=torch.Generator().manual_seed(seed))
            with torch.no_grad():
                states = C.sample_trajectory(lambda x, t: C.goal_guided_eps(model, x, t, goals, w, NUM_GOALS), noise,
                                             alpha_bar, torch.Generator().manual_seed(seed + 1))
            flat = C.detokenize(states.reshape(-1, *states.shape[2:]), P)
            return C.unnormalize(flat, low, high).reshape(len(states), len(goals), HORIZON, 3)

        held_out, held_goal, _ = demonstrations(1024, torch.Generator().manual_seed(3))
        scale = formation_scale(paths, goal, held_out, held_goal)
        asked = torch.arange(NUM_GOALS).repeat_interleave(32)
        candidates = {"trained": sample_states(policy, asked)[-1], "untrained": sample_states(untrained, asked)[-1],
                      "trained, wrong goal": sample_states(policy, (asked + 1) % NUM_GOALS)[-1]}
        candidates.update(capstone_controls(paths, goal, way, asked, torch.Generator().manual_seed(4)))
        verdicts = {name: capstone_bar(x, asked, paths, goal, scale, name=name) for name, x in candidates.items()}
        reach = {w: float(reach_error(sample_states(policy, asked, w=w)[-1], asked).mean()) for w in (0.0, 1.0)}
        formation = C.formation_distance(sample_states(policy, torch.zeros(16, dtype=torch.long)), paths)
        return verdicts, reach, formation.median(dim=1).values
    finally:
        torch.set_num_threads(threads)


def test_reference_passes_and_every_control_fails(run):
    verdicts = dict(run[0])
    report = "\n".join(map(str, verdicts.values()))
    print(report)
    assert verdicts.pop("trained"), report
    assert len(verdicts) == 7 and not any(verdicts.values()), report


def test_guidance_and_formation_claims(run):
    _, reach, median = run
    assert reach[0.0] > 3 * reach[1.0], reach
    assert median[0] > 10 * median[-1] and int((median < 0.05).float().argmax()) > len(median) // 2, median
