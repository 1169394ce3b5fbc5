"""Fixtures for generation tests: the scripted fault-injection server and teachers pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edgefabric.config import TeacherConfig
from edgefabric.pipeline.generate.teacher import Endpoint, Teacher
from tests.generate.teacher_server import TeacherServer

TOOLS_MODULE = Path(__file__).with_name("tools_module.py")
# Arguments the scripted teacher uses for the test tools: 2 + 3 gives 5, and 5 + 1 reuses that result.
TOOL_ARGUMENTS = {"add": [{"a": 2, "b": 3}, {"a": 5, "b": 1}], "shout": [{"text": "hello"}]}


@pytest.fixture(scope="session")
def sandbox_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One EDGEFABRIC_HOME for the tests that compile the test tool set, so it is compiled once."""
    return tmp_path_factory.mktemp("generate-home")


@pytest.fixture
def shared_home(sandbox_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EDGEFABRIC_HOME", str(sandbox_home))
    return sandbox_home


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
