"""The kernel sandbox, property by property, with a real Jupyter kernel in bubblewrap.

The kernel that runs a submission cannot read the solutions, the instructor notebooks (hidden
tests), the gradebook or other students' files; cannot write outside its scratch folder; has no
network; runs under CPU-time, memory and process-count limits, and one sandbox's process limit
is not another's. Under CI=true a missing sandbox fails these tests instead of skipping them.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import uuid

import nbformat
import pytest
from traitlets.config import Config

from autograder import PACKAGE, REPO_ROOT, RUNTIME_ROOT, SOURCE
from autograder.grading.execute import SandboxExecute
from grading_support import outside_tmp, remove, require_sandbox

pytestmark = pytest.mark.slow


def notebook(cells: list[str]):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def executor(course_root, *, timeout=60, **limits) -> SandboxExecute:
    """nbgrader autograde's Execute step (SandboxExecute), with a required sandbox."""
    cfg = Config()
    cfg.CourseDirectory.root = str(course_root)
    cfg.Sandbox.mode = "required"
    for key, value in {"cpu_seconds": 60, "memory_mb": 2048, "processes": 64, **limits}.items():
        setattr(cfg.Sandbox, key, value)
    return SandboxExecute(config=cfg, timeout=timeout)


def execute(nb, course_root, submission_dir, *, timeout=60, **limits):
    """Execute ``nb`` in a sandboxed kernel as nbgrader autograde would."""
    executor(course_root, timeout=timeout, **limits).preprocess(nb, {"metadata": {"path": str(submission_dir)}})
    return nb


def run_cells(cells: list[str], course_root, submission_dir, **kw):
    return execute(notebook(cells), course_root, submission_dir, **kw)


def text(cell) -> str:
    return "".join(o.get("text", "") if o.get("output_type") == "stream" else
                   f"{o.get('ename')}: {o.get('evalue')}\n" if o.get("output_type") == "error" else ""
                   for o in cell.outputs)


def result(cell) -> dict:
    lines = [ln for ln in text(cell).splitlines() if ln.startswith("RESULT ")]
    assert lines, text(cell)
    return json.loads(lines[-1][len("RESULT "):])


@pytest.fixture(scope="module")
def host():
    """A fake course root and another student's files outside /tmp, plus a loopback TCP server."""
    require_sandbox()
    root = outside_tmp("sandbox-course-")
    (root / "source" / "a").mkdir(parents=True)
    (root / "source" / "a" / "a.ipynb").write_text("hidden tests")
    (root / "gradebook.db").write_text("grades")
    other = root / "submitted" / "other" / "a"
    other.mkdir(parents=True)
    (other / "a.ipynb").write_text("someone else's work")
    mine = root / "autograded" / "me" / "a"
    mine.mkdir(parents=True)
    (mine / "data.csv").write_text("1,2,3\n")
    (mine / "a.ipynb").write_text("the autograded notebook holds the hidden tests")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.setblocking(False)
    yield {"root": root, "mine": mine, "other": other, "server": server}
    server.close()
    remove(root)


PROBE = r'''
import json, os, socket
def attempt(fn):
    try:
        fn()
        return "allowed"
    except BaseException as e:
        return type(e).__name__
def read(p):
    with open(p, "rb") as f:
        f.read(16)
def write(p):
    with open(p, "ab") as f:
        f.write(b"x")
'''


@pytest.fixture(scope="module")
def probe(host):
    root, mine, other = host["root"], host["mine"], host["other"]
    marker = f"/tmp/sandbox-private-{uuid.uuid4().hex}"
    readable = {"solutions": REPO_ROOT / "solutions" / "ddpm.py", "templates": REPO_ROOT / "autograder" / "templates",
                "course source": SOURCE, "course config": PACKAGE / "nbgrader_config.py",
                "fake source": root / "source" / "a" / "a.ipynb", "gradebook": root / "gradebook.db",
                "other student": other / "a.ipynb", "autograded notebook": mine / "a.ipynb",
                "repo": REPO_ROOT / "README.md"}
    for name, path in readable.items():
        assert os.path.exists(path), f"{name}: {path} should exist on the host for this test to mean anything"
    writable = {"course root": root / "pwned", "gradebook": root / "gradebook.db", "source": root / "source" / "a" / "x",
                "other student": other / "x", "own autograded folder": mine / "x", "solutions": REPO_ROOT / "solutions" / "x.py",
                "venv": os.path.join(sys.prefix, "pwned"), "usr": "/usr/pwned", "root fs": "/pwned", "etc": "/etc/pwned"}
    cells = [
        PROBE + 'print("RESULT", json.dumps({"uid": os.getuid(), "cwd": os.getcwd(), "host": socket.gethostname(), '
                '"pids": sum(p.isdigit() for p in os.listdir("/proc")), "files": sorted(os.listdir("."))}))',
        'print("RESULT", json.dumps({k: attempt(lambda p=p: read(p) if os.path.isfile(p) else os.listdir(p)) for k, p in '
        + json.dumps({k: str(v) for k, v in readable.items()}) + '.items()}))',
        'print("RESULT", json.dumps({k: attempt(lambda p=p: write(p)) for k, p in '
        + json.dumps({k: str(v) for k, v in writable.items()}) + '.items()}))',
        f'open("scratch.txt", "w").write("ok"); open("{marker}", "w").write("ok"); '
        'print("RESULT", json.dumps(sorted(os.listdir("."))))',
        'print("RESULT", json.dumps({"loopback": attempt(lambda: socket.create_connection(("127.0.0.1", %d), timeout=3)), '
        '"internet": attempt(lambda: socket.create_connection(("1.1.1.1", 53), timeout=3)), '
        '"dns": attempt(lambda: socket.getaddrinfo("example.com", 80))}))' % host["server"].getsockname()[1],
        'print("RESULT", json.dumps({l.split("  ")[0].strip(): l.split()[-3:-1] for l in open("/proc/self/limits") '
        'if l.startswith(("Max cpu", "Max address", "Max processes", "Max file size", "Max core"))}))',
        'print("RESULT", json.dumps({"big allocation": attempt(lambda: bytearray(3 * 1024**3))}))',
        'import threading, time\nthreads, error = [], None\ntry:\n    for _ in range(200):\n'
        '        t = threading.Thread(target=time.sleep, args=(5,)); t.start(); threads.append(t)\n'
        'except BaseException as e:\n    error = type(e).__name__\nprint("RESULT", json.dumps({"threads": len(threads), "error": error}))',
    ]
    nb = run_cells(cells, root, mine, memory_mb=2048, processes=64)
    return {"cells": nb.cells, "marker": marker}


def test_kernel_runs_unprivileged_in_its_own_namespaces(probe):
    info = result(probe["cells"][0])
    if os.geteuid() == 0:
        assert info["uid"] != 0
    assert info["host"] == "sandbox" and info["cwd"] == "/home/learner/work"
    assert info["pids"] < 20, "the kernel sees only its own processes"
    assert info["files"] == ["data.csv"], "the scratch copy holds the submission's files, not its notebooks"


def test_cannot_read_solutions_hidden_tests_gradebook_or_other_students(probe):
    outcome = result(probe["cells"][1])
    assert [k for k, v in outcome.items() if v == "allowed"] == [], outcome


def test_cannot_write_outside_its_scratch_folder(probe, host):
    outcome = result(probe["cells"][2])
    assert [k for k, v in outcome.items() if v == "allowed"] == [], outcome
    assert result(probe["cells"][3]) == ["data.csv", "scratch.txt"]
    assert not os.path.exists(probe["marker"]), "the sandbox's /tmp is private"
    assert not (host["mine"] / "scratch.txt").exists(), "the scratch folder is a copy"
    assert (host["root"] / "gradebook.db").read_text() == "grades"


def test_has_no_network(probe, host):
    outcome = result(probe["cells"][4])
    assert [k for k, v in outcome.items() if v == "allowed"] == [], outcome
    with pytest.raises(BlockingIOError):
        host["server"].accept()


def test_runs_under_cpu_memory_and_process_limits(probe):
    limits = result(probe["cells"][5])
    assert limits["Max cpu time"][0] == "60"
    assert limits["Max address space"][0] == str(2048 * 2**20)
    assert limits["Max processes"][0] == "64"
    assert limits["Max core file size"][0] == "0"
    assert result(probe["cells"][6]) == {"big allocation": "MemoryError"}
    threads = result(probe["cells"][7])
    assert threads["error"] is not None and threads["threads"] < 64


def test_cpu_time_limit_kills_a_busy_kernel(host):
    from nbclient.exceptions import DeadKernelError
    ep = executor(host["root"], cpu_seconds=3, timeout=120)
    with pytest.raises(DeadKernelError):
        ep.preprocess(notebook(["x = 0\nwhile True:\n    x += 1"]), {"metadata": {"path": str(host["mine"])}})
    assert "CPU time limit (3 s)" in ep.failure


def test_process_limit_is_per_sandbox(host):
    """A fork bomb fills its own sandbox's process limit; a sandbox running meanwhile is unaffected."""
    import threading
    import time
    bomb = notebook([
        "import os, time\nkids = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
        "            time.sleep(40)\n            os._exit(0)\n        kids += 1\nexcept OSError as e:\n"
        "    print('RESULT', kids)",
        "time.sleep(15)\nprint('RESULT', sum(p.isdigit() for p in os.listdir('/proc')))"])
    worker = threading.Thread(target=execute, args=(bomb, host["root"], host["mine"]), kwargs={"processes": 40})
    worker.start()
    deadline = time.monotonic() + 120
    while not bomb.cells[0].get("outputs") and time.monotonic() < deadline:
        time.sleep(0.2)
    other = run_cells(['import threading, time, json\nts = [threading.Thread(target=time.sleep, args=(1,)) for _ in range(16)]\n'
                       '[t.start() for t in ts]\nprint("RESULT", json.dumps(len(ts)))'], host["root"], host["mine"],
                      processes=40)
    worker.join(timeout=120)
    kids = result(bomb.cells[0])
    assert 0 < kids < 40, "the bomb hit its limit"
    assert result(bomb.cells[1]) > kids, "its processes were still alive while the other sandbox ran"
    assert result(other.cells[0]) == 16


def test_required_sandbox_refuses_to_run_without_bubblewrap():
    from autograder.grading.sandbox import Sandbox, SandboxError
    cfg = Config()
    cfg.Sandbox.mode = "required"
    cfg.Sandbox.bwrap = "no-such-bwrap-here"
    with pytest.raises(SandboxError, match="apt-get install bubblewrap"):
        Sandbox(config=cfg).active()
    cfg.Sandbox.mode = "auto"
    assert Sandbox(config=cfg).active() is False  # runs unsandboxed, with a warning


def test_sandbox_never_binds_the_course_root_or_solutions(tmp_path):
    from autograder.grading.sandbox import Sandbox, SandboxedKernel, SandboxError
    require_sandbox()
    cfg = Config()
    cfg.Sandbox.readonly_paths = [str(REPO_ROOT)]  # a careless setting that would expose everything
    box = SandboxedKernel(Sandbox(config=cfg), None, str(RUNTIME_ROOT), str(SOURCE))
    try:
        with pytest.raises(SandboxError, match="refusing to bind"):
            box.wrap(["true"])
    finally:
        box.cleanup()
