"""Reset the nbgrader metadata of a submission to the instructor's before nbgrader checks it.

Stock ``OverwriteCells`` restores a known cell's source, points and lock, but trusts the cell's
flags: a solution cell that claims ``grade: true`` makes autograde crash (no such grade cell), and
a made-up grade cell keeps ``grade: true`` without an id. This preprocessor runs just before
``OverwriteCells``: cells whose ``grade_id`` the gradebook knows get exactly the flags of the
instructor's cell (grade, solution, task, locked, points); cells with an unknown id, or none, lose
their nbgrader metadata and run as ordinary code. Cell contents are left to ``OverwriteCells``.
"""
from __future__ import annotations

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor


class SanitizeMetadata(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        try:
            with Gradebook(info["db_url"], info.get("course_id", "")) as gb:
                notebook = gb.find_notebook(info["notebook"], info["assignment"])
                grades = {c.name: float(c.max_score) for c in notebook.grade_cells}
                solutions = {c.name for c in notebook.solution_cells}
                tasks = {c.name: float(c.max_score) for c in notebook.task_cells}
                sources = {c.name: (c.cell_type, c.locked) for c in notebook.source_cells}
        except (KeyError, MissingEntry):
            return nb, resources
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader")
            if meta is None:
                continue
            gid = meta.get("grade_id") if isinstance(meta, dict) else None
            if gid not in sources:
                if gid is not None or meta:
                    self.log.warning("Removing nbgrader metadata of a cell unknown to the gradebook (%r)", gid)
                del cell.metadata["nbgrader"]
                continue
            clean = {"grade_id": gid, "grade": gid in grades, "solution": gid in solutions,
                     "task": gid in tasks, "locked": sources[gid][1], "schema_version": 3}
            if gid in grades or gid in tasks:
                clean["points"] = grades.get(gid, tasks.get(gid))
            if "checksum" in meta:
                clean["checksum"] = meta["checksum"]
            if clean != {k: meta.get(k) for k in clean}:
                self.log.warning("Restoring the nbgrader metadata of cell %s", gid)
            cell.metadata["nbgrader"] = clean
        return nb, resources
