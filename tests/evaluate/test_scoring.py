"""Aggregate metrics, the overall formula, and irrelevance scoring on hand-built agent results."""

from __future__ import annotations

from edgefabric.pipeline.evaluate.cases import EvalCase
from edgefabric.pipeline.evaluate.equivalence import Run, task_problems
from edgefabric.pipeline.evaluate.matching import ExpectedCall
from edgefabric.pipeline.evaluate.runner import score_case
from edgefabric.pipeline.evaluate.scoring import (
    WEIGHTS,
    CaseScore,
    metric_counts,
    no_call_baseline,
    overall,
    quality_metrics,
    summary_line,
)
from edgefabric.runtime.agent import AgentResult, Step
from edgefabric.runtime.backends.base import GenerationStats
from edgefabric.schemas import Message, ToolCall, ToolSpec

TOOL = ToolSpec(name="add", parameters={"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]})


def _result(calls: list[ToolCall], text: str = "") -> AgentResult:
    steps = [Step("raw", calls, [], GenerationStats(completion_tokens=3, total_s=0.1))]
    return AgentResult(
        messages=[], steps=steps, final_text=text or None, stop_reason="tool_call" if calls else "answer"
    )


def _case(expected: list[ExpectedCall] | None) -> EvalCase:
    return EvalCase(
        "c", "single" if expected else "no_call", "samples", [Message(role="user", content="hi")], [TOOL], expected
    )


def test_irrelevance_is_right_only_without_calls() -> None:
    assert score_case(_case(None), _result([], "no tool needed"), None).irrelevance_ok is True
    wrong = score_case(_case(None), _result([ToolCall(name="add", arguments={"a": 1})]), None)
    assert wrong.irrelevance_ok is False and wrong.problems


def test_schema_validity_counts_calls() -> None:
    calls = [ToolCall(name="add", arguments={"a": 1}), ToolCall(name="add", arguments={"a": "x"})]
    score = score_case(_case([ExpectedCall("add", {"a": [1]})]), _result(calls), None)
    assert (score.calls_made, score.calls_valid) == (2, 1)
    assert score.selection_ok is False  # two calls where one was expected


def test_overall_is_a_mean_over_cases_and_prints_its_formula() -> None:
    scores = [
        CaseScore(id="1", kind="single", source="s", selection_ok=True, params_ok=True, calls_made=1, calls_valid=1),
        CaseScore(id="2", kind="single", source="s", selection_ok=True, params_ok=False, calls_made=1, calls_valid=1),
        CaseScore(id="3", kind="no_call", source="s", relevant=False, irrelevance_ok=True),
    ]
    metrics = quality_metrics(scores)
    assert metrics["tool_selection_accuracy"] == 1.0
    assert metrics["parameter_accuracy"] == 0.5
    assert metrics["irrelevance_accuracy"] == 1.0
    assert metrics["execution_success_rate"] is None and metrics["multi_step_success"] is None
    assert metric_counts(scores)["parameter_accuracy"] == (1, 2)
    score, formula = overall(scores)
    used = WEIGHTS["tool_selection_accuracy"] + WEIGHTS["parameter_accuracy"] + WEIGHTS["schema_validity_rate"]
    case2 = (WEIGHTS["tool_selection_accuracy"] + WEIGHTS["schema_validity_rate"]) / used
    assert score is not None and abs(score - (1.0 + case2 + 1.0) / 3) < 1e-9
    assert "mean over 3 case(s)" in formula and "0.35*parameter_accuracy" in formula


def _silent(kind: str, relevant: bool = True, sandbox: bool = True) -> CaseScore:
    """A case where the model made no call."""
    multi = kind == "multi_step" and sandbox
    return CaseScore(
        id=kind,
        kind=kind,
        source="s",
        relevant=relevant,
        sandbox=sandbox,
        selection_ok=False if relevant else None,
        params_ok=False if relevant else None,
        equivalent_ok=False if relevant and sandbox else None,
        irrelevance_ok=None if relevant else True,
        task_ok=False if multi else None,
    )


def test_a_model_that_never_calls_scores_the_no_call_share_and_zero_elsewhere() -> None:
    scores = [_silent("single"), _silent("parallel"), _silent("multi_step"), _silent("multi_step")]
    scores += [_silent("no_call", relevant=False), _silent("no_call", relevant=False)]
    metrics = quality_metrics(scores)
    assert {k: v for k, v in metrics.items() if k != "irrelevance_accuracy"} == dict.fromkeys(
        [k for k in metrics if k != "irrelevance_accuracy"], 0.0
    )
    assert metrics["irrelevance_accuracy"] == 1.0
    counts = metric_counts(scores)
    assert counts["irrelevance_accuracy"] == (2, 2) and counts["multi_step_success"] == (0, 2)
    assert counts["schema_validity_rate"] == (0, 4)  # each call case without a call counts as one invalid call
    score, _ = overall(scores)
    assert score == 2 / 6
    baseline = no_call_baseline(scores)
    assert baseline["overall"] == score and baseline["multi_step_success"] == 0.0
    line = summary_line(counts, score, baseline["overall"])
    assert "irrelevance 2/2" in line and "multi-step 0/2" in line and "+0.0 points over the no-call baseline" in line


def test_the_no_call_baseline_of_a_model_that_calls_right() -> None:
    right = CaseScore(id="1", kind="single", source="s", selection_ok=True, params_ok=True, calls_made=1, calls_valid=1)
    scores = [right, right.model_copy(update={"id": "2"}), _silent("no_call", relevant=False, sandbox=False)]
    score, _ = overall(scores)
    baseline = no_call_baseline(scores)
    assert score == 1.0 and baseline["overall"] == 1 / 3 and baseline["parameter_accuracy"] == 0.0
    assert "+66.7 points over the no-call baseline (33.3%)" in summary_line(metric_counts(scores), score, 1 / 3)


def test_multi_step_needs_the_calls_made_and_their_results_not_just_equal_state() -> None:
    # math has no state: before the fix the empty final states compared equal with no call made.
    convert = ToolCall(name="convert_units", arguments={"value": 5, "from_unit": "km", "to_unit": "mi"})
    reference = [Run(convert, True, '{"value": 5, "from_unit": "km", "to_unit": "mi", "result": 3.1}', False, {})]
    assert task_problems([], {}, reference, {}) == ["no call succeeded; the task needs convert_units"]
    same = ToolCall(name="convert_units", arguments={"value": 5, "from_unit": "kilometers", "to_unit": "miles"})
    made = [(same, True, '{"value": 5, "from_unit": "kilometers", "to_unit": "miles", "result": 3.1}')]
    assert task_problems(made, {}, reference, {}) == []  # echoed arguments aside, the same result
    wrong = [(convert, True, '{"result": 8.0}')]
    assert task_problems(wrong, {}, reference, {})
    failed = [(convert, False, "error: boom")]
    assert task_problems(failed, {}, reference, {})
    # A state-changing reference call: the tool called successfully and the same end state.
    set_call = ToolCall(name="set", arguments={"key": "a", "value": 1})
    ref_state = {"kv": {"a": 1}}
    stateful = [Run(set_call, True, "{}", True, ref_state)]
    assert task_problems([(set_call, True, "{}")], ref_state, stateful, ref_state) == []
    assert task_problems([(set_call, True, "{}")], {"kv": {"a": 2}}, stateful, ref_state)


def test_an_error_recovery_case_expects_the_corrected_call_not_the_mistake() -> None:
    from edgefabric.pipeline.evaluate.cases import case_from_sample
    from edgefabric.schemas import Sample, SampleMetadata

    tool = ToolSpec(name="read_file", parameters={"type": "object", "properties": {"path": {"type": "string"}}})
    wrong = ToolCall(id="c1", name="read_file", arguments={"path": "notes.tx"})
    right = ToolCall(id="c2", name="read_file", arguments={"path": "notes.txt"})
    sample = Sample(
        messages=[
            Message(role="user", content="What is in notes.txt?"),
            Message(role="assistant", tool_calls=[wrong]),
            Message(role="tool", name="read_file", tool_call_id="c1", content='{"error": "no such file"}'),
            Message(role="assistant", tool_calls=[right]),
            Message(role="tool", name="read_file", tool_call_id="c2", content='{"text": "hi"}'),
            Message(role="assistant", content="It says hi."),
        ],
        tools=[tool],
        metadata=SampleMetadata(kind="error_recovery"),
    )
    case = case_from_sample(sample)
    assert [m.role for m in case.messages] == ["user"]
    assert case.expected is not None
    assert score_case(case, _result([right]), None).params_ok
    assert score_case(case, _result([wrong]), None).params_ok is False
