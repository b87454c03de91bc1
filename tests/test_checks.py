"""The visible checks accept every reference, reject every registered mistake, and name it;
the grader's verdict (the same judge, on recorded outputs) accepts every reference too."""
from __future__ import annotations

import pytest
import torch

from autograder.build import assignments, graded_of
from autograder.grading.verdict import HiddenSpec, judge
from coursekit.checks import record
from coursekit.checks.visible import CheckFailed, check, diagnose
from coursekit.registry import get

CASES = [(a, g) for a in assignments() for g in graded_of(a)]
MISTAKES = [(a, m) for a in assignments() for m in get(a).named_mistakes()]


@pytest.mark.parametrize("assignment,g", CASES, ids=[f"{a}:{g.name}" for a, g in CASES])
def test_reference_passes_visible_and_hidden(assignment, g, capsys, monkeypatch):
    reference = get(assignment).reference(g.name)
    check(assignment, g.name, reference)
    assert "passes" in capsys.readouterr().out
    published = []
    monkeypatch.setattr(record, "_publish", published.append)
    record.record_outputs(assignment, g.name, {g.name: reference})
    passed, message = judge(HiddenSpec(f"test_{g.name}", assignment, g.name), published[0])
    assert passed, message


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


def test_dependencies_are_read_from_the_learners_code(capsys):
    """Without deps=..., the check skips when a graded function the learner's code names fails."""
    notebook = {"torch": torch}
    exec("def p_sample(**kwargs):\n    return torch.zeros(1)\n\n"
         "def ddpm_sample(model, shape, betas, alpha_bar, generator):\n    return p_sample(model=model)\n", notebook)
    check("02_ddpm", "ddpm_sample", notebook["ddpm_sample"])
    assert "skipped because p_sample" in capsys.readouterr().out
    from solutions import ddpm
    check("02_ddpm", "q_sample", ddpm.q_sample, deps=None)  # names no graded function: nothing to skip for
    assert "passes" in capsys.readouterr().out
