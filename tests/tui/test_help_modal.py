"""The help modal on its own, in a small host app."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Static

from edgefabric.tui.screens.help import HelpScreen


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("host")


async def test_help_modal_shows_the_rows_and_closes_on_escape() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(HelpScreen([("ctrl+s", "Save config", "project.save")]))
        await pilot.pause()
        text = "\n".join(str(w.render()) for w in app.screen.query(Static))
        assert "2 Generate" in text
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
