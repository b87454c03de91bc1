"""Run jobs on W local worker processes.

Each worker slot is a thread that owns one ``python -m autograder.grading.worker`` process and feeds
it jobs from a shared queue, one at a time. A worker that crashes or exceeds the job time limit is
killed (with its sandboxes: they die with their parent) and replaced; that job alone is reported
FAILED with the reason. Results reach the caller's ``on_result`` in the main thread, in the order
they finish.

The interface is ``run(jobs, on_result)`` over JSON-able jobs and results (see :mod:`.jobs`), so a
distributed engine (a cluster's job queue, Ray, Dask, ...) can replace this class without touching
the command: it only has to call :func:`autograder.grading.jobs.run_job` for each job somewhere
that sees the course root and the gradebook.
"""
from __future__ import annotations

import os
import queue
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from autograder.grading.jobs import Job
from autograder.grading.status import FAILED, Result


class LocalPool:
    def __init__(self, workers: int = 2, job_timeout: float = 1800.0, log_dir: Path | None = None,
                 jobs_per_worker: int = 25):
        self.workers = max(1, int(workers))
        self.job_timeout = job_timeout
        self.log_dir = Path(log_dir) if log_dir else None
        self.jobs_per_worker = jobs_per_worker
        self._procs: dict[int, subprocess.Popen] = {}
        self._stop = threading.Event()

    def run(self, jobs: Iterable[Job], on_result: Callable[[Result], None]) -> None:
        todo: queue.Queue = queue.Queue()
        jobs = list(jobs)
        for job in jobs:
            todo.put(job)
        results: queue.Queue = queue.Queue()
        threads = [threading.Thread(target=self._slot, args=(i, todo, results), daemon=True)
                   for i in range(min(self.workers, len(jobs)))]
        for t in threads:
            t.start()
        completed = False
        try:
            for _ in range(len(jobs)):
                on_result(results.get())
            completed = True
        finally:
            if completed:  # idle workers exit on their own once their stdin closes
                for t in threads:
                    t.join(timeout=60)
            self._stop.set()
            for proc in list(self._procs.values()):
                self._kill(proc)
            for t in threads:
                t.join(timeout=10)

    # ------------------------------------------------------------------ one worker slot
    def _start(self, slot: int) -> subprocess.Popen:
        log = open(self.log_dir / f"worker-{slot}.log", "ab") if self.log_dir else subprocess.DEVNULL
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "AUTOGRADER_WORKER": str(slot),
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        proc = subprocess.Popen([sys.executable, "-m", "autograder.grading.worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=log, env=env, start_new_session=True,
                                text=True, bufsize=1)
        if log is not subprocess.DEVNULL:
            log.close()
        self._procs[slot] = proc
        return proc

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                proc.kill()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def _slot(self, slot: int, todo: queue.Queue, results: queue.Queue) -> None:
        proc, done = None, 0
        while not self._stop.is_set():
            try:
                job = todo.get_nowait()
            except queue.Empty:
                break
            if proc is None or proc.poll() is not None or done >= self.jobs_per_worker:
                if proc is not None:
                    self._kill(proc)
                proc, done = self._start(slot), 0
            line, why = self._ask(proc, job)
            done += 1
            if line:
                try:
                    results.put(Result.from_json(line))
                    continue
                except Exception as exc:
                    why = f"unreadable answer from the worker ({type(exc).__name__})"
            self._kill(proc)
            proc = None
            results.put(Result(job.student, FAILED, reason=why, fingerprint=job.fingerprint))
        if proc is not None:
            try:
                proc.stdin.close()
                proc.wait(timeout=30)
            except Exception:
                self._kill(proc)

    def _ask(self, proc: subprocess.Popen, job: Job) -> tuple[str | None, str]:
        try:
            proc.stdin.write(job.to_json() + "\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None, f"the grading worker died before the job started (exit {proc.poll()})"
        deadline = time.monotonic() + self.job_timeout
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while not self._stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return None, f"grading took longer than {self.job_timeout:.0f} s (the whole submission); stopped"
                if sel.select(timeout=min(left, 1.0)):
                    line = proc.stdout.readline()
                    if line:
                        return line, ""
                    code = proc.wait()
                    return None, f"the grading worker crashed while grading (exit status {code})"
        return None, "interrupted"
