"""The feedback pages a learner receives, opened in Chromium from disk with the network cut off.

Two submissions of 01 (every exercise right; one registered mistake) are graded by the project's
grading command (`python -m autograder grade`: the real nbgrader, sandboxed), then each feedback
page is opened as a file. Every request other than the page's own files is aborted and fails the
test. Checks: formulas typeset by MathJax (its nodes present, no raw `$$` left), no message wider
than its box, no console error, the failure shows the learner's message without frames or paths of
the grader's machine, and the pass mark is drawn (not a glyph a font may lack). A standalone page
(``grade --standalone-feedback``, for nbgrader's exchange, which hands learners the .html alone) is
opened from a folder that holds nothing else, and its formulas are typeset all the same.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from grading_support import outside_tmp, remove, require_sandbox  # noqa: E402

from autograder import REPO_ROOT  # noqa: E402
from autograder.course import Course  # noqa: E402
from autograder.feedback_page import MATHJAX  # noqa: E402
from autograder.submissions import filled, mistakes_of  # noqa: E402

A = "01_variational_inference"


@pytest.fixture(scope="module")
def feedback():
    require_sandbox()
    base = outside_tmp("feedback-browser-")
    course = Course.scratch(base / "course", [A])
    release = course.release_notebooks(A)[0]
    mistake = mistakes_of(A)[0]
    for student, nb in {"right": filled(release, A),
                        "wrong": filled(release, A, overrides={mistake.function: mistake.source()})}.items():
        (base / "upload" / student).mkdir(parents=True)
        nbformat.write(nb, base / "upload" / student / release.name)
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", A, "--course-dir", str(base / "course"),
                           "--from", str(base / "upload"), "--workers", "2", "--quiet"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pages = {s: base / "course" / "feedback" / s / A / f"{A}.html" for s in ("right", "wrong")}
    yield pages, mistake
    remove(base)


def standalone_page(pages: dict, student: str) -> Path:
    """The student's feedback rendered again with ``OfflineAssets.standalone`` (what ``grade
    --standalone-feedback`` sets), copied alone into an empty folder as fetch_feedback leaves it."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    root = pages[student].parents[3]
    cfg = Course(root).config({"OfflineAssets": {"standalone": True},
                               "CourseDirectory": {"feedback_directory": "feedback-standalone"}})
    out = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg).generate_feedback(A, student, force=True)
    assert out["success"], out.get("error") or out.get("log")
    page = root / "feedback-standalone" / student / A / f"{A}.html"
    assert sorted(p.name for p in page.parent.iterdir()) == [page.name], "a standalone page needs no file beside it"
    alone = root.parent / "fetched" / f"{A}.html"
    alone.parent.mkdir()
    alone.write_bytes(page.read_bytes())
    return alone


def open_offline(context, path: Path):
    """Open a page from disk; every request that leaves its folder is recorded and aborted."""
    page = context.new_page()
    page.set_viewport_size({"width": 900, "height": 900})  # narrower than nbgrader's container
    errors, outside = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))

    def route(r):
        url = r.request.url
        if url.startswith(path.parent.as_uri() + "/") or url.startswith("data:"):
            return r.continue_()
        outside.append(url)
        return r.abort()

    page.route("**/*", route)
    page.goto(path.as_uri(), wait_until="load")
    return page, errors, outside


@pytest.mark.parametrize("student", ["right", "wrong", "standalone"])
def test_feedback_page_offline(feedback, context, student):
    pages, mistake = feedback
    if student == "standalone":
        path = standalone_page(pages, "wrong")
        assert f'src="{MATHJAX}"' not in path.read_text(), "the standalone page still links MathJax"
    else:
        path = pages[student]
        assert (path.parent / MATHJAX).is_file(), "the MathJax asset is written beside the page"
        assert path.stat().st_size < 1_000_000, f"{path.name} is {path.stat().st_size} bytes"
    context.set_default_timeout(60_000)
    page, errors, outside = open_offline(context, path)
    try:
        page.wait_for_function("() => document.querySelectorAll('mjx-container').length > 0"
                               " && !document.querySelector('mjx-container mjx-merror')", timeout=60_000)
        text = page.evaluate("() => Array.from(document.querySelectorAll('.text_cell_render'))"
                             ".map(e => e.innerText).join('\\n')")
        assert "$$" not in text and "\\frac" not in text and "\\mathbb" not in text, "raw TeX left in the page"
        wide = page.evaluate("""() => Array.from(document.querySelectorAll(
                '.output_subarea pre, .output_subarea, .rendered_html, .panel-heading'))
            .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'auto')
            .map(e => e.className + ': ' + e.innerText.slice(0, 80))""")
        assert not wide, f"content wider than its box: {wide}"
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        body = page.inner_text("body")
        for leak in (str(REPO_ROOT), "site-packages", "coursekit/checks", "BEGIN HIDDEN", "record_outputs"):
            assert leak not in body, f"the page shows {leak!r}"
        assert "\u2705" not in body and "\u23ed" not in body, "an emoji mark that Debian's fonts lack"
        if student in ("wrong", "standalone"):
            assert mistake.label in body, "the verdict names the mistake"
            assert "File " not in body, "a traceback frame outside the learner's cells"
        else:
            mark = page.locator(".course-mark--passed").first
            box = mark.bounding_box()
            assert box and box["width"] > 5 and box["height"] > 5, "the pass mark is not drawn"
        page.wait_for_timeout(300)
        assert not outside, f"requests left the machine (or the page's folder): {outside}"
        assert not errors, f"console errors: {errors}"
    finally:
        page.close()
