"""nbgrader configuration: this folder is the course root.

Grading runs through the hardened pipeline of ``autograder.grading`` (see docs/GRADING.md), also
when nbgrader is called directly (``nbgrader autograde``): the kernel runs in the bubblewrap
sandbox, the hidden tests' verdict is decided outside the kernel, and feedback leaks no hidden
test and shows plots offline. ``python -m autograder grade`` adds parallel workers, FAILED/MISSING
statuses and resumable runs on top.
"""
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearOutput, DeduplicateIds, GetGrades,
                                    IgnorePattern, LimitOutput, OverwriteCells, OverwriteKernelspec, SaveAutoGrades)

from autograder.grading.execute import SandboxExecute
from autograder.grading.feedback import StaticPlots, StripHiddenTests
from autograder.grading.sanitize import SanitizeMetadata
from autograder.grading.verdict import HiddenVerdict

c = get_config()  # noqa: F821

c.CourseDirectory.course_id = "action-diffusion"
c.CourseDirectory.root = __file__.rsplit("/", 1)[0]
c.Exchange.assignment_dir = "."
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.Execute.timeout = 60
c.SandboxExecute.timeout = 60

# A deleted test cell is put back (after the cell it followed) instead of leaving the submission
# at "needs manual grading".
c.OverwriteCells.add_missing_cells = True
# Tampered nbgrader metadata (flags, points, made-up grade cells) is reset to the instructor's.
c.Autograde.sanitize_preprocessors = [
    ClearOutput, DeduplicateIds, OverwriteKernelspec, SanitizeMetadata, OverwriteCells, CheckCellMetadata]
c.Autograde.autograde_preprocessors = [
    SandboxExecute, HiddenVerdict, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
    SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
c.GenerateFeedback.preprocessors = [GetGrades, StripHiddenTests, StaticPlots, CSSHTMLHeaderPreprocessor]

# "auto": sandboxed whenever bubblewrap works (python -m autograder grade requires it).
c.Sandbox.mode = "auto"
c.Sandbox.cpu_seconds = 600
c.Sandbox.memory_mb = 4096
c.Sandbox.processes = 128
