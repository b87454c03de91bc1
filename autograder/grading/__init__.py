"""Trustworthy grading on top of the real nbgrader (``python -m autograder grade``).

- :mod:`.sandbox`: every kernel that runs a submission is started inside bubblewrap (no network,
  read-only system and environment, no course files, one scratch folder, CPU/memory/process limits).
- :mod:`.execute`: nbgrader's ``Execute`` preprocessor, with the sandboxed kernel, capped outputs
  and a precise reason when a submission cannot be graded.
- :mod:`.verdict`: the hidden tests' verdict, computed outside the student's kernel from the outputs
  the kernel recorded, compared with the reference run in the grader's process.
- :mod:`.feedback`: feedback without hidden tests, with plots embedded offline.
- :mod:`.jobs`, :mod:`.pool`, :mod:`.worker`: one job per submission, run by parallel workers.
- :mod:`.status`, :mod:`.export`: the per-submission ledger (GRADED / FAILED / MISSING) and the CSV.
- :mod:`.command`: the instructor command that ties it together.
"""

#: The mime type of a grading record (``coursekit.checks.record.RECORD_MIME``; repeated here so that
#: loading nbgrader_config.py does not import torch).
RECORD_MIME = "application/vnd.coursekit.grading-record+json"
