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
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from autograder.build import assignments

COVERED = ("executed by tests/browser/test_browser_widgets.py in this session (Run All in JupyterLab; "
           "it fails on any error output)")


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


def pytest_configure(config):
    config.pluginmanager.register(_XdistGroups(), "course-xdist-groups")


@pytest.hookimpl(trylast=True)  # after -k / -m deselection: only the tests that will really run count
def pytest_collection_modifyitems(config, items):
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
