"""Cross-checks of the 03_diffusion_policy pieces against independent references.

- the sinusoidal embedding (coursekit.kit.diffusion) against diffusers' get_timestep_embedding, and against
  Diffusion Policy's SinusoidalPosEmb formula written out; its order [sin, cos] is pinned;
- the training windows against a transcription of Diffusion Policy's create_indices / sample_sequence
  (buffer ranges plus padding offsets, a different algorithm from index clamping) and a hand-made example;
- FiLM against an explicit loop over batch, channel and time;
- Conv1dBlock against diffusers' Conv1dBlock, and the conditional residual block against diffusers'
  ResidualTemporalBlock1D (Janner et al.'s block: additive conditioning), which it must equal when the
  FiLM scale is held at 1;
- the DDIM sampler (coursekit.kit.diffusion) against diffusers' DDIMScheduler with clip_sample=True;
- the point-robot environment against hand-computed moves, and receding-horizon execution against an
  explicit trace of which chunk entries are executed.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler
from diffusers.models.embeddings import get_timestep_embedding
from diffusers.models.resnet import Conv1dBlock as DiffusersConv1dBlock
from diffusers.models.resnet import ResidualTemporalBlock1D

from coursekit.assignments.diffusion_policy import point_robot as env
from coursekit.kit.diffusion import cosine_alpha_bar, ddim_sample, ddim_timesteps, sinusoidal_embedding
from solutions.diffusion_policy import (Conv1dBlock, ConditionalResidualBlock1D, film, make_windows,
                                        receding_horizon)

ATOL = 1e-5


def close(actual, expected, atol=ATOL):
    torch.testing.assert_close(actual, expected, atol=atol, rtol=0)


# ----------------------------------------------------------------------------- embedding
@pytest.mark.parametrize("dim", [4, 16, 64, 256])
def test_sinusoidal_embedding_is_diffusers_with_sin_first_and_shift_one(dim):
    t = torch.tensor([0, 1, 7, 50, 99, 999])
    close(sinusoidal_embedding(t, dim), get_timestep_embedding(t, dim, flip_sin_to_cos=False, downscale_freq_shift=1))


def test_sinusoidal_embedding_is_diffusion_policys_formula():
    # diffusion_policy/model/diffusion/positional_embedding.py, written out
    t, dim = torch.tensor([0.0, 3.0, 42.0]), 32
    half = dim // 2
    emb = math.log(10000) / (half - 1)
    emb = torch.exp(torch.arange(half) * -emb)
    emb = t[:, None] * emb[None, :]
    close(sinusoidal_embedding(t, dim), torch.cat((emb.sin(), emb.cos()), dim=-1))


def test_sinusoidal_embedding_order_is_sin_then_cos():
    emb = sinusoidal_embedding(torch.tensor([0.0]), 8)
    assert emb[0, :4].tolist() == [0.0] * 4 and emb[0, 4:].tolist() == [1.0] * 4   # sin(0) = 0 first
    dit_order = get_timestep_embedding(torch.tensor([5.0]), 8, flip_sin_to_cos=True, downscale_freq_shift=1)
    assert not torch.allclose(sinusoidal_embedding(torch.tensor([5.0]), 8), dit_order)


# ----------------------------------------------------------------------------- windows
def dp_sequence_sampler(obs, actions, episode_ends, To, Tp, Ta):
    """Diffusion Policy's create_indices + SequenceSampler.sample_sequence, in numpy (pad_before = To - 1,
    pad_after = Ta - 1, sequence_length = Tp), then obs[:To] of every sequence."""
    obs, actions, episode_ends = obs.numpy(), actions.numpy(), episode_ends.numpy()
    pad_before, pad_after = min(max(To - 1, 0), Tp - 1), min(max(Ta - 1, 0), Tp - 1)
    indices = []
    for i in range(len(episode_ends)):
        start_idx = 0 if i == 0 else episode_ends[i - 1]
        episode_length = episode_ends[i] - start_idx
        for idx in range(-pad_before, episode_length - Tp + pad_after + 1):
            buffer_start = max(idx, 0) + start_idx
            buffer_end = min(idx + Tp, episode_length) + start_idx
            start_offset = buffer_start - (idx + start_idx)
            end_offset = (idx + Tp + start_idx) - buffer_end
            indices.append((buffer_start, buffer_end, start_offset, Tp - end_offset))
    out_obs, out_act = [], []
    for buffer_start, buffer_end, sample_start, sample_end in indices:
        seqs = []
        for arr in (obs, actions):
            sample = arr[buffer_start:buffer_end]
            data = np.zeros((Tp,) + arr.shape[1:], dtype=arr.dtype)
            data[:sample_start] = sample[0]
            data[sample_end:] = sample[-1]
            data[sample_start:sample_end] = sample
            seqs.append(data)
        out_obs.append(seqs[0][:To])
        out_act.append(seqs[1])
    return torch.from_numpy(np.stack(out_obs)), torch.from_numpy(np.stack(out_act))


@pytest.mark.parametrize("To,Tp,Ta", [(2, 16, 8), (1, 8, 4), (3, 10, 1), (2, 6, 5), (4, 12, 9)])
def test_windows_match_diffusion_policys_sequence_sampler(To, Tp, Ta):
    g = torch.Generator().manual_seed(To * 100 + Tp * 10 + Ta)
    lengths = torch.randint(Tp - Ta - To + 3, 3 * Tp, (6,), generator=g)          # some shorter than Tp
    ends = lengths.cumsum(0)
    obs, actions = torch.randn(int(ends[-1]), 3, generator=g), torch.randn(int(ends[-1]), 2, generator=g)
    got_obs, got_act = make_windows(obs, actions, ends, To, Tp, Ta)
    want_obs, want_act = dp_sequence_sampler(obs, actions, ends, To, Tp, Ta)
    assert torch.equal(got_obs, want_obs) and torch.equal(got_act, want_act)


def test_windows_on_a_hand_made_example():
    obs = torch.tensor([[0.0], [1.0], [2.0], [3.0], [100.0], [101.0], [102.0]])
    actions = obs + 10
    o, a = make_windows(obs, actions, torch.tensor([4, 7]), To=2, Tp=4, Ta=2)
    assert o[:, :, 0].tolist() == [[0, 0], [0, 1], [1, 2], [100, 100], [100, 101]]
    assert a[:, :, 0].tolist() == [[10, 10, 11, 12], [10, 11, 12, 13], [11, 12, 13, 13],
                                   [110, 110, 111, 112], [110, 111, 112, 112]]


def test_windows_reject_bad_episode_ends_and_horizons():
    obs, actions = torch.zeros(5, 2), torch.zeros(5, 2)
    with pytest.raises(ValueError, match=r"episode_ends: .*last entry is the number of rows \(5\)"):
        make_windows(obs, actions, torch.tensor([2, 4]), 2, 4, 2)
    with pytest.raises(ValueError, match=r"Ta <= Tp - To \+ 1 = 3"):
        make_windows(obs, actions, torch.tensor([5]), 2, 4, 4)
    with pytest.raises(ValueError, match=r"actions: expected shape \(5, \*\)"):
        make_windows(obs, actions[:4], torch.tensor([5]), 2, 4, 2)


# ----------------------------------------------------------------------------- FiLM and blocks
def test_film_matches_an_explicit_per_channel_loop():
    g = torch.Generator().manual_seed(0)
    B, C, T, D = 3, 5, 4, 6
    h, cond = torch.randn(B, C, T, generator=g), torch.randn(B, D, generator=g)
    encoder = torch.nn.Linear(D, 2 * C)
    with torch.no_grad():
        out = film(h, cond, encoder)
        embed = encoder(cond)
    want = torch.empty(B, C, T)
    for b in range(B):
        for c in range(C):
            scale, bias = embed[b, c], embed[b, C + c]
            for tau in range(T):
                want[b, c, tau] = scale * h[b, c, tau] + bias
    close(out, want)


def test_film_rejects_a_wrong_encoder_output():
    with pytest.raises(ValueError, match=r"cond_encoder\(cond\): expected shape \(2, 8\), got \(2, 6\)"):
        film(torch.zeros(2, 4, 3), torch.zeros(2, 5), torch.nn.Linear(5, 6))


def test_conv1d_block_equals_diffusers():
    torch.manual_seed(0)
    ours, theirs = Conv1dBlock(3, 8, 5, n_groups=4), DiffusersConv1dBlock(3, 8, 5, n_groups=4)
    with torch.no_grad():
        theirs.conv1d.load_state_dict(ours.block[0].state_dict())
        theirs.group_norm.weight.normal_(), theirs.group_norm.bias.normal_()
        ours.block[1].load_state_dict(theirs.group_norm.state_dict())
        x = torch.randn(2, 3, 11)
        close(ours(x), theirs(x))


@pytest.mark.parametrize("c_in,c_out", [(3, 8), (8, 8)])
def test_residual_block_with_unit_scale_is_diffusers_residual_temporal_block(c_in, c_out):
    """FiLM with scale held at 1 is additive conditioning: Janner et al.'s block (diffusers)."""
    torch.manual_seed(1)
    cond_dim, k = 6, 5
    ours = ConditionalResidualBlock1D(c_in, c_out, cond_dim, kernel_size=k, n_groups=8)
    theirs = ResidualTemporalBlock1D(c_in, c_out, cond_dim, kernel_size=k)
    with torch.no_grad():
        for p in theirs.parameters():
            p.normal_(0, 0.3)
        for ours_block, their_block in ((ours.blocks[0], theirs.conv_in), (ours.blocks[1], theirs.conv_out)):
            ours_block.block[0].load_state_dict(their_block.conv1d.state_dict())
            ours_block.block[1].load_state_dict(their_block.group_norm.state_dict())
        if c_in != c_out:
            ours.residual_conv.load_state_dict(theirs.residual_conv.state_dict())
        linear = ours.cond_encoder[1]
        linear.weight.zero_()
        linear.bias[:c_out] = 1.0                                     # scale = 1
        linear.weight[c_out:] = theirs.time_emb.weight                 # bias = diffusers' time embedding
        linear.bias[c_out:] = theirs.time_emb.bias
        x, cond = torch.randn(3, c_in, 16), torch.randn(3, cond_dim)
        close(ours(x, cond), theirs(x, cond))


def test_residual_block_names_the_expected_input_shape():
    block = ConditionalResidualBlock1D(4, 8, 3)
    with pytest.raises(ValueError, match=r"x: expected shape \(\*, 4, \*\), got \(2, 3, 5\)"):
        block(torch.zeros(2, 3, 5), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"cond: expected shape \(2, 3\), got \(2, 4\)"):
        block(torch.zeros(2, 4, 5), torch.zeros(2, 4))


# ----------------------------------------------------------------------------- DDIM
@pytest.mark.parametrize("prediction", ["epsilon", "sample"])
def test_ddim_sampler_matches_diffusers_with_clipping(prediction):
    T, n = 100, 10
    alpha_bar = cosine_alpha_bar(T)
    scheduler = DDIMScheduler(num_train_timesteps=T, beta_schedule="squaredcos_cap_v2", clip_sample=True,
                              set_alpha_to_one=True, steps_offset=0, prediction_type=prediction,
                              timestep_spacing="leading")
    close(scheduler.alphas_cumprod.float(), alpha_bar)
    scheduler.set_timesteps(n)
    assert scheduler.timesteps.tolist() == ddim_timesteps(T, n)

    def denoiser(x, t):                                             # large outputs, so clipping happens
        return 1.8 * torch.tanh(1.5 * x + 0.01 * t.float().reshape(-1, 1, 1))

    shape = (4, 16, 2)
    ours = ddim_sample(denoiser, shape, alpha_bar, n, torch.Generator().manual_seed(0), prediction=prediction)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    for t in scheduler.timesteps:
        x = scheduler.step(denoiser(x, torch.full((shape[0],), int(t))), int(t), x, eta=0.0).prev_sample
    close(ours, x, atol=1e-4)


# ----------------------------------------------------------------------------- environment and execution
def test_step_moves_at_most_max_step_and_blocks_collisions():
    pos = torch.tensor([[50.0, 10.0], [10.0, 10.0], [50.0, 22.0]])
    action = torch.tensor([[50.0, 12.0], [20.0, 10.0], [50.0, 30.0]])
    new = env.step(pos, action)
    close(new[0], torch.tensor([50.0, 12.0]))                      # within reach: exactly there
    close(new[1], torch.tensor([10.0 + env.MAX_STEP, 10.0]))       # clipped to MAX_STEP
    close(new[2], pos[2])                                          # y = 26 would enter the obstacle (bottom 25)
    out = env.outcome(torch.stack([pos, new], dim=1), action[:, None])
    assert out["collided"].tolist() == [False, False, True]


def test_expert_demonstrations_replay_to_the_goal_without_collisions():
    demos = env.expert_demos(20, torch.Generator().manual_seed(0))
    for e in range(20):
        obs, actions = demos.episode(e)
        observations, executed = receding_horizon(lambda h, a=actions: a[None].expand(len(h), -1, -1).clone(),
                                                  env.step, obs[:1], To=1, Ta=len(actions), num_steps=len(actions))
        close(observations[0, :-1], obs)
        r = env.summary(observations, executed)
        assert r["success"] == 1.0 and r["collision"] == 0.0
        assert r["left" if demos.sides[e] < 0 else "right"] == 1.0


def test_receding_horizon_executes_chunk_indices_to_minus_1_onwards_and_replans():
    To, Ta, Tp = 2, 3, 6
    calls = []

    def policy(history):                                            # chunk entry k = 100 * plan + k
        calls.append(history.clone())
        plan = len(calls) - 1
        return (100.0 * plan + torch.arange(Tp, dtype=torch.float32)).reshape(1, Tp, 1).expand(len(history), Tp, 1)

    observations, actions = receding_horizon(policy, lambda o, a: o + 1, torch.zeros(1, 1), To, Ta, num_steps=7)
    assert actions[0, :, 0].tolist() == [1, 2, 3, 101, 102, 103, 201]
    assert observations[0, :, 0].tolist() == list(range(8))
    assert [c[0, :, 0].tolist() for c in calls] == [[0, 0], [2, 3], [5, 6]]   # padded start, then the real history
