"""Plumbing shared by the course widgets.

Every widget follows one pattern:

1. make its controls with :func:`int_slider`, :func:`float_slider`, :func:`dropdown`;
2. build one ``plotly.graph_objects.FigureWidget`` with all its traces;
3. write an ``update()`` that reads the controls, calls the learner's functions,
   checks what came back with :func:`check_returned`, and writes float numpy
   arrays into the existing traces inside ``figure.batch_update()``;
4. hand everything to :class:`Panel`, which lays it out, wires the controls to
   ``update()`` and draws the first state.

The figure is never rebuilt: a new FigureWidget per slider move costs megabytes
of JavaScript and is never garbage-collected (see STACK-NOTES.md, "Widgets").
"""
from __future__ import annotations

import asyncio
import copy
import inspect
import itertools
import json
import time
import weakref
from typing import Callable, Iterable, Mapping, Sequence

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import torch

from . import _browser
from ._browser import FrameBank, PanelHooks

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


def _kernel_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop of the IPython kernel this code runs in, or None outside a kernel.

    Checked by the kernel, not by the loop alone: other code can leave a loop marked running
    in this thread (Playwright's sync API does), and a callback on it might never run."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _same_array(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if a.shape != b.shape:
        return False
    numeric = a.dtype.kind in "fiub" and b.dtype.kind in "fiub"
    return bool(np.array_equal(a, b, equal_nan=numeric))  # NaN separates the paths of one line trace


class Panel(W.VBox):
    """Controls above one FigureWidget; what every widget function returns.

    Attributes: ``figure`` (the FigureWidget, kept for the panel's lifetime),
    ``controls`` (dict name -> control) and ``update()`` (redraw from the controls).
    ``rows`` lays the controls out (lists of control names, one HBox each);
    ``watch`` names the controls whose changes trigger ``update()`` (default: all).
    ``kind`` names the widget in the page (CSS class ``course-widget--<kind>``).
    ``browser`` is an optional companion (see ``widgets/_browser.py``) that draws some states
    in the page without a kernel round trip; ``update()`` then returns True for a state the
    browser has already drawn, and the figure is updated in Python without a message.
    Building a Panel draws the first state, so bad learner functions fail here, early.

    ``bank`` names a slider whose every position the page may draw without the kernel: once
    the other controls have been still for a moment, the Panel runs ``update()`` for each of
    the slider's values (the learner's functions compute every frame, in Python), and ships
    the frames to a :class:`widgets._browser.FrameBank`. Only when each frame differs from the
    others in trace ``x``/``y`` and the title alone (same sizes; ``x`` may be constant text,
    like bar categories; a heat map that changes is not carried), and only within
    ``BANK_BUDGET_S`` of compute; otherwise the kernel draws, as without a bank. Traces that
    stay put along the slider travel once per bank, so the page can come back to it from a
    state the kernel drew. The slider's limits must not change.

    Page hooks, for tests and screenshots (docs/BROWSER_TESTS.md): the panel has the CSS
    classes ``course-widget``, ``course-widget--<kind>`` and ``course-widget-id--<model_id>``;
    each control ``course-control course-control--<name>``; the figure ``course-figure``.
    Every draw sets ``figure.layout.meta = {"state": {name: value}}`` for the watched
    controls, in the same update as the traces and the title.
    """

    _instances: "weakref.WeakSet[Panel]" = weakref.WeakSet()
    _order_counter = itertools.count()
    BANK_BUDGET_S = 0.4    # at most this much kernel time to compute one bank of frames
    BANK_DELAY_S = 0.15    # and only after the controls have been still this long

    def __init__(self, figure: go.FigureWidget, controls: dict[str, W.Widget], update: Callable[[], object],
                 rows: Sequence[Sequence[str]] | None = None, watch: Sequence[str] | None = None, *,
                 kind: str = "panel", browser: W.Widget | None = None, bank: str | None = None):
        self._order = next(Panel._order_counter)
        rows = rows if rows is not None else [list(controls)]
        self._bank_name = bank if bank is not None and browser is None else None
        if self._bank_name is not None:
            c = controls[bank]
            count = int(round((c.max - c.min) / c.step)) + 1
            self._bank_values = [c.min + k * c.step if isinstance(c.value, int) else round(c.min + k * c.step, 10)
                                 for k in range(count)]
            self._bank_handle = None
            self._bank_done: dict[str, np.ndarray] = {}  # match key -> which frames are valid
            self._bank_refused: set[str] = set()
            browser = FrameBank(figure, controls, list(watch if watch is not None else controls), index=bank,
                                index_min=float(c.min), index_step=float(c.step))
        if not _browser.enabled:
            browser = None  # the companion stays unshown, so the page never draws: the kernel does
            self._bank_name = None
        hooks = browser if browser is not None else PanelHooks(figure)
        super().__init__([*(W.HBox([controls[n] for n in row]) for row in rows), figure, hooks])
        self.figure = figure
        self.controls = dict(controls)
        self.kind = kind
        self.browser = browser
        self.watched = list(watch if watch is not None else controls)
        for cls in ("course-widget", f"course-widget--{kind}", f"course-widget-id--{self.model_id}"):
            self.add_class(cls)
        self._seen: dict[str, list] = {}  # each control's recent values, as they arrived (for browser tests)
        for name, control in self.controls.items():
            control.add_class("course-control")
            control.add_class(f"course-control--{name}")
            if hasattr(control, "value"):
                self._seen[name] = [0, []]
                control.observe(lambda change, seen=self._seen[name]: self._note(seen, change["new"]), names="value")
        figure.add_class("course-figure")
        # plotly 7.1: after every update the page reports each trace's computed defaults, and the
        # FigureWidget folds them back into its Python traces. For typed arrays that goes wrong:
        # a heatmap with numpy x or y makes the kernel raise "The truth value of an array ... is
        # ambiguous" on every move, and other traces' y can read back as {'0': 0}. A Panel sets
        # every property it draws and never reads computed defaults, so it does not listen.
        handler = inspect.getattr_static(figure, "_handler_js2py_traceDeltas", None)  # the @observe handler
        if handler in figure._trait_notifiers.get("_js2py_traceDeltas", {}).get("change", []):
            figure.unobserve(handler, names="_js2py_traceDeltas")
        self._user_update = update
        self._muted = False
        self._mute_sends(figure)
        self._update = wire([controls[n] for n in self.watched], self._draw)
        self._draw(allow_browser=False)
        self._sync_figure_state()
        if browser is not None:
            # If the page stops drawing (its view went away), the kernel draws again, from now on.
            browser.observe(lambda change: None if change["new"] else self._draw(allow_browser=False),
                            names="driving")
        Panel._instances.add(self)
        if self._bank_name is not None:
            self._schedule_bank()

    def _sync_figure_state(self) -> None:
        """Put the figure as drawn now into the FigureWidget's synced state.

        A FigureWidget syncs its traces and layout only when it is created; traces added and
        updates made afterwards travel as one-off messages. A page that connects later (a
        Voilà dashboard, which runs the cells before the browser connects, or a reloaded
        notebook) would otherwise get an empty plot.
        """
        fig = self.figure
        fig._widget_data = copy.deepcopy(fig._data)
        fig._widget_layout = copy.deepcopy(fig._layout_obj._props)

    def _mute_sends(self, figure: go.FigureWidget) -> None:
        """Let ``_draw`` skip the figure's messages to the page for states the page drew itself."""
        for name in ("_send_update_msg", "_send_restyle_msg", "_send_relayout_msg"):
            send = getattr(figure, name)

            def muted(*args, _send=send, **kwargs):
                if not self._muted:
                    return _send(*args, **kwargs)

            setattr(figure, name, muted)

    @staticmethod
    def _note(seen: list, value) -> None:
        seen[0] += 1
        seen[1] = [*seen[1][-31:], value]

    def state(self) -> dict:
        """The watched controls' values, as the figure's ``layout.meta["state"]`` records them."""
        return {name: self.controls[name].value for name in self.watched}

    def _draw(self, allow_browser: bool = True) -> None:
        fig = self.figure
        try:
            with fig.batch_update():
                drawn = self._user_update()
                fig.layout.meta = {"state": self.state()}
                if self._bank_name is not None:
                    drawn = self._banked_now()
                self._muted = bool(allow_browser and drawn is True and self.browser is not None
                                   and getattr(self.browser, "driving", False))
        finally:
            self._muted = False
        if self._bank_name is not None:
            self._schedule_bank()

    # ---------------------------------------------------------------- frames for the page (``bank=``)
    def _bank_key(self) -> tuple[str, dict]:
        match = {n: self.controls[n].value for n in self.watched if n != self._bank_name}
        return json.dumps(match, sort_keys=True, default=str), match

    def _banked_now(self) -> bool:
        """Whether the page holds the frame for the current state (then it has drawn it)."""
        valid = self._bank_done.get(self._bank_key()[0])
        if valid is None:
            return False
        k = int(round((self.controls[self._bank_name].value - self._bank_values[0])
                      / self.controls[self._bank_name].step))
        return 0 <= k < len(valid) and bool(valid[k])

    def _schedule_bank(self) -> None:
        """Compute the frames for the current state of the other controls once they are still."""
        key = self._bank_key()[0]
        if key in self._bank_done or key in self._bank_refused or self._bank_name is None:
            return
        if self._bank_handle is not None:
            self._bank_handle.cancel()
        loop = _kernel_loop()
        if loop is None:
            self._fill_bank()  # plain Python (a script, a test): now
            return
        self._bank_handle = loop.call_later(self.BANK_DELAY_S, self._fill_bank)  # once the learner pauses

    def _figure_frame(self) -> tuple[list, str, str]:
        """Each trace's (x, y, z), the title, and a fingerprint of everything else in the figure."""
        fig = self.figure
        traces = [(getattr(t, "x", None), getattr(t, "y", None), getattr(t, "z", None)) for t in fig.data]
        rest = [{k: v for k, v in t.to_plotly_json().items() if k not in ("x", "y", "z")} for t in fig.data]
        layout = {k: v for k, v in fig.layout.to_plotly_json().items() if k not in ("title", "meta")}
        return traces, str(fig.layout.title.text), json.dumps([rest, layout], sort_keys=True, default=repr)

    def _fill_bank(self) -> None:
        self._bank_handle = None
        key, match = self._bank_key()
        if key in self._bank_done or key in self._bank_refused or self._bank_name is None:
            return
        control, fig = self.controls[self._bank_name], self.figure
        saved = control.value
        frames: list = []
        start = time.perf_counter()
        self._muted = True  # nothing computed here goes to the page as a figure update
        try:
            for value in self._bank_values:
                control._trait_values["value"] = value  # what update() reads; no event, no message
                try:
                    with fig.batch_update():
                        self._user_update()
                    frames.append(self._figure_frame())
                except Exception:  # noqa: BLE001 - this frame stays with the kernel, which raises there
                    frames.append(None)
                if time.perf_counter() - start > self.BANK_BUDGET_S:
                    self._bank_name = None  # too slow to bank: the kernel draws every move
                    return
        finally:
            control._trait_values["value"] = saved
            try:
                with fig.batch_update():
                    self._user_update()
                    fig.layout.meta = {"state": self.state()}
            except Exception:  # noqa: BLE001 - the learner's error shows on the next real move
                pass
            self._muted = False
        try:
            shipped = self._bank_payload(frames, with_fixed=bool(match))
        except (TypeError, ValueError):  # data a bank cannot carry (ragged, odd types): the kernel draws
            shipped = None
        if shipped is None:
            self._bank_refused.add(key)
            return
        traces, xs, ys, xconst, fixed, titles, valid = shipped
        self.browser.add(match, traces, xs, ys, titles, valid, xconst, fixed)
        self._bank_done[key] = valid

    @staticmethod
    def _bank_payload(frames: list, with_fixed: bool):
        """(traces, xs, ys, xconst, fixed, titles, valid), or None if the frames differ in anything
        a bank cannot carry. Traces that change along the slider get one row per frame. With
        ``with_fixed`` (the panel has other controls) the traces that do not change are shipped
        too, once: the page may come back to this bank from a state the kernel drew, whose
        traces differ (another robot's mask, say), and must then redraw them."""
        good = [f for f in frames if f is not None]
        if not good or any(f[2] != good[0][2] for f in good):
            return None  # no frame, or a frame changes more than traces and title
        n = len(frames)
        traces, xs, ys, xconst, fixed = [], [], [], [], []
        for i in range(len(good[0][0])):
            cols = [[np.asarray(a) if a is not None else None for a in f[0][i]] for f in good]
            same = [all(_same_array(c[j], cols[0][j]) for c in cols) for j in range(3)]
            changes = not all(same)
            if not changes and not with_fixed:
                continue  # the same in every frame, and no other control can change it
            x0, y0, z0 = cols[0]
            if z0 is not None or x0 is None or y0 is None or y0.dtype.kind not in "fiu" or y0.ndim != 1:
                return None
            if any(c[1].shape != y0.shape or c[0].shape != x0.shape for c in cols):
                return None
            text_x = x0.dtype.kind not in "fiu"
            if (text_x and not same[0]) or (not text_x and x0.shape != y0.shape):
                return None
            rows = n if changes else 1
            x_rows, y_rows = np.zeros((rows, y0.size), np.float32), np.zeros((rows, y0.size), np.float32)
            for k, f in enumerate(frames if changes else good[:1]):
                if f is not None:
                    y_rows[k] = np.asarray(f[0][i][1], np.float32)
                    if not text_x:
                        x_rows[k] = np.asarray(f[0][i][0], np.float32)
            traces.append(i)
            xs.append(x_rows)
            ys.append(y_rows)
            xconst.append([str(v) for v in x0.tolist()] if text_x else None)
            fixed.append(not changes)
        titles = [f[1] if f is not None else "" for f in frames]
        valid = np.array([f is not None for f in frames])
        return traces, xs, ys, xconst, fixed, titles, valid

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
        return {"model_id": self.model_id, "kind": self.kind, "controls": controls, "seen": seen,
                "title": self.figure.layout.title.text, "meta": self.figure.layout.meta,
                "traces": [{"type": t.type, "x": arr(getattr(t, "x", None)), "y": arr(getattr(t, "y", None)),
                            "z": arr(getattr(t, "z", None))} for t in self.figure.data]}

