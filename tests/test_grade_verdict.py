"""The verdict outside the kernel, the record codec and the feedback preprocessors (no kernel, fast).

The verdict compares decoded plain data with the reference run in the grader's process: whatever
objects the submission builds, only tensors of a known dtype, numbers, strings, tuples and lists
come out of a record, and anything else is a wrong answer.
"""
from __future__ import annotations

import base64

import nbformat
import pytest
import torch

from autograder.build import graded_of
from autograder.build import test_cell_source as generated_test_cell
from autograder.grading import RECORD_MIME
from autograder.grading.feedback import BEGIN, END, StaticPlots, StripHiddenTests, split_hidden
from autograder.grading.kernel_hooks import SNAPSHOT_MIME
from autograder.grading.verdict import HiddenVerdict, HiddenSpec, judge, parse_test_cell, reference_outcome
from coursekit.checks import record as grading
from coursekit.registry import get
from coursekit.checks.record import GRADING_SEEDS, Unrecorded, decode_value, encode_value
from solutions.ddpm_mistakes import mistake

A = "02_ddpm"


def record(name: str, values: dict) -> dict:
    """A record as the kernel would publish it: seed -> output value (or ('raises', type))."""
    outcomes = []
    for seed in GRADING_SEEDS:
        v = values[seed]
        if isinstance(v, tuple) and v and v[0] == "raises":
            outcomes.append({"seed": seed, "kind": "raises", "type": v[1], "message": "boom"})
        else:
            outcomes.append({"seed": seed, "kind": "ok", "value": encode_value(v)})
    return {"assignment": A, "name": name, "outcomes": outcomes}


def reference_values(name: str) -> dict:
    return {s: reference_outcome(A, name, s) for s in GRADING_SEEDS}


SPEC = HiddenSpec("test_q_sample", A, "q_sample")


def test_record_codec_round_trips_plain_values_only():
    for value in [torch.randn(3, 4), torch.arange(6).reshape(2, 3), torch.tensor(True), torch.zeros(0, 2),
                  torch.randn(2).to(torch.bfloat16), (1, 2.5, "a", None, [torch.ones(2)])]:
        back = decode_value(encode_value(value))
        if isinstance(value, torch.Tensor):
            assert type(back) is torch.Tensor and back.dtype == value.dtype and torch.equal(back, value)
        else:
            assert repr(back) == repr(value)

    class AlwaysEqual:
        def __eq__(self, other):
            return True

    class SneakyTensor(torch.Tensor):
        pass

    for sneaky in [AlwaysEqual(), torch.zeros(2).as_subclass(SneakyTensor), (AlwaysEqual(),), {"a": 1}]:
        decoded = decode_value(encode_value(sneaky))
        flat = decoded if not isinstance(decoded, tuple) else decoded[0]
        assert isinstance(flat, Unrecorded), sneaky


def test_malformed_records_decode_to_unrecorded():
    bad = [{"t": "tensor", "dtype": "float32", "shape": [10**9], "b64": ""},
           {"t": "tensor", "dtype": "object", "shape": [1], "b64": "AAAA"},
           {"t": "tensor", "dtype": "float32", "shape": [2], "b64": base64.b64encode(b"123").decode()},
           {"t": "tensor", "dtype": "float32", "shape": [-1], "b64": ""},
           {"t": "pickle", "v": "cos\nsystem\n"}, "not a dict", {"t": "tuple", "items": "nope"}]
    for data in bad:
        assert isinstance(decode_value(data), Unrecorded), data


def test_the_reference_passes_and_wrong_values_fail():
    right = reference_values("q_sample")
    assert judge(SPEC, record("q_sample", right)) == (True, "q_sample passes all 5 grading cases.")
    hidden_wrong = dict(right)
    hidden_wrong[3] = right[3] + 1e-2
    passed, message = judge(SPEC, record("q_sample", hidden_wrong))
    assert not passed and "fails a hidden test (seed 3)" in message


@pytest.mark.parametrize("fake", [
    lambda want: want.to(torch.float64),                 # right numbers, wrong dtype
    lambda want: want.reshape(-1),                       # right numbers, wrong shape
    lambda want: want.tolist(),                          # a list instead of a tensor
    lambda want: ("raises", "NotImplementedError"),      # not written
    lambda want: ("raises", "ValueError"),
    lambda want: None,
])
def test_wrong_kinds_of_output_fail(fake):
    right = reference_values("q_sample")
    values = {s: fake(v) for s, v in right.items()}
    passed, message = judge(SPEC, record("q_sample", values))
    assert not passed and message.startswith("q_sample is not right yet (check case with seed 0)")


def test_missing_or_incomplete_records_fail():
    assert judge(SPEC, None)[0] is False
    rec = record("q_sample", reference_values("q_sample"))
    rec["outcomes"] = rec["outcomes"][:2]  # hidden cases missing
    passed, message = judge(SPEC, rec)
    assert not passed and "no result was recorded" in message
    rec = record("q_sample", reference_values("q_sample"))
    rec["outcomes"] = [{**o, "seed": 0} for o in rec["outcomes"]]  # every outcome claims seed 0
    assert judge(SPEC, rec)[0] is False


def test_a_known_mistake_is_named_from_the_record():
    m = next(m for m in mistake.all if m.function == "compute_alpha_bar" and m.showcase)
    from coursekit.checks.cases import case_inputs, run
    values = {s: run(m.fn, case_inputs(A, "compute_alpha_bar", s))[1] for s in GRADING_SEEDS}
    spec = HiddenSpec("test_compute_alpha_bar", A, "compute_alpha_bar")
    passed, message = judge(spec, record("compute_alpha_bar", values))
    assert not passed and f"Likely mistake: {m.label}" in message


def test_generated_test_cells_are_parsed_with_their_substitutions():
    graded = graded_of(A)
    by_name = {g.name: g for g in graded}
    for g in graded:
        spec = parse_test_cell(f"test_{g.name}", generated_test_cell(get(A), g, by_name))
        assert spec is not None and (spec.assignment, spec.name) == (A, g.name)
        assert spec.substitutes == g.deps == [h.name for h in graded[:graded.index(g)]], "every graded function above"
        source = generated_test_cell(get(A), g, by_name)
        assert f"_reference_{g.name}(" not in source, "the reference of the graded function itself must not enter the kernel"
        assert source.index("record_outputs(") < source.index(f'check("{g.name}"'), "record before the visible check"


def test_verdict_output_decides_nbgraders_score():
    """A failure goes first (nbgrader reads the first error or execute_result); a pass leaves no
    error, no stderr and no execute_result that nbgrader would read as a score."""
    from nbgrader.utils import determine_grade
    meta = {"grade": True, "grade_id": "test_q_sample", "locked": True, "points": 2, "schema_version": 3,
            "solution": False, "task": False}
    cell = nbformat.v4.new_code_cell("check()")
    cell.metadata["nbgrader"] = meta
    cell.outputs = [nbformat.from_dict({"output_type": "execute_result", "execution_count": 1, "metadata": {},
                                        "data": {"text/plain": "2"}})]
    HiddenVerdict._apply(cell, SPEC, False, "q_sample is wrong")
    assert determine_grade(cell)[0] == 0
    cell.outputs = [nbformat.from_dict({"output_type": "error", "ename": "CheckFailed", "evalue": "x", "traceback": []}),
                    nbformat.from_dict({"output_type": "stream", "name": "stderr", "text": "warning"}),
                    nbformat.from_dict({"output_type": "execute_result", "execution_count": 1, "metadata": {},
                                        "data": {"text/plain": "0"}})]
    HiddenVerdict._apply(cell, SPEC, True, "q_sample passes")
    assert determine_grade(cell)[0] == 2


def test_recorder_in_a_namespace_publishes_plain_data(monkeypatch):
    published = []
    monkeypatch.setattr(grading, "_publish", published.append)
    from solutions.ddpm import q_sample
    grading.record_outputs(A, "q_sample", {"q_sample": q_sample})
    grading.record_outputs(A, "q_sample", {})
    grading.record_outputs(A, "q_sample", {"q_sample": lambda **kw: 1 / 0})
    ok, missing, raises = published
    assert judge(SPEC, ok)[0]
    assert {o["kind"] for o in missing["outcomes"]} == {"missing"}
    assert {o["type"] for o in raises["outcomes"]} == {"ZeroDivisionError"}
    import json
    json.dumps(ok)  # plain JSON


# ----------------------------------------------------------------------------------- feedback
def _feedback_nb():
    hidden = ["def _reference_helper(x):", "    return x * 42  # secret formula", "from coursekit.checks.record import record_outputs",
              'record_outputs("02_ddpm", "f", globals(), {})']
    source = "# Checks for f.\n" + BEGIN + "\n" + "\n".join(hidden) + "\n" + END + '\ncheck("f", f)'
    test = nbformat.v4.new_code_cell(source)
    test.outputs = [
        nbformat.from_dict({"output_type": "display_data", "metadata": {}, "data": {RECORD_MIME: {"name": "f"}, "text/plain": "r"}}),
        nbformat.from_dict({"output_type": "error", "ename": "CheckFailed", "evalue": "f is not right yet. Likely mistake: alpha",
                            "traceback": ["\x1b[0;32m      5\x1b[0m     return x * 42  # secret formula\n"
                                          "\x1b[0;32m----> 7\x1b[0m check(\"f\", f)\n", "CheckFailed: f is not right yet"]}),
        nbformat.from_dict({"output_type": "stream", "name": "stdout", "text": "def _reference_helper(x):\nhello\n"}),
    ]
    fig = {"data": [{"type": "scatter", "x": [1, 2], "y": [3, 4]}], "layout": {"title": {"text": "learner plot"}}}
    plot = nbformat.v4.new_code_cell("fig.show()")
    plot.outputs = [nbformat.from_dict({"output_type": "display_data", "metadata": {},
                                        "data": {"application/vnd.plotly.v1+json": fig, "text/plain": "Figure"}})]
    widget = nbformat.v4.new_code_cell("panel")
    widget.outputs = [nbformat.from_dict({"output_type": "display_data", "metadata": {}, "data": {
        "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
        SNAPSHOT_MIME: {"figures": [fig], "controls": [{"description": "step", "value": "3"}]}, "text/plain": "Panel"}})]
    return nbformat.v4.new_notebook(cells=[test, plot, widget]), hidden


def test_feedback_strips_hidden_tests_and_keeps_the_message():
    nb, hidden = _feedback_nb()
    nb, _ = StripHiddenTests().preprocess(nb, {})
    text = nbformat.writes(nb)
    for line in hidden:
        assert line.strip() not in text
    assert "secret formula" not in text and RECORD_MIME not in text and "_reference_" not in text
    assert "Likely mistake: alpha" in text and 'check(\\"f\\", f)' in text


def test_feedback_embeds_plots_offline_once():
    nb, _ = _feedback_nb()
    nb, _ = StaticPlots().preprocess(nb, {})
    htmls = [o["data"]["text/html"] for c in nb.cells for o in c.outputs if "text/html" in o.get("data", {})]
    assert len(htmls) == 2
    assert sum("plotly.js v" in h or "Plotly=" in h or len(h) > 1_000_000 for h in htmls) == 1, "plotly.js inlined once"
    assert all("https://cdn.plot.ly" not in h.split("<script", 1)[0] for h in htmls)
    assert not any('src="http' in h for h in htmls)
    assert "step = 3" in htmls[1]
    assert all("application/vnd.jupyter.widget-view+json" not in o.get("data", {}) for c in nb.cells for o in c.outputs)


def test_split_hidden_handles_an_unterminated_region():
    kept, hidden = split_hidden(f"a = 1\n{BEGIN}\nsecret_line = 2\n")
    assert kept == "a = 1" and "secret_line = 2" in hidden
