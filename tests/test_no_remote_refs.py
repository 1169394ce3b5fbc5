"""JSON Schema validation never fetches a `$ref`: a real 127.0.0.1 HTTP server records every hit.

jsonschema's default registry retrieves http(s) `$ref`s (deprecated, no timeout), so a tool schema in
a request to `edgefabric serve` could make the server fetch any URL it can reach.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from starlette.testclient import TestClient

from edgefabric.pipeline.generate.structured import validate_reply
from edgefabric.pipeline.generate.values import clean_values
from edgefabric.runtime.formats import qwen3
from edgefabric.runtime.server import create_app
from edgefabric.schemas import ToolSpec, schema_errors
from tests.runtime.conftest import ScriptedBackend

pytestmark = pytest.mark.reliability


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = json.dumps({"type": "string"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def internal_url() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    handler = type("Handler", (_Recorder,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/internal/x.json", hits
    finally:
        server.shutdown()
        server.server_close()


def _schema(url: str) -> dict[str, Any]:
    return {"type": "object", "properties": {"city": {"$ref": url}}, "required": ["city"]}


def test_the_recorder_sees_a_plain_fetch(internal_url: tuple[str, list[str]]) -> None:
    import urllib.request

    url, hits = internal_url
    with urllib.request.urlopen(url, timeout=5) as response:
        assert json.load(response) == {"type": "string"}
    assert hits == ["/internal/x.json"]


def test_validation_reports_a_remote_ref_and_fetches_nothing(internal_url: tuple[str, list[str]]) -> None:
    url, hits = internal_url
    errors = list(schema_errors(_schema(url), {"city": "Paris"}))
    assert len(errors) == 1 and "cannot be used" in errors[0][1]
    # A relative $ref against a remote $id is a remote document too.
    based = {"$id": url.rsplit("/", 1)[0] + "/", "type": "object", "properties": {"a": {"$ref": "x.json"}}}
    assert list(schema_errors(based, {"a": 1}))
    # Local references still work.
    local = {"$defs": {"c": {"type": "string"}}, "type": "object", "properties": {"city": {"$ref": "#/$defs/c"}}}
    assert list(schema_errors(local, {"city": "Paris"})) == []
    assert [m for _, m in schema_errors(local, {"city": 3})] == ["3 is not of type 'string'"]
    assert hits == []


def test_tool_specs_refuse_remote_refs_and_argument_checks_never_fetch(internal_url: tuple[str, list[str]]) -> None:
    url, hits = internal_url
    with pytest.raises(ValueError, match="local"):
        ToolSpec(name="weather", parameters=_schema(url))
    # A spec built without validation (as from trusted code) still cannot make validation fetch.
    unchecked = ToolSpec.model_construct(name="weather", description="", parameters=_schema(url))
    assert unchecked.argument_errors({"city": "Paris"})
    assert hits == []


def test_teacher_replies_and_value_filters_never_fetch(internal_url: tuple[str, list[str]]) -> None:
    url, hits = internal_url
    from pydantic import BaseModel

    class Reply(BaseModel):
        city: str

    with pytest.raises(ValueError, match="cannot be used"):
        validate_reply('{"city": "Paris"}', _schema(url), Reply)
    assert clean_values(["Paris", "Lisbon"], {"$ref": url}) == []
    assert hits == []


def test_serve_answers_400_to_a_remote_ref_and_fetches_nothing(internal_url: tuple[str, list[str]]) -> None:
    url, hits = internal_url
    call = qwen3.CALL_START + json.dumps({"name": "weather", "arguments": {"city": "Paris"}}) + qwen3.CALL_END
    backend = ScriptedBackend([call + qwen3.IM_END])
    client = TestClient(create_app(backend, "qwen3", [], "scripted"))
    tool = {"type": "function", "function": {"name": "weather", "parameters": _schema(url)}}
    body = {"messages": [{"role": "user", "content": "weather in Paris?"}], "tools": [tool]}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert "local $refs" in response.json()["error"]["message"]
    assert hits == []
