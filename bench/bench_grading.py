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

from autograder.course import Course
from autograder.submissions import filled, mistakes_of
from bench import dask_engine

A = "02_ddpm"
N = 8


def make_course(root: Path) -> Course:
    course = Course.scratch(root, [A])
    notebooks = course.release_notebooks(A)
    showcase = [m for m in mistakes_of(A) if m.showcase][:2]
    for i in range(N):
        overrides = {showcase[i - 6].function: showcase[i - 6].source()} if i >= 6 and len(showcase) > i - 6 else None
        course.submit(f"student{i}", A, {nb.name: filled(nb, A, overrides=overrides) for nb in notebooks})
    return course


def scores(root: Path) -> dict[str, float]:
    with Course(root).gradebook() as gb:  # SQLite, or the PostgreSQL of a Dask run
        return {s.student.id: round(float(s.score), 6) for s in gb.assignment_submissions(A)}


def cpu_seconds() -> float:
    """User + system CPU time of every finished child process (nbgrader, workers, sandboxed kernels)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def serial(root: Path) -> float:
    course = Course(root)
    start = time.perf_counter()
    course.nbgrader("autograde", A, "--force")
    return time.perf_counter() - start


def grading_jobs(root: Path) -> list:
    from autograder.grading.command import Options
    from autograder.grading.jobs import Job
    return [Job(str(root), A, f"student{i}", overrides=Options(A, root=root).overrides(), feedback=False) for i in range(N)]


def parallel(root: Path, workers: int) -> float:
    from autograder.grading.pool import LocalPool
    jobs = grading_jobs(root)
    failed = []
    start = time.perf_counter()
    LocalPool(workers, job_timeout=1800).run(jobs, lambda r: failed.append(r) if r.status != "GRADED" else None)
    elapsed = time.perf_counter() - start
    if failed:
        raise RuntimeError(f"parallel grading failed: {[(r.student, r.reason) for r in failed]}")
    return elapsed


def _spin(_=None) -> float:
    start = time.perf_counter()
    x = 0
    for i in range(20_000_000):
        x += i
    return time.perf_counter() - start


def machine_parallelism(workers: int) -> float:
    """How much faster W busy processes finish W units of work than one process does: the ceiling
    for any parallel speed-up on this machine right now (2.0 on an idle 2-core machine)."""
    from concurrent.futures import ProcessPoolExecutor
    one = _spin()
    with ProcessPoolExecutor(workers) as pool:
        start = time.perf_counter()
        list(pool.map(_spin, range(workers)))
        many = time.perf_counter() - start
    return workers * one / many


def main() -> None:
    """BENCH_WORKERS (default 2) workers; BENCH_REPEAT (default 3) interleaved serial/parallel pairs,
    medians reported (a shared machine's background load drifts; interleaving spreads it evenly)."""
    import statistics
    workers = int(os.environ.get("BENCH_WORKERS", "2"))
    repeat = int(os.environ.get("BENCH_REPEAT", "3"))
    # dask: (scheduler, {database: URL}) of a local Dask cluster and scratch PostgreSQL; None if unavailable
    with tempfile.TemporaryDirectory() as tmp, dask_engine.cluster(workers, [f"dask{i}" for i in range(repeat)]) as dask:
        template = Path(tmp) / "template"
        make_course(template)
        t_serial, t_parallel, cpu_serial, cpu_parallel, same = [], [], [], [], True
        load = os.getloadavg()[0]
        ceiling = machine_parallelism(workers)
        t_dask = []
        for i in range(repeat):
            a, b = Path(tmp) / f"serial{i}", Path(tmp) / f"parallel{i}"
            shutil.copytree(template, a)  # the same submissions, the same gradebook state
            shutil.copytree(template, b)
            c0 = cpu_seconds()
            t_serial.append(serial(a))
            c1 = cpu_seconds()
            t_parallel.append(parallel(b, workers))
            c2 = cpu_seconds()
            cpu_serial.append(c1 - c0)
            cpu_parallel.append(c2 - c1)
            same = same and scores(a) == scores(b) and len(scores(a)) == N
            if dask:
                d = shutil.copytree(template, Path(tmp) / f"dask{i}")
                t_dask.append(dask_engine.run(d, grading_jobs(d), dask[0], dask[1][f"dask{i}"]))
                same = same and scores(d) == scores(a)
        load_after = os.getloadavg()[0]
        ts, tp = statistics.median(t_serial), statistics.median(t_parallel)
        print(f"{'submissions':<34}{N:>10}")
        print(f"{'cores / workers / repeats':<34}{os.cpu_count():>6} / {workers} / {repeat}")
        print(f"{'load average before / after':<34}{load:>5.1f} / {load_after:.1f}   (other work on the machine)")
        print(f"{'serial nbgrader autograde (s)':<34}{ts:>10.1f}   runs {[round(t, 1) for t in t_serial]}")
        print(f"{'parallel workers (s)':<34}{tp:>10.1f}   runs {[round(t, 1) for t in t_parallel]}")
        print(f"{f'dask cluster, {workers} workers (s)':<34}{statistics.median(t_dask):>10.1f}   runs "
              f"{[round(t, 1) for t in t_dask]}; {ts / statistics.median(t_dask):.2f}x serial (PostgreSQL gradebook)"
              if t_dask else f"{'dask cluster':<34}{'-':>10}   not measured: {dask_engine.unavailable()}")
        print(f"{'grader-process CPU (s)':<34}{statistics.median(cpu_serial):>5.1f} / {statistics.median(cpu_parallel):.1f}"
              "   (serial / parallel; kernels not included)")
        pairs = [round(a / b, 2) for a, b in zip(t_serial, t_parallel)]
        print(f"{'speed-up':<34}{ts / tp:>9.2f}x   (target >= 1.7x; per pair {pairs})")
        print(f"{'machine ceiling (busy loops)':<34}{ceiling:>9.2f}x   ({workers} processes vs 1, measured before the runs)")
        print(f"{'same gradebook scores':<34}{str(same):>10}   {sorted(set(scores(b).values()))}")


if __name__ == "__main__":
    main()
