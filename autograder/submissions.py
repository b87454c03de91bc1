"""Simulated submissions: a student notebook with its solution cells filled in.

Used by the grading tests, the benchmarks and the adversarial corpus: fill every exercise
with the reference (full marks), leave the release untouched (zero), or swap one exercise
for a registered mistake (partial credit, and the feedback should name the mistake).
"""
from __future__ import annotations

import importlib
from pathlib import Path

import nbformat

from autograder.build import function_source


def solution_cells(nb) -> dict[str, nbformat.NotebookNode]:
    """grade_id -> solution cell."""
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}


def mistakes_of(assignment: str) -> list:
    """All registered mistakes of an assignment's solution modules."""
    found = []
    for module in sorted(set(modules_of(assignment).values())):
        try:
            found += importlib.import_module(f"solutions.{module}_mistakes").mistake.all
        except ModuleNotFoundError:
            pass
    return found


def modules_of(assignment: str) -> dict[str, str]:
    """graded function name -> solutions module, for an assignment."""
    from autograder import TEMPLATES
    from autograder.build import graded_functions
    return {g.name: g.module for t in (TEMPLATES / assignment).glob("*.py") for g in graded_functions(t)}


def filled(student_nb_path: Path, assignment: str, overrides: dict[str, str] | None = None,
           leave_empty: set[str] = frozenset()):
    """The student notebook with every solution cell replaced by the reference source,
    except those named in ``overrides`` (name -> source) or ``leave_empty``."""
    modules = modules_of(assignment)
    nb = nbformat.read(student_nb_path, as_version=4)
    for name, cell in solution_cells(nb).items():
        if name in leave_empty:
            continue
        cell.source = (overrides or {}).get(name) or function_source(modules[name], name).rstrip("\n")
    return nb
