"""Parallel grading against serial ``nbgrader autograde`` on the same 8 submissions of 02_ddpm.

Both runs use the course's configuration (sandboxed kernels, verdict outside the kernel) on a
fresh scratch course with the same submitted files: six reference-filled notebooks and the two
showcase mistakes. Serial: one ``nbgrader autograde 02_ddpm --force`` process, students one
after the other. Parallel: the worker pool of ``python -m autograder grade`` (one autograde job per
student, W workers). The gradebooks must agree. Target: >= 1.7x with 2 workers on 2 cores.

``python -m bench grading`` (env BENCH_WORKERS=2 by default).
"""
from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from autograder.course import ScratchCourse
from autograder.submissions import filled, mistakes_of

A = "02_ddpm"
N = 8


def make_course(root: Path) -> ScratchCourse:
    course = ScratchCourse(root, [A])
    notebooks = course.release_notebooks(A)
    showcase = [m for m in mistakes_of(A) if m.showcase][:2]
    for i in range(N):
        overrides = {showcase[i - 6].function: showcase[i - 6].source()} if i >= 6 and len(showcase) > i - 6 else None
        course.submit(f"student{i}", A, {nb.name: filled(nb, A, overrides=overrides) for nb in notebooks})
    return course


def scores(root: Path) -> dict[str, float]:
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {s.student.id: round(float(s.score), 6) for s in gb.assignment_submissions(A)}


def cpu_seconds() -> float:
    """User + system CPU time of every finished child process (nbgrader, workers, sandboxed kernels)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def serial(root: Path) -> float:
    course = ScratchCourse.__new__(ScratchCourse)
    course.root = root
    start = time.perf_counter()
    course.run("autograde", A, "--force")
    return time.perf_counter() - start


def parallel(root: Path, workers: int) -> float:
    from autograder.grading.command import overrides, Options
    from autograder.grading.jobs import Job
    from autograder.grading.pool import LocalPool
    jobs = [Job(str(root), A, f"student{i}", overrides=overrides(Options(A, root=root)), feedback=False) for i in range(N)]
    failed = []
    start = time.perf_counter()
    LocalPool(workers, job_timeout=1800).run(jobs, lambda r: failed.append(r) if r.status != "GRADED" else None)
    elapsed = time.perf_counter() - start
    if failed:
        raise RuntimeError(f"parallel grading failed: {[(r.student, r.reason) for r in failed]}")
    return elapsed


def main() -> None:
    workers = int(os.environ.get("BENCH_WORKERS", "2"))
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "serial", Path(tmp) / "parallel"
        make_course(a)
        shutil.copytree(a, b)  # the same submissions, the same gradebook state
        load = os.getloadavg()[0]
        c0 = cpu_seconds()
        t_serial = serial(a)
        c1 = cpu_seconds()
        t_parallel = parallel(b, workers)
        c2 = cpu_seconds()
        load_after = os.getloadavg()[0]
        same = scores(a) == scores(b) and len(scores(a)) == N
        print(f"{'submissions':<34}{N:>10}")
        print(f"{'cores / workers':<34}{os.cpu_count():>7} / {workers}")
        print(f"{'load average before / after':<34}{load:>5.1f} / {load_after:.1f}   (other work on the machine)")
        print(f"{'serial nbgrader autograde (s)':<34}{t_serial:>10.1f}   CPU {c1 - c0:.1f} s")
        print(f"{'parallel workers (s)':<34}{t_parallel:>10.1f}   CPU {c2 - c1:.1f} s")
        print(f"{'speed-up':<34}{t_serial / t_parallel:>9.2f}x   (target >= 1.7x)")
        print(f"{'same gradebook scores':<34}{str(same):>10}   {sorted(set(scores(b).values()))}")


if __name__ == "__main__":
    main()
