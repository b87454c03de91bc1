"""nbgrader's ``Execute`` preprocessor, running the kernel in the sandbox.

Differences from stock ``Execute``:

- the kernel manager is :class:`~autograder.grading.sandbox.SandboxKernelManager` (the course root,
  taken from nbgrader's configuration, is checked to stay invisible to the kernel);
- a cell's outputs are capped (``max_output_bytes``): a submission that prints gigabytes keeps the
  first megabyte and a note, and the grader's memory stays bounded;
- widget state is not saved into the autograded notebook (megabytes of JavaScript per figure
  widget; feedback uses a static snapshot instead, see :mod:`.kernel_hooks`);
- when a submission cannot be graded (the kernel dies, or ignores the interrupt after the time
  limit), :data:`LAST_FAILURE` says why in plain words, for the FAILED line of the grades CSV.
"""
from __future__ import annotations

import json
import os
import signal

import nbformat

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute
from traitlets import Integer

from autograder.grading.sandbox import Sandbox, SandboxKernelManager
from autograder.grading import RECORD_MIME

#: Why the last notebook executed in this process could not be graded (None: it could).
LAST_FAILURE: dict | None = None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class SandboxExecute(Execute):
    max_output_bytes = Integer(1_000_000, help="Outputs kept per cell; the rest is dropped with a note").tag(config=True)
    iopub_timeout = Integer(10, allow_none=False, help=Execute.iopub_timeout.help).tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(*args, **kwargs)
        self._cell_index = None
        self._output_bytes: dict[int, int] = {}

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        if isinstance(km, SandboxKernelManager):
            root = self._course_root()
            if root:
                km.course_root = root
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
        global LAST_FAILURE
        LAST_FAILURE = None
        self._output_bytes = {}
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        self._cell_index = index
        try:
            return super().preprocess_cell(cell, resources, index)
        except (DeadKernelError, CellTimeoutError, RuntimeError) as exc:
            self._record_failure(exc, cell, index)
            raise

    def _record_failure(self, exc, cell, index) -> None:
        global LAST_FAILURE
        first_line = next((ln for ln in cell.source.splitlines() if ln.strip()), "")[:60]
        where = f"cell {index}" + (f" ({first_line!r})" if first_line else "")
        status = self.km.exit_status() if isinstance(self.km, SandboxKernelManager) else None
        settings = Sandbox(config=self.config)
        if isinstance(exc, CellTimeoutError):
            reason = (f"{where} ran past the {self.timeout} s time limit and did not stop when interrupted "
                      "(an endless loop that catches KeyboardInterrupt?)")
        elif status is not None and status >= 128:
            sig = status - 128
            what = {signal.SIGXCPU: f"it used up its CPU time limit ({settings.cpu_seconds} s)",
                    signal.SIGKILL: "it was killed (SIGKILL: a hard resource limit, or out of memory)",
                    signal.SIGSEGV: "it crashed (segmentation fault)"}.get(sig, f"it was killed by {_signal_name(sig)}")
            reason = f"the kernel died in {where}: {what}"
        elif status is not None:
            reason = (f"the kernel exited with status {status} in {where} "
                      "(the submission called exit(), sys.exit() or os._exit()?)")
        else:
            reason = f"the kernel stopped responding in {where}: {type(exc).__name__}: {exc}"
        LAST_FAILURE = {"reason": reason, "cell": index, "exit_status": status, "error": type(exc).__name__}

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
