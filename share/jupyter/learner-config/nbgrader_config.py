"""nbgrader settings for a learner's own server: the Validate button (`make lab`, and every learner's
server on the class hub, share/hub/jupyterhub_config.py; both put this folder on JUPYTER_CONFIG_PATH).

Validate runs the whole notebook inside the server with nbgrader's `Execute` preprocessor, whose
defaults suit an idle machine: a cell may run 30 s, and once the kernel has answered, its last
output must arrive within 4 s (nbclient's `iopub_timeout`). On a busy laptop a training cell's
progress bar misses that window, and Validate fails with "Timeout waiting for IOPub output" on a
notebook that is right (seen in the project's CI, on a busy machine). The limits below are for a loaded
2-core machine: every notebook runs in 60 s or less on an idle one (`python -m bench assignments`).
Grading does not read this file; it has its own limits (autograder/grading/execute.py).
"""
c = get_config()  # noqa: F821

c.Execute.timeout = 300          # seconds a cell may run (a whole notebook takes <= 60 s idle)
c.Execute.iopub_timeout = 60     # seconds for the last output of a cell after the kernel's reply
