"""A long silent phase (the teacher starting, the sandbox building, a model loading) is named in the
screen's status line while it lasts, with the stop key (issue 15, problem 6: 51 s of "running…")."""

from __future__ import annotations

import threading
from pathlib import Path

from textual.widgets import Static

from edgefabric.events import PhaseStarted
from edgefabric.tui.bridge import TextualSink
from edgefabric.tui.screens.base import StageScreen
from tests.tui.conftest import make_app, settle, wait_until


async def test_a_long_phase_is_named_in_the_status_line(project_dir: Path) -> None:
    app = make_app(project_dir)
    release = threading.Event()

    def call(sink: TextualSink) -> None:
        sink(PhaseStarted("generate", "starting the teacher (embedded:smollm2-135m)"))
        release.wait(30)

    def status() -> str:
        return str(app.screen.query_one("#status", Static).render())

    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StageScreen)
        screen.start(call)
        await wait_until(pilot, lambda: "starting the teacher" in status(), timeout=30, what="the phase shown")
        assert "Generate starting the teacher (embedded:smollm2-135m)…" in status() and "stops" in status()
        release.set()
        await settle(app, pilot)
        assert "Generate done" in status()
