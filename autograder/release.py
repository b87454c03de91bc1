"""Release: the real ``nbgrader generate_assignment`` on the course, then copy the student notebooks
into ``course/``."""
from __future__ import annotations

import shutil
from pathlib import Path

from autograder import STUDENT_COURSE
from autograder.course import Course


def release(assignment: str, course: Path = STUDENT_COURSE, grading: Course | None = None) -> list[Path]:
    released = (grading or Course()).generate(assignment)
    target = course / assignment
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(released, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return sorted(target.rglob("*.ipynb"))
