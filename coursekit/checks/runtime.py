"""Run-time switches for notebooks: skip the (ungraded) experiments while nbgrader autogrades.

Autograding executes a whole submission, but only the check cells carry points. A code cell whose
first line starts with ``# experiment:`` (training runs, sweeps, their plots and widgets) is replaced
by a one-line notice when the notebook runs under ``nbgrader autograde`` (which sets the environment
variable ``NBGRADER_EXECUTION=autograde``). Everywhere else, in JupyterLab and in the tests, such cells
run as written.
"""
from __future__ import annotations

import os

MARKER = "# experiment:"
NOTICE = 'print("(experiment cell skipped while autograding: it carries no points)")\n'


def autograding() -> bool:
    """True inside ``nbgrader autograde``."""
    return os.environ.get("NBGRADER_EXECUTION") == "autograde"


def _skip_experiment(lines: list[str]) -> list[str]:
    first = next((ln for ln in lines if ln.strip()), "")
    return [NOTICE] if first.lstrip().startswith(MARKER) and autograding() else lines


def skip_experiments_when_autograding() -> None:
    """Install the input transformer in the running IPython kernel (idempotent; no-op outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is always there in a notebook
        return
    shell = get_ipython()
    if shell is not None and _skip_experiment not in shell.input_transformers_post:
        shell.input_transformers_post.append(_skip_experiment)
