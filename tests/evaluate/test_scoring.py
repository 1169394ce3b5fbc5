"""Aggregate metrics, the overall formula, and irrelevance scoring on hand-built agent results."""

from __future__ import annotations

from edgefabric.pipeline.evaluate.cases import EvalCase
from edgefabric.pipeline.evaluate.matching import ExpectedCall
from edgefabric.pipeline.evaluate.runner import score_case
from edgefabric.pipeline.evaluate.scoring import WEIGHTS, CaseScore, overall, quality_metrics
from edgefabric.runtime.agent import AgentResult, Step
from edgefabric.runtime.backends.base import GenerationStats
from edgefabric.schemas import Message, ToolCall, ToolSpec

TOOL = ToolSpec(name="add", parameters={"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]})


def _result(calls: list[ToolCall], text: str = "") -> AgentResult:
    steps = [Step("raw", calls, [], GenerationStats(completion_tokens=3, total_s=0.1))]
    return AgentResult(messages=[], steps=steps, final_text=text or None, stop_reason="calls" if calls else "answer")


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


def test_overall_drops_unmeasured_metrics_and_prints_its_formula() -> None:
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
    score, formula = overall(metrics)
    used = WEIGHTS["tool_selection_accuracy"] + WEIGHTS["parameter_accuracy"]
    used += WEIGHTS["schema_validity_rate"] + WEIGHTS["irrelevance_accuracy"]
    expected = (0.20 * 1.0 + 0.35 * 0.5 + 0.10 * 1.0 + 0.10 * 1.0) / used
    assert score is not None and abs(score - expected) < 1e-9
    assert "execution_success_rate" not in formula and "0.35*parameter_accuracy" in formula


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
