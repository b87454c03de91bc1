// The course's plotly figure (widgets._figure.Figure): plotly's FigureWidget, started so that a slow
// or busy browser cannot leave it blank.
//
// anywidget gives a model 2 s to load its module and run its `initialize`; after that the model's
// `ready` promise rejects, and from then on anywidget drops every message the kernel sends to that
// model. plotly's own module is its 5 MB widget bundle, imported once per figure: measured 2.2-2.9 s
// in a headless Chromium on a loaded 2-core machine. So on a busy machine the kernel's first draw
// (traces, title) never reached the page, and the plot stayed empty for good.
//
// This module is small and its `initialize` returns at once. The bundle is imported once per page
// (every figure shares it) and plotly's model is started when it has loaded; the kernel's updates
// that arrive in the meantime are kept and handed to it in order. Until the plot is drawn its cell
// output says so; if the bundle cannot load, the output says what to do. And a figure that missed the
// 2 s still takes the kernel's later updates (tolerateSlowStart, common.js).

const PY2JS = ["_py2js_addTraces", "_py2js_deleteTraces", "_py2js_moveTraces", "_py2js_restyle",
               "_py2js_relayout", "_py2js_update", "_py2js_animate", "_py2js_removeLayoutProps",
               "_py2js_removeTraceProps"];
const SLOW_MS = 20000;  // after this long without a plot, the message adds what to do

const bundles = (globalThis.__courseBundles = globalThis.__courseBundles || new Map());

function bundle(model) {
  const key = model.get("_bundle_key");
  if (!bundles.has(key)) {
    const url = URL.createObjectURL(new Blob([model.get("_bundle")], {type: "text/javascript"}));
    const loading = import(url).finally(() => URL.revokeObjectURL(url));
    loading.then((mod) => { loading.module = mod; }, () => {});
    bundles.set(key, loading);
  }
  return bundles.get(key);
}

function tolerateAnywidget(model) {
  // tolerateSlowStart (common.js, which this module starts with: widgets._hooks.esm) on anywidget's
  // model class, found through the widget manager (`initialize` gets a proxy, not the model).
  const models = Object.values((model.widget_manager && model.widget_manager._models) || {});
  Promise.resolve().then(async () => {
    for (const found of models) {
      try {
        const m = await found;
        if (m && m.constructor && m.constructor.model_name === "AnyModel") return tolerateSlowStart(m);
      } catch (e) { /* a model that failed: try the next */ }
    }
  });
}

export default () => {
  let plotly = null;          // plotly's widget ({initialize, render}) once its model is started
  let started = null;         // resolves when it is
  return {
    initialize({ model }) {
      tolerateAnywidget(model);
      const loading = bundle(model);
      const start = (mod) => {
        plotly = mod.default();
        plotly.initialize({ model });
      };
      if (loading.module) {   // loaded already (a later figure in this page): start now
        start(loading.module);
        started = Promise.resolve();
        return;
      }
      // The kernel's updates until plotly's model listens. A full state (_widget_data and
      // _widget_layout, which the Panel sends after its first draw) replaces what came before.
      let queue = [], fresh = new Set();
      const keep = (name) => () => { if (queue) queue.push([name, model.get(name)]); };
      for (const name of PY2JS) model.on(`change:${name}`, keep(name));
      for (const name of ["_widget_data", "_widget_layout"]) {
        model.on(`change:${name}`, () => {
          if (!queue) return;
          fresh.add(name);
          if (fresh.size === 2) { queue = []; fresh = new Set(); }
        });
      }
      started = loading.then((mod) => {
        const pending = queue;
        queue = null;
        start(mod);
        for (const [name, value] of pending) {  // in the order they came, as plotly would have seen them
          if (value === null || value === undefined) continue;
          model.set(name, null, {silent: true});
          model.set(name, value);
        }
      });
      started.catch(() => {});
    },
    async render({ model, el }) {
      if (!plotly) {
        const note = document.createElement("div");
        note.className = "course-figure-status";
        note.style.cssText = "padding: 12px; color: #555; font: 13px sans-serif;";
        note.textContent = "Loading the plot…";
        el.appendChild(note);
        const slow = setTimeout(() => {
          note.textContent = "Loading the plot… the browser is busy. If nothing appears in a minute, "
            + "reload the page, then run this cell again (Shift+Enter).";
        }, SLOW_MS);
        try {
          await started;
        } catch (error) {
          note.classList.add("course-figure-status--failed");
          note.style.color = "#b00020";
          note.textContent = `The plot could not load (${error && error.message || error}). Reload the page, `
            + "then run this cell again (Shift+Enter); if it still fails, restart the kernel (Kernel > Restart) "
            + "and run all cells.";
          return () => {};
        } finally {
          clearTimeout(slow);
        }
        note.remove();
      }
      return plotly.render({ model, el });
    },
  };
};
