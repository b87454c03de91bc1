"""Simulated submissions: a student notebook with its solution cells filled in.

Used by the grading tests, the benchmarks and the adversarial corpus: fill every exercise
with the reference (full marks), leave the release untouched (zero), or swap one exercise
for a registered mistake (partial credit, and the feedback should name the mistake).
"""
from __future__ import annotations

from pathlib import Path

import nbformat

from autograder.build import reference_source
from coursekit.registry import get


def solution_cells(nb) -> dict[str, nbformat.NotebookNode]:
    """grade_id -> solution cell."""
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}


def mistakes_of(assignment: str) -> list:
    """All registered mistakes of an assignment (see ``coursekit.registry``)."""
    return get(assignment).named_mistakes()


def filled(student_nb_path: Path, assignment: str, overrides: dict[str, str] | None = None,
           leave_empty: set[str] = frozenset()):
    """The student notebook with every solution cell replaced by the reference source,
    except those named in ``overrides`` (name -> source) or ``leave_empty``."""
    row = get(assignment)
    nb = nbformat.read(student_nb_path, as_version=4)
    for name, cell in solution_cells(nb).items():
        if name in leave_empty:
            continue
        cell.source = (overrides or {}).get(name) or reference_source(row, name).rstrip("\n")
    return nb
