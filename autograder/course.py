"""A throw-away nbgrader course root, for tests, benchmarks and dry runs.

It holds a copy of the real config and instructor notebooks, so grading there exercises the
real nbgrader on the real assignments without touching the repository's course root.
"""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import nbformat

from autograder import COURSE_ROOT
from autograder.release import generate, nbgrader


class ScratchCourse:
    def __init__(self, root: Path, assignments: list[str]):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.copy(COURSE_ROOT / "nbgrader_config.py", self.root / "nbgrader_config.py")
        for a in assignments:
            shutil.copytree(COURSE_ROOT / "source" / a, self.root / "source" / a, dirs_exist_ok=True)
            generate(a, self.root)

    def release_notebooks(self, assignment: str) -> list[Path]:
        return sorted((self.root / "release" / assignment).glob("*.ipynb"))

    def submit(self, student: str, assignment: str, notebooks: dict[str, nbformat.NotebookNode | str]) -> Path:
        """Place a submission: notebook file name -> notebook (or raw text, for broken files)."""
        folder = self.root / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        for name, nb in notebooks.items():
            if isinstance(nb, str):
                (folder / name).write_text(nb)
            else:
                nbformat.write(nb, folder / name)
        return folder

    def run(self, *args: str, check: bool = True):
        return nbgrader(*args, root=self.root, check=check)

    def export(self) -> dict[tuple[str, str], dict]:
        """nbgrader export to CSV; returns (assignment, student) -> row."""
        out = self.root / "grades.csv"
        self.run("export", f"--to={out}")
        with open(out) as f:
            return {(r["assignment"], r["student_id"]): r for r in csv.DictReader(f)}

    def feedback_html(self, student: str, assignment: str) -> str:
        return "\n".join(p.read_text() for p in sorted((self.root / "feedback" / student / assignment).glob("*.html")))
