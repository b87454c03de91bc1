"""Hints: every graded function has 2-3, they hold no solution line, and hint(name) walks through them."""
from __future__ import annotations

import re

import nbformat
import pytest

from autograder import STUDENT_COURSE
from autograder.build import graded_of, reference_source
from coursekit.hints import hint_text, hinter, hints_of
from coursekit.registry import ASSIGNMENTS, get


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def solution_lines(key: str, name: str) -> list[str]:
    """The lines learners must write (inside BEGIN/END SOLUTION), as the release test reads them."""
    src = reference_source(get(key), name)
    body = "".join(part.split("### END SOLUTION")[0] for part in src.split("### BEGIN SOLUTION")[1:])
    return [ln.strip() for ln in body.splitlines() if ln.strip() and not ln.strip().startswith("#")]


@pytest.mark.parametrize("key", ASSIGNMENTS)
def test_every_graded_function_has_two_or_three_hints_in_notebook_order(key):
    names = [g.name for g in graded_of(key)]
    hints = hints_of(key)
    assert list(hints) == names, f"hints of {key}: missing {set(names) - set(hints)}, extra {set(hints) - set(names)}"
    for name, tiers in hints.items():
        assert 2 <= len(tiers) <= 3, f"{key}.{name}: {len(tiers)} hints (2 or 3 wanted)"
        assert all(isinstance(t, str) and len(t) >= 30 for t in tiers), f"{key}.{name}: an empty or tiny hint"
        assert len(set(tiers)) == len(tiers)


@pytest.mark.parametrize("key", ASSIGNMENTS)
def test_hints_hold_no_solution_line(key):
    """No line of a reference solution longer than 25 characters appears in any hint, spaces ignored
    (test_release_sync keeps course/ free of them the same way)."""
    text = squash(" ".join(t for tiers in hints_of(key).values() for t in tiers))
    for name in hints_of(key):
        for line in solution_lines(key, name):
            code = squash(line.split("  #")[0])
            if len(code) > 25:
                assert code not in text, f"a hint of {key} contains solution line {line!r} of {name}"


def test_hint_gives_the_next_tier_each_call_then_stays_on_the_last(capsys):
    hint = hinter("02_ddpm")
    tiers = hints_of("ddpm")["q_sample"]
    seen = []
    for _ in range(len(tiers) + 1):
        hint("q_sample")
        seen.append(capsys.readouterr().out)
    for i, out in enumerate(seen[:len(tiers)], start=1):
        assert out.startswith(f"Hint {i} of {len(tiers)} for q_sample")
        assert squash(tiers[i - 1]) in squash(out)
    assert seen[-1] == seen[-2] and "last hint" in seen[-1]
    hint("q_sample", 1)
    assert capsys.readouterr().out.startswith("Hint 1 of")


def test_hint_helps_with_a_wrong_name_and_lists_exercises(capsys):
    hint = hinter("ddpm")
    with pytest.raises(KeyError, match="did you mean 'q_sample'"):
        hint("q_smaple")
    hint()
    assert "q_sample" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no hint 4"):
        hint_text("ddpm", "q_sample", 4)
    with pytest.raises(KeyError, match="unknown assignment"):
        hinter("02_dpm")


@pytest.mark.parametrize("key", ASSIGNMENTS)
def test_released_notebooks_offer_hints(key):
    row = get(key)
    for path in sorted((STUDENT_COURSE / row.folder).glob("*.ipynb")):
        code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        assert f'hint = hinter("{row.folder}")' in code, f"{path} does not set up hint()"
