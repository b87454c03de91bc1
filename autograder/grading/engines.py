"""Where the grading jobs run: the registry of engines (``grade --engine NAME``).

Every engine has ``run(jobs, on_result)`` over the JSON-able jobs and results of :mod:`.jobs`.

- ``local``: :class:`~autograder.grading.pool.LocalPool`, ``--workers`` processes on this machine;
  the gradebook may be SQLite (the default, ``<course>/gradebook.db``).
- ``dask``: :class:`~autograder.grading.dask_engine.DaskPool`, the workers of the Dask cluster at
  ``--scheduler tcp://HOST:PORT``; the gradebook must be a database server (``--db postgresql://...``).
"""
from __future__ import annotations

ENGINES = {
    "local": "autograder.grading.pool.LocalPool",
    "dask": "autograder.grading.dask_engine.DaskPool",
}


def add_arguments(p) -> None:
    p.add_argument("--engine", choices=sorted(ENGINES), default="local",
                   help="where submissions are graded: local worker processes, or a Dask cluster (needs --scheduler, --db)")
    p.add_argument("--scheduler", help="the Dask scheduler's address, e.g. tcp://10.0.0.5:8786 (--engine dask)")
    p.add_argument("--db", help="the gradebook as a SQLAlchemy URL, e.g. postgresql://grader@dbhost/course; "
                   "kept in the course's nbgrader_config.py for later runs (default: SQLite <course>/gradebook.db)")


def make_pool(opts, course, workers: int, log_dir):
    """The engine ``opts.engine`` for ``course``; a GradeError in plain words for a bad combination."""
    from autograder.grading.command import GradeError
    if opts.engine == "local":
        from autograder.grading.pool import LocalPool
        return LocalPool(workers, opts.job_timeout, log_dir=log_dir)
    if opts.engine != "dask":
        raise GradeError(f"unknown engine {opts.engine!r}; one of {sorted(ENGINES)}")
    if not opts.scheduler:
        raise GradeError("--engine dask needs --scheduler tcp://HOST:PORT (the Dask scheduler's address)")
    if course.db_url.startswith("sqlite"):
        raise GradeError("--engine dask needs a gradebook on a database server (--db postgresql://USER@HOST:PORT/DB): "
                         "workers on several machines write it at once, and SQLite on a shared filesystem is "
                         "unsafe with concurrent writers")
    try:
        from autograder.grading.dask_engine import DaskPool
    except ImportError as exc:
        raise GradeError(f"--engine dask needs Dask here: pip install 'distributed' ({exc})") from None
    return DaskPool(opts.scheduler, opts.job_timeout, log_dir=log_dir, db_url=course.db_url, sandbox=opts.sandbox)
