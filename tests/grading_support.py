"""Helpers shared by the grading tests (tests/test_grade_*.py)."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from autograder import REPO_ROOT


def require_sandbox() -> None:
    """Skip when bubblewrap cannot sandbox here; under CI=true that is a failure, not a skip."""
    from autograder.grading.sandbox import probe
    ok, why = probe()
    if ok:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"the grading sandbox is required in CI: {why}")
    pytest.skip(f"no grading sandbox here: {why}")


def outside_tmp(prefix: str) -> Path:
    """A fresh folder outside /tmp (the sandbox hides /tmp behind its own tmpfs anyway, so a course
    root under /tmp would make the isolation tests too easy). Under the gitignored build/."""
    base = Path(os.environ.get("AUTOGRADER_TEST_DIR", REPO_ROOT / "build" / "grading-tests"))
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


def remove(path: Path) -> None:
    if os.environ.get("AUTOGRADER_KEEP_TEST_DIRS"):
        print(f"kept {path}")
        return
    shutil.rmtree(path, ignore_errors=True)
