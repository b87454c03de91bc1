"""The learner's start page, ``course/START.md``, written by ``python -m autograder release``.

JupyterLab opens it first (``make lab``: ``--LabApp.default_url=/lab/tree/START.md``, shown as a
rendered Markdown preview by ``share/jupyter/lab-learner/overrides.json``). It holds the course map
(one row per assignment of ``coursekit.registry``: what it teaches, the handbook section, about how
long), how checks, hints and Validate work, and a link to ``PROGRESS.md``, which the visible checks
rewrite (``coursekit.progress``), so the page runs nothing.

``tests/test_start_page.py`` keeps the committed page equal to what this module writes and requires a
row for every assignment in the registry.
"""
from __future__ import annotations

from pathlib import Path

from autograder import STUDENT_COURSE
from coursekit.registry import ASSIGNMENTS

MINUTES_READING, MINUTES_PER_EXERCISE = 30, 20

#: key -> (what it teaches, in a learner's words; the handbook sections it covers)
COURSE_MAP: dict[str, tuple[str, str]] = {
    "variational": ("The ELBO on a model whose exact answer is known: KL between Gaussians, the "
                    "reparameterisation trick, and the gap between the ELBO and log p(x).", "0.1"),
    "ddpm": ("Noise schedules, forward noising, the noise-prediction loss, the reverse step, and the "
             "DDPM and DDIM samplers, trained on 2-D data.", "0.2"),
    "bridge": ("The theory between DDPM and flows: scores, denoising score matching, Langevin sampling, "
               "converting between noise, data, velocity and score predictions, the probability-flow ODE, "
               "and the DDPM bound as KL terms.", "0.2 and 3.4 (bridge)"),
    "diffusion_policy": ("Diffusion as a robot policy: training windows, FiLM conditioning, a temporal "
                         "convolution block, and receding-horizon execution on a point robot.", "1.1, 1.2"),
    "diffusion_transformer": ("The DiT: timestep embeddings, adaLN-Zero blocks, a transformer over action "
                              "tokens, and classifier-free guidance.", "2.1"),
    "robotic_dits": ("What robot transformers add: RMSNorm, QK-normalised attention, alternating condition "
                     "injection, MLP decoders, and a unified action space shared by two robots.", "2.2, 2.3"),
    "flows": ("Continuous normalizing flows: Euler and RK4 integration, the divergence by autograd, and "
              "log-densities by the instantaneous change of variables.", "3.1"),
    "flow_matching": ("Flow matching: Gaussian conditional paths, their vector fields, the OT path, the CFM "
                      "loss, and why FM and CFM have the same gradient.", "3.2, 3.3"),
    "ot_paths": ("Diffusion as a flow: the VP and VE paths in flow-matching time, turning a noise prediction "
                 "into a velocity, and how straight the sampled paths are.", "3.4"),
    "pi0": ("The pi0 action expert: its Beta time distribution, noisy actions and velocities in both time "
            "conventions, the blockwise attention mask, Euler sampling and prefix caching.", "3.5"),
    "capstone": ("Watching a policy form trajectories: tokens, a sampler that keeps every intermediate state, "
                 "a formation metric, and goal-conditioned guidance, in 3-D.", "Diffusion Visualization"),
}


def hours(exercises: int) -> str:
    h = round((MINUTES_READING + MINUTES_PER_EXERCISE * exercises) / 30) / 2
    return f"about {h:g} h"


def render(course: Path = STUDENT_COURSE) -> str:
    from coursekit.hints import graded_names
    rows = []
    for row in ASSIGNMENTS.values():
        teaches, section = COURSE_MAP.get(row.key, (row.title, "-"))  # a test requires a row
        notebooks = sorted((course / row.folder).glob("*.ipynb"))
        link = f"{row.folder}/{notebooks[0].name}" if notebooks else row.folder
        n = len(graded_names(row.key))
        rows.append(f"| {row.folder.split('_')[0]} | [{row.title}]({link}) | {teaches} | {section} | {n} | {hours(n)} |")
    explorers = sorted((course / "explorers").glob("*.ipynb"))
    explorer_line = (", ".join(f"[{p.stem.replace('_', ' ')}](explorers/{p.name})" for p in explorers)
                     if explorers else "none yet")
    return "\n".join([
        "# Action diffusion: start here",
        "",
        "From denoising diffusion to robot policies and flow matching, one notebook per topic. Work through "
        "the assignments in order: each builds on the ones before it. Your progress so far: "
        "**[PROGRESS.md](PROGRESS.md)**.",
        "",
        "## Course map",
        "",
        "| # | Assignment | What you learn | Handbook section | Exercises | Time |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Times are estimates: {MINUTES_READING} minutes of reading plus {MINUTES_PER_EXERCISE} minutes per "
        "exercise. Handbook sections refer to the *Action Diffusion Handbook*.",
        "",
        f"Explorers (sliders, no exercises): {explorer_line}.",
        "",
        "## How an assignment works",
        "",
        "- **Exercises.** A cell that ends in `raise NotImplementedError()` is yours: replace that line with "
        "your code. Run the notebook from the top, in order.",
        "- **Checks.** The cell right after each exercise checks your function on a few fixed inputs and "
        "says what is wrong: which output differs and how, and, when it recognises it, the mistake "
        "(a missing square root, a flipped sign, a step off by one). A check that needs another of your "
        "functions waits until that one passes.",
        "- **Hints.** Stuck? Run `hint(\"q_sample\")` (with the exercise's function name) in any cell. The "
        "first call gives a nudge, the next the key idea, the last the formula in the function's own "
        "variable names. Hints are never graded and cost nothing.",
        "- **Validate.** The *Validate* button in the notebook's toolbar runs the whole notebook as the "
        "grader will and reports any failing check. Use it before you submit.",
        "- **Submitting.** Use the *Assignments* list (menu *Nbgrader*, or the command palette) if your "
        "course uses nbgrader's exchange; otherwise hand in the notebook as your instructor asks.",
        "- **Grading.** The grader runs your functions on hidden inputs as well, so passing the visible "
        "checks is necessary, not sufficient. A mistake in one function never costs the points of the "
        "functions that call it: each is graded with correct versions of the others.",
        "",
        "## Your progress",
        "",
        "[PROGRESS.md](PROGRESS.md) lists, per assignment, which exercises pass their visible checks and "
        "when each check last ran. Every check cell updates it when it runs; reopen the page to see the "
        "latest. (`make lab` also writes it before JupyterLab starts.)",
        "",
    ])


def write(course: Path = STUDENT_COURSE) -> Path:
    path = course / "START.md"
    path.write_text(render(course))
    return path
