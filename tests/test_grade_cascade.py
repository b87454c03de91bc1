"""Scores never cascade: a broken function costs its own points only, never its callers'.

While a function is graded, every graded function it may call (each one the notebook defines
above it, whether or not the reference calls it) is bound to its reference. The proof covers
every (caller, callee) pair of every assignment with ONE submission per assignment:

- every graded function is the reference wrapped in a *probe*: while it is graded, before doing
  its own work, it calls every graded function above it, through the notebook's names, on that function's first check
  case, and fails if one of them fails;
- every graded function, when called by another graded function's probe, is broken (it raises).

So a caller keeps its points only if, while it is graded, every callee name resolves to the
reference. The submission should score full marks. :func:`test_the_probe_detects_a_cascade`
shows, without nbgrader, that the same submission loses every caller's points when nothing is
bound. A second 02_ddpm submission is the case from issue 13 written as a learner would:
``ddpm_loss`` calls ``q_sample``, and ``q_sample`` has a mistake no registry lists.

Both submissions (students ``cascade-probe`` and ``cascade-swapped``) are graded by real nbgrader
in each assignment's graded course, the session fixture ``graded_course`` that tests/test_grading.py
reads too (tests/conftest.py): one course build and one grading run per assignment. The probe's
code is tests/grading_support.py's ``probed_sources``.
"""
from __future__ import annotations

import html

import pytest

from autograder.build import assignments, graded_of
from autograder.grading.verdict import HiddenSpec, judge
from coursekit.checks import record
from coursekit.registry import get
from grading_support import points, probed_sources


def pairs(assignment: str) -> int:
    n = len(graded_of(assignment))
    return n * (n - 1) // 2


@pytest.mark.parametrize("assignment", assignments())
def test_the_probe_detects_a_cascade(assignment, monkeypatch):
    """Without nbgrader: with nothing bound, every caller of the probing submission fails; with
    its callees bound to their references, it passes. So full marks below prove the binding."""
    row, graded = get(assignment), graded_of(assignment)
    notebook = dict(vars(__import__(row.solutions, fromlist=["_"])))
    for source in probed_sources(assignment).values():
        exec(source, notebook)
    published = []
    monkeypatch.setattr(record, "_publish", published.append)
    for i, g in enumerate(graded[1:], start=1):
        spec = HiddenSpec(f"test_{g.name}", assignment, g.name)
        record.record_outputs(assignment, g.name, notebook)
        passed, message = judge(spec, published.pop())
        assert not passed and "broken when another graded function calls it" in message, message
        record.record_outputs(assignment, g.name, notebook, {h.name: row.reference(h.name) for h in graded[:i]})
        passed, message = judge(spec, published.pop())
        assert passed, message


@pytest.mark.slow
def test_no_caller_loses_points_for_a_broken_callee(graded_course):
    assignment, course, _, grades, _ = graded_course
    score, want = float(grades[(assignment, "cascade-probe")]["score"]), sum(points(assignment).values())
    print(f"{assignment}: {pairs(assignment)} pairs, {score:g}/{want}")
    assert abs(score - want) < 1e-6, f"{assignment}: the probing submission scored {score:g}, not {want}"
    if assignment == "02_ddpm":  # issue 13: the broken q_sample costs its own points only
        swapped = float(grades[(assignment, "cascade-swapped")]["score"])
        assert abs(swapped - (want - points(assignment)["q_sample"])) < 1e-6, swapped


@pytest.mark.slow
@pytest.mark.parametrize("graded_course", ["02_ddpm"], indirect=True)  # the same course test_grading reads
def test_feedback_diagnoses_an_unregistered_mistake(graded_course):
    _, course, _, _, _ = graded_course
    feedback = html.unescape(course.feedback_html("cascade-swapped", "02_ddpm"))
    assert "q_sample is not right yet" in feedback
    assert "Diagnosis: your output is what the correct function gives with x0 and noise exchanged" in feedback
