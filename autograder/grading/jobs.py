"""One job per submission: what a worker does, in plain data in and plain data out.

:func:`run_job` is the unit a distributed engine would schedule: it takes a JSON-able
:class:`Job`, runs the real nbgrader steps for one student through nbgrader's Python API
(``autograde`` then ``generate_feedback``, both with the course's configuration: sandboxed kernel,
verdict outside the kernel, clean feedback) and returns a JSON-able :class:`Result`. It is
idempotent (``--force`` semantics), so a job may be retried or handed to another machine.
"""
from __future__ import annotations

import json
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder.grading.status import FAILED, GRADED


@dataclass
class Job:
    root: str
    assignment: str
    student: str
    fingerprint: str = ""
    overrides: dict = field(default_factory=dict)   # traitlets config: {"Sandbox": {"cpu_seconds": 60}, ...}
    feedback: bool = True

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Job":
        return cls(**json.loads(text))


@dataclass
class Result:
    student: str
    status: str
    score: float | None = None
    max_score: float | None = None
    reason: str = ""
    fingerprint: str = ""
    seconds: float = 0.0
    feedback: bool = False
    log: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Result":
        return cls(**json.loads(text))


def course_config(root: str, overrides: dict | None = None):
    """The course's nbgrader_config.py as nbgrader would load it, plus ``overrides``."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    cfg = Config()
    if (Path(root) / "nbgrader_config.py").exists():
        cfg.merge(PyFileConfigLoader("nbgrader_config.py", path=root).load_config())
    cfg.CourseDirectory.root = str(root)
    if overrides:
        cfg.merge(Config(overrides))
    return cfg


def _reason_from(result: dict) -> str:
    """A one-line reason for a failed nbgrader step, for the FAILED line of the grades CSV."""
    import re

    from autograder.grading import execute
    if execute.LAST_FAILURE:
        return execute.LAST_FAILURE["reason"]
    text = (result.get("log") or "") + "\n" + (result.get("error") or "")
    if re.search(r"JSONDecodeError|NotJSONError|does not appear to be JSON", text):
        return "the submitted notebook is not valid JSON (not a notebook file, or damaged)"
    errors = [m for m in re.finditer(r"^\s*(?:\[ERROR\] )?([A-Za-z_][\w.]*(?:Error|Exception|Exit|Entry)): ?(.*)$", text, re.M)
              if not m.group(1).endswith("NbGraderException")]
    if errors:
        m = errors[-1]
        return f"{m.group(1).rsplit('.', 1)[-1]}: {m.group(2)}"[:400]
    lines = [ln for ln in text.splitlines() if ln.startswith("[ERROR]") and "Traceback" not in ln]
    return (lines[0][8:] if lines else "autograde failed (see the log)")[:400]


def run_job(job: Job, api_cache: dict | None = None) -> Result:
    """Autograde one submission and write its feedback; return what happened."""
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from autograder.grading import execute

    start = time.perf_counter()
    cfg = course_config(job.root, job.overrides)
    coursedir = CourseDirectory(config=cfg)
    api = NbGraderAPI(coursedir=coursedir, config=cfg)
    logs = []
    for attempt in range(3):
        execute.LAST_FAILURE = None
        outcome = api.autograde(job.assignment, job.student, force=True, create=True)
        logs.append(outcome.get("log", "") + outcome.get("error", ""))
        if outcome["success"] or "database is locked" not in logs[-1]:
            break
        time.sleep(1 + 2 * attempt)  # another worker held the gradebook: try again
    result = Result(job.student, FAILED, fingerprint=job.fingerprint)
    if not outcome["success"]:
        result.reason = _reason_from(outcome)
    else:
        try:
            with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
                sub = gb.find_submission(job.assignment, job.student)
                ungraded = [g.name for nb in sub.notebooks for g in nb.grades
                            if g.auto_score is None and g.manual_score is None]
                result.max_score = float(sub.max_score)
                if ungraded:
                    result.reason = f"not graded automatically: {', '.join(ungraded)} (needs manual grading)"
                else:
                    result.status, result.score = GRADED, float(sub.score)
        except MissingEntry:
            result.reason = "autograde left no submission in the gradebook"
        except Exception:
            result.reason = "could not read the gradebook: " + traceback.format_exc().strip().splitlines()[-1]
        if job.feedback and result.status == GRADED:
            fb = api.generate_feedback(job.assignment, job.student, force=True)
            result.feedback = bool(fb["success"])
            logs.append(fb.get("log", "") + fb.get("error", ""))
            if not fb["success"]:
                result.reason = "feedback could not be generated: " + _reason_from(fb)
    result.seconds = round(time.perf_counter() - start, 2)
    result.log = "\n".join(logs)[-200_000:]
    return result
