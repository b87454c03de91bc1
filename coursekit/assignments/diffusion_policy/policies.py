"""The action network and the two policies of 03_diffusion_policy (non-graded wiring).

``ActionConvNet`` is a CPU-sized cousin of Diffusion Policy's ``ConditionalUnet1D``: a flat stack of
conditional residual blocks over the Tp steps of an action chunk (no down/up-sampling: Tp = 16 is
short, and three blocks of two kernel-5 convolutions already see the whole chunk). The residual
block class is an argument, so the notebook builds it from the learner's
``ConditionalResidualBlock1D``.

``DiffusionPolicy`` samples chunks with DDIM; ``RegressionPolicy`` runs the same network once and
takes its output as the chunk (a plain MSE policy). Both map raw positions to raw positions:
history (B, To, 2) -> chunk (B, Tp, 2), normalising on the way in and out.
"""
from __future__ import annotations

import torch
from torch import nn

from coursekit.kit.diffusion import ddim_sample, denoising_loss, sinusoidal_embedding
from coursekit.assignments.diffusion_policy.point_robot import Normalizer
from coursekit.validate import check_tensor

CONDITIONING = ("film", "concat")


class ActionConvNet(nn.Module):
    """eps_theta(x, t, obs): noisy normalised chunk x (B, Tp, D), diffusion step t (B,), observation
    history obs (B, To, obs_dim) -> (B, Tp, D).

    The global condition (Chi et al.) is cond = [step_encoder(sinusoidal(t)), obs.flatten(1)], of size
    cond_dim = step_dim + To * obs_dim. With conditioning="film" every block receives cond through
    FiLM (Diffusion Policy). With conditioning="concat", cond is repeated over time and concatenated to
    the input channels once; the blocks then receive a constant zero condition, so their FiLM is only
    a learned per-channel affine map (the usual "input concatenation" baseline).
    """

    def __init__(self, block, action_dim: int = 2, obs_dim: int = 2, To: int = 2, horizon: int = 16,
                 channels: int = 32, depth: int = 3, step_dim: int = 32, kernel_size: int = 5,
                 n_groups: int = 8, conditioning: str = "film"):
        super().__init__()
        if conditioning not in CONDITIONING:
            raise ValueError(f"conditioning: expected one of {CONDITIONING}, got {conditioning!r}")
        self.action_dim, self.obs_dim, self.To, self.horizon = action_dim, obs_dim, To, horizon
        self.step_dim, self.conditioning = step_dim, conditioning
        self.step_encoder = nn.Sequential(nn.Linear(step_dim, 2 * step_dim), nn.Mish(),
                                          nn.Linear(2 * step_dim, step_dim))
        cond_dim = step_dim + To * obs_dim
        first_in = action_dim + (cond_dim if conditioning == "concat" else 0)
        block_cond = cond_dim if conditioning == "film" else 1
        self.blocks = nn.ModuleList([
            block(first_in if i == 0 else channels, channels, block_cond, kernel_size=kernel_size, n_groups=n_groups)
            for i in range(depth)])
        self.final_conv = nn.Conv1d(channels, action_dim, 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        check_tensor("x", x, shape=(None, self.horizon, self.action_dim))
        check_tensor("t", t, shape=(x.shape[0],))
        check_tensor("obs", obs, shape=(x.shape[0], self.To, self.obs_dim))
        cond = torch.cat([self.step_encoder(sinusoidal_embedding(t, self.step_dim)), obs.flatten(1)], dim=1)
        h = x.transpose(1, 2)                                                     # (B, D, Tp): channels first
        if self.conditioning == "concat":
            h = torch.cat([h, cond[:, :, None].expand(-1, -1, h.shape[-1])], dim=1)  # (B, D + cond_dim, Tp)
            cond = cond.new_zeros(cond.shape[0], 1)                               # blocks: no condition
        for block in self.blocks:
            h = block(h, cond)                                                    # (B, C, Tp)
        return self.final_conv(h).transpose(1, 2)                                 # (B, Tp, D)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


PREDICTION = "sample"   # the networks predict the clean chunk; see diffusion_loss


def diffusion_loss(net: ActionConvNet, obs: torch.Tensor, actions: torch.Tensor, alpha_bar: torch.Tensor,
                   generator: torch.Generator) -> torch.Tensor:
    """Denoising loss on normalised windows: obs (B, To, obs_dim), actions (B, Tp, D).

    The net predicts the clean chunk (``prediction_type="sample"``, an option of Diffusion Policy's
    code) rather than the noise: with T = 100 steps and a few hundred training steps on a CPU, epsilon
    prediction leaves large errors at the noisiest steps, where x0 = (x - sqrt(1 - ab) eps) / sqrt(ab)
    divides by a tiny sqrt(ab); predicting x0 directly learns the two modes much sooner.
    """
    return denoising_loss(lambda x, t: net(x, t, obs), actions, alpha_bar, generator, prediction=PREDICTION)


def regression_loss(net: ActionConvNet, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the chunk predicted from obs alone (input x = 0, step t = 0)."""
    zeros = torch.zeros_like(actions)
    return ((net(zeros, torch.zeros(len(actions), dtype=torch.long), obs) - actions) ** 2).mean()


class DiffusionPolicy:
    """history (B, To, 2) raw positions -> chunk (B, Tp, 2) raw position commands, by DDIM.

    Draws its starting noise from its own generator (seeded once), so a run of rollouts is
    reproducible. ``num_steps`` DDIM steps over the net's T training steps.
    """

    def __init__(self, net: ActionConvNet, normalizer: Normalizer, alpha_bar: torch.Tensor, num_steps: int = 10,
                 seed: int = 0):
        self.net, self.normalizer, self.alpha_bar, self.num_steps = net, normalizer, alpha_bar, num_steps
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, history: torch.Tensor) -> torch.Tensor:
        obs = self.normalizer.normalize(history)
        with torch.no_grad():
            x = ddim_sample(lambda x, t: self.net(x, t, obs), (len(obs), self.net.horizon, self.net.action_dim),
                            self.alpha_bar, self.num_steps, self.generator, prediction=PREDICTION)
        return self.normalizer.unnormalize(x)


class RegressionPolicy:
    """history (B, To, 2) -> chunk (B, Tp, 2): one deterministic pass of a regression-trained net."""

    def __init__(self, net: ActionConvNet, normalizer: Normalizer):
        self.net, self.normalizer = net, normalizer

    def __call__(self, history: torch.Tensor) -> torch.Tensor:
        obs = self.normalizer.normalize(history)
        B = len(obs)
        with torch.no_grad():
            x = self.net(torch.zeros(B, self.net.horizon, self.net.action_dim), torch.zeros(B, dtype=torch.long), obs)
        return self.normalizer.unnormalize(x)
