// Shared by the Panel's page-side helpers (hooks.js, frames.js, schedule.js); each is loaded after this file.
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

const REHOOKED = new WeakSet();  // widget managers whose models' comms tolerateSlowStart hooked again

function tolerateSlowStart(raw) {
  // anywidget gives a model 2 s to load its module; after that its `ready` promise rejects and
  // anywidget drops every message the kernel sends to the model (each one awaits `ready` first).
  // On a busy machine that leaves a companion without its banks, and a figure the kernel draws
  // frozen at its first state. Patched once per page on anywidget's model class: a message that
  // waited for a model that missed the 2 s is still applied to the model's state (the view reads
  // the state when it renders; plotly's view redraws on the state's change events).
  const proto = raw && Object.getPrototypeOf(raw);
  if (!proto || typeof proto._handle_comm_msg !== "function") return;
  if (!proto.__courseTolerant) {
    const base = Object.getPrototypeOf(proto)._handle_comm_msg, own = proto._handle_comm_msg;
    if (typeof base !== "function" || base === own) return;
    proto.__courseTolerant = true;
    proto._handle_comm_msg = function (...msg) {
      return Promise.resolve(own.apply(this, msg)).catch((error) => {
        if (!String(error && error.message || error).includes("[anywidget]")) throw error;
        return base.apply(this, msg);
      });
    };
  }
  // ipywidgets hooks a model's comm to `this._handle_comm_msg.bind(this)` when it builds the model,
  // so a model built before this patch (every model of the page built before the course's first
  // module ran: the first Panel's figure and companion) still has anywidget's own handler. Hook
  // those comms again, once per widget manager (each notebook has its own).
  const manager = raw.widget_manager;
  if (!manager || REHOOKED.has(manager)) return;
  REHOOKED.add(manager);
  for (const found of Object.values(manager._models || {})) {
    Promise.resolve(found).then((m) => {
      if (m && m.comm && typeof m.comm.on_msg === "function" && Object.getPrototypeOf(m) === proto) {
        m.comm.on_msg(m._handle_comm_msg.bind(m));
      }
    }, () => {});  // a model that failed to build takes no messages
  }
}

async function figureOf(model) {
  // The Panel's figure model, with the page hooks every Panel needs.
  const figure = await modelOf(model, model.get("figure"));
  tolerateSlowStart(figure);
  quietFigure(figure);
  return figure;
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
  const figure = await figureOf(model);
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
    if (ctx.restore) ctx.restore();  // what the setup changed on shared models (frames.js: set_state)
    DRIVERS.delete(uid);
    try { model.set("driving", false); model.save_changes(); } catch (e) { /* kernel gone */ }
  };
}
