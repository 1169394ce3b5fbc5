"""The teacher client against injected faults: retries, Retry-After, timeouts, re-validation, the global limit."""

from __future__ import annotations

import asyncio
import time

import pytest

from edgefabric.pipeline.generate import prompts
from edgefabric.pipeline.generate.structured import StructuredReplyError, extract_json
from edgefabric.pipeline.generate.teacher import TeacherError, retry_after_seconds
from tests.generate.conftest import make_teacher
from tests.generate.teacher_server import Fault, TeacherServer

HELLO = [{"role": "user", "content": "hello"}]


async def test_429_is_retried_after_the_time_retry_after_asks(server: TeacherServer) -> None:
    server.faults.append(Fault(status=429, retry_after=1))
    teacher = make_teacher(server)
    started = time.monotonic()
    text = await teacher.complete(HELLO)
    assert text
    assert time.monotonic() - started >= 1.0  # the backoff alone would be 0.01 s
    assert len(server.requests) == 2
    assert teacher.usage.retries == 1


async def test_5xx_are_retried_with_backoff(server: TeacherServer) -> None:
    server.faults.extend([Fault(status=500), Fault(status=503), Fault(status=502)])
    teacher = make_teacher(server)
    assert await teacher.complete(HELLO)
    assert len(server.requests) == 4
    assert teacher.usage.retries == 3
    assert teacher.usage.calls == 4


async def test_a_slow_reply_times_out_and_is_retried(server: TeacherServer) -> None:
    server.faults.append(Fault(delay_s=3))
    teacher = make_teacher(server, timeout_s=1.0)
    started = time.monotonic()
    assert await teacher.complete(HELLO)
    assert teacher.usage.retries == 1
    assert time.monotonic() - started < 3  # the slow reply was abandoned, not awaited


async def test_out_of_retries_is_a_teacher_error_naming_the_fix(server: TeacherServer) -> None:
    server.faults.extend([Fault(status=500)] * 3)
    teacher = make_teacher(server, max_retries=2)
    with pytest.raises(TeacherError) as info:
        await teacher.complete(HELLO)
    assert "after 3 tries" in info.value.problem
    assert "max_retries" in (info.value.fix or "")
    assert len(server.requests) == 3


async def test_a_client_error_is_not_retried(server: TeacherServer) -> None:
    server.faults.append(Fault(status=400))
    teacher = make_teacher(server)
    with pytest.raises(TeacherError) as info:
        await teacher.complete(HELLO)
    assert "teacher.model" in (info.value.fix or "")
    assert len(server.requests) == 1


async def test_truncated_json_is_asked_for_again(server: TeacherServer) -> None:
    server.faults.append(Fault(truncate=True))
    teacher = make_teacher(server)
    reply = await teacher.structured(HELLO, prompts.REQUEST_SCHEMA, prompts.RequestReply)
    assert len(reply.request) >= 8
    assert teacher.usage.invalid_replies == 1
    # The second request shows the teacher its bad reply and the reason.
    assert "not usable" in server.requests[1]["messages"][-1]["content"]


async def test_wrong_schema_every_time_is_a_structured_error(server: TeacherServer) -> None:
    server.faults.extend([Fault(wrong_schema=True)] * 3)
    teacher = make_teacher(server)
    with pytest.raises(StructuredReplyError) as info:
        await teacher.structured(HELLO, prompts.REQUEST_SCHEMA, prompts.RequestReply, name="user request")
    assert "user request" in info.value.problem
    assert "request" in info.value.problem  # names the missing field
    assert teacher.usage.invalid_replies == 3


async def test_numeric_bounds_are_checked_even_when_the_grammar_ignores_them(server: TeacherServer) -> None:
    from pydantic import BaseModel

    class Count(BaseModel):
        n: int

    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 5}}, "required": ["n"]}
    server.script.responder = lambda s, body: {"n": 1} if len(server.requests) == 1 else {"n": 7}
    teacher = make_teacher(server)
    assert (await teacher.structured(HELLO, schema, Count)).n == 7
    assert teacher.usage.invalid_replies == 1


async def test_llama_cpp_style_response_format_and_token_accounting(server: TeacherServer) -> None:
    teacher = make_teacher(server)
    await teacher.structured(HELLO, prompts.REQUEST_SCHEMA, prompts.RequestReply)
    sent = server.requests[0]["response_format"]
    assert sent == {"type": "json_object", "schema": prompts.REQUEST_SCHEMA}
    assert (teacher.usage.prompt_tokens, teacher.usage.completion_tokens) == (11, 7)


async def test_concurrency_is_one_global_limit(server: TeacherServer) -> None:
    server.delay_s = 0.2
    teacher = make_teacher(server, concurrency=2)
    await asyncio.gather(*(teacher.complete(HELLO) for _ in range(6)))
    assert server.max_in_flight == 2


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    class Response:
        def __init__(self, value: str) -> None:
            self.headers = {"retry-after": value}

    class Failure(Exception):
        def __init__(self, value: str) -> None:
            self.response = Response(value)

    assert retry_after_seconds(Failure("2.5")) == 2.5
    assert retry_after_seconds(Failure("Wed, 21 Oct 2015 07:28:00 GMT")) == 0.0  # in the past
    assert retry_after_seconds(Exception("no headers")) is None


def test_json_is_found_inside_prose_and_cut_json_is_named() -> None:
    assert extract_json('Sure! ```json\n{"a": {"b": 1}}\n```') == {"a": {"b": 1}}
    with pytest.raises(ValueError, match="cut off"):
        extract_json('{"a": ')


def test_schemas_sent_to_llama_cpp_avoid_what_its_grammar_rejects() -> None:
    import json

    from llama_cpp import LlamaGrammar

    from edgefabric.pipeline.generate.structured import grammar_safe

    schema = {
        "type": "object",
        "properties": {
            "point": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}]},
            "tags": {"type": "array"},
            "note": {"type": "string", "maxLength": 4000},
            "unit": {"enum": ["km", "mi"]},
        },
    }
    safe = grammar_safe(schema)
    assert "prefixItems" not in json.dumps(safe) and "maxLength" not in json.dumps(safe)
    assert safe["properties"]["unit"] == {"enum": ["km", "mi"]}
    LlamaGrammar.from_json_schema(json.dumps(safe), verbose=False)  # raised KeyError before


async def test_replicas_share_the_requests_least_busy_first() -> None:
    """The embedded teacher runs one single-threaded server per free core: with two bases and two
    requests at a time, each server holds one request at a time and gets half of them."""
    from edgefabric.config import TeacherConfig
    from edgefabric.pipeline.generate.teacher import Endpoint, Teacher

    with TeacherServer(delay_s=0.2) as first, TeacherServer(delay_s=0.2) as second:
        config = TeacherConfig(model="scripted", api_base=first.url, concurrency=2, timeout_s=5.0)
        endpoint = Endpoint(model="openai/scripted", api_base=first.url, api_key="none", replicas=(second.url,))
        teacher = Teacher(config, endpoint, backoff_base_s=0.01)
        await asyncio.gather(*(teacher.complete(HELLO) for _ in range(6)))
    assert len(first.requests) == 3 and len(second.requests) == 3
    assert first.max_in_flight == 1 and second.max_in_flight == 1


def test_replica_count_one_single_threaded_server_per_free_core() -> None:
    from edgefabric.pipeline.generate.local_server import replica_count

    assert replica_count(2, physical_cores=2, load=0.1, threads_per_server=1) == 2
    assert replica_count(4, physical_cores=2, load=0.0, threads_per_server=1) == 2  # never more than the cores
    assert replica_count(2, physical_cores=2, load=1.3, threads_per_server=1) == 1  # a busy core is not free
    assert replica_count(2, physical_cores=2, load=5.0, threads_per_server=1) == 1  # at least one
    assert replica_count(8, physical_cores=16, load=0.0, threads_per_server=15) == 1  # big machines: one wide server
