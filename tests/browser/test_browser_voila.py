"""The explorer notebooks as code-free Voilà dashboards (what `make voila` serves), in Chromium.

For each explorer notebook: the dashboard renders every widget Panel with no code cell in the
page; on each Panel one slider moves with the keyboard, and the plot then shows the state
the key implies (the plot's recorded state, its title, and the same maths checks as in
JupyterLab); no console errors.
"""
from __future__ import annotations

import json
import time

import pytest

import browser_harness as H
from widget_checks import ORACLES, Mismatch, WAIT_STATE_JS

EXPLORERS = [p for p in sorted((H.REPO / "course" / "explorers").glob("*.ipynb")) if H.uses_widgets(p)]  # not index.ipynb


@pytest.fixture(scope="module")
def voila(tmp_path_factory, chromium):
    root = tmp_path_factory.mktemp("voila") / "root"
    root.mkdir()
    H.stage(EXPLORERS, root)
    with H.JupyterServer(root / "course" / "explorers", kind="voila") as server:
        yield server


@pytest.mark.skipif(not EXPLORERS, reason="no explorer notebooks")
@pytest.mark.parametrize("notebook", EXPLORERS, ids=[p.name for p in EXPLORERS])
def test_explorer_as_voila_dashboard(notebook, voila, context):
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    try:
        # Voila sends the page while it runs the cells (on a busy machine for minutes): wait for the
        # response, then for the page's state "all cells ran", capped only for a stuck page.
        page.goto(voila.url(f"voila/render/{notebook.name}"), wait_until="commit", timeout=H.RENDER_CAP_S * 1000)
        page.wait_for_function("() => document.readyState === 'complete' && !document.getElementById('loading')",
                               timeout=H.RENDER_CAP_S * 1000, polling=250)  # all cells ran
        page.evaluate(H.PAGE_JS)
        # Outputs render after the cells ran; wait until the number of Panels stops changing.
        count, stable_since, deadline = -1, time.monotonic(), time.monotonic() + H.RENDER_CAP_S
        while time.monotonic() < deadline:
            now = page.evaluate("() => document.querySelectorAll('.course-widget .course-figure').length")
            if now != count:
                count, stable_since = now, time.monotonic()
            elif count > 0 and time.monotonic() - stable_since > 3:
                break
            time.sleep(0.2)
        assert count > 0, f"{notebook.name}: the dashboard shows no widget Panel"
        assert page.locator(".jp-InputArea-editor, .jp-CodeMirrorEditor").count() == 0, "code is visible"
        ids = page.evaluate("() => [...document.querySelectorAll('.course-widget')].map((e) => "
                            "[...e.classList].find((c) => c.startsWith('course-widget-id--')).slice(18))")
        for i, mid in enumerate(ids):
            page.wait_for_function(H.RENDERED_JS, arg=mid, timeout=H.RENDER_CAP_S * 1000, polling=250)
            assert page.evaluate(H.FIGURE_STATUS_JS, mid)["plot"], f"{notebook.name}: a plot could not load"
            kind = next(c[15:] for c in page.evaluate(
                "(id) => [...window.__course.panel(id).classList]", mid) if c.startswith("course-widget--"))
            controls = page.evaluate("(id) => window.__course.controls(id)", mid)
            name, info = next(((n, c) for n, c in controls.items() if c["kind"] == "slider" and not c["disabled"]
                               and c["value"] < c["max"]), (None, None))
            assert name, f"{kind}: no slider to move"
            before = json.loads(page.evaluate("(id) => JSON.stringify(window.__course.figure(id))", mid))
            handle = page.locator(f".course-widget-id--{mid} .course-control--{name} .noUi-handle").first
            handle.scroll_into_view_if_needed()
            handle.focus()
            page.keyboard.press("End")
            page.wait_for_function(WAIT_STATE_JS, arg=[mid, name, info["max"], 1e-9 * max(1, abs(info["max"]))],
                                   timeout=H.RENDER_CAP_S * 1000, polling=250)
            time.sleep(0.3)
            fig = json.loads(page.evaluate("(id) => JSON.stringify(window.__course.figure(id))", mid))
            shown = page.evaluate("(id) => window.__course.controls(id)", mid)[name]
            assert abs(shown["value"] - info["max"]) < 1e-9 * max(1, abs(info["max"])), shown
            assert shown["readout"].replace("\u2212", "-") in fig["plainTitle"], (shown, fig["title"])
            assert fig["title"] != before["title"], "the title did not change"
            assert fig["svgTitle"] == fig["plainTitle"], (fig["svgTitle"], fig["title"])
            if kind in ORACLES:
                try:
                    ORACLES[kind](fig, fig["meta"]["state"])
                except Mismatch as e:
                    pytest.fail(f"Voilà, {notebook.name}, {kind}: {e}", pytrace=False)
            H.SCREENSHOTS.joinpath("voila").mkdir(parents=True, exist_ok=True)
            page.locator(f".course-widget-id--{mid}").first.screenshot(
                path=str(H.SCREENSHOTS / "voila" / f"{notebook.stem}-{i}-{kind}.png"))
        assert not errors, "browser console errors:\n" + "\n".join(errors)
    finally:
        page.close()
