"""The adversarial corpus (tests/adversarial/corpus.py), graded in ONE parallel run of
``python -m autograder grade`` together with ordinary control submissions.

For every kind: the submission is graded correctly (the expected score) or flagged FAILED with its
reason; no output of any cell shows a successful attack (a leaked file, a write outside the
scratch folder, a connection); the grader itself never crashes. The controls, graded on the same
workers at the same time, keep exactly their expected scores and feedback: no student's grade
depends on who else was graded. The course root lives outside /tmp (the sandbox's /tmp is
private anyway), so the paths the attacks try are real paths on the host.
"""
from __future__ import annotations

import html
import json
import re
import socket
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import REPO_ROOT
from grading_support import outside_tmp, remove, require_sandbox, scratch_copy

sys.path.insert(0, str(Path(__file__).parent))
from adversarial.corpus import (ASSIGNMENT, FAILED, GRADED, KINDS, MARKERS, Context, controls,  # noqa: E402
                               expected_score, points)

pytestmark = pytest.mark.slow
A = ASSIGNMENT


@pytest.fixture(scope="module")
def graded():
    require_sandbox()
    from autograder.grading.command import Options, grade, summary_table
    base = outside_tmp("adversarial-")
    root = base / "course"
    course = scratch_copy(root, A)
    release = course.release_notebooks(A)[0]
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.setblocking(False)
    folder = base / "submissions"

    def put(student, nb):
        (folder / student).mkdir(parents=True, exist_ok=True)
        path = folder / student / release.name
        path.write_text(nb) if isinstance(nb, str) else nbformat.write(nb, path)

    ctrl = controls(release)
    for student, (nb, _, _) in ctrl.items():
        put(student, nb)
    for kind in KINDS:
        put(kind.name, kind.make(Context(root, release, REPO_ROOT, "control_full", server.getsockname()[1], kind.name)))
    summary = grade(Options(A, root=root, source=folder, workers=2, timeout=15, cpu_seconds=60, memory_mb=2048,
                            processes=64, progress=False))
    print(summary_table(summary, 160))
    try:
        accepted = server.accept()
    except BlockingIOError:
        accepted = None
    server.close()
    yield {"root": root, "rows": {r["student_id"]: r for r in summary.rows}, "controls": ctrl,
           "accepted": accepted, "summary": summary}
    remove(base)


def outputs(root: Path, student: str) -> str:
    path = root / "autograded" / student / A / f"{A}.ipynb"
    if not path.exists():
        return ""
    nb = nbformat.read(path, as_version=4)
    return json.dumps([c.get("outputs", []) for c in nb.cells if c.cell_type == "code"])


def test_corpus_has_at_least_15_kinds():
    assert len({k.name for k in KINDS}) >= 15


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_each_kind_is_graded_correctly_or_flagged(graded, kind):
    row = graded["rows"][kind.name]
    assert row["status"] in (kind.status, *kind.alternatives), row
    if row["status"] == GRADED:
        assert float(row["score"]) == expected_score(kind), row
        assert float(row["max_score"]) == sum(points().values())
    if row["status"] == FAILED:
        for words in (kind.reason,) if isinstance(kind.reason, str) else kind.reason:
            assert words in row["reason"], row
        if kind.name != "invalid_json":  # the reason says in which cell, by position and first line
            assert re.search(r"cell \d+ \('", row["reason"]), row
    out = outputs(graded["root"], kind.name)
    for marker in MARKERS:
        assert marker not in out, f"{kind.name}: an attack succeeded ({marker})"
    if kind.output and row["status"] == GRADED:
        assert kind.output in out, f"{kind.name}: expected {kind.output!r} in the outputs"


def test_controls_graded_in_the_same_run_are_unaffected(graded):
    for student, (_, score, phrases) in graded["controls"].items():
        row = graded["rows"][student]
        assert (row["status"], float(row["score"])) == (GRADED, score), row
        feedback = html.unescape((graded["root"] / "feedback" / student / A / f"{A}.html").read_text())
        for phrase in phrases:
            assert phrase in feedback, f"{student}: feedback lacks {phrase!r}"


def test_no_connection_reached_the_host(graded):
    assert graded["accepted"] is None


def test_nothing_was_written_outside_the_scratch_folders(graded):
    root = graded["root"]
    assert not list(root.rglob("pwned*")) and not list((REPO_ROOT / "solutions").glob("pwned*"))
    assert not list((root / "autograded").rglob("scratch_ok.txt")), "scratch files stay in the sandbox"


def test_huge_output_is_capped(graded):
    path = graded["root"] / "autograded" / "huge_output" / A / f"{A}.ipynb"
    assert path.stat().st_size < 5_000_000


def test_feedback_leaks_no_hidden_tests_and_embeds_plots_offline(graded):
    feedback = sorted((graded["root"] / "feedback").glob(f"*/{A}/*.html"))
    assert len(feedback) >= len(graded["controls"])
    for path in feedback:
        text = path.read_text()
        plain = html.unescape(re.sub(r"<[^>]+>", "", text))
        for secret in ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", f'record_outputs("{A}"', "_reference_",
                       "hidden_check", "grading-record+json"):
            assert secret not in plain, f"{path}: {secret}"
        assert 'src="https://cdn.plot.ly' not in text and "src='https://cdn.plot.ly" not in text
    full = (graded["root"] / "feedback" / "control_full" / A / f"{A}.html").read_text()
    assert full.count("Plotly.newPlot") >= 2, "the learner's figure and the widget panels are drawn"
    # plotly.js ships with the page (inlined, or a local file beside it: autograder/feedback_page), never a CDN
    page = graded["root"] / "feedback" / "control_full" / A
    assert "plotly.js v" in full or "Plotly=" in full or (
        'src="plotly.min.js"' in full and (page / "plotly.min.js").stat().st_size > 1_000_000), "plotly.js is offline"
    assert "application/vnd.jupyter.widget-view+json" not in full


def test_every_submission_has_a_status(graded):
    assert set(graded["rows"]) == {k.name for k in KINDS} | set(graded["controls"])


# ------------------------------------------------------------------ the reasons' words, symptom by symptom
# The grading run above meets only the symptoms this machine produces. A fork or thread bomb can also
# garble the kernel's messages (seen as `ValueError: Invalid Signature: b'72a1...'`); these tests give
# explain.reason each symptom the grader can meet, with the corpus's own code.
FORKS = "import os\nwhile True:\n    os.fork()"
THREADS = "import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(120,)).start()"


@pytest.mark.parametrize("source, words", [
    (FORKS, "cell 14 ('import os') forks processes (os.fork) in a loop"),
    (THREADS, "cell 14 ('import threading, time') starts threads (threading.Thread) in a loop"),
    ("from multiprocessing import Process as P\nfor _ in range(500):\n    P(target=print).start()",
     "starts processes (multiprocessing.Process) in a loop"),
])
def test_garbled_messages_are_blamed_on_the_cell_that_made_processes(source, words):
    from autograder.grading import explain
    reason = explain.reason("lost", [(3, "import torch"), (14, source)],
                            detail="ValueError: Invalid Signature: b'72a1c0ffee'")
    assert words in reason and "Invalid Signature" in reason, reason


def test_a_replaced_builtin_is_named_even_when_a_later_cell_hangs():
    from autograder.grading import explain
    cells = [(5, "def q_sample(x0, t, alpha_bar, noise):\n    return x0\n\nimport builtins as b\nb.len = lambda o: 0"),
             (6, "q_sample(1, 2, 3, 4)")]
    reason = explain.reason("timeout", cells, timeout=60)
    assert reason.startswith("cell 5 ('def q_sample(x0, t, alpha_bar, noise):') replaces Python's built-in len"), reason
    assert "stopped answering in cell 6" in reason and "did not stop when interrupted" not in reason


def test_code_without_a_known_cause_keeps_the_plain_symptom():
    from autograder.grading import explain
    assert explain.reason("timeout", [(2, "x = 1\ny = 2")], timeout=60).startswith(
        "cell 2 ('x = 1') ran past the 60 s time limit and did not stop when interrupted")
    assert explain.behaviours("%%time\nx = [") == []  # magics and broken code: nothing to name
