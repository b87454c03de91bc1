"""Widgets render on a machine too busy for anywidget's start-up window.

anywidget gives each widget model 2 s to load its JavaScript and start; after that it drops every
message the kernel sends to that model. On a loaded 2-core machine plotly's 5 MB widget bundle
alone took 2.2-2.9 s to import, so the kernel's first draw never reached the page and the plot
stayed blank (issue 16: ``ddpm_explorer`` on a clean CI machine). ``widgets.Figure`` loads a small
module and imports plotly's bundle once per page, outside that window (``widgets/js/figure.js``).

Waiting for a machine to be busy enough is not a test. Here the window itself is cut, in the
page, from 2 s to 1 ms, so every widget model misses it, as on a machine far busier than any
learner's. With a 0.2 s window and the plain FigureWidget, no Panel of this notebook rendered
(measured). Now every Panel must render and show the kernel's state, and the first Panel
(ddpm_explorer's schedule) must follow a slider moved afterwards. Not covered, and known to fail
(issue 16): a Panel the kernel draws after its figure missed the window (bridge_explorer's
Langevin panel) renders, but does not follow a slider moved afterwards.
"""
from __future__ import annotations

import shutil

import pytest

import browser_harness as H
from widget_checks import WAIT_STATE_JS

WINDOW_MS = 1
# anywidget 0.11 starts each model's clock with AbortSignal.timeout(2000); nothing else in the page asks for 2000.
SHORT_WINDOW_JS = ("(() => { const timeout = AbortSignal.timeout.bind(AbortSignal);"
                   f" AbortSignal.timeout = (ms) => timeout(ms === 2000 ? {WINDOW_MS} : ms); }})()")
EXPLORERS = sorted((H.REPO / "course" / "explorers").glob("*.ipynb"))
# The notebook of issue 16's blank widget. Not "the first explorer": that changed when bridge_explorer
# was added, whose first panel is drawn by the kernel, and there (known, open in issue 16) a panel
# whose figure missed the window renders but does not follow a slider moved afterwards.
NOTEBOOK = "ddpm_explorer"


@pytest.mark.skipif(not any(p.stem == NOTEBOOK for p in EXPLORERS), reason=f"no {NOTEBOOK}.ipynb")
def test_widgets_render_when_the_start_up_window_is_missed(lab, served, context):
    notebook = next(p for p in EXPLORERS if p.stem == NOTEBOOK)
    root, _ = served
    # A copy of its own: JupyterLab gives every tab that opens one path the same kernel, and the
    # widget tests open this notebook in another tab meanwhile.
    copy = root / "slow_start" / notebook.name
    copy.parent.mkdir(exist_ok=True)
    shutil.copy(notebook, copy)
    context.add_init_script(SHORT_WINDOW_JS)
    nb = H.NotebookPage(context.new_page(), lab, copy.relative_to(root).as_posix(), workspace="slow-start")
    try:
        assert nb.page.evaluate("() => AbortSignal.timeout(2000) instanceof AbortSignal"), "the window was not cut"
        nb.run_all()
        panels = nb.kernel_panels()
        assert panels, f"{notebook.name} shows no Panel"
        for snap in panels:
            nb.wait_rendered(snap["model_id"], snap["kind"], snap["meta"])
            shown = nb.figure(snap["model_id"])
            assert shown["meta"] == snap["meta"], f"{snap['kind']}: the page shows {shown['meta']}, the kernel {snap['meta']}"
            assert shown["title"] == snap["title"]
        first = panels[0]
        name, info = next((n, c) for n, c in first["controls"].items()
                          if c["type"] in ("IntSlider", "FloatSlider") and not c["disabled"] and c["value"] < c["max"])
        handle = nb.control_locator(first["model_id"], name, "slider")
        handle.scroll_into_view_if_needed()
        handle.focus()
        nb.page.keyboard.press("End")
        nb.page.wait_for_function(WAIT_STATE_JS, arg=[first["model_id"], name, info["max"], 1e-9 * max(1, abs(info["max"]))],
                                  timeout=H.RENDER_CAP_S * 1000, polling=250)
        assert nb.late_starts > 0, "no widget model missed the shortened window: this test tested nothing"
        assert not nb.console_errors, "browser console errors:\n" + "\n".join(nb.console_errors)
    finally:
        nb.close()
