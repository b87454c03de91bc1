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

from typing import Callable, Iterable, Sequence

import ipywidgets as W
import numpy as np
import torch

# The checks on what learners' functions return are the course's one validation vocabulary
# (coursekit/validate.py); widgets import them from here with the rest of their toolkit.
from coursekit.validate import check_argument, check_returned, fn_label, require_callable, require_function_dict

__all__ = ["int_slider", "float_slider", "dropdown", "check_argument", "check_returned", "fn_label",
           "require_callable", "require_function_dict", "to_numpy", "readout", "polylines", "wire"]


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
