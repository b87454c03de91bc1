"""Per-assignment budgets: the reference notebook runs top to bottom in <= 60 s on 2 cores,
and autograding one full-marks submission with the real nbgrader takes <= 20 s."""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from autograder import SOURCE
from autograder.build import assignments
from autograder.course import Course
from autograder.submissions import filled

NOTEBOOK_BUDGET_S, AUTOGRADE_BUDGET_S = 60.0, 20.0


def run_notebook(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def autograde_once(assignment: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        course = Course.scratch(Path(tmp), [assignment])
        course.submit("bench", assignment, {nb.name: filled(nb, assignment) for nb in course.release_notebooks(assignment)})
        start = time.perf_counter()
        course.nbgrader("autograde", assignment, "--student=bench", "--force")
        return time.perf_counter() - start


def main(names: list[str] | None = None) -> None:
    names = names or [a for a in assignments() if not os.environ.get("BENCH_ONLY") or a in os.environ["BENCH_ONLY"].split(",")]
    print(f"{'assignment':<28}{'notebook s':>12}{'budget':>8}{'autograde s':>13}{'budget':>8}")
    for a in names:
        nb_time = sum(run_notebook(p) for p in sorted((SOURCE / a).glob("*.ipynb")))
        ag_time = autograde_once(a)
        print(f"{a:<28}{nb_time:>12.1f}{NOTEBOOK_BUDGET_S:>8.0f}{ag_time:>13.1f}{AUTOGRADE_BUDGET_S:>8.0f}"
              f"{'' if nb_time <= NOTEBOOK_BUDGET_S and ag_time <= AUTOGRADE_BUDGET_S else '  OVER BUDGET'}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or None)
