"""Instructor tooling: build instructor notebooks from templates + solutions, release, grade."""
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent          # the nbgrader course root
REPO_ROOT = COURSE_ROOT.parent
TEMPLATES = COURSE_ROOT / "templates"
SOURCE = COURSE_ROOT / "source"
STUDENT_COURSE = REPO_ROOT / "course"
