"""Plumbing shared by the course widgets.

Every widget follows one pattern:

1. make its controls with :func:`int_slider`, :func:`float_slider`, :func:`dropdown`;
2. build one ``plotly.graph_objects.FigureWidget`` with all its traces;
3. write an ``update()`` that reads the controls, calls the learner's functions,
   checks what came back with :func:`check_returned`, and writes float numpy
   arrays into the existing traces inside ``figure.batch_update()``;
4. hand everything to :class:`widgets._panel.Panel`, which lays it out, wires the controls to
   ``update()`` and draws the first state.

The figure is never rebuilt: a new FigureWidget per slider move costs megabytes
of JavaScript and is never garbage-collected (see STACK-NOTES.md, "Widgets").
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping, Sequence

import ipywidgets as W
import numpy as np
import torch


_STYLE = {"description_width": "initial"}
_LAYOUT = {"width": "320px"}


# ---------------------------------------------------------------- controls
def int_slider(description: str, value: int, min: int, max: int, step: int = 1) -> W.IntSlider:
    """A labelled integer slider that reports every move (continuous_update=True)."""
    return W.IntSlider(value=value, min=min, max=max, step=step, description=description,
                       continuous_update=True, style=_STYLE, layout=W.Layout(**_LAYOUT))


def float_slider(description: str, value: float, min: float, max: float, step: float,
                 readout_format: str = ".4f") -> W.FloatSlider:
    """A labelled float slider that reports every move (continuous_update=True)."""
    return W.FloatSlider(value=value, min=min, max=max, step=step, description=description,
                         readout_format=readout_format, continuous_update=True,
                         style=_STYLE, layout=W.Layout(**_LAYOUT))


def dropdown(description: str, options: Sequence[str], value: str | None = None) -> W.Dropdown:
    """A labelled dropdown over string options (the first one selected unless ``value`` is given)."""
    options = list(options)
    return W.Dropdown(options=options, value=options[0] if value is None else value,
                      description=description, style=_STYLE, layout=W.Layout(**_LAYOUT))


# ---------------------------------------------------------------- checks on arguments and results
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


def to_numpy(x, dtype=np.float64) -> np.ndarray:
    """A torch tensor (or array-like) as a float numpy array, detached and on the CPU."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def readout(value: float, fmt: str = ".2f") -> str:
    """A number as a slider shows it (d3-format writes negatives with the minus sign U+2212)."""
    return format(value, fmt).replace("-", "\u2212")



def polylines(paths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, 2) paths -> x, y arrays of one line trace (one trace draws all N), paths separated by NaN."""
    n, h, _ = paths.shape
    padded = np.concatenate([paths, np.full((n, 1, 2), np.nan)], axis=1).reshape(n * (h + 1), 2)
    return padded[:, 0].astype(np.float64), padded[:, 1].astype(np.float64)


# ---------------------------------------------------------------- wiring and layout
def wire(controls: Iterable[W.ValueWidget], update: Callable[[], None]) -> Callable[[], None]:
    """Call ``update()`` whenever any control's value changes; return the guarded update.

    The guard drops calls made while ``update()`` is running, so an update that
    adjusts a control (say, a slider's max) does not recurse into itself.
    """
    busy = False

    def guarded() -> None:
        nonlocal busy
        if busy:
            return
        busy = True
        try:
            update()
        finally:
            busy = False

    for control in controls:
        control.observe(lambda change: guarded(), names="value")
    return guarded
