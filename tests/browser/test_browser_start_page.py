"""`make lab` as a learner meets it: JupyterLab opens on the start page, shows nbgrader's learner side
only, and no news pop-up; the progress page shows the recorded checks. `make lab-instructor` keeps the
instructor side.

The server is started with the exact command `make -n lab` (or `lab-instructor`) prints, with only
the folder, port, token and address changed, on a scratch copy of course/START.md and one assignment.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import browser_harness as H
from coursekit import progress
from coursekit.registry import ASSIGNMENTS

COURSE = H.REPO / "course"
FOLDER = "01_variational_inference"


def make_command(target: str) -> tuple[dict, list[str], str | None]:
    """(environment additions, the `jupyter lab` argv, the folder it runs in) that `make -n <target>` prints."""
    out = subprocess.run(["make", "-n", target, "STAMP="], cwd=H.REPO, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.replace("\\\n", " ").splitlines() if "jupyter lab" in ln)
    cwd = None
    m = re.match(r"\s*cd (\S+) && (.*)", line)
    if m:
        cwd, line = m.group(1), m.group(2)
    words = shlex.split(line)
    env = {}
    while "=" in words[0] and not words[0].startswith("-"):
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    return env, words, cwd


class MadeLab(H.JupyterServer):
    """The `make` target's JupyterLab on ``root``, on a free port with a token."""

    def __init__(self, root: Path, target: str):
        super().__init__(root, kind="lab", log_path=root.parent / f"{target}.log")
        self.target = target
        self.extra_env, self.argv, _ = make_command(target)

    def command(self) -> list[str]:
        argv = [a for a in self.argv if not a.startswith("--ServerApp.root_dir")]
        jupyter = argv[0] if os.path.isabs(argv[0]) else str(H.REPO / argv[0])
        return [jupyter, *argv[1:], f"--ServerApp.root_dir={self.root}", "--no-browser", "--ip=127.0.0.1",
                f"--port={self.port}", f"--ServerApp.token={self.token}", "--ServerApp.port_retries=0",
                "--LabApp.expose_app_in_browser=True"]

    def config_path(self) -> str:
        return ""  # the make target's own environment (extra_env) says what it reads

    def start(self):
        saved = {k: os.environ.get(k) for k in self.extra_env}
        os.environ.update(self.extra_env)  # JupyterServer.start copies os.environ for the server
        try:
            return super().start()
        finally:
            for k, v in saved.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


@pytest.fixture
def learner_root(tmp_path):
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(COURSE / "START.md", root / "START.md")
    shutil.copytree(COURSE / FOLDER, root / FOLDER)
    progress.record(FOLDER, "kl_diag_gaussians", "pass", cwd=root / FOLDER)
    progress.record(FOLDER, "log_evidence", "fail", cwd=root / FOLDER)
    return root


def watch(page) -> list[str]:
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and not H.harness_race(m) else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    return errors


def has_command(page, command: str) -> bool:
    return page.evaluate(f"() => window.jupyterapp.commands.hasCommand({command!r})")


def status(server, path: str) -> int:
    try:
        with urllib.request.urlopen(server.url(path), timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_make_lab_opens_the_start_page_for_a_learner(chromium, learner_root):
    with MadeLab(learner_root, "lab") as server:
        ctx = chromium.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = ctx.new_page()
            errors = watch(page)
            page.goto(server.url(""), wait_until="domcontentloaded", timeout=120_000)  # "/" -> default_url
            heading = page.locator(".jp-RenderedMarkdown h1").first
            heading.wait_for(timeout=120_000)
            assert heading.inner_text().strip() == "Action diffusion: start here"
            rows = page.locator(".jp-RenderedMarkdown table").first.locator("tbody tr")
            assert rows.count() == len(ASSIGNMENTS), "one course-map row per assignment"
            # nbgrader: the learner side only
            page.wait_for_function("() => window.jupyterapp.commands.hasCommand('nbgrader:open-assignment-list')",
                                   timeout=60_000)
            assert not has_command(page, "nbgrader:open-formgrader"), "the formgrader is an instructor's tool"
            assert not has_command(page, "nbgrader:open-create-assignment")
            assert page.get_by_text("Create Assignment").count() == 0
            assert status(server, "formgrader") == 404, "the formgrader server extension is on"
            # no news pop-up
            page.wait_for_timeout(3000)
            assert page.get_by_text("official Jupyter news").count() == 0
            # the progress page, from the start page's link
            page.locator(".jp-RenderedMarkdown a", has_text="PROGRESS.md").first.click()
            page.locator(".jp-RenderedMarkdown h1:visible", has_text="Your progress").first.wait_for(timeout=60_000)
            table = page.locator(".jp-RenderedMarkdown:visible table").first.inner_text()
            assert "1 of 4" in table and "kl_diag_gaussians passes" in table and "log_evidence fails" in table
            # the notebook opens with Validate in its toolbar
            nb = f"{FOLDER}/{FOLDER}.ipynb"
            page.goto(server.url(f"lab/tree/{nb}"), wait_until="domcontentloaded")
            page.locator(".jp-NotebookPanel-toolbar .validate-button").first.wait_for(timeout=120_000)
            assert not errors, f"console errors: {errors}"
        finally:
            ctx.close()


def test_make_lab_instructor_keeps_the_instructor_side(chromium, learner_root):
    with MadeLab(learner_root, "lab-instructor") as server:
        ctx = chromium.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = ctx.new_page()
            page.goto(server.url("lab"), wait_until="domcontentloaded", timeout=120_000)
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands"
                                   ".hasCommand('nbgrader:open-formgrader')", timeout=120_000)
            assert has_command(page, "nbgrader:open-create-assignment")
            page.wait_for_timeout(3000)
            assert page.get_by_text("official Jupyter news").count() == 0
        finally:
            ctx.close()
