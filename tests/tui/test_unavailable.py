"""A stage missing from the build: its screen says so, and the rest of the app works."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from edgefabric.tui import stages
from edgefabric.tui.stages import StageEntry
from tests.tui.conftest import make_app


async def test_missing_stage_shows_the_panel_and_keeps_the_app_usable(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(stages.STAGES, "train", StageEntry("train", "edgefabric.no_such_stage", "train"))
    app = make_app(project_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await pilot.pause()
        panel = str(app.screen.query_one("#unavailable", Static).render())
        assert "The Train stage is not available in this build." in panel
        assert "edgefabric.no_such_stage" in panel
        assert not app.screen.query("#loss-plot")
        assert app.screen.check_action("start", ()) is False
        await pilot.press("s")
        await pilot.press("1")
        await pilot.pause()
        assert type(app.screen).__name__ == "ProjectScreen"


def test_entry_without_the_function_names_it() -> None:
    reason = StageEntry("x", "edgefabric.config", "no_such_function").unavailable_reason()
    assert reason == "edgefabric.config has no no_such_function()."
    assert StageEntry("x", "edgefabric.config", "load_config").unavailable_reason() is None
