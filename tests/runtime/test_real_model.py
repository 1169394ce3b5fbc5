"""The agent loop, the OpenAI-compatible server and `edgefabric chat` with the real embedded SmolLM2 GGUF.

An untuned 135M model rarely calls tools by itself; constrained decoding (a grammar built
from the tool schemas) makes it write a valid call deterministically (greedy decoding).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from edgefabric.runtime.agent import Agent
from edgefabric.schemas import Message
from tests.runtime.conftest import ScriptedBackend

pytestmark = pytest.mark.slow
ASK = [Message(role="user", content="Remember that my favourite colour is blue.")]


def test_constrained_call_is_valid_and_runs_in_the_sandbox(smollm: Any, kv_box: Any) -> None:
    agent = Agent(smollm, "qwen3", kv_box.specs, max_steps=1, max_tokens=48, constrain="required", max_calls=1)
    with kv_box.session() as session:
        result = agent.run(ASK, session)
        state = session.state()
    assert len(result.first_calls) == 1, result.raw_output
    executed = result.executed[0]
    assert executed.ok, executed.content
    assert (
        kv_box.specs[[s.name for s in kv_box.specs].index(executed.call.name)].argument_errors(executed.call.arguments)
        == []
    )
    assert state.get("kv"), state  # the call really changed the sandbox's state
    assert result.time_to_first_token_s is not None and result.time_to_first_call_s is not None
    assert result.completion_tokens > 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(backend: Any, family: str, tools: list[Any]) -> Iterator[str]:
    import uvicorn

    from edgefabric.runtime.server import create_app

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(backend, family, tools, "test-model"), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(url + "/health", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server_url(smollm: Any, kv_box: Any) -> Iterator[str]:
    yield from _serve(smollm, "qwen3", kv_box.specs)


def test_server_returns_openai_tool_calls(server_url: str, kv_box: Any) -> None:
    body = {
        "model": "test-model",
        "messages": [{"role": "user", "content": ASK[0].content}],
        "tools": [s.to_openai() for s in kv_box.specs],
        "tool_choice": "required",
        "max_tokens": 48,
    }
    reply = httpx.post(server_url + "/v1/chat/completions", json=body, timeout=600).json()
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "tool_calls", reply
    call = choice["message"]["tool_calls"][0]
    assert call["type"] == "function" and call["function"]["name"] in {s.name for s in kv_box.specs}
    assert isinstance(json.loads(call["function"]["arguments"]), dict)
    assert reply["usage"]["completion_tokens"] > 0 and reply["edgefabric"]["malformed"] is False


def test_server_streams_text(server_url: str) -> None:
    body = {
        "messages": [{"role": "user", "content": "Say hello."}],
        "stream": True,
        "max_tokens": 6,
        "tool_choice": "none",
    }
    chunks = []
    with httpx.stream("POST", server_url + "/v1/chat/completions", json=body, timeout=600) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunks.append(json.loads(line[6:]))
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text.strip() and chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")


def test_server_flags_malformed_output_and_rejects_bad_requests() -> None:
    garbage = '<tool_call>{"name": "set", "arguments": {"key": \x00 oops'
    for url in _serve(ScriptedBackend([garbage, garbage]), "qwen3", []):
        reply = httpx.post(url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}).json()
        assert reply["edgefabric"]["malformed"] is True and reply["edgefabric"]["errors"]
        assert reply["choices"][0]["message"]["content"].startswith("<tool_call>")
        body = {"messages": [{"role": "user", "content": "x"}], "stream": True}
        with httpx.stream("POST", url + "/v1/chat/completions", json=body) as response:
            last = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")][-1]
        assert last["edgefabric"]["malformed"] is True
        assert httpx.post(url + "/v1/chat/completions", content=b"{not json").status_code == 400
        assert httpx.post(url + "/v1/chat/completions", json={"messages": []}).status_code == 400


def test_chat_command_answers_with_a_real_tool_call() -> None:
    from typer.testing import CliRunner

    from edgefabric.cli import app

    result = CliRunner().invoke(
        app,
        [
            "chat",
            "embedded:smollm2-135m",
            "--tools",
            "kv",
            "--constrained",
            "required",
            "--max-steps",
            "1",
            "--max-tokens",
            "48",
            "-m",
            ASK[0].content,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "tool set(" in result.output and "-> ok" in result.output, result.output
