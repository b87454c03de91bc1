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
import shutil
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder import COURSE_ROOT
from autograder.grading.status import FAILED, GRADED, MISSING, Entry, Ledger, fingerprint
from autograder.release import nbgrader


class GradeError(RuntimeError):
    """A problem with the command's input (not with a submission)."""


@dataclass
class Options:
    assignment: str
    root: Path = COURSE_ROOT
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
    name_regexp: str | None = None
    progress: bool = True
    extra_config: dict = field(default_factory=dict)


@dataclass
class Summary:
    rows: list[dict]
    csv: Path
    graded_now: list[str]
    skipped: list[str]
    seconds: float

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.rows)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------- steps
def ensure_assignment(root: Path, assignment: str) -> None:
    from nbgrader.api import Gradebook, MissingEntry
    if not (root / "source" / assignment).is_dir():
        raise GradeError(f"no instructor notebooks at {root / 'source' / assignment}")
    known = False
    if (root / "gradebook.db").exists():
        with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
            try:
                known = bool(gb.find_assignment(assignment).notebooks)
            except MissingEntry:
                known = False
    if not known or not (root / "release" / assignment).is_dir():
        log(f"nbgrader generate_assignment {assignment}")
        nbgrader("generate_assignment", assignment, "--force", root=root)


def notebook_names(root: Path, assignment: str) -> list[str]:
    return sorted(p.name for p in (root / "source" / assignment).glob("*.ipynb"))


def collector_regexp(paths: list[str], assignment: str, notebooks: list[str]) -> str:
    """nbgrader's FileNameCollectorPlugin regexp (matched against the extracted file's full path).

    Folder layout: ``<student>/<notebook>`` or ``<student>/<assignment>/<notebook>``.
    Flat LMS layout: ``<student>_<anything>_<notebook>`` (e.g. ``alice_attempt2_02_ddpm.ipynb``)."""
    import re
    names = "|".join(re.escape(n) for n in notebooks)
    foldered = [p for p in paths if p.endswith(".ipynb")]
    if foldered and all("/" in p.strip("/") for p in foldered):
        return rf".+/(?!{re.escape(assignment)}/)(?P<student_id>[^/]+)/(?:{re.escape(assignment)}/)?(?P<file_id>{names})$"
    return rf".+/(?P<student_id>[^/_]+)_(?:[^/]*_)?(?P<file_id>{names})$"


def collect(root: Path, assignment: str, source: Path, name_regexp: str | None = None) -> None:
    """Real ``nbgrader zip_collect``: --from becomes downloaded/<assignment>/archive/."""
    source = Path(source).resolve()
    downloaded = root / "downloaded" / assignment
    if downloaded.exists():
        shutil.rmtree(downloaded)  # the archive folder holds exactly this run's input
    archive = downloaded / "archive"
    archive.mkdir(parents=True)
    if source.is_file() and zipfile.is_zipfile(source):
        shutil.copy(source, archive / source.name)
        with zipfile.ZipFile(source) as z:
            paths = z.namelist()
    elif source.is_dir():
        shutil.copytree(source, archive / source.name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        paths = [str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()]
    else:
        raise GradeError(f"--from {source}: expected a folder or a .zip file")
    regexp = name_regexp or collector_regexp(paths, assignment, notebook_names(root, assignment))
    log(f"nbgrader zip_collect {assignment} (from {source})")
    nbgrader("zip_collect", assignment, "--force", f"--FileNameCollectorPlugin.named_regexp={regexp}", root=root)


def submissions(root: Path, assignment: str) -> dict[str, Path]:
    base = root / "submitted"
    if not base.is_dir():
        return {}
    return {p.name: p / assignment for p in sorted(base.iterdir()) if (p / assignment).is_dir()}


def roster(root: Path) -> list[str]:
    from nbgrader.api import Gradebook
    if not (root / "gradebook.db").exists():
        return []
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return [s.id for s in gb.students]


def in_gradebook(root: Path, assignment: str, student: str) -> bool:
    from nbgrader.api import Gradebook, MissingEntry
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return False
        return all(g.auto_score is not None or g.manual_score is not None
                   for nb in sub.notebooks for g in nb.grades)


def overrides(opts: Options) -> dict:
    cfg: dict = {"Sandbox": {"mode": "required" if opts.sandbox else "off"}}
    if opts.timeout is not None:
        cfg["SandboxExecute"] = {"timeout": opts.timeout}
        cfg["Execute"] = {"timeout": opts.timeout}
    for key, value in (("cpu_seconds", opts.cpu_seconds), ("memory_mb", opts.memory_mb),
                       ("processes", opts.processes)):
        if value is not None:
            cfg["Sandbox"][key] = value
    for section, values in opts.extra_config.items():
        cfg.setdefault(section, {}).update(values)
    return cfg


def check_sandbox(opts: Options) -> None:
    if not opts.sandbox:
        log("WARNING: --no-sandbox: student code runs with your permissions. Only for trusted code.")
        return
    from autograder.grading.sandbox import probe
    ok, why = probe()
    if not ok:
        raise GradeError(f"cannot sandbox student code: {why}. (--no-sandbox runs it unprotected.)")


# ---------------------------------------------------------------------------------------- run
def grade(opts: Options) -> Summary:
    from autograder.grading.jobs import Job
    from autograder.grading.pool import LocalPool

    start = time.perf_counter()
    root, a = Path(opts.root).resolve(), opts.assignment
    check_sandbox(opts)
    if not (root / "source" / a).is_dir():
        raise GradeError(f"no instructor notebooks at {root / 'source' / a}")
    ledger = Ledger(root, a)
    ledger.ensure()
    lock = open(ledger.dir / ".lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise GradeError(f"another `grade {a}` run is in progress on {root}") from None
    ensure_assignment(root, a)
    if opts.roster:
        log(f"nbgrader db student import {opts.roster}")
        nbgrader("db", "student", "import", str(Path(opts.roster).resolve()), root=root)
    if opts.source:
        collect(root, a, opts.source, opts.name_regexp)

    subs = submissions(root, a)
    todo, skipped = [], []
    for student, folder in subs.items():
        fp = fingerprint(folder)
        entry = ledger.get(student)
        up_to_date = (not opts.force and entry is not None and entry.fingerprint == fp and (
            (entry.status == GRADED and in_gradebook(root, a, student))
            or (entry.status == FAILED and not opts.retry_failed)))
        (skipped if up_to_date else todo).append((student, fp))
    for student in roster(root):
        if student not in subs and ledger.get(student) is None:
            ledger.put(Entry(student, MISSING, reason="no submission"))
    for student, entry in ledger.all().items():  # a submission that disappeared is missing again
        if student not in subs and entry.status != MISSING:
            ledger.put(Entry(student, MISSING, reason="no submission (graded earlier; the files are gone)"))

    workers = opts.workers or os.cpu_count() or 1
    log(f"{a}: {len(subs)} submission(s); {len(todo)} to grade, {len(skipped)} already graded "
        f"(unchanged); {workers} worker(s)")
    jobs = [Job(str(root), a, s, fp, overrides(opts), opts.feedback) for s, fp in todo]
    graded_now: list[str] = []
    counts = {GRADED: sum(ledger.get(s).status == GRADED for s, _ in skipped), FAILED: 0}
    counts[FAILED] = len(skipped) - counts[GRADED]
    bar = _progress(len(subs), len(skipped), a, opts.progress)

    def on_result(result) -> None:
        ledger.put(Entry(result.student, result.status, result.score, result.max_score, result.reason,
                         result.fingerprint, result.seconds, result.feedback))
        ledger.write_log(result.student, result.log)
        graded_now.append(result.student)
        counts[result.status] = counts.get(result.status, 0) + 1
        bar.update(1)
        bar.set_postfix_str(f"graded {counts.get(GRADED, 0)}, failed {counts.get(FAILED, 0)}")
        if result.status == FAILED:
            bar.write(f"  FAILED {result.student}: {result.reason}")

    try:
        if jobs:
            LocalPool(workers, opts.job_timeout, log_dir=ledger.logs).run(jobs, on_result)
    finally:
        bar.close()

    to = Path(opts.to) if opts.to else root / "exports" / f"{a}-grades.csv"
    to = to.resolve()
    nbgrader("export", "--exporter=autograder.grading.export.StatusCsvExporter", f"--to={to}",
             f"--assignment={a}", f"--StatusCsvExporter.course_root={root}", root=root)
    from nbgrader.api import Gradebook

    from autograder.grading.export import rows
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        table = rows(gb, root, [a])
    return Summary(table, to, graded_now, [s for s, _ in skipped], time.perf_counter() - start)


def _progress(total: int, done: int, assignment: str, enabled: bool):
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=done, desc=f"grading {assignment}", unit="submission",
                file=sys.stderr, disable=not enabled or total == 0, dynamic_ncols=True)


def summary_table(summary: Summary, width: int = 100) -> str:
    rows = summary.rows
    sid = max([len("student")] + [len(r["student_id"]) for r in rows])
    lines = [f"{'student':<{sid}}  {'status':<7}  {'score':>11}  reason", "-" * min(width, sid + 40)]
    for r in rows:
        score = f"{r['score']}/{r['max_score']}" if r["status"] == GRADED else "-"
        reason = r["reason"] if len(r["reason"]) <= width - sid - 26 else r["reason"][:width - sid - 29] + "..."
        lines.append(f"{r['student_id']:<{sid}}  {r['status']:<7}  {score:>11}  {reason}")
    lines.append("-" * min(width, sid + 40))
    lines.append(f"{summary.count(GRADED)} graded, {summary.count(FAILED)} failed, {summary.count(MISSING)} missing; "
                 f"{len(summary.graded_now)} graded in this run, {len(summary.skipped)} unchanged and kept; "
                 f"{summary.seconds:.0f} s")
    lines.append(f"grades: {summary.csv}")
    return "\n".join(lines)


def add_arguments(p) -> None:
    p.add_argument("assignment")
    p.add_argument("--from", dest="source", type=Path, help="a folder or an LMS .zip of submissions "
                   "(<student>/<notebook>.ipynb, or flat <student>_..._<notebook>.ipynb); "
                   "without it, grade what is in submitted/")
    p.add_argument("--workers", type=int, default=0, help="parallel submissions (default: CPU cores)")
    p.add_argument("--timeout", type=int, help="seconds per cell (default: nbgrader_config.py, 60)")
    p.add_argument("--cpu", dest="cpu_seconds", type=int, help="CPU seconds per kernel (default 600)")
    p.add_argument("--memory", dest="memory_mb", type=int, help="MB of address space per kernel (default 4096)")
    p.add_argument("--processes", type=int, help="processes+threads per sandbox (default 128)")
    p.add_argument("--job-timeout", type=float, default=1800.0, help="seconds for one whole submission")
    p.add_argument("--force", action="store_true", help="regrade every submission")
    p.add_argument("--retry-failed", action="store_true", help="regrade FAILED submissions")
    p.add_argument("--roster", type=Path, help="CSV of students (nbgrader db student import): absent ones are MISSING")
    p.add_argument("--to", type=Path, help="grades CSV (default: <course>/exports/<assignment>-grades.csv)")
    p.add_argument("--course-dir", dest="root", type=Path, default=COURSE_ROOT, help="nbgrader course root")
    p.add_argument("--no-sandbox", dest="sandbox", action="store_false", help="run student code unsandboxed (trusted code only)")
    p.add_argument("--no-feedback", dest="feedback", action="store_false")
    p.add_argument("--name-regexp", help="nbgrader FileNameCollectorPlugin.named_regexp for --from")
    p.add_argument("--quiet", dest="progress", action="store_false", help="no progress bar")


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
