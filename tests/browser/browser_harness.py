"""A real JupyterLab (or Voilà) and a real Chromium, for the browser tests and the latency bench.

Nothing here is mocked: ``JupyterServer`` starts the project's own ``jupyter lab`` (or
``voila``) on 127.0.0.1 with a token and ``--ServerApp.port_retries=0``, ``launch_chromium``
starts Debian's chromium through Python Playwright, and both are stopped by whoever
started them. ``NotebookPage`` drives one open notebook: run all cells, find the widget
Panels by their CSS hooks (see widgets/_plumbing.py, ``Panel``), read the plot from the
page (``.js-plotly-plot`` has ``.data`` and ``.layout``), ask the kernel what it holds, and
move controls with the keyboard.

The server's root is a scratch copy of the notebooks' folders, so nothing a test does
(nbgrader's Validate button saves the notebook first) touches the repository.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Debian's chromium binary (not the /usr/bin wrapper script); BROWSER_TESTS_CHROMIUM overrides it.
CHROMIUM = Path(os.environ.get("BROWSER_TESTS_CHROMIUM", "/usr/lib/chromium/chromium"))
SETTINGS = REPO / "share" / "jupyter" / "lab" / "settings"   # overrides.json: no news, no autosave, no windowing
# For Voilà (as `make voila` runs it): share/jupyter holds the template "course" ("lab" without
# CDN stylesheets) and share/jupyter/voila-config/voila.json selects it and the lab extensions a
# dashboard needs (the others, nbgrader's among them, fail to load outside JupyterLab).
SHARE = REPO / "share" / "jupyter"
VOILA_CONFIG = SHARE / "voila-config"
LEARNER_CONFIG = SHARE / "learner-config"  # `make lab`'s: nbgrader's Validate limits for a busy machine, no formgrader
ARTIFACTS = REPO / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
FIX_BROWSER = ("install it with `bash scripts/ensure-system-deps.sh` (as root it runs "
               "`apt-get install -y chromium`; `make test` runs it for you)")


# ---------------------------------------------------------------- what to test
def uses_widgets(path: Path) -> bool:
    """Whether a notebook's code imports or calls the course's ``widgets`` package."""
    nb = json.loads(path.read_text())
    code = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                     for c in nb["cells"] if c["cell_type"] == "code")
    return re.search(r"^\s*(from\s+widgets\b|import\s+widgets\b)|\bwidgets\.\w+\(", code, re.M) is not None


def widget_notebooks(repo: Path = REPO) -> list[Path]:
    """Every explorer notebook and every instructor notebook whose code uses ``widgets``, sorted."""
    found = sorted((repo / "course" / "explorers").glob("*.ipynb"))
    found += sorted(p for p in (repo / "autograder" / "source").glob("*/*.ipynb") if uses_widgets(p))
    return [p for p in found if ".ipynb_checkpoints" not in p.parts]


def reference_notebooks(repo: Path = REPO) -> list[Path]:
    return sorted(p for p in (repo / "autograder" / "source").glob("*/*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def validate_notebooks(repo: Path = REPO) -> list[Path]:
    """The instructor notebooks whose Validate button the tests press: the DDPM assignment's (the
    reference the widgets came from), or BROWSER_VALIDATE="all" / a comma list of assignment names."""
    found = reference_notebooks(repo)
    want = os.environ.get("BROWSER_VALIDATE", "02_ddpm")
    if want == "all":
        return found
    chosen = [p for p in found if p.parent.name in want.split(",")]
    return chosen or found[:1]


def stage(notebooks: list[Path], root: Path) -> dict[Path, str]:
    """Copy each notebook's folder under ``root`` (same relative layout); map notebook -> served path."""
    served = {}
    for nb in notebooks:
        rel_dir = nb.parent.relative_to(REPO)
        target = root / rel_dir
        if not target.exists():
            shutil.copytree(nb.parent, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        served[nb] = (rel_dir / nb.name).as_posix()
    return served


# ---------------------------------------------------------------- processes
class BrowserUnavailable(RuntimeError):
    """Chromium or Playwright is missing; the message says how to fix it."""


class ServerFailed(RuntimeError):
    """A Jupyter server did not start; the message carries its log."""


def browser_problem() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"Debian's chromium is missing ({CHROMIUM} not found): {FIX_BROWSER}."
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python Playwright is missing from the environment: run `make venv` (it is in the [test] extra)."
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A closed network (see ../shared/STACK-NOTES.md): without the background-networking flags Chromium's
# own connections are refused many at a time, which costs time at start-up.
CHROMIUM_ARGS = ["--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic", "--no-first-run", "--no-sandbox", "--disable-dev-shm-usage"]
# How long a widget may take to draw before the test gives up. Not a figure for an idle machine: a
# cap for a stuck page on a loaded one. The wait ends early when the plot is drawn, or when the
# cell output says the plot could not load (js/figure.js).
RENDER_CAP_S = float(os.environ.get("BROWSER_TESTS_RENDER_S", "300"))


def launch_chromium(playwright):
    """Debian's chromium under Playwright (Playwright's own browser download is not used)."""
    problem = browser_problem()
    if problem:
        raise BrowserUnavailable(problem)
    try:
        return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    except Exception as e:  # noqa: BLE001 - re-raised with the fix
        raise BrowserUnavailable(f"chromium at {CHROMIUM} did not start: {e}\nFix: {FIX_BROWSER}; "
                                 "the browser must be Debian's build matching Playwright's protocol.") from e


@dataclass
class JupyterServer:
    """``jupyter lab`` (kind="lab") or ``voila`` (kind="voila") serving ``root``; a context manager."""

    root: Path
    kind: str = "lab"
    log_path: Path | None = None
    startup_timeout: float = 90.0
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        py = sys.executable  # the project's own environment
        common = ["--no-browser", f"--port={self.port}"]
        if self.kind == "lab":
            cmd = [py, "-m", "jupyter", "lab", *common, "--ip=127.0.0.1", f"--ServerApp.token={self.token}",
                   "--ServerApp.port_retries=0", "--LabApp.expose_app_in_browser=True",
                   f"--ServerApp.root_dir={self.root}", f"--LabApp.app_settings_dir={SETTINGS}",
                   "--ServerApp.open_browser=False"]
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                cmd.append("--allow-root")
            return cmd
        if self.kind == "voila":
            return [py, "-m", "voila", str(self.root), *common, "--Voila.ip=127.0.0.1", f"--token={self.token}",
                    "--Voila.port_retries=0", "--show_tracebacks=True"]
        raise ValueError(f"kind: expected 'lab' or 'voila', got {self.kind!r}")

    def config_path(self) -> str:
        """The configuration folder the server reads first: a learner's (`make lab`) or Voila's."""
        return str(VOILA_CONFIG if self.kind == "voila" else LEARNER_CONFIG)

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path.lstrip('/')}{sep}token={self.token}"

    def start(self) -> "JupyterServer":
        self.log_path = self.log_path or (self.root.parent / f"{self.kind}-server.log")
        jupyter_path = os.pathsep.join(p for p in (str(SHARE), os.environ.get("JUPYTER_PATH", "")) if p)
        env = dict(os.environ, PYTHONUNBUFFERED="1", JUPYTER_PATH=jupyter_path,
                   JUPYTER_CONFIG_PATH=os.pathsep.join(p for p in (self.config_path(),
                                                                   os.environ.get("JUPYTER_CONFIG_PATH", "")) if p),
                   JUPYTERLAB_SETTINGS_DIR=str(self.root.parent / "lab-user-settings"),
                   JUPYTERLAB_WORKSPACES_DIR=str(self.root.parent / "lab-workspaces"),
                   JUPYTER_RUNTIME_DIR=str(self.root.parent / "runtime"))
        log = open(self.log_path, "w")
        try:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env,
                                         cwd=self.root, start_new_session=True)
        except OSError as e:
            raise ServerFailed(f"could not run {self.command()[:4]}: {e}. Run `make venv` to create .venv.") from e
        finally:
            log.close()
        status = "/api/status" if self.kind == "lab" else "/"
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerFailed(f"{self.kind} server exited with code {self.proc.returncode} before it "
                                   f"answered on port {self.port}.\n{self.log_tail()}\n"
                                   "Fix: check that .venv is complete (`make venv`) and that the port is free.")
            try:
                with urllib.request.urlopen(self.url(status), timeout=2) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        raise ServerFailed(f"{self.kind} server did not answer on {self.base} within {self.startup_timeout:.0f} s."
                           f"\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "--- server log (tail) ---\n" + "\n".join(text.splitlines()[-lines:])

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def request(self, method: str, path: str) -> object:
        req = urllib.request.Request(self.url(path), method=method)
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Stop every kernel this server runs (frees the CPU between notebooks)."""
        if self.kind != "lab" or self.proc is None or self.proc.poll() is not None:
            return
        try:
            for k in self.request("GET", "/api/kernels"):
                self.request("DELETE", f"/api/kernels/{k['id']}")
        except (urllib.error.URLError, OSError):
            pass

    def stop(self) -> None:
        """Stop the server, its kernels and anything else in its process group."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.shutdown_kernels()
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None

    def __enter__(self) -> "JupyterServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ---------------------------------------------------------------- the page
# Installed in every page: records kernel errors (any iopub "error" message, from a cell or a
# widget callback) and offers helpers to read a Panel's plot and to ask the kernel.
PAGE_JS = r"""
() => {
  if (window.__course) return;
  const C = window.__course = {kernelErrors: [], hooked: new Set()};
  C.panel = (id) => document.querySelector(`.course-widget-id--${id}`);
  C.plot = (id) => {  // the FigureWidget's element is the plotly graph div itself
    const p = C.panel(id);
    return p && (p.querySelector(".course-figure.js-plotly-plot") || p.querySelector(".course-figure .js-plotly-plot"));
  };
  const arr = (a) => (a === undefined || a === null) ? null
      : Array.from(a, (v) => (Array.isArray(v) || ArrayBuffer.isView(v)) ? Array.from(v) : v).flat();
  // The title as drawn: plotly renders <br> as a line break and drops other tags.
  C.plain = (s) => {
    if (s === null || s === undefined) return null;
    const el = document.createElement("textarea");
    el.innerHTML = String(s).replace(/<br\s*\/?>/gi, " ").replace(/<[^>]*>/g, "");
    return el.value.replace(/\s+/g, " ").trim();
  };
  C.figure = (id) => {
    const gd = C.plot(id);
    if (!gd || !gd.layout) return null;
    const t = gd.querySelector(".gtitle");
    const title = gd.layout.title ? gd.layout.title.text : null;
    const svg = t ? Array.from(t.childNodes).map((n) => n.textContent).join(" ") : null;
    return {title, plainTitle: C.plain(title), svgTitle: svg === null ? null : svg.replace(/\s+/g, " ").trim(),
            meta: gd.layout.meta || null,
            traces: gd.data.map((d) => ({type: d.type || "scatter", x: arr(d.x), y: arr(d.y), z: arr(d.z)}))};
  };
  C.controls = (id) => {
    const p = C.panel(id), out = {};
    if (!p) return out;
    for (const el of p.querySelectorAll(".course-control")) {
      const name = [...el.classList].find((c) => c.startsWith("course-control--")).slice(16);
      const handle = el.querySelector(".noUi-handle"), select = el.querySelector("select");
      const readout = el.querySelector(".widget-readout");
      // aria-valuetext holds the exact value (aria-valuenow is rounded for float sliders)
      out[name] = handle ? {kind: "slider", value: Number(handle.getAttribute("aria-valuetext")),
                            min: Number(handle.getAttribute("aria-valuemin")),
                            max: Number(handle.getAttribute("aria-valuemax")),
                            readout: readout ? readout.textContent.trim() : null,
                            disabled: el.querySelector(".noUi-target").hasAttribute("disabled")}
               : select ? {kind: "dropdown", value: select.value, options: [...select.options].map((o) => o.value),
                           disabled: select.disabled}
               : {kind: "other"};
    }
    return out;
  };
  C.notebook = () => window.jupyterapp.shell.currentWidget;
  C.kernel = () => { const w = C.notebook(); return w && w.sessionContext.session && w.sessionContext.session.kernel; };
  C.hookKernel = () => {
    const k = C.kernel();
    if (!k || C.hooked.has(k.id)) return !!k;
    C.hooked.add(k.id);
    k.iopubMessage.connect((_, msg) => {
      if (msg.header.msg_type === "error")
        C.kernelErrors.push(`${msg.content.ename}: ${msg.content.evalue}\n${(msg.content.traceback || []).join("\n")}`
                             .replace(/\u001b\[[0-9;]*m/g, ""));
    });
    return true;
  };
  C.ask = async (code) => {  // run code in the notebook's kernel; returns its stdout
    const future = C.kernel().requestExecute({code, silent: false, store_history: false, stop_on_error: false}, true);
    let out = "", err = null;
    future.onIOPub = (msg) => {
      if (msg.header.msg_type === "stream" && msg.content.name === "stdout") out += msg.content.text;
      if (msg.header.msg_type === "error") err = `${msg.content.ename}: ${msg.content.evalue}`;
    };
    await future.done;
    if (err) throw new Error(err);
    return out;
  };
  C.cellsDone = () => {  // every code cell ran and nothing is running or queued
    const nb = C.notebook().content;
    const k = C.kernel();
    const cells = nb.widgets.filter((c) => c.model.type === "code");
    const running = cells.filter((c) => /\*/.test((c.promptNode && c.promptNode.textContent) || ""));
    const unrun = cells.filter((c) => c.model.executionCount === null && c.model.sharedModel.getSource().trim());
    return {done: k && k.status === "idle" && running.length === 0 && unrun.length === 0,
            running: running.length, unrun: unrun.length, status: k ? k.status : "none"};
  };
  C.widgetOutputs = () => {  // model ids of the widgets displayed as cell outputs
    const ids = [];
    for (const c of C.notebook().content.widgets) {
      if (c.model.type !== "code") continue;
      for (let i = 0; i < c.model.outputs.length; i++) {
        const d = c.model.outputs.get(i).toJSON().data || {};
        const view = d["application/vnd.jupyter.widget-view+json"];
        if (view) ids.push(view.model_id);
      }
    }
    return ids;
  };
  C.errorOutputs = () => {
    const out = [];
    for (const c of C.notebook().content.widgets) {
      if (c.model.type !== "code") continue;
      for (let i = 0; i < c.model.outputs.length; i++) {
        const o = c.model.outputs.get(i).toJSON();
        if (o.output_type === "error") out.push(`${o.ename}: ${o.evalue}`);
      }
    }
    return out;
  };
}
"""

# A Panel has rendered: its plot shows a title and a recorded state, and the title drawn on screen
# is the layout's. Or its cell output says the plot could not load (then waiting is pointless).
RENDERED_JS = """(id) => { const f = window.__course.figure(id);
  if (f && f.meta && f.meta.state && f.svgTitle === f.plainTitle) return true;
  const p = window.__course.panel(id);
  return !!(p && p.querySelector('.course-figure-status--failed')); }"""
FIGURE_STATUS_JS = """(id) => { const p = window.__course.panel(id);
  const s = p && p.querySelector('.course-figure-status');
  let output = null;  // the cell output that should hold this widget, as the learner reads it
  const nb = window.jupyterapp && window.jupyterapp.shell ? window.__course.notebook() : null;  // none in Voila
  for (const c of (nb && nb.content ? nb.content.widgets : [])) {
    if (c.model.type !== 'code') continue;
    for (let i = 0; i < c.model.outputs.length; i++) {
      const d = c.model.outputs.get(i).toJSON().data || {};
      const v = d['application/vnd.jupyter.widget-view+json'];
      if (v && (v.model_id === id || !p)) {
        const area = c.node.querySelector('.jp-OutputArea');
        output = area ? area.innerText.replace(/\\s+/g, ' ').slice(0, 300) : '(no output area)';
        if (v.model_id === id) break;
      }
    }
  }
  return {panel: !!p, plot: !!window.__course.plot(id), failed: !!(s && s.classList.contains('course-figure-status--failed')),
          text: s ? s.textContent : null, output, visibility: document.visibilityState}; }"""

SNAPSHOT_CODE = ("print(__import__('json').dumps([p.snapshot() for p in "
                 "__import__('widgets').Panel.instances() if %r in (None, p.model_id)], allow_nan=False))")


WIDGET_TYPES_CODE = """
import json as _j, ipywidgets as _w
_reg = getattr(_w.widgets.widget, "_instances", None) or _w.Widget.widgets
print(_j.dumps({i: [c.__name__ for c in type(_reg[i]).__mro__] for i in %s if i in _reg}))
del _j, _w, _reg
"""


def harness_race(message) -> bool:
    """A console error caused by the harness itself, not by anything a learner would meet.

    JupyterLab lists every workspace file (``GET /lab/api/workspaces``) while our other tabs,
    each with its own workspace, save theirs: a half-written file makes the server answer 500
    ("Expecting value: line 1 column 1"). A learner has one tab. Only that request is excused;
    any other failed request still fails the test."""
    url = (message.location or {}).get("url", "")
    return message.text.startswith("Failed to load resource") and "/lab/api/workspaces?" in url \
        and url.split("?")[0].endswith("/lab/api/workspaces")


LATE_START = "[anywidget] Failed to initialize model."


class NotebookPage:
    """One notebook open in JupyterLab, in its own Playwright page.

    ``late_starts`` counts anywidget's "Failed to initialize model." rejections: a widget model
    that took more than anywidget's 2 s to start on a busy machine. The course's widgets render
    anyway (widgets/_figure.py, widgets/js/common.js ``tolerateSlowStart``), and the tests check
    exactly that, so this one message is counted and reported, not a console error."""

    def __init__(self, page, server: JupyterServer, path: str, workspace: str):
        self.page, self.server, self.path = page, server, path
        self.console_errors: list[str] = []
        self.late_starts = 0
        page.on("console", lambda m: self._console(m.text) if m.type == "error" and not harness_race(m) else None)
        page.on("pageerror", lambda e: self._console(f"uncaught: {e}"))
        page.goto(server.url(f"lab/workspaces/{workspace}/tree/{path}"), wait_until="domcontentloaded",
                  timeout=120_000)
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                               " && window.jupyterapp.shell.currentWidget.sessionContext", timeout=120_000)
        page.evaluate(PAGE_JS)
        page.wait_for_function("() => { const k = window.__course.kernel(); return k && k.status === 'idle'; }",
                               timeout=120_000)
        page.evaluate("() => window.__course.hookKernel()")

    def _console(self, text: str) -> None:
        if text.endswith(LATE_START):
            self.late_starts += 1
        else:
            self.console_errors.append(text)

    def start_run_all(self) -> None:
        """Run every cell, as Run > Run All Cells does, without waiting."""
        self.run_started = time.monotonic()
        # Not awaited: the command's promise can stay pending while outputs keep arriving.
        self.page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")

    def run_all(self, timeout_s: float = 300.0) -> float:
        """Run every cell (unless started already) and wait until all have run; returns seconds since the start."""
        if getattr(self, "run_started", None) is None:
            self.start_run_all()
        start = self.run_started
        deadline = time.monotonic() + timeout_s
        time.sleep(0.5)
        while True:
            state = self.page.evaluate("() => window.__course.cellsDone()")
            errors = self.page.evaluate("() => window.__course.errorOutputs()")
            if errors:
                raise AssertionError(f"{self.path}: a cell failed while running all cells:\n" + "\n".join(errors))
            if state["done"]:
                return time.monotonic() - start
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.path}: cells still running after {timeout_s:.0f} s ({state})")
            time.sleep(0.25)

    def kernel_id(self) -> str | None:
        return self.page.evaluate("() => { const k = window.__course.kernel(); return k ? k.id : null; }")

    def close(self) -> None:
        """Close the tab and stop its kernel."""
        try:
            kid = self.kernel_id()
        except Exception:  # noqa: BLE001 - page already gone
            kid = None
        self.page.close()
        if kid:
            try:
                self.server.request("DELETE", f"/api/kernels/{kid}")
            except (urllib.error.URLError, OSError):
                pass

    def ask_kernel(self, code: str) -> str:
        return self.page.evaluate("(code) => window.__course.ask(code)", code)

    def kernel_panels(self, model_id: str | None = None) -> list[dict]:
        """``Panel.snapshot()`` of every Panel alive in the notebook's kernel (or of one)."""
        return json.loads(self.ask_kernel(SNAPSHOT_CODE % model_id))

    def displayed_widgets(self) -> dict[str, list[str]]:
        """Widgets shown as cell outputs: model id -> class names (the class and its bases)."""
        ids = self.page.evaluate("() => window.__course.widgetOutputs()")
        return json.loads(self.ask_kernel(WIDGET_TYPES_CODE % json.dumps(ids)))

    def kernel_errors(self) -> list[str]:
        return self.page.evaluate("() => window.__course.kernelErrors.slice()")

    def figure(self, model_id: str) -> dict | None:
        # As one JSON string: much faster through Playwright than nested arrays (NaN -> null).
        return json.loads(self.page.evaluate("(id) => JSON.stringify(window.__course.figure(id))", model_id))

    def dom_controls(self, model_id: str) -> dict:
        return self.page.evaluate("(id) => window.__course.controls(id)", model_id)

    def wait_rendered(self, model_id: str, kind: str = "panel", want: dict | None = None,
                      cap_s: float | None = None) -> float:
        """Until the Panel is in the page and its plot shows a title and a state; returns the seconds waited.

        Fails at once if the cell output says the plot could not load, and after ``cap_s`` (default
        RENDER_CAP_S) with a report: which widget, the state expected, what the page shows, a screenshot.
        """
        cap_s = RENDER_CAP_S if cap_s is None else cap_s
        start = time.monotonic()
        try:
            self.page.wait_for_function(RENDERED_JS, arg=model_id, timeout=cap_s * 1000, polling=250)
        except Exception as e:  # noqa: BLE001 - Playwright's TimeoutError or a closed page: report both alike
            raise AssertionError(self.render_report(model_id, kind, want, f"not drawn after {cap_s:.0f} s ({e!s:.200})"))
        if self.page.evaluate(FIGURE_STATUS_JS, model_id)["failed"]:
            raise AssertionError(self.render_report(model_id, kind, want, "the cell output says the plot could not load"))
        return time.monotonic() - start

    def render_report(self, model_id: str, kind: str, want: dict | None, why: str) -> str:
        """Which widget, which state it should show, what the page shows, and where a screenshot is."""
        shot = SCREENSHOTS / Path(self.path).stem / f"not-rendered-{kind}-{model_id[:8]}.png"
        try:
            shown = self.figure(model_id)
            status = self.page.evaluate(FIGURE_STATUS_JS, model_id)
            shot.parent.mkdir(parents=True, exist_ok=True)
            if status["panel"]:
                self.screenshot(model_id, shot)
            else:
                self.page.screenshot(path=str(shot), full_page=True)
        except Exception as e:  # noqa: BLE001 - the page itself may be gone
            shown, status, shot = None, {"error": str(e)}, f"(no screenshot: {e})"
        return (f"{self.path}: widget {kind!r} (model {model_id}) {why}.\n"
                f"  expected: a plot whose layout.meta.state is {json.dumps((want or {}).get('state'))} "
                f"and whose drawn title is its layout title\n"
                f"  the page shows: panel in page = {status.get('panel')}, plot element = {status.get('plot')}, "
                f"figure status text = {status.get('text')!r}, page {status.get('visibility')}, "
                f"figure = {json.dumps(shown)[:600]}\n  the widget's cell output reads: {status.get('output')!r}\n"
                f"  screenshot: {shot}")

    def panel_locator(self, model_id: str):
        return self.page.locator(f".course-widget-id--{model_id}").first

    def control_locator(self, model_id: str, name: str, kind: str):
        inner = ".noUi-handle" if kind == "slider" else "select"
        return self.page.locator(f".course-widget-id--{model_id} .course-control--{name} {inner}").first

    def screenshot(self, model_id: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        loc = self.panel_locator(model_id)
        loc.scroll_into_view_if_needed()
        loc.screenshot(path=str(path))


class NotebookPool:
    """Opens the notebooks in order, each in its own tab, ``ahead`` of the test driving them
    (default 2; env BROWSER_TESTS_AHEAD): while a test drives notebook i, notebooks i+1 and i+2
    already run all their cells (their kernels compute while the test waits on round trips).
    ``take`` returns a notebook whose cells have all run."""

    def __init__(self, server: JupyterServer, context, served: dict[Path, str], order: list[Path],
                 ahead: int | None = None):
        ahead = int(os.environ.get("BROWSER_TESTS_AHEAD", "2")) if ahead is None else ahead
        self.server, self.context, self.served, self.order, self.ahead = server, context, served, order, ahead
        self.open: dict[Path, NotebookPage] = {}

    def _start(self, nb: Path) -> None:
        if nb not in self.open:
            page = NotebookPage(self.context.new_page(), self.server, self.served[nb], workspace=f"w-{nb.stem}")
            page.start_run_all()
            self.open[nb] = page

    def prefetch(self) -> None:
        """Start the first notebooks now (their cells run while other tests go on)."""
        for nb in self.order[:self.ahead + 1]:
            self._start(nb)

    def take(self, nb: Path) -> tuple[NotebookPage, float]:
        self._start(nb)
        if nb in self.order:
            i = self.order.index(nb)
            for nxt in self.order[i + 1:i + 1 + self.ahead]:
                self._start(nxt)
        page = self.open.pop(nb)
        return page, page.run_all()

    def close(self) -> None:
        for page in self.open.values():
            page.close()
        self.open.clear()
