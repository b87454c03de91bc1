"""Visible checks that name the mistake.

Every graded function has *cases*: seeded inputs built by a function in
the assignment's cases module. The expected outputs on those inputs, and the
outputs of known mistakes, are stored as numbers in the assignment's fixture (both named in
``coursekit.registry``)
(generated from the instructor's reference by ``python -m autograder build``).
A learner's function is run on the same inputs; when its output is wrong, the
check looks for a known mistake that produces exactly that output and names it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import torch

from coursekit import registry

VISIBLE_SEEDS = (0, 1)
ATOL, RTOL = 1e-5, 1e-4


class CheckFailed(AssertionError):
    """A visible or hidden check did not pass; the message says why."""


@dataclass(frozen=True)
class Seeded:
    """Placeholder for a fresh ``torch.Generator`` seeded with ``seed`` (made anew for every call)."""
    seed: int


class Harnessed(dict):
    """Case inputs for a graded object that is not called directly, such as an ``nn.Module`` class.

    ``run(obj, Harnessed(harness, **inputs))`` compares ``harness(obj, **inputs)`` instead of
    ``obj(**inputs)``: the harness builds a module from the learner's class (seeded), runs it and
    returns tensors or numbers. A plain dict of inputs keeps meaning ``obj(**inputs)``.
    """

    def __init__(self, harness, /, **inputs):
        super().__init__(inputs)
        self.harness = harness


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
    """The inputs of case ``seed`` for graded ``name``, from the assignment's cases module (see
    ``coursekit.registry``)."""
    return registry.get(assignment).case_inputs(name, seed)


def run(fn, inputs: dict):
    """Call ``fn`` on fresh copies of ``inputs``; returns ('ok', output) or ('raises', exception)."""
    harness = getattr(inputs, "harness", None)  # see Harnessed
    try:
        with torch.no_grad():
            kwargs = materialise(inputs)
            return "ok", harness(fn, **kwargs) if harness is not None else fn(**kwargs)
    except NotImplementedError:
        raise
    except Exception as exc:  # the learner's error is data here
        return "raises", exc


def describe_mismatch(got, want, where: str = "output") -> str | None:
    """None if ``got`` matches ``want`` (tensors, numbers, strings, tuples, lists); else what differs."""
    if isinstance(want, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(want):
            return f"{where}: expected a {type(want).__name__} of {len(want)} items, got {type(got).__name__}" + (
                f" of {len(got)}" if isinstance(got, (tuple, list)) else "")
        for i, (g, w) in enumerate(zip(got, want)):
            problem = describe_mismatch(g, w, f"{where}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(want, torch.Tensor):
        if type(got) is not torch.Tensor:
            return f"{where}: expected a torch.Tensor, got {type(got).__name__}"
        if got.dtype != want.dtype:
            return f"{where}: expected dtype {want.dtype}, got {got.dtype}"
        if got.shape != want.shape:
            if got.numel() == want.numel():
                return (f"{where}: expected shape {tuple(want.shape)}, got {tuple(got.shape)} "
                        f"(same number of entries: a reshape or broadcasting problem?)")
            return f"{where}: expected shape {tuple(want.shape)}, got {tuple(got.shape)}"
        if not (want.is_floating_point() or want.is_complex()):  # bool and integer tensors: exact
            wrong = int((got != want).sum())
            return f"{where}: {wrong} of {want.numel()} entries differ from the expected ones" if wrong else None
        if not torch.allclose(got, want, atol=ATOL, rtol=RTOL, equal_nan=False):
            err = (got - want).abs().nan_to_num(float("inf")).max().item()
            return f"{where}: values differ from the expected ones (largest difference {err:.3g})"
        return None
    if isinstance(want, str):  # a verdict such as "the identity at initialisation" (see Harnessed)
        return None if got == want else f"{where}: expected {want!r}, got {got!r}"
    if isinstance(want, (int, float)):
        if type(got) is torch.Tensor and got.numel() == 1:
            got = got.item()
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            return f"{where}: expected a number, got {type(got).__name__}"
        if abs(got - want) > ATOL + RTOL * abs(want):
            return f"{where}: expected {want:.6g}, got {got:.6g}"
        return None
    raise TypeError(f"cannot compare outputs of type {type(want).__name__}")


def load_fixture(assignment: str) -> dict:
    path = registry.get(assignment).fixture
    if not path.exists():
        raise FileNotFoundError(f"no check data for assignment {assignment!r} at {path}; "
                                "is the course package installed and the assignment name right?")
    return _load_cached(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _load_cached(path: Path, mtime_ns: int) -> dict:
    return torch.load(path, weights_only=True)


def _matches(outcome, stored) -> bool:
    kind, value = outcome
    if stored["kind"] == "raises":
        return kind == "raises" and type(value).__name__ == stored["value"]
    return kind == "ok" and describe_mismatch(value, stored["value"]) is None


def diagnose(assignment: str, name: str, fn) -> str | None:
    """None if ``fn`` passes the visible cases, else a message (naming the mistake when recognised)."""
    spec = load_fixture(assignment)[name]
    for seed, expected in zip(spec["seeds"], spec["expected"]):
        outcome = run(fn, case_inputs(assignment, name, seed))
        kind, value = outcome
        problem = (f"raised {type(value).__name__}: {value}" if kind == "raises"
                   else describe_mismatch(value, expected))
        if problem is None:
            continue
        named = [m for m in spec["mistakes"] if _matches(outcome, m["outcomes"][spec["seeds"].index(seed)])]
        message = f"{name} is not right yet (check case with seed {seed}): {problem}."
        if named:
            message += "\n  Likely mistake: " + named[0]["label"] + ". " + named[0]["hint"]
        return message
    return None


def check(assignment: str, name: str, fn, deps: dict | None = None) -> None:
    """Run the visible check of ``name``; raise CheckFailed with a helpful message, or print a pass.

    ``deps`` maps the names of other graded functions that ``fn`` calls to the learner's versions.
    If one of them fails its own check, this check is skipped (so one mistake is reported once);
    the hidden tests grade ``fn`` with reference versions of its dependencies.
    """
    for dep_name, dep in (deps or {}).items():
        try:
            broken = diagnose(assignment, dep_name, dep)
        except NotImplementedError:
            broken = "not implemented yet"
        if broken:
            print(f"⏭  {name}: check skipped because {dep_name}, which it calls, does not pass its own check yet.\n"
                  f"   Fix {dep_name} first. (For grading, {name} is tested with a correct {dep_name}.)")
            return
    problem = diagnose(assignment, name, fn)
    if problem:
        raise CheckFailed(problem)
    print(f"✅ {name} passes the visible checks.")


def checker(assignment: str):
    """``check = checker("02_ddpm")`` gives the notebook a short ``check(name, fn, deps)``."""
    def bound(name: str, fn, deps: dict | None = None) -> None:
        check(assignment, name, fn, deps)
    return bound
