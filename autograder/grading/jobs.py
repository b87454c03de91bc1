"""One job per submission: what a worker does, in plain data in and plain data out.

:func:`run_job` is the unit a distributed engine would schedule: it takes a JSON-able
:class:`Job`, runs the real nbgrader steps for one student through nbgrader's Python API
(``autograde`` then ``generate_feedback``, both with the course's configuration: sandboxed kernel,
verdict outside the kernel, clean feedback) and returns a JSON-able
:class:`~autograder.grading.status.Result` (the same type the ledger stores). It is
idempotent (``--force`` semantics), so a job may be retried or handed to another machine.
"""
from __future__ import annotations

import json
import re
import time
import traceback
from dataclasses import asdict, dataclass, field

from autograder.grading.status import FAILED, GRADED, Result


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


def reason_from_log(outcome: dict) -> str:
    """A one-line reason for a failed nbgrader step that no preprocessor explained (the file is not
    a notebook, nbgrader's own error), for the FAILED line of the grades CSV."""
    text = (outcome.get("log") or "") + "\n" + (outcome.get("error") or "")
    if re.search(r"JSONDecodeError|NotJSONError|does not appear to be JSON", text):
        return "the submitted notebook is not valid JSON (not a notebook file, or damaged)"
    errors = [m for m in re.finditer(r"^\s*(?:\[ERROR\] )?([A-Za-z_][\w.]*(?:Error|Exception|Exit|Entry)): ?(.*)$", text, re.M)
              if not m.group(1).endswith("NbGraderException")]
    if errors:
        m = errors[-1]
        return f"{m.group(1).rsplit('.', 1)[-1]}: {m.group(2)}"[:400]
    lines = [ln for ln in text.splitlines() if ln.startswith("[ERROR]") and "Traceback" not in ln]
    return (lines[0][8:] if lines else "autograde failed (see the log)")[:400]


def _autograde(api, assignment: str, student: str) -> tuple[dict, str | None]:
    """``NbGraderAPI.autograde`` (same steps), returning also why the notebook could not be graded,
    as the Execute preprocessor that ran it found out."""
    from nbgrader.converters import Autograde
    from nbgrader.utils import capture_log, temp_attrs

    from autograder.grading.execute import failure_of
    with temp_attrs(api.coursedir, assignment_id=assignment, student_id=student):
        app = Autograde(coursedir=api.coursedir, parent=api)
        app.force, app.create_student = True, True
        outcome = capture_log(app)
    return outcome, failure_of(app)


# Gradebook failures that another writer (or the network) causes and a second attempt clears: the
# pattern in nbgrader's log, and what to say about it. Several workers write one gradebook: SQLite
# answers "database is locked" (local pool); PostgreSQL (the Dask engine) aborts one of two conflicting
# transactions (serialization failure, deadlock) or loses a connection. Any other error is reported
# as it is, at once.
TRANSIENT_GRADEBOOK_ERRORS = (
    (r"database is locked", "another worker held the SQLite gradebook"),
    (r"SerializationFailure|could not serialize access",
     "PostgreSQL cancelled this write because another worker changed the same rows at the same time "
     "(a serialization failure)"),
    (r"DeadlockDetected|deadlock detected",
     "PostgreSQL cancelled this write to break a deadlock with another worker's"),
    (r"server closed the connection unexpectedly|terminating connection due to administrator command|"
     r"Connection reset by peer|the connection is lost|SSL SYSCALL error",
     "the connection to the gradebook server was lost"),
)
GRADEBOOK_ATTEMPTS = 3


def transient_gradebook_error(text: str) -> str:
    """Plain words for a gradebook failure in ``text`` that trying again can clear ('' if none)."""
    return next((words for pattern, words in TRANSIENT_GRADEBOOK_ERRORS if re.search(pattern, text)), "")


def with_gradebook_retries(attempt, attempts: int = GRADEBOOK_ATTEMPTS, wait=time.sleep) -> tuple[dict, str | None, list]:
    """``attempt()`` -> (nbgrader outcome, failure or None), tried again while it fails with a
    transient gradebook error (safe: autograde is idempotent). Returns the last outcome, its failure
    (plain words if the gradebook stayed busy on every attempt) and the logs of every attempt."""
    logs = []
    for k in range(attempts):
        outcome, failure = attempt()
        logs.append(outcome.get("log", "") + outcome.get("error", ""))
        why = "" if outcome["success"] else transient_gradebook_error(logs[-1])
        if not why:
            return outcome, failure, logs
        if k + 1 < attempts:
            logs.append(f"[WARNING] {why}; trying again (attempt {k + 2} of {attempts})\n")
            wait(1 + 2 * k)
    return outcome, (f"the gradebook stayed busy on all {attempts} attempts: {why}. "
                     "Grade again with --retry-failed"), logs


def run_job(job: Job) -> Result:
    """Autograde one submission and write its feedback; return what happened."""
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from autograder.course import Course, unscored

    start = time.perf_counter()
    cfg = Course(job.root).config(job.overrides)
    coursedir = CourseDirectory(config=cfg)
    api = NbGraderAPI(coursedir=coursedir, config=cfg)
    outcome, failure, logs = with_gradebook_retries(lambda: _autograde(api, job.assignment, job.student))
    result = Result(job.student, FAILED, fingerprint=job.fingerprint)
    if not outcome["success"]:
        result.reason = failure or reason_from_log(outcome)
    else:
        try:
            with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
                sub = gb.find_submission(job.assignment, job.student)
                ungraded = unscored(sub)
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
                result.reason = "feedback could not be generated: " + reason_from_log(fb)
    result.seconds = round(time.perf_counter() - start, 2)
    result.log = "\n".join(logs)[-200_000:]
    return result
