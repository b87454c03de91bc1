"""The one judge: does an output pass, and if not, what is the mistake?

Two callers, one decision. The visible check (:mod:`coursekit.checks.visible`) runs in the
learner's kernel on the visible cases; the grader's verdict (``autograder.grading.verdict``) runs
in nbgrader's process on every grading case, from outputs the kernel recorded as plain data
(:mod:`coursekit.checks.record`), so nothing the submission defines takes part in its own grade.
Both hand :func:`judge` the cases and a way to get the learner's outcome on each, and print
what it returns.

For the first case that fails, the message says what differs (:func:`describe_mismatch`, strict:
type, dtype, device and shape are compared explicitly, nothing is cast), then names the mistake:
first a registered one (``solutions/<short>_mistakes.py``, stored as outputs in the check data,
visible cases only), else the general diagnosis (:mod:`coursekit.checks.diagnosis`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from coursekit.checks import diagnosis

ATOL, RTOL = diagnosis.ATOL, diagnosis.RTOL


class CheckFailed(AssertionError):
    """A check did not pass; the message says why."""


@dataclass(frozen=True)
class Outcome:
    """What calling the learner's function on one case gave."""
    kind: str              # "ok", "raises", "missing", "interrupted" or "unrecorded"
    value: object = None   # the output, when "ok"
    error: str = ""        # the exception's type name, when "raises"
    message: str = ""      # the exception's message, when "raises"


@dataclass
class Case:
    """One case as the judge sees it. ``variant(key)`` gives the reference's output on perturbed
    inputs (see ``diagnosis.perturbations``), or None when unknown."""
    seed: int
    inputs: dict
    expected: object
    hidden: bool = False
    mistakes: list = field(default_factory=list)   # [{"label", "hint", "outcome"}] for this seed
    variant: Callable[[str], object] = lambda key: None


def describe_mismatch(got, want, where: str = "output", named: dict | None = None, path: tuple = ()) -> str | None:
    """None if ``got`` matches ``want`` (tensors, numbers, strings, tuples, lists); else what differs.

    Strict: a tensor must be a ``torch.Tensor`` (not a subclass) of the same dtype, device and
    shape; a number must be a Python number; nothing is converted before comparing. ``named``
    gives parts a name instead of an index path (``diagnosis.parts``: a value, its gradients).
    """
    if isinstance(want, (tuple, list)):
        if type(got) not in (tuple, list) or len(got) != len(want):
            return f"{where}: expected a {type(want).__name__} of {len(want)} items, got {_kind(got)}" + (
                f" of {len(got)}" if type(got) in (tuple, list) else "")
        for i, (g, w) in enumerate(zip(got, want)):
            problem = describe_mismatch(g, w, (named or {}).get(path + (i,), f"{where}[{i}]"), named, path + (i,))
            if problem:
                return problem
        return None
    if isinstance(want, torch.Tensor):
        if type(got) is not torch.Tensor:
            return f"{where}: expected a torch.Tensor, got {_kind(got)}"
        if got.dtype != want.dtype:
            return f"{where}: expected dtype {want.dtype}, got {got.dtype}"
        if got.device != want.device:
            return f"{where}: expected a tensor on {want.device}, got one on {got.device}"
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
        return None if type(got) is str and got == want else f"{where}: expected {want!r}, got {_kind(got)}"
    if isinstance(want, (int, float)):
        if type(got) not in (int, float):
            return f"{where}: expected a Python number, got {_kind(got)}"
        if abs(got - want) > ATOL + RTOL * abs(want):
            return f"{where}: expected {want:.6g}, got {got:.6g}"
        return None
    raise TypeError(f"cannot compare outputs of type {type(want).__name__}")


def _kind(value) -> str:
    described = getattr(type(value), "description", None)  # record.Unrecorded says what it stands for
    if isinstance(described, property):
        return value.description
    return repr(value) if type(value) is str and len(value) < 80 else type(value).__name__


def problem(outcome: Outcome, want, named: dict | None = None) -> str | None:
    """What is wrong with ``outcome`` against the expected output ``want`` (None: it passes)."""
    if outcome.kind == "ok":
        try:
            return describe_mismatch(outcome.value, want, named=named)
        except Exception as exc:  # a shape the comparison does not know
            return f"output could not be compared ({type(exc).__name__})"
    if outcome.kind == "raises":
        if outcome.error == "NotImplementedError":
            return "it is not implemented yet (raised NotImplementedError)"
        return f"raised {outcome.error}: {outcome.message}"
    return {"missing": "it is not defined (was its cell deleted or renamed?)",
            "interrupted": "it was stopped at the time limit"}.get(outcome.kind, "no result was recorded for this case")


def named_mistake(case: Case, outcome: Outcome) -> dict | None:
    """The registered mistake whose stored outcome on this case equals ``outcome``, if any."""
    for m in case.mistakes:
        stored = m["outcome"]
        if stored["kind"] == "raises":
            hit = outcome.kind == "raises" and outcome.error == stored["value"]
        else:
            hit = outcome.kind == "ok" and diagnosis.close(outcome.value, stored["value"])
        if hit:
            return m
    return None


def judge(name: str, cases: list[Case], outcome_of: Callable[[int], Outcome],
          rerun: Callable[[dict], object] | None = None, doc: str | None = None) -> str | None:
    """None if every case passes, else the message for the first case that fails.

    ``outcome_of(seed)`` gives the learner's outcome on a case; ``rerun(inputs)`` (kernel only)
    the learner's output on other inputs, or None; ``doc`` the function's docstring.
    """
    for case in cases:
        outcome = outcome_of(case.seed)
        wrong = problem(outcome, case.expected, diagnosis.parts(case.inputs, name))
        if wrong is None:
            continue
        where = f"fails a hidden test (seed {case.seed})" if case.hidden else \
            f"is not right yet (check case with seed {case.seed})"
        message = f"{name} {where}: {wrong}."
        mistake = None if case.hidden else named_mistake(case, outcome)
        if mistake:
            return message + f"\n  Likely mistake: {mistake['label']}. {mistake['hint']}"
        if outcome.kind == "ok":
            try:
                found = diagnosis.diagnose(outcome.value, case, case.variant, rerun, doc, name)
            except Exception:  # a diagnosis is a courtesy; it never hides the verdict
                found = None
            if found:
                message += f"\n  Diagnosis: {found}" + ("" if found.endswith((".", "?", "!")) else ".")
        return message
    return None


def check_data(reference, inputs: list[dict], seeds, mistakes) -> dict:
    """The check data of one graded function, for the build to store in the assignment's fixture:
    for each visible case, the expected output, the reference's variants (for the diagnosis) and
    every registered mistake's outcome (``mistakes``: objects with ``label``, ``hint``, ``fn``)."""
    from coursekit.checks.cases import run
    expected, variants = [], []
    for seed, kwargs in zip(seeds, inputs):
        kind, value = run(reference, kwargs)
        if kind != "ok":
            raise RuntimeError(f"the reference raised on visible case {seed}: {value!r}")
        expected.append(value)
        variants.append(diagnosis.variants(reference, kwargs, value))
    entries = []
    for m in mistakes:
        outcomes = []
        for kwargs in inputs:
            kind, value = run(m.fn, kwargs)
            outcomes.append({"kind": kind, "value": type(value).__name__ if kind == "raises" else value})
        entries.append({"label": m.label, "hint": m.hint, "outcomes": outcomes})
    return {"seeds": list(seeds), "expected": expected, "variants": variants, "mistakes": entries}


def visible_cases(spec: dict, inputs_of: Callable[[int], dict]) -> list[Case]:
    """The visible cases of one graded function from its check data (see :func:`check_data`)."""
    cases = []
    for i, seed in enumerate(spec["seeds"]):
        stored = (spec.get("variants") or [{}] * len(spec["seeds"]))[i]
        cases.append(Case(seed, inputs_of(seed), spec["expected"][i],
                          mistakes=[{"label": m["label"], "hint": m["hint"], "outcome": m["outcomes"][i]}
                                    for m in spec["mistakes"]],
                          variant=stored.get))
    return cases
