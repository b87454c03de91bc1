"""The grading ledger: one small JSON file per submission, ``<course root>/grading-status/<assignment>/``.

A :class:`Result` is both what a grading job returns (plain JSON, so any engine can carry it) and
what the ledger stores; its ``log`` goes to ``logs/<student>.log`` instead of the JSON file.

It is what makes a run resumable and idempotent: a submission whose files have not changed since it
was graded (same fingerprint), and whose grades are in the gradebook, is not graded again. Each
entry is written atomically (temporary file + rename) the moment its job finishes, so a run killed
midway loses nothing that had finished. Statuses:

- ``GRADED``: autograded; the score is in the gradebook (a real 0 is a GRADED 0).
- ``FAILED``: the submission could not be graded; ``reason`` says why (kernel died, ignored the
  time limit, not a notebook, ...). Never exported as 0.
- ``MISSING``: a student on the roster (the gradebook's students) without a submission.
- ``REJECTED``: a file of the upload (``--from``) that was not graded: its path leaves the
  extraction folder, it is damaged, not a notebook of the assignment, or an older duplicate.
  Rejections are listed per run (:class:`Rejection`), not kept in the ledger.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATUS_DIR = "grading-status"
GRADED, FAILED, MISSING, REJECTED = "GRADED", "FAILED", "MISSING", "REJECTED"


@dataclass
class Result:
    """What happened to one student's submission (a job's answer, and the ledger's entry)."""
    student: str
    status: str
    score: float | None = None
    max_score: float | None = None
    reason: str = ""
    fingerprint: str = ""
    seconds: float = 0.0
    feedback: bool = False
    graded_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S"))
    log: str = field(default="", repr=False)   # the nbgrader log; kept in logs/<student>.log

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Result":
        return cls(**json.loads(text))


@dataclass
class Rejection:
    """A file of the upload that was not graded, and why."""
    entry: str          # its path inside the zip or folder
    reason: str
    student: str = ""   # when its name says whose it is


def fingerprint(folder: Path) -> str:
    """SHA-256 over the submission's file names and contents (checkpoints ignored)."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts):
        h.update(str(path.relative_to(folder)).encode() + b"\0")
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


class Ledger:
    def __init__(self, root: Path, assignment: str):
        self.base = Path(root) / STATUS_DIR
        self.dir = self.base / assignment
        self.logs = self.dir / "logs"

    def ensure(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        ignore = self.base / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# grading state of real students: never commit\n*\n")

    def _path(self, student: str) -> Path:
        return self.dir / f"{student}.json"

    def get(self, student: str) -> Result | None:
        try:
            return Result(**json.loads(self._path(student).read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    def put(self, result: Result) -> None:
        """Store ``result`` atomically (and its log, if it has one)."""
        self.ensure()
        if result.log:
            self.write_log(result.student, result.log)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-")
        with os.fdopen(fd, "w") as f:
            json.dump({k: v for k, v in asdict(result).items() if k != "log"}, f, indent=1)
        os.replace(tmp, self._path(result.student))

    def remove(self, student: str) -> None:
        self._path(student).unlink(missing_ok=True)

    def all(self) -> dict[str, Result]:
        if not self.dir.is_dir():
            return {}
        out = {}
        for p in sorted(self.dir.glob("*.json")):
            e = self.get(p.stem)
            if e:
                out[e.student] = e
        return out

    def put_rejections(self, rejections: list[Rejection]) -> None:
        """The rejected entries of the latest upload (replacing the previous upload's)."""
        self.ensure()
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-")
        with os.fdopen(fd, "w") as f:
            f.writelines(json.dumps(asdict(r)) + "\n" for r in rejections)
        os.replace(tmp, self.dir / "rejected.jsonl")

    def rejections(self) -> list[Rejection]:
        try:
            lines = (self.dir / "rejected.jsonl").read_text().splitlines()
        except FileNotFoundError:
            return []
        return [Rejection(**json.loads(line)) for line in lines if line.strip()]

    def write_log(self, student: str, text: str) -> Path:
        self.ensure()
        path = self.logs / f"{student}.log"
        path.write_text(text)
        return path
