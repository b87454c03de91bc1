"""Input validation with messages that say what was expected and what arrived."""
from __future__ import annotations

import torch


class ShapeError(ValueError):
    """A tensor argument has the wrong shape, dtype or type."""


def check_tensor(name: str, value, *, ndim: int | None = None, min_ndim: int | None = None,
                 shape: tuple | None = None, dtype: torch.dtype | tuple | None = None) -> None:
    """Raise a ShapeError naming ``name`` unless ``value`` is a tensor as described.

    ``shape`` may contain ``None`` for "any size" in that position.
    """
    if not isinstance(value, torch.Tensor):
        raise ShapeError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    if ndim is not None and value.ndim != ndim:
        raise ShapeError(f"{name}: expected {ndim} dimensions, got shape {tuple(value.shape)}")
    if min_ndim is not None and value.ndim < min_ndim:
        raise ShapeError(f"{name}: expected at least {min_ndim} dimensions, got shape {tuple(value.shape)}")
    if shape is not None:
        ok = value.ndim == len(shape) and all(s is None or s == v for s, v in zip(shape, value.shape))
        if not ok:
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
            raise ShapeError(f"{name}: expected shape {want}, got {tuple(value.shape)}")
    if dtype is not None:
        allowed = dtype if isinstance(dtype, tuple) else (dtype,)
        if value.dtype not in allowed:
            want = " or ".join(str(d) for d in allowed)
            raise ShapeError(f"{name}: expected dtype {want}, got {value.dtype}")


def check_timesteps(name: str, t, batch: int, T: int) -> None:
    """Integer diffusion times: shape (batch,), values in {0, ..., T-1}."""
    check_tensor(name, t, shape=(batch,), dtype=(torch.int64, torch.int32))
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= T):
        raise ShapeError(f"{name}: expected values in 0..{T - 1} (0-based diffusion time), "
                         f"got min {int(t.min())}, max {int(t.max())}")


def check_same_shape(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ShapeError(f"{name_b}: expected the same shape as {name_a} {tuple(a.shape)}, got {tuple(b.shape)}")


# ---------------------------------------------------------------- continuous (flow-matching) time
def check_flow_times(name: str, t, batch: int) -> None:
    """Flow-matching times: float32 of shape (batch,), values in [0, 1] (t = 0 noise, t = 1 data)."""
    check_tensor(name, t, shape=(batch,), dtype=torch.float32)
    if t.numel() and not bool(torch.isfinite(t).all()):
        raise ShapeError(f"{name}: expected finite times in [0, 1], got nan or inf")
    if t.numel() and (float(t.min()) < 0 or float(t.max()) > 1):
        raise ShapeError(f"{name}: expected flow-matching times in [0, 1] (t = 0 is noise, t = 1 is data), "
                         f"got min {float(t.min()):.4g}, max {float(t.max()):.4g}")


def check_number(name: str, value, *, low: float | None = None, high: float | None = None,
                 high_open: bool = False, positive: bool = False) -> None:
    """A plain number (int or float) in [low, high] (or [low, high) if high_open); > 0 if positive."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    if positive and not value > 0:
        raise ValueError(f"{name}: expected a positive number, got {value}")
    too_high = high is not None and (value >= high if high_open else value > high)
    if (low is not None and value < low) or too_high:
        right = ")" if high_open else "]"
        raise ValueError(f"{name}: expected a number in [{low}, {high}{right}, got {value}")


def checked_velocity(fn, name: str = "field"):
    """Wrap a velocity field or model ``fn(x, t)`` so that a wrong output is reported by name.

    The wrapped call raises a ShapeError unless ``fn`` returns a tensor with the shape of ``x``.
    """
    if not callable(fn):
        raise TypeError(f"{name}: expected a function fn(x, t), got {type(fn).__name__}")

    def call(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = fn(x, t)
        if not isinstance(out, torch.Tensor):
            raise ShapeError(f"{name} returned a {type(out).__name__}; expected a torch.Tensor "
                             f"shaped like its input x, {tuple(x.shape)}")
        if out.shape != x.shape:
            raise ShapeError(f"{name} returned shape {tuple(out.shape)}; expected {tuple(x.shape)}, "
                             f"the shape of its input x (a velocity for every coordinate)")
        return out

    return call


def check_sigma_min(sigma_min, t: torch.Tensor | None = None) -> None:
    """sigma_min of the OT path: a number in [0, 1). If times ``t`` are given and sigma_min = 0, they must
    stay below 1: there sigma_t = 1 - (1 - sigma_min) t = 0 and the conditional field is undefined."""
    check_number("sigma_min", sigma_min, low=0.0, high=1.0, high_open=True)
    if t is not None and sigma_min == 0 and t.numel() and float(t.max()) == 1.0:
        raise ValueError("t: with sigma_min = 0 the OT path has sigma_t = 0 at t = 1, where the "
                         "conditional field is undefined; use times t < 1 or a positive sigma_min")


def check_vp_betas(beta_min, beta_max) -> None:
    """The linear VP schedule beta(s) = beta_min + s (beta_max - beta_min): 0 <= beta_min <= beta_max, beta_max > 0."""
    check_number("beta_min", beta_min, low=0.0)
    check_number("beta_max", beta_max, positive=True)
    if beta_max < beta_min:
        raise ValueError(f"beta_max: expected beta_max >= beta_min = {beta_min}, got {beta_max}")


def check_ve_sigmas(sigma_min, sigma_max) -> None:
    """The geometric VE schedule sigma(s) = sigma_min (sigma_max / sigma_min)^s: 0 < sigma_min < sigma_max."""
    check_number("sigma_min", sigma_min, positive=True)
    check_number("sigma_max", sigma_max, positive=True)
    if sigma_max <= sigma_min:
        raise ValueError(f"sigma_max: expected sigma_max > sigma_min = {sigma_min}, got {sigma_max}")
