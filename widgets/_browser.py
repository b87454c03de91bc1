"""Browser-side drawing: slider moves that need no kernel round trip.

A slider move that goes through the kernel costs a websocket round trip, the widget's Python
and the FigureWidget's message handling (100-150 ms median measured on the loaded 2-core CI
box; see docs/BROWSER_TESTS.md and bench/bench_latency.py). Two companions take the cheap part
into the browser, while the learner's Python function still provides the data:

* :class:`FrameBank` holds frames the learner's function produced in Python (one per
  value of an "index" control, e.g. ``t`` or ``frame``), shipped once as float32 buffers.
  When the index control moves, the browser picks the frame and hands it to the figure.
  New frames (a new number of sampler steps) are shipped as a new bank, and the page draws
  them when they arrive, if the controls still ask for them: the kernel sends no figure
  update for a banked state, because one computed for an older control value could land
  after the page has drawn a newer one (a stale frame).
* :class:`ScheduleCompanion` draws the closed-form linear and cosine schedules in the
  browser, but only for schedules whose Python output (the learner's function) has been
  verified against the closed form. Every move is still computed in Python and compared;
  the first mismatch revokes the trust and from then on the learner's own data is drawn.

Both draw by setting ``_py2js_update`` on the FigureWidget's model in the page, exactly
as a kernel message would (``set_state`` locks the change, so nothing echoes back). The
Python side then updates the same FigureWidget silently (see :class:`widgets.Panel`), so
``panel.figure.data`` in Python stays equal to what the page shows.

A companion only draws once its view reports ``driving = True``; until then, and for
every state it does not cover, the kernel draws as before.
"""
from __future__ import annotations

import math
import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Sequence

import anywidget
import ipywidgets as W
import numpy as np
import traitlets as T

# Set to False (before building a widget) to leave every draw to the kernel, e.g. to measure
# the kernel round trip (bench/bench_latency.py). Widgets built then keep that behaviour.
enabled = True

_COMMON_JS = r"""
const CONTROL_KEYS = new Set(["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown"]);

function suppressShortcuts(el, tries = 600) {
  // Arrow keys pressed on a control belong to the control. Without this, ArrowDown on a
  // focused dropdown (or ArrowUp on a slider) also runs JupyterLab's notebook shortcut
  // "select the cell below", which cancels the key, so the dropdown never changes.
  // Lumino skips its shortcuts for a key whose target carries data-lm-suppress-shortcuts;
  // other keys (Shift+Enter, Escape) keep working from a focused control.
  const panel = el.closest(".course-widget");
  if (!panel) {
    if (tries > 0) requestAnimationFrame(() => suppressShortcuts(el, tries - 1));
    return;
  }
  if (panel.__courseKeys) return;
  panel.__courseKeys = true;
  panel.addEventListener("keydown", (e) => {
    if (!(e.target instanceof Element) || e.target === panel) return;
    const own = CONTROL_KEYS.has(e.key) && !e.ctrlKey && !e.metaKey && !e.altKey;
    if (own) e.target.setAttribute("data-lm-suppress-shortcuts", "true");
    else e.target.removeAttribute("data-lm-suppress-shortcuts");
  }, true);
}

// After every update the FigureWidget's page side reports the figure's computed defaults back to
// Python (_js2py_traceDeltas, _js2py_widget_layoutDelta: ~7 KB per move). A Panel never reads
// them (see widgets.Panel), yet each costs the kernel a message, an echo back to the page and
// ~30-40 ms of busy time per move, so a drag queues behind them. Keep them in the page.
const QUIET = new Set(["_js2py_traceDeltas", "_js2py_layoutDelta", "_js2py_widget_layoutDelta"]);

function quietFigure(figure) {
  // The figure's own view holds bound copies of model.set and model.save_changes (anywidget),
  // but save_changes looks up this.save at call time: drop the reports there.
  if (!figure || figure.__courseQuiet) return;
  figure.__courseQuiet = true;
  const save = figure.save;
  figure.save = function (attrs, options) {
    if (attrs && typeof attrs === "object" && Object.keys(attrs).some((k) => QUIET.has(k))) {
      attrs = Object.fromEntries(Object.entries(attrs).filter(([k]) => !QUIET.has(k)));
      if (Object.keys(attrs).length === 0) return false;
    }
    return save.call(this, attrs, options);
  };
}

const DRIVERS = new Set();  // one driving view per companion model, however often it is displayed

async function modelOf(model, ref) {
  return await model.widget_manager.get_model(String(ref).replace(/^IPY_MODEL_/, ""));
}

function f64(values) {  // the wire form the FigureWidget's model expects for a typed array
  return {dtype: "float64", shape: [values.length], value: new DataView(values.buffer)};
}

function f32Frame(view, k, n) {  // frame k of a (frames, n) float32 buffer, as its own buffer
  const start = view.byteOffset + k * n * 4;
  return {dtype: "float32", shape: [n], value: new DataView(view.buffer.slice(start, start + n * 4))};
}

function apply(figure, styleData, layoutData, traces) {
  // What a kernel `_py2js_update` message does; set_state keeps it from echoing back.
  figure.set_state({_py2js_update: {style_data: styleData, layout_data: layoutData, style_traces: traces}});
  figure.set_state({_py2js_update: null});
}

async function drive(model, el, setup) {
  el.style.display = "none";
  suppressShortcuts(el);
  const uid = model.get("uid");
  if (DRIVERS.has(uid)) return () => {};
  DRIVERS.add(uid);
  const ctx = {};
  const figure = await modelOf(model, model.get("figure"));
  quietFigure(figure);
  const controls = {};
  for (const [name, ref] of Object.entries(model.get("controls"))) controls[name] = await modelOf(model, ref);
  // A selection widget (Dropdown) syncs `index`, not `value`: its value here is the option's label
  // (the option itself for string options, as the course's dropdowns use).
  const valueOf = (c) => c.get("value") !== undefined ? c.get("value") : (c.get("_options_labels") || [])[c.get("index")];
  const values = () => Object.fromEntries(Object.entries(controls).map(([n, c]) => [n, valueOf(c)]));
  const state = (v) => Object.fromEntries(model.get("state_controls").map((n) => [n, v[n]]));
  const draw = await setup({figure, controls, values, state, ctx});
  for (const c of Object.values(controls)) c.on("change:value change:index", draw, ctx);
  draw();  // a page that connected late (Voilà) may hold an older frame than the controls say
  model.set("driving", true);
  model.save_changes();
  return () => {
    for (const c of Object.values(controls)) c.off(null, null, ctx);
    figure.off(null, null, ctx);
    model.off(null, null, ctx);
    DRIVERS.delete(uid);
    try { model.set("driving", false); model.save_changes(); } catch (e) { /* kernel gone */ }
  };
}
"""

_FRAMES_JS = _COMMON_JS + r"""
export default {
  async render({ model, el }) {
    return await drive(model, el, async ({figure, values, state, ctx}) => {
      let banks = [], loads = 0;
      const load = async () => {  // banks only grow; a slower, older load must not undo a newer one
        const mine = ++loads, got = await Promise.all(model.get("banks").map((r) => modelOf(model, r)));
        if (mine === loads) banks = got;
      };
      await load();
      // Which bank the plot shows since the kernel last drew (then traces that stay the same
      // along the slider are shown too). A kernel update can arrive after the page drew a newer
      // banked state (it was computed for an older one): then the page draws its frame again.
      let shown = null, applying = false;
      figure.on("change:_py2js_update", () => {
        if (applying || !figure.get("_py2js_update")) return;
        shown = null;
        setTimeout(draw, 0);  // after the figure's view has applied the kernel's update
      }, ctx);
      const draw = () => {
        const v = values();
        const bank = banks.find((b) => Object.entries(b.get("match")).every(([n, want]) => v[n] === want));
        if (!bank) return;  // not shipped yet: drawn when it arrives (change:banks), if still wanted
        // frame k holds index value index_min + k * index_step (an integer index: 0 + k * 1)
        const pos = (v[model.get("index")] - model.get("index_min")) / model.get("index_step");
        const k = Math.round(pos);
        if (!(Math.abs(pos - k) < 1e-6) || k < 0 || k >= bank.get("titles").length) return;
        if (!new Uint8Array(bank.get("valid").buffer, bank.get("valid").byteOffset)[k]) return;
        const sizes = bank.get("sizes"), xconst = bank.get("xconst"), fixed = bank.get("fixed") || [];
        const xs = bank.get("xs"), ys = bank.get("ys"), traces = bank.get("traces");
        // a fixed trace (one frame: the same at every slider position) is drawn when the bank changes
        const use = traces.map((_, i) => i).filter((i) => shown !== bank || !fixed[i]);
        applying = true;
        try {
          apply(figure,
                {x: use.map((i) => xconst[i] != null ? xconst[i] : f32Frame(xs[i], fixed[i] ? 0 : k, sizes[i])),
                 y: use.map((i) => f32Frame(ys[i], fixed[i] ? 0 : k, sizes[i]))},
                {"title.text": bank.get("titles")[k], meta: {state: state(v)}},
                use.map((i) => traces[i]));
        } finally {
          applying = false;
        }
        shown = bank;
      };
      model.on("change:banks", async () => { await load(); draw(); }, ctx);
      return draw;
    });
  },
};
"""

_SCHEDULE_JS = _COMMON_JS + r"""
const fr = Math.fround;

function linear(T, b0, b1) {  // torch.linspace(b0, b1, T, dtype=float32)
  const out = new Float64Array(T), step = T > 1 ? (b1 - b0) / (T - 1) : 0, half = Math.floor(T / 2);
  for (let i = 0; i < T; i++) out[i] = fr(i < half ? b0 + step * i : b1 - step * (T - 1 - i));
  return out;
}

function cosine(T, s = 0.008, maxBeta = 0.999) {  // Nichol & Dhariwal (2021)
  const f = (u) => Math.cos((u + s) / (1 + s) * Math.PI / 2) ** 2;
  const out = new Float64Array(T);
  for (let t = 0; t < T; t++) out[t] = fr(Math.min(1 - f((t + 1) / T) / f(t / T), maxBeta));
  return out;
}

const SCHEDULES = {linear, cosine: (T) => cosine(T)};

export default {
  async render({ model, el }) {
    return await drive(model, el, async ({figure, values, state}) => () => {
      const v = values(), name = v.schedule, T = v.T, b0 = v.beta_start, b1 = v.beta_end;
      if (!model.get("trusted").includes(name) || !SCHEDULES[name]) return;  // the kernel draws
      const betas = SCHEDULES[name](T, b0, b1);
      const t = new Float64Array(T), alphaBar = new Float64Array(T), snr = new Float64Array(T);
      let prod = 1;
      for (let i = 0; i < T; i++) {
        t[i] = i;
        prod *= fr(1 - betas[i]);
        alphaBar[i] = fr(prod);
        const l = Math.log(alphaBar[i]) - Math.log1p(-alphaBar[i]);
        snr[i] = Number.isFinite(l) ? l : NaN;
      }
      const title = `schedule = ${name}, T = ${T}, beta_start = ${b0.toFixed(5)}, beta_end = ${b1.toFixed(3)}`;
      apply(figure, {x: [f64(t), f64(t.slice()), f64(t.slice())], y: [f64(betas), f64(alphaBar), f64(snr)]},
            {"title.text": title, meta: {state: state(v)}}, [0, 1, 2]);
    });
  },
};
"""


_HOOKS_JS = _COMMON_JS + r"""
export default {
  async render({ model, el }) {
    el.style.display = "none";
    suppressShortcuts(el);
    if (model.get("figure")) quietFigure(await modelOf(model, model.get("figure")));
  },
};
"""


class PanelHooks(anywidget.AnyWidget):
    """An invisible child of every Panel without a companion: keeps keys on its controls and the
    figure's computed-defaults reports in the page (see the JS)."""

    _esm = _HOOKS_JS
    figure = T.Instance(W.Widget, allow_none=True).tag(sync=True, **W.widget_serialization)

    def __init__(self, figure=None, **kwargs):
        super().__init__(figure=figure, layout=W.Layout(display="none"), **kwargs)


class _Companion(anywidget.AnyWidget):
    """An invisible child of a Panel that draws some states in the browser (see module docstring)."""

    uid = T.Unicode().tag(sync=True)
    figure = T.Instance(W.Widget).tag(sync=True, **W.widget_serialization)
    controls = T.Dict().tag(sync=True, **W.widget_serialization)
    state_controls = T.List(T.Unicode()).tag(sync=True)
    driving = T.Bool(False).tag(sync=True)

    def __init__(self, figure, controls: dict[str, W.Widget], state_controls: Sequence[str], **kwargs):
        super().__init__(uid=uuid.uuid4().hex, figure=figure, controls=dict(controls),
                         state_controls=list(state_controls), layout=W.Layout(display="none"), **kwargs)


# ---------------------------------------------------------------- frames from the learner's function
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

    _esm = _FRAMES_JS
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


# ---------------------------------------------------------------- closed-form schedules
def closed_form_betas(name: str, T: int, beta_start: float, beta_end: float) -> np.ndarray | None:
    """The betas the browser draws for schedule ``name`` (float64 of float32 values), or None."""
    if name == "linear":
        i = np.arange(T, dtype=np.float64)
        step = (beta_end - beta_start) / (T - 1) if T > 1 else 0.0
        out = np.where(i < T // 2, beta_start + step * i, beta_end - step * (T - 1 - i))
    elif name == "cosine":
        s, max_beta = 0.008, 0.999

        def f(u):
            return np.cos((u + s) / (1 + s) * math.pi / 2) ** 2

        t = np.arange(T, dtype=np.float64)
        out = np.minimum(1 - f((t + 1) / T) / f(t / T), max_beta)
    else:
        return None
    return out.astype(np.float32).astype(np.float64)


def js_fixed(x: float, digits: int) -> str:
    """``x.toFixed(digits)`` as JavaScript writes it (ties round up; Python's format rounds to even)."""
    return str(Decimal(x).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def matches_closed_form(name: str, T: int, beta_start: float, beta_end: float,
                        betas: np.ndarray, alpha_bar: np.ndarray) -> bool:
    """Whether the learner's betas and alpha_bar equal the browser's closed form (float32 rounding)."""
    want = closed_form_betas(name, T, beta_start, beta_end)
    if want is None or betas.shape != want.shape or alpha_bar.shape != want.shape:
        return False
    want_ab = np.cumprod(1.0 - want)
    return bool(np.allclose(betas, want, rtol=1e-5, atol=1e-9)
                and np.allclose(alpha_bar, want_ab, rtol=1e-4, atol=1e-8))


class ScheduleCompanion(_Companion):
    """Draws trusted closed-form schedules in the browser (controls schedule, T, beta_start, beta_end)."""

    _esm = _SCHEDULE_JS
    trusted = T.List(T.Unicode()).tag(sync=True)
