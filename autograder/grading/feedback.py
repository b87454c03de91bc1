"""Preprocessors for ``nbgrader generate_feedback``: teach, leak nothing, show the plots offline.

- :class:`StripHiddenTests` removes every ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS``
  region from the cells' source (nbgrader #917 copies them into the feedback otherwise), drops the
  grading records, and scrubs hidden-test lines that a traceback or a print would quote.
  The visible check's message and the grader's verdict (which names the mistake) stay.
- :class:`StaticPlots` turns plotly figures (their JSON mime bundle, and the static snapshot the
  sandbox takes of widget panels, see :mod:`.kernel_hooks`) into HTML with plotly.js embedded
  once per page: no CDN, no kernel, no widget manager needed (nbgrader #1653). Live widget views,
  which a static page cannot render, become a short note.
"""
from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Unicode

from autograder.grading.kernel_hooks import SNAPSHOT_MIME
from autograder.grading import RECORD_MIME

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
FRAME_LINE = re.compile(r"^\s*(?:-*>)?\s*\d+\s(.*)$")
REMOVED = "[hidden test line removed]"


def split_hidden(source: str) -> tuple[str, list[str]]:
    """(source without hidden regions, the hidden lines). An unterminated region runs to the end."""
    kept, hidden, inside = [], [], False
    for line in source.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            inside = True
            hidden.append(line)
        elif stripped.startswith(END) and inside:
            inside = False
            hidden.append(line)
        elif inside:
            hidden.append(line)
        else:
            kept.append(line)
    return "".join(kept).rstrip("\n"), [ln.strip() for ln in hidden if len(ln.strip()) >= 6]


class StripHiddenTests(Preprocessor):
    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        hidden: set[str] = set()
        for cell in nb.cells:
            if BEGIN in cell.source:
                cell.source, lines = split_hidden(cell.source)
                hidden.update(lines)
        hidden |= {"record_outputs", "_reference_"}
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            outputs = []
            for out in cell.get("outputs", []):
                if RECORD_MIME in out.get("data", {}):
                    continue
                if out.get("output_type") == "error":
                    out["traceback"] = [self._scrub(frame, hidden) for frame in out.get("traceback", [])]
                    out["evalue"] = self._scrub(out.get("evalue", ""), hidden)
                elif out.get("output_type") == "stream":
                    out["text"] = self._scrub(out.get("text", ""), hidden)
                outputs.append(out)
            cell.outputs = outputs
        return nb, resources

    @staticmethod
    def _scrub(text: str, hidden: set[str]) -> str:
        if not text:
            return text
        lines = []
        for line in text.split("\n"):
            plain = ANSI.sub("", line)
            m = FRAME_LINE.match(plain)
            code = (m.group(1) if m else plain).strip()
            if code and (code in hidden or any(h in code for h in ("record_outputs", "_reference_", BEGIN, END))):
                if not lines or lines[-1] != REMOVED:
                    lines.append(REMOVED)
                continue
            lines.append(line)
        return "\n".join(lines)


class StaticPlots(Preprocessor):
    enabled = Bool(True).tag(config=True)
    plotlyjs = Unicode("", help="'' embeds plotly.js once per page; a file name ('plotly.min.js') links "
                       "that file instead (autograder.feedback_page writes it beside the page)").tag(config=True)

    def preprocess(self, nb, resources):
        self._js_done = False
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for out in cell.get("outputs", []):
                data = out.get("data")
                if not data:
                    continue
                html = None
                if PLOTLY_MIME in data:
                    html = self._figure(data[PLOTLY_MIME])
                elif SNAPSHOT_MIME in data:
                    snap = data[SNAPSHOT_MIME] if isinstance(data[SNAPSHOT_MIME], dict) else {}
                    parts = [self._figure(f) for f in snap.get("figures", [])[:8]]
                    controls = [f"{c.get('description')} = {c.get('value')}" for c in snap.get("controls", [])[:20]
                                if isinstance(c, dict)]
                    note = ("<p><em>Interactive widget, shown as first drawn"
                            + (f" ({_escape(', '.join(controls))})" if controls else "") + ".</em></p>")
                    html = note + "".join(p for p in parts if p)
                if html is not None:
                    for key in (PLOTLY_MIME, SNAPSHOT_MIME, WIDGET_MIME):
                        data.pop(key, None)
                    data["text/html"] = html
                elif WIDGET_MIME in data:
                    data.pop(WIDGET_MIME)
                    data.setdefault("text/plain", "(interactive widget: open the notebook to use it)")
        return nb, resources

    def _figure(self, spec) -> str:
        if not isinstance(spec, dict):
            return ""
        import plotly.io as pio
        try:
            html = pio.to_html(spec, include_plotlyjs=(self.plotlyjs or True) if not self._js_done else False, full_html=False, validate=False,
                               config={"displaylogo": False})
        except Exception as exc:
            return f"<p><em>(a figure that could not be drawn: {_escape(type(exc).__name__)})</em></p>"
        self._js_done = True
        return html


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
