"""course/ is exactly what the pipeline generates, and it carries no solutions or hidden tests.

One source of truth: each solution cell of an instructor notebook is the verbatim source of the
reference function in solutions/, and the student notebooks are `nbgrader generate_assignment`'s
output for those instructor notebooks.
"""
from __future__ import annotations

import importlib
import json

import nbformat
import pytest
import torch

from autograder import SOURCE, STUDENT_COURSE
from autograder.build import assignments, build, graded_functions, graded_of, reference_source, templates
from autograder.course import Course
from coursekit.checks.judge import describe_mismatch
from coursekit.registry import get
from grading_support import released

ASSIGNMENTS = assignments()


def notebook_json(path) -> dict:
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        cell.pop("outputs", None), cell.pop("execution_count", None)
    return nb


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_instructor_notebooks_and_fixture_are_rebuilt_identically(assignment, tmp_path):
    rebuilt = build(assignment, source_root=tmp_path / "source", fixture_path=tmp_path / "fixture.pt")
    for path in rebuilt:
        committed = SOURCE / assignment / path.name
        assert committed.exists(), f"{committed} is missing: run `make release`"
        assert notebook_json(path) == notebook_json(committed), f"{committed} is stale: run `make release`"
    fresh = torch.load(tmp_path / "fixture.pt", weights_only=True)
    stored = torch.load(get(assignment).fixture, weights_only=True)
    assert fresh.keys() == stored.keys()
    for name in fresh:
        assert describe_mismatch(stored[name]["expected"], fresh[name]["expected"]) is None, \
            f"fixture for {name} is stale: run `make release`"
        assert [m["label"] for m in stored[name]["mistakes"]] == [m["label"] for m in fresh[name]["mistakes"]]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_cells_are_the_reference_source(assignment):
    row = get(assignment)
    for template in templates(row):
        nb = nbformat.read(SOURCE / assignment / f"{template.stem}.ipynb", as_version=4)
        cells = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
        for g in graded_functions(row, template):
            assert cells[g.name] == reference_source(row, g.name).rstrip("\n")


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_notebooks_are_nbgraders_release(assignment):
    """The session's one ``nbgrader generate_assignment`` run per assignment (tests/grading_support.py
    ``released``: the grading tests grade copies of the same release) gives exactly course/."""
    notebooks = Course(released(assignment)).release_notebooks(assignment)
    assert notebooks
    committed = sorted((STUDENT_COURSE / assignment).glob("*.ipynb"))
    assert [p.name for p in committed] == [p.name for p in notebooks]
    for fresh, stored in zip(notebooks, committed):
        assert notebook_json(fresh) == notebook_json(stored), f"{stored} is stale: run `make release`"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_notebooks_hold_no_solutions_or_hidden_tests(assignment):
    for path in sorted((STUDENT_COURSE / assignment).glob("*.ipynb")):
        text = path.read_text()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "_reference_", "hidden_check"):
            assert marker not in text, f"{path} contains {marker!r}"
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                assert "raise NotImplementedError()" in cell.source, f"{path}: solution cell not cleared"
        # No line of any solution body survives in the student notebook.
        for g in graded_of(assignment):
            body = reference_source(get(assignment), g.name).split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
            for line in (ln.strip() for ln in body.splitlines()):
                if len(line) > 25:
                    assert line not in text, f"{path} leaks solution line {line!r} of {g.name}"


def test_student_release_does_not_import_solutions():
    for path in STUDENT_COURSE.rglob("*.ipynb"):
        if "explorers" in path.parts:
            continue
        assert "solutions" not in "".join(c.source for c in nbformat.read(path, as_version=4).cells
                                          if c.cell_type == "code"), f"{path} imports solutions"


def test_committed_notebooks_have_no_outputs_or_widget_state():
    """Notebooks in git diff cleanly: no outputs, no execution counts, no saved widget state."""
    from autograder import REPO_ROOT
    for path in [*STUDENT_COURSE.rglob("*.ipynb"), *SOURCE.rglob("*.ipynb")]:
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = json.loads(path.read_text())
        assert "widgets" not in nb.get("metadata", {}), f"{path.relative_to(REPO_ROOT)} stores widget state"
        for cell in nb["cells"]:
            assert not cell.get("outputs") and not cell.get("execution_count"), \
                f"{path.relative_to(REPO_ROOT)} stores outputs: clear them before committing"


def test_shipped_cosine_schedules_are_02s_reference():
    """Later assignments get 02's graded cosine schedule as numbers (coursekit/kit/schedules.pt), never
    as a function; the numbers are the reference's, so one source of truth."""
    from autograder.build import schedules
    from coursekit.kit.diffusion import SCHEDULES
    stored, fresh = torch.load(SCHEDULES, weights_only=True), schedules()
    assert stored.keys() == fresh.keys()
    assert all(torch.equal(stored[k], fresh[k]) for k in fresh), "coursekit/kit/schedules.pt is stale: run `make build`"


def test_learner_visible_code_defines_no_graded_function():
    """coursekit/ and widgets/ (what learners import) define no function or class named like a graded
    one, except the cases modules, whose functions build each graded function's check inputs.

    One deliberate exception: 03-05 sample with the kit's deterministic DDIM (eta = 0). It cannot
    stand in for 02's ddim_sample, which is graded on eta = 0.5 and 1 too (asserted here)."""
    import re
    from autograder import REPO_ROOT
    from coursekit.checks.cases import GRADING_SEEDS, case_inputs
    kit_ddim_fails_02 = any(case_inputs("ddpm", "ddim_sample", s)["eta"] > 0 for s in GRADING_SEEDS)
    allowed = {("coursekit/kit/diffusion.py", "ddim_sample")} if kit_ddim_fails_02 else set()
    graded = {g.name: a for a in assignments() for g in graded_of(a)}
    found = []
    for path in sorted((REPO_ROOT / "coursekit").rglob("*.py")) + sorted((REPO_ROOT / "widgets").rglob("*.py")):
        if path.name == "cases.py":
            continue
        rel = str(path.relative_to(REPO_ROOT))
        for m in re.finditer(r"^(?:def|class) (\w+)", path.read_text(), re.M):  # top level only
            if m.group(1) in graded and (rel, m.group(1)) not in allowed:
                found.append(f"{rel}: {m.group(1)} (graded in {graded[m.group(1)]})")
    assert not found, "learner-visible code defines graded functions:\n" + "\n".join(found)
