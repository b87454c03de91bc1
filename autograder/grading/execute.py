"""nbgrader's ``Execute`` preprocessor, running the kernel in the sandbox.

Differences from stock ``Execute``:

- the kernel manager is :class:`~autograder.grading.sandbox.SandboxKernelManager` (the course root,
  taken from nbgrader's configuration, is checked to stay invisible to the kernel);
- a cell's outputs are capped (``max_output_bytes``): a submission that prints gigabytes keeps the
  first megabyte and a note, and the grader's memory stays bounded;
- widget state is not saved into the autograded notebook (megabytes of JavaScript per figure
  widget; feedback uses a static snapshot instead, see :mod:`.kernel_hooks`);
- when a submission cannot be graded (the kernel dies, exits, ignores the interrupt after the time
  limit, or its messages become unreadable), :attr:`SandboxExecute.failure` says in plain words
  what the submission did and in which cell (:mod:`.explain`), for the FAILED line of the grades
  CSV; the job that ran nbgrader reads it from the preprocessor (:func:`failure_of`).
- the default time limit per cell is 60 s (``c.SandboxExecute.timeout``).
"""
from __future__ import annotations

import json
import os

import nbformat

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute
from traitlets import Integer

from autograder.grading import RECORD_MIME, explain
from autograder.grading.sandbox import Sandbox, SandboxKernelManager


def failure_of(converter) -> str | None:
    """Why the notebook an nbgrader converter (e.g. ``Autograde``) ran last could not be graded."""
    exporter = getattr(converter, "exporter", None)
    for pp in getattr(exporter, "_preprocessors", []):
        if isinstance(pp, SandboxExecute) and pp.failure:
            return pp.failure
    return None


class SandboxExecute(Execute):
    timeout = Integer(60, allow_none=True, help="Seconds a cell may run before it is interrupted").tag(config=True)
    max_output_bytes = Integer(1_000_000, help="Outputs kept per cell; the rest is dropped with a note").tag(config=True)
    iopub_timeout = Integer(10, allow_none=False, help=Execute.iopub_timeout.help).tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(*args, **kwargs)
        self._cell_index = None
        self._output_bytes: dict[int, int] = {}
        self._ran: list[tuple[int, str]] = []
        #: Why this notebook could not be graded, in plain words (None: it could).
        self.failure: str | None = None

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        if isinstance(km, SandboxKernelManager):
            root = self._course_root()
            if root:
                km.course_root = root
            source = self.config.get("CourseDirectory", {}).get("source_directory")
            if source and os.path.isabs(str(source)):
                km.course_source = str(source)
        return km

    def _course_root(self) -> str | None:
        root = self.config.get("CourseDirectory", {}).get("root")
        if root:
            return str(root)
        db_url = (self.resources or {}).get("nbgrader", {}).get("db_url", "")
        if db_url.startswith("sqlite:///"):
            return os.path.dirname(db_url[len("sqlite:///"):].split("?")[0])
        return None

    def preprocess(self, nb, resources=None, km=None):
        self.failure = None
        self._ran = []
        self._output_bytes = {}
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        self._cell_index = index
        if cell.cell_type == "code":
            self._ran.append((index, cell.source))
        try:
            return super().preprocess_cell(cell, resources, index)
        except (DeadKernelError, CellTimeoutError, TimeoutError, RuntimeError, ValueError, TypeError, KeyError) as exc:
            # Timeouts, a dead kernel, and messages the grader cannot read (a forged or garbled
            # signature: ValueError; a malformed message: TypeError/KeyError).
            self.failure = self._explain(exc)
            raise

    def _explain(self, exc: Exception) -> str:
        status = self.km.exit_status() if isinstance(self.km, SandboxKernelManager) else None
        detail = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
        if status is not None and status >= 128:
            return explain.reason("signal", self._ran, exit_status=status,
                                  cpu_seconds=Sandbox(config=self.config).cpu_seconds)
        if status is not None:
            return explain.reason("exit", self._ran, exit_status=status)
        if isinstance(exc, (CellTimeoutError, TimeoutError)):
            return explain.reason("timeout", self._ran, timeout=self.timeout)
        if isinstance(exc, DeadKernelError):
            return f"the kernel stopped responding in {explain.where(*self._ran[-1])}: {detail}"
        return explain.reason("lost", self._ran, detail=detail)

    def output(self, outs, msg, display_id, cell_index):
        msg_type = msg.get("msg_type")
        content = msg.get("content", {})
        size = len(json.dumps(content, default=str)) if msg_type in (
            "stream", "display_data", "execute_result", "error", "update_display_data") else 0
        # Errors decide nbgrader's score and grading records decide the verdict: never dropped
        # (their own size is bounded: tracebacks by LimitOutput, records here).
        if msg_type == "error" or (RECORD_MIME in content.get("data", {}) and size < 5 * self.max_output_bytes):
            return super().output(outs, msg, display_id, cell_index)
        used = self._output_bytes.get(cell_index, 0)
        if used > self.max_output_bytes:
            return None
        self._output_bytes[cell_index] = used + size
        if used + size > self.max_output_bytes:
            outs.append(nbformat.from_dict({"output_type": "stream", "name": "stderr", "text":
                        f"\n[grader: output of this cell cut at {self.max_output_bytes:,} bytes]\n"}))
            return None
        return super().output(outs, msg, display_id, cell_index)

    def set_widgets_metadata(self):
        """Do not store widget state (see the module docstring)."""
