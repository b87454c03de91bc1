// The capstone's 3-D frame banks (widgets/capstone.py, Frames3D): every state of an index control
// ("step", "frame"), shipped once as float32 buffers with x, y and z; the page draws the frame the
// controls ask for, so Play runs in the page with no kernel round trip per frame.
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
      figure.on("change:_py2js_update", () => {
        if (applying || !figure.get("_py2js_update")) return;
        setTimeout(draw, 0);  // a late kernel update: the page draws what the controls say again
      }, ctx);
      const paint = () => {
        pending = false;
        const v = values();
        const bank = banks.find((b) => Object.entries(b.get("match")).every(([n, want]) => v[n] === want));
        if (!bank) return;  // not shipped yet: drawn when it arrives
        const k = Math.round(v[model.get("index")] - model.get("index_min"));
        if (k < 0 || k >= bank.get("titles").length) return;
        const sizes = bank.get("sizes"), traces = bank.get("traces");
        const idx = traces.map((_, i) => i);
        applying = true;
        try {
          apply(figure,
                {x: idx.map((i) => f32Frame(bank.get("xs")[i], k, sizes[i])),
                 y: idx.map((i) => f32Frame(bank.get("ys")[i], k, sizes[i])),
                 z: idx.map((i) => f32Frame(bank.get("zs")[i], k, sizes[i]))},
                {"title.text": bank.get("titles")[k], meta: {state: state(v)}}, traces);
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
