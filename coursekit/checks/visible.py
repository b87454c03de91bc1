"""Visible checks, in the learner's notebook: ``check("q_sample", q_sample)``.

The check runs the learner's function on the visible cases (``coursekit.checks.cases``) and asks
the one judge (``coursekit.checks.judge``) whether the outputs match the expected ones stored in
the assignment's check data; a failure raises :class:`CheckFailed` with the judge's message,
which names the mistake when it can. Nothing here decides a grade: the grader judges recorded
outputs in its own process (``coursekit.checks.record``). This runs on every check, so a passing
check does only the comparisons; the diagnosis runs only after a failure.
"""
from __future__ import annotations

import contextlib
import io
import types

from coursekit.checks.cases import call, case_inputs, load_fixture, run
from coursekit.checks.judge import CheckFailed, Outcome, judge, visible_cases
from coursekit.progress import record as record_progress  # the learner's PROGRESS.md (coursekit/progress.py)

__all__ = ["CheckFailed", "check", "checker", "diagnose", "graded_names_used"]


def diagnose(assignment: str, name: str, fn) -> str | None:
    """None if ``fn`` passes the visible cases of ``name``, else the judge's message."""
    cases = visible_cases(load_fixture(assignment)[name], lambda seed: case_inputs(assignment, name, seed))
    inputs = {case.seed: case.inputs for case in cases}

    def outcome_of(seed: int) -> Outcome:
        kind, value = run(fn, inputs[seed])  # NotImplementedError propagates: not written yet
        return Outcome("ok", value) if kind == "ok" else Outcome("raises", error=type(value).__name__,
                                                                 message=str(value))

    def rerun(changed: dict):  # only after a failure, for the diagnosis; the learner's prints stay quiet
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                return call(fn, changed)
        except Exception:
            return None

    return judge(name, cases, outcome_of, rerun, doc=getattr(fn, "__doc__", None))


def graded_names_used(fn, graded: set[str]) -> dict:
    """The graded functions that ``fn`` (a function, or a class's methods) refers to by name,
    as the notebook currently defines them: name -> object."""
    functions = [v for v in vars(fn).values()] if isinstance(fn, type) else [fn]
    codes, names, namespace = [], set(), {}
    for f in functions:
        f = getattr(f, "__func__", getattr(f, "fget", f))  # staticmethod, classmethod, property
        if isinstance(f, types.FunctionType):
            codes.append(f.__code__)
            namespace = f.__globals__
    while codes:
        code = codes.pop()
        names |= set(code.co_names)
        codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return {n: namespace[n] for n in sorted(names & graded) if n in namespace}


def check(assignment: str, name: str, fn, deps: dict | None = None) -> None:
    """Run the visible check of ``name``; raise CheckFailed with a helpful message, or print a pass.

    If ``fn`` uses another graded function (``deps``; by default every graded function its code
    names) that fails its own check, this check is skipped, so one mistake is reported once. The
    grader binds every graded function above ``name`` to its reference while grading ``name``.
    """
    if deps is None:
        deps = graded_names_used(fn, set(load_fixture(assignment)) - {name})
    for dep_name, dep in deps.items():
        try:
            broken = diagnose(assignment, dep_name, dep)
        except NotImplementedError:
            broken = "not implemented yet"
        if broken:
            print(f"-- {name}: check skipped because {dep_name}, which it calls, does not pass its own check yet.\n"
                  f"   Fix {dep_name} first. (For grading, {name} is tested with a correct {dep_name}.)")
            record_progress(assignment, name, "skipped")
            return
    problem = diagnose(assignment, name, fn)
    record_progress(assignment, name, "fail" if problem else "pass")
    if problem:
        raise CheckFailed(problem)
    print(f"✓ {name} passes the visible checks.")


def checker(assignment: str):
    """``check = checker("02_ddpm")`` gives the notebook a short ``check(name, fn)``."""
    def bound(name: str, fn, deps: dict | None = None) -> None:
        check(assignment, name, fn, deps)
    return bound
