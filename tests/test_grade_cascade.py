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
"""
from __future__ import annotations

import html
from concurrent.futures import ThreadPoolExecutor

import pytest

from autograder.build import assignments, graded_of, reference_source
from autograder.course import Course
from autograder.grading.verdict import HiddenSpec, judge
from autograder.submissions import filled
from coursekit.checks import record
from coursekit.registry import get

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


def probed_sources(assignment: str) -> dict[str, str]:
    """graded name -> the cell source of the probing submission."""
    row, graded = get(assignment), graded_of(assignment)
    sources = {}
    for i, g in enumerate(graded):
        callees = [h.name for h in graded[:i]]
        wrapper = CLASS if isinstance(row.reference(g.name), type) else FUNCTION
        sources[g.name] = ((PROBE.format(assignment=assignment) if i == 0 else "")
                           + reference_source(row, g.name) + wrapper.format(name=g.name, callees=callees))
    return sources


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


def points(assignment: str) -> dict[str, int]:
    return {g.name: g.points for g in graded_of(assignment)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every assignment's probing submission, and issue 13's 02_ddpm case, graded by real nbgrader."""
    course = Course.scratch(tmp_path_factory.mktemp("cascade"), assignments())
    expected = {}  # (assignment, student) -> score
    for assignment in assignments():
        notebooks = course.release_notebooks(assignment)
        course.submit("probe", assignment, {nb.name: filled(nb, assignment, overrides=probed_sources(assignment))
                                            for nb in notebooks})
        expected[(assignment, "probe")] = sum(points(assignment).values())
    ddpm = "02_ddpm"
    overrides = {"q_sample": SWAPPED_Q_SAMPLE, "ddpm_loss": LOSS_THROUGH_Q_SAMPLE}
    course.submit("swapped", ddpm, {nb.name: filled(nb, ddpm, overrides=overrides) for nb in course.release_notebooks(ddpm)})
    expected[(ddpm, "swapped")] = sum(points(ddpm).values()) - points(ddpm)["q_sample"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda key: course.nbgrader("autograde", key[0], f"--student={key[1]}", "--force"), expected))
    course.nbgrader("generate_feedback", ddpm, "--student=swapped", "--force")
    return course, expected, course.grades()


@pytest.mark.slow
def test_no_caller_loses_points_for_a_broken_callee(graded):
    course, expected, grades = graded
    scores = {key: float(grades[key]["score"]) for key in expected}
    wrong = {key: (scores[key], want) for key, want in expected.items() if abs(scores[key] - want) > 1e-6}
    print({a: f"{pairs(a)} pairs, {scores[(a, 'probe')]:g}/{expected[(a, 'probe')]}" for a, s in expected if s == "probe"})
    assert not wrong, f"(assignment, student): (score, expected) -> {wrong}"


@pytest.mark.slow
def test_feedback_diagnoses_an_unregistered_mistake(graded):
    course, _, _ = graded
    feedback = html.unescape(course.feedback_html("swapped", "02_ddpm"))
    assert "q_sample is not right yet" in feedback
    assert "Diagnosis: your output is what the correct function gives with x0 and noise exchanged" in feedback
