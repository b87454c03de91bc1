"""``python -m autograder grade <assignment> [--from <folder or LMS zip>]``: the one instructor command.

Steps, all with the real nbgrader:

1. ``generate_assignment`` if the gradebook does not know the assignment yet;
   ``db student import`` for ``--roster``;
2. ``zip_collect`` the submissions of ``--from`` (a zip from an LMS, or a folder) into
   ``submitted/<student>/<assignment>/`` (without ``--from``: what is already there);
3. ``autograde`` + ``generate_feedback`` per submission, on W parallel workers, each kernel in the
   sandbox; submissions graded before with the same files are skipped (idempotent, resumable);
4. ``export`` to CSV with a status column (GRADED / FAILED with its reason / MISSING);
5. a summary table.
"""
from __future__ import annotations

import fcntl
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder import RUNTIME_ROOT
from autograder.course import Course
from autograder.grading.status import FAILED, GRADED, MISSING, REJECTED, Rejection, Result, fingerprint


class GradeError(RuntimeError):
    """A problem with the command's input (not with a submission)."""


@dataclass
class Options:
    """The command's options. ``None`` for a kernel limit means: the course's configuration (whose
    defaults are the traitlets of :class:`~autograder.grading.sandbox.Sandbox` and
    :class:`~autograder.grading.execute.SandboxExecute`)."""
    assignment: str
    root: Path = RUNTIME_ROOT
    source: Path | None = None          # --from
    workers: int = 0                    # 0: one per CPU core
    timeout: int | None = None          # per cell, seconds
    cpu_seconds: int | None = None
    memory_mb: int | None = None
    processes: int | None = None
    job_timeout: float = 1800.0
    force: bool = False
    retry_failed: bool = False
    roster: Path | None = None
    to: Path | None = None
    sandbox: bool = True
    feedback: bool = True
    standalone_feedback: bool = False   # embed MathJax/plotly.js in each page (nbgrader's exchange)
    name_regexp: str | None = None
    progress: bool = True
    extra_config: dict = field(default_factory=dict)
    engine: str = "local"               # autograder.grading.engines: local | dask
    scheduler: str | None = None        # --engine dask: tcp://HOST:PORT
    db: str | None = None               # the gradebook's SQLAlchemy URL (default SQLite in the root)

    def overrides(self) -> dict:
        """The traitlets configuration the jobs add to the course's."""
        cfg: dict = {"Sandbox": {"mode": "required" if self.sandbox else "off"}}
        if self.timeout is not None:
            cfg["SandboxExecute"] = {"timeout": self.timeout}
        for key in ("cpu_seconds", "memory_mb", "processes"):
            if getattr(self, key) is not None:
                cfg["Sandbox"][key] = getattr(self, key)
        if self.standalone_feedback:
            cfg["OfflineAssets"] = {"standalone": True}
        for section, values in self.extra_config.items():
            cfg.setdefault(section, {}).update(values)
        return cfg

    def check_sandbox(self) -> None:
        if not self.sandbox:
            log("WARNING: --no-sandbox: student code runs with your permissions. Only for trusted code.")
            return
        from autograder.grading.sandbox import probe
        ok, why = probe()
        if not ok:
            raise GradeError(f"cannot sandbox student code: {why}. (--no-sandbox runs it unprotected.)")


@dataclass
class Summary:
    rows: list[dict]
    csv: Path
    graded_now: list[str]
    skipped: list[str]
    seconds: float
    rejected: list[Rejection] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.rows)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def grade(opts: Options) -> Summary:
    from autograder.grading.export import rows
    from autograder.grading.jobs import Job
    from autograder.grading import engines
    from autograder.grading.upload import UploadError

    start = time.perf_counter()
    a = opts.assignment
    opts.check_sandbox()
    course = Course(opts.root, db_url=opts.db)
    if not course.has_source(a):
        raise GradeError(f"no instructor notebooks at {course.source / a}")
    ledger = course.ledger(a)
    ledger.ensure()
    lock = open(ledger.dir / ".lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise GradeError(f"another `grade {a}` run is in progress on {course.root}") from None
    if course.ensure_generated(a):
        log(f"nbgrader generate_assignment {a}")
    if opts.roster:
        log(f"nbgrader db student import {opts.roster}")
        course.import_roster(opts.roster)
    if opts.source:
        log(f"nbgrader zip_collect {a} (from {opts.source})")
        try:
            rejected = course.collect(a, opts.source, opts.name_regexp)
        except UploadError as exc:
            raise GradeError(str(exc)) from None
        ledger.put_rejections(rejected)
        for r in rejected:
            log(f"  REJECTED {r.entry!r}{f' ({r.student})' if r.student else ''}: {r.reason}")

    subs = course.submissions(a)
    todo, skipped = [], []
    for student, folder in subs.items():
        fp = fingerprint(folder)
        entry = ledger.get(student)
        up_to_date = (not opts.force and entry is not None and entry.fingerprint == fp and (
            (entry.status == GRADED and course.is_graded(a, student))
            or (entry.status == FAILED and not opts.retry_failed)))
        (skipped if up_to_date else todo).append((student, fp))
    rejected_students = {r.student for r in ledger.rejections()}
    for student in course.roster():
        if student not in subs:
            reason = ("no gradable submission: their upload was REJECTED (see below)"
                      if student in rejected_students else "no submission")
            entry = ledger.get(student)
            if entry is None or (entry.status == MISSING and entry.reason != reason):
                ledger.put(Result(student, MISSING, reason=reason))
    for student, entry in ledger.all().items():  # a submission that disappeared is missing again
        if student not in subs and entry.status != MISSING:
            ledger.put(Result(student, MISSING, reason="no submission (graded earlier; the files are gone)"))

    workers = opts.workers or os.cpu_count() or 1
    log(f"{a}: {len(subs)} submission(s); {len(todo)} to grade, {len(skipped)} already graded "
        f"(unchanged); {workers} worker(s)")
    jobs = [Job(str(course.root), a, s, fp, opts.overrides(), opts.feedback) for s, fp in todo]
    graded_now: list[str] = []
    counts = {GRADED: sum(ledger.get(s).status == GRADED for s, _ in skipped), FAILED: 0}
    counts[FAILED] = len(skipped) - counts[GRADED]
    bar = _progress(len(subs), len(skipped), a, opts.progress)

    def on_result(result: Result) -> None:
        ledger.put(result)
        graded_now.append(result.student)
        counts[result.status] = counts.get(result.status, 0) + 1
        bar.update(1)
        bar.set_postfix_str(f"graded {counts.get(GRADED, 0)}, failed {counts.get(FAILED, 0)}")
        if result.status == FAILED:
            bar.write(f"  FAILED {result.student}: {result.reason}")

    try:
        if jobs:
            engines.make_pool(opts, course, workers, ledger.logs).run(jobs, on_result)
    finally:
        bar.close()

    to = course.export_status_csv(a, opts.to or course.root / "exports" / f"{a}-grades.csv")
    with course.gradebook() as gb:
        table = rows(gb, course.root, [a])
    return Summary(table, to, graded_now, [s for s, _ in skipped], time.perf_counter() - start,
                   ledger.rejections())


def _progress(total: int, done: int, assignment: str, enabled: bool):
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=done, desc=f"grading {assignment}", unit="submission",
                file=sys.stderr, disable=not enabled or total == 0, dynamic_ncols=True)


def summary_table(summary: Summary, width: int = 100) -> str:
    rows = summary.rows
    sid = max([len("student")] + [len(r["student_id"]) for r in rows])
    rule = "-" * min(width, sid + 41)
    lines = [f"{'student':<{sid}}  {'status':<8}  {'score':>11}  reason", rule]
    for r in rows:
        score = f"{r['score']}/{r['max_score']}" if r["status"] == GRADED else "-"
        reason = r["reason"] if len(r["reason"]) <= width - sid - 27 else r["reason"][:width - sid - 30] + "..."
        lines.append(f"{r['student_id'] or '-':<{sid}}  {r['status']:<8}  {score:>11}  {reason}")
    lines.append(rule)
    rejected = f", {summary.count(REJECTED)} upload entries rejected" if summary.count(REJECTED) else ""
    lines.append(f"{summary.count(GRADED)} graded, {summary.count(FAILED)} failed, {summary.count(MISSING)} missing"
                 f"{rejected}; {len(summary.graded_now)} graded in this run, {len(summary.skipped)} unchanged and kept; "
                 f"{summary.seconds:.0f} s")
    lines.append(f"grades: {summary.csv}")
    return "\n".join(lines)


def add_arguments(p) -> None:
    """The command line; the kernel limits' defaults are read from the traitlets that apply them."""
    from autograder.grading import engines
    from autograder.grading.execute import SandboxExecute
    from autograder.grading.sandbox import Sandbox

    def default(cls, name):
        return cls.class_traits()[name].default_value
    defaults = Options("")
    p.add_argument("assignment")
    p.add_argument("--from", dest="source", type=Path, help="a folder or an LMS .zip of submissions "
                   "(<student>/<notebook>.ipynb, or flat <student>_..._<notebook>.ipynb); "
                   "without it, grade what is in submitted/. Unsafe or unreadable entries are REJECTED one by one")
    p.add_argument("--workers", type=int, default=defaults.workers, help="parallel submissions (default: CPU cores)")
    p.add_argument("--timeout", type=int, help=f"seconds per cell (default {default(SandboxExecute, 'timeout')})")
    p.add_argument("--cpu", dest="cpu_seconds", type=int,
                   help=f"CPU seconds per kernel (default {default(Sandbox, 'cpu_seconds')})")
    p.add_argument("--memory", dest="memory_mb", type=int,
                   help=f"MB of address space per kernel (default {default(Sandbox, 'memory_mb')})")
    p.add_argument("--processes", type=int,
                   help=f"processes+threads per sandbox (default {default(Sandbox, 'processes')})")
    p.add_argument("--job-timeout", type=float, default=defaults.job_timeout,
                   help=f"seconds for one whole submission (default {defaults.job_timeout:g})")
    p.add_argument("--force", action="store_true", help="regrade every submission")
    p.add_argument("--retry-failed", action="store_true", help="regrade FAILED submissions")
    p.add_argument("--roster", type=Path, help="CSV of students (nbgrader db student import): absent ones are MISSING")
    p.add_argument("--to", type=Path, help="grades CSV (default: <course>/exports/<assignment>-grades.csv)")
    p.add_argument("--course-dir", dest="root", type=Path, default=defaults.root,
                   help=f"nbgrader course root, where gradebook and submissions live (default {defaults.root})")
    p.add_argument("--no-sandbox", dest="sandbox", action="store_false", help="run student code unsandboxed (trusted code only)")
    p.add_argument("--no-feedback", dest="feedback", action="store_false")
    p.add_argument("--standalone-feedback", action="store_true",
                   help="embed MathJax and plotly.js in each feedback page (2-7 MB a page) so the .html works alone: "
                        "for nbgrader release_feedback (JupyterHub), which hands learners only the .html")
    p.add_argument("--name-regexp", help="nbgrader FileNameCollectorPlugin.named_regexp for --from")
    p.add_argument("--quiet", dest="progress", action="store_false", help="no progress bar")
    engines.add_arguments(p)


def main(args) -> int:
    opts = Options(**{k: v for k, v in vars(args).items() if k in Options.__dataclass_fields__})
    try:
        summary = grade(opts)
    except GradeError as exc:
        log(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        log("interrupted: every submission that finished is saved; run the same command again to resume")
        return 130
    print(summary_table(summary))
    return 0
