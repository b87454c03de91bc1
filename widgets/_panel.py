"""The Panel: controls above one FigureWidget, wired to the widget's ``update()``; what every widget returns.

Its other jobs live next door: filling frame banks (``_bank.py``, :class:`Banking`), the page
hooks (``_hooks.py`` and ``js/``), and the plotly workarounds (``_figure.py``).
"""
from __future__ import annotations

import itertools
import threading
import weakref
from typing import Callable, Sequence

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

from . import _hooks
from . import _bank
from ._bank import Banking, FrameBank
from ._figure import mute_sends, sync_state, unhook_trace_deltas
from ._hooks import PanelHooks
from ._plumbing import wire


class Panel(Banking, W.VBox):
    """Controls above one FigureWidget; what every widget function returns.

    Attributes: ``figure`` (the FigureWidget, kept for the panel's lifetime),
    ``controls`` (dict name -> control) and ``update()`` (redraw from the controls).
    ``rows`` lays the controls out (lists of control names, one HBox each);
    ``watch`` names the controls whose changes trigger ``update()`` (default: all).
    ``kind`` names the widget in the page (CSS class ``course-widget--<kind>``).
    ``browser`` is an optional companion (``widgets/_hooks.py``, ``widgets/_bank.py``) that draws some states
    in the page without a kernel round trip; ``update()`` then returns True for a state the
    browser has already drawn, and the figure is updated in Python without a message.
    Building a Panel draws the first state, so bad learner functions fail here, early.

    ``bank`` names a slider whose every position the page may draw without the kernel: once
    the other controls have been still for a moment, the Panel runs ``update()`` for the
    slider's positions, nearest the slider first and a frame at a time between kernel messages
    (the learner's functions compute every frame, in Python), and ships the frames in pieces to
    a :class:`widgets._bank.FrameBank`. Only when frames differ in trace ``x``/``y``/``z`` and the
    title alone (lines, markers, 3-D traces, heat maps, text categories; lengths may change), and
    only within the budgets of :class:`widgets._bank.Banking`; otherwise the kernel draws, as
    without a bank. A banked move sets the Python figure from the stored frame, without a
    message. The slider's min and step must not change (its max may).

    Page hooks, for tests and screenshots (docs/BROWSER_TESTS.md): the panel has the CSS
    classes ``course-widget``, ``course-widget--<kind>`` and ``course-widget-id--<model_id>``;
    each control ``course-control course-control--<name>``; the figure ``course-figure``.
    Every draw sets ``figure.layout.meta = {"state": {name: value}}`` for the watched
    controls, in the same update as the traces and the title.
    """

    _instances: "weakref.WeakSet[Panel]" = weakref.WeakSet()
    _order_counter = itertools.count()

    def __init__(self, figure: go.FigureWidget, controls: dict[str, W.Widget], update: Callable[[], object],
                 rows: Sequence[Sequence[str]] | None = None, watch: Sequence[str] | None = None, *,
                 kind: str = "panel", browser: W.Widget | None = None, bank: str | None = None):
        self._order = next(Panel._order_counter)
        # ipykernel 7 handles widget messages on a thread of their own (a subshell), where banks
        # fill too; a cell (a test's snapshot) runs on the main thread. A bank fill moves the
        # banked control and the figure through every frame and back: hold this while doing so.
        self._lock = threading.RLock()
        rows = rows if rows is not None else [list(controls)]
        self._bank_name = bank if bank is not None and browser is None else None
        if self._bank_name is not None:
            c = controls[bank]
            self._bank_min = c.min                   # the slider's min and step stay; its max may follow others
            self._bank_fill = None                   # the bank being filled (widgets/_bank.py, _Fill)
            self._bank_loop = _bank._kernel_loop()       # where fills run: this thread's loop (None: at once)
            self._bank_done: dict[str, dict] = {}     # match key -> {frame number: stored frame} shipped
            self._bank_complete: set[str] = set()
            self._bank_refused: set[str] = set()
            browser = FrameBank(figure, controls, list(watch if watch is not None else controls), index=bank,
                                index_min=float(c.min), index_step=float(c.step))
        if not _hooks.enabled:
            browser = None  # the companion stays unshown, so the page never draws: the kernel does
            self._bank_name = None
        hooks = browser if browser is not None else PanelHooks(figure)
        self.figure = figure
        self.controls = dict(controls)
        self.kind = kind
        self.browser = browser
        self.watched = list(watch if watch is not None else controls)
        self._seen: dict[str, list] = {}  # each control's recent values, as they arrived (for browser tests)
        for name, control in self.controls.items():
            control.add_class("course-control")
            control.add_class(f"course-control--{name}")
            if hasattr(control, "value"):
                self._seen[name] = [0, []]
                control.observe(lambda change, seen=self._seen[name]: self._note(seen, change["new"]), names="value")
        figure.add_class("course-figure")
        unhook_trace_deltas(figure)  # see _figure.py
        self._user_update = update
        if self._bank_name is not None:
            for control in self.controls.values():
                self._lock_messages(control)
        self._muted = False
        mute_sends(figure, lambda: self._muted)
        self._update = wire([controls[n] for n in self.watched], self._draw)
        self._draw(allow_browser=False)
        sync_state(figure)
        # Only now does anything refer to the figure and the companion, so they open (see
        # _hooks.OpenOnFirstUse) with the drawn state: the page needs no message to show it.
        super().__init__([*(W.HBox([controls[n] for n in row]) for row in rows), figure, hooks])
        for cls in ("course-widget", f"course-widget--{kind}", f"course-widget-id--{self.model_id}"):
            self.add_class(cls)
        if browser is not None:
            # If the page stops drawing (its view went away), the kernel draws again, from now on;
            # once it draws, banks may go to it (their messages then reach a model that has started).
            browser.observe(self._driving_changed, names="driving")
        Panel._instances.add(self)
        if self._bank_name is not None:
            self._schedule_bank()

    def _lock_messages(self, control: W.Widget) -> None:
        """Apply the page's messages to ``control`` under the panel's lock. A bank fill moves the
        banked control through its values and back, maybe on another thread (see ``_lock``): a
        value from the page that landed in between would be lost, or, equal to the value of the
        frame being computed, would not count as a change."""
        set_state = control.set_state

        def locked(sync_data, _set_state=set_state, _lock=self._lock):
            with _lock:
                return _set_state(sync_data)

        control.set_state = locked

    def _driving_changed(self, change) -> None:
        if not change["new"]:
            self._draw(allow_browser=False)
        elif self._bank_name is not None:
            self._schedule_bank()

    @staticmethod
    def _note(seen: list, value) -> None:
        seen[0] += 1
        seen[1] = [*seen[1][-31:], value]

    def state(self) -> dict:
        """The watched controls' values, as the figure's ``layout.meta["state"]`` records them."""
        return {name: self.controls[name].value for name in self.watched}

    def _draw(self, allow_browser: bool = True) -> None:
        with self._lock:
            self._draw_locked(allow_browser)

    def _draw_locked(self, allow_browser: bool) -> None:
        fig = self.figure
        page = allow_browser and self.browser is not None and getattr(self.browser, "driving", False)
        banked = self._bank_frame_now() if page and self._bank_name is not None else None
        try:
            with fig.batch_update():
                if banked is not None:
                    self._apply_banked(banked)  # the learner's functions computed it when the bank was filled
                    drawn = True
                else:
                    drawn = self._user_update()
                    if self._bank_name is not None:
                        drawn = False
                fig.layout.meta = {"state": self.state()}
                self._muted = bool(page and drawn is True)
        finally:
            self._muted = False
        if self._bank_name is not None:
            self._schedule_bank()

    def update(self) -> None:
        """Redraw the figure from the current control values (always through the kernel)."""
        self._draw(allow_browser=False)

    # ---------------------------------------------------------------- introspection for browser tests
    @classmethod
    def instances(cls) -> list["Panel"]:
        """Every Panel alive in this kernel, oldest first."""
        return sorted(cls._instances, key=lambda p: p._order)

    def snapshot(self) -> dict:
        """What the page should show: control values and limits, title, meta and trace arrays (JSON-able)."""
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> dict:
        def arr(v):
            if v is None:
                return None
            try:
                a = np.asarray(v, dtype=np.float64)
            except (TypeError, ValueError):  # categories (bar labels) and other text
                return [str(x) for x in np.asarray(v, dtype=object).ravel()]
            return [None if not np.isfinite(x) else float(x) for x in a.ravel()]

        controls = {}
        for name, c in self.controls.items():
            info = {"value": getattr(c, "value", None), "disabled": bool(getattr(c, "disabled", False)),
                    "type": type(c).__name__, "watched": name in self.watched}
            for attr in ("min", "max", "step", "options", "readout_format"):
                if hasattr(c, attr):
                    v = getattr(c, attr)
                    info[attr] = list(v) if isinstance(v, tuple) else v
            controls[name] = info
        seen = {name: {"count": count, "last": last} for name, (count, last) in self._seen.items()}
        bank = None if getattr(self, "_bank_name", None) is None else {
            "control": self._bank_name, "filling": self._bank_fill is not None,
            "frames": sum(len(f) for f in self._bank_done.values())}
        return {"model_id": self.model_id, "kind": self.kind, "controls": controls, "seen": seen, "bank": bank,
                "title": self.figure.layout.title.text, "meta": self.figure.layout.meta,
                "traces": [{"type": t.type, "x": arr(getattr(t, "x", None)), "y": arr(getattr(t, "y", None)),
                            "z": arr(getattr(t, "z", None))} for t in self.figure.data]}

