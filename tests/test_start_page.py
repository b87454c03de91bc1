"""The start page (course/START.md) and the progress page the visible checks keep (PROGRESS.md)."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from autograder import STUDENT_COURSE
from autograder.start_page import COURSE_MAP, render
from coursekit import progress
from coursekit.checks.judge import CheckFailed
from coursekit.checks.visible import check
from coursekit.registry import ASSIGNMENTS, get


def test_start_page_is_what_release_writes():
    assert (STUDENT_COURSE / "START.md").read_text() == render(), "course/START.md is stale: run `make release`"


def test_start_page_maps_every_assignment_and_its_links_resolve():
    assert set(COURSE_MAP) >= set(ASSIGNMENTS), f"no course-map row for {set(ASSIGNMENTS) - set(COURSE_MAP)}"
    page = (STUDENT_COURSE / "START.md").read_text()
    for row in ASSIGNMENTS.values():
        if (STUDENT_COURSE / row.folder).is_dir():
            assert f"]({row.folder}/" in page, f"the start page does not link {row.folder}'s notebook"
    for target in re.findall(r"\]\(([^)#]+)\)", page):
        assert target == "PROGRESS.md" or (STUDENT_COURSE / target).exists(), f"broken link {target}"
    for words in ("hint(", "Validate", "PROGRESS.md", "Handbook section"):
        assert words in page


@pytest.fixture
def learner_course(tmp_path, monkeypatch):
    """A learner's course folder: START.md beside the assignment folders; the kernel runs in 01's."""
    (tmp_path / "START.md").write_text("start\n")
    folder = tmp_path / get("variational").folder
    folder.mkdir()
    monkeypatch.chdir(folder)
    return tmp_path


def test_visible_checks_record_progress_beside_the_notebooks(learner_course):
    from solutions.variational import kl_diag_gaussians as reference
    check("01_variational_inference", "kl_diag_gaussians", reference)
    with pytest.raises(CheckFailed):
        check("01_variational_inference", "log_evidence", lambda x, a, b, s: x * 0)
    results = json.loads((learner_course / "01_variational_inference" / ".progress.json").read_text())
    assert results["kl_diag_gaussians"]["status"] == "pass" and results["log_evidence"]["status"] == "fail"
    page = (learner_course / "PROGRESS.md").read_text()
    line = next(ln for ln in page.splitlines() if ln.startswith("| [01_variational_inference]"))
    assert "| 1 of 4 |" in line and results["kl_diag_gaussians"]["time"][:10] in line
    assert "`kl_diag_gaussians` passes" in line and "`log_evidence` fails" in line
    assert "`elbo_mc` not checked yet" in line
    ddpm = next(ln for ln in page.splitlines() if ln.startswith("| [02_ddpm]"))
    assert "| 0 of 10 | never |" in ddpm


def test_progress_is_written_nowhere_else(tmp_path, monkeypatch):
    """The grader's sandbox, instructor notebooks and scratch copies have no START.md above them."""
    folder = tmp_path / "01_variational_inference"
    folder.mkdir()
    monkeypatch.chdir(folder)
    progress.record("01_variational_inference", "kl_diag_gaussians", "pass")
    assert list(tmp_path.rglob("*")) == [folder]


def test_an_unwritable_progress_file_never_breaks_a_check(learner_course, capsys):
    (learner_course / "01_variational_inference" / ".progress.json").mkdir()  # a folder where the file goes
    progress.record("01_variational_inference", "kl_diag_gaussians", "pass")
    assert "progress not saved" in capsys.readouterr().err


def test_progress_page_from_the_command_line(tmp_path):
    shutil.copy(STUDENT_COURSE / "START.md", tmp_path / "START.md")
    path = progress.write_page(tmp_path)
    assert path == tmp_path / "PROGRESS.md" and "| 0 of 4 | never |" in path.read_text()
