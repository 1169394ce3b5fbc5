"""Why a reply ended: answer, tool_call, length (the token cap) and stop_sequence, in the agent loop and
in the OpenAI-compatible server's finish_reason."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from edgefabric.runtime.agent import Agent
from edgefabric.runtime.formats import functiongemma, qwen3
from edgefabric.runtime.server import create_app
from edgefabric.schemas import Message, ToolCall, ToolSpec
from tests.runtime.conftest import ScriptedBackend

SET = ToolSpec(
    name="set",
    parameters={"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]},
)
USER = [Message(role="user", content="hello")]
RAMBLE = " ".join(["word"] * 40)  # 40 tokens for the scripted backend


def test_a_reply_ended_by_the_turn_is_an_answer() -> None:
    result = Agent(ScriptedBackend(["Hi there." + qwen3.IM_END]), "qwen3", [SET]).run(USER)
    assert result.stop_reason == "answer" and result.final_text == "Hi there."


def test_a_reply_cut_by_the_token_cap_is_length_not_answer() -> None:
    result = Agent(ScriptedBackend([RAMBLE]), "qwen3", [SET], max_tokens=16).run(USER)
    assert result.stop_reason == "length"
    assert result.steps[-1].stats.finish_reason == "length"
    assert [f.kind for f in result.failures] == ["length"]
    assert "token cap" in result.stop_detail and "16 tokens" in result.stop_detail


def test_calls_handed_to_the_caller_are_tool_call() -> None:
    output = qwen3.render_call(ToolCall(name="set", arguments={"key": "k"}))
    result = Agent(ScriptedBackend([output]), "qwen3", [SET]).run(USER)
    assert result.stop_reason == "tool_call"


def test_a_stop_string_that_is_not_the_turn_end_is_stop_sequence() -> None:
    # FunctionGemma: text, then the model starts writing a tool response itself.
    output = "Let me look." + functiongemma.RESPONSE_START + "response:set{}"
    result = Agent(ScriptedBackend([output]), "functiongemma", [SET]).run(USER)
    assert result.stop_reason == "stop_sequence"
    assert result.stop_detail == f"stop_sequence ({functiongemma.RESPONSE_START})"
    ended = Agent(ScriptedBackend(["Done." + functiongemma.END_TURN]), "functiongemma", [SET]).run(USER)
    assert ended.stop_reason == "answer"


def test_server_finish_reason_is_length_when_the_cap_is_hit() -> None:
    backend = ScriptedBackend([RAMBLE, "Short." + qwen3.IM_END, RAMBLE])
    client = TestClient(create_app(backend, "qwen3", [], "scripted"))
    body = {"messages": [{"role": "user", "content": "x"}], "max_tokens": 8}
    capped = client.post("/v1/chat/completions", json=body).json()
    assert capped["choices"][0]["finish_reason"] == "length"
    assert capped["edgefabric"]["stop_reason"] == "length"
    assert capped["usage"]["completion_tokens"] == 8
    short = client.post("/v1/chat/completions", json=body).json()
    assert short["choices"][0]["finish_reason"] == "stop" and short["edgefabric"]["stop_reason"] == "answer"
    with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: {")]
    assert json.loads(lines[-1][6:])["choices"][0]["finish_reason"] == "length"
