"""The server's bad-request set: bad input is a 400 (413 when too large) with a clear message, never a 500,
and a prompt over the context is an error as in OpenAI's API, not an empty 200."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from edgefabric.runtime.formats import qwen3
from edgefabric.runtime.server import create_app
from tests.runtime.conftest import ScriptedBackend

pytestmark = pytest.mark.reliability

USER = [{"role": "user", "content": "hi"}]


def _client(outputs: list[str] | None = None, **kwargs: Any) -> tuple[TestClient, ScriptedBackend]:
    backend = ScriptedBackend(outputs if outputs is not None else ["Hello." + qwen3.IM_END])
    return TestClient(create_app(backend, "qwen3", [], "scripted", **kwargs), raise_server_exceptions=False), backend


def _post_raw(client: TestClient, raw: bytes) -> Any:
    return client.post("/v1/chat/completions", content=raw, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (
            b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1e400}',
            "max_tokens must be a whole number",
        ),
        (b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2.5}', "max_tokens must be a whole number"),
        (b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": "9"}', "max_tokens must be an integer"),
        (b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}', "max_tokens must be at least 1"),
        (
            b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": null,'
            b' "tool_calls": [{"id": "1", "type": "function", "function": "add(1, 2)"}]}]}',
            "function must be an object",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "nests deeper than"),
        (b'{"messages": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_001, "nests deeper than"),
        (b'{"messages": [{"role": "user", "content": [{"text": 5}]}]}', "bad request"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_bad_requests_are_400_with_a_message(raw: bytes, needle: str) -> None:
    client, backend = _client()
    response = _post_raw(client, raw)
    assert response.status_code == 400, response.text[:300]
    error = response.json()["error"]
    assert needle in error["message"] and error["type"] == "invalid_request_error"
    assert backend.prompts == []  # nothing was generated


def test_max_tokens_zero_generates_nothing_and_one_is_honoured() -> None:
    client, backend = _client(["one two three four" + qwen3.IM_END])
    assert client.post("/v1/chat/completions", json={"messages": USER, "max_tokens": 0}).status_code == 400
    assert backend.prompts == []
    reply = client.post("/v1/chat/completions", json={"messages": USER, "max_tokens": 1}).json()
    assert reply["usage"]["completion_tokens"] == 1 and reply["choices"][0]["finish_reason"] == "length"


def test_a_body_over_the_limit_is_413_and_a_declared_length_is_checked_first() -> None:
    client, backend = _client(max_body_bytes=10_000)
    big = json.dumps({"messages": [{"role": "user", "content": "x" * 20_000}]}).encode()
    response = _post_raw(client, big)
    assert response.status_code == 413 and "limit" in response.json()["error"]["message"]
    streamed = client.post(
        "/v1/chat/completions", content=iter([big[:5000], big[5000:]]), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert backend.prompts == []
    ok = client.post("/v1/chat/completions", json={"messages": USER})
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"] == "Hello."


def _assert_context_length_exceeded(response: Any) -> None:
    assert response.status_code == 400, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")  # an error object, no event stream
    error = response.json()["error"]
    assert error["code"] == "context_length_exceeded" and "context" in error["message"]
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize("stream", [False, True])
def test_a_prompt_over_the_context_is_400_before_any_stream_starts(stream: bool) -> None:
    backend = ScriptedBackend(["Hello." + qwen3.IM_END] * 2, context=50)
    client = TestClient(create_app(backend, "qwen3", [], "scripted"), raise_server_exceptions=False)
    long = [{"role": "user", "content": " ".join(["word"] * 60)}]
    _assert_context_length_exceeded(client.post("/v1/chat/completions", json={"messages": long, "stream": stream}))
    # A prompt that fits still streams (or answers) as before.
    reply = client.post("/v1/chat/completions", json={"messages": USER, "stream": stream})
    assert reply.status_code == 200
    if stream:
        events = [line[6:] for line in reply.text.splitlines() if line.startswith("data: ")]
        assert events[-1] == "[DONE]"
        text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events[:-1])
        assert text == "Hello."
    else:
        assert reply.json()["choices"][0]["message"]["content"] == "Hello."


@pytest.mark.slow
@pytest.mark.parametrize("stream", [False, True])
def test_a_prompt_over_the_real_context_is_400_context_length_exceeded(smollm: Any, stream: bool) -> None:
    client = TestClient(create_app(smollm, "qwen3", [], "smollm"), raise_server_exceptions=False)
    long = " ".join(["word"] * 6000)  # the laptop profile's context is 4096 tokens
    body = {"messages": [{"role": "user", "content": long}], "stream": stream}
    _assert_context_length_exceeded(client.post("/v1/chat/completions", json=body))
