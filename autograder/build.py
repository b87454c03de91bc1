"""Build the instructor notebooks (nbgrader ``source/``) from text templates and ``solutions/``.

Which assignments exist, and where each one's reference, mistakes and cases live, is read from
the table ``coursekit.registry``. A template is a jupytext percent-format script,
``templates/<folder>/<notebook>.py``. Two cell directives connect it to the reference code, so
each solution has one source of truth:

    # %% graded="q_sample" points=2
        -> the solution cell: the source of ``q_sample`` in the assignment's solutions module
           (``solutions.ddpm``), verbatim (its ``### BEGIN/END SOLUTION`` regions are what
           learners must write), and
        -> a locked test cell: the visible check, then the hidden recording of the learner's
           outputs on unseen seeded inputs (judged outside the kernel).
    # %% provided="ddim_timesteps"                      (or provided="solutions.other.name")
        -> a code cell with that helper's source, given to learners as is.

The build also writes the assignment's check data (the registry's ``fixture`` path): expected
outputs and the outputs of the named mistakes on the visible check inputs; and the cosine
schedules later assignments use, as numbers (``coursekit/kit/schedules.pt``).
"""
from __future__ import annotations

import importlib
import inspect
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat
import torch

from autograder import SOURCE, TEMPLATES
from coursekit.checks.cases import VISIBLE_SEEDS
from coursekit.checks.judge import check_data
from coursekit.kit.diffusion import SCHEDULE_LENGTHS, SCHEDULES
from coursekit.registry import ASSIGNMENTS, Assignment, get

SOLUTION_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


@dataclass
class Graded:
    name: str         # e.g. "q_sample"
    points: int
    deps: list[str] = field(default_factory=list)  # graded functions above it: bound to references while graded


def function_source(module: str, name: str) -> str:
    """The source of ``module.name`` (``module`` a dotted module path, e.g. ``solutions.ddpm``)."""
    return textwrap.dedent(inspect.getsource(getattr(importlib.import_module(module), name)))


def reference_source(row: Assignment, name: str) -> str:
    """The source of graded function ``name`` of assignment ``row``, as written in solutions/."""
    return function_source(row.solutions, name)


def provided_source(row: Assignment, value: str) -> str:
    """``provided="name"`` (from the assignment's solutions module) or ``"package.module.name"``."""
    module, _, name = value.rpartition(".")
    return function_source(module or row.solutions, name)


def graded_functions(row: Assignment, template: Path) -> list[Graded]:
    nb = jupytext.read(template)
    graded = []
    for cell in nb.cells:
        name = cell.metadata.get("graded")
        if name:
            if "." in name:
                raise ValueError(f"{template}: graded={name!r} should name a function of {row.solutions} "
                                 "without a module (the registry says which module)")
            graded.append(Graded(name, int(cell.metadata.get("points", 1))))
    for i, g in enumerate(graded):  # what g may call: every graded function the notebook defines above it
        g.deps = [h.name for h in graded[:i]]
    return graded


def renamed_reference(row: Assignment, g: Graded, graded_names: set[str]) -> str:
    """The reference function without solution markers, every graded name renamed to _reference_*."""
    src = "\n".join(ln for ln in reference_source(row, g.name).splitlines() if not SOLUTION_MARKERS.match(ln))
    for n in graded_names:
        src = re.sub(rf"\b(?<!\.){n}\b(?=\s*\()", f"_reference_{n}", src)
    return src + "\n"


def test_cell_source(row: Assignment, g: Graded, by_name: dict[str, Graded]) -> str:
    """The locked test cell: hidden recording first, then the visible check.

    The hidden block inlines the references of the graded functions ``g`` may call (every one
    above it, whether or not the reference calls it: they stand in for the learner's versions, so
    a mistake never costs the points of its callers) and records what the learner's ``g``
    returns on every grading case; the verdict is computed outside the learner's kernel (``autograder.grading.verdict``).
    The reference of ``g`` itself never enters the learner's kernel.
    """
    references = "".join(renamed_reference(row, by_name[n], set(by_name)) + "\n" for n in g.deps)
    substitute = "{" + ", ".join(f'"{d}": _reference_{d}' for d in g.deps) + "}"
    return (
        f"# Checks for {g.name} ({g.points} point{'s' * (g.points != 1)}). Grading also runs hidden tests here.\n"
        "### BEGIN HIDDEN TESTS\n"
        f"{references}"
        "from coursekit.checks.record import record_outputs\n"
        f'record_outputs("{row.folder}", "{g.name}", globals(), {substitute})\n'
        "### END HIDDEN TESTS\n"
        f'check("{g.name}", {g.name})'
    )


def nbgrader_meta(cell_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "grade_id": cell_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return meta


def build_notebook(row: Assignment, template: Path) -> nbformat.NotebookNode:
    graded = graded_functions(row, template)
    by_name = {g.name: g for g in graded}
    nb = jupytext.read(template)
    cells = []
    for cell in nb.cells:
        meta = dict(cell.metadata)
        if cell.cell_type == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(cell.source))
        elif "graded" in meta:
            g = by_name[meta["graded"]]
            solution = nbformat.v4.new_code_cell(reference_source(row, g.name).rstrip("\n"))
            solution.metadata["nbgrader"] = nbgrader_meta(g.name, solution=True)
            test = nbformat.v4.new_code_cell(test_cell_source(row, g, by_name))
            test.metadata["nbgrader"] = nbgrader_meta(f"test_{g.name}", grade=True, locked=True, points=g.points)
            cells += [solution, test]
        elif "provided" in meta:
            cells.append(nbformat.v4.new_code_cell(provided_source(row, meta["provided"]).rstrip("\n")))
        else:
            cells.append(nbformat.v4.new_code_cell(cell.source))
    for i, cell in enumerate(cells):  # stable ids keep rebuilds byte-identical
        cell.id = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell-{i:03d}").replace("_", "-")
    out = nbformat.v4.new_notebook(cells=cells)
    out.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    out.metadata["language_info"] = {"name": "python"}
    return out


def build_fixture(row: Assignment, graded: list[Graded]) -> dict:
    fixture = {}
    mistakes = row.named_mistakes()
    for g in graded:
        inputs = [row.case_inputs(g.name, seed) for seed in VISIBLE_SEEDS]
        fixture[g.name] = check_data(row.reference(g.name), inputs, VISIBLE_SEEDS,
                                     [m for m in mistakes if m.function == g.name])
    return fixture


def assignments() -> list[str]:
    """The folders (nbgrader assignment names) of every assignment in the registry, in course order."""
    return [row.folder for row in ASSIGNMENTS.values()]


def templates(row: Assignment) -> list[Path]:
    """The notebook templates of an assignment (one notebook each)."""
    found = sorted((TEMPLATES / row.folder).glob("*.py"))
    if not found:
        raise FileNotFoundError(f"no templates for {row.key} in {TEMPLATES / row.folder}")
    return found


def graded_of(assignment: str) -> list[Graded]:
    """Every graded function of an assignment (short name or folder), over all its notebooks."""
    row = get(assignment)
    return [g for t in templates(row) for g in graded_functions(row, t)]


def build(assignment: str, source_root: Path = SOURCE, fixture_path: Path | None = None) -> list[Path]:
    """Write the instructor notebooks of ``assignment`` and its check data; return the notebook paths.

    ``fixture_path`` defaults to the registry's; tests pass another to compare without overwriting.
    """
    row = get(assignment)
    written = []
    for template in templates(row):
        path = source_root / row.folder / f"{template.stem}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(build_notebook(row, template), path)
        written.append(path)
    fixture_path = fixture_path or row.fixture
    fixture_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(build_fixture(row, graded_of(assignment)), fixture_path)
    build_schedules()
    return written


def schedules() -> dict[str, torch.Tensor]:
    """The cosine alpha_bar of every length later assignments use, from 02's reference (its one source):
    learners get these numbers (``coursekit.kit.diffusion.cosine_alpha_bar``), not the function."""
    from solutions.ddpm import compute_alpha_bar, cosine_beta_schedule
    return {f"cosine_{T}": compute_alpha_bar(cosine_beta_schedule(T)) for T in SCHEDULE_LENGTHS}


def build_schedules(path: Path = SCHEDULES) -> Path:
    torch.save(schedules(), path)
    return path
