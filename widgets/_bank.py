"""The frame bank: positions of one slider, computed in Python, drawn in the page.

A slider move that goes through the kernel costs a websocket round trip, the widget's Python and
the FigureWidget's message handling. :class:`FrameBank` holds frames the learner's function
produced in Python (one per value of an "index" control, e.g. ``t`` or ``frame``), shipped as
float32 buffers; when the index control moves, the page picks the frame and hands it to the
figure (``js/frames.js``) as a kernel ``_py2js_update`` message would, and the Python side
updates the same FigureWidget silently (see :class:`widgets.Panel`), so ``panel.figure.data`` in
Python stays equal to what the page shows. A frame may carry any of a trace's ``x``, ``y`` and
``z``: scatter lines and markers, 3-D traces, heat maps (a 2-D ``z``), text categories, and
arrays whose length changes from frame to frame. The kernel sends no figure update for a banked
state, because one computed for an older control value could land after the page has drawn a
newer one (a stale frame).

A bank is shipped in pieces (:class:`_Bank`, each holding some frames of one combination of the
other controls), so the page can draw the positions nearest the slider while the rest are still
being computed, a frame at a time between kernel messages (:class:`Banking`).
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

AXES = ("x", "y", "z")


class _Bank(W.Widget):
    """Some frames for one combination of the non-index controls (``match``).

    ``ks[r]`` (int32 bytes) is the frame number of row r; ``titles[r]`` its title; ``valid[r]``
    0 where the learner's function failed (the kernel then draws, and raises). ``traces`` are
    the figure's trace indices; ``cols[i]`` holds trace ``traces[i]``'s data, one entry per axis
    ``x``, ``y``, ``z``: None (not carried), ``{"text": [row, ...]}`` (lists of strings), or
    ``{"data": float32 bytes of all rows, "offsets": int32 bytes (rows + 1), "widths": int32 bytes
    (rows; a 2-D row's columns, 0 for 1-D)}``. A column with one row (``const``) is the same in
    every frame. ``fixed[i]``: every column of the trace is const (drawn when the page switches
    to this bank, not on every move).
    """

    match = T.Dict().tag(sync=True)
    ks = T.Bytes().tag(sync=True)
    traces = T.List(T.Int()).tag(sync=True)
    cols = T.List().tag(sync=True)
    titles = T.List(T.Unicode()).tag(sync=True)
    valid = T.Bytes().tag(sync=True)
    fixed = T.List(T.Bool()).tag(sync=True)

    def rows(self, i: int, axis: str) -> list | None:
        """Trace ``traces[i]``'s ``axis`` in every row, read back from the wire form (float32
        arrays, 2-D for a heat map's z, or lists of strings); None if the bank does not carry it."""
        col = self.cols[i][axis]
        if col is None:
            return None
        n = len(self.titles)
        if "text" in col:
            return [col["text"][0 if len(col["text"]) == 1 else r] for r in range(n)]
        data = np.frombuffer(col["data"], np.float32)
        offsets, widths = np.frombuffer(col["offsets"], np.int32), np.frombuffer(col["widths"], np.int32)
        out = []
        for r in range(n):
            j = 0 if len(widths) == 1 else r
            a = data[offsets[j]:offsets[j + 1]]
            out.append(a.reshape(-1, widths[j]) if widths[j] else a)
        return out

    @property
    def frame_numbers(self) -> list[int]:
        return np.frombuffer(self.ks, np.int32).tolist()


def _column(values: list) -> dict | None:
    """One axis of one trace over some frames (each value None, a 1-D or 2-D array): its wire form.

    Raises TypeError for what a bank cannot carry (present in some frames only, text in 2-D,
    objects, more than two dimensions)."""
    if all(v is None for v in values):
        return None
    if any(v is None for v in values):
        raise TypeError("an axis present in some frames only")
    arrays = [np.asarray(v) for v in values]
    if all(a.dtype.kind in "OUS" and a.ndim == 1 for a in arrays):
        rows = [[str(s) for s in a.tolist()] for a in arrays]
        return {"text": rows[:1] if all(r == rows[0] for r in rows) else rows}
    if any(a.dtype.kind not in "fiub" or a.ndim not in (1, 2) for a in arrays):
        raise TypeError("a bank carries numbers in 1-D or 2-D, or text in 1-D")
    if all(a.shape == arrays[0].shape and np.array_equal(a, arrays[0], equal_nan=a.dtype.kind == "f")
           for a in arrays[1:]):
        arrays = arrays[:1]                      # the same in every frame: one row
    flat = [np.ascontiguousarray(a, dtype=np.float32).ravel() for a in arrays]
    offsets = np.concatenate([[0], np.cumsum([f.size for f in flat])]).astype(np.int32)
    widths = np.array([a.shape[1] if a.ndim == 2 else 0 for a in arrays], np.int32)
    return {"data": np.concatenate(flat).tobytes(), "offsets": offsets.tobytes(), "widths": widths.tobytes()}


def _rows(col: dict | None) -> int:
    if col is None:
        return 1
    return len(col["text"]) if "text" in col else len(col["offsets"]) // 4 - 1


class FrameBank(_Companion):
    """Frames indexed by one control; the browser shows frame ``k`` where ``controls[index]`` is
    ``index_min + k * index_step``, from any shipped bank whose ``match`` (control name -> value)
    agrees with the controls and that holds frame k.
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

    def add_frames(self, match: dict, ks: Sequence[int], traces: Sequence[int],
                   data: Sequence[Sequence[list | None]], titles: Sequence[str],
                   valid: Sequence[bool] | None = None, keep_still: bool = True) -> None:
        """Ship frames ``ks`` for ``match``. ``data[i][a][r]``: trace ``traces[i]``'s axis ``a``
        (0 x, 1 y, 2 z) in row r (an array, or None where the trace has no such axis); a row of a
        failed frame (``valid[r]`` false) may be None throughout. With ``keep_still`` False,
        traces that are the same in every row are left out (the page never needs to redraw them)."""
        n = len(ks)
        valid = [True] * n if valid is None else [bool(v) for v in valid]
        if len(titles) != n or len(valid) != n:
            raise ValueError(f"frames: {n} frame numbers, {len(titles)} titles, {len(valid)} valid flags")
        good = [r for r in range(n) if valid[r]]
        keep_traces, cols, fixed = [], [], []
        for trace, axes in zip(traces, data):
            if len(axes) not in (2, 3):
                raise ValueError(f"frames: trace {trace}: expected x, y (and z) rows, got {len(axes)}")
            trace_cols = []
            for rows in axes:
                if len(rows) != n:
                    raise ValueError(f"frames: trace {trace}: expected {n} rows, got {len(rows)}")
                col = _column([rows[r] for r in good]) if good else None
                if col is not None and _rows(col) > 1 and len(good) < n:  # failed rows: any row of the right form
                    filler = [rows[good[0]]] * n
                    for r in good:
                        filler[r] = rows[r]
                    col = _column(filler)
                trace_cols.append(col)
            still = all(_rows(c) == 1 for c in trace_cols)
            if still and not keep_still:
                continue
            keep_traces.append(int(trace))
            cols.append(dict(zip(AXES, trace_cols + [None] * (3 - len(trace_cols)))))
            fixed.append(still)
        bank = _Bank(match=dict(match), ks=np.asarray(ks, np.int32).tobytes(), traces=keep_traces, cols=cols,
                     titles=[str(t) for t in titles], valid=np.asarray(valid, np.uint8).tobytes(), fixed=fixed)
        self._keys.append(dict(match))
        self.banks = [*self.banks, bank]

    def add(self, match: dict, traces: Sequence[int], xs: Sequence[np.ndarray], ys: Sequence[np.ndarray],
            titles: Sequence[str], valid: np.ndarray | None = None, xconst: Sequence[list | None] | None = None,
            fixed: Sequence[bool] | None = None, zs: Sequence[np.ndarray | None] | None = None) -> None:
        """Every frame at once: ``xs[i]``, ``ys[i]`` (and ``zs[i]``, for 3-D traces) are (frames, n)
        arrays for trace ``traces[i]``; ``xconst[i]``: the trace's x as a list, the same in every
        frame (e.g. bar categories); ``fixed[i]``: its arrays hold one frame, the same at every
        position."""
        frames = len(titles)
        fixed = [False] * len(traces) if fixed is None else [bool(f) for f in fixed]
        xconst = [None] * len(traces) if xconst is None else list(xconst)
        zs = [None] * len(traces) if zs is None else list(zs)
        data = []
        for i in range(len(traces)):
            axes = []
            for a, arr in enumerate((xs[i], ys[i], zs[i])):
                if a == 0 and xconst[i] is not None:
                    axes.append([np.asarray(xconst[i], dtype=object)] * frames)
                    continue
                if arr is None:
                    axes.append([None] * frames)
                    continue
                arr = np.asarray(arr)
                want = 1 if fixed[i] else frames
                if arr.ndim != 2 or arr.shape[0] != want:
                    raise ValueError(f"frames: expected ({want}, n) arrays, got {arr.shape}")
                axes.append([arr[0 if fixed[i] else k] for k in range(frames)])
            data.append(axes)
        self.add_frames(match, list(range(frames)), traces, data, titles, valid)

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


def _fingerprint_default(o):
    return o.tolist() if hasattr(o, "tolist") else repr(o)


class _Fill:
    """One bank being filled: the frames computed so far for one combination of the other controls."""

    def __init__(self, key: str, match: dict, values: list):
        self.key, self.match, self.values = key, match, values
        self.frames: dict[int, tuple | None] = {}   # k -> (traces, title, fingerprint), None if it failed
        self.unshipped: list[int] = []
        self.spent = 0.0                            # kernel seconds so far
        self.last_ship = time.perf_counter()
        self.ship_every = 0.0                       # set by Banking (SHIP_FIRST_S, growing to SHIP_EVERY_MAX_S)
        self.handle = None
        self.fingerprint: str | None = None


class Banking:
    """The part of :class:`widgets.Panel` that fills a :class:`FrameBank` (``Panel(..., bank=name)``).

    Once the other controls have been still for ``BANK_DELAY_S``, run the widget's ``update()``
    for the banked slider's positions, nearest the slider first, a frame at a time between kernel
    messages (the learner's functions compute each frame, in Python), and ship them in pieces.
    A move of another control drops the fill (a new one starts once they are still again); a
    move of the banked slider itself re-centres it. A fill stops at ``BANK_BUDGET_S`` of kernel
    time, or at once if one frame takes longer than ``FRAME_BUDGET_S`` (the kernel draws the rest),
    or if frames differ in more than trace ``x``/``y``/``z`` and the title (then nothing is banked
    for that combination). A banked move updates the Python figure from the stored frame.
    Outside a kernel (a script, a test) the whole bank is computed at once.
    """

    BANK_BUDGET_S = 6.0      # at most this much kernel CPU time for one bank
    FRAME_BUDGET_S = 0.5     # a frame that takes more CPU time than this: the kernel draws the rest
    BANK_DELAY_S = 0.15      # start once the other controls have been still this long
    SLICE_S = 0.02           # compute frames for about this long, then let kernel messages in
    SHIP_FIRST_S = 0.05      # ship the first piece after this long, then twice as long each time,
    SHIP_EVERY_MAX_S = 0.5   # up to this: a bank travels in a few pieces

    def _bank_key(self) -> tuple[str, dict]:
        match = {n: self.controls[n].value for n in self.watched if n != self._bank_name}
        return json.dumps(match, sort_keys=True, default=str), match

    def _bank_position(self) -> int:
        c = self.controls[self._bank_name]
        return int(round((c.value - self._bank_min) / c.step))

    def _bank_frame_now(self) -> tuple | None:
        """The stored frame for the current state, if the page holds it (then it has drawn it)."""
        frames = self._bank_done.get(self._bank_key()[0])
        return None if frames is None else frames.get(self._bank_position())

    def _banked_now(self) -> bool:
        """Whether the page holds the frame for the current state (then it has drawn it)."""
        return self._bank_name is not None and self._bank_frame_now() is not None

    def _schedule_bank(self) -> None:
        """Fill the bank for the current state of the other controls once they are still.

        Called from whichever thread handled the message (ipykernel 7 handles widget messages on
        the main thread or on a subshell's); every fill runs on the loop of the thread that built
        the panel (a cell's: the main thread), one at a time."""
        if self._bank_name is None:
            return
        loop = self._bank_loop
        if loop is None:
            self._bank_wake()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._bank_wake)

    def _bank_wake(self) -> None:
        with self._lock:
            if self._bank_name is None:
                return
            key, match = self._bank_key()
            fill = self._bank_fill
            if fill is not None and fill.key == key:
                return                                   # already filling this one (re-centred as it goes)
            if fill is not None:                         # another control moved: drop that fill
                if fill.handle is not None:
                    fill.handle.cancel()
                self._bank_fill = None
            if key in self._bank_refused or key in self._bank_complete:
                return
            loop = self._bank_loop
            if loop is None:
                self._bank_fill = _Fill(key, match, self._bank_values_now())
                while self._bank_fill is not None:       # plain Python (a script, a test): now
                    self._bank_step(loop=None)
                return
            if not self.browser.driving:
                return  # the page's companion has not started: banks wait for it (Panel._driving_changed)
            self._bank_fill = fill = _Fill(key, match, self._bank_values_now())
            fill.ship_every = self.SHIP_FIRST_S
            fill.handle = loop.call_later(self.BANK_DELAY_S, self._bank_step, loop)

    def _bank_values_now(self) -> list:
        """The slider's positions now (its max may follow other controls; its min and step may not)."""
        c = self.controls[self._bank_name]
        count = int(round((c.max - self._bank_min) / c.step)) + 1
        return [self._bank_min + k * c.step if isinstance(c.value, int) else round(self._bank_min + k * c.step, 10)
                for k in range(count)]

    def _figure_frame(self) -> tuple[list, str, str]:
        """Each trace's (x, y, z), the title, and a fingerprint of everything else in the figure."""
        fig = self.figure
        traces = [(getattr(t, "x", None), getattr(t, "y", None), getattr(t, "z", None)) for t in fig.data]
        rest = [{k: v for k, v in getattr(t, "_props", t.to_plotly_json()).items() if k not in AXES}
                for t in fig.data]
        layout = {k: v for k, v in fig.layout.to_plotly_json().items() if k not in ("title", "meta")}
        return traces, str(fig.layout.title.text), json.dumps([rest, layout], sort_keys=True,
                                                              default=_fingerprint_default)

    def _bank_step(self, loop) -> None:
        """Compute frames for about SLICE_S (nearest the slider first), ship what is due, go on later."""
        with self._lock:  # the control and the figure are back as they were when this returns
            self._bank_step_locked(loop)

    def _bank_step_locked(self, loop) -> None:
        fill = self._bank_fill
        if fill is None:
            return
        fill.handle = None
        if self._bank_key()[0] != fill.key:            # a control moved since: drop this fill
            self._bank_fill = None
            self._schedule_bank()
            return
        control, fig = self.controls[self._bank_name], self.figure
        saved, here = control.value, self._bank_position()
        todo = sorted((k for k in range(len(fill.values)) if k not in fill.frames), key=lambda k: (abs(k - here), k))
        start = time.perf_counter()
        refused = too_slow = False
        self._muted = True  # nothing computed here goes to the page as a figure update
        try:
            for k in todo:
                began = time.thread_time()  # CPU seconds: a busy machine slows the wall clock, not the work
                control._trait_values["value"] = fill.values[k]  # what update() reads; no event, no message
                try:
                    with fig.batch_update():
                        self._user_update()
                    frame = self._figure_frame()
                except Exception:  # noqa: BLE001 - this frame stays with the kernel, which raises there
                    frame = None
                took = time.thread_time() - began
                fill.spent += took
                if took > self.FRAME_BUDGET_S:
                    too_slow = True                    # the kernel draws this and every later frame
                    break
                if frame is not None:
                    fill.fingerprint = fill.fingerprint or frame[2]
                    if frame[2] != fill.fingerprint:
                        refused = True                 # frames differ in more than a bank carries
                        break
                fill.frames[k] = frame
                fill.unshipped.append(k)
                if loop is not None and time.perf_counter() - start > self.SLICE_S:
                    break
        finally:
            control._trait_values["value"] = saved
            current = fill.frames.get(here)
            try:
                with fig.batch_update():
                    if current is not None and not refused:
                        self._apply_banked(current)    # what update() drew for this state, computed above
                    else:
                        self._user_update()
                    fig.layout.meta = {"state": self.state()}
            except Exception:  # noqa: BLE001 - the learner's error shows on the next real move
                pass
            self._muted = False
        if refused:
            self._bank_refused.add(fill.key)
            self._bank_fill = None
            return
        if too_slow and not self._bank_done:
            self._bank_name, self._bank_fill = None, None  # nothing banked yet: the kernel draws every move
            return
        done = len(fill.frames) == len(fill.values)
        stop = too_slow or fill.spent > self.BANK_BUDGET_S
        now = time.perf_counter()
        if fill.unshipped and (done or stop or loop is None or now - fill.last_ship >= fill.ship_every):
            if not self._bank_ship(fill, complete=done and len(fill.unshipped) == len(fill.values)):
                self._bank_refused.add(fill.key)
                self._bank_fill = None
                return
            fill.last_ship, fill.ship_every = now, min(2 * fill.ship_every, self.SHIP_EVERY_MAX_S)
        if done or stop:
            if done:
                self._bank_complete.add(fill.key)
            self._bank_fill = None
            return
        if loop is not None:
            fill.handle = loop.call_later(0.0, self._bank_step, loop)

    def _bank_ship(self, fill: _Fill, complete: bool) -> bool:
        """Ship the frames computed since the last piece; False if they hold what a bank cannot carry."""
        ks = sorted(fill.unshipped)
        fill.unshipped = []
        frames = [fill.frames[k] for k in ks]
        good = [f for f in frames if f is not None]
        if not good:
            return True                                # every one failed: the kernel draws (and raises) there
        ntraces = len(good[0][0])
        data = [[[f[0][i][a] if f is not None else None for f in frames] for a in range(3)] for i in range(ntraces)]
        try:
            # With the slider alone and the whole bank in one piece, traces that never move stay out.
            self.browser.add_frames(fill.match, ks, list(range(ntraces)), data,
                                    [f[1] if f is not None else "" for f in frames],
                                    [f is not None for f in frames], keep_still=bool(fill.match) or not complete)
        except (TypeError, ValueError):  # data a bank cannot carry (odd types): the kernel draws
            return False
        done = self._bank_done.setdefault(fill.key, {})
        for k, f in zip(ks, frames):
            if f is not None:
                done[k] = f
        return True

    def _apply_banked(self, frame: tuple) -> None:
        """Set the Python figure to a stored frame (the page has drawn the same; no message is sent)."""
        traces, title, _ = frame
        fig = self.figure
        for trace, values in zip(fig.data, traces):
            for axis, v in zip(AXES, values):
                if v is not None:
                    setattr(trace, axis, v)
        fig.layout.title.text = title
