"""nbgrader's Validate button, as a learner's server runs it (`make lab`, or a learner's server on the
class hub), reads limits for a busy machine: share/jupyter/learner-config/nbgrader_config.py.

With nbgrader's defaults (a cell's last output within 4 s of the kernel's reply), Validate failed on
02_ddpm's right notebook in the project's CI on a busy machine ("Timeout waiting for IOPub output"). The
check builds the configuration the way nbgrader's validate handler does, in a fresh process with
the server's environment, and reads the limits of the Execute preprocessor that Validate runs.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LEARNER = REPO / "share" / "jupyter" / "learner-config"
HUB = REPO / "share" / "hub"

PROBE = """
import json
from nbgrader.server_extensions.validate_assignment.handlers import ValidateAssignmentHandler
from nbgrader.preprocessors import Execute
from nbgrader.validator import Validator
config = ValidateAssignmentHandler.load_config(None)   # what the handler does before each Validate
validator = Validator(config=config)
execute = [pp for pp in validator.preprocessors if issubclass(pp, Execute)][0](parent=validator)
print(json.dumps({"timeout": execute.timeout, "iopub_timeout": execute.iopub_timeout}))
"""


def validate_limits(config_path: list[Path], cwd: Path) -> dict:
    env = dict(os.environ, JUPYTER_CONFIG_PATH=os.pathsep.join(map(str, config_path)))
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=cwd, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("where", ["make lab", "class hub"])
def test_validate_allows_a_busy_machine(where, tmp_path):
    path = [LEARNER] if where == "make lab" else [HUB, LEARNER]  # share/hub/jupyterhub_config.py's order
    limits = validate_limits(path, tmp_path)
    assert limits["iopub_timeout"] >= 30, f"{where}: Validate waits {limits['iopub_timeout']} s for a cell's output"
    assert limits["timeout"] >= 120, f"{where}: Validate lets a cell run {limits['timeout']} s"


def test_without_the_learner_config_nbgrader_keeps_its_idle_machine_defaults(tmp_path):
    """The negative control: the probe reads nbgrader's own defaults when the folder is not on the path."""
    assert validate_limits([tmp_path], tmp_path) == {"timeout": 30, "iopub_timeout": 4}
