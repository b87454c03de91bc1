"""What "the plot shows the state the control implies" means, checked in the page.

After every key press the test knows the value the control must now have (one step right,
the maximum after End, the next option after ArrowDown...). It then reads, from the page:
the control (what the learner sees), the plot's ``layout.meta.state`` and title, and every
trace's data; and from the kernel: ``Panel.snapshot()``. It asserts

1. the control shows the implied value and the plot's state records it;
2. page and kernel agree: same control values, same title (and the drawn SVG title says
   it), same trace arrays. The kernel holds what the learner's functions returned for the
   state (tests/test_widgets.py proves that in Python), so a stale or wrong frame fails here;
3. the title states the control's value as its readout shows it;
4. for the course's own widgets, the data obey the maths of the state the title names,
   computed here independently (closed-form schedules, x_t = sqrt(ab) x0 + sqrt(1-ab) eps
   statistics, sampler start ~ N(0, I) and end near the data).
"""
from __future__ import annotations

import math
import os
import re
import time

import numpy as np

SLIDERS = ("IntSlider", "FloatSlider")
DROPDOWNS = ("Dropdown",)
# Page data equal kernel data up to float32 rounding (the page may hold float32 frames or the
# browser's closed form); log-SNR near alpha_bar = 1 amplifies that rounding, hence atol.
RTOL, ATOL = 1e-4, 2e-3


class Mismatch(AssertionError):
    pass


# ---------------------------------------------------------------- comparisons
def close(a, b, step=None) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        tol = 1e-6 * abs(step) if step else 1e-9 * max(1.0, abs(b))
        return abs(a - b) <= tol
    return a == b


def as_array(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def compare_traces(page: list[dict], kernel: list[dict], where: str) -> float:
    """Raise unless page and kernel traces hold the same arrays; return the largest difference."""
    if len(page) != len(kernel):
        raise Mismatch(f"{where}: page has {len(page)} traces, the kernel {len(kernel)}")
    worst = 0.0
    for i, (p, k) in enumerate(zip(page, kernel)):
        for axis in ("x", "y", "z"):
            pv, kv = p.get(axis), k.get(axis)
            if kv is None:
                continue
            if pv is None:
                raise Mismatch(f"{where}: trace {i} has no {axis} in the page; the kernel has {len(kv)} values")
            if any(isinstance(v, str) for v in kv):  # categories: the same labels, in order
                if [str(v) for v in pv] != list(kv):
                    raise Mismatch(f"{where}: trace {i} {axis} labels differ: page {pv[:5]}..., kernel {kv[:5]}...")
                continue
            a, b = as_array(pv), as_array(kv)
            if a.shape != b.shape:
                raise Mismatch(f"{where}: trace {i} {axis}: {a.size} values in the page, {b.size} in the kernel")
            nan_a, nan_b = np.isnan(a), np.isnan(b)
            if not np.array_equal(nan_a, nan_b):
                raise Mismatch(f"{where}: trace {i} {axis}: gaps (nan) differ between page and kernel")
            if a.size and not nan_a.all():
                diff = np.abs(a[~nan_a] - b[~nan_b])
                bad = diff > ATOL + RTOL * np.abs(b[~nan_b])
                if bad.any():
                    j = int(np.argmax(bad))
                    raise Mismatch(f"{where}: trace {i} {axis} differs from the kernel at {int(bad.sum())} of "
                                   f"{a.size} points (first: page {a[~nan_a][j]!r}, kernel {b[~nan_b][j]!r})")
                worst = max(worst, float(diff.max()))
    return worst


# ---------------------------------------------------------------- key presses and the values they imply
def slider_keys(info: dict) -> list[str]:
    """A person's keyboard moves for a slider: one step, to the end, to the start."""
    one = "ArrowLeft" if close(info["value"], info["max"], info.get("step")) else "ArrowRight"
    return [one, "End", "Home"]


def dropdown_keys(info: dict) -> list[str]:
    options = info["options"]
    last = options.index(info["value"]) == len(options) - 1
    return ["ArrowUp", "ArrowDown"] if last else ["ArrowDown", "ArrowUp"]


def implied(info: dict, key: str):
    """The control's value after ``key``, from its value, limits and step before it."""
    if info["type"] in DROPDOWNS:
        options, i = info["options"], info["options"].index(info["value"])
        return options[min(i + 1, len(options) - 1)] if key == "ArrowDown" else options[max(i - 1, 0)]
    v, lo, hi, step = info["value"], info["min"], info["max"], info["step"]
    if key == "End":
        return hi
    if key == "Home":
        return lo
    n = {"ArrowRight": 1, "ArrowUp": 1, "ArrowLeft": -1, "ArrowDown": -1}[key]
    out = min(max(v + n * step, lo), hi)
    return int(round(out)) if info["type"] == "IntSlider" else out


def readout_text(dom: dict, name: str) -> str | None:
    c = dom.get(name, {})
    text = c.get("readout") if c.get("kind") == "slider" else c.get("value")
    # ipywidgets' slider readout writes negative numbers with a Unicode minus sign (U+2212).
    return text.replace("\u2212", "-") if isinstance(text, str) else text


def same_text(s: str) -> str:
    """Text as a reader compares it: the typographic minus (U+2212) is a minus."""
    return s.replace("\u2212", "-")


def key_name(want, info) -> str:
    return f"the key (implying {info.get('type', 'control')} = {want!r})"


# ---------------------------------------------------------------- independent maths per widget kind
def _cosine_betas(T: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    f = lambda u: np.cos((u + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    t = np.arange(T, dtype=np.float64)
    return np.minimum(1 - f((t + 1) / T) / f(t / T), max_beta)


def check_schedule(fig: dict, state: dict) -> None:
    m = re.fullmatch(r"schedule = (\S+), T = (\d+), beta_start = ([\d.]+), beta_end = ([\d.]+)", fig["title"])
    if not m:
        raise Mismatch(f"schedule title not understood: {fig['title']!r}")
    name, T, b0, b1 = m.group(1), int(m.group(2)), float(m.group(3)), float(m.group(4))
    if (name, T) != (state["schedule"], state["T"]) or abs(b0 - state["beta_start"]) > 6e-6 \
            or abs(b1 - state["beta_end"]) > 6e-4:
        raise Mismatch(f"title {fig['title']!r} does not state the controls {state}")
    t, betas, ab, snr = (as_array(fig["traces"][0]["x"]), as_array(fig["traces"][0]["y"]),
                         as_array(fig["traces"][1]["y"]), as_array(fig["traces"][2]["y"]))
    if not np.array_equal(t, np.arange(T)):
        raise Mismatch(f"beta_t is drawn over {t.size} steps, the state says T = {T}")
    want = {"linear": lambda: np.linspace(state["beta_start"], state["beta_end"], T),
            "cosine": lambda: _cosine_betas(T)}.get(name)
    if want is not None and not np.allclose(betas, want(), rtol=1e-5, atol=1e-9):
        raise Mismatch(f"beta_t is not the {name} schedule for {state}")
    if not np.allclose(ab, np.cumprod(1 - betas), rtol=1e-4, atol=1e-7):
        raise Mismatch("alpha_bar_t is not prod_{s<=t} (1 - beta_s) of the betas drawn")
    with np.errstate(divide="ignore", invalid="ignore"):
        want_snr = np.log(ab) - np.log1p(-ab)
    want_snr[~np.isfinite(want_snr)] = np.nan
    if not np.allclose(snr, want_snr, rtol=1e-6, atol=1e-6, equal_nan=True):
        raise Mismatch("log-SNR is not log(alpha_bar / (1 - alpha_bar)) of the alpha_bar drawn")


def check_forward_noising(fig: dict, state: dict) -> None:
    m = re.fullmatch(r"t = (\d+) / (\d+), alpha_bar_t = ([\d.]+)", fig["title"])
    if not m or int(m.group(1)) != state["t"]:
        raise Mismatch(f"title {fig['title']!r} does not state t = {state['t']}")
    ab = float(m.group(3))
    x0 = np.stack([as_array(fig["traces"][0]["x"]), as_array(fig["traces"][0]["y"])], 1)
    xt = np.stack([as_array(fig["traces"][1]["x"]), as_array(fig["traces"][1]["y"])], 1)
    if x0.shape != xt.shape:
        raise Mismatch(f"x_t has {len(xt)} points, x_0 {len(x0)}")
    resid = xt - math.sqrt(ab) * x0            # = sqrt(1 - ab) * eps, eps ~ N(0, I) fixed per point
    if 1 - ab >= 0.01:
        ratio = resid.std() / math.sqrt(1 - ab)
        slope = float((x0 * xt).sum() / (x0 * x0).sum())
        if not 0.85 < ratio < 1.15 or abs(slope - math.sqrt(ab)) > 0.06:
            raise Mismatch(f"x_t is not sqrt(ab) x_0 + sqrt(1 - ab) eps for ab = {ab} (residual std ratio "
                           f"{ratio:.3f}, slope {slope:.3f} vs {math.sqrt(ab):.3f})")
    elif np.abs(resid).max() > 5.5 * math.sqrt(1 - ab + 5e-5) + 1e-3:
        raise Mismatch(f"x_t is too far from x_0 for alpha_bar_t = {ab}")


def check_reverse_sampling(fig: dict, state: dict) -> None:
    m = re.fullmatch(r"(\S+), (\d+) steps, frame (\d+) / (\d+)", fig["title"])
    if not m:
        raise Mismatch(f"reverse player title not understood: {fig['title']!r}")
    name, S, k = m.group(1), int(m.group(2)), int(m.group(3))
    if name != state["sampler"] or k != state["frame"] or int(m.group(4)) != S:
        raise Mismatch(f"title {fig['title']!r} does not state {state}")
    xy = np.stack([as_array(fig["traces"][-1]["x"]), as_array(fig["traces"][-1]["y"])], 1)
    if k == 0:  # every sampler starts from pure noise
        if np.abs(xy.mean(0)).max() > 0.2 or not 0.85 < xy.std() < 1.15:
            raise Mismatch(f"frame 0 is not N(0, I) noise (mean {xy.mean(0)}, std {xy.std():.3f})")
    if k == S and S >= 10 and len(fig["traces"]) > 1:  # the end lands on the data
        data = np.stack([as_array(fig["traces"][0]["x"]), as_array(fig["traces"][0]["y"])], 1)
        nearest = np.sqrt(((xy[:, None, :] - data[None]) ** 2).sum(-1)).min(1).mean()
        if nearest > 0.5:
            raise Mismatch(f"the last frame is not on the data (mean distance to the nearest data point {nearest:.3f})")


ORACLES = {"schedule": check_schedule, "forward_noising": check_forward_noising,
           "reverse_sampling": check_reverse_sampling}


# ---------------------------------------------------------------- driving one Panel
WAIT_STATE_JS = """
([id, name, want, tol]) => {
  const f = window.__course.figure(id);
  if (!f || !f.meta || !f.meta.state || f.svgTitle !== f.plainTitle) return false;
  const got = f.meta.state[name];
  return typeof want === "number" ? Math.abs(got - want) <= tol : got === want;
}
"""


class PanelDriver:
    """Moves one Panel's controls with the keyboard and checks what the page shows."""

    def __init__(self, nb, snapshot: dict, report: list[str]):
        self.nb, self.id, self.kind = nb, snapshot["model_id"], snapshot["kind"]
        self.report = report
        self.last = snapshot
        self.worst = 0.0
        self.moves = 0
        self.move_s: dict[str, float] = {}  # slowest single move per control (press to drawn)

    def kernel(self) -> dict:
        for snap in self.nb.kernel_panels(self.id):
            self.last = snap
            return snap
        raise Mismatch(f"Panel {self.id} is gone from the kernel")

    def tol(self, info: dict) -> float:
        return 1e-6 * abs(info.get("step") or 1.0)

    # A state wait, not a speed check: the cap only stops a page that will never get there. A busy
    # 2-core machine can take tens of seconds to recompute a heavy widget (the capstone's sampler).
    VALUE_CAP_S = float(os.environ.get("BROWSER_TESTS_VALUE_S", "240"))

    def wait_for_value(self, name: str, want, info: dict, seen_before: int | None = None,
                       timeout_s: float | None = None):
        """Wait until the plot's state shows ``want`` for ``name``; return the value it settled on.

        A widget may refuse a value (the horizon explorer keeps Tp >= Ta): once the kernel has
        received ``want`` (``Panel.snapshot()["seen"]``) but holds another value, that value is
        what the page must show, and it is returned instead.
        """
        timeout_s = self.VALUE_CAP_S if timeout_s is None else timeout_s
        arg = [self.id, name, want, self.tol(info)]
        deadline, next_kernel = time.monotonic() + timeout_s, time.monotonic() + 0.5
        while time.monotonic() < deadline:
            if not info["watched"] or self.nb.page.evaluate(WAIT_STATE_JS, arg):
                return want
            if seen_before is not None and time.monotonic() > next_kernel:
                next_kernel = time.monotonic() + 0.5
                snap = self.kernel()
                seen, value = snap["seen"][name], snap["controls"][name]["value"]
                arrived = seen["last"][-(seen["count"] - seen_before):] if seen["count"] > seen_before else []
                if any(close(v, want, info.get("step")) for v in arrived) and not close(value, want, info.get("step")):
                    self.report.append(f"{self.kind}: {name}: the widget turned {want!r} into {value!r}")
                    return value
                # The control itself sent another value (noUiSlider's Home after the widget raised the
                # slider's min goes to the old min): the plot must then show what the control shows.
                # The control must show it too: on a busy machine the kernel first receives the values a
                # slider passed on its way (ipywidgets sends one at a time), and the plot draws them.
                page_value = (self.nb.figure(self.id) or {}).get("meta", {}) or {}
                page_value = page_value.get("state", {}).get(name)
                control = self.nb.dom_controls(self.id).get(name, {})
                if arrived and not any(close(v, want, info.get("step")) for v in arrived) \
                        and close(page_value, value, info.get("step")) \
                        and (control.get("kind") != "slider" or close(control.get("value"), value, info.get("step"))):
                    self.report.append(f"{self.kind}: {name}: {key_name(want, info)} sent {arrived[-1]!r}, not {want!r}")
                    return value
            time.sleep(0.03)
        fig, dom = self.nb.figure(self.id), self.nb.dom_controls(self.id)
        raise Mismatch(f"{self.kind}: {name} should now be {want!r}, but after {timeout_s:.0f} s the plot shows "
                       f"{fig and fig['title']!r} with state {fig and fig['meta']} and the control shows {dom.get(name)}")

    def verify(self, where: str, moved: str | None = None, want=None, settle_s: float = 10.0) -> dict:
        """All of the module docstring's checks for the current state; returns the page figure."""
        deadline = time.monotonic() + settle_s
        while True:
            # ipywidgets keeps one message per widget in flight and holds back newer values until the
            # kernel is idle, so the kernel may briefly lag the page (and the page the kernel): ask
            # both again until they agree, or report the difference.
            kernel = self.kernel()
            fig, dom = self.nb.figure(self.id), self.nb.dom_controls(self.id)
            agreed = (fig and fig["title"] == kernel["title"] and fig["meta"] == kernel["meta"]
                      and fig["svgTitle"] == fig["plainTitle"])
            if agreed and (moved is None or close(kernel["controls"][moved]["value"], want,
                                                  kernel["controls"][moved].get("step"))):
                break
            if time.monotonic() > deadline:
                raise Mismatch(f"{where}: the page shows {fig and fig['title']!r} / {fig and fig['meta']}, "
                               f"the kernel holds {kernel['title']!r} / {kernel['meta']}")
            time.sleep(0.1)
        state = fig["meta"]["state"]
        for name, info in kernel["controls"].items():
            if not info["watched"]:
                continue
            if not close(state.get(name), info["value"], info.get("step")):
                raise Mismatch(f"{where}: plot state {name} = {state.get(name)!r}, control {info['value']!r}")
            shown = dom.get(name, {})
            if shown.get("kind") in ("slider", "dropdown") and not close(shown["value"], info["value"], info.get("step")):
                raise Mismatch(f"{where}: the page's {name} shows {shown['value']!r}, the kernel has {info['value']!r}")
        if moved is not None:
            if not close(kernel["controls"][moved]["value"], want, kernel["controls"][moved].get("step")):
                raise Mismatch(f"{where}: {moved} is {kernel['controls'][moved]['value']!r}, the key implies {want!r}")
            text = readout_text(dom, moved)
            if kernel["controls"][moved]["watched"] and text and same_text(text) not in same_text(fig["plainTitle"]):
                raise Mismatch(f"{where}: the title {fig['title']!r} does not state {moved} = {text}")
        self.worst = max(self.worst, compare_traces(fig["traces"], kernel["traces"], where))
        oracle = ORACLES.get(self.kind)
        if oracle:
            try:
                oracle(fig, state)
            except Mismatch as e:
                raise Mismatch(f"{where}: {e}") from None
        return fig

    def press(self, name: str, kind: str, key: str) -> None:
        loc = self.nb.control_locator(self.id, name, kind)
        loc.scroll_into_view_if_needed()
        loc.focus()
        self.nb.page.keyboard.press(key)

    def move(self, name: str, key: str) -> None:
        """One key press on a control, then every check of the resulting state."""
        info = self.last["controls"][name]  # as of the last check, which waited for page and kernel to agree
        want = implied(info, key)
        before = self.last["seen"][name]["count"]
        start = time.monotonic()
        self.press(name, "slider" if info["type"] in SLIDERS else "dropdown", key)
        got = self.wait_for_value(name, want, info, before)
        self.move_s[name] = max(self.move_s.get(name, 0.0), time.monotonic() - start)
        self.verify(f"{self.kind}: {name} after {key}", name, got)
        self.moves += 1

    def exercise(self) -> list[str]:
        """Every enabled slider and dropdown: each key move, then the checks. Returns controls moved.

        A control that is disabled (the reverse player's steps while DDPM is selected) is tried
        again after each dropdown has been moved one option further.
        """
        controls = self.kernel()["controls"]
        names = [n for n, c in controls.items() if c["type"] in SLIDERS + DROPDOWNS]
        dropdowns = [n for n in names if controls[n]["type"] in DROPDOWNS]
        moved: list[str] = []

        def run_enabled() -> None:
            for name in names:
                info = self.last["controls"][name]
                if name in moved or info["disabled"]:
                    continue
                for key in (slider_keys(info) if info["type"] in SLIDERS else dropdown_keys(info)):
                    self.move(name, key)
                moved.append(name)

        run_enabled()
        for name in dropdowns:
            if all(n in moved for n in names):
                break
            self.move(name, dropdown_keys(self.last["controls"][name])[0])
            run_enabled()
        for name in names:
            if name not in moved:
                self.report.append(f"{self.kind}: {name} stayed disabled; not moved")
        return moved

    def fast_drag(self, name: str, presses: int = 20, settle_limit_s: float = 3.0) -> float:
        """20 key presses as fast as the keyboard goes; the final frame must come promptly and stay.

        "Promptly" is relative to this machine: a queued backlog shows as a settle time of many
        single moves, so the limit is the larger of ``settle_limit_s`` and five of the slowest
        single move of this control seen in this page (a busy CPU slows both alike).
        """
        settle_limit_s = max(settle_limit_s, 5 * self.move_s.get(name, 0.0))
        info = self.kernel()["controls"][name]
        room_right = (info["max"] - info["value"]) / info["step"]
        key = "ArrowRight" if room_right >= presses or room_right >= (info["value"] - info["min"]) / info["step"] else "ArrowLeft"
        want = info["value"]
        for _ in range(presses):
            want = implied({**info, "value": want}, key)
        self.nb.page.evaluate(RECORD_JS, self.id)
        loc = self.nb.control_locator(self.id, name, "slider")
        loc.scroll_into_view_if_needed()
        loc.focus()
        for _ in range(presses):
            self.nb.page.keyboard.press(key)
        before = self.last["seen"][name]["count"]
        want = self.wait_for_value(name, want, info, before, timeout_s=max(settle_limit_s + 30, self.VALUE_CAP_S))
        time.sleep(0.5)  # anything queued behind the final frame would show up now
        log = self.nb.page.evaluate(STOP_RECORD_JS, self.id)
        final_at = next((e["t"] for e in log["frames"] if info["watched"]
                         and close(e["state"].get(name), want, info["step"])), None)
        if final_at is None:
            raise Mismatch(f"{self.kind}: fast drag of {name}: the final value {want} was never drawn")
        settle = max(0.0, (final_at - log["lastKey"]) / 1000)  # 0: clamped at a limit before the last key
        after = [e for e in log["frames"] if e["t"] > final_at and not close(e["state"].get(name), want, info["step"])]
        if after:
            trail = "\n".join(f"  {e['t'] - log['lastKey']:+8.0f} ms  {e['title']}  {e['state']}" for e in log["frames"])
            raise Mismatch(f"{self.kind}: fast drag of {name}: {len(after)} frame(s) drawn after the final one, "
                           f"e.g. {after[0]['title']!r} (a stale frame). Frames (time from the last key):\n{trail}")
        if settle > settle_limit_s:
            raise Mismatch(f"{self.kind}: fast drag of {name}: the final frame came {settle:.2f} s after the last "
                           f"key (limit {settle_limit_s} s): a queued backlog")
        self.verify(f"{self.kind}: {name} after {presses} x {key}", name, want)
        return settle


# ---------------------------------------------------------------- Play buttons
# The control a Panel's Play button drives in the page (an ipywidgets jslink), asked of the kernel.
LINKED_CODE = """
def _course_linked(model_id, name):
    import json
    from ipywidgets.widgets.widget import _instances
    from ipywidgets.widgets.widget_link import Link
    from widgets import Panel
    panel = next(p for p in Panel.instances() if p.model_id == model_id)
    play = panel.controls[name]
    print(json.dumps([n for n, c in panel.controls.items() for w in list(_instances.values())
                      if isinstance(w, Link) and w.source[0] is play and w.target[0] is c]))
_course_linked(%r, %r)
del _course_linked
"""
# What a Play shows now, cheaply (no trace arrays): playing (its button shows the pause icon), repeat
# on, the plot's recorded value of the control it drives, and the slider's own value.
PLAY_STATE_JS = """
([id, play, index]) => {
  const p = window.__course.panel(id), gd = window.__course.plot(id);
  const c = p && p.querySelector(`.course-control--${play}`);
  const s = gd && gd.layout && gd.layout.meta && gd.layout.meta.state;
  const h = p && p.querySelector(`.course-control--${index} .noUi-handle`);
  return {playing: !!(c && c.querySelector("i.fa-pause")),
          repeat: !!(c && c.querySelectorAll("button")[2] && c.querySelectorAll("button")[2].classList.contains("mod-active")),
          shown: s && index in s ? s[index] : null, slider: h ? Number(h.getAttribute("aria-valuetext")) : null};
}
"""
# Records every frame the plot draws (fast drags, Play): time, title, recorded state and a fingerprint
# of every trace's data (index-weighted sums of x, y, z), so frames whose data did not change show up;
# and the time of every keydown.
RECORD_JS = """
(id) => {
  const gd = window.__course.plot(id);
  const rec = window.__course.rec = {frames: [], keys: [], seen: null};
  const sum = (v) => {
    if (!v) return "";
    let s = 0, n = 0;
    for (let i = 0; i < v.length; i++) { const x = Number(v[i]); if (Number.isFinite(x)) { s += x * (1 + i % 7); n++; } }
    return n + ":" + s.toPrecision(9);
  };
  rec.onKey = (e) => { rec.keys.push(performance.now()); };
  document.addEventListener("keydown", rec.onKey, true);
  const look = () => {
    const t = gd.querySelector(".gtitle"), title = t ? t.textContent : null;
    const state = (gd.layout.meta && gd.layout.meta.state) || {};
    const key = title + JSON.stringify(state);
    if (key === rec.seen) return;
    rec.seen = key;
    rec.frames.push({t: performance.now(), title, state,
                     data: gd.data.map((d) => [sum(d.x), sum(d.y), sum(d.z)].join(",")).join("|")});
  };
  rec.obs = new MutationObserver(look);
  rec.obs.observe(gd, {subtree: true, childList: true, characterData: true, attributes: true});
}
"""
STOP_RECORD_JS = """
() => {
  const rec = window.__course.rec;
  rec.obs.disconnect();
  document.removeEventListener("keydown", rec.onKey, true);
  return {frames: rec.frames, keys: rec.keys, lastKey: rec.keys.length ? rec.keys[rec.keys.length - 1] : null};
}
"""


def linked_control(nb, model_id: str, play: str) -> str | None:
    """The control the Panel's Play button ``play`` drives in the page (jslink), or None."""
    import json
    names = json.loads(nb.ask_kernel(LINKED_CODE % (model_id, play)))
    return names[0] if names else None


def play_controls(snapshot: dict) -> list[str]:
    return [n for n, c in snapshot["controls"].items() if c["type"] == "Play"]


def play_rate(frames: list[dict]) -> float:
    """Frames drawn per second between the first and the last frame recorded."""
    if len(frames) < 2 or frames[-1]["t"] <= frames[0]["t"]:
        return float("nan")
    return 1000 * (len(frames) - 1) / (frames[-1]["t"] - frames[0]["t"])


class PlayDriver:
    """Presses a Panel's Play button as a person would and checks what the page does.

    1. From the first frame, Play runs to the end and stops there: the drawn frames advance (never
       back), through several distinct frames whose trace data differ, and the last is the slider's
       maximum; page and kernel then agree (every check of ``PanelDriver.verify``). The frame rate
       drawn is measured.
    2. Home on the slider while playing: play goes on from the start and still stops at the end,
       with no frame from before the key drawn after it.
    3. Pause while playing: the plot stays on the paused frame, the slider still moves it one step,
       and page and kernel agree.
    Every wait is on a state, capped by ``PanelDriver.VALUE_CAP_S``; a timeout says which widget,
    the state expected, what the page shows, and the path of a screenshot.
    """

    def __init__(self, driver: PanelDriver, play: str, index: str):
        self.d, self.nb, self.play, self.index = driver, driver.nb, play, index
        self.arg = [driver.id, play, index]

    def now(self) -> dict:
        return self.nb.page.evaluate(PLAY_STATE_JS, self.arg)

    def wait(self, ok, what: str, cap_s: float | None = None) -> dict:
        """Poll the page until ``ok(state)``; on timeout, a report with a screenshot."""
        cap_s = self.d.VALUE_CAP_S if cap_s is None else cap_s
        deadline = time.monotonic() + cap_s
        while time.monotonic() < deadline:
            state = self.now()
            if ok(state):
                return state
            time.sleep(0.02)
        import browser_harness as H
        from pathlib import Path
        shot = H.SCREENSHOTS / Path(self.nb.path).stem / f"play-timeout-{self.d.kind}-{self.d.id[:8]}.png"
        try:
            self.nb.screenshot(self.d.id, shot)
        except Exception as e:  # noqa: BLE001 - the page may be gone
            shot = f"(no screenshot: {e})"
        fig = self.nb.figure(self.d.id)
        raise Mismatch(f"{self.d.kind} (model {self.d.id}): waited {cap_s:.0f} s for {what}; the page shows "
                       f"{self.now()} (playing, repeat, plot's {self.index}, slider), title "
                       f"{fig and fig['title']!r}, state {fig and fig['meta']}; screenshot: {shot}")

    def button(self, i: int = 0):
        """The Play widget's buttons: 0 play/pause, 1 stop, 2 repeat."""
        return self.nb.page.locator(f".course-widget-id--{self.d.id} .course-control--{self.play} button").nth(i)

    def record(self) -> None:
        self.nb.page.evaluate(RECORD_JS, self.d.id)

    def stop_record(self) -> dict:
        return self.nb.page.evaluate(STOP_RECORD_JS)

    def steps(self, frames: list[dict]) -> list:
        return [f["state"][self.index] for f in frames if self.index in f["state"]]

    def play_to_end(self, hi) -> list[dict]:
        """Press Play and wait until it stops at ``hi``; the frames drawn meanwhile (see RECORD_JS)."""
        self.record()
        self.button(0).click()
        self.wait(lambda s: s["shown"] == hi and not s["playing"], f"{self.play} to reach {self.index} = {hi} and stop")
        return self.stop_record()["frames"]

    def run(self) -> str:
        info = self.d.kernel()["controls"]
        if info[self.play]["disabled"] or info[self.index]["disabled"]:
            return f"{self.d.kind}: {self.play} is disabled; not pressed"
        lo, hi, step = info[self.index]["min"], info[self.index]["max"], info[self.index]["step"]
        span = int(round((hi - lo) / step))
        if span < 4:
            return f"{self.d.kind}: {self.play} drives only {span + 1} frames; not pressed"
        if self.now()["repeat"]:
            raise Mismatch(f"{self.d.kind}: {self.play} starts with repeat on; Play would never stop")
        d, where = self.d, f"{self.d.kind}: {self.play}"

        # 1. From the first frame to the end.
        d.move(self.index, "Home")
        frames = self.play_to_end(hi)
        steps = self.steps(frames)
        if steps != sorted(steps):
            raise Mismatch(f"{where}: frames went back while playing: {self.index} drawn as {steps}")
        if len(set(steps)) < 3 or steps[-1] != hi:
            raise Mismatch(f"{where}: Play drew {self.index} = {steps}; expected several frames ending at {hi}")
        changed = sum(a["data"] != b["data"] for a, b in zip(frames, frames[1:]))
        if changed < 0.9 * (len(frames) - 1) or len({f["data"] for f in frames}) < 3:
            raise Mismatch(f"{where}: the traces' data changed in only {changed} of {len(frames) - 1} frames drawn "
                           "while playing (the title moved, the plot did not)")
        fps = play_rate(frames)
        d.verify(f"{where}: after playing to the end", self.index, hi)
        line = (f"{d.kind}: Play drew {len(frames)} of {span + 1} frames, each with new data, at {fps:.1f} "
                f"frames per second, and stopped at {self.index} = {hi}")

        # 2. Home on the slider while playing, a quarter of the way or more: play goes on from the start.
        quarter = lo + (hi - lo) / 4
        handle = self.nb.control_locator(d.id, self.index, "slider")
        for attempt in range(3):
            self.record()
            self.button(0).click()   # at the end: Play starts again from the first frame
            handle.focus()           # ready for the key while it plays
            self.wait(lambda s: s["playing"] and s["shown"] is not None and quarter <= s["shown"] < hi
                      or not s["playing"] and s["shown"] == hi, f"{self.play} to play a quarter of the way")
            self.nb.page.keyboard.press("Home")
            # Stopped, and the plot has drawn the frame the slider stopped at: Play turns itself off on
            # the tick after its last value, and on a busy machine that frame's draw can come later.
            state = self.wait(lambda s: not s["playing"] and s["slider"] == s["shown"],
                              f"{self.play} to stop after Home, and the plot to draw where the slider stopped")
            log = self.stop_record()
            key = log["keys"][-1] if log["keys"] else None
            before = self.steps([f for f in log["frames"] if key is not None and f["t"] < key])
            after = self.steps([f for f in log["frames"] if key is not None and f["t"] >= key])
            if before and before[-1] < hi:
                break   # the key came while playing (else the machine was slower than the key: again)
        else:
            raise Mismatch(f"{where}: three times, Play had finished before Home was pressed")
        if state["shown"] != hi or not after or after[0] > lo + (before[-1] - lo) / 2 or after != sorted(after):
            raise Mismatch(f"{where}: Home while playing (at {self.index} = {before[-1]}): the frames after the key "
                           f"drew {self.index} = {after}, and Play stopped at {state['shown']}; expected a restart "
                           f"near {lo} that runs on to {hi}")
        d.verify(f"{where}: after Home while playing", self.index, hi)
        line += f"; Home while playing at {self.index} = {before[-1]} restarted it ({after[0]} next)"

        # 3. Pause while playing.
        for attempt in range(3):
            self.button(0).click()
            self.wait(lambda s: s["playing"] and s["shown"] is not None and lo + 2 * step <= s["shown"] < hi
                      or not s["playing"] and s["shown"] == hi, f"{self.play} to play two frames")
            if self.now()["playing"]:
                self.button(0).click()
            state = self.wait(lambda s: not s["playing"] and s["slider"] == s["shown"], f"{self.play} to pause")
            if state["shown"] < hi:
                break
        else:
            raise Mismatch(f"{where}: three times, Play had finished before it could be paused")
        paused = state["shown"]
        d.verify(f"{where}: paused", self.index, paused)
        d.move(self.index, "ArrowRight")    # the slider still moves it, and Play stays paused
        if self.now()["playing"]:
            raise Mismatch(f"{where}: playing again after the slider moved while paused")
        return line + f"; paused at {self.index} = {paused}, stayed there, and the slider moved it on"
