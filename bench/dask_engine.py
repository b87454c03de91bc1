"""The Dask figure of ``python -m bench grading``: the same jobs on a local Dask cluster, the gradebook
in a scratch PostgreSQL (``grade --engine dask``). Not a benchmark module of its own (no ``bench_``
prefix): bench_grading calls it beside the local pool and serial nbgrader.

The cluster is a ``LocalCluster`` of W nanny-managed worker processes with one thread each, started
before the timed runs (a real cluster is already up); the time covers connecting, the workers' check
and grading, as ``grade --engine dask`` spends it.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path


def unavailable() -> str:
    """Why the Dask figure cannot be measured here ('' if it can)."""
    from autograder.grading import scratch_db
    try:
        import distributed  # noqa: F401
    except ImportError:
        return "Dask is not installed (pip install -e '.[test]')"
    return scratch_db.problem()


@contextmanager
def cluster(workers: int, databases: list[str]):
    """Yield (scheduler address, {name: database URL}), or None when unavailable."""
    if unavailable():
        yield None
        return
    from distributed import LocalCluster

    from autograder.grading.scratch_db import scratch_postgres
    with scratch_postgres(tuple(databases)) as urls, LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40) as lc:
        yield lc.scheduler_address, urls


def run(root: Path, jobs: list, address: str, db_url: str) -> float:
    """Generate into the database (untimed), then grade ``jobs`` on the cluster; seconds."""
    from autograder.course import Course
    from autograder.grading.dask_engine import DaskPool
    course = Course(root, db_url=db_url)
    course.generate(jobs[0].assignment)
    failed = []
    start = time.perf_counter()
    DaskPool(address, 1800, db_url=db_url).run(jobs, lambda r: failed.append(r) if r.status != "GRADED" else None)
    elapsed = time.perf_counter() - start
    if failed:
        raise RuntimeError(f"Dask grading failed: {[(r.student, r.reason) for r in failed]}")
    return elapsed
