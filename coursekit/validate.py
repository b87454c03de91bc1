"""The course's one vocabulary for checking arguments: every message says what was expected and what arrived.

Reference solutions, the given notebook code, the shared kit and the widgets all check their inputs
with these functions, so the same mistake gets the same words everywhere. Errors:

* :class:`ShapeError` (a ``ValueError``): a tensor (or a time) has the wrong type, shape, dtype or
  values;
* ``TypeError``: a plain argument has the wrong type (a float where a count belongs, a non-callable);
* ``ValueError``: a plain number is out of range.

Sections: tensors; counts and numbers; time (discrete diffusion time, continuous flow time);
functions passed in (fields, policies); model sizes.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch

FLOAT_DTYPES = (torch.float32, torch.float64)


class ShapeError(ValueError):
    """A tensor argument (or a time) has the wrong type, shape, dtype or values."""


# ---------------------------------------------------------------- tensors
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


def check_same_shape(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ShapeError(f"{name_b}: expected the same shape as {name_a} {tuple(a.shape)}, got {tuple(b.shape)}")


def check_points(name: str, x) -> None:
    """A batch of points: a float32 or float64 tensor of shape (N, D) with N, D >= 1."""
    check_tensor(name, x, ndim=2, dtype=FLOAT_DTYPES)
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ShapeError(f"{name}: expected shape (N, D) with N, D >= 1, got {tuple(x.shape)}")


def check_episode_ends(episode_ends, num_rows: int) -> None:
    """Cumulative episode ends: a 1-D int64 tensor, strictly increasing, the last equal to num_rows."""
    check_tensor("episode_ends", episode_ends, ndim=1, dtype=torch.int64)
    if len(episode_ends) == 0 or int(episode_ends[-1]) != num_rows:
        last = int(episode_ends[-1]) if len(episode_ends) else "nothing"
        raise ShapeError(f"episode_ends: expected cumulative episode ends whose last entry is the number of rows "
                         f"({num_rows}), got {last}")
    steps = torch.diff(torch.cat([torch.zeros(1, dtype=torch.int64), episode_ends]))
    if bool((steps <= 0).any()):
        raise ShapeError(f"episode_ends: expected strictly increasing positive ends (no empty episode), "
                         f"got {episode_ends.tolist()}")


# ---------------------------------------------------------------- counts and numbers
def check_count(name: str, value, *, minimum: int = 0, unit: str = "items") -> None:
    """A count (of steps, tokens, samples): a plain int >= minimum. TypeError for anything but an int
    (bools and floats included), ValueError when too small."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an integer number of {unit}, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected a number of {unit} >= {minimum}, got {value}")


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


def check_horizons(To: int, Tp: int, Ta: int) -> None:
    """Observation, prediction and action horizons: To >= 1, Ta >= 1 and To - 1 + Ta <= Tp.

    The chunk predicted at time t covers steps t - To + 1 .. t - To + Tp; the executed actions
    t .. t + Ta - 1 (chunk indices To - 1 .. To + Ta - 2) must lie inside it.
    """
    for name, value in (("To", To), ("Tp", Tp), ("Ta", Ta)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    if To - 1 + Ta > Tp:
        raise ShapeError(f"Ta: the executed actions (chunk indices To-1 .. To+Ta-2 = {To - 1} .. {To + Ta - 2}) "
                         f"must fit in the predicted chunk of Tp = {Tp} steps; expected Ta <= Tp - To + 1 = "
                         f"{Tp - To + 1}, got Ta = {Ta}")


# ---------------------------------------------------------------- time
def check_timesteps(name: str, t, batch: int, T: int) -> None:
    """Integer diffusion times: shape (batch,), values in {0, ..., T-1}."""
    check_tensor(name, t, shape=(batch,), dtype=(torch.int64, torch.int32))
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= T):
        raise ShapeError(f"{name}: expected values in 0..{T - 1} (0-based diffusion time), "
                         f"got min {int(t.min())}, max {int(t.max())}")


TIME_CONVENTIONS = {  # name -> (how messages call such times, which end is which)
    "flow": ("flow-matching", "t = 0 is noise, t = 1 is data"),
    "openpi": ("openpi", "t = 1 is noise, t = 0 is data"),
}


def check_flow_times(name: str, t, batch: int | None = None, *, scalar: bool = False,
                     convention: str = "flow") -> None:
    """Continuous times in [0, 1]; ``convention`` says which end is noise (see TIME_CONVENTIONS).

    By default ``t`` is one time per sample: a float32 tensor of shape (batch,). With ``scalar=True``
    it may also be one time for every sample, a Python number or a 0-d float tensor, and float64
    tensors are accepted too (ODE solvers work in the dtype of their points); ``batch=None`` then
    allows only that one time. Every problem raises a ShapeError naming ``name``.
    """
    label, meaning = TIME_CONVENTIONS[convention]
    if not scalar:
        check_tensor(name, t, shape=(batch,), dtype=torch.float32)
    elif isinstance(t, bool) or not isinstance(t, (int, float, torch.Tensor)):
        raise ShapeError(f"{name}: expected a float in [0, 1], got {type(t).__name__}")
    elif isinstance(t, torch.Tensor):
        if t.dtype not in FLOAT_DTYPES:
            raise ShapeError(f"{name}: expected a float tensor, got dtype {t.dtype}")
        if t.ndim > 1 or (t.ndim == 1 and t.shape[0] != batch):
            want = "a float or a tensor of shape ()" + (f" or ({batch},), one time per sample" if batch else "")
            raise ShapeError(f"{name}: expected {want}; got shape {tuple(t.shape)}")
    values = torch.as_tensor(t, dtype=torch.float64).reshape(-1)
    if values.numel() == 0:
        if scalar:
            raise ShapeError(f"{name}: expected at least one time, got an empty tensor")
        return
    one = isinstance(t, (int, float)) or t.ndim == 0
    if not bool(torch.isfinite(values).all()):
        raise ShapeError(f"{name}: expected {label} time{'' if one else 's'} in [0, 1] ({meaning}), got nan or inf")
    lo, hi = float(values.min()), float(values.max())
    if lo < 0 or hi > 1:
        got = f"{lo:.4g}" if one else f"min {lo:.4g}, max {hi:.4g}"
        raise ShapeError(f"{name}: expected {label} time{'' if one else 's'} in [0, 1] ({meaning}), got {got}")


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


# ---------------------------------------------------------------- functions passed in
class CheckedField:
    """A field wrapped so that every call checks what it returns (see :func:`checked_field`)."""

    def __init__(self, v: Callable, name: str):
        self.v, self.name = v, name

    def __call__(self, x: torch.Tensor, t) -> torch.Tensor:
        out = self.v(x, t)
        if not isinstance(out, torch.Tensor):
            raise ShapeError(f"{self.name} returned a {type(out).__name__}; expected a torch.Tensor "
                             f"shaped like its input x, {tuple(x.shape)}")
        if out.shape != x.shape:
            raise ShapeError(f"{self.name} returned shape {tuple(out.shape)}; expected {tuple(x.shape)}, "
                             f"the shape of its input x (a velocity for every coordinate)")
        if out.dtype != x.dtype:
            raise ShapeError(f"{self.name} returned dtype {out.dtype}; expected {x.dtype}, the dtype of x")
        if not bool(torch.isfinite(out).all()):
            raise ValueError(f"{self.name} returned non-finite values (nan or inf) at t = {t}")
        return out


def checked_field(v: Callable, name: str = "v") -> CheckedField:
    """A velocity field or model ``v(x, t)`` wrapped so that a wrong output (not a tensor, not the
    shape or dtype of ``x``, nan or inf) raises an error naming ``name``. Wrapping twice is a no-op."""
    if isinstance(v, CheckedField):
        return v
    if not callable(v):
        raise TypeError(f"{name}: expected a vector field v(x, t), got {type(v).__name__}")
    return CheckedField(v, name)



def checked_integration(v, x0, num_steps, t0, t1) -> tuple[CheckedField, float, float]:
    """The arguments every ODE integrator of the course takes, checked at once: points ``x0``
    (N, D), scalar flow times ``t0`` and ``t1``, at least one step. Returns ``(v checked, t0, t1)``
    with the times as Python floats."""
    check_points("x0", x0)
    check_flow_times("t0", t0, scalar=True)
    check_flow_times("t1", t1, scalar=True)
    check_count("num_steps", num_steps, minimum=1, unit="steps")
    return checked_field(v, "v"), float(t0), float(t1)

def checked_policy(policy, To: int, Ta: int):
    """Wrap a chunking policy so that a wrong call or a wrong chunk is reported by name.

    The wrapped policy must be called with a history (B, To, obs_dim) and must return a float32
    chunk (B, Tp, act_dim) long enough to execute Ta actions from index To - 1 (Tp >= To - 1 + Ta).
    """
    if not callable(policy):
        raise TypeError(f"policy: expected a function history (B, To, obs_dim) -> chunk (B, Tp, act_dim), "
                        f"got {type(policy).__name__}")

    def call(history: torch.Tensor) -> torch.Tensor:
        if not isinstance(history, torch.Tensor) or history.ndim != 3 or history.shape[1] != To:
            got = tuple(history.shape) if isinstance(history, torch.Tensor) else type(history).__name__
            raise ShapeError(f"policy: expected to be called with a history of shape (B, To={To}, obs_dim), got {got}")
        chunk = policy(history)
        check_tensor("policy(history)", chunk, ndim=3, dtype=torch.float32)
        if chunk.shape[0] != history.shape[0] or chunk.shape[1] < To - 1 + Ta:
            raise ShapeError(f"policy(history): expected a chunk of shape (B={history.shape[0]}, Tp >= To - 1 + Ta = "
                             f"{To - 1 + Ta}, act_dim), got {tuple(chunk.shape)}")
        return chunk

    return call


# ---------------------------------------------------------------- model sizes
def check_heads(hidden_size: int, num_heads: int) -> None:
    """Multi-head attention splits the hidden size evenly between the heads."""
    if num_heads < 1 or hidden_size % num_heads:
        raise ShapeError(f"hidden_size: expected a multiple of num_heads = {num_heads}, got {hidden_size}")


def check_key_mask(name: str, mask, batch: int, length: int) -> None:
    """A key mask is (B, M) bool, True where a key may be attended to (None: every key)."""
    if mask is not None:
        check_tensor(name, mask, shape=(batch, length), dtype=torch.bool)


# ----------------------------------------------------------------------------- what a learner's function returned
# Used by the widgets (widgets/_plumbing.py re-exports them): a widget calls the learner's code on
# every move and names what came back wrong.
def fn_label(fn: Callable, role: str) -> str:
    """How error messages name a learner's function: its role, plus its own name if that differs.

    ``fn_label(my_q, "q_sample") == "q_sample (my_q)"``; lambdas are named by role only.
    """
    own = getattr(fn, "__name__", None)
    return role if own in (None, role, "<lambda>") else f"{role} ({own})"


def require_callable(fn, role: str) -> None:
    """Raise a TypeError unless ``fn`` can be called."""
    if not callable(fn):
        raise TypeError(f"{role}: expected a function, got {type(fn).__name__}")


def require_function_dict(fns, role: str) -> dict[str, Callable]:
    """A non-empty mapping from names to functions, returned as a plain dict."""
    if not isinstance(fns, Mapping) or not fns:
        raise TypeError(f"{role}: expected a non-empty dict mapping names to functions, got {fns!r}")
    for name, fn in fns.items():
        require_callable(fn, f"{role}[{name!r}]")
    return dict(fns)


def _shape_text(shape: Sequence[int | None]) -> str:
    """(5, None, 2) -> '(5, *, 2)'; (7,) -> '(7,)'."""
    parts = ["*" if s is None else str(s) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _problem(value, shape: Sequence[int | None], dtype) -> str | None:
    """What is wrong with ``value`` as a tensor of ``shape`` and ``dtype``, or None if nothing."""
    want = _shape_text(shape)
    if not isinstance(value, torch.Tensor):
        return f"a {type(value).__name__}; expected a torch.Tensor of shape {want}"
    got = tuple(value.shape)
    if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape, got)):
        return f"shape {got}; expected shape {want}"
    allowed = dtype if isinstance(dtype, tuple) else (dtype,)
    if value.dtype not in allowed:
        return f"dtype {value.dtype}; expected " + " or ".join(str(d) for d in allowed)
    bad = int((~torch.isfinite(value)).sum())
    if bad:
        return f"{bad} non-finite value(s) (nan or inf) out of {value.numel()}; expected finite numbers"
    return None


def check_returned(label: str, value, shape: Sequence[int | None],
                   dtype: torch.dtype | tuple[torch.dtype, ...] = torch.float32) -> torch.Tensor:
    """Check what a learner's function returned; raise a ValueError saying what went wrong.

    ``label`` names the function (see :func:`fn_label`); ``shape`` may hold ``None``
    for "any size". Checks, in order: a torch.Tensor, the shape, the dtype, all finite.
    Example message: "q_sample returned shape (200, 1); expected shape (200, 2)".
    Returns ``value`` unchanged.
    """
    problem = _problem(value, shape, dtype)
    if problem:
        raise ValueError(f"{label} returned {problem}")
    return value


def check_argument(name: str, value, shape: Sequence[int | None],
                   dtype: torch.dtype | tuple[torch.dtype, ...] = torch.float32) -> torch.Tensor:
    """Check a tensor handed to a widget (same rules as :func:`check_returned`).

    Raises TypeError if ``value`` is not a tensor, ValueError for a wrong shape, dtype or value.
    """
    problem = _problem(value, shape, dtype)
    if problem:
        error = ValueError if isinstance(value, torch.Tensor) else TypeError
        raise error(f"{name}: got {problem}")
    return value
