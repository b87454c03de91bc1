"""Session-wide test plumbing: each notebook is executed once per session, and each assignment's
graded course is built and graded once.

``graded_course`` (one per assignment, session-scoped): the scratch course that tests/test_grading.py
and tests/test_grade_cascade.py both read (tests/grading_support.py ``grade_course`` builds it).

Under pytest-xdist with ``--dist loadgroup`` (``make test`` runs the fast tests with ``-n 2``), the
tests that read one module-scoped (or class-scoped) fixture run on one worker, so it is built once,
and so do the tests that read one assignment's ``graded_course``.

tests/test_notebooks.py runs every instructor and explorer notebook top to bottom in a kernel.
tests/browser/test_browser_widgets.py runs the same notebooks with Run All in a real JupyterLab and
fails on any error output, any kernel error and any cell left unrun (browser_harness.run_all), so
when that test will run a notebook in this session (it was selected and Chromium is here), the
plain execution of that notebook is skipped with a reason that names the test which covers it.
Run alone (``pytest tests/test_notebooks.py``), without Chromium, or with ``-m 'not browser'``,
test_notebooks.py executes every notebook itself.

``--browser-shard K/N`` (tests/browser_shards.py): this run keeps only its part of the selected tests;
`make test` runs the browser phase as two such runs at once. Which notebooks the browser covers is
decided on the whole selection first, so a notebook that either shard runs in the browser is
executed by neither shard's test_notebooks.py.
"""
from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

import browser_shards
from autograder.build import assignments

COVERED = ("executed by tests/browser/test_browser_widgets.py in this session or its other browser shard "
           "(Run All in JupyterLab; it fails on any error output)")


class _XdistGroups:
    """Before pytest-xdist reads the ``xdist_group`` marks (it is a plain hook: this one runs first)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items):
        for item in items:
            params = getattr(item, "callspec", None) and item.callspec.params
            if params and "graded_course" in params:
                item.add_marker(pytest.mark.xdist_group(f"graded-{params['graded_course']}"))
                continue
            defs = [item._fixtureinfo.name2fixturedefs[n][-1] for n in item.fixturenames
                    if item._fixtureinfo.name2fixturedefs.get(n)]
            shared = any(d.scope != "function" and d.baseid.endswith(".py") and not getattr(d, "_autouse", False)
                         for d in defs)
            if shared:  # a module's (or class's) fixture: the file's tests that read one run on one worker
                item.add_marker(pytest.mark.xdist_group(Path(str(item.fspath)).name))


def pytest_addoption(parser):
    parser.addoption("--browser-shard", default=None, metavar="K/N",
                     help="run only part K of N of the selected tests (tests/browser_shards.py); "
                          "`make test` runs the browser phase as shards 1/2 and 2/2 at once")


def pytest_configure(config):
    config.pluginmanager.register(_XdistGroups(), "course-xdist-groups")
    shard = config.getoption("browser_shard")
    if shard:
        try:
            config.browser_shard = browser_shards.parse(shard)
        except ValueError as e:
            raise pytest.UsageError(str(e)) from None
        # A shard `make` starts in the background has Ctrl-C ignored (sh does that to `&` jobs):
        # take it back, so Ctrl-C stops it and its fixtures stop their servers and browser.
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(trylast=True)  # after -k / -m deselection: only the tests that will really run count
def pytest_collection_modifyitems(config, items):
    _skip_notebooks_the_browser_runs(items)
    shard = getattr(config, "browser_shard", None)
    if shard:
        k, n = shard
        skipped = {item.nodeid for item in items if item.get_closest_marker("skip")}
        mine = set(browser_shards.partition([item.nodeid for item in items], n, free=skipped)[k - 1])
        config.hook.pytest_deselected(items=[item for item in items if item.nodeid not in mine])
        items[:] = [item for item in items if item.nodeid in mine]


def _skip_notebooks_the_browser_runs(items):
    harness = sys.modules.get("browser_harness")  # imported by tests/browser/conftest.py when collected
    if harness is None or harness.browser_problem():
        return
    in_browser = {Path(item.callspec.params["notebook"]).resolve() for item in items
                  if getattr(item, "originalname", "") == "test_widgets_in_jupyterlab" and hasattr(item, "callspec")}
    for item in items:
        if getattr(item, "originalname", "") == "test_notebook_runs_without_errors" \
                and Path(item.callspec.params["path"]).resolve() in in_browser:
            item.add_marker(pytest.mark.skip(reason=COVERED))


@pytest.fixture(scope="session", params=assignments())
def graded_course(request, tmp_path_factory):
    from grading_support import grade_course
    return grade_course(request.param, tmp_path_factory.mktemp(f"course-{request.param}"))
