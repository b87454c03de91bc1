"""``nbgrader export --exporter=autograder.grading.export.StatusCsvExporter``: grades with a status.

Stock nbgrader writes 0.0 both for a real zero and for a submission it could not grade, and for
a student who submitted nothing. This exporter keeps nbgrader's columns and adds ``status``
(GRADED / FAILED / MISSING / REJECTED) and ``reason``; the score is left empty unless the status is
GRADED. A REJECTED row names a file of the latest upload that was not graded (its path is in the
reason), not a grade: an LMS import skips it.
Statuses come from the grading ledger (:mod:`.status`) written by ``python -m autograder grade``;
without a ledger entry, a submission whose grades are all scored counts as GRADED, one with
unscored grades as FAILED, and a roster student without a submission as MISSING.
"""
from __future__ import annotations

import csv
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin
from traitlets import Unicode

from autograder.course import unscored
from autograder.grading.status import FAILED, GRADED, MISSING, REJECTED, Ledger

COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
           "status", "raw_score", "late_submission_penalty", "score", "max_score", "reason"]


def _fmt(x) -> str:
    return "" if x is None else f"{float(x):g}"


def rows(gradebook: Gradebook, root: Path, assignments: list[str] | None = None,
         students: list[str] | None = None) -> list[dict]:
    out = []
    for assignment in gradebook.assignments:
        if assignments and assignment.name not in assignments:
            continue
        ledger = Ledger(root, assignment.name)
        entries = ledger.all()
        for student in gradebook.students:
            if students and student.id not in students:
                continue
            row = {"assignment": assignment.name, "duedate": assignment.duedate or "", "timestamp": "",
                   "student_id": student.id, "last_name": student.last_name or "",
                   "first_name": student.first_name or "", "email": student.email or "",
                   "max_score": _fmt(assignment.max_score), "raw_score": "", "late_submission_penalty": "",
                   "score": "", "reason": ""}
            entry = entries.get(student.id)
            try:
                sub = gradebook.find_submission(assignment.name, student.id)
            except MissingEntry:
                sub = None
            if entry is not None:
                status, row["reason"] = entry.status, entry.reason
            elif sub is None:
                status = MISSING
            else:
                missing_scores = unscored(sub)
                status = FAILED if missing_scores else GRADED
                if missing_scores:
                    row["reason"] = "autograde did not finish (no score for " + ", ".join(missing_scores[:5]) + ")"
            if status == MISSING:
                row["reason"] = row["reason"] or "no submission"
            if status == GRADED and sub is None:
                status, row["reason"] = FAILED, "graded earlier, but the gradebook has no submission now: regrade"
            row["status"] = status
            if sub is not None:
                row["timestamp"] = sub.timestamp or ""
                if status == GRADED:
                    row["raw_score"], row["score"] = _fmt(sub.score), _fmt(sub.score - sub.late_submission_penalty)
                    row["late_submission_penalty"] = _fmt(sub.late_submission_penalty)
            out.append(row)
        for r in ledger.rejections():
            if not students or r.student in students:
                out.append({**dict.fromkeys(COLUMNS, ""), "assignment": assignment.name, "student_id": r.student,
                            "status": REJECTED, "reason": f"upload entry {r.entry!r}: {r.reason}"})
    return out


class StatusCsvExporter(ExportPlugin):
    course_root = Unicode("", help="Course root (for the grading ledger); default: nbgrader's").tag(config=True)

    def export(self, gradebook: Gradebook) -> None:
        dest = self.to or "grades.csv"
        root = self.course_root or getattr(getattr(self.parent, "coursedir", None), "root", ".")
        table = rows(gradebook, Path(root), [str(a) for a in self.assignment] or None,
                     [str(s) for s in self.student] or None)
        self.log.info("Exporting %d rows to %s", len(table), dest)
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(table)
