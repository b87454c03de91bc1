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
