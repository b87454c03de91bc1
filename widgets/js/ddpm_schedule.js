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
