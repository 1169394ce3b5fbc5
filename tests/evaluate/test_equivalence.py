"""Execution equivalence and multi-step success, judged by really running the calls in the sandbox."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from edgefabric.pipeline.evaluate.cases import EvalCase
from edgefabric.pipeline.evaluate.equivalence import calls_equivalent
from edgefabric.pipeline.evaluate.matching import ExpectedCall, call_problems
from edgefabric.pipeline.evaluate.runner import Evaluator
from edgefabric.runtime.formats import qwen3
from edgefabric.schemas import Message, ToolCall
from tests.runtime.conftest import ScriptedBackend


@pytest.fixture(scope="module")
def box() -> Any:
    from edgefabric.runtime.sandbox import load_toolbox

    return load_toolbox(["math", "kv", "scene"])


def calc(expression: str) -> ToolCall:
    return ToolCall(name="calculate", arguments={"expression": expression})


def test_the_same_product_written_two_ways_is_equivalent_not_exact(box: Any) -> None:
    reference, call = calc("347 * 29"), calc("29*347")
    assert call_problems(call, ExpectedCall.exact(reference), box.spec("calculate"))  # exact: wrong
    assert calls_equivalent(box, None, call, reference)  # both return 10063
    assert not calls_equivalent(box, None, calc("29*348"), reference)
    assert not calls_equivalent(box, None, calc("29*"), reference)  # an error is never equivalent


def test_a_state_changing_pair_is_equivalent_when_the_state_after_is_the_same(box: Any) -> None:
    scenario = copy.deepcopy(next(s for s in box.scenarios() if s["name"] == "scene-default"))
    scenario["state"]["scene"]["objects"]["Cube"]["location"] = [1.0, 1.0, 1.0]
    absolute = ToolCall(name="move_object", arguments={"name": "Cube", "location": [2, 3, 4]})
    relative = ToolCall(name="move_object", arguments={"name": "Cube", "location": [1, 2, 3], "relative": True})
    assert call_problems(relative, ExpectedCall.exact(absolute), box.spec("move_object"))
    assert calls_equivalent(box, scenario, relative, absolute)
    elsewhere = ToolCall(name="move_object", arguments={"name": "Cube", "location": [2, 3, 5]})
    assert not calls_equivalent(box, scenario, elsewhere, absolute)
    set_a = ToolCall(name="set", arguments={"key": "a", "value": 1})
    assert not calls_equivalent(box, None, ToolCall(name="set", arguments={"key": "a", "value": 2}), set_a)
    assert not calls_equivalent(box, None, ToolCall(name="get", arguments={"key": "a"}), set_a)


def _case(kind: str, expected: list[ToolCall], reference: list[ToolCall], box: Any) -> EvalCase:
    names = {c.name for c in reference}
    return EvalCase(
        id=kind,
        kind=kind,
        source="samples",
        messages=[Message(role="user", content="compute it")],
        tools=[s for s in box.specs if s.name in names],
        expected=[ExpectedCall.exact(c) for c in expected],
        reference_calls=reference,
        multi_step=kind == "multi_step",
    )


def test_the_evaluator_reports_exact_and_equivalent_scores(box: Any) -> None:
    case = _case("single", [calc("347 * 29")], [calc("347 * 29")], box)
    backend = ScriptedBackend([qwen3.render_call(calc("29*347")), "It is 10063." + qwen3.IM_END])
    report = Evaluator(backend, "qwen3", toolbox=box).run([case])
    score = report.cases[0]
    assert score.params_ok is False and score.equivalent_ok is True
    assert report.metrics["parameter_accuracy"] == 0.0 and report.metrics["equivalent_accuracy"] == 1.0
    assert report.counts["equivalent_accuracy"] == (1, 1)


def test_multi_step_on_a_tool_without_state_needs_the_calls_and_their_results(box: Any) -> None:
    chain = [calc("2 * 21"), ToolCall(name="convert_units", arguments={"value": 42, "from_unit": "km", "to_unit": "m"})]
    case = _case("multi_step", chain[:1], chain, box)
    silent = Evaluator(ScriptedBackend(["The answer is 42000 m." + qwen3.IM_END]), "qwen3", toolbox=box)
    report = silent.run([case])
    assert report.cases[0].task_ok is False and report.metrics["multi_step_success"] == 0.0
    assert any("no call succeeded" in p for p in report.cases[0].problems)

    outputs = [qwen3.render_call(c) for c in chain] + ["42000 m." + qwen3.IM_END]
    report = Evaluator(ScriptedBackend(outputs), "qwen3", toolbox=box).run([case])
    assert report.cases[0].task_ok is True, report.cases[0].problems
    assert report.counts["multi_step_success"] == (1, 1)

    wrong = [qwen3.render_call(chain[0]), qwen3.render_call(calc("42 * 1000")), "42000 m." + qwen3.IM_END]
    report = Evaluator(ScriptedBackend(wrong), "qwen3", toolbox=box).run([case])
    assert report.cases[0].task_ok is False  # convert_units was never called
