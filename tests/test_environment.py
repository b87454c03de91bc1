"""environment.yml mirrors pyproject.toml, and the pins the course relies on are in place."""
from __future__ import annotations

import tomllib

import yaml

from autograder import REPO_ROOT


def pyproject_requirements() -> set[str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    return set(project["dependencies"]) | {r for extra in project["optional-dependencies"].values() for r in extra}


def conda_requirements() -> tuple[str, set[str]]:
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    return python, set(pip)


def test_environment_yml_mirrors_pyproject():
    python, pip = conda_requirements()
    assert pip == pyproject_requirements(), (
        f"only in environment.yml: {sorted(pip - pyproject_requirements())}; "
        f"only in pyproject.toml: {sorted(pyproject_requirements() - pip)}")
    requires = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert python == "python" + requires


def test_torch_is_pinned_to_the_cpu_build_on_disk():
    assert "torch==2.13.0" in pyproject_requirements()


def test_importing_nbformat_builds_no_uri_grammar():
    """Every notebook server and nbgrader command imports nbformat; jsonschema 4.24+ would import
    rfc3987-syntax with it, which builds a grammar (about 1 CPU-s per process, measured on 2 cores)."""
    import subprocess
    import sys
    probe = "import sys, nbformat; print('rfc3987_syntax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False", "nbformat pulled in rfc3987_syntax: keep jsonschema below 4.24 (pyproject.toml)"
