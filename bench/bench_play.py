"""Play buttons: the frame rate drawn in the page, and the slider they drive (the capstone's 3-D players).

A Play button (``ipywidgets.Play``, jslinked to a step slider in the page) animates with no kernel
round trip per frame: every frame is a frame bank's, drawn by the page. What limits the rate is the
page itself: each 3-D frame rebuilds WebGL buffers and redraws the scene (software WebGL in headless
Chromium here). ``measure_plays`` presses each Play of a notebook from its first frame to its last
and counts the frames the plot drew, with the same recorder as the browser tests
(``tests/browser/widget_checks.PlayDriver``): frames per second = frames drawn / time from the first
to the last. The target is 30 frames per second (the Play's interval, 33 ms).

``python -m bench widgets`` calls ``measure_plays`` for every notebook it opens (its slider rows
give the step slider's latency). ``python -m bench play`` runs only the notebooks with a Play
button whose name has ``capstone`` in it (``BENCH_ONLY`` picks others): Play three times per
button, and the driven slider's latency (30 moves, as ``bench widgets`` times them).

The floor, measured in the same page after each notebook: a formation player holding only what
moves (:func:`show_play_floor`: random particles of the notebook's first formation player's shape,
no demonstrations, goals, start or obstacle), played the same way. What the renderer costs for the
moving particles alone, in this browser on this machine; a scene is reported as a multiple of it.
``BENCH_CHROMIUM_ARGS`` (space-separated) adds Chromium flags to this bench's browser.
"""
from __future__ import annotations

import os

import numpy as np

from bench.bench_widgets import MOVES, _load, _run_cell, _stats, browser_harness, browser_session, measure

TARGET_FPS = 30.0
PLAYS = 3


def _drivers():
    import widget_checks as C  # tests/browser, on the path once browser_harness() has run
    return C


def measure_plays(nb, panels: list[dict], plays: int = 1, latency: bool = False) -> list[tuple]:
    """Press every Play button of ``panels`` (``Panel.snapshot()``s) ``plays`` times from the first frame;
    print and return rows (kind, play, slider, fps list, frames drawn, frames, slider stats or None)."""
    C = _drivers()
    rows = []
    for snap in panels:
        for play in C.play_controls(snap):
            index = C.linked_control(nb, snap["model_id"], play)
            info = snap["controls"][index] if index else None
            if info is None or info["disabled"] or snap["controls"][play]["disabled"]:
                print(f"  {snap['kind']}: {play} drives no enabled slider; skipped", flush=True)
                continue
            driver = C.PlayDriver(C.PanelDriver(nb, snap, []), play, index)
            lo, hi = info["min"], info["max"]
            fps, drawn = [], 0
            for _ in range(plays):
                nb.control_locator(snap["model_id"], index, "slider").focus()
                nb.page.keyboard.press("Home")
                driver.wait(lambda s: s["shown"] == lo and not s["playing"], f"{index} = {lo} before playing")
                frames = driver.play_to_end(hi)
                fps.append(C.play_rate(frames))
                drawn = len(frames)
            slider = _stats(measure(nb, snap["model_id"], index, info["step"], moves=MOVES)) if latency else None
            row = (snap["kind"], play, index, fps, drawn, int(round((hi - lo) / info["step"])) + 1, slider)
            rows.append(row)
            _print(row)
    return rows


FLOOR_CODE = """import sys; sys.path.insert(0, %r)
from bench.bench_play import show_play_floor
show_play_floor()"""


def show_play_floor() -> None:
    """Display the floor: a formation player of only its moving traces, shaped as the first formation
    player alive in this kernel (steps, samples, waypoints), its states random."""
    import torch
    from IPython.display import display

    from widgets import Panel
    from widgets.capstone import formation_player

    shaped = next(p for p in Panel.instances() if p.kind == "capstone_formation")
    steps = shaped.controls["step"].max
    samples = len(shaped.figure.data[-2].x) - len(shaped.figure.data[-1].x)   # paths hold one NaN per sample
    waypoints = len(shaped.figure.data[-1].x) // samples
    g = torch.Generator().manual_seed(0)
    states = torch.randn(steps + 1, samples, waypoints, 3, generator=g).cumsum(2) * 0.05
    display(formation_player(lambda name: states, ["floor"]))


def measure_floor(nb, plays: int) -> list[tuple]:
    """Show the floor in the open notebook and play it ``plays`` times; its rows (kind "play_floor")."""
    from bench.bench_widgets import REPO
    known = {p["model_id"] for p in nb.kernel_panels()}
    _run_cell(nb, FLOOR_CODE % str(REPO))
    floor = [p for p in nb.kernel_panels() if p["model_id"] not in known]
    for p in floor:
        nb.wait_rendered(p["model_id"], p["kind"])
    return measure_plays(nb, [dict(p, kind="play_floor") for p in floor], plays=plays)


def _print(row) -> None:
    kind, play, index, fps, drawn, frames, slider = row
    lat = f"; {index} slider median {slider[0]:.1f} ms, p95 {slider[1]:.1f} ms" if slider else ""
    print(f"  {kind:<22}{play}: {np.median(fps):5.1f} frames per second drawn (load {_load()}; runs: "
          f"{', '.join(f'{f:.1f}' for f in fps)}; {drawn} of {frames} frames in the last), "
          f"{'meets' if np.median(fps) >= TARGET_FPS else 'MISSES'} {TARGET_FPS:.0f} fps{lat}", flush=True)


def main() -> None:

    H = browser_harness()
    if H is None:
        return
    extra = os.environ.get("BENCH_CHROMIUM_ARGS", "").split()
    if extra:
        H.CHROMIUM_ARGS = [*H.CHROMIUM_ARGS, *extra]   # this process's launch only
        print(f"Chromium flags added: {' '.join(extra)}", flush=True)
    only = [s for s in os.environ.get("BENCH_ONLY", "capstone").split(",") if s]
    notebooks = [p for p in H.widget_notebooks() if any(o in str(p) for o in only)]
    print(f"Play pressed {PLAYS} times per button from its first frame; frames per second drawn in the page; "
          f"the slider it drives moved {MOVES} times (ms keydown -> painted)", flush=True)
    with browser_session(H, notebooks) as (server, context, served):
        for path in notebooks:
            nb = H.NotebookPage(context.new_page(), server, served[path], workspace=f"bench-play-{path.stem}")
            try:
                ran = nb.run_all(timeout_s=900)
                panels = nb.kernel_panels()
                print(f"{path.stem}: ran all cells in {ran:.1f} s; load average {_load()}", flush=True)
                for p in panels:
                    nb.wait_rendered(p["model_id"], p["kind"])
                rows = measure_plays(nb, panels, plays=PLAYS, latency=True)
                floor = measure_floor(nb, PLAYS)
                if floor:
                    base = np.median(floor[0][3])
                    for kind, play, _, fps, *_ in rows:
                        print(f"  {kind} {play}: {base / np.median(fps):.2f}x the floor's frame time "
                              f"(floor {base:.1f} fps)", flush=True)
            finally:
                nb.close()
    print(f"load average at the end {_load()} ({os.cpu_count()} CPUs)", flush=True)


if __name__ == "__main__":
    main()
