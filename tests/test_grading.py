"""Grading with the real nbgrader CLI: release, submit, autograde, feedback, export.

For every assignment: the reference-filled notebook scores full marks, the untouched release
scores 0 with NotImplementedError in the feedback, and each showcase mistake loses exactly the
points of its own exercise (each test cell's score is checked, and the exported total) while the
feedback names the mistake. The showcase mistakes share submissions, at most one per graded
function in each (tests/grading_support.py ``mistake_bundles``). The course is the session fixture
``graded_course`` (tests/conftest.py, tests/grading_support.py ``grade_course``); the cascade
probes of tests/test_grade_cascade.py are graded in the same run and held to the same tests.
"""
from __future__ import annotations

import html

import pytest

pytestmark = pytest.mark.slow


def test_scores_match_expectations(graded_course):
    assignment, course, expected, grades, cells = graded_course
    wrong_cells = {(s, cell): (cells.get((s, cell)), want) for s, (want_cells, _) in expected.items()
                   for cell, want in want_cells.items() if cells.get((s, cell)) is None
                   or abs(float(cells[(s, cell)]) - want) > 1e-6}
    assert not wrong_cells, f"(student, test cell): (its score, expected score) -> {wrong_cells}"
    wrong = {s: (float(grades[(assignment, s)]["score"]), sum(want.values())) for s, (want, _) in expected.items()
             if abs(float(grades[(assignment, s)]["score"]) - sum(want.values())) > 1e-6}
    assert not wrong, f"student: (exported score, expected score) -> {wrong}"
    total = sum(expected["full"][0].values())
    assert all(float(grades[(assignment, s)]["max_score"]) == total for s in expected)


def test_feedback_names_the_problem(graded_course):
    assignment, course, expected, _, _ = graded_course
    for student, (_, phrases) in expected.items():
        feedback = html.unescape(course.feedback_html(student, assignment))
        assert feedback, f"no feedback generated for {student}"
        for phrase in phrases:
            assert phrase in feedback, f"feedback for {student} does not mention {phrase!r}"
