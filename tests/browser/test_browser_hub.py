"""A class on a real JupyterHub, end to end: release, fetch, validate, submit, collect, grade, feedback.

Real components, nothing mocked: ``jupyterhub`` (PyPI) with ``configurable-http-proxy`` (npm,
installed into ``.venv/node`` by ``scripts/ensure-system-deps.sh``), the local-process spawner,
three unix users the test creates and removes (two learners, one instructor) logging in through
the test-only DummyAuthenticator, nbgrader's exchange in a folder the test creates (mode 1777),
and Debian's Chromium driving each learner's JupyterLab through nbgrader's Assignments panel.
The hub loads the configuration files the course ships (share/hub/jupyterhub_config.py and
share/hub/nbgrader_config.py, docs/CLASSROOM.md); the test only sets their environment variables.

1. The instructor (as their unix user) releases 02_ddpm from a course root holding its source.
2. Each learner logs in, fetches it in the Assignments panel, and fills it: one with the reference
   solution, one with the showcased mistake (the file is written as that learner, as an editor would).
3. Each validates and submits in the panel.
4. The instructor collects (``nbgrader collect``) and grades with ``python -m autograder grade``.
5. Feedback is released (``nbgrader release_feedback``).
6. Each learner fetches their feedback in the panel: their own only (the right one full marks, the
   other less), and they can read neither the other's files nor the other's server.

Needs root (useradd, the spawner), node, the proxy, Chromium and the grading sandbox: otherwise it
skips with the reason, and under CI=true it fails with it, as the other browser tests do. Users,
processes and folders are removed even when a step fails.
"""
from __future__ import annotations

import csv
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

import browser_harness as H

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from grading_support import outside_tmp, remove, require_sandbox  # noqa: E402

from autograder.course import Course  # noqa: E402
from autograder.submissions import filled, mistakes_of  # noqa: E402

pytestmark = pytest.mark.slow

A = "02_ddpm"
HUB = H.REPO / "share" / "hub"
VENV = H.REPO / ".venv"
PROXY = VENV / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
STEP_S = 300  # a cap for a stuck step on a loaded machine, not a figure for an idle one


def unavailable(message: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the JupyterHub test cannot run under CI=true: {message}", pytrace=False)
    pytest.skip(message)


def hub_problem() -> str | None:
    """Why the hub test cannot run here, or None."""
    if os.geteuid() != 0:
        return "it must run as root (it creates unix users, and the local-process spawner switches to them)"
    for tool in ("useradd", "userdel", "runuser", "node"):
        if shutil.which(tool) is None:
            return f"`{tool}` is missing" + (" (node >= 20 runs configurable-http-proxy)" if tool == "node" else "")
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()  # "v20.20.2"
    if int(node.lstrip("v").split(".")[0] or 0) < 20:
        return f"node {node or '(no version)'} is too old: configurable-http-proxy 5 needs node >= 20"
    if not PROXY.exists():
        return f"configurable-http-proxy is missing ({PROXY}): run `bash scripts/ensure-system-deps.sh`"
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        return "jupyterhub is missing from .venv: run `make venv` (it is in the [test] extra)"
    return H.browser_problem()


# ---------------------------------------------------------------- unix users and their Python
def run(cmd, user: str | None = None, env: dict | None = None, cwd: Path | None = None,
        timeout: float = STEP_S) -> subprocess.CompletedProcess:
    """A command (as ``user`` through runuser); fails with its output."""
    full = (["runuser", "-u", user, "--"] if user else []) + [str(c) for c in cmd]
    proc = subprocess.run(full, env={**os.environ, **(env or {})}, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(full)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def add_user(name: str) -> None:
    run(["useradd", "--create-home", "--shell", "/bin/bash", "--user-group", name])
    home = Path(pwd.getpwnam(name).pw_dir)
    home.chmod(0o700)  # as on a shared machine: nobody reads another's home


def remove_user(name: str) -> None:
    """Kill the user's remaining processes (by pid), then delete the account and its home."""
    try:
        uid = pwd.getpwnam(name).pw_uid
    except KeyError:
        return
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if proc.stat().st_uid == uid:
                    os.kill(int(proc.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass
    subprocess.run(["userdel", "--remove", name], capture_output=True)


def user_python(base: Path, user: str) -> tuple[Path, dict[str, str]]:
    """The project's .venv as ``user`` can run it: the venv itself when its interpreter is reachable,
    otherwise the same venv (its site-packages, share/jupyter) over a hard-linked copy of the
    interpreter, made in ``base`` (pyenv keeps it under /root, which other users cannot enter;
    the home folder is left as it is)."""
    venv_python = VENV / "bin" / "python"
    if subprocess.run(["runuser", "-u", user, "--", str(venv_python), "-c", "import jupyterhub"],
                      capture_output=True).returncode == 0:
        return venv_python, {}
    prefix = Path(sys.base_prefix)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    interp = base / "interpreter"

    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    skip = shutil.ignore_patterns("site-packages", "test", "idlelib", "tkinter", "turtledemo")
    shutil.copytree(prefix / "lib" / version, interp / "lib" / version, ignore=skip, copy_function=link)
    for lib in (prefix / "lib").glob("libpython*"):  # the interpreter finds it through LD_LIBRARY_PATH
        if lib.is_symlink():
            os.symlink(os.readlink(lib), interp / "lib" / lib.name)
        else:
            link(lib, interp / "lib" / lib.name)
    (interp / "bin").mkdir()
    link(Path(sys._base_executable).resolve(), interp / "bin" / version)
    venv = base / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "lib" / version).mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = {interp / 'bin'}\ninclude-system-site-packages = false\n"
                                     f"version = {'.'.join(map(str, sys.version_info[:3]))}\n")
    os.symlink(interp / "bin" / version, venv / "bin" / "python")
    os.symlink(VENV / "lib" / version / "site-packages", venv / "lib" / version / "site-packages")
    for shared in ("share", "etc"):
        if (VENV / shared).exists():
            os.symlink(VENV / shared, venv / shared)
    env = {"LD_LIBRARY_PATH": str(interp / "lib")}
    run([venv / "bin" / "python", "-c", "import jupyterhub, nbgrader, coursekit"], user=user, env=env)
    return venv / "bin" / "python", env


def let_others_enter(path: Path) -> list[tuple[Path, int]]:
    """Let other users traverse the folders down to ``path`` (the repository: the learners' servers
    import the course from it), e.g. a CI clone under a private ``mkdtemp`` folder: the execute bit
    only (no listing), on folders that are nobody's home. Returns (folder, old mode) to restore."""
    homes = {Path(p.pw_dir) for p in pwd.getpwall()} | {Path("/root")}
    changed = []
    for folder in [*reversed(path.parents), path]:
        mode = folder.stat().st_mode & 0o7777
        if mode & 0o001:
            continue
        if folder in homes:
            restore(changed)
            unavailable(f"other users cannot enter {folder}, a home folder, so the learners' servers cannot "
                        "read the course: clone it into a folder others may enter")
        folder.chmod(mode | 0o001)
        changed.append((folder, mode))
    return changed


def restore(changed: list[tuple[Path, int]]) -> None:
    for folder, mode in reversed(changed):
        folder.chmod(mode)


# ---------------------------------------------------------------- the hub
class Hub:
    """``jupyterhub -f share/hub/jupyterhub_config.py`` as root, in its own process group."""

    def __init__(self, state: Path, env: dict[str, str]):
        self.state, self.port = state, H.free_port()
        self.env = {**os.environ, **env, "COURSE_HUB_PORT": str(self.port)}
        self.log_path = state / "jupyterhub.log"
        self.proc = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Hub":
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(HUB / "jupyterhub_config.py"),
                 f"--JupyterHub.hub_port={H.free_port()}", f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{H.free_port()}"],
                cwd=self.state, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"jupyterhub exited ({self.proc.returncode}):\n{self.tail()}"
            try:
                with urllib.request.urlopen(f"{self.base}/hub/api", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"jupyterhub did not answer on {self.base} within 120 s:\n{self.tail()}")

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no hub log)"

    def stop(self) -> None:
        """SIGTERM: the hub stops the users' servers and its proxy; then the whole group is killed."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc = None


# ---------------------------------------------------------------- a learner in the browser
class Learner:
    """One learner's browser session: login, then nbgrader's Assignments panel in their JupyterLab."""

    def __init__(self, name: str, hub: Hub, chromium, password: str):
        self.name, self.hub = name, hub
        self.home = Path(pwd.getpwnam(name).pw_dir)
        self.context = chromium.new_context(viewport={"width": 1400, "height": 1000})
        self.context.set_default_timeout(STEP_S * 1000)
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.page.on("pageerror", lambda e: self.console.append(f"uncaught: {e}"))
        self.page.goto(f"{hub.base}/hub/login", wait_until="domcontentloaded")
        self.page.fill("input[name=username]", name)
        self.page.fill("input[name=password]", password)
        self.page.click("#login_submit")  # the hub starts this learner's server now

    def open_panel(self) -> None:
        self.page.wait_for_url(f"**/user/{self.name}/lab**", timeout=STEP_S * 1000)
        self.page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands"
                                    " && window.jupyterapp.commands.hasCommand('nbgrader:open-assignment-list')")
        self.page.evaluate("() => { window.jupyterapp.commands.execute('nbgrader:open-assignment-list'); }")

    def row(self, section: str, button: str):
        """The row of 02_ddpm in one of the panel's lists (released / fetched / submitted) with that button."""
        return self.page.locator(f"#{section}_assignments_list .list_item", has_text=A).locator(
            "button", has_text=button).first

    def refresh(self) -> None:
        self.page.click("#refresh_assignments_list")

    def fetch(self) -> Path:
        self.row("released", "Fetch").click()
        self.row("fetched", "Submit").wait_for()
        path = self.home / A / f"{A}.ipynb"
        assert path.is_file(), f"{self.name}: Fetch did not write {path}"
        return path

    def start_validate(self) -> None:
        """Press Validate in the panel (the learner's server runs the notebook meanwhile)."""
        section = self.page.locator("#fetched_assignments_list")
        toggle = section.locator(".list_item", has_text=A).locator("a").first
        button = section.locator(".nested_list_item button", has_text="Validate").first
        if not button.is_visible():
            toggle.click()  # the notebooks of a downloaded assignment are folded
        button.click()

    def validation(self) -> str:
        """'success' or 'failed', from the results dialog; closes it."""
        dialog = self.page.locator(".jp-Dialog", has_text="Validation Results")
        dialog.locator(".validation-success, .validation-failed").first.wait_for()
        result = "success" if dialog.locator(".validation-success").count() else "failed"
        dialog.locator("button.jp-mod-accept").click()
        return result

    def submit(self) -> None:
        self.row("fetched", "Submit").click()
        self.row("submitted", "Fetch Feedback").wait_for()

    def fetch_feedback(self) -> list[Path]:
        self.refresh()
        self.page.locator("#submitted_assignments_list", has_text="feedback available to fetch").wait_for()
        self.row("submitted", "Fetch Feedback").click()
        self.page.locator("#submitted_assignments_list", has_text="view feedback").wait_for()
        return sorted((self.home / A / "feedback").glob("*/*.html"))

    def files_url(self, owner: str, path: Path) -> str:
        """The URL of a file of ``owner``'s home folder on their JupyterLab (through the hub)."""
        return f"{self.hub.base}/user/{owner}/files/{path.relative_to(pwd.getpwnam(owner).pw_dir).as_posix()}"

    def score_heading(self, page_path: Path) -> str:
        """Open one's own feedback page through the hub; the heading with the score, once MathJax
        (which the page carries itself) has typeset its formulas."""
        page = self.context.new_page()
        try:
            response = page.goto(self.files_url(self.name, page_path), wait_until="domcontentloaded")
            assert response.status == 200, f"{self.name}: HTTP {response.status} on their own feedback page"
            heading = page.locator("h4", has_text="Score:").first.inner_text()
            page.wait_for_function("() => document.querySelectorAll('mjx-container').length > 0"
                                   " && !document.querySelector('mjx-container mjx-merror')", timeout=60_000)
            return heading
        finally:
            page.close()

    def status_of(self, url: str) -> int:
        """The final HTTP status of a GET with this learner's login (redirects followed)."""
        return self.context.request.get(url).status

    def close(self) -> None:
        self.context.close()


def score_of(row: dict) -> tuple[float, float]:
    return float(row["score"]), float(row["max_score"])


def test_class_on_jupyterhub(chromium):
    started = time.monotonic()
    problem = hub_problem()
    if problem:
        unavailable(problem)
    require_sandbox()

    tag = secrets.token_hex(3)
    right, wrong, teacher = f"hubr{tag}", f"hubw{tag}", f"hubi{tag}"
    password = secrets.token_hex(12)
    opened = let_others_enter(H.REPO)
    base = outside_tmp("hub-")
    base.chmod(0o755)
    users, hub, learners, timings = [], None, {}, {}
    # The instructor's course root (nbgrader generate_assignment), made while the hub starts.
    preparing = ThreadPoolExecutor(1)
    scratch = preparing.submit(Course.scratch, base / "course", [A])
    try:
        for name in (right, wrong, teacher):
            add_user(name)
            users.append(name)
        python, extra_env = user_python(base, right)
        exchange = base / "exchange"
        exchange.mkdir()
        exchange.chmod(0o1777)  # nbgrader's documented mode for a shared exchange
        config_env = {"JUPYTER_CONFIG_PATH": str(HUB), "NBGRADER_EXCHANGE": str(exchange)}

        state = base / "hub"
        state.mkdir()
        hub = Hub(state, {"COURSE_HUB_PYTHON": str(python), "COURSE_HUB_PROXY": str(PROXY),
                          "COURSE_HUB_LEARNERS": f"{right},{wrong}", "COURSE_HUB_INSTRUCTORS": teacher,
                          "COURSE_HUB_PASSWORD": password, "NBGRADER_EXCHANGE": str(exchange),
                          "COURSE_HUB_ENV": ";".join(f"{k}={v}" for k, v in extra_env.items())}).start()
        for name in (right, wrong):  # log in: both servers spawn while the instructor prepares
            learners[name] = Learner(name, hub, chromium, password)
        timings["hub up"] = time.monotonic() - started

        # 1. The instructor releases the assignment from a course root of their own.
        course = scratch.result()
        run(["chown", "-R", f"{teacher}:{teacher}", course.root])
        teach = dict(user=teacher, env={**extra_env, **config_env}, cwd=course.root)
        run([python, "-m", "nbgrader", "release_assignment", A], **teach)
        assert (exchange / "action-diffusion" / "outbound" / A / f"{A}.ipynb").is_file()
        timings["released"] = time.monotonic() - started

        # 2-3. Each learner fetches, fills, validates and submits, in the panel.
        mistake = next(m for m in mistakes_of(A) if m.showcase)
        for name, learner in learners.items():
            learner.open_panel()
            path = learner.fetch()
            nb = filled(path, A, overrides={mistake.function: mistake.source()} if name == wrong else None)
            text = nbformat.writes(nb)
            subprocess.run(["runuser", "-u", name, "--", "tee", str(path)], input=text, text=True,
                           capture_output=True, check=True)  # written as the learner, as their editor would
        timings["fetched and filled"] = time.monotonic() - started
        for learner in learners.values():
            learner.start_validate()  # both servers validate at once
        verdicts = {name: learner.validation() for name, learner in learners.items()}
        assert verdicts == {right: "success", wrong: "failed"}, f"Validate said {verdicts}"
        for learner in learners.values():
            learner.submit()
        inbound = sorted(p.name.split("+")[0] for p in (exchange / "action-diffusion" / "inbound").iterdir())
        assert inbound == sorted([right, wrong]), inbound
        timings["validated and submitted"] = time.monotonic() - started

        # 4. The instructor collects and grades with the project's sandboxed grading command, as root
        # (`sudo`, which an admin of a TLJH hub has): the sandbox gives each kernel a uid of its own only
        # when it starts as root, and the kernels need the interpreter the learners' servers cannot reach.
        run([python, "-m", "nbgrader", "collect", A], **teach)
        assert sorted(course.submissions(A)) == sorted([right, wrong])
        # --standalone-feedback: release_feedback hands learners the .html alone, so the page carries
        # MathJax itself (checked in step 6: the formulas are typeset in the learner's browser).
        run([sys.executable, "-m", "autograder", "grade", A, "--course-dir", course.root, "--workers", "2",
             "--standalone-feedback", "--quiet"], env=config_env, cwd=course.root)
        with open(course.root / "exports" / f"{A}-grades.csv") as f:
            rows = {r["student_id"]: r for r in csv.DictReader(f)}
        assert rows[right]["status"] == rows[wrong]["status"] == "GRADED", {
            s: (r["status"], r["reason"]) for s, r in rows.items()}
        (got, top), (lost, _) = score_of(rows[right]), score_of(rows[wrong])
        assert got == top > lost, f"right {got}/{top}, wrong {lost}/{top}: the mistake must cost points"
        with course.gradebook() as gb:  # ... exactly the points of the exercise it is in
            docked = {g.name for g in gb.find_submission_notebook(A, A, wrong).grades if g.score < g.max_score}
        assert docked == {f"test_{mistake.function}"}, f"the mistake in {mistake.function} cost {docked}"
        timings["collected and graded"] = time.monotonic() - started

        # 5. Feedback is released.
        run([python, "-m", "nbgrader", "release_feedback", A], **teach)

        # 6. Each learner fetches their own feedback, and only theirs.
        pages = {name: learner.fetch_feedback() for name, learner in learners.items()}
        for name, found in pages.items():
            assert len(found) == 1 and found[0].name == f"{A}.html", f"{name}'s feedback folder holds {found}"
            mine = (course.root / "feedback" / name / A / f"{A}.html").read_text()
            assert found[0].read_text() == mine, f"{name} received a page that is not their own feedback"
        assert pages[right][0].read_text() != pages[wrong][0].read_text()
        for name, other in ((right, wrong), (wrong, right)):
            peek = subprocess.run(["runuser", "-u", name, "--", "cat", str(pages[other][0])], capture_output=True)
            assert peek.returncode != 0, f"{name} could read {other}'s feedback"
            listing = subprocess.run(["runuser", "-u", name, "--", "ls", str(exchange / "action-diffusion" / "feedback")],
                                     capture_output=True)
            assert listing.returncode != 0, f"{name} could list the exchange's feedback folder"
            status = learners[name].status_of(learners[name].files_url(other, pages[other][0]))
            assert status == 403, f"{name} got HTTP {status} (not 403) for {other}'s feedback page"
        for name, score in ((right, got), (wrong, lost)):
            heading = learners[name].score_heading(pages[name][0])
            assert f"(Score: {score} / {top})" in heading, f"{name}'s feedback page reads {heading!r}"
        timings["feedback fetched"] = time.monotonic() - started
        print(f"\nJupyterHub class, {A}: right {got}/{top}, mistake ({mistake.label}) {lost}/{top}; "
              f"Validate: {verdicts[right]} / {verdicts[wrong]}; "
              + ", ".join(f"{k} at {v:.0f} s" for k, v in timings.items()))
    except BaseException:
        if hub is not None:
            print(f"--- jupyterhub log (tail) ---\n{hub.tail()}")
        raise
    finally:
        preparing.shutdown(wait=True)
        for learner in learners.values():
            learner.close()
        if hub is not None:
            hub.stop()
        for name in users:
            remove_user(name)
        remove(base)
        restore(opened)
