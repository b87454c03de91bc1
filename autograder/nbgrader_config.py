"""nbgrader configuration of the course (see autograder/course.py for where things live).

The course root, where nbgrader and the grader write (gradebook, submissions, feedback, exports),
is ``var/course/`` at the repository's top, outside this package; the instructor notebooks stay in
``autograder/source/``. ``python -m autograder`` writes a ``nbgrader_config.py`` into the course
root that loads this file, so plain ``nbgrader`` commands work from either folder.

Grading runs through the hardened pipeline of ``autograder.grading`` (see docs/GRADING.md), also
when nbgrader is called directly (``nbgrader autograde``): the kernel runs in the bubblewrap
sandbox, the hidden tests' verdict is decided outside the kernel, and feedback leaks no hidden
test and shows plots offline. ``python -m autograder grade`` adds parallel workers, FAILED/MISSING
statuses and resumable runs on top.
"""
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearOutput, DeduplicateIds, GetGrades,
                                    IgnorePattern, LimitOutput, OverwriteCells, OverwriteKernelspec, SaveAutoGrades)

from autograder import RUNTIME_ROOT, SOURCE
from autograder.grading.execute import SandboxExecute
from autograder.grading.feedback import StaticPlots, StripHiddenTests
from autograder import feedback_page
from autograder.grading.sanitize import SanitizeMetadata
from autograder.grading.verdict import HiddenVerdict

c = get_config()  # noqa: F821

c.CourseDirectory.course_id = "action-diffusion"
c.CourseDirectory.root = str(RUNTIME_ROOT)
c.CourseDirectory.source_directory = str(SOURCE)
c.Exchange.assignment_dir = "."
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# A deleted test cell is put back (after the cell it followed) instead of leaving the submission
# at "needs manual grading".
c.OverwriteCells.add_missing_cells = True
# Tampered nbgrader metadata (flags, points, made-up grade cells) is reset to the instructor's.
c.Autograde.sanitize_preprocessors = [
    ClearOutput, DeduplicateIds, OverwriteKernelspec, SanitizeMetadata, OverwriteCells, CheckCellMetadata]
c.Autograde.autograde_preprocessors = [
    SandboxExecute, HiddenVerdict, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
    SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
c.GenerateFeedback.preprocessors = [GetGrades, StripHiddenTests, StaticPlots, CSSHTMLHeaderPreprocessor,
                                    feedback_page.LearnerTracebacks, feedback_page.PassMarks, feedback_page.OfflineAssets]
# The learner's feedback page (autograder/feedback_page): offline MathJax and plotly.js as files beside
# the page, wrapped messages, tracebacks cut to the learner's own cells.
c.StaticPlots.plotlyjs = feedback_page.PLOTLY
c.HTMLExporter.template_name = feedback_page.TEMPLATE_NAME
c.HTMLExporter.extra_template_basedirs = [str(feedback_page.TEMPLATES), feedback_page.NBGRADER_TEMPLATES]

# "auto": sandboxed whenever bubblewrap works (python -m autograder grade requires it). The limits
# per kernel (time per cell, CPU, memory, processes) are the defaults of SandboxExecute and Sandbox;
# set c.SandboxExecute.timeout, c.Sandbox.cpu_seconds, ... here to change them for the course.
c.Sandbox.mode = "auto"
