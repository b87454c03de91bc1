"""The visible checks accept every reference, reject every registered mistake, and name it."""
from __future__ import annotations

import pytest
import torch

from autograder.build import assignments, graded_of
from coursekit.checking import CheckFailed, check, diagnose
from coursekit.grading import hidden_check
from coursekit.registry import get

CASES = [(a, g) for a in assignments() for g in graded_of(a)]
MISTAKES = [(a, m) for a in assignments() for m in get(a).named_mistakes()]


@pytest.mark.parametrize("assignment,g", CASES, ids=[f"{a}:{g.name}" for a, g in CASES])
def test_reference_passes_visible_and_hidden(assignment, g, capsys):
    reference = get(assignment).reference(g.name)
    check(assignment, g.name, reference)
    assert "passes" in capsys.readouterr().out
    hidden_check(assignment, g.name, reference, reference, {})


@pytest.mark.parametrize("assignment,m", MISTAKES, ids=[f"{a}:{m.function}:{m.label}" for a, m in MISTAKES])
def test_each_mistake_is_caught_and_named(assignment, m):
    message = diagnose(assignment, m.function, m.fn)
    assert message is not None, f"the visible check accepts the mistake {m.label!r}"
    assert m.label in message, f"the check did not name {m.label!r}; it said:\n{message}"
    with pytest.raises(CheckFailed, match="not right yet"):
        check(assignment, m.function, m.fn)


def test_unimplemented_function_reports_not_implemented():
    def stub(*args, **kwargs):
        raise NotImplementedError()
    with pytest.raises(NotImplementedError):
        check("02_ddpm", "q_sample", stub)


def test_dependency_failure_skips_instead_of_cascading(capsys):
    from solutions import ddpm
    broken_p_sample = lambda *a, **k: torch.zeros(1)
    check("02_ddpm", "ddpm_sample", ddpm.ddpm_sample, deps={"p_sample": broken_p_sample})
    assert "skipped because p_sample" in capsys.readouterr().out


def test_wrong_dtype_output_is_reported_with_both_dtypes():
    from solutions import ddpm
    message = diagnose("02_ddpm", "compute_alpha_bar", lambda betas: ddpm.compute_alpha_bar(betas).double())
    assert "torch.float32" in message and "torch.float64" in message


@pytest.mark.parametrize("assignment,m", MISTAKES, ids=[f"{a}:{m.function}:{m.label}" for a, m in MISTAKES])
def test_mistake_source_is_a_standalone_definition_of_the_graded_name(assignment, m):
    namespace = {}
    exec("import torch\n" + m.source(), namespace)
    assert callable(namespace[m.function])
