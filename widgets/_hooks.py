"""Page hooks: the small pieces of JavaScript a Panel puts in the page, and where they live.

Every Panel has one invisible anywidget child: :class:`PanelHooks`, or a companion that draws in
the page (:class:`widgets._bank.FrameBank`, the DDPM schedule's ``ScheduleCompanion``). Its page
side keeps arrow keys with the Panel's controls, keeps the FigureWidget's computed-defaults
reports in the page, and lets anywidget models that missed its 2 s start-up window still take
the kernel's messages. The JavaScript is in ``widgets/js/``: ``common.js`` first, then the
companion's own file (:func:`esm`).

A companion draws in the page only once its view reports ``driving = True``; until then, and
for every state it does not cover, the kernel draws.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Sequence

import anywidget
import ipywidgets as W
import traitlets as T

JS = Path(__file__).with_name("js")

# Set to False (before building a widget) to leave every draw to the kernel, e.g. to measure
# the kernel round trip (bench/bench_latency.py). Widgets built then keep that behaviour.
enabled = True


class OpenOnFirstUse:
    """A widget whose comm opens when something first refers to it, not when it is built.

    Threat: a busy page. anywidget gives a model 2 s to start; kernel messages to a model that
    missed them are dropped. A widget built, drawn and only then referred to (a Panel's figure,
    its companion) opens with everything in its first state, so its first render needs no
    message at all. Until it opens, ipywidgets sends nothing (its ``_send`` skips a missing comm).
    """

    def open(self):
        if getattr(self, "_open_allowed", False):
            super().open()

    @property
    def model_id(self):
        if self.comm is None:
            self._open_allowed = True
            super().open()
        return self.comm.comm_id


def esm(name: str) -> str:
    """The module anywidget loads for a companion: ``js/common.js`` followed by ``js/<name>``."""
    return (JS / "common.js").read_text() + "\n" + (JS / name).read_text()


class PanelHooks(OpenOnFirstUse, anywidget.AnyWidget):
    """An invisible child of every Panel without a companion: keeps keys on its controls and the
    figure's computed-defaults reports in the page (see the JS)."""

    _esm = esm("hooks.js")
    figure = T.Instance(W.Widget, allow_none=True).tag(sync=True, **W.widget_serialization)

    def __init__(self, figure=None, **kwargs):
        super().__init__(figure=figure, layout=W.Layout(display="none"), **kwargs)


class _Companion(OpenOnFirstUse, anywidget.AnyWidget):
    """An invisible child of a Panel that draws some states in the browser (see module docstring)."""

    uid = T.Unicode().tag(sync=True)
    figure = T.Instance(W.Widget).tag(sync=True, **W.widget_serialization)
    controls = T.Dict().tag(sync=True, **W.widget_serialization)
    state_controls = T.List(T.Unicode()).tag(sync=True)
    driving = T.Bool(False).tag(sync=True)

    def __init__(self, figure, controls: dict[str, W.Widget], state_controls: Sequence[str], **kwargs):
        super().__init__(uid=uuid.uuid4().hex, figure=figure, controls=dict(controls),
                         state_controls=list(state_controls), layout=W.Layout(display="none"), **kwargs)
