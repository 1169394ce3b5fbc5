"""Arbitrary model output through the real agent loop (and a real sandbox session): never a crash,
every failure recorded with its reason."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgefabric.runtime.agent import Agent
from edgefabric.runtime.formats import qwen3
from edgefabric.schemas import Message, ToolCall, ToolSpec
from tests.runtime.conftest import ScriptedBackend

SET = ToolSpec(
    name="set",
    parameters={
        "type": "object",
        "properties": {"key": {"type": "string"}, "value": {"type": "string"}},
        "required": ["key", "value"],
    },
)
USER = [Message(role="user", content="remember x=1")]
FRAGMENTS = st.sampled_from(
    [
        "<tool_call>",
        "</tool_call>",
        '{"name": "set", "arguments": {"key": "k", "value": "v"}}',
        "<start_function_call>",
        "call:set{key:<escape>k<escape>}",
        "<end_function_call>",
        "<escape>",
        "{",
        "}",
        "\n",
        "<|im_end|>",
    ]
)
OUTPUTS = st.one_of(
    st.binary(max_size=300).map(lambda b: b.decode("utf-8", errors="replace")),
    st.lists(st.one_of(FRAGMENTS, st.text(max_size=20)), max_size=12).map("".join),
)


@settings(max_examples=200, deadline=None)
@given(outputs=st.lists(OUTPUTS, min_size=1, max_size=4), family=st.sampled_from(["qwen3", "functiongemma"]))
def test_any_output_ends_in_a_result_never_an_exception(outputs: list[str], family: str) -> None:
    result = Agent(ScriptedBackend(outputs), family, [SET], max_steps=3).run(USER)
    assert result.stop_reason in ("answer", "tool_call", "stop_sequence", "garbage", "empty")
    if result.stop_reason not in ("answer", "tool_call", "stop_sequence"):
        assert result.failures and all(f.reason for f in result.failures)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(outputs=st.lists(OUTPUTS, min_size=1, max_size=4), family=st.sampled_from(["qwen3", "functiongemma"]))
def test_any_output_through_a_real_sandbox_session(outputs: list[str], family: str, kv_box: Any) -> None:
    agent = Agent(ScriptedBackend(outputs), family, [SET], max_steps=3)
    with kv_box.session() as session:
        result = agent.run(USER, session)
    assert result.stop_reason in ("answer", "stop_sequence", "step_limit", "loop", "garbage", "empty")
    if result.stop_reason not in ("answer", "stop_sequence"):
        assert result.failures and all(f.reason for f in result.failures)


@pytest.mark.slow
def test_each_kind_of_failure_is_named() -> None:
    unknown = qwen3.render_call(ToolCall(name="nope", arguments={}))
    bad_args = qwen3.render_call(ToolCall(name="set", arguments={"key": 3}))
    good = qwen3.render_call(ToolCall(name="set", arguments={"key": "k", "value": "v"}))
    from edgefabric.runtime.sandbox import load_toolbox

    box = load_toolbox(["kv"])
    kinds = {}
    for name, outputs in {
        "unknown_tool": [unknown, "done"],
        "schema": [bad_args, "done"],
        "loop": [good, good],
        "parse": ['<tool_call>{"name": "set", "argu', ""],
        "step_limit": [good, good.replace('"v"', '"w"'), good.replace('"v"', '"z"')],
    }.items():
        with box.session() as session:
            result = Agent(ScriptedBackend(outputs), "qwen3", box.specs, max_steps=3).run(USER, session)
        kinds[name] = [f.kind for f in result.failures]
    assert "unknown_tool" in kinds["unknown_tool"]
    assert "schema" in kinds["schema"]
    assert "loop" in kinds["loop"]
    assert "parse" in kinds["parse"]
    assert "step_limit" in kinds["step_limit"]


def test_without_a_session_calls_are_returned_and_invalid_ones_named() -> None:
    outputs = [
        qwen3.render_call(ToolCall(name="nope", arguments={}))
        + qwen3.render_call(ToolCall(name="set", arguments={"key": "k", "value": "v"}))
    ]
    result = Agent(ScriptedBackend(outputs), "qwen3", [SET]).run(USER)
    assert result.stop_reason == "tool_call" and [c.name for c in result.first_calls] == ["nope", "set"]
    assert [f.kind for f in result.failures] == ["unknown_tool"]
    assert all(ex.ok is None for ex in result.executed)
