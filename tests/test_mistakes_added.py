"""Functions that exist to be differentiated are checked with their gradients.

A detached path computes the right value, so only the gradient part of the check can catch it:
these tests prove the value alone would pass, and that the check says "detached" even for a
submission no registered mistake describes.
"""
from __future__ import annotations

import pytest
import torch

from autograder.grading.verdict import HiddenSpec, judge
from coursekit.checks import record
from coursekit.checks.cases import VISIBLE_SEEDS, case_inputs, materialise
from coursekit.checks.visible import diagnose
from coursekit.registry import get

# (assignment, graded function, label of its registered detached variant)
DIFFERENTIATED = [
    ("01_variational_inference", "elbo_mc", "the reparameterised sample detached"),
    ("02_ddpm", "ddpm_loss", "the model's output detached"),
    ("07_flow_matching", "cfm_loss", "the model's output detached"),
]


def _mistake(assignment: str, function: str, label: str):
    return next(m for m in get(assignment).named_mistakes() if m.function == function and m.label == label)


@pytest.mark.parametrize("assignment,function,label", DIFFERENTIATED, ids=[f for _, f, _ in DIFFERENTIATED])
def test_detached_variant_has_the_right_value_and_is_named_by_its_gradients(assignment, function, label):
    reference, detached = get(assignment).reference(function), _mistake(assignment, function, label).fn
    for seed in VISIBLE_SEEDS:
        inputs = {k: v for k, v in case_inputs(assignment, function, seed).items() if k != "wrt"}
        want = reference(**materialise(inputs))
        got = detached(**materialise(inputs))
        torch.testing.assert_close(got, want)   # the value alone cannot tell them apart
    message = diagnose(assignment, function, detached)
    assert message is not None and label in message and "detached" in message, message


@pytest.mark.parametrize("assignment,function,label", DIFFERENTIATED, ids=[f for _, f, _ in DIFFERENTIATED])
def test_a_submission_under_no_grad_is_told_it_is_detached(assignment, function, label):
    reference = get(assignment).reference(function)

    def under_no_grad(**kwargs):
        with torch.no_grad():
            return reference(**kwargs)

    message = diagnose(assignment, function, under_no_grad)
    assert message is not None and "detached: no gradient reaches" in message, message


@pytest.mark.parametrize("assignment,function,label", DIFFERENTIATED, ids=[f for _, f, _ in DIFFERENTIATED])
def test_the_grader_rejects_the_detached_variant_on_the_hidden_cases(assignment, function, label, monkeypatch):
    published = []
    monkeypatch.setattr(record, "_publish", published.append)
    record.record_outputs(assignment, function, {function: _mistake(assignment, function, label).fn})
    passed, message = judge(HiddenSpec(f"test_{function}", assignment, function), published[0])
    assert not passed and "detached" in message, message
