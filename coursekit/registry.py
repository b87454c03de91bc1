"""The table of assignments: every part of the pipeline finds an assignment here, and only here.

One row per assignment. The build reads it to find the reference of each graded function and
the named mistakes; the checks read it to find the case inputs and the check data; the release,
the grader and the tests read it to know which assignments exist. Nothing else links an
assignment to its modules: not a template, not a file name.

Every file of an assignment carries its short name (``key``), so ``find . -path '*ddpm*'`` lists
all of it: ``solutions/ddpm.py``, ``solutions/ddpm_mistakes.py``, ``coursekit/assignments/ddpm/``,
``widgets/ddpm*.py``, ``tests/test_ddpm_*.py`` and the notebooks in folders named ``02_ddpm``.

Learners can import this module. It holds names, never code: the ``solutions`` modules it
names are instructor-only and absent from the student release.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Assignment:
    key: str                  # short name, carried by every file of the assignment
    folder: str               # nbgrader's assignment name: templates/, source/, course/ folders
    title: str
    solutions: str            # module holding the reference of every graded function (instructor-only)
    mistakes: str             # module registering the named mistakes (instructor-only)
    cases: str                # module whose functions build the seeded check inputs, one per graded name
    widgets: tuple[str, ...]  # widget modules the notebook imports
    fixture: Path             # check data written by the build: expected outputs and mistakes' outputs

    def reference(self, name: str):
        """The reference of graded function ``name`` (imports ``solutions``: instructor side only)."""
        return getattr(importlib.import_module(self.solutions), name)

    def named_mistakes(self) -> list:
        """The registered mistakes (``solutions.mistakes.Mistake``) of this assignment."""
        return list(importlib.import_module(self.mistakes).mistake.all)

    def case_inputs(self, name: str, seed: int) -> dict:
        """The inputs of check case ``seed`` for graded function ``name``."""
        module = importlib.import_module(self.cases)
        if not hasattr(module, name):
            raise KeyError(f"{self.cases} has no cases for {name!r}: is it a graded function of {self.folder}?")
        return getattr(module, name)(seed)


def row(key: str, folder: str, title: str, widgets: tuple[str, ...] = ()) -> Assignment:
    """An assignment named by the convention: each of its modules carries its short name ``key``
    (``solutions.<key>``, ``solutions.<key>_mistakes``, ``coursekit.assignments.<key>.cases``,
    ``widgets.<key>`` unless ``widgets`` names others); its check data is ``fixtures/<folder>.pt``."""
    return Assignment(key, folder, title, solutions=f"solutions.{key}", mistakes=f"solutions.{key}_mistakes",
                      cases=f"coursekit.assignments.{key}.cases", widgets=widgets or (f"widgets.{key}",),
                      fixture=FIXTURES / f"{folder}.pt")


ASSIGNMENTS: dict[str, Assignment] = {a.key: a for a in (
    row("variational", "01_variational_inference", "Variational inference and the ELBO"),
    row("ddpm", "02_ddpm", "Denoising diffusion: DDPM and DDIM",
        ("widgets.ddpm_schedule", "widgets.ddpm_forward", "widgets.ddpm_reverse")),
    row("bridge", "02b_theory_bridge", "The theory bridge: scores, parameterisations, the probability-flow ODE"),
    row("diffusion_policy", "03_diffusion_policy", "Diffusion Policy: generating robot actions"),
    row("diffusion_transformer", "04_diffusion_transformer", "The Diffusion Transformer (DiT)"),
    row("robotic_dits", "05_robotic_dits", "Robotic Diffusion Transformers"),
    row("flows", "06_normalizing_flows", "Continuous normalizing flows"),
    row("flow_matching", "07_flow_matching", "Flow matching and conditional flow matching"),
    row("ot_paths", "08_diffusion_and_ot_paths", "Diffusion paths and optimal-transport paths"),
    row("pi0", "09_pi0", "pi0: a flow-matching action expert"),
    row("capstone", "10_capstone", "Capstone: watching a policy form trajectories"),
)}

FOLDERS: dict[str, Assignment] = {a.folder: a for a in ASSIGNMENTS.values()}


def get(name: str) -> Assignment:
    """The row of an assignment, by short name (``"ddpm"``) or by folder (``"02_ddpm"``)."""
    found = ASSIGNMENTS.get(name) or FOLDERS.get(name)
    if found is None:
        raise KeyError(f"unknown assignment {name!r}; known: {', '.join(ASSIGNMENTS)} "
                       f"(or their folders {', '.join(FOLDERS)})")
    return found
