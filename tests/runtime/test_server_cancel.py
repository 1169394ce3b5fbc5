"""A client that disconnects frees the model: its generation stops, and the next request is served at once."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from edgefabric.runtime.server import create_app

pytestmark = pytest.mark.reliability

LONG = {
    "messages": [{"role": "user", "content": "Write a very long story about a dragon, with many chapters."}],
    "max_tokens": 3000,
}
SHORT = {"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 4}


@pytest.fixture(scope="module")
def served(smollm: Any) -> Iterator[tuple[str, Any]]:
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    app = create_app(smollm, "qwen3", [], "smollm")
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(url + "/health", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    yield url, app.state.chat
    server.should_exit = True
    thread.join(timeout=10)


def _wait_cancelled(chat: Any, count: int) -> None:
    deadline = time.monotonic() + 30
    while chat.cancelled < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert chat.cancelled == count, "the generation kept running after its client left"


def _short_request_s(url: str) -> float:
    started = time.monotonic()
    reply = httpx.post(url + "/v1/chat/completions", json=SHORT, timeout=120)
    assert reply.status_code == 200
    return time.monotonic() - started


@pytest.mark.slow
def test_a_dropped_stream_stops_its_generation(served: tuple[str, Any]) -> None:
    url, chat = served
    before = chat.cancelled
    with httpx.stream("POST", url + "/v1/chat/completions", json={**LONG, "stream": True}, timeout=120) as response:
        pieces = 0
        for line in response.iter_lines():
            if line.startswith("data: {") and '"content"' in line:
                pieces += 1
            if pieces >= 4:
                break  # leaving the block closes the connection mid-generation
    _wait_cancelled(chat, before + 1)
    assert _short_request_s(url) < 30


@pytest.mark.slow
def test_a_client_that_times_out_stops_its_generation(served: tuple[str, Any]) -> None:
    url, chat = served
    before = chat.cancelled
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url + "/v1/chat/completions", json=LONG, timeout=httpx.Timeout(120, read=1.5))
    _wait_cancelled(chat, before + 1)
    assert _short_request_s(url) < 30
