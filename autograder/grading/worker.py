"""A grading worker: ``python -m autograder.grading.worker`` reads jobs (one JSON line each) on
stdin and answers each with one JSON line. It keeps nbgrader imported between jobs (the start-up
of a fresh ``nbgrader`` process costs seconds per submission). It dies with its parent."""
from __future__ import annotations

import ctypes
import os
import signal
import sys


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    if os.getppid() == 1:
        os._exit(1)


def main() -> int:
    _die_with_parent()
    # The protocol owns the real stdout; anything else that prints (nbgrader, kernels) goes to stderr.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    from autograder.grading.jobs import Job, run_job
    from autograder.grading.status import FAILED, Result

    for line in sys.stdin:
        if not line.strip():
            continue
        job = Job.from_json(line)
        try:
            result = run_job(job)
        except Exception as exc:  # the grader's own error: report it as this submission's failure
            import traceback
            traceback.print_exc()
            result = Result(job.student, FAILED, reason=f"grader error: {type(exc).__name__}: {exc}",
                            fingerprint=job.fingerprint)
        protocol.write(result.to_json() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
