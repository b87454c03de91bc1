"""The course's plotly figure: a ``go.FigureWidget`` that a slow or busy browser cannot leave blank.

Threat: a learner's machine that is busy (a cold start, a kernel importing torch, other tabs) or
simply slow. anywidget gives each model 2 s to load its JavaScript module; when that runs out, it
drops every message the kernel sends to that model, for good. plotly's module is its 5 MB widget
bundle, imported once per figure, measured at 2.2-2.9 s in Chromium on a loaded 2-core machine:
the kernel's first draw never reached the page and the plot stayed empty (issue 16, the failing
``ddpm_explorer`` browser test).

:class:`Figure` is the same FigureWidget (same Python API, same page-side plotly code) with a small
module of its own, ``js/figure.js`` (after ``js/common.js``): it loads in milliseconds, imports
plotly's bundle once per page for every figure, keeps the kernel's updates until plotly's model is
started, takes them after anywidget's 2 s too (``tolerateSlowStart``), and shows a message in the
cell output until the plot is drawn (and what to do if it cannot be). And it opens
only when first referred to, after the Panel's first draw, so that draw travels in the widget's
first state, not in messages a late model would drop.
"""
from __future__ import annotations

import copy
import inspect

import plotly
import plotly.graph_objects as go
import traitlets as T

from ._hooks import OpenOnFirstUse, esm

_BUNDLE = str(go.FigureWidget._esm)  # plotly's widget bundle (anywidget read it from plotly's package data)


class Figure(OpenOnFirstUse, go.FigureWidget):
    """``plotly.graph_objects.FigureWidget`` whose page side survives a slow start (see module docstring).

    It opens when first referred to (a Panel shows it, after drawing it), so the page gets the
    drawn figure in one piece."""

    _esm = esm("figure.js")  # js/common.js, then js/figure.js (it calls common.js's tolerateSlowStart)
    _bundle = T.Unicode(_BUNDLE).tag(sync=True)
    _bundle_key = T.Unicode(f"plotly-{plotly.__version__}-{len(_BUNDLE)}").tag(sync=True)


# ---------------------------------------------------------------- plotly workarounds a Panel applies
def unhook_trace_deltas(figure: go.FigureWidget) -> None:
    """Stop folding the page's computed-defaults reports back into the Python traces.

    plotly 7.1: after every update the page reports each trace's computed defaults, and the
    FigureWidget folds them back into its Python traces. For typed arrays that goes wrong:
    a heatmap with numpy x or y makes the kernel raise "The truth value of an array ... is
    ambiguous" on every move, and other traces' y can read back as {'0': 0}. A Panel sets
    every property it draws and never reads computed defaults, so it does not listen.
    """
    handler = inspect.getattr_static(figure, "_handler_js2py_traceDeltas", None)  # the @observe handler
    if handler in figure._trait_notifiers.get("_js2py_traceDeltas", {}).get("change", []):
        figure.unobserve(handler, names="_js2py_traceDeltas")


def sync_state(figure: go.FigureWidget) -> None:
    """Put the figure as drawn now into the FigureWidget's synced state.

    A FigureWidget syncs its traces and layout only when it is created; traces added and
    updates made afterwards travel as one-off messages. A page that connects later (a
    Voilà dashboard, which runs the cells before the browser connects, or a reloaded
    notebook) would otherwise get an empty plot. ``js/figure.js`` also starts from this state
    when plotly's bundle loads late.
    """
    figure._widget_data = copy.deepcopy(figure._data)
    figure._widget_layout = copy.deepcopy(figure._layout_obj._props)


def mute_sends(figure: go.FigureWidget, muted: "callable") -> None:
    """Skip the figure's update messages to the page while ``muted()`` is true (the page drew that state)."""
    for name in ("_send_update_msg", "_send_restyle_msg", "_send_relayout_msg"):
        send = getattr(figure, name)

        def maybe(*args, _send=send, **kwargs):
            if not muted():
                return _send(*args, **kwargs)

        setattr(figure, name, maybe)


def screen_pixel_gl(figure) -> None:
    """Draw the figure's WebGL traces (``scattergl``) at one canvas pixel per screen pixel.

    plotly sizes its WebGL canvas at ``plotGlPixelRatio`` (default 2) times the figure, whatever
    the screen, and every move of a slider redraws that whole canvas. A browser without a GPU
    (headless Chromium, many laptops in a VM) draws it in software: measured with
    ``python -m bench widgets`` and a Chromium CPU count, the flow explorer's moves cost about a
    quarter less CPU at 1. The cost: on a 2x (retina) screen the WebGL markers are drawn at half
    resolution and scaled up. Not used for the capstone's 3-D scenes (whose canvas plotly sizes the
    same way): at 1, ``python -m bench play`` showed no change in the floor's frame rate (14.2 fps
    against 14.3-16.8 at 2), so the sharper picture stays."""
    figure._config = {**figure._config, "plotGlPixelRatio": 1}
