"""nbgrader's exchange for a class on one JupyterHub (docs/CLASSROOM.md).

Every user's server reads this file (jupyterhub_config.py puts this folder on JUPYTER_CONFIG_PATH),
and so do the instructor's nbgrader commands when they run with the same JUPYTER_CONFIG_PATH.
The exchange is a folder all users share, created once by root with mode 1777 (nbgrader's docs):
`mkdir -p /srv/nbgrader/exchange && chmod 1777 /srv/nbgrader/exchange`.
"""
import os

c = get_config()  # noqa: F821

c.CourseDirectory.course_id = "action-diffusion"  # the same as autograder/nbgrader_config.py
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange")
c.Exchange.assignment_dir = "."  # a learner fetches into their home folder (the server's root)
