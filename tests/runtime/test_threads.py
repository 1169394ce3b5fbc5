"""The thread policy as a pure function of core count, load, profile cap and override."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgefabric.runtime import threads
from edgefabric.runtime.profiles import PROFILES
from edgefabric.runtime.threads import OVERRIDE_ENV, default_reserve, plan_threads


@pytest.mark.parametrize("cores", [1, 2, 3, 4, 8, 16, 64])
@pytest.mark.parametrize("load", [0.0, 0.4, 1.0, 1.7, 3.0, 100.0])
@pytest.mark.parametrize("cap", [None, 1, 4, 8, 16])
def test_never_more_than_physical_cores_minus_reserve(cores: int, load: float, cap: int | None) -> None:
    plan = plan_threads(cores, load=load, cap=cap)
    limit = max(1, cores - default_reserve(cores))
    assert 1 <= plan.generation <= limit
    assert 1 <= plan.batch <= limit
    if cap is not None:
        assert plan.generation <= cap
    assert plan.source == "policy"


def test_two_cores_leave_one_free_even_when_idle() -> None:
    # The measured case: 2 cores, 2 threads collapse to 0.5 tokens/s when another process takes a core.
    assert plan_threads(2, load=0.0).generation == 1
    assert plan_threads(2, load=5.0).generation == 1
    assert plan_threads(1, load=3.0).generation == 1


def test_load_takes_whole_cores_away() -> None:
    assert plan_threads(8, load=0.0).generation == 7
    assert plan_threads(8, load=0.9).generation == 7
    assert plan_threads(8, load=2.9).generation == 5
    assert plan_threads(8, load=3.0).generation == 4
    assert plan_threads(8, load=30.0).generation == 1
    assert plan_threads(16, load=0.0).generation == 14  # reserve 2 on 16 cores


def test_override_wins_over_everything() -> None:
    plan = plan_threads(2, load=50.0, cap=1, override=6)
    assert (plan.generation, plan.batch, plan.source) == (6, 6, "override")
    with pytest.raises(ValueError):
        plan_threads(4, override=0)


def test_profiles_never_ask_for_more_than_the_machine_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OVERRIDE_ENV, "")
    monkeypatch.setattr(threads, "machine_cores", lambda: 2)
    monkeypatch.setattr(threads, "current_load", lambda: 0.0)
    for profile in PROFILES.values():
        assert profile.thread_plan().generation == 1
        assert profile.effective_threads() == 1
    monkeypatch.setattr(threads, "machine_cores", lambda: 32)
    assert PROFILES["phone"].effective_threads() == 4  # the profile's cap still holds on a big machine
    assert PROFILES["desktop"].effective_threads() == 16


def test_environment_override_reaches_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OVERRIDE_ENV, "3")
    assert PROFILES["phone"].thread_plan().generation == 3
    monkeypatch.setenv(OVERRIDE_ENV, "0")
    with pytest.raises(ValueError):
        threads.env_override()


def test_machine_facts_are_in_range() -> None:
    import os

    assert 1 <= threads.machine_cores() <= (os.cpu_count() or 1)
    # Others' CPU use, sampled: never negative, never (much) more than every logical CPU busy.
    assert 0.0 <= threads.current_load(0.1) <= (os.cpu_count() or 1) + 0.5


def test_teacher_server_takes_the_policy_and_the_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from edgefabric.pipeline.generate.local_server import LocalTeacherServer

    monkeypatch.setenv(OVERRIDE_ENV, "")
    monkeypatch.setattr(threads, "machine_cores", lambda: 8)
    monkeypatch.setattr(threads, "current_load", lambda: 2.0)
    server = LocalTeacherServer(tmp_path / "x.gguf")  # nothing starts until start()
    assert (server.n_threads, server.n_threads_batch) == (5, 5)
    assert LocalTeacherServer(tmp_path / "x.gguf", n_threads=3).n_threads == 3
    monkeypatch.setenv(OVERRIDE_ENV, "2")
    assert LocalTeacherServer(tmp_path / "x.gguf").n_threads == 2


@pytest.mark.slow
def test_the_llama_cpp_backend_applies_the_plan(smollm: Any) -> None:
    assert smollm.threads.source in ("policy", "override")
    assert (smollm.llm.n_threads, smollm.llm.n_threads_batch) == (smollm.threads.generation, smollm.threads.batch)
    assert smollm.threads.generation <= max(1, threads.machine_cores() - default_reserve(threads.machine_cores()))
