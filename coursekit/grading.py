"""Hidden-test helper: compare a learner's function with the reference on unseen seeded inputs.

The instructor notebook's hidden test cells define ``_reference_<name>`` (generated from
``solutions/``) and call :func:`hidden_check`. Functions that call other graded functions
are graded with reference versions of those put in their place, so one mistake costs the
points of one exercise only.
"""
from __future__ import annotations

from contextlib import contextmanager

from coursekit.checking import CheckFailed, case_inputs, describe_mismatch, run

HIDDEN_SEEDS = (2, 3, 4)


@contextmanager
def substituted(namespace: dict, replacements: dict):
    """Temporarily bind ``replacements`` in ``namespace`` (the notebook's globals)."""
    missing = object()
    saved = {k: namespace.get(k, missing) for k in replacements}
    namespace.update(replacements)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is missing:
                namespace.pop(k, None)
            else:
                namespace[k] = v


def hidden_check(assignment: str, name: str, fn, reference, namespace: dict,
                 substitute: dict | None = None, seeds=HIDDEN_SEEDS) -> None:
    """Raise CheckFailed unless ``fn`` agrees with ``reference`` on every hidden seed."""
    with substituted(namespace, substitute or {}):
        for seed in seeds:
            inputs = case_inputs(assignment, name, seed)
            kind, want = run(reference, inputs)
            if kind != "ok":
                raise RuntimeError(f"reference {name} failed on hidden seed {seed}: {want!r}")
            kind, got = run(fn, inputs)
            problem = (f"raised {type(got).__name__}: {got}" if kind == "raises"
                       else describe_mismatch(got, want))
            if problem:
                raise CheckFailed(f"{name} fails a hidden test (seed {seed}): {problem}")
