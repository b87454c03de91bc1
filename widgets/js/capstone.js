// The capstone's 3-D frame banks (widgets/capstone.py, Frames3D): every state of an index control
// ("step", "frame"), shipped once as float32 buffers with x, y and z; the page draws the frame the
// controls ask for, so Play runs in the page with no kernel round trip per frame. Each 3-D update
// rebuilds the WebGL buffers of the traces it names, so a trace whose frame holds the same bytes as
// the frame drawn last (the paths' lines before the last step) is left out of the update.
export default {
  async render({ model, el }) {
    return await drive(model, el, async ({figure, values, state, ctx}) => {
      let banks = [], loads = 0;
      const load = async () => {
        const mine = ++loads, got = await Promise.all(model.get("banks").map((r) => modelOf(model, r)));
        if (mine === loads) banks = got;
      };
      await load();
      let applying = false, pending = false;
      let shown = new Map();  // trace -> [bank, frame] drawn last by this page
      figure.on("change:_py2js_update", () => {
        if (applying || !figure.get("_py2js_update")) return;
        shown = new Map();
        setTimeout(draw, 0);  // a late kernel update: the page draws what the controls say again
      }, ctx);
      const bytes = (view, k, n) => new Uint8Array(view.buffer, view.byteOffset + k * n * 4, n * 4);
      const same = (bank, i, k, j) => ["xs", "ys", "zs"].every((c) => {
        const view = bank.get(c)[i], n = bank.get("sizes")[i], a = bytes(view, k, n), b = bytes(view, j, n);
        for (let m = 0; m < a.length; m++) if (a[m] !== b[m]) return false;
        return true;
      });
      const paint = () => {
        pending = false;
        const v = values();
        const bank = banks.find((b) => Object.entries(b.get("match")).every(([n, want]) => v[n] === want));
        if (!bank) return;  // not shipped yet: drawn when it arrives
        const k = Math.round(v[model.get("index")] - model.get("index_min"));
        if (k < 0 || k >= bank.get("titles").length) return;
        const sizes = bank.get("sizes"), traces = bank.get("traces");
        const idx = traces.map((_, i) => i).filter((i) => {
          const last = shown.get(traces[i]);
          return !(last && last[0] === bank && same(bank, i, k, last[1]));
        });
        applying = true;
        try {
          apply(figure, idx.length === 0 ? {} :
                {x: idx.map((i) => f32Frame(bank.get("xs")[i], k, sizes[i])),
                 y: idx.map((i) => f32Frame(bank.get("ys")[i], k, sizes[i])),
                 z: idx.map((i) => f32Frame(bank.get("zs")[i], k, sizes[i]))},
                {"title.text": bank.get("titles")[k], meta: {state: state(v)}}, idx.map((i) => traces[i]));
          for (const i of idx) shown.set(traces[i], [bank, k]);
        } finally {
          applying = false;
        }
      };
      // One draw per animation frame at most: a Play faster than the screen cannot queue draws.
      const draw = () => { if (!pending) { pending = true; requestAnimationFrame(paint); } };
      model.on("change:banks", async () => { await load(); draw(); }, ctx);
      return draw;
    });
  },
};
