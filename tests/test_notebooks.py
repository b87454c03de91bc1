"""Every instructor notebook and every explorer notebook runs top to bottom in a real kernel."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import REPO_ROOT, SOURCE
from autograder.build import templates
from coursekit.registry import ASSIGNMENTS

NOTEBOOKS = [SOURCE / row.folder / f"{t.stem}.ipynb" for row in ASSIGNMENTS.values() for t in templates(row)] \
    + sorted((REPO_ROOT / "course" / "explorers").glob("*.ipynb"))

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(REPO_ROOT)) for p in NOTEBOOKS])
def test_notebook_runs_without_errors(path: Path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
