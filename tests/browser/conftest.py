"""Fixtures for the browser tests: one JupyterLab server and one Chromium for the whole session.

Without Debian's chromium (or Playwright) the tests skip with the fix in the message;
under CI=true they fail instead, so a CI image without a browser cannot pass silently.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import browser_harness as H

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.fspath)).parent == HERE:
            item.add_marker(pytest.mark.browser)


def _unavailable(message: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run under CI=true: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium():
    """Debian's chromium, launched once through Python Playwright."""
    problem = H.browser_problem()
    if problem:
        _unavailable(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        try:
            browser = H.launch_chromium(pw)
        except H.BrowserUnavailable as e:
            _unavailable(str(e))
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def served(tmp_path_factory) -> tuple[Path, dict[Path, str]]:
    """A scratch server root holding copies of every notebook the browser tests open."""
    root = tmp_path_factory.mktemp("browser") / "root"
    root.mkdir()
    notebooks = sorted(set(H.widget_notebooks()) | set(H.validate_notebooks()))
    return root, H.stage(notebooks, root)


@pytest.fixture(scope="session")
def lab(served, chromium):
    """One real JupyterLab for the session (started only once a browser is known to work)."""
    root, _ = served
    with H.JupyterServer(root, kind="lab") as server:
        yield server


class Validation:
    """nbgrader's Validate button, pressed on each reference notebook in its own tab."""

    def __init__(self, lab, context, paths):
        self.pages, self.labels = {}, {}
        for nb in H.validate_notebooks():
            page = H.NotebookPage(context.new_page(), lab, paths[nb], workspace=f"validate-{nb.stem}")
            button = page.page.locator(".jp-NotebookPanel-toolbar .validate-button").first
            button.wait_for(state="visible", timeout=60_000)
            self.labels[nb] = button.inner_text().strip()
            button.click()
            self.pages[nb] = page


@pytest.fixture(scope="session")
def validation(served, chromium):
    """Validation started once per session, early. nbgrader's validate handler runs the notebook
    inside the server's request handler and blocks that server until it is done, so it gets a
    JupyterLab of its own, and the widget tests carry on on theirs in the meantime."""
    root, paths = served
    with H.JupyterServer(root, kind="lab", log_path=root.parent / "validate-server.log") as server:
        ctx = chromium.new_context(viewport={"width": 1400, "height": 1000})
        try:
            yield Validation(server, ctx, paths)
        finally:
            ctx.close()


@pytest.fixture(scope="session")
def pool(request, lab, served, chromium):
    """The widget notebooks this run (or shard) tests, each opened and run in its own tab, ahead of the
    test driving them (browser_harness.NotebookPool)."""
    if any("test_validate_button" in item.nodeid for item in request.session.items):
        request.getfixturevalue("validation")  # start it now; its test reads the result at the end
    _, paths = served
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000})
    # Open ahead only what this session will test (in the order it runs), e.g. under -k.
    order = [item.callspec.params["notebook"] for item in request.session.items
             if hasattr(item, "callspec") and "notebook" in item.callspec.params
             and item.originalname == "test_widgets_in_jupyterlab"]
    # Two shards at once (`make test`): each opens one notebook ahead, not two, so the pools run four
    # notebooks at most between them, as one process with BROWSER_TESTS_AHEAD=2 runs three.
    ahead = 1 if getattr(request.config, "browser_shard", (1, 1))[1] > 1 and "BROWSER_TESTS_AHEAD" not in os.environ else None
    pool = H.NotebookPool(lab, ctx, paths, order, ahead=ahead)
    pool.prefetch()
    try:
        yield pool
    finally:
        pool.close()
        ctx.close()


@pytest.fixture
def context(chromium):
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture(scope="session", autouse=True)
def _start_early(request):
    """Start the widget notebooks (and validation) before the first browser test of the session,
    whichever it is, so their cells run while, say, the Voilà test waits on its dashboard."""
    names = {getattr(item, "originalname", "") for item in request.session.items if Path(str(item.fspath)).parent == HERE}
    if not H.browser_problem():
        if "test_widgets_in_jupyterlab" in names:
            request.getfixturevalue("pool")
        elif "test_validate_button_passes" in names:  # a shard without widget tests
            request.getfixturevalue("validation")
    yield
