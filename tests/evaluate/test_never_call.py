"""A model that never calls a tool scores 0 on every metric but irrelevance, and the report says what
such a model scores (the no-call baseline). The stand-in is a real one: the embedded Gemma 3 270M
base GGUF through the project's runtime, which knows no call syntax."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgefabric.pipeline.evaluate.cases import case_from_sample
from edgefabric.pipeline.evaluate.report import render_report, save_report
from edgefabric.pipeline.evaluate.runner import Evaluator
from edgefabric.schemas import Message, Sample, SampleMetadata, ToolCall

pytestmark = pytest.mark.slow


def _sample(kind: str, ask: str, calls: list[list[ToolCall]], tools: list[Any]) -> Sample:
    messages = [Message(role="user", content=ask)]
    for turn, batch in enumerate(calls):
        for i, call in enumerate(batch):
            call.id = f"c{turn}{i}"
        messages.append(Message(role="assistant", tool_calls=batch))
        messages += [Message(role="tool", name=c.name, tool_call_id=c.id, content="{}") for c in batch]
    messages.append(Message(role="assistant", content="Done."))
    return Sample(messages=messages, tools=tools, metadata=SampleMetadata(kind=kind))  # type: ignore[arg-type]


def test_a_model_that_never_calls_scores_zero_except_irrelevance(tmp_path: Path) -> None:
    from rich.console import Console

    from edgefabric.runtime.backends import load_backend
    from edgefabric.runtime.sandbox import load_toolbox

    box = load_toolbox(["math", "kv"])
    tools = box.specs

    def call(name: str, **arguments: Any) -> ToolCall:
        return ToolCall(name=name, arguments=arguments)

    samples = [
        _sample("single", "What is 29 times 347?", [[call("calculate", expression="29*347")]], tools),
        _sample(
            "parallel",
            "Convert 5 km to miles and 3 kg to pounds.",
            [
                [
                    call("convert_units", value=5, from_unit="km", to_unit="mi"),
                    call("convert_units", value=3, from_unit="kg", to_unit="lb"),
                ]
            ],
            tools,
        ),
        _sample(  # math keeps no state: the case the old state-only check passed without a call
            "multi_step",
            "Compute 6*7, then convert that many km to miles.",
            [[call("calculate", expression="6*7")], [call("convert_units", value=42, from_unit="km", to_unit="mi")]],
            tools,
        ),
        _sample(
            "multi_step",
            "Store colour=blue, then read it back.",
            [[call("set", key="colour", value="blue")], [call("get", key="colour")]],
            tools,
        ),
        _sample("no_call", "Say hello.", [], tools),
        _sample("no_call", "Thanks, that is all.", [], tools),
    ]
    cases = [case_from_sample(s) for s in samples]
    backend = load_backend("embedded:gemma3-270m", profile="laptop")
    try:
        report = Evaluator(backend, "functiongemma", toolbox=box, max_steps=2, max_tokens=24).run(
            cases, model="embedded:gemma3-270m"
        )
    finally:
        backend.close()

    assert all(case.calls_made == 0 for case in report.cases), [c.raw_output for c in report.cases]
    zero = {k: v for k, v in report.metrics.items() if k != "irrelevance_accuracy"}
    assert zero == dict.fromkeys(zero, 0.0), report.metrics  # measured, and 0: never n/a, never 100%
    assert report.metrics["irrelevance_accuracy"] == 1.0
    assert report.counts["irrelevance_accuracy"] == (2, 2) and report.counts["multi_step_success"] == (0, 2)
    assert report.overall == report.baseline["overall"] == 2 / 6
    assert "no-call baseline (33.3%)" in report.summary and "+0.0 points" in report.summary
    # The base model never ends its turn: its cases end at the cap, never as an "answer".
    assert {case.stop_reason for case in report.cases} <= {"length", "garbage", "empty", "stop_sequence"}

    path = save_report(report, tmp_path / "report.json")
    data = json.loads(path.read_text())
    assert data["baseline"]["overall"] == 2 / 6 and data["counts"]["parameter_accuracy"] == [0, 4]
    console = Console(width=160, record=True)  # `pytest -s` shows the report
    console.print(render_report(report))
    text = console.export_text()
    assert "no-call baseline" in text and "0/2" in text and "2/2" in text
