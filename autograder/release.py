"""Release: the real ``nbgrader generate_assignment``, then copy the student notebooks into ``course/``."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from autograder import COURSE_ROOT, STUDENT_COURSE


def nbgrader(*args: str, root: Path = COURSE_ROOT, check: bool = True) -> subprocess.CompletedProcess:
    """Run an nbgrader command on the course root with this environment's Python."""
    cmd = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={root}"]
    # nbgrader shells out to `alembic`, so this environment's bin/ must come first on PATH.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def generate(assignment: str, root: Path = COURSE_ROOT) -> Path:
    nbgrader("generate_assignment", assignment, "--force", root=root)
    return root / "release" / assignment


def release(assignment: str, course: Path = STUDENT_COURSE) -> list[Path]:
    released = generate(assignment)
    target = course / assignment
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(released, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return sorted(target.rglob("*.ipynb"))
