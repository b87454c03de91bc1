"""The frame bank: every position of one slider, computed in Python, drawn in the page.

A slider move that goes through the kernel costs a websocket round trip, the widget's Python and
the FigureWidget's message handling. :class:`FrameBank` holds frames the learner's function
produced in Python (one per value of an "index" control, e.g. ``t`` or ``frame``), shipped once as
float32 buffers; when the index control moves, the page picks the frame and hands it to the
figure (``js/frames.js``) as a kernel ``_py2js_update`` message would, and the Python side
updates the same FigureWidget silently (see :class:`widgets.Panel`), so ``panel.figure.data`` in
Python stays equal to what the page shows. New frames (a new number of sampler steps) are shipped
as a new bank, and the page draws them when they arrive, if the controls still ask for them: the
kernel sends no figure update for a banked state, because one computed for an older control value
could land after the page has drawn a newer one (a stale frame).
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Sequence

import ipywidgets as W
import numpy as np
import traitlets as T

from ._hooks import _Companion, esm


class _Bank(W.Widget):
    """Frames for one combination of the non-index controls (``match``), as float32 buffers.

    xs[i], ys[i]: (frames, sizes[i]) float32 for trace ``traces[i]``; titles[k]: frame k's title;
    valid[k]: 0 where the learner's function failed for frame k (the kernel then draws, and raises).
    """

    match = T.Dict().tag(sync=True)
    traces = T.List(T.Int()).tag(sync=True)
    sizes = T.List(T.Int()).tag(sync=True)
    xs = T.List(T.Bytes()).tag(sync=True)
    ys = T.List(T.Bytes()).tag(sync=True)
    titles = T.List(T.Unicode()).tag(sync=True)
    valid = T.Bytes().tag(sync=True)
    xconst = T.List().tag(sync=True)  # per trace: None, or its x for every frame (e.g. bar categories)
    fixed = T.List(T.Bool()).tag(sync=True)  # per trace: one frame only, the same at every position


class FrameBank(_Companion):
    """Frames indexed by one control; the browser shows frame ``controls[index].value``.

    ``add(match, traces, xs, ys, titles, valid)`` ships one bank: ``xs[i]``, ``ys[i]`` are
    (frames, n_i) arrays for trace ``traces[i]``. The browser uses the first bank whose
    ``match`` (control name -> value) agrees with the controls.
    """

    _esm = esm("frames.js")
    index = T.Unicode().tag(sync=True)
    index_min = T.Float(0.0).tag(sync=True)
    index_step = T.Float(1.0).tag(sync=True)
    banks = T.List(T.Instance(_Bank)).tag(sync=True, **W.widget_serialization)

    def __init__(self, figure, controls, state_controls, index: str, index_min: float = 0.0,
                 index_step: float = 1.0):
        """Frame k shows the state where ``controls[index]`` is ``index_min + k * index_step``."""
        super().__init__(figure, controls, state_controls, index=index, index_min=index_min,
                         index_step=index_step)
        self._keys: list[dict] = []

    def add(self, match: dict, traces: Sequence[int], xs: Sequence[np.ndarray], ys: Sequence[np.ndarray],
            titles: Sequence[str], valid: np.ndarray | None = None,
            xconst: Sequence[list | None] | None = None, fixed: Sequence[bool] | None = None) -> None:
        """``xconst[i]``: trace i's x as a list, the same in every frame; ``fixed[i]``: trace i's
        arrays hold one frame, the same at every position (drawn when the page switches banks)."""
        frames = len(titles)
        valid = np.ones(frames, bool) if valid is None else np.asarray(valid, bool)
        fixed = [False] * len(traces) if fixed is None else [bool(f) for f in fixed]
        as_f32 = [np.ascontiguousarray(a, dtype=np.float32) for a in (*xs, *ys)]
        for a, one in zip(as_f32, fixed + fixed):
            if a.ndim != 2 or a.shape[0] != (1 if one else frames):
                raise ValueError(f"frames: expected ({1 if one else frames}, n) arrays, got {a.shape}")
        bank = _Bank(match=dict(match), traces=list(traces), sizes=[a.shape[1] for a in as_f32[:len(xs)]],
                     xs=[a.tobytes() for a in as_f32[:len(xs)]], ys=[a.tobytes() for a in as_f32[len(xs):]],
                     titles=list(titles), valid=valid.astype(np.uint8).tobytes(),
                     xconst=list(xconst) if xconst is not None else [None] * len(traces), fixed=fixed)
        self._keys.append(dict(match))
        self.banks = [*self.banks, bank]

    def has(self, values: dict) -> bool:
        """Whether a bank matching these control values has been shipped."""
        return any(all(values.get(n) == v for n, v in m.items()) for m in self._keys)


# ---------------------------------------------------------------- filling banks from a Panel's update()
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



class Banking:
    """The part of :class:`widgets.Panel` that fills a :class:`FrameBank` (``Panel(..., bank=name)``).

    Once the other controls have been still for ``BANK_DELAY_S``, run the widget's ``update()``
    for every position of the banked slider (the learner's functions compute each frame, in
    Python), keep the traces that change, and ship them. Only within ``BANK_BUDGET_S`` of kernel
    time, and only if frames differ in trace ``x``/``y`` and the title alone.
    """

    BANK_BUDGET_S = 0.4    # at most this much kernel time to compute one bank of frames
    BANK_DELAY_S = 0.15    # and only after the controls have been still this long

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
        if not self.browser.driving:
            return  # the page's companion has not started: banks wait for it (Panel._driving_changed)
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
