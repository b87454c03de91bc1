"""Build the instructor notebooks (nbgrader ``source/``) from text templates and ``solutions/``.

A template is a jupytext percent-format script, ``templates/<assignment>/<notebook>.py``.
Two cell directives connect it to the reference code, so each solution has one source of truth:

    # %% graded="ddpm.q_sample" points=2
        -> the solution cell: ``solutions.ddpm.q_sample``'s source, verbatim (its
           ``### BEGIN/END SOLUTION`` regions are what learners must write), and
        -> a locked test cell: the visible check, then hidden tests that compare with the
           reference (inlined, renamed ``_reference_q_sample``) on unseen seeded inputs.
    # %% provided="ddpm.ddim_timesteps"
        -> a code cell with that helper's source, given to learners as is.

The build also writes ``coursekit/fixtures/<assignment>.pt``: expected outputs and the outputs
of the known mistakes (``solutions/<module>_mistakes.py``) on the visible check inputs.
"""
from __future__ import annotations

import ast
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
from coursekit.checking import FIXTURES, VISIBLE_SEEDS, case_inputs, run

SOLUTION_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


@dataclass
class Graded:
    module: str       # e.g. "ddpm"
    name: str         # e.g. "q_sample"
    points: int
    deps: list[str] = field(default_factory=list)  # graded functions it calls, transitively


def function_source(module: str, name: str) -> str:
    fn = getattr(importlib.import_module(f"solutions.{module}"), name)
    return textwrap.dedent(inspect.getsource(fn))


def called_names(source: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}


def parse_directive(metadata: dict, key: str) -> tuple[str, str] | None:
    value = metadata.get(key)
    if value is None:
        return None
    module, _, name = value.partition(".")
    return module, name


def graded_functions(template: Path) -> list[Graded]:
    nb = jupytext.read(template)
    graded = []
    for cell in nb.cells:
        target = parse_directive(cell.metadata, "graded")
        if target:
            graded.append(Graded(*target, int(cell.metadata.get("points", 1))))
    names = {g.name for g in graded}
    direct = {g.name: called_names(function_source(g.module, g.name)) & (names - {g.name}) for g in graded}
    for g in graded:  # transitive closure, in a stable order
        seen, todo = [], sorted(direct[g.name])
        while todo:
            d = todo.pop(0)
            if d not in seen:
                seen.append(d)
                todo.extend(sorted(direct[d]))
        g.deps = seen
    return graded


def reference_source(g: Graded, graded_names: set[str]) -> str:
    """The reference function without solution markers, every graded name renamed to _reference_*."""
    src = "\n".join(ln for ln in function_source(g.module, g.name).splitlines() if not SOLUTION_MARKERS.match(ln))
    for n in graded_names:
        src = re.sub(rf"\b(?<!\.){n}\b(?=\s*\()", f"_reference_{n}", src)
    return src + "\n"


def test_cell_source(assignment: str, g: Graded, by_name: dict[str, Graded]) -> str:
    """The locked test cell: hidden recording first, then the visible check.

    The hidden block inlines only the references of the graded functions ``g`` calls (to stand in
    for the learner's versions) and records what the learner's ``g`` returns on every grading
    case; the verdict is computed outside the learner's kernel (``autograder.grading.verdict``).
    The reference of ``g`` itself never enters the learner's kernel.
    """
    deps_arg = ", deps={" + ", ".join(f'"{d}": {d}' for d in g.deps) + "}" if g.deps else ""
    references = "".join(reference_source(by_name[n], set(by_name)) + "\n" for n in g.deps)
    substitute = "{" + ", ".join(f'"{d}": _reference_{d}' for d in g.deps) + "}"
    return (
        f"# Checks for {g.name} ({g.points} point{'s' * (g.points != 1)}). Grading also runs hidden tests here.\n"
        "### BEGIN HIDDEN TESTS\n"
        f"{references}"
        "from coursekit.grading import record_outputs\n"
        f'record_outputs("{assignment}", "{g.name}", globals(), {substitute}, module="{g.module}")\n'
        "### END HIDDEN TESTS\n"
        f'check("{g.name}", {g.name}{deps_arg})'
    )


def nbgrader_meta(cell_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "grade_id": cell_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return meta


def build_notebook(template: Path, assignment: str) -> nbformat.NotebookNode:
    graded = graded_functions(template)
    by_name = {g.name: g for g in graded}
    nb = jupytext.read(template)
    cells = []
    for cell in nb.cells:
        meta = dict(cell.metadata)
        if cell.cell_type == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(cell.source))
        elif parse_directive(meta, "graded"):
            g = by_name[parse_directive(meta, "graded")[1]]
            solution = nbformat.v4.new_code_cell(function_source(g.module, g.name).rstrip("\n"))
            solution.metadata["nbgrader"] = nbgrader_meta(g.name, solution=True)
            test = nbformat.v4.new_code_cell(test_cell_source(assignment, g, by_name))
            test.metadata["nbgrader"] = nbgrader_meta(f"test_{g.name}", grade=True, locked=True, points=g.points)
            cells += [solution, test]
        elif parse_directive(meta, "provided"):
            module, name = parse_directive(meta, "provided")
            cells.append(nbformat.v4.new_code_cell(function_source(module, name).rstrip("\n")))
        else:
            cells.append(nbformat.v4.new_code_cell(cell.source))
    for i, cell in enumerate(cells):  # stable ids keep rebuilds byte-identical
        cell.id = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell-{i:03d}").replace("_", "-")
    out = nbformat.v4.new_notebook(cells=cells)
    out.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    out.metadata["language_info"] = {"name": "python"}
    return out


def build_fixture(assignment: str, graded: list[Graded]) -> dict:
    fixture = {}
    modules = {g.module for g in graded}
    mistakes = []
    for module in modules:
        try:
            mistakes += importlib.import_module(f"solutions.{module}_mistakes").mistake.all
        except ModuleNotFoundError:
            pass
    for g in graded:
        reference = getattr(importlib.import_module(f"solutions.{g.module}"), g.name)
        inputs = [case_inputs(assignment, g.name, seed, module=g.module) for seed in VISIBLE_SEEDS]
        expected = []
        for seed, kwargs in zip(VISIBLE_SEEDS, inputs):
            kind, value = run(reference, kwargs)
            if kind != "ok":
                raise RuntimeError(f"reference {g.name} raised on visible seed {seed}: {value!r}")
            expected.append(value)
        entries = []
        for m in (m for m in mistakes if m.function == g.name):
            outcomes = []
            for kwargs in inputs:
                kind, value = run(m.fn, kwargs)
                outcomes.append({"kind": kind, "value": type(value).__name__ if kind == "raises" else value})
            entries.append({"label": m.label, "hint": m.hint, "outcomes": outcomes})
        fixture[g.name] = {"module": g.module, "seeds": list(VISIBLE_SEEDS), "expected": expected,
                           "mistakes": entries}
    return fixture


def assignments() -> list[str]:
    return sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir())


def build(assignment: str, source_root: Path = SOURCE, fixtures_root: Path = FIXTURES) -> list[Path]:
    """Write the instructor notebooks of ``assignment`` and its fixture; return the notebook paths."""
    written = []
    all_graded = []
    for template in sorted((TEMPLATES / assignment).glob("*.py")):
        nb = build_notebook(template, assignment)
        all_graded += graded_functions(template)
        path = source_root / assignment / f"{template.stem}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        written.append(path)
    fixtures_root.mkdir(parents=True, exist_ok=True)
    torch.save(build_fixture(assignment, all_graded), fixtures_root / f"{assignment}.pt")
    return written
