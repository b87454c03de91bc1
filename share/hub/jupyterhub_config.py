"""JupyterHub for a class taking this course on one machine (docs/CLASSROOM.md).

The hub the end-to-end test runs (tests/browser/test_browser_hub.py) and a starting point for a
real one: `jupyterhub -f share/hub/jupyterhub_config.py`, as root (the local-process spawner starts
each user's server as that unix user). Everything a deployment changes comes from the environment,
so the test and an instructor load the same file:

  COURSE_HUB_IP, COURSE_HUB_PORT   where the proxy listens (127.0.0.1:8000)
  COURSE_HUB_PYTHON                the Python that runs each user's JupyterLab and kernels; it must
                                   be readable by every user (default: the repository's .venv)
  COURSE_HUB_PROXY                 configurable-http-proxy (default: .venv/node, from
                                   scripts/ensure-system-deps.sh)
  COURSE_HUB_LEARNERS              comma-separated unix user names allowed to log in
  COURSE_HUB_INSTRUCTORS           the same, also hub admins
  COURSE_HUB_PASSWORD              set: the test-only DummyAuthenticator with this shared password;
                                   unset: PAM (the users' own unix passwords)
  NBGRADER_EXCHANGE                nbgrader's exchange folder (share/hub/nbgrader_config.py)
  COURSE_HUB_ENV                   extra NAME=VALUE;NAME=VALUE passed to every user's server

Learners get only nbgrader's learner side (the Assignments panel, Validate): the settings of
`make lab` (share/jupyter/lab-learner, share/jupyter/learner-config).
"""
import os
from pathlib import Path

c = get_config()  # noqa: F821

HUB = Path(__file__).resolve().parent
REPO = HUB.parents[1]
env = os.environ.get

c.JupyterHub.ip = env("COURSE_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(env("COURSE_HUB_PORT", "8000"))
c.ConfigurableHTTPProxy.command = [env("COURSE_HUB_PROXY", str(REPO / ".venv" / "node" / "node_modules" / ".bin"
                                                            / "configurable-http-proxy"))]

# Users: unix accounts, each server started as its own user.
learners = {u for u in env("COURSE_HUB_LEARNERS", "").split(",") if u}
instructors = {u for u in env("COURSE_HUB_INSTRUCTORS", "").split(",") if u}
c.Authenticator.allowed_users = learners | instructors
c.Authenticator.admin_users = instructors
if env("COURSE_HUB_PASSWORD"):
    c.JupyterHub.authenticator_class = "dummy"  # tests only: one shared password, no real accounts' secrets
    c.DummyAuthenticator.password = env("COURSE_HUB_PASSWORD")
else:
    c.JupyterHub.authenticator_class = "pam"

c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [env("COURSE_HUB_PYTHON", str(REPO / ".venv" / "bin" / "python")), "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.http_timeout = 120  # a cold JupyterLab on a busy 2-core machine
c.Spawner.start_timeout = 120
c.Spawner.args = [f"--LabApp.app_settings_dir={REPO / 'share' / 'jupyter' / 'lab-learner'}",
                  "--LabApp.expose_app_in_browser=True"]
c.Spawner.environment = {
    # nbgrader_config.py of this folder (the exchange), and nbgrader's instructor extensions off
    "JUPYTER_CONFIG_PATH": os.pathsep.join([str(HUB), str(REPO / "share" / "jupyter" / "learner-config")]),
    "NBGRADER_EXCHANGE": env("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange"),
    **dict(kv.split("=", 1) for kv in env("COURSE_HUB_ENV", "").split(";") if kv),
}
