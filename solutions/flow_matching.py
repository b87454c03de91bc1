"""Flow matching and conditional flow matching, reference implementations (assignment 07_flow_matching).

Conventions (see SYLLABUS.md): flow-matching time t lies in [0, 1], t = 0 is noise and t = 1 is
data (Lipman et al. 2023; torchcfm). Times are (B,) float32, one per sample; data are (B, ...)
batch first. A velocity field or model is called as ``v(x (B, ...), t (B,)) -> (B, ...)``.
Losses are means over all entries (as in torchcfm's examples), not sums over coordinates.
References: Lipman et al. 2023 (Flow Matching); Tong et al. 2024 (conditional flow matching,
torchcfm); Liu et al. 2023 (rectified flow); Albergo & Vanden-Eijnden 2023 (stochastic interpolants).
"""
from __future__ import annotations

import torch

from coursekit.validate import (check_flow_times, check_same_shape, check_sigma_min, check_tensor,
                                checked_field)


def per_sample(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Reshape per-sample values v of shape (B,) to (B, 1, ..., 1), so they broadcast over ``like``."""
    return v.reshape(-1, *([1] * (like.ndim - 1)))


def gaussian_path_sample(mu_t: torch.Tensor, sigma_t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """A sample of the Gaussian conditional path p_t(x | x1) = N(mu_t, sigma_t^2 I): x_t = mu_t + sigma_t * eps.

    mu_t: (B, ...) means; sigma_t: (B,) one standard deviation per sample; eps: like mu_t, N(0, I) noise.
    """
    check_tensor("mu_t", mu_t, min_ndim=1, dtype=torch.float32)
    check_tensor("sigma_t", sigma_t, shape=(mu_t.shape[0],), dtype=torch.float32)
    check_same_shape("mu_t", mu_t, "eps", eps)
    ### BEGIN SOLUTION
    return mu_t + per_sample(sigma_t, mu_t) * eps
    ### END SOLUTION


def conditional_vector_field(x: torch.Tensor, mu_t: torch.Tensor, sigma_t: torch.Tensor,
                             d_mu_t: torch.Tensor, d_sigma_t: torch.Tensor) -> torch.Tensor:
    """The field that generates a Gaussian path (Lipman et al. 2023, Theorem 3):

        u_t(x | x1) = sigma_t' / sigma_t * (x - mu_t) + mu_t'.

    x, mu_t, d_mu_t: (B, ...); sigma_t (> 0) and d_sigma_t: (B,); primes are d/dt.
    """
    check_tensor("x", x, min_ndim=1, dtype=torch.float32)
    check_same_shape("x", x, "mu_t", mu_t)
    check_same_shape("x", x, "d_mu_t", d_mu_t)
    check_tensor("sigma_t", sigma_t, shape=(x.shape[0],), dtype=torch.float32)
    check_tensor("d_sigma_t", d_sigma_t, shape=(x.shape[0],), dtype=torch.float32)
    if sigma_t.numel() and float(sigma_t.min()) <= 0:
        raise ValueError(f"sigma_t: expected positive standard deviations, got min {float(sigma_t.min()):.4g}")
    ### BEGIN SOLUTION
    return per_sample(d_sigma_t / sigma_t, x) * (x - mu_t) + d_mu_t
    ### END SOLUTION


def ot_path_sample(x1: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, sigma_min: float = 0.0) -> torch.Tensor:
    """A sample of the OT path (Lipman et al. 2023): mu_t = t x1, sigma_t = 1 - (1 - sigma_min) t.

    x_t = t x1 + (1 - (1 - sigma_min) t) eps: pure noise at t = 0, N(x1, sigma_min^2 I) at t = 1.
    Use ``gaussian_path_sample``. x1, eps: (B, ...); t: (B,) in [0, 1].
    """
    check_tensor("x1", x1, min_ndim=1, dtype=torch.float32)
    check_flow_times("t", t, x1.shape[0])
    check_same_shape("x1", x1, "eps", eps)
    check_sigma_min(sigma_min)
    ### BEGIN SOLUTION
    mu_t = per_sample(t, x1) * x1
    sigma_t = 1 - (1 - sigma_min) * t
    return gaussian_path_sample(mu_t, sigma_t, eps)
    ### END SOLUTION


def ot_conditional_field(x: torch.Tensor, x1: torch.Tensor, t: torch.Tensor, sigma_min: float = 0.0) -> torch.Tensor:
    """The OT path's conditional field in closed form:

        u_t(x | x1) = (x1 - (1 - sigma_min) x) / (1 - (1 - sigma_min) t).

    x, x1: (B, ...); t: (B,) in [0, 1] (t < 1 if sigma_min = 0).
    """
    check_tensor("x", x, min_ndim=1, dtype=torch.float32)
    check_same_shape("x", x, "x1", x1)
    check_flow_times("t", t, x.shape[0])
    check_sigma_min(sigma_min, t)
    ### BEGIN SOLUTION
    return (x1 - (1 - sigma_min) * x) / per_sample(1 - (1 - sigma_min) * t, x)
    ### END SOLUTION


def cfm_loss(model, x1: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, sigma_min: float = 0.0) -> torch.Tensor:
    """The conditional flow matching loss for the OT path, on one batch:

        mean over all entries of (model(x_t, t) - u_t(x_t | x1))^2,  with x_t from ot_path_sample (same arguments).

    At x_t the OT target simplifies to u_t(x_t | x1) = x1 - (1 - sigma_min) eps (no division).
    ``model(x_t, t)`` returns a velocity shaped like x_t. Returns a scalar tensor.
    """
    check_tensor("x1", x1, min_ndim=1, dtype=torch.float32)
    check_flow_times("t", t, x1.shape[0])
    check_same_shape("x1", x1, "eps", eps)
    check_sigma_min(sigma_min)
    model = checked_field(model, "model")
    ### BEGIN SOLUTION
    x_t = ot_path_sample(x1, t, eps, sigma_min)
    target = x1 - (1 - sigma_min) * eps
    return ((model(x_t, t) - target) ** 2).mean()
    ### END SOLUTION


def marginal_vector_field(x: torch.Tensor, t: torch.Tensor, data: torch.Tensor, sigma_min: float = 0.0) -> torch.Tensor:
    """The exact marginal field of the OT path when the data are the N points of ``data`` (equal weights):

        u_t(x) = sum_i w_i(x) u_t(x | x1_i),  w_i(x) = N(x; t x1_i, sigma_t^2 I) / sum_j N(x; t x1_j, sigma_t^2 I),

    the average of the conditional fields weighted by the posterior p(x1_i | x_t = x).
    Use ``ot_conditional_field``. x: (B, ...); t: (B,); data: (N, ...) with x's trailing shape.
    """
    check_tensor("x", x, min_ndim=1, dtype=torch.float32)
    check_flow_times("t", t, x.shape[0])
    check_tensor("data", data, shape=(None, *x.shape[1:]), dtype=torch.float32)
    check_sigma_min(sigma_min, t)
    ### BEGIN SOLUTION
    B, N = x.shape[0], data.shape[0]
    flat_x, flat_data = x.reshape(B, 1, -1), data.reshape(1, N, -1)      # (B, 1, D), (1, N, D)
    sigma_t = 1 - (1 - sigma_min) * t                                    # (B,)
    sq_dist = ((flat_x - t[:, None, None] * flat_data) ** 2).sum(-1)      # (B, N) |x - t x1_i|^2
    weights = torch.softmax(-sq_dist / (2 * sigma_t[:, None] ** 2), dim=1)  # (B, N), rows sum to 1
    fields = ot_conditional_field(x.repeat_interleave(N, dim=0), data.repeat(B, *([1] * (data.ndim - 1))),
                                  t.repeat_interleave(N), sigma_min)    # (B * N, ...): pair (b, i) at b * N + i
    fields = fields.reshape(B, N, -1)
    return (weights[:, :, None] * fields).sum(1).reshape(x.shape)
    ### END SOLUTION


def fm_cfm_gradients(model: torch.nn.Module, data: torch.Tensor, index: torch.Tensor, t: torch.Tensor,
                     eps: torch.Tensor, sigma_min: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of the FM and the CFM losses with respect to the model's parameters, on one batch.

    The batch: x1 = data[index] and x_t from ``ot_path_sample`` (x1, t, eps, sigma_min). Both losses are means
    over all entries of (model(x_t, t) - target)^2; the FM target is the exact marginal field
    ``marginal_vector_field(x_t, t, data, sigma_min)``, the CFM loss is ``cfm_loss``.
    Returns (grad_fm, grad_cfm), each the parameter gradients flattened and concatenated in the
    order of ``model.parameters()``: a (P,) tensor. They agree in expectation (Lipman et al.,
    Theorem 2), and on a finite batch up to sampling noise.
    """
    check_tensor("data", data, min_ndim=2, dtype=torch.float32)
    check_tensor("index", index, ndim=1, dtype=torch.int64)
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= data.shape[0]):
        raise ValueError(f"index: expected row numbers of data in 0..{data.shape[0] - 1}, "
                         f"got min {int(index.min())}, max {int(index.max())}")
    check_flow_times("t", t, index.shape[0])
    check_tensor("eps", eps, shape=(index.shape[0], *data.shape[1:]), dtype=torch.float32)
    check_sigma_min(sigma_min, t)
    params = [p for p in model.parameters() if p.requires_grad]
    x1 = data[index]
    with torch.enable_grad():  # the checks run under torch.no_grad(); gradients need autograd back on
        ### BEGIN SOLUTION
        x_t = ot_path_sample(x1, t, eps, sigma_min)
        fm = ((model(x_t, t) - marginal_vector_field(x_t, t, data, sigma_min)) ** 2).mean()
        cfm = cfm_loss(model, x1, t, eps, sigma_min)
        grad_fm = torch.autograd.grad(fm, params)
        grad_cfm = torch.autograd.grad(cfm, params)
        return torch.cat([g.flatten() for g in grad_fm]), torch.cat([g.flatten() for g in grad_cfm])
        ### END SOLUTION
