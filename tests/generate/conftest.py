"""Fixtures for generation tests: the scripted fault-injection server and teachers pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from edgefabric.config import TeacherConfig
from edgefabric.pipeline.generate.teacher import Endpoint, Teacher
from tests.generate.teacher_server import TeacherServer


@pytest.fixture
def server() -> Iterator[TeacherServer]:
    with TeacherServer() as running:
        yield running


def make_teacher(server: TeacherServer, **config: object) -> Teacher:
    settings: dict[str, object] = {"model": "scripted", "api_base": server.url, "timeout_s": 5.0, "max_retries": 3}
    settings.update(config)
    teacher_config = TeacherConfig.model_validate(settings)
    endpoint = Endpoint(model="openai/scripted", api_base=server.url, api_key="none", label="scripted")
    return Teacher(teacher_config, endpoint, backoff_base_s=0.01)
