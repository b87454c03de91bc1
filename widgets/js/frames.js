// Frame banks (widgets/_bank.py): the page draws the frame the controls ask for from the banks the
// kernel shipped, with no round trip. A bank holds some frames (rows) of one combination of the
// other controls (`match`); each trace's x, y and z columns are float32 rows (1-D, or 2-D for a heat
// map's z), text rows, or absent; a column with one row is the same in every frame.
const ROWS = new WeakMap();  // bank model -> Map(frame number -> row)

function rowsOf(bank) {
  let rows = ROWS.get(bank);
  if (!rows) {
    const ks = bank.get("ks");
    const k32 = new Int32Array(ks.buffer.slice(ks.byteOffset, ks.byteOffset + ks.byteLength));
    rows = new Map(Array.from(k32, (k, r) => [k, r]));
    ROWS.set(bank, rows);
  }
  return rows;
}

function ints(view) {  // an int32 bytes trait as an Int32Array (its own copy: the view may be unaligned)
  return new Int32Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
}

const COLS = new WeakMap();  // column object -> {offsets, widths}

function rowBytes(col, r) {  // row r of a numeric column, as bytes (for "same as drawn last")
  let meta = COLS.get(col);
  if (!meta) { meta = {offsets: ints(col.offsets), widths: ints(col.widths)}; COLS.set(col, meta); }
  const n = meta.offsets.length - 1, row = n === 1 ? 0 : r;
  const a = meta.offsets[row], b = meta.offsets[row + 1];
  return {meta, row, bytes: new Uint8Array(col.data.buffer, col.data.byteOffset + a * 4, (b - a) * 4)};
}

function value(col, r) {  // what the figure's _py2js_update carries for this column in row r
  if (col == null) return undefined;
  if (col.text) return col.text[col.text.length === 1 ? 0 : r];
  const {meta, row, bytes} = rowBytes(col, r);
  const width = meta.widths[row];
  const copy = new Float32Array(bytes.slice().buffer);
  if (!width) return {dtype: "float32", shape: [copy.length], value: new DataView(copy.buffer)};
  const out = [];  // a heat map's z: rows of plain numbers
  for (let i = 0; i < copy.length; i += width) out.push(Array.from(copy.subarray(i, i + width)));
  return out;
}

function floats(col, r) {  // row r of a 1-D numeric column as its own Float32Array
  const {meta, row, bytes} = rowBytes(col, r);
  return meta.widths[row] ? null : new Float32Array(bytes.slice().buffer);
}

function sameRow(col, r, s) {
  if (col == null) return true;
  if (col.text) return col.text.length === 1 || JSON.stringify(col.text[r]) === JSON.stringify(col.text[s]);
  const a = rowBytes(col, r), b = rowBytes(col, s);
  if (a.row === b.row) return true;
  if (a.meta.widths[a.row] !== b.meta.widths[b.row] || a.bytes.length !== b.bytes.length) return false;
  for (let m = 0; m < a.bytes.length; m++) if (a.bytes[m] !== b.bytes[m]) return false;
  return true;
}

// Play's fast path. plotly's own update (what a kernel message does) re-runs the whole figure for
// one moved trace: defaults and calc for every trace, every 3-D trace's WebGL buffers rebuilt, the
// layout redrawn, and the FigureWidget then diffs every trace against the page. When a frame changes
// only the x, y and z of 3-D scatter traces (the capstone's particles) and a plain-text title, the
// page hands the new coordinates to each moved trace's own WebGL object (the scene redraws it on its
// next animation frame), writes the title into the drawn title, and keeps the plot's data and layout
// and the figure model's copy equal to what plotly's update would have left. Anything else (another
// trace type, text columns, a length change, a plot not drawn yet) takes plotly's update.
const PLAIN_TITLE = /^[^<>&$\n]*$/;

function scenePlot(gd, t, n) {  // trace t's 3-D scatter object in plot gd, if it can take n points as they are
  const full = gd._fullData && gd._fullData[t], layout = gd._fullLayout;
  if (!full || full.type !== "scatter3d" || full.visible !== true || !full.x || full.x.length !== n || !gd.data[t]) return null;
  const scene = layout[full.scene] && layout[full.scene]._scene;
  const obj = scene && scene.traces && scene.traces[full.uid];
  return obj && typeof obj.update === "function" ? {full, obj} : null;
}

function drawDirect(figure, plots, traces, coords, title, meta) {
  // coords[j]: {x, y, z} Float32Arrays for figure trace traces[j]. False (nothing changed) if any
  // plot cannot take the frame this way.
  if (!plots.length || !PLAIN_TITLE.test(title) || coords.some((c) => !c.x || !c.y || !c.z)) return false;
  const found = [];
  for (const gd of plots) {
    const text = gd.querySelector(".gtitle");
    if (!gd.isConnected || !text || text.childElementCount) return false;
    const objs = traces.map((t, j) => scenePlot(gd, t, coords[j].x.length));
    if (objs.some((o) => !o) || coords.some((c) => c.y.length !== c.x.length || c.z.length !== c.x.length)) return false;
    found.push([gd, text, objs]);
  }
  const data = figure.get("_widget_data"), layout = figure.get("_widget_layout");
  traces.forEach((t, j) => Object.assign(data[t], coords[j]));
  layout.title = {...(layout.title || {}), text: title};
  layout.meta = meta;
  for (const [gd, text, objs] of found) {
    traces.forEach((t, j) => {
      Object.assign(gd.data[t], coords[j]);
      Object.assign(objs[j].full, coords[j]);
      objs[j].obj.update(objs[j].full);
    });
    gd.layout.title = {...(gd.layout.title || {}), text: title};
    gd._fullLayout.title.text = title;
    gd.layout.meta = gd._fullLayout.meta = meta;
    text.setAttribute("data-unformatted", title);
    text.textContent = title;
  }
  return true;
}

async function plotsOf(figure) {  // the plotly graph divs of every view of the figure
  const views = await Promise.all(Object.values(figure.views || {}));
  return views.map((v) => v && v.el && (v.el._fullLayout ? v.el : v.el.querySelector(".js-plotly-plot")))
    .filter((gd) => gd && gd._fullLayout);
}

export default {
  async render({ model, el }) {
    return await drive(model, el, async ({figure, values, state, ctx}) => {
      let banks = [], loads = 0;
      const load = async () => {  // banks only grow; a slower, older load must not undo a newer one
        const mine = ++loads, got = await Promise.all(model.get("banks").map((r) => modelOf(model, r)));
        if (mine === loads) banks = got;
      };
      await load();
      // What each trace shows since the kernel last drew: [bank, row]. A kernel update can arrive
      // after the page drew a newer banked state (it was computed for an older one): then the page
      // draws what the controls say again, every trace.
      let shown = new Map(), applying = false;
      figure.on("change:_py2js_update", () => {
        if (applying || !figure.get("_py2js_update")) return;
        shown = new Map();
        setTimeout(draw, 0);  // after the figure's view has applied the kernel's update
      }, ctx);
      const find = (v) => {  // the bank and row holding the frame for control values v, or null
        // frame k holds index value index_min + k * index_step (an integer index: 0 + k * 1)
        const pos = (v[model.get("index")] - model.get("index_min")) / model.get("index_step");
        const k = Math.round(pos);
        if (!(Math.abs(pos - k) < 1e-6)) return null;
        for (const b of banks) {
          if (!Object.entries(b.get("match")).every(([n, want]) => v[n] === want)) continue;
          const row = rowsOf(b).get(k);
          if (row === undefined || !new Uint8Array(b.get("valid").buffer, b.get("valid").byteOffset)[row]) continue;
          return [b, row];
        }
        return null;
      };
      // A kernel update computed for an older state than the controls show (a backlog behind a fast
      // drag of an unbanked control) would flash that older frame over the banked one the page has
      // drawn for the current state. When the page holds the current state's frame, such an update
      // loses what a bank carries (trace x, y, z, the title and the recorded state) and keeps the
      // rest (which a bank never varies); the kernel's update for the current state draws as usual.
      const setState = figure.set_state;
      const same = (a, b) => typeof a === "number" && typeof b === "number" ? Math.abs(a - b) < 1e-9 : a === b;
      figure.set_state = function (update, ...rest) {
        const u = update && update._py2js_update, meta = u && u.layout_data && u.layout_data.meta;
        const v = values(), now = state(v);
        if (applying || !meta || !meta.state || Object.keys(now).every((n) => same(meta.state[n], now[n]))
            || !find(v)) {
          return setState.call(this, update, ...rest);
        }
        const style = Object.fromEntries(Object.entries(u.style_data || {}).filter(([a]) => !["x", "y", "z"].includes(a)));
        const layout = Object.fromEntries(Object.entries(u.layout_data || {}).filter(
          ([a]) => !(a === "meta" || a === "title" || a.startsWith("title."))));
        const kept = Object.keys(style).length || Object.keys(layout).length
          ? {...update, _py2js_update: {...u, style_data: style, layout_data: layout}} : (({_py2js_update, ...o}) => o)(update);
        return setState.call(this, kept, ...rest);
      };
      ctx.restore = () => { figure.set_state = setState; };
      let plots = [], finding = null;
      const refresh = () => {  // the figure's drawn plots, looked up again on every draw (views come and go)
        if (finding) return;
        finding = plotsOf(figure).then((found) => { plots = found; }, () => { plots = []; })
          .finally(() => { finding = null; });
      };
      const paint = () => {
        const v = values();
        const found = find(v);
        if (!found) return;  // not shipped yet (drawn when it arrives, if still wanted), or the kernel's
        const [bank, r] = found;
        const cols = bank.get("cols"), traces = bank.get("traces");
        // a trace the same as drawn last from this bank is left out (3-D and WebGL traces rebuild
        // their buffers on every update)
        const use = traces.map((_, i) => i).filter((i) => {
          const last = shown.get(traces[i]);
          return !(last && last[0] === bank && ["x", "y", "z"].every((a) => sameRow(cols[i][a], r, last[1])));
        });
        const style = () => {  // plotly's update, as a kernel message carries it
          const out = {};
          for (const a of ["x", "y", "z"]) if (use.some((i) => cols[i][a] != null)) out[a] = use.map((i) => value(cols[i][a], r));
          return out;
        };
        const title = bank.get("titles")[r], meta = {state: state(v)};
        refresh();
        applying = true;
        try {
          const direct = use.length > 0 && use.every((i) => ["x", "y", "z"].every((a) => cols[i][a] && !cols[i][a].text))
            && drawDirect(figure, plots, use.map((i) => traces[i]),
                          use.map((i) => Object.fromEntries(["x", "y", "z"].map((a) => [a, floats(cols[i][a], r)]))),
                          title, meta);
          if (!direct) apply(figure, style(), {"title.text": title, meta}, use.map((i) => traces[i]));
          for (const i of use) shown.set(traces[i], [bank, r]);
        } finally {
          applying = false;
        }
      };
      // At most one draw per animation frame: a drag faster than the screen cannot queue draws,
      // and a single key press draws at once. A page in the background gets no animation frames:
      // a timer releases the next draw there.
      let busy = false, pending = false;
      const draw = () => {
        if (busy) { pending = true; return; }
        busy = true;
        paint();
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          busy = false;
          if (pending) { pending = false; draw(); }
        };
        requestAnimationFrame(release);
        setTimeout(release, 50);
      };
      model.on("change:banks", async () => { await load(); draw(); }, ctx);
      return draw;
    });
  },
};
