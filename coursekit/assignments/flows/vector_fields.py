"""Vector fields for the continuous-normalizing-flow assignment (06_normalizing_flows).

Conventions (SYLLABUS.md): flow-matching time ``t`` lies in [0, 1], ``t = 0`` is noise and
``t = 1`` is data. A *field* is a callable ``v(x, t)`` with ``x`` of shape ``(N, D)`` and ``t``
a Python float, a 0-d tensor, or a tensor of shape ``(N,)`` (one time per sample); it returns
``(N, D)`` in the dtype of ``x``.

What is here:

* fields with closed-form flows: :class:`SpiralField` (rotation plus a time-varying scaling)
  and :class:`LinearField` (``v = A x``), and what they do to a Gaussian;
* :class:`ToyField`, a seeded smooth nonlinear time-dependent field for the checks, and
  :func:`bend_field`, a nonlinear field for the experiment;
* :func:`gaussian_log_prob`.
"""
from __future__ import annotations

import math
import torch


# ---------------------------------------------------------------- helpers
def time_column(t, x: torch.Tensor) -> torch.Tensor:
    """t (a number, a 0-d tensor or an (N,) tensor) as a tensor that broadcasts against x (N, D)."""
    t = torch.as_tensor(t, dtype=x.dtype)
    return t.reshape(-1, 1) if t.ndim == 1 else t


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, cov) for x (N, D), mean (D,), cov (D, D). Returns (N,) in the dtype of x.

    Computed in float64 and cast back, so it can serve as a closed-form reference.
    """
    x64, m64, c64 = x.double(), mean.double(), cov.double()
    L = torch.linalg.cholesky(c64)
    z = torch.linalg.solve_triangular(L, (x64 - m64).T, upper=False).T      # (N, D) whitened
    D = x.shape[1]
    log_det = 2 * torch.log(torch.diagonal(L)).sum()
    return (-0.5 * (z**2).sum(1) - 0.5 * log_det - 0.5 * D * math.log(2 * math.pi)).to(x.dtype)


def standard_normal_log_prob(x: torch.Tensor) -> torch.Tensor:
    """log N(x; 0, I) for x (N, D). Returns (N,)."""
    return -0.5 * (x**2).sum(1) - 0.5 * x.shape[1] * math.log(2 * math.pi)


# ---------------------------------------------------------------- fields with closed-form flows
class SpiralField:
    """v(x, t) = a(t) x + omega J x in 2-D, with a(t) = a0 + a1 t and J the 90-degree rotation.

    The two parts commute, so the flow from time s to t is the matrix
    M(s, t) = exp(A(t) - A(s)) R(omega (t - s)), with A(t) = a0 t + a1 t^2 / 2 and R a rotation.
    The divergence is 2 a(t), the same everywhere, so log p_t(x_t) = log p_0(x_0) - 2 A(t), and a
    Gaussian N(m, S) at t = 0 becomes N(M m, M S M^T).
    """

    def __init__(self, a0: float = 0.6, a1: float = -1.6, omega: float = 2.5):
        self.a0, self.a1, self.omega = float(a0), float(a1), float(omega)

    def __repr__(self) -> str:
        return f"SpiralField(a0={self.a0}, a1={self.a1}, omega={self.omega})"

    def rate(self, t):
        """a(t) = a0 + a1 t."""
        return self.a0 + self.a1 * t

    def log_scale(self, t: float) -> float:
        """A(t) = integral_0^t a(s) ds = a0 t + a1 t^2 / 2."""
        return self.a0 * t + 0.5 * self.a1 * t * t

    def __call__(self, x: torch.Tensor, t) -> torch.Tensor:
        a = self.rate(time_column(t, x))
        rotated = torch.stack([-x[:, 1], x[:, 0]], dim=1)  # J x
        return a * x + self.omega * rotated

    def divergence(self, t) -> float:
        return 2 * self.rate(t)

    def flow_matrix(self, t: float, s: float = 0.0) -> torch.Tensor:
        """The (2, 2) float64 matrix M with x_t = M x_s."""
        scale = math.exp(self.log_scale(t) - self.log_scale(s))
        angle = self.omega * (t - s)
        c, si = math.cos(angle), math.sin(angle)
        return scale * torch.tensor([[c, -si], [si, c]], dtype=torch.float64)

    def flow(self, x0: torch.Tensor, t: float, s: float = 0.0) -> torch.Tensor:
        """The exact x_t for x_s = x0 (N, 2); computed in float64, returned in x0's dtype."""
        return (x0.double() @ self.flow_matrix(t, s).T).to(x0.dtype)

    def log_det(self, t: float, s: float = 0.0) -> float:
        """log |det M(s, t)| = integral_s^t div v = 2 (A(t) - A(s))."""
        return 2 * (self.log_scale(t) - self.log_scale(s))


class LinearField:
    """v(x, t) = A x for a constant (D, D) matrix A: the flow is x_t = expm(t A) x_0 and the
    divergence is trace(A), so log p_t(x_t) = log p_0(x_0) - t trace(A)."""

    def __init__(self, A):
        self.A = torch.as_tensor(A, dtype=torch.float64)

    def __call__(self, x: torch.Tensor, t) -> torch.Tensor:
        return x @ self.A.to(x.dtype).T

    def flow_matrix(self, t: float, s: float = 0.0) -> torch.Tensor:
        return torch.linalg.matrix_exp((t - s) * self.A)

    def flow(self, x0: torch.Tensor, t: float, s: float = 0.0) -> torch.Tensor:
        return (x0.double() @ self.flow_matrix(t, s).T).to(x0.dtype)

    def log_det(self, t: float, s: float = 0.0) -> float:
        return float((t - s) * torch.trace(self.A))


def pushed_gaussian(field, mean0: torch.Tensor, cov0: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance at time t of N(mean0, cov0) at t = 0 moved by a linear field (float64)."""
    M = field.flow_matrix(t)
    return M @ mean0.double(), M @ cov0.double() @ M.T


# ---------------------------------------------------------------- nonlinear fields
class ToyField:
    """A fixed, smooth, nonlinear, time-dependent field with seeded weights (for the checks).

    v(x, t) = tanh(x W1^T + b1 + c1 t) W2^T + (b2 + c2 t), with hidden width 8. Its Jacobian
    is full (off-diagonal entries are not zero) and it changes markedly with t, so mistakes in
    the time grid or in the trace show up.
    """

    def __init__(self, seed: int, dim: int = 2, hidden: int = 8):
        g = torch.Generator().manual_seed(20_000 + seed)
        self.W1 = torch.randn(hidden, dim, generator=g)
        self.b1 = 0.5 * torch.randn(hidden, generator=g)
        self.c1 = 2.0 * torch.randn(hidden, generator=g)
        self.W2 = torch.randn(dim, hidden, generator=g) / math.sqrt(hidden)
        self.b2 = 0.3 * torch.randn(dim, generator=g)
        self.c2 = 0.6 * torch.randn(dim, generator=g)
        self.seed, self.dim = seed, dim

    def __repr__(self) -> str:
        return f"ToyField(seed={self.seed}, dim={self.dim})"

    def __call__(self, x: torch.Tensor, t) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"ToyField: expected x of shape (N, {self.dim}), got {tuple(x.shape)}")
        tc = time_column(t, x)
        dt = x.dtype
        h = torch.tanh(x @ self.W1.to(dt).T + self.b1.to(dt) + tc * self.c1.to(dt))
        return h @ self.W2.to(dt).T + self.b2.to(dt) + tc * self.c2.to(dt)


def bend_field(x: torch.Tensor, t) -> torch.Tensor:
    """A nonlinear 2-D field that folds a Gaussian into two curved lobes.

    v1 = 1.5 tanh(x2) (1 - t) + 0.6 tanh(2 x1),  v2 = 1.2 sin(x1) t - 0.4 x2.
    Its divergence, 1.2 / cosh(2 x1)^2 - 0.4, changes sign: mass spreads out near x1 = 0 and
    piles up away from it.
    """
    tc = torch.as_tensor(t, dtype=x.dtype)  # () or (N,): both broadcast against x1 (N,)
    x1, x2 = x[:, 0], x[:, 1]
    v1 = 1.5 * torch.tanh(x2) * (1 - tc) + 0.6 * torch.tanh(2 * x1)
    v2 = 1.2 * torch.sin(x1) * tc - 0.4 * x2
    return torch.stack([v1, v2], dim=1)
