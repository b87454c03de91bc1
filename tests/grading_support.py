"""Helpers shared by the grading tests (tests/test_grade_*.py)."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from autograder import REPO_ROOT


def require_sandbox() -> None:
    """Skip when bubblewrap cannot sandbox here; under CI=true that is a failure, not a skip."""
    from autograder.grading.sandbox import probe
    ok, why = probe()
    if ok:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"the grading sandbox is required in CI: {why}")
    pytest.skip(f"no grading sandbox here: {why}")


def outside_tmp(prefix: str) -> Path:
    """A fresh folder outside /tmp (the sandbox hides /tmp behind its own tmpfs anyway, so a course
    root under /tmp would make the isolation tests too easy). Under the gitignored build/."""
    base = Path(os.environ.get("AUTOGRADER_TEST_DIR", REPO_ROOT / "build" / "grading-tests"))
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


def remove(path: Path) -> None:
    if os.environ.get("AUTOGRADER_KEEP_TEST_DIRS"):
        print(f"kept {path}")
        return
    shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------------ one nbgrader release per assignment
_released: dict[str, Path] = {}


def released(assignment: str) -> Path:
    """The root of a scratch course where real nbgrader generated ``assignment`` (``Course.scratch``),
    made once per test session and never graded in: the grading tests copy it (:func:`scratch_copy`),
    tests/test_release_sync.py compares its release with course/. Removed when the session ends."""
    from autograder.course import Course
    if assignment not in _released:
        root = outside_tmp(f"released-{assignment}-")
        atexit.register(remove, root)
        Course.scratch(root, [assignment])
        _released[assignment] = root
    return _released[assignment]


def scratch_copy(root: Path, assignment: str):
    """``Course.scratch(root, [assignment])`` without running nbgrader generate_assignment again: a
    copy of :func:`released` (its source/, release/ and gradebook), configured for ``root``."""
    from autograder.course import Course
    shutil.copytree(released(assignment), root, dirs_exist_ok=True)
    return Course(root)  # rewrites the copied nbgrader_config.py for this root


# ------------------------------------------------------------------ one graded course per assignment
# tests/test_grading.py and tests/test_grade_cascade.py read the same graded course (the session
# fixture ``graded_course`` in tests/conftest.py): one course build and one nbgrader run per assignment.

def points(assignment: str) -> dict[str, int]:
    from autograder.build import graded_of
    return {g.name: g.points for g in graded_of(assignment)}


def mistake_bundles(assignment: str) -> list[list]:
    """The showcase mistakes packed into as few submissions as possible, at most one per graded
    function in each. Scores never cascade (tests/test_grade_cascade.py proves it for every pair),
    and each test cell's own score is checked, so a bundle shows each mistake costing exactly
    its own exercise's points, at the price of one notebook run instead of one per mistake."""
    from autograder.submissions import mistakes_of
    bundles: list[list] = []
    for m in (m for m in mistakes_of(assignment) if m.showcase):
        home = next((b for b in bundles if all(o.function != m.function for o in b)), None)
        home.append(m) if home is not None else bundles.append([m])
    return bundles


def grade_course(assignment: str, root: Path) -> tuple:
    """Release ``assignment`` in a scratch course at ``root`` (a copy of :func:`released`), submit,
    autograde (real nbgrader CLI: two ``nbgrader autograde`` runs at a time, the machine has two cores,
    each grading half of the students), generate feedback and export (at the same time).

    Students: ``full`` (the reference), ``untouched`` (the release as is), ``mistakes-<i>`` (the
    showcase mistakes, :func:`mistake_bundles`), ``cascade-probe`` (tests/test_grade_cascade.py)
    and, for 02_ddpm, ``cascade-swapped`` (issue 13).
    Returns (assignment, course, expected, grades, cells): expected is student -> (test cell ->
    points it must score, phrases its feedback must contain); grades the exported rows;
    cells (student, test cell) -> the gradebook's automatic score.
    """
    from concurrent.futures import ThreadPoolExecutor

    from autograder.submissions import filled

    course = scratch_copy(root, assignment)
    notebooks = course.release_notebooks(assignment)
    pts = points(assignment)
    expected = {}

    def submit(student, wrong, phrases, **fill):
        course.submit(student, assignment, {nb.name: filled(nb, assignment, **fill) for nb in notebooks})
        expected[student] = ({f"test_{f}": 0 if f in wrong else p for f, p in pts.items()}, phrases)

    submit("full", (), [])
    course.submit("untouched", assignment, {nb.name: nb.read_text() for nb in notebooks})
    expected["untouched"] = ({f"test_{f}": 0 for f in pts}, ["NotImplementedError"])
    for i, bundle in enumerate(mistake_bundles(assignment), start=1):
        submit(f"mistakes-{i}", {m.function for m in bundle}, [m.label for m in bundle],
               overrides={m.function: m.source() for m in bundle})
    submit("cascade-probe", (), [], overrides=probed_sources(assignment))
    if assignment == "02_ddpm":
        submit("cascade-swapped", {"q_sample"}, SWAPPED_FEEDBACK,
               overrides={"q_sample": SWAPPED_Q_SAMPLE, "ddpm_loss": LOSS_THROUGH_Q_SAMPLE})
    students = list(expected)
    lanes = [students[0::2], students[1::2]]   # one nbgrader start per lane, not one per student

    def autograde(lane):
        others = ",".join(s for s in students if s not in lane)
        course.nbgrader("autograde", assignment, f"--CourseDirectory.student_id_exclude={others}", "--force")
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(autograde, lanes))
        feedback = pool.submit(course.nbgrader, "generate_feedback", assignment, "--force")
        grades = course.grades()   # nbgrader export, while generate_feedback runs
        feedback.result()
    cells = {}
    with course.gradebook() as gb:
        for sub in gb.assignment_submissions(assignment):
            for nb in sub.notebooks:
                for g in nb.grades:
                    cells[(sub.student.id, g.name)] = g.auto_score
    return assignment, course, expected, grades, cells


# ------------------------------------------------------------------ the cascade probe (test_grade_cascade.py)
PROBE = '''

_cascade_calling = False


def _cascade_probe(callees):
    """While graded (inside record_outputs), call each graded function above through the
    notebook's names, as a caller may. Elsewhere (the notebook's own cells) do nothing."""
    global _cascade_calling
    import sys
    import torch
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_name != "record_outputs":
        frame = frame.f_back
    if frame is None:
        return
    from coursekit.checks.cases import case_inputs, run
    _cascade_calling = True
    try:
        with torch.random.fork_rng(devices=[]):
            for callee in callees:
                kind, value = run(globals()[callee], case_inputs("{assignment}", callee, 0))
                if kind != "ok":
                    raise RuntimeError(f"{{callee}}, called by another graded function, failed: {{value}}")
    finally:
        _cascade_calling = False
'''

FUNCTION = '''

_cascade_{name} = {name}


def {name}(*args, **kwargs):
    if _cascade_calling:
        raise RuntimeError("{name} is broken when another graded function calls it")
    _cascade_probe({callees!r})
    return _cascade_{name}(*args, **kwargs)
'''

CLASS = '''

_cascade_{name} = {name}


class {name}(_cascade_{name}):
    def __init__(self, *args, **kwargs):
        if _cascade_calling:
            raise RuntimeError("{name} is broken when another graded function calls it")
        super().__init__(*args, **kwargs)
        _cascade_probe({callees!r})
'''

# Issue 13's example, with a mistake that no registry lists: q_sample exchanges x0 and noise;
# ddpm_loss is written as the notebook invites, through q_sample (the reference does not call it).
SWAPPED_Q_SAMPLE = '''def q_sample(x0, t, alpha_bar, noise):
    a = alpha_bar[t].reshape(-1, *([1] * (x0.ndim - 1)))
    return a.sqrt() * noise + (1 - a).sqrt() * x0
'''
LOSS_THROUGH_Q_SAMPLE = '''def ddpm_loss(model, x0, t, alpha_bar, noise):
    x_t = q_sample(x0, t, alpha_bar, noise)
    return ((model(x_t, t) - noise) ** 2).mean()
'''
SWAPPED_FEEDBACK = ["q_sample is not right yet",
                    "Diagnosis: your output is what the correct function gives with x0 and noise exchanged"]


def probed_sources(assignment: str) -> dict[str, str]:
    """graded name -> the cell source of the probing submission."""
    from autograder.build import graded_of, reference_source
    from coursekit.registry import get
    row, graded = get(assignment), graded_of(assignment)
    sources = {}
    for i, g in enumerate(graded):
        callees = [h.name for h in graded[:i]]
        wrapper = CLASS if isinstance(row.reference(g.name), type) else FUNCTION
        sources[g.name] = ((PROBE.format(assignment=assignment) if i == 0 else "")
                           + reference_source(row, g.name) + wrapper.format(name=g.name, callees=callees))
    return sources
