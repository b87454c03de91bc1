"""The course: one object that owns an nbgrader course root.

What instructors write stays in the repository: the instructor notebooks (``autograder/source/``)
and the configuration (``autograder/nbgrader_config.py``). What nbgrader and the grader write at
run time lives in the course root, outside the Python package; by default ``<repo>/var/course/``
(``RUNTIME_ROOT``, gitignored as a whole)::

    var/course/
      nbgrader_config.py        written by Course: loads the repository's configuration
      gradebook.db              the gradebook (students, scores)
      release/<a>/              nbgrader generate_assignment
      downloaded/<a>/           an upload (--from), checked entry by entry
      submitted/<s>/<a>/        the submissions
      autograded/<s>/<a>/       nbgrader autograde
      feedback/<s>/<a>/         nbgrader generate_feedback
      exports/<a>-grades.csv    the grades, with a status column
      grading-status/<a>/       the ledger (one JSON file per submission) and logs

nbgrader finds the instructor notebooks through ``CourseDirectory.source_directory``, an absolute
path to ``autograder/source`` (nbgrader joins it onto the root, and an absolute path wins).
A scratch course (tests, benchmarks) copies the notebooks into its own ``source/`` instead.
"""
from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import nbformat

from autograder import CONFIG, RUNTIME_ROOT, SOURCE
from autograder.grading.status import Ledger, Rejection


CONFIG_HEADER = "# Written by autograder.course.Course: the configuration is the repository's.\n"


def unscored(submission) -> list[str]:
    """Names of the grade cells of a gradebook submission that have no score (nbgrader's
    ``SubmittedAssignment``): autograde did not finish, or a cell needs manual grading."""
    return [g.name for nb in submission.notebooks for g in nb.grades
            if g.auto_score is None and g.manual_score is None]


class Course:
    """An nbgrader course root: its gradebook, nbgrader runs, submissions and roster.

    ``Course()`` is the course of this repository (root ``var/course/``, instructor notebooks from
    ``autograder/source/``); ``Course(root)`` another root with the same notebooks, and
    :meth:`scratch` a throw-away root with its own copy of them.
    """

    def __init__(self, root: Path = RUNTIME_ROOT, source: Path | None = None, db_url: str | None = None):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "nbgrader_config.py"
        foreign = config.exists() and not config.read_text().startswith(CONFIG_HEADER)
        if source is None and (self.root / "source").is_dir():
            source = self.root / "source"          # a scratch course's own copy
        if source is None and config.exists():
            source = self._configured_source()
        if source is None:
            source = SOURCE
        self.source = Path(source).resolve()
        # The gradebook: SQLite in the root unless a SQLAlchemy URL (PostgreSQL, for the Dask engine) is
        # given once; it is written into the root's nbgrader_config.py, so later runs and workers keep it.
        self._db_url = db_url or (config.exists() and self.config().CourseDirectory.get("db_url")) or None
        if not foreign:  # an instructor's own nbgrader_config.py is never overwritten
            self._write_config()

    @classmethod
    def scratch(cls, root: Path, assignments: list[str]) -> "Course":
        """A course root with a copy of the instructor notebooks of ``assignments``, generated."""
        root = Path(root)
        for a in assignments:
            shutil.copytree(SOURCE / a, root / "source" / a, dirs_exist_ok=True)
        course = cls(root, root / "source")
        for a in assignments:
            course.generate(a)
        return course

    def __repr__(self) -> str:
        return f"Course({str(self.root)!r}, source={str(self.source)!r})"

    def _write_config(self) -> None:
        """The root's nbgrader_config.py: nbgrader (and a worker on another machine) reads it there."""
        text = (CONFIG_HEADER +
                f"load_subconfig({str(CONFIG)!r})  # noqa: F821\n"
                f"c.CourseDirectory.root = {str(self.root)!r}  # noqa: F821\n"
                f"c.CourseDirectory.source_directory = {str(self.source)!r}  # noqa: F821\n"
                + (f"c.CourseDirectory.db_url = {self._db_url!r}  # noqa: F821\n" if self._db_url else ""))
        path = self.root / "nbgrader_config.py"
        if not path.exists() or path.read_text() != text:  # atomically: parallel workers read it
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".nbgrader_config-")
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.replace(tmp, path)

    def _configured_source(self) -> Path | None:
        """The instructor notebooks' folder that this root's nbgrader configuration names."""
        source = self.config().CourseDirectory.get("source_directory")
        return (self.root / source) if source else None

    # ------------------------------------------------------------------------------ nbgrader
    def nbgrader(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run an nbgrader command on this course with this environment's Python."""
        cmd = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={self.root}"]
        # nbgrader shells out to `alembic`, so this environment's bin/ must come first on PATH.
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        proc = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, env=env)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[2:])} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def config(self, overrides: dict | None = None):
        """The course's configuration as nbgrader loads it, plus ``overrides`` (traitlets dicts)."""
        from traitlets.config import Config
        from traitlets.config.loader import PyFileConfigLoader

        cfg = Config()
        cfg.merge(PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config())
        if overrides:
            cfg.merge(Config(overrides))
        return cfg

    def generate(self, assignment: str) -> Path:
        """``nbgrader generate_assignment``: the student version, and the assignment in the gradebook."""
        self.nbgrader("generate_assignment", assignment, "--force")
        return self.root / "release" / assignment

    def has_source(self, assignment: str) -> bool:
        return (self.source / assignment).is_dir()

    def notebook_names(self, assignment: str) -> list[str]:
        return sorted(p.name for p in (self.source / assignment).glob("*.ipynb"))

    def release_notebooks(self, assignment: str) -> list[Path]:
        return sorted((self.root / "release" / assignment).glob("*.ipynb"))

    def ensure_generated(self, assignment: str) -> bool:
        """Generate the assignment unless the gradebook and release/ have it; True if it ran."""
        from nbgrader.api import MissingEntry
        known = False
        if self._db_url or self.db_path.exists():
            with self.gradebook() as gb:
                try:
                    known = bool(gb.find_assignment(assignment).notebooks)
                except MissingEntry:
                    known = False
        if known and (self.root / "release" / assignment).is_dir():
            return False
        self.generate(assignment)
        return True

    # ------------------------------------------------------------------------------ gradebook
    @property
    def db_path(self) -> Path:
        return self.root / "gradebook.db"

    @property
    def db_url(self) -> str:
        return self._db_url or f"sqlite:///{self.db_path}"

    @contextmanager
    def gradebook(self):
        from nbgrader.api import Gradebook
        bindir = str(Path(sys.executable).parent)  # a new (e.g. PostgreSQL) gradebook runs `alembic`
        if bindir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"
        with Gradebook(self.db_url) as gb:
            yield gb

    def roster(self) -> list[str]:
        """The students the gradebook knows (imported roster, and everyone autograded)."""
        if not (self._db_url or self.db_path.exists()):
            return []
        with self.gradebook() as gb:
            return [s.id for s in gb.students]

    def import_roster(self, path: Path) -> None:
        """``nbgrader db student import`` (CSV columns id,first_name,last_name,email)."""
        self.nbgrader("db", "student", "import", str(Path(path).resolve()))

    def is_graded(self, assignment: str, student: str) -> bool:
        """The gradebook has a score for every grade cell of this submission."""
        from nbgrader.api import MissingEntry
        with self.gradebook() as gb:
            try:
                return not unscored(gb.find_submission(assignment, student))
            except MissingEntry:
                return False

    def grades(self) -> dict[tuple[str, str], dict]:
        """Stock ``nbgrader export`` to CSV: (assignment, student) -> row."""
        out = self.root / "grades.csv"
        self.nbgrader("export", f"--to={out}")
        with open(out) as f:
            return {(r["assignment"], r["student_id"]): r for r in csv.DictReader(f)}

    def export_status_csv(self, assignment: str, to: Path) -> Path:
        """``nbgrader export`` with the status exporter (GRADED / FAILED / MISSING / REJECTED)."""
        to = Path(to).resolve()
        self.nbgrader("export", "--exporter=autograder.grading.export.StatusCsvExporter", f"--to={to}",
                      f"--assignment={assignment}", f"--StatusCsvExporter.course_root={self.root}")
        return to

    # ------------------------------------------------------------------------------ submissions
    def submissions(self, assignment: str) -> dict[str, Path]:
        """student -> submitted/<student>/<assignment>/."""
        base = self.root / "submitted"
        if not base.is_dir():
            return {}
        return {p.name: p / assignment for p in sorted(base.iterdir()) if (p / assignment).is_dir()}

    def submit(self, student: str, assignment: str, notebooks: dict[str, nbformat.NotebookNode | str]) -> Path:
        """Place a submission: notebook file name -> notebook (or raw text, for broken files)."""
        folder = self.root / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        for name, nb in notebooks.items():
            if isinstance(nb, str):
                (folder / name).write_text(nb)
            else:
                nbformat.write(nb, folder / name)
        return folder

    def ledger(self, assignment: str) -> Ledger:
        return Ledger(self.root, assignment)

    def feedback_html(self, student: str, assignment: str) -> str:
        return "\n".join(p.read_text() for p in sorted((self.root / "feedback" / student / assignment).glob("*.html")))

    def collector_regexp(self, paths: list[str], assignment: str) -> str:
        """nbgrader's FileNameCollectorPlugin regexp (matched against the extracted file's full path).

        Folder layout: ``<student>/<notebook>`` or ``<student>/<assignment>/<notebook>``.
        Flat LMS layout: ``<student>_<anything>_<notebook>`` (e.g. ``alice_attempt2_02_ddpm.ipynb``)."""
        names = "|".join(re.escape(n) for n in self.notebook_names(assignment))
        notebooks = [p for p in paths if p.endswith(".ipynb")]
        if notebooks and all("/" in p.strip("/") for p in notebooks):
            a = re.escape(assignment)
            return rf".+/(?!{a}/)(?P<student_id>[^/]+)/(?:{a}/)?(?P<file_id>{names})$"
        return rf".+/(?P<student_id>[^/_]+)_(?:[^/]*_)?(?P<file_id>{names})$"

    def collect(self, assignment: str, source: Path, name_regexp: str | None = None) -> list[Rejection]:
        """Check ``source`` (an LMS zip or a folder) entry by entry, then the real ``nbgrader
        zip_collect`` of the acceptable entries into submitted/. Returns the rejected entries."""
        from autograder.grading.upload import clean, members, unpack

        source = Path(source).resolve()
        downloaded = self.root / "downloaded" / assignment
        if downloaded.exists():
            shutil.rmtree(downloaded)  # the archive folder holds exactly this run's input
        archive = downloaded / "archive" / (source.stem if source.is_file() else source.name)
        names = [clean(m.name) for m in members(source)]
        regexp = name_regexp or self.collector_regexp(names, assignment)
        notebooks = self.notebook_names(assignment)

        def match(path: str) -> tuple[str, str] | None:
            found = re.match(regexp, f"{downloaded / 'extracted' / archive.name}/{path}")
            if not found or "student_id" not in found.groupdict():
                return None
            file_id = found.groupdict().get("file_id") or os.path.basename(path)
            return (found.group("student_id"), file_id) if file_id in notebooks else None

        _, rejected = unpack(source, archive, match, notebooks)
        self.nbgrader("zip_collect", assignment, "--force", f"--FileNameCollectorPlugin.named_regexp={regexp}")
        return rejected
