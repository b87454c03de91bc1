"""A learner's progress: which exercises pass their visible checks, and when they last ran.

Every visible check (``coursekit.checks.visible.check``) calls :func:`record`. When the notebook
runs in a learner's course folder (its folder's parent holds ``START.md``, the start page), the
result goes into ``.progress.json`` beside the notebook (one small file per assignment folder,
hidden in JupyterLab's file browser) and ``PROGRESS.md`` beside ``START.md`` is rewritten from all of
them. The start page links ``PROGRESS.md``: opening it shows the progress without running anything.

Threat model: nothing here is trusted or graded; a learner may edit these files freely. Anywhere
else (the grader's sandbox, the instructor notebooks, a test's scratch copy) nothing is written, and
a file that cannot be written never breaks a check. ``python -m coursekit.progress [course folder]``
writes ``PROGRESS.md`` from the recorded results (``make lab`` runs it first, so the link works
before the first check).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from coursekit import registry

START, PAGE, RESULTS = "START.md", "PROGRESS.md", ".progress.json"
STATUS_WORDS = {"pass": "passes", "fail": "fails", "skipped": "waits for a function it calls"}


def course_folder(cwd: Path | None = None) -> Path | None:
    """The learner's course folder (the parent of the notebook's folder, with START.md), or None."""
    here = Path.cwd() if cwd is None else Path(cwd)
    return here.parent if (here.parent / START).is_file() and here.name in registry.FOLDERS else None


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(folder: Path) -> dict:
    """The recorded results of one assignment folder: name -> {"status", "time"} ({} if none or unreadable)."""
    try:
        data = json.loads((folder / RESULTS).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def record(assignment: str, name: str, status: str, cwd: Path | None = None) -> None:
    """Record that the visible check of ``name`` ended with ``status`` ("pass", "fail", "skipped")."""
    try:
        course = course_folder(cwd)
        if course is None:
            return
        folder = course / registry.get(assignment).folder
        results = load(folder)
        results[name] = {"status": status, "time": datetime.now().isoformat(timespec="seconds")}
        _write_atomically(folder / RESULTS, json.dumps(results, indent=1, sort_keys=True) + "\n")
        write_page(course)
    except Exception as exc:  # progress is a convenience: never let it break a check
        print(f"(progress not saved: {exc})", file=sys.stderr)


def exercises(row) -> list[str]:
    """The graded functions of an assignment in notebook order (the hints table lists every one)."""
    from coursekit.hints import graded_names
    return graded_names(row.key)


def render(course: Path) -> str:
    """PROGRESS.md for the course folder ``course``."""
    lines = ["# Your progress", "",
             "Each exercise's last visible check, as recorded when its check cell ran. Run a check cell "
             "again to update this page, then reopen it. Nothing here is a grade: the grader runs its own, "
             "hidden tests. Back to the [start page](START.md).", "",
             "| Assignment | Passing | Last check | Exercises |", "|---|---|---|---|"]
    for row in registry.ASSIGNMENTS.values():
        names = exercises(row)
        results = load(course / row.folder)
        passing = [n for n in names if results.get(n, {}).get("status") == "pass"]
        times = [r.get("time", "") for r in results.values() if isinstance(r, dict)]
        last = max(times).replace("T", " ") if times else "never"
        cells = []
        for n in names:
            status = results.get(n, {}).get("status")
            cells.append(f"`{n}` {STATUS_WORDS.get(status, 'not checked yet')}" if status
                         else f"`{n}` not checked yet")
        notebooks = sorted((course / row.folder).glob("*.ipynb"))
        link = f"{row.folder}/{notebooks[0].name}" if notebooks else row.folder
        lines.append(f"| [{row.folder}]({link}) | {len(passing)} of {len(names)} "
                     f"| {last} | {'; '.join(cells)} |")
    return "\n".join(lines) + "\n"


def write_page(course: Path) -> Path:
    path = Path(course) / PAGE
    _write_atomically(path, render(Path(course)))
    return path


if __name__ == "__main__":
    print(write_page(Path(sys.argv[1] if len(sys.argv) > 1 else "course")))
