"""Interaction latency of every widget the course shows, as shipped and against a naive twin.

``bench latency`` studies the three DDPM widgets in depth (three builds, several controls).
This bench covers the rest: it opens every widget notebook the browser tests cover
(``tests/browser/browser_harness.widget_notebooks``) in a real JupyterLab and Chromium, runs
all its cells, and for each ``widgets.Panel`` moves one control with the keyboard ``MOVES``
times (its widest enabled slider; a dropdown if it has no slider). Each move is timed in the
page from the keydown (capture-phase ``event.timeStamp``) to one animation frame after a
MutationObserver sees the plot's ``layout.meta.state`` hold the new value.

The baseline is a *naive twin* of the same panel, built in the same kernel: copies of its
controls above an ``Output`` that gets a brand-new ``FigureWidget`` on every move. The twin
sets the real panel's controls (so the very same learner functions compute the state, with
the real panel's own messages to the page switched off) and then re-creates the figure from
the panel's figure. That is what a widget written without a persistent FigureWidget does.

The floor: absolute figures move from machine to machine, so every notebook's page also gets a
trivial Panel (one slider; its update writes only the title) whose move is nothing but a kernel
round trip and a plot relayout. Each widget's median is reported as a multiple of that floor,
measured in the same run and the same page.

Before measuring, the bench waits (up to a minute, and says how long) until no widget is still
filling a frame bank, as a learner reading the widget before moving it would.

Load on a shared machine stretches every figure, so the bench also counts the CPU time the
browser's processes (page, GPU, compositor) spend per move, which load does not stretch, and
the same for the floor.

Prints median and p95 per widget, the floor multiple, the browser CPU ms per move (and the
floor's), the naive twin's median and the naive/shipped ratio, and the targets (median <= 1.5x
the floor, p95 <= 100 ms). Measures, asserts nothing. Run: ``.venv/bin/python -m bench widgets``
(30 naive moves per widget, about 15 minutes), or ``.venv/bin/python -m bench widgets --quick`` (5
naive moves); ``--only 02_ddpm,flows_explorer`` (or ``BENCH_ONLY=...``) picks notebooks by name;
``--trace`` prints every move's ms, in order.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path


import numpy as np

REPO = Path(__file__).resolve().parents[1]
MOVES = 30
NAIVE_MOVES = 5 if os.environ.get("BENCH_QUICK") else 30   # a naive move costs ~1.5 s
MOVE_TIMEOUT_MS = 20_000
TARGET_FLOOR_MULTIPLE, TARGET_P95_MS = 1.5, 100.0


def browser_harness():
    """The browser tests' harness (tests/browser/browser_harness.py), or None when no browser runs here."""
    sys.path.insert(0, str(REPO / "tests" / "browser"))
    import browser_harness as H

    problem = H.browser_problem()
    if problem:
        print(f"cannot measure: {problem}")
        return None
    return H


@contextlib.contextmanager
def browser_session(H, notebooks: list[Path]):
    """A JupyterLab serving copies of ``notebooks`` and a Chromium context on it:
    yields (server, context, served), where served maps each notebook to its path on the server."""
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        served = H.stage(notebooks, root)
        with H.JupyterServer(root) as server, sync_playwright() as pw:
            browser = H.launch_chromium(pw)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            try:
                yield server, context, served
            finally:
                context.close()
                browser.close()


def _stats(ms: list[float]) -> tuple[float, float]:
    a = np.asarray(ms, dtype=np.float64)
    return float(np.median(a)), float(np.percentile(a, 95))


def _browser_cpu_s() -> float:
    """CPU seconds spent so far by the Chromium processes this bench started (page, GPU, the rest)."""
    import psutil

    total = 0.0
    for proc in psutil.Process().children(recursive=True):
        try:
            if "chrom" in proc.name():
                t = proc.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:  # a process that ended meanwhile
            pass
    return total


CPU: dict[tuple[str, str], float] = {}   # (notebook, widget kind or "floor") -> browser CPU ms per move


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


# ---------------------------------------------------------------- the naive twin (runs in the kernel)
def _clone(control):
    """A new control of the same type with the same label, limits and value."""
    keys = ("options", "min", "max", "step", "readout_format", "value", "description", "style", "layout",
            "continuous_update")
    return type(control)(**{k: getattr(control, k) for k in keys if control.has_trait(k)})


def naive_twin(panel):
    """Copies of ``panel``'s watched controls and an Output showing a new FigureWidget per move."""
    import copy

    import ipywidgets as W
    import plotly.graph_objects as go
    from IPython.display import display

    # The real panel still computes every state; it just stops telling the page about it.
    for name in ("_send_update_msg", "_send_restyle_msg", "_send_relayout_msg"):
        setattr(panel.figure, name, lambda *args, **kwargs: None)
    clones = {n: _clone(panel.controls[n]) for n in panel.watched if hasattr(panel.controls[n], "value")}
    out = W.Output()

    def draw(*_):
        for name, c in clones.items():
            panel.controls[name].value = c.value  # the panel's update runs the learner's functions
        fig = go.FigureWidget(copy.deepcopy(panel.figure.to_dict()))  # the baseline: a new figure every move
        with out:
            out.clear_output(wait=True)
            display(fig)

    for c in clones.values():
        c.observe(draw, names="value")
    box = W.VBox([W.HBox(list(clones.values())), out])
    for name, c in clones.items():
        c.add_class("course-control")
        c.add_class(f"course-control--{name}")
    box.add_class(f"course-widget-id--twin-{panel.model_id}")
    draw()
    return box


def show_naive_twins() -> None:
    """Display a naive twin of every Panel alive in this kernel (the bench's last cell)."""
    import ipywidgets as W
    from IPython.display import display

    from widgets import Panel

    display(W.VBox([naive_twin(p) for p in Panel.instances()]))


def show_floor() -> None:
    """Display the floor: a Panel whose update is only a kernel round trip (title and recorded state)."""
    from IPython.display import display

    from widgets import Figure, Panel
    from widgets._plumbing import int_slider

    n = int_slider("n", 0, 0, 100)
    fig = Figure()
    fig.add_scatter(x=[0.0], y=[0.0])
    fig.update_layout(height=200)

    def update() -> None:
        fig.layout.title.text = f"n = {n.value}"

    display(Panel(fig, {"n": n}, update, kind="floor"))


# ---------------------------------------------------------------- measuring in the page
ARM_JS = """
([rootSel, control, value, tol, needle]) => {
  // Resolves window.__lat with ms from the next keydown to the frame that paints the plot showing
  // control = value: its layout.meta.state says so (or, given a needle, its title contains it).
  const root = document.querySelector(rootSel);
  let tKey = null, done = false, resolve;
  window.__lat = new Promise((r) => { resolve = r; });
  const finish = (v) => { done = true; obs.disconnect(); document.removeEventListener("keydown", onKey, true); resolve(v); };
  const onKey = (e) => { if (tKey === null) tKey = e.timeStamp; };
  const shows = () => {
    if (needle !== null) {
      const titles = root.querySelectorAll(".gtitle");
      const t = titles[titles.length - 1];
      return !!t && t.textContent.includes(needle);
    }
    const plots = root.querySelectorAll(".js-plotly-plot");
    const gd = plots[plots.length - 1];
    const s = gd && gd.layout && gd.layout.meta && gd.layout.meta.state;
    if (!s || !(control in s)) return false;
    return typeof value === "number" ? Math.abs(Number(s[control]) - value) <= tol : String(s[control]) === value;
  };
  const check = () => {
    if (done || tKey === null || !shows()) return;
    done = true;
    requestAnimationFrame(() => finish(performance.now() - tKey));  // the frame that paints it
  };
  const obs = new MutationObserver(check);
  obs.observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
  document.addEventListener("keydown", onKey, true);
  setTimeout(() => { if (!done) finish(null); }, %d);
}
""" % MOVE_TIMEOUT_MS


def _primary(controls: dict) -> str | None:
    """The control to move (from ``Panel.snapshot()["controls"]``): the enabled watched slider with
    the most steps, else the first enabled watched dropdown."""
    usable = {n: c for n, c in controls.items() if c["watched"] and not c["disabled"]}
    sliders = [n for n, c in usable.items() if c["type"].endswith("Slider")]
    if sliders:
        return max(sliders, key=lambda n: (usable[n]["max"] - usable[n]["min"]) / usable[n]["step"])
    return next((n for n, c in usable.items() if c["type"] == "Dropdown"), None)


def measure(nb, panel_id: str, control: str, step: float | None, moves: int = MOVES, sign: int = +1,
            needle: str | None = None, cpu_key: tuple[str, str] | None = None) -> list[float]:
    """``moves`` key presses on one control, sweeping and turning at its limits; ms keydown -> painted.

    The plot counts as painted when its recorded state holds the new value, or, with ``needle``
    (a format string of ``v``, e.g. ``"t = {v} /"``), when its title shows the needle. With
    ``cpu_key``, the browser's CPU ms per move goes to ``CPU[cpu_key]``."""
    page = nb.page
    root = f".course-widget-id--{panel_id}"
    kind = nb.dom_controls(panel_id)[control]["kind"]
    loc = page.locator(f"{root} .course-control--{control} {'.noUi-handle' if kind == 'slider' else 'select'}").first
    loc.scroll_into_view_if_needed()
    out = []
    cpu0 = _browser_cpu_s()
    for _ in range(moves):
        info = nb.dom_controls(panel_id)[control]
        if kind == "dropdown":
            options, j = info["options"], info["options"].index(info["value"])
            key, value, tol = ("ArrowDown", options[j + 1], 0) if j + 1 < len(options) else ("ArrowUp", options[j - 1], 0)
        else:
            if not info["min"] - 1e-12 <= info["value"] + sign * step <= info["max"] + 1e-12:
                sign = -sign
            key, value, tol = ("ArrowRight" if sign > 0 else "ArrowLeft"), round(info["value"] + sign * step, 10), step / 2
            if float(value).is_integer() and needle is not None and "{v:" not in needle:
                value = int(value)
        shown = needle.format(v=value) if needle is not None else None
        page.evaluate(ARM_JS, [root, control, value, tol, shown])
        loc.focus()
        page.keyboard.press(key)
        ms = page.evaluate("() => window.__lat")
        if ms is None:
            raise TimeoutError(f"{control}: the plot never showed {shown or f'{control} = {value!r}'} "
                               f"({MOVE_TIMEOUT_MS / 1000:.0f} s)")
        out.append(ms)
        # let the kernel finish this move (it still computes every browser-drawn frame) before the next
        page.wait_for_function("() => window.__course.kernel().status === 'idle'", timeout=120_000)
        time.sleep(0.05)
    if cpu_key is not None:
        CPU[cpu_key] = 1000 * (_browser_cpu_s() - cpu0) / moves
    return out


def _wait_banks(nb, cap_s: float = 60.0) -> float | None:
    """Wait until no Panel is filling a frame bank (widgets/_bank.py), as a learner who reads the
    widget before moving it would; seconds waited, or None if no Panel banks. Capped: a fill that
    outlasts ``cap_s`` is measured as it is."""
    start = time.monotonic()
    while True:
        banks = [p["bank"] for p in nb.kernel_panels() if p.get("bank")]
        if not banks:
            return None
        if not any(b["filling"] for b in banks) or time.monotonic() - start > cap_s:
            return time.monotonic() - start
        time.sleep(0.25)


def _run_cell(nb, source: str) -> None:
    """Append a code cell to the open notebook and run it."""
    nb.page.evaluate("""async (source) => {
        const panel = window.__course.notebook(), model = panel.content.model;
        model.sharedModel.insertCell(model.cells.length, {cell_type: "code", source});
        panel.content.activeCellIndex = model.cells.length - 1;
        await window.jupyterapp.commands.execute("notebook:run-cell");
    }""", source)
    nb.page.wait_for_function("() => window.__course.cellsDone().done", timeout=300_000)


def _clear_outputs(nb) -> None:
    """Take every shown widget off the page (the twins are measured on a page without the originals)."""
    nb.page.evaluate("""() => { for (const c of window.__course.notebook().content.widgets)
                                  if (c.model.type === "code") c.model.outputs.clear(); }""")


def _bench_notebook(H, server, context, served: str, name: str, rows: list) -> None:
    page = context.new_page()
    nb = H.NotebookPage(page, server, served, workspace=f"bench-{name}")
    try:
        ran = nb.run_all(timeout_s=900)
        panels = nb.kernel_panels()
        print(f"{name}: ran all cells in {ran:.1f} s, {len(panels)} widget(s); load average {_load()}", flush=True)
        plan = []
        for p in panels:
            nb.wait_rendered(p["model_id"])
        settled = _wait_banks(nb)
        if settled is not None:
            print(f"  banks filled {settled:.1f} s after the widgets rendered", flush=True)
        for p in panels:
            control = _primary(p["controls"])
            if control is None:
                print(f"  {p['kind']}: no enabled slider or dropdown, skipped", flush=True)
                continue
            plan.append((p, control, p["controls"][control].get("step")))
        shipped = {}
        for p, control, step in plan:
            try:
                ms = measure(nb, p["model_id"], control, step, cpu_key=(name, p["kind"]))
                shipped[p["model_id"]] = _stats(ms)
                if os.environ.get("BENCH_TRACE"):
                    print(f"  {p['kind']} {control} moves (ms): {' '.join(f'{m:.0f}' for m in ms)}", flush=True)
            except TimeoutError as e:
                print(f"  {p['kind']}: {e}", flush=True)
        from bench.bench_play import measure_plays  # Play buttons (the capstone's): frames per second drawn
        measure_plays(nb, panels)
        known = {p["model_id"] for p in panels}
        _run_cell(nb, f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
                      "from bench.bench_widgets import show_floor\nshow_floor()")
        floor_id = next(p["model_id"] for p in nb.kernel_panels() if p["model_id"] not in known)
        nb.wait_rendered(floor_id, "floor")
        floor_ms = measure(nb, floor_id, "n", 1, cpu_key=(name, "floor"))
        floor = _stats(floor_ms)
        if os.environ.get("BENCH_TRACE"):
            print(f"  floor moves (ms): {' '.join(f'{m:.0f}' for m in floor_ms)}", flush=True)
        print(f"  floor (kernel round trip): median {floor[0]:.1f} ms, p95 {floor[1]:.1f} ms", flush=True)
        _clear_outputs(nb)
        _run_cell(nb, f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
                      "from bench.bench_widgets import show_naive_twins\nshow_naive_twins()")
        for p, control, step in plan:
            twin = f"twin-{p['model_id']}"
            nb.page.wait_for_function(f"() => document.querySelector('.course-widget-id--{twin} .js-plotly-plot')",
                                      timeout=120_000)
            try:
                naive = _stats(measure(nb, twin, control, step, moves=NAIVE_MOVES))
            except TimeoutError as e:
                print(f"  {p['kind']} (naive): {e}", flush=True)
                naive = None
            row = (name, p["kind"], control, shipped.get(p["model_id"]), naive, floor)
            rows.append(row)
            _print_row(row)
    finally:
        nb.close()


def _fmt(stats) -> str:
    return f"{stats[0]:8.1f}{stats[1]:8.1f}" if stats else f"{'n/a':>8}{'n/a':>8}"


def _meets(row) -> bool:
    _, _, _, shipped, _, floor = row
    return bool(shipped and shipped[0] <= TARGET_FLOOR_MULTIPLE * floor[0] and shipped[1] <= TARGET_P95_MS)


def _print_row(row) -> None:
    name, kind, control, shipped, naive, floor = row
    ratio = f"{naive[0] / shipped[0]:6.1f}x" if shipped and naive else f"{'n/a':>7}"
    multiple = f"{shipped[0] / floor[0]:6.2f}x" if shipped else f"{'n/a':>7}"
    print(f"  {kind:<22}{control:<12}{_fmt(shipped)}  {multiple}  {_fmt(naive)}  {ratio}  "
          f"{'meets' if _meets(row) else 'MISSES'}  {_cpu(name, kind)}", flush=True)


def _cpu(name: str, kind: str) -> str:
    """Browser CPU ms per move of the widget / of the floor, measured in the same page."""
    got, floor = CPU.get((name, kind)), CPU.get((name, "floor"))
    return f"{got:.0f} / {floor:.0f}" if got is not None and floor is not None else "n/a"


def main() -> None:
    H = browser_harness()
    if H is None:
        return
    notebooks = H.widget_notebooks()
    only = [s for s in os.environ.get("BENCH_ONLY", "").split(",") if s]
    if only:
        notebooks = [p for p in notebooks if any(o in str(p) for o in only)]
    rows: list = []
    print(f"{MOVES} key moves per widget ({NAIVE_MOVES} for its naive twin); ms from keydown to the painted state; "
          "floor = a Panel whose update is only a kernel round trip; naive = a new FigureWidget per move")
    print(f"  {'widget':<22}{'control':<12}{'median':>8}{'p95':>8}  {'floor':>7}  {'naive':>8}{'p95':>8}  {'ratio':>7}"
          "           browser CPU ms/move (floor)",
          flush=True)
    with browser_session(H, notebooks) as (server, context, served):
        for path in notebooks:
            _bench_notebook(H, server, context, served[path], path.stem, rows)
    print("\n| notebook | widget | control | median ms | p95 ms | median/floor | naive/ours | targets "
          "| browser CPU ms/move (floor) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, kind, control, shipped, naive, floor in rows:
        med, p95 = (f"{shipped[0]:.1f}", f"{shipped[1]:.1f}") if shipped else ("n/a", "n/a")
        multiple = f"{shipped[0] / floor[0]:.2f}x" if shipped else "n/a"
        ratio = f"{naive[0] / shipped[0]:.1f}x" if shipped and naive else "n/a"
        print(f"| {name} | {kind} | {control} | {med} | {p95} | {multiple} | {ratio} | "
              f"{'meets' if _meets((name, kind, control, shipped, naive, floor)) else 'MISSES'} | "
              f"{_cpu(name, kind)} |")
    meets = [r for r in rows if _meets(r)]
    print(f"\ntargets: median <= {TARGET_FLOOR_MULTIPLE}x the floor, p95 <= {TARGET_P95_MS:.0f} ms: "
          f"{len(meets)} of {len(rows)} widgets meet both")
    print(f"load average at the end {_load()} ({os.cpu_count()} CPUs)", flush=True)


if __name__ == "__main__":
    main()
