"""Grading with the real nbgrader CLI: release, submit, autograde, feedback, export.

For every assignment: the reference-filled notebook scores full marks, the untouched release
scores 0 with NotImplementedError in the feedback, and each showcase mistake loses exactly the
points of its own exercise while the feedback names the mistake. The course is the session fixture
``graded_course`` (tests/conftest.py, tests/grading_support.py ``grade_course``); the cascade
probes of tests/test_grade_cascade.py are graded in the same run and held to the same two tests.
"""
from __future__ import annotations

import html

import pytest

pytestmark = pytest.mark.slow


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
