"""The feedback page a learner reads: offline math, readable failures, small files.

``nbgrader generate_feedback`` renders each graded notebook with the template
``templates/feedback`` (a copy of nbgrader's ``feedback`` template, found before it, head replaced) and these
preprocessors, after :mod:`autograder.grading.feedback` (hidden tests stripped, plots made static):

- :class:`LearnerTracebacks`: a failure shows the learner's message and only the frames of the
  learner's own cells. Frames in installed code (``coursekit/checks``, torch, ...) are dropped, so
  no instructor's absolute path reaches the page; a visible check's error that repeats the grader's
  verdict word for word is dropped too (the verdict stays).
- :class:`PassMarks`: the check's pass and skip marks (emoji that Debian's Chromium has no font for)
  become marks drawn with CSS, so they render without any font.
- :class:`OfflineAssets`: math is typeset in the page by MathJax 3 (SVG output: no web fonts) and
  plots by plotly.js, both loaded from files written beside the feedback page (nbgrader writes
  ``resources["outputs"]`` into the feedback folder), only when the page needs them. Nothing is
  fetched from the network; each page links the asset instead of embedding 4.8 MB of plotly.js.
  With ``OfflineAssets.standalone`` (``grade --standalone-feedback``) the assets are embedded in the
  page instead: nbgrader's exchange (``release_feedback``/``fetch_feedback``, the JupyterHub route)
  hands learners the ``.html`` file alone, so linked assets would not reach them.

Threat model: the page is shown to the learner whose notebook it renders, so it may show their own
code and messages; it must not show hidden tests (stripped before this runs) or paths and code of
the grader's machine (tracebacks through installed code are cut here).
"""
from __future__ import annotations

import html
import os
import re
import shutil
from importlib.metadata import distribution
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

TEMPLATES = Path(__file__).parent / "templates"
# nbgrader's template folder (nbgrader adds it only when extra_template_basedirs is unset)
NBGRADER_TEMPLATES = str(Path(__import__("nbgrader").__file__).parent / "server_extensions" / "formgrader" / "templates")
TEMPLATE_NAME = "feedback"  # nbgrader's name: its API (formgrader, the grading command) forces it; ours is found first
MATHJAX = "mathjax-tex-svg.js"   # MathJax 3.2 tex-svg, from the PyPI package sphinx-mathjax-offline
PLOTLY = "plotly.min.js"         # from the plotly package
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
MATH = re.compile(r"\$[^$\n]+\$|\\\(|\\\[|\\begin\{")
PLOTLY_TAG = re.compile(r'<script[^>]*\bsrc="' + re.escape(PLOTLY) + r'"[^>]*>\s*</script>')
PASS_MARKS = ("\u2705", "\u2714\ufe0f", "\u2714", "\u2713")
SKIP_MARKS = ("\u23ed\ufe0f", "\u23ed")


def asset(name: str) -> bytes:
    if name == MATHJAX:
        path = distribution("sphinx-mathjax-offline").locate_file("sphinx-mathjax-offline/static/mathjax/tex-svg.js")
    elif name == PLOTLY:
        import plotly
        path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    else:
        raise KeyError(name)
    return Path(path).read_bytes()


def learner_frames(traceback: list[str]) -> list[str]:
    """The traceback without frames in installed code: the header, the learner's cells, the message."""
    kept = []
    for i, entry in enumerate(traceback):
        plain = ANSI.sub("", entry).lstrip()
        last = i == len(traceback) - 1
        if last or plain.startswith(("Cell ", "Input In", "---")) or "Traceback (most recent call last)" in plain:
            kept.append(entry)
    return kept


class LearnerTracebacks(Preprocessor):
    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            seen, outputs = set(), []
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    message = (out.get("evalue") or "").strip()
                    if message and message in seen:
                        continue  # the visible check repeating the grader's verdict
                    seen.add(message)
                    out["traceback"] = learner_frames(out.get("traceback", []))
                outputs.append(out)
            cell.outputs = outputs
        return nb, resources


def _mark(kind: str) -> str:
    return f'<span class="course-mark course-mark--{kind}" role="img" aria-label="{kind}"></span>'


class PassMarks(Preprocessor):
    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        for cell in nb.cells:
            for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
                text = out.get("text", "") if out.get("output_type") == "stream" else ""
                if not any(m in text for m in PASS_MARKS + SKIP_MARKS):
                    continue
                body = html.escape(text)
                for m in PASS_MARKS:
                    body = body.replace(m, _mark("passed"))
                for m in SKIP_MARKS:
                    body = body.replace(m, _mark("skipped"))
                out.clear()
                out.update({"output_type": "display_data", "metadata": {},
                            "data": {"text/html": f'<pre class="course-stream">{body}</pre>', "text/plain": text}})
        return nb, resources


class OfflineAssets(Preprocessor):
    """Writes the assets the page needs beside it. Under nbgrader each asset is stored once per course
    root (``<root>/feedback-assets/``) and hard-linked into every feedback folder, so a class's
    feedback holds one copy on disk while each folder stays complete on its own (a learner can be sent
    the folder as it is). Elsewhere, or where links fail, the file is written as an ordinary copy."""
    enabled = Bool(True).tag(config=True)
    standalone = Bool(False, help="embed MathJax and plotly.js in the page (2-7 MB a page) instead of writing "
                      "them beside it: for nbgrader's exchange, which hands learners the .html alone").tag(config=True)

    def _feedback_folder(self, resources) -> Path | None:
        converter = getattr(self.parent, "parent", None)  # exporter -> nbgrader's GenerateFeedback
        info = resources.get("nbgrader") or {}
        if not hasattr(converter, "_format_dest") or not hasattr(converter, "coursedir") or "student" not in info:
            return None
        return Path(converter._format_dest(info["assignment"], info["student"]))

    def _link(self, name: str, resources) -> bool:
        folder = self._feedback_folder(resources)
        if folder is None:
            return False
        store = Path(self.parent.parent.coursedir.root) / "feedback-assets"
        store.mkdir(parents=True, exist_ok=True)
        shared = store / name
        data = asset(name)
        if not shared.is_file() or shared.stat().st_size != len(data) or shared.read_bytes() != data:
            tmp = store / f".{name}.{os.getpid()}"
            tmp.write_bytes(data)
            os.replace(tmp, shared)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        target.unlink(missing_ok=True)
        try:
            os.link(shared, target)
        except OSError:
            shutil.copyfile(shared, target)
        return True

    def preprocess(self, nb, resources):
        markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        outputs_html = "\n".join(str(o.get("data", {}).get("text/html", "")) for c in nb.cells
                                 for o in c.get("outputs", []) if c.cell_type == "code")
        page = resources.setdefault("course_feedback", {})
        files = resources.setdefault("outputs", {})
        needed = []
        if MATH.search(markdown):
            page["mathjax"] = MATHJAX
            needed.append(MATHJAX)
        if f'src="{PLOTLY}"' in outputs_html:
            needed.append(PLOTLY)
        if self.standalone:
            return self._embed(nb, page, needed), resources
        for name in needed:
            if not self._link(name, resources):
                files[name] = asset(name)
        return nb, resources

    def _embed(self, nb, page: dict, needed: list[str]):
        """The page carries its assets: MathJax in the head (the template), plotly.js in place of the
        first plot's link (the plots' own code runs after it, in page order)."""
        if MATHJAX in needed:
            del page["mathjax"]
            page["mathjax_inline"] = asset(MATHJAX).decode("utf-8")
        if PLOTLY in needed:
            inline = "<script>" + asset(PLOTLY).decode("utf-8") + "</script>"
            for cell in nb.cells:
                for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
                    data = out.get("data", {})
                    if "text/html" in data and PLOTLY_TAG.search(str(data["text/html"])):
                        data["text/html"] = PLOTLY_TAG.sub(lambda m: inline, str(data["text/html"]), count=1)
                        inline = ""  # once per page; later plots find window.Plotly
        return nb
