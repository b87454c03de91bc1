"""The capstone's reference pieces against independent sources, and its data against its promises.

- The sampler against diffusers' ``DDPMScheduler`` (``clip_sample=True``, ``variance_type="fixed_small"``,
  the betas of the same alpha_bar), step by step with the same generator: same states.
- Normalisation and tokens: exact round trips; a token holds consecutive waypoints.
- The formation metric against a brute-force loop.
- The data: every demonstration clears the obstacle, goes round the way it was drawn, and ends at its goal;
  the arm's forward kinematics puts its hand on every waypoint its inverse kinematics was asked for.
"""
from __future__ import annotations

import torch

from coursekit.assignments.capstone.data import (GOALS, HORIZON, clearance, demonstrations, forward_kinematics,
                                                 inverse_kinematics, reach_error, way_around)
from coursekit.kit.diffusion import cosine_alpha_bar
from coursekit.kit.toys import ToyEpsModel
from solutions import capstone as C


def test_sampler_matches_diffusers_ddpm_scheduler():
    from diffusers import DDPMScheduler
    T = 50
    alpha_bar = cosine_alpha_bar(T)
    betas = 1 - alpha_bar / torch.cat([torch.ones(1), alpha_bar[:-1]])
    sched = DDPMScheduler(num_train_timesteps=T, trained_betas=betas.tolist(), clip_sample=True,
                          clip_sample_range=1.0, variance_type="fixed_small", prediction_type="epsilon")
    sched.set_timesteps(T)
    model = ToyEpsModel(3)
    noise = 2 * torch.randn(4, 8, 6, generator=torch.Generator().manual_seed(0))
    states = C.sample_trajectory(model, noise, alpha_bar, torch.Generator().manual_seed(1))
    assert states.shape == (T + 1, 4, 8, 6)
    g, x, theirs = torch.Generator().manual_seed(1), noise, [noise]
    for t in sched.timesteps:
        x = sched.step(model(x, torch.full((4,), int(t))), t, x, generator=g).prev_sample
        theirs.append(x)
    assert torch.allclose(states, torch.stack(theirs), atol=1e-5)


def test_normalisation_and_tokens_round_trip():
    paths, _, _ = demonstrations(64, torch.Generator().manual_seed(0))
    low, high = paths.amin(dim=(0, 1)), paths.amax(dim=(0, 1))
    z = C.normalize(paths, low, high)
    assert float(z.min()) == -1.0 and float(z.max()) == 1.0
    assert torch.allclose(C.unnormalize(z, low, high), paths, atol=1e-6)
    tokens = C.tokenize(z, 4)
    assert tokens.shape == (64, HORIZON // 4, 12)
    assert torch.equal(tokens[:, 1, 3:6], z[:, 5])                     # token 1 holds waypoints 4..7 in order
    assert torch.equal(C.detokenize(tokens, 4), z)


def test_formation_distance_is_the_nearest_rms_distance():
    g = torch.Generator().manual_seed(0)
    states, data = torch.randn(3, 4, 5, 3, generator=g), torch.randn(6, 5, 3, generator=g)
    brute = torch.tensor([[min(float(((s - d) ** 2).sum(-1).mean().sqrt()) for d in data) for s in step]
                          for step in states])
    assert torch.allclose(C.formation_distance(states, data), brute, atol=1e-6)


def test_goal_guidance_interpolates_the_two_predictions():
    from coursekit.assignments.diffusion_transformer.cases import ToyLabelEpsModel
    model = ToyLabelEpsModel(0, num_classes=3, dim=6)
    x, t, goal = torch.randn(5, 8, 6), torch.randint(0, 50, (5,)), torch.tensor([0, 1, 2, 1, 0])
    assert torch.allclose(C.goal_guided_eps(model, x, t, goal, 1.0, 3), model(x, t, goal), atol=1e-6)
    assert torch.allclose(C.goal_guided_eps(model, x, t, goal, 0.0, 3), model(x, t, torch.full_like(goal, 3)), atol=1e-6)


def test_demonstrations_keep_their_promises():
    paths, goal, way = demonstrations(4000, torch.Generator().manual_seed(0))
    assert paths.shape == (4000, HORIZON, 3) and paths.dtype == torch.float32
    assert float(clearance(paths).min()) > 0.0, "a demonstration touches the obstacle"
    assert torch.equal(way_around(paths), way)
    assert float(reach_error(paths, goal).max()) < 0.05
    for k in range(len(GOALS)):                                           # both ways around for every goal
        assert 0.4 < float(way[goal == k].float().mean()) < 0.6
    # the straight line to each goal would hit the obstacle: going round is necessary
    line = paths[:, :1] + torch.linspace(0, 1, 33)[None, :, None] * (paths[:, -1:] - paths[:, :1])
    assert float((clearance(line) < 0).float().mean()) == 1.0


def test_arm_kinematics_reach_every_waypoint():
    paths, _, _ = demonstrations(200, torch.Generator().manual_seed(1))
    points = paths.reshape(-1, 3)
    joints = forward_kinematics(inverse_kinematics(points))
    assert joints.shape == (len(points), 4, 3)
    assert float((joints[:, -1] - points).norm(dim=-1).max()) < 1e-4
