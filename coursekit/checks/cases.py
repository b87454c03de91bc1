"""Check cases: the seeded inputs of a graded function, and running a function on them.

Every graded function has cases: seeded inputs built by a function of the same name in the
assignment's cases module (``coursekit.registry`` names it). Seeds ``VISIBLE_SEEDS`` are the
visible checks, whose expected outputs ship with the course (the assignment's fixture, written by
``python -m autograder build``); ``HIDDEN_SEEDS`` are graded only, by the reference run in the
grader's process. Learners can build any case's inputs; what stays hidden is the expected output.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import torch

from coursekit import registry

VISIBLE_SEEDS = (0, 1)
HIDDEN_SEEDS = (2, 3, 4)
GRADING_SEEDS = VISIBLE_SEEDS + HIDDEN_SEEDS


@dataclass(frozen=True)
class Seeded:
    """Placeholder for a fresh ``torch.Generator`` seeded with ``seed`` (made anew for every call)."""
    seed: int


class Harnessed(dict):
    """Case inputs for a graded object that is not called directly, such as an ``nn.Module`` class.

    ``run(obj, Harnessed(harness, **inputs))`` compares ``harness(obj, **inputs)`` instead of
    ``obj(**inputs)``: the harness builds a module from the learner's class (seeded), runs it and
    returns tensors or strings (see ``coursekit.checks.harness``). A plain dict of inputs keeps
    meaning ``obj(**inputs)``.
    """

    def __init__(self, harness, /, **inputs):
        super().__init__(inputs)
        self.harness = harness

    def replace(self, **changes) -> "Harnessed":
        return Harnessed(self.harness, **{**self, **changes})


def replaced(inputs: dict, **changes) -> dict:
    """A copy of case ``inputs`` with some entries changed (keeps a harness)."""
    return inputs.replace(**changes) if isinstance(inputs, Harnessed) else {**inputs, **changes}


def materialise(kwargs: dict) -> dict:
    """Fresh copies of the case inputs, so one call cannot change what the next one sees."""
    def fresh(v):
        if isinstance(v, Seeded):
            return torch.Generator().manual_seed(v.seed)
        if isinstance(v, torch.Tensor):
            return v.clone()
        return v
    return {k: fresh(v) for k, v in kwargs.items()}


def case_inputs(assignment: str, name: str, seed: int) -> dict:
    """The inputs of case ``seed`` for graded ``name``, from the assignment's cases module."""
    return registry.get(assignment).case_inputs(name, seed)


def call(fn, inputs: dict):
    """``fn`` on fresh copies of ``inputs`` (through the harness for Harnessed inputs), no grad."""
    harness = getattr(inputs, "harness", None)
    with torch.no_grad():
        kwargs = materialise(inputs)
        return harness(fn, **kwargs) if harness is not None else fn(**kwargs)


def run(fn, inputs: dict):
    """``('ok', output)`` or ``('raises', exception)``; NotImplementedError propagates (not written yet)."""
    try:
        return "ok", call(fn, inputs)
    except NotImplementedError:
        raise
    except Exception as exc:  # the learner's error is data here
        return "raises", exc


def load_fixture(assignment: str) -> dict:
    """The assignment's check data: per graded name, the visible seeds' expected outputs, the
    reference's outputs on perturbed inputs (for the diagnosis) and the named mistakes' outputs."""
    path = registry.get(assignment).fixture
    if not path.exists():
        raise FileNotFoundError(f"no check data for assignment {assignment!r} at {path}; "
                                "is the course package installed and the assignment name right?")
    return _load_cached(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _load_cached(path: Path, mtime_ns: int) -> dict:
    return torch.load(path, weights_only=True)
