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
