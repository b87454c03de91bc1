"""Trustworthy grading on top of the real nbgrader (``python -m autograder grade``).

- :mod:`.sandbox`: every kernel that runs a submission is started inside bubblewrap (no network,
  read-only system and environment, no course files, one scratch folder, CPU/memory/process limits).
- :mod:`.execute`: nbgrader's ``Execute`` preprocessor, with the sandboxed kernel, capped outputs
  and a precise reason when a submission cannot be graded (:mod:`.explain` words it: what the
  submission did, in which cell).
- :mod:`.verdict`: the hidden tests' verdict, computed outside the student's kernel from the outputs
  the kernel recorded, compared with the reference run in the grader's process.
- :mod:`.feedback`: feedback without hidden tests, with plots embedded offline.
- :mod:`.jobs`, :mod:`.pool`, :mod:`.worker`: one job per submission, run by parallel workers.
- :mod:`.upload`: an LMS zip or folder checked entry by entry (unsafe or damaged entries REJECTED).
- :mod:`.status`, :mod:`.export`: the per-submission ledger (GRADED / FAILED / MISSING / REJECTED)
  and the CSV.
- :mod:`.command`: the instructor command that ties it together, around
  :class:`autograder.course.Course` (the course root: gradebook, nbgrader runs, submissions, roster).
"""

#: The mime type of a grading record (``coursekit.checks.record.RECORD_MIME``; repeated here so that
#: loading nbgrader_config.py does not import torch).
RECORD_MIME = "application/vnd.coursekit.grading-record+json"
