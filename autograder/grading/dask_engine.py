"""Run grading jobs on a Dask distributed cluster (``grade ... --engine dask --scheduler tcp://HOST:PORT``).

The same jobs as :class:`~autograder.grading.pool.LocalPool` (plain JSON in, plain JSON out, see
:mod:`.jobs`), with the same interface, ``run(jobs, on_result)``; only where they run changes.

Threat model and failure model:

- Student code never runs in the Dask worker process. A Dask task hands its job to a resident
  ``python -m autograder.grading.worker`` process (one per Dask worker thread, reused for
  ``jobs_per_worker`` jobs, as in the local pool), whose kernels run in the sandbox. A submission that
  crashes that process or runs past ``job_timeout`` is reported FAILED with the reason; the Dask
  worker survives it.
- A Dask worker that dies (killed, out of memory, its machine lost) takes its grading process and
  sandboxes with it (``PR_SET_PDEATHSIG``, ``bwrap --die-with-parent``); the scheduler runs the task
  again elsewhere. Jobs are idempotent (nbgrader ``--force``), so a rerun is safe. A job whose workers
  died ``distributed.scheduler.allowed-failures`` + 1 times is reported FAILED with that reason.
- The gradebook must be a database server (PostgreSQL): several machines write it at once, and
  SQLite on a shared filesystem is unsafe with concurrent writers. The command checks this.
- Workers must see the course root at the same absolute path, writable (autograde writes
  ``autograded/`` and ``feedback/`` there), and run the course's environment (this repository
  installed, bubblewrap). :func:`check_workers` asks every worker before the first job is sent and
  names the ones that cannot grade.
"""
from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import Callable, Iterable

import distributed  # noqa: F401  (imported here so that a missing Dask is a clear error at start)

from autograder.grading.jobs import Job
from autograder.grading.status import FAILED, Result

_local = threading.local()  # on a Dask worker: this thread's grading process and its job count


def grade_job(job_json: str, job_timeout: float, log_dir: str | None, jobs_per_worker: int = 25) -> str:
    """The Dask task: one job, run by this worker thread's resident grading process. Returns the
    Result as JSON; never raises for a submission's failure (a crash or a timeout is a FAILED result)."""
    from autograder.grading.pool import LocalPool

    job = Job.from_json(job_json)
    runner = getattr(_local, "runner", None)
    if runner is None:  # the local pool's worker handling: start, ask with a deadline, kill
        log = Path(log_dir) if log_dir and os.access(log_dir, os.W_OK) else None
        runner = _local.runner = LocalPool(1, job_timeout, log_dir=log)
        _local.proc, _local.done = None, 0
    runner.job_timeout = job_timeout
    proc = _local.proc
    if proc is None or proc.poll() is not None or _local.done >= jobs_per_worker:
        if proc is not None:
            runner._kill(proc)
        slot = f"dask-{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"
        proc, _local.done = runner._start(slot), 0
        _local.proc = proc
    line, why = runner._ask(proc, job)
    _local.done += 1
    if line:
        try:
            return Result.from_json(line).to_json()
        except Exception as exc:
            why = f"unreadable answer from the worker ({type(exc).__name__})"
    runner._kill(proc)
    _local.proc = None
    return Result(job.student, FAILED, reason=why, fingerprint=job.fingerprint).to_json()


def worker_problem(root: str, db_url: str, sandbox: bool) -> str:
    """On a Dask worker: why it cannot grade this course ('' if it can)."""
    import importlib.util
    host = socket.gethostname()
    config = Path(root) / "nbgrader_config.py"
    if not os.access(config, os.R_OK):
        return f"{host}: cannot read the course root {root} (its nbgrader_config.py); mount it at the same path"
    for sub in ("autograded", "feedback"):
        folder = Path(root) / sub
        if folder.exists() and not os.access(folder, os.W_OK):
            return f"{host}: cannot write {folder} (autograde and feedback write there)"
    for module in ("nbgrader", "solutions"):
        if importlib.util.find_spec(module) is None:
            return f"{host}: the course's environment is missing here (no module {module!r}); install it on the workers"
    try:
        import sqlalchemy
        engine = sqlalchemy.create_engine(db_url)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        return f"{host}: cannot open the gradebook ({type(exc).__name__}: {str(exc).strip().splitlines()[0]})"
    if sandbox:
        from autograder.grading.sandbox import probe
        ok, why = probe()
        if not ok:
            return f"{host}: cannot sandbox student code: {why}"
    return ""


class DaskPool:
    """``run(jobs, on_result)`` on the Dask cluster whose scheduler is at ``scheduler``."""

    def __init__(self, scheduler: str, job_timeout: float = 1800.0, log_dir: Path | None = None,
                 db_url: str = "", sandbox: bool = True, connect_timeout: float = 30.0):
        self.scheduler = scheduler
        self.db_url, self.sandbox = db_url, sandbox
        self.job_timeout = job_timeout
        self.log_dir = str(log_dir) if log_dir else None
        self.connect_timeout = connect_timeout

    def client(self):
        from distributed import Client

        from autograder.grading.command import GradeError
        try:
            return Client(self.scheduler, timeout=self.connect_timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise GradeError(f"no Dask scheduler answers at {self.scheduler} ({exc})") from None

    def check_workers(self, client, root: str, db_url: str, sandbox: bool) -> None:
        """Fail with the workers that cannot grade this course (no course root, no environment)."""
        from autograder.grading.command import GradeError
        try:
            client.wait_for_workers(1, timeout=self.connect_timeout)
        except TimeoutError:
            raise GradeError(f"the Dask scheduler at {self.scheduler} has no workers") from None
        problems = [p for p in client.run(worker_problem, root, db_url, sandbox).values() if p]
        if problems:
            raise GradeError("Dask workers that cannot grade this course:\n  " + "\n  ".join(problems))

    def run(self, jobs: Iterable[Job], on_result: Callable[[Result], None]) -> None:
        from distributed import as_completed
        jobs = list(jobs)
        if not jobs:
            return
        with self.client() as client:
            self.check_workers(client, jobs[0].root, self.db_url, self.sandbox)
            futures = {client.submit(grade_job, job.to_json(), self.job_timeout, self.log_dir,
                                     key=f"grade-{job.assignment}-{job.student}-{os.urandom(4).hex()}",
                                     pure=False): job for job in jobs}
            try:
                for future in as_completed(futures):
                    job = futures[future]
                    if future.status == "finished":
                        on_result(Result.from_json(future.result()))
                    else:
                        on_result(Result(job.student, FAILED, fingerprint=job.fingerprint,
                                         reason=f"the Dask cluster could not grade it: {lost(future.exception())}"))
            finally:
                client.cancel(list(futures))


def lost(exc: BaseException | None) -> str:
    """A Dask failure in plain words (a job's own failures come back as FAILED results, not here)."""
    from distributed.scheduler import KilledWorker
    if isinstance(exc, KilledWorker):
        return (f"the {exc.allowed_failures + 1} Dask workers that ran it all died while grading it (the last was "
                f"{exc.last_worker.address}); see the workers' logs (out of memory?)")
    return f"{type(exc).__name__}: {exc}"
