"""Quitting while a stage runs says what the app waits for and does not wait out a long unit of work
(issue 15, problem 3), and every screen shows what runs. The stage is the real generation stage; its
teacher is a real HTTP server on 127.0.0.1 that answers only after a minute (the fault: a slow teacher
call in flight)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from textual.widgets import Static

from edgefabric.config import ProjectConfig
from edgefabric.tui.app import QUIT_GRACE_S, FabricApp
from edgefabric.tui.project import Project
from edgefabric.tui.screens.quitting import QuittingScreen
from edgefabric.tui.settings import TuiSettings
from edgefabric.tui.widgets import JobIndicator
from tests.generate.teacher_server import TeacherServer
from tests.tui.conftest import make_app, wait_until


def slow_teacher_project(folder: Path, server: TeacherServer) -> FabricApp:
    config = ProjectConfig(name="quit")
    config.teacher.model = "scripted"
    config.teacher.api_base = server.url
    config.teacher.timeout_s = 120
    config.tools.builtin = ["math"]
    Project(folder).create(config)
    return FabricApp(folder, settings=TuiSettings())


async def test_every_screen_names_the_stage_that_runs(project_dir: Path, shared_home: Path) -> None:
    with TeacherServer(delay_s=60) as server:
        app = slow_teacher_project(project_dir, server)
        async with app.run_test(size=(120, 32)) as pilot:
            await pilot.press("3")
            jobs = app.screen.query_one(JobIndicator)
            assert "running" not in str(jobs.render()) and not jobs.display
            await pilot.press("2", "s")
            await wait_until(pilot, lambda: server.in_flight >= 1, timeout=300, what="the first teacher call")
            await pilot.press("3")  # the Train screen, idle itself
            jobs = app.screen.query_one(JobIndicator)
            await wait_until(pilot, lambda: "● Generate running" in str(jobs.render()), timeout=30, what="the note")
            await pilot.press("ctrl+q")  # quits within the grace; the teacher call is left to the process's end
            asked = time.monotonic()
            while app.is_running and time.monotonic() - asked < 60:
                await asyncio.sleep(0.05)
        assert not app.is_running


async def test_quitting_during_generation_names_the_stage_and_does_not_wait_for_its_unit(
    project_dir: Path, shared_home: Path
) -> None:
    with TeacherServer(delay_s=60) as server:
        app = slow_teacher_project(project_dir, server)
        async with app.run_test(size=(100, 32)) as pilot:
            await pilot.press("2", "s")
            await wait_until(pilot, lambda: server.in_flight >= 1, timeout=300, what="the first teacher call")
            await pilot.press("ctrl+q")
            await pilot.pause()
            assert isinstance(app.screen, QuittingScreen)
            text = str(app.screen.query_one("#quitting", Static).render())
            assert "waiting for Generate to stop at its next unit" in text and "on disk" in text
            asked = time.monotonic()
            while app.is_running and time.monotonic() - asked < 60:
                await asyncio.sleep(0.05)
        assert not app.is_running
        # The teacher call was still in flight: the app ended without waiting for the unit, and the
        # stage's thread is left to the process's end (fabric-tui then exits at once).
        assert server.in_flight >= 1
        assert [job.title for job in app.jobs.running()] == ["Generate"]
    assert QUIT_GRACE_S <= 3


async def test_quitting_with_nothing_running_quits_at_once(project_dir: Path) -> None:
    app = make_app(project_dir)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert not app.is_running
