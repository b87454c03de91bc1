"""Every widget notebook in a real JupyterLab, in Debian's Chromium, with a real kernel.

Found automatically (tests/browser/browser_harness.py, ``widget_notebooks``): every notebook
under course/explorers/ and every instructor notebook under autograder/source/*/ whose
code uses ``widgets``. For each one: open it, run all cells, wait for every widget Panel
to render, screenshot it, move each slider and dropdown with the keyboard and check after
each key that the plot shows the state the key implies (widget_checks.py says what that
means), drag each slider with 20 rapid key presses (no stale frame, no backlog), press each
Play button (widget_checks.PlayDriver: it plays to the end through frames whose data change, the
slider overrules it while playing, pause holds; the frame rate is reported), and require no
browser console errors and no kernel errors.
"""
from __future__ import annotations

import re
import time

import pytest

import browser_harness as H
from widget_checks import SLIDERS, Mismatch, PanelDriver, PlayDriver, linked_control, play_controls

NOTEBOOKS = H.widget_notebooks()
# Widgets that may appear as outputs without being a widgets.Panel: tqdm.auto's progress bars.
NOT_PANELS_ALLOWED = ("TqdmHBox",)
KERNEL_TRACE = re.compile(r"Traceback \(most recent call last\)|Exception in comm_msg|\[IPKernelApp\] ERROR")


def slug(path) -> str:
    return path.stem


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[str(p.relative_to(H.REPO)) for p in NOTEBOOKS])
def test_widgets_in_jupyterlab(notebook, lab, pool, record_property):
    log_start = len(lab.log_text())
    report: list[str] = []
    nb = None
    try:
        nb, run_s = pool.take(notebook)
        report.append(f"ran all cells in {run_s:.1f} s")
        panels = nb.kernel_panels()

        # Coverage: every widget the notebook displays is a Panel this test can read.
        shown = nb.displayed_widgets()
        panel_ids = {p["model_id"] for p in panels}
        strangers = {i: classes[0] for i, classes in shown.items()
                     if i not in panel_ids and not set(classes) & set(NOT_PANELS_ALLOWED)}
        assert not strangers, (f"{notebook.name} displays widgets that are not widgets.Panel, so no test can "
                               f"check them: {strangers}. Build them on widgets.Panel.")
        if not panels:
            report.append("no widget Panel in this notebook")

        shots = H.SCREENSHOTS / slug(notebook)
        drivers = []
        for i, snap in enumerate(panels):
            waited = nb.wait_rendered(snap["model_id"], snap["kind"], snap["meta"])
            report.append(f"{snap['kind']}: drawn {waited:.1f} s after the cells ran")
            nb.screenshot(snap["model_id"], shots / f"{i}-{snap['kind']}.png")
            driver = PanelDriver(nb, snap, report)
            driver.verify(f"{snap['kind']}: as first drawn")
            drivers.append(driver)

        for i, driver in enumerate(drivers):
            start = time.monotonic()
            moved = driver.exercise()
            snap = driver.kernel()
            for name in moved:
                info = snap["controls"][name]
                if info["type"] in SLIDERS and not info["disabled"] and info["max"] > info["min"]:
                    settle = driver.fast_drag(name)
                    report.append(f"{driver.kind}: {name} fast drag settled {1000 * settle:.0f} ms after the last key")
            for play in play_controls(snap):   # a Play button: pressed, its frames checked, paused, overruled
                index = linked_control(nb, driver.id, play)
                assert index, f"{driver.kind}: the Play button {play!r} drives no control of its Panel in the page"
                report.append(PlayDriver(driver, play, index).run())
            nb.screenshot(driver.id, shots / f"{i}-{driver.kind}-after-moves.png")
            report.append(f"{driver.kind}: {driver.moves} key moves checked in {time.monotonic() - start:.1f} s "
                          f"(with fast drags); max page-kernel difference {driver.worst:.2e}")

        if nb.late_starts:
            report.append(f"{nb.late_starts} widget model(s) missed anywidget's 2 s start-up window and rendered anyway")
        assert not nb.console_errors, "browser console errors:\n" + "\n".join(nb.console_errors)
        assert not nb.kernel_errors(), "kernel errors:\n" + "\n".join(nb.kernel_errors())
        kernel_log = lab.log_text()[log_start:]
        assert not KERNEL_TRACE.search(kernel_log), f"the kernel logged an error:\n{kernel_log[-4000:]}"
        record_property("run_all_s", round(run_s, 1))
    except Mismatch as e:
        pytest.fail(f"{notebook.name}: {e}", pytrace=False)
    finally:
        print(f"\n{notebook.name}: " + "; ".join(report))
        if nb is not None:
            nb.close()
