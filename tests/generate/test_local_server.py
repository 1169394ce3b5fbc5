"""The embedded teacher's server: started on a free loopback port, answers structured requests
through litellm, stops cleanly, and a crash under us is reported with its log."""

from __future__ import annotations

import httpx
import pytest

from edgefabric.config import TeacherConfig
from edgefabric.pipeline.generate import prompts
from edgefabric.pipeline.generate.local_server import LocalTeacherServer
from edgefabric.pipeline.generate.teacher import Teacher
from edgefabric.runtime.models import resolve_gguf


@pytest.mark.slow
async def test_the_local_server_serves_the_embedded_teacher_and_stops() -> None:
    server = LocalTeacherServer(resolve_gguf("embedded:smollm2-135m"), n_ctx=1024)
    server.start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        teacher = Teacher(TeacherConfig(max_tokens=48, temperature=0.0), server.endpoint("embedded:smollm2-135m"))
        reply = await teacher.structured(
            prompts.chat('Write a question about adding two numbers. Reply as JSON: {"request": "..."}'),
            prompts.REQUEST_SCHEMA,
            prompts.RequestReply,
        )
        assert len(reply.request) >= 8
        assert teacher.usage.completion_tokens > 0
        assert server.crashed() is None
        process = server._process
        assert process is not None
        process.kill()
        process.wait(10)
        assert "exit code" in (server.crashed() or "")
    finally:
        url = server.url
        server.stop()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/models", timeout=2)
