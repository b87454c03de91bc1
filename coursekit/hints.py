"""Hints for a learner who is stuck: ``hint("q_sample")`` in the notebook.

Each graded function has two or three hints, from a nudge to the key idea to the formula written
with the function's own argument names. Calling ``hint(name)`` again gives the next one; after the
last, it says so and shows the last one again. ``hint(name, 1)`` shows a chosen one again, and
``hint()`` lists the exercises that have hints.

Threat model: hints ship with the student release, so they are written as prose and formulas,
never as solution code; ``tests/test_hints.py`` checks that no line of any reference solution
appears in them (the way ``course/`` is kept free of solutions) and that every graded function of
every assignment in ``coursekit.registry`` has two or three hints.

Grading: hints cost nothing. The grader never sees which hints were shown (they are printed in
the learner's kernel and recorded nowhere), so there is no penalty to configure.

The hints of assignment ``<short>`` live in ``coursekit/assignments/<short>/hints.py`` as a dict
``HINTS = {graded name: (nudge, key idea, formula)}``, in the notebook's order.
"""
from __future__ import annotations

import difflib
import importlib
import textwrap

from coursekit import registry

TIERS = ("a nudge", "the key idea", "the formula")
_shown: dict[tuple[str, str], int] = {}   # (assignment key, name) -> hints shown so far, this kernel


def hints_of(assignment: str) -> dict[str, tuple[str, ...]]:
    """The hints of an assignment (short name or folder): graded name -> (nudge, key idea[, formula])."""
    row = registry.get(assignment)
    return importlib.import_module(f"coursekit.assignments.{row.key}.hints").HINTS


def graded_names(assignment: str) -> list[str]:
    """The graded functions of an assignment in notebook order: the keys of its hints (a test keeps
    them complete), else of its check data (an assignment whose hints are not written yet)."""
    try:
        return list(hints_of(assignment))
    except ModuleNotFoundError:
        from coursekit.checks.cases import load_fixture
        try:
            return list(load_fixture(registry.get(assignment).folder))
        except (OSError, KeyError):
            return []


def hint_text(assignment: str, name: str, tier: int) -> str:
    """Hint number ``tier`` (1-based) for ``name``, with a header saying which one it is."""
    hints = hints_of(assignment)[name]
    if not 1 <= tier <= len(hints):
        raise ValueError(f"{name} has hints 1 to {len(hints)}; there is no hint {tier}")
    kind = (TIERS if len(hints) == 3 else (TIERS[0], TIERS[2]))[tier - 1]
    body = "\n".join(textwrap.fill(p, 96, break_long_words=False, break_on_hyphens=False) if not p.startswith("    ")
                     else p for p in hints[tier - 1].split("\n"))
    more = (f'Run hint("{name}") again for the next one.' if tier < len(hints)
            else "That was the last hint: compare it with your code line by line, then run the check cell.")
    return f"Hint {tier} of {len(hints)} for {name} ({kind}):\n{body}\n\n{more}"


def hint(assignment: str, name: str | None = None, tier: int | None = None) -> None:
    """Print the next hint for graded function ``name`` of ``assignment`` (or hint ``tier``)."""
    row = registry.get(assignment)
    hints = hints_of(row.key)
    if name is None:
        print(f"Hints exist for: {', '.join(hints)}.\nAsk for one with hint(\"{next(iter(hints))}\").")
        return
    if not isinstance(name, str):
        name = getattr(name, "__name__", name)  # hint(q_sample) works too
    if name not in hints:
        close = difflib.get_close_matches(str(name), hints, n=1)
        raise KeyError(f"no hints for {name!r} in {row.folder}"
                       + (f"; did you mean {close[0]!r}?" if close else f"; hints exist for {', '.join(hints)}"))
    key = (row.key, name)
    if tier is None:
        tier = min(_shown.get(key, 0) + 1, len(hints[name]))
    print(hint_text(row.key, name, tier))
    _shown[key] = max(_shown.get(key, 0), tier)


def hinter(assignment: str):
    """``hint = hinter("02_ddpm")`` gives the notebook a short ``hint(name)``."""
    registry.get(assignment)  # a clear error for an unknown assignment, at the top of the notebook

    def bound(name=None, tier: int | None = None) -> None:
        hint(assignment, name, tier)
    bound.__doc__ = hint.__doc__
    return bound
