"""Instructor tooling: build instructor notebooks from templates + solutions, release, grade.

What instructors write lives in this package (``templates/``, ``source/``, ``nbgrader_config.py``);
what nbgrader and the grader write at run time lives in the course root, ``RUNTIME_ROOT``
(``<repo>/var/course/``, gitignored; see :mod:`autograder.course`).
"""
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE.parent
TEMPLATES = PACKAGE / "templates"
SOURCE = PACKAGE / "source"                      # the instructor notebooks (nbgrader's source/)
CONFIG = PACKAGE / "nbgrader_config.py"          # the course's nbgrader configuration
RUNTIME_ROOT = REPO_ROOT / "var" / "course"      # the default nbgrader course root
STUDENT_COURSE = REPO_ROOT / "course"
