"""``python -m autograder grade``: the instructor command, end to end with the real nbgrader.

One course, one LMS-style zip (flat file names), a roster with a student who submitted nothing:

1. the first run is killed (SIGKILL) right after its first submission is graded;
2. the second run resumes: it keeps that grade, grades the rest, and reports a real zero as
   GRADED 0, a crashed submission and a non-notebook as FAILED with their reasons, and the
   absent student as MISSING; its workers and sandboxes died with the killed run;
3. the third run is a no-op with the same CSV (idempotent).

The zip is as LMS zips come: besides the class's notebooks it holds an entry whose path climbs out
of the extraction folder (zip-slip), one with an absolute path, a damaged member (bad CRC), a file
that is not a notebook and an older attempt of a student. Each is REJECTED with its reason, in the
summary and the CSV, and the rest of the class is graded (stock nbgrader zip_collect stopped at the
first one with a traceback).
"""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import REPO_ROOT
from autograder.submissions import filled, mistakes_of
from grading_support import require_sandbox, scratch_copy

sys.path.insert(0, str(Path(__file__).parent))
from adversarial.corpus import trimmed  # noqa: E402

pytestmark = pytest.mark.slow
A = "02_ddpm"


def cli(root: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "autograder", "grade", A, "--course-dir", str(root), "--timeout", "30",
            "--cpu", "120", "--memory", "3072", *extra]


def children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int(next(ln for ln in (p / "status").read_text().splitlines() if ln.startswith("PPid:")).split()[1])
            except (OSError, StopIteration, ValueError):
                continue
            if ppid == pid:
                out.append(int(p.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines() if ln.startswith("State:"))
        return "Z" not in state
    except (OSError, StopIteration):
        return False


#: Entries an LMS zip may hold that must not be graded, and the words their rejection must use.
BAD_ENTRIES = {"../../mallory_02_ddpm.ipynb": "", "/etc/oscar_02_ddpm.ipynb": "", "frank_02_ddpm.ipynb": "",
               "grace_02_ddpm.pdf": "%PDF-1.4 not a notebook", "alice_attempt_2026-10-30_02_ddpm.ipynb": ""}
REJECTED_BECAUSE = {"../../mallory_02_ddpm.ipynb": ("mallory", "goes up ('..') out of the extraction folder"),
                    "/etc/oscar_02_ddpm.ipynb": ("oscar", "an absolute path"),
                    "frank_02_ddpm.ipynb": ("frank", "damaged or unreadable in the upload"),
                    "grace_02_ddpm.pdf": ("", "not a notebook of this assignment (02_ddpm.ipynb)"),
                    "alice_attempt_2026-10-30_02_ddpm.ipynb": (
                        "alice", "an older copy of alice's 02_ddpm.ipynb: graded 'alice_attempt_2026-11-01_02_ddpm.ipynb'")}


def damage(archive: Path, member: str) -> None:
    """Flip bytes in the middle of a member's compressed data (its CRC no longer matches)."""
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo(member)
    data = bytearray(archive.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    middle = start + info.compress_size // 2
    data[middle:middle + 4] = bytes(b ^ 0xFF for b in data[middle:middle + 4])
    archive.write_bytes(bytes(data))


def read_csv(path: Path) -> tuple[dict, list]:
    """(student -> row of a graded, failed or missing student, the REJECTED rows)."""
    with open(path) as f:
        table = list(csv.DictReader(f))
    return ({r["student_id"]: r for r in table if r["status"] != "REJECTED"},
            [r for r in table if r["status"] == "REJECTED"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    require_sandbox()
    base = tmp_path_factory.mktemp("grade-command")
    root = base / "course"
    course = scratch_copy(root, A)
    release = course.release_notebooks(A)[0]
    showcase = next(m for m in mistakes_of(A) if m.showcase)
    subs = {
        "alice_attempt_2026-11-01_02_ddpm.ipynb": trimmed(filled(release, A)),
        "bob_02_ddpm.ipynb": nbformat.read(release, as_version=4),
        "carol_attempt_1_02_ddpm.ipynb": trimmed(filled(release, A, overrides={"q_sample": "import os\nos._exit(3)"})),
        "dave_02_ddpm.ipynb": "<html>this is not a notebook</html>",
        "erin_02_ddpm.ipynb": trimmed(filled(release, A, overrides={showcase.function: showcase.source()})),
    }
    archive = base / "lms-download.zip"
    good = nbformat.writes(subs["alice_attempt_2026-11-01_02_ddpm.ipynb"])
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for name, nb in subs.items():
            z.writestr(name, nb if isinstance(nb, str) else nbformat.writes(nb))
        for name, text in BAD_ENTRIES.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(2026, 10, 30, 9, 0, 0)), text or good)
    damage(archive, "frank_02_ddpm.ipynb")
    roster = base / "roster.csv"
    roster.write_text("id,first_name,last_name,email\n" + "".join(
        f"{s},{s.title()},Doe,{s}@example.org\n" for s in ["alice", "bob", "carol", "dave", "erin", "ghost", "frank"]))
    ledger = root / "grading-status" / A
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out = {"root": root, "ledger": ledger, "showcase": showcase}

    # 1. killed after the first graded submission
    first = subprocess.Popen(cli(root, "--from", str(archive), "--roster", str(roster), "--workers", "1"),
                             cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and first.poll() is None:
        done = [p for p in ledger.glob("*.json")] if ledger.is_dir() else []
        if any(json.loads(p.read_text())["status"] != "MISSING" for p in done):
            break
        time.sleep(0.2)
    workers = children(first.pid)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    out["before"] = {p.stem: json.loads(p.read_text()) for p in ledger.glob("*.json")}
    out["orphans"] = workers
    gone = time.monotonic() + 3   # they must be gone within 3 s
    while any(alive(w) for w in workers) and time.monotonic() < gone:
        time.sleep(0.1)
    out["orphans_alive"] = [w for w in workers if alive(w)]

    # 2. resume, 3. again (nothing to do)
    for key in ("second", "third"):
        proc = subprocess.run(cli(root, "--from", str(archive), "--roster", str(roster), "--workers", "2"),
                              cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1200)
        assert proc.returncode == 0, proc.stderr[-3000:]
        csv_path = root / "exports" / f"{A}-grades.csv"
        rows, rejected = read_csv(csv_path)
        out[key] = {"stdout": proc.stdout, "stderr": proc.stderr, "csv": csv_path.read_text(), "rows": rows,
                    "rejected": rejected, "ledger": {p.stem: json.loads(p.read_text()) for p in ledger.glob("*.json")}}
    return out


def test_killed_run_saved_what_finished_and_left_no_processes(runs):
    graded = [s for s, e in runs["before"].items() if e["status"] != "MISSING"]
    assert graded == ["alice"], runs["before"]
    assert runs["orphans"], "the killed run had a worker"
    assert runs["orphans_alive"] == [], "workers (and their sandboxes) die with the command"


def test_resumed_run_kept_earlier_grades_and_graded_the_rest(runs):
    second = runs["second"]
    assert second["ledger"]["alice"] == runs["before"]["alice"], "alice was not graded again"
    assert "4 to grade, 1 already graded" in second["stderr"]
    assert "grading 02_ddpm" in second["stderr"], "progress bar"


def test_csv_tells_real_zero_failed_and_missing_apart(runs):
    rows = runs["second"]["rows"]
    status = {s: (r["status"], r["score"]) for s, r in rows.items()}
    total = rows["alice"]["max_score"]
    lost = {"compute_alpha_bar": 1, "q_sample": 2}.get(runs["showcase"].function, 2)
    assert status == {"alice": ("GRADED", total), "bob": ("GRADED", "0"), "carol": ("FAILED", ""),
                      "dave": ("FAILED", ""), "erin": ("GRADED", f"{float(total) - lost:g}"), "ghost": ("MISSING", ""),
                      "frank": ("MISSING", "")}
    assert "exited with status 3" in rows["carol"]["reason"]
    assert "not valid JSON" in rows["dave"]["reason"]
    assert rows["ghost"]["reason"] == "no submission"
    assert rows["frank"]["reason"] == "no gradable submission: their upload was REJECTED (see below)"
    assert rows["alice"]["first_name"] == "Alice" and rows["alice"]["email"] == "alice@example.org"


def test_summary_table_lists_every_student(runs):
    table = runs["second"]["stdout"]
    for student, status in [("alice", "GRADED"), ("carol", "FAILED"), ("ghost", "MISSING")]:
        assert any(line.split()[:2] == [student, status] for line in table.splitlines()), table
    assert "3 graded, 2 failed, 2 missing" in table


def test_rerun_is_idempotent(runs):
    second, third = runs["second"], runs["third"]
    assert "0 to grade, 5 already graded" in third["stderr"]
    assert third["csv"] == second["csv"]
    assert third["ledger"] == second["ledger"]


def test_feedback_exists_for_graded_submissions_only(runs):
    fb = runs["root"] / "feedback"
    assert sorted(p.parent.name for p in fb.glob(f"*/{A}")) == ["alice", "bob", "erin"]
    html = (fb / "erin" / A / f"{A}.html").read_text()
    assert runs["showcase"].label in html.replace("&#39;", "'").replace("&quot;", '"')
    assert "BEGIN HIDDEN TESTS" not in html and "record_outputs" not in html


def test_unsafe_and_unreadable_zip_entries_are_rejected_one_by_one(runs):
    rejected = {r["reason"].split(": ", 1)[0]: r for r in runs["second"]["rejected"]}
    assert set(rejected) == {f"upload entry {name!r}" for name in BAD_ENTRIES}
    for name, (student, words) in REJECTED_BECAUSE.items():
        row = rejected[f"upload entry {name!r}"]
        assert row["student_id"] == student and words in row["reason"], row
        assert row["score"] == "" and row["assignment"] == A
    table = runs["second"]["stdout"]
    for name in BAD_ENTRIES:
        assert any("REJECTED" in line and repr(name)[:20] in line for line in table.splitlines()), (name, table)
    assert "5 upload entries rejected" in table
    assert not list(runs["root"].parent.rglob("mallory_02_ddpm.ipynb")) and not Path("/etc/oscar_02_ddpm.ipynb").exists()
    assert not (runs["root"] / "submitted" / "mallory").exists() and not (runs["root"] / "submitted" / "frank").exists()
    assert runs["third"]["rejected"] == runs["second"]["rejected"]


def test_upload_rejects_links_and_zip_bombs_without_reading_them(tmp_path):
    """The checks of autograder.grading.upload on their own: a symbolic link in a folder upload
    (it could point at the grader's files) and an entry that would unpack to more than a notebook."""
    from autograder.grading.upload import MAX_ENTRY_MB, unpack
    folder = tmp_path / "upload"
    (folder / "alice").mkdir(parents=True)
    (folder / "alice" / "02_ddpm.ipynb").write_text("{}")
    (folder / "bob").mkdir()
    (folder / "bob" / "02_ddpm.ipynb").symlink_to(REPO_ROOT / "solutions" / "ddpm.py")

    def match(path):
        parts = path.split("/")
        return (parts[0], parts[-1]) if parts[-1] == "02_ddpm.ipynb" else None
    written, rejected = unpack(folder, tmp_path / "out1", match, ["02_ddpm.ipynb"])
    assert written == ["alice/02_ddpm.ipynb"]
    assert [(r.entry, r.student, r.reason) for r in rejected] == [("bob/02_ddpm.ipynb", "bob", "a symbolic link, not a file")]
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("carol/02_ddpm.ipynb", b"\0" * ((MAX_ENTRY_MB + 1) * 2**20))
    written, rejected = unpack(bomb, tmp_path / "out2", match, ["02_ddpm.ipynb"])
    assert written == [] and "too large: 101 MB uncompressed" in rejected[0].reason
