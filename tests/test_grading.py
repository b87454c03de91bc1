"""Grading with the real nbgrader CLI: release, submit, autograde, feedback, export.

For every assignment: the reference-filled notebook scores full marks, the untouched release
scores 0 with NotImplementedError in the feedback, and each showcase mistake loses exactly the
points of its own exercise while the feedback names the mistake.
"""
from __future__ import annotations

import html
from concurrent.futures import ThreadPoolExecutor

import pytest

from autograder.build import assignments, graded_of
from autograder.course import Course
from autograder.submissions import filled, mistakes_of

pytestmark = pytest.mark.slow


def points(assignment: str) -> dict[str, int]:
    return {g.name: g.points for g in graded_of(assignment)}


def slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")


@pytest.fixture(scope="module", params=assignments())
def graded_course(request, tmp_path_factory):
    assignment = request.param
    course = Course.scratch(tmp_path_factory.mktemp(f"course-{assignment}"), [assignment])
    notebooks = course.release_notebooks(assignment)
    expected = {}  # student -> (score, phrases the feedback must contain)
    total = sum(points(assignment).values())

    def submit(student, **fill):
        course.submit(student, assignment, {nb.name: filled(nb, assignment, **fill) for nb in notebooks})

    submit("full")
    expected["full"] = (total, [])
    course.submit("untouched", assignment, {nb.name: nb.read_text() for nb in notebooks})
    expected["untouched"] = (0, ["NotImplementedError"])
    for m in (m for m in mistakes_of(assignment) if m.showcase):
        student = f"mistake-{slug(m.function)}-{slug(m.label)}"
        submit(student, overrides={m.function: m.source()})
        expected[student] = (total - points(assignment)[m.function], [m.label])

    # One nbgrader process per student, two at a time (the machine has two cores).
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda s: course.nbgrader("autograde", assignment, f"--student={s}", "--force"), expected))
    course.nbgrader("generate_feedback", assignment, "--force")
    return assignment, course, expected, course.grades()


def test_scores_match_expectations(graded_course):
    assignment, course, expected, grades = graded_course
    wrong = {s: (float(grades[(assignment, s)]["score"]), want) for s, (want, _) in expected.items()
             if abs(float(grades[(assignment, s)]["score"]) - want) > 1e-6}
    assert not wrong, f"student: (exported score, expected score) -> {wrong}"
    assert all(float(grades[(assignment, s)]["max_score"]) == expected["full"][0] for s in expected)


def test_feedback_names_the_problem(graded_course):
    assignment, course, expected, _ = graded_course
    for student, (_, phrases) in expected.items():
        feedback = html.unescape(course.feedback_html(student, assignment))
        assert feedback, f"no feedback generated for {student}"
        for phrase in phrases:
            assert phrase in feedback, f"feedback for {student} does not mention {phrase!r}"
