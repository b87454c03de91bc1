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


ASSIGNMENTS: dict[str, Assignment] = {a.key: a for a in (
    Assignment(
        key="variational", folder="01_variational_inference", title="Variational inference and the ELBO",
        solutions="solutions.variational", mistakes="solutions.variational_mistakes",
        cases="coursekit.assignments.variational.cases", widgets=("widgets.variational",),
        fixture=FIXTURES / "01_variational_inference.pt"),
    Assignment(
        key="ddpm", folder="02_ddpm", title="Denoising diffusion: DDPM and DDIM",
        solutions="solutions.ddpm", mistakes="solutions.ddpm_mistakes",
        cases="coursekit.assignments.ddpm.cases", widgets=("widgets.ddpm_schedule", "widgets.ddpm_forward", "widgets.ddpm_reverse"),
        fixture=FIXTURES / "02_ddpm.pt"),
    Assignment(
        key="bridge", folder="02b_theory_bridge", title="The theory bridge: scores, parameterisations, the probability-flow ODE",
        solutions="solutions.bridge", mistakes="solutions.bridge_mistakes",
        cases="coursekit.assignments.bridge.cases", widgets=("widgets.bridge",),
        fixture=FIXTURES / "02b_theory_bridge.pt"),
    Assignment(
        key="diffusion_policy", folder="03_diffusion_policy", title="Diffusion Policy: generating robot actions",
        solutions="solutions.diffusion_policy", mistakes="solutions.diffusion_policy_mistakes",
        cases="coursekit.assignments.diffusion_policy.cases", widgets=("widgets.diffusion_policy",),
        fixture=FIXTURES / "03_diffusion_policy.pt"),
    Assignment(
        key="diffusion_transformer", folder="04_diffusion_transformer", title="The Diffusion Transformer (DiT)",
        solutions="solutions.diffusion_transformer", mistakes="solutions.diffusion_transformer_mistakes",
        cases="coursekit.assignments.diffusion_transformer.cases", widgets=("widgets.diffusion_transformer",),
        fixture=FIXTURES / "04_diffusion_transformer.pt"),
    Assignment(
        key="robotic_dits", folder="05_robotic_dits", title="Robotic Diffusion Transformers",
        solutions="solutions.robotic_dits", mistakes="solutions.robotic_dits_mistakes",
        cases="coursekit.assignments.robotic_dits.cases", widgets=("widgets.robotic_dits",),
        fixture=FIXTURES / "05_robotic_dits.pt"),
    Assignment(
        key="flows", folder="06_normalizing_flows", title="Continuous normalizing flows",
        solutions="solutions.flows", mistakes="solutions.flows_mistakes",
        cases="coursekit.assignments.flows.cases", widgets=("widgets.flows",),
        fixture=FIXTURES / "06_normalizing_flows.pt"),
    Assignment(
        key="flow_matching", folder="07_flow_matching", title="Flow matching and conditional flow matching",
        solutions="solutions.flow_matching", mistakes="solutions.flow_matching_mistakes",
        cases="coursekit.assignments.flow_matching.cases", widgets=("widgets.flow_matching",),
        fixture=FIXTURES / "07_flow_matching.pt"),
    Assignment(
        key="ot_paths", folder="08_diffusion_and_ot_paths", title="Diffusion paths and optimal-transport paths",
        solutions="solutions.ot_paths", mistakes="solutions.ot_paths_mistakes",
        cases="coursekit.assignments.ot_paths.cases", widgets=("widgets.ot_paths",),
        fixture=FIXTURES / "08_diffusion_and_ot_paths.pt"),
    Assignment(
        key="pi0", folder="09_pi0", title="pi0: a flow-matching action expert",
        solutions="solutions.pi0", mistakes="solutions.pi0_mistakes",
        cases="coursekit.assignments.pi0.cases", widgets=("widgets.pi0",),
        fixture=FIXTURES / "09_pi0.pt"),
    Assignment(
        key="capstone", folder="10_capstone", title="Capstone: watching a policy form trajectories",
        solutions="solutions.capstone", mistakes="solutions.capstone_mistakes",
        cases="coursekit.assignments.capstone.cases", widgets=("widgets.capstone",),
        fixture=FIXTURES / "10_capstone.pt"),
)}

FOLDERS: dict[str, Assignment] = {a.folder: a for a in ASSIGNMENTS.values()}


def get(name: str) -> Assignment:
    """The row of an assignment, by short name (``"ddpm"``) or by folder (``"02_ddpm"``)."""
    row = ASSIGNMENTS.get(name) or FOLDERS.get(name)
    if row is None:
        raise KeyError(f"unknown assignment {name!r}; known: {', '.join(ASSIGNMENTS)} "
                       f"(or their folders {', '.join(FOLDERS)})")
    return row
