"""The help modal on its own, in a small host app."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from textual.app import App, ComposeResult
from textual.widgets import Static

from edgefabric.tui.screens.help import HelpScreen
from tests.tui.conftest import make_app


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("host")


async def test_help_modal_shows_the_rows_and_closes_on_escape() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(
            HelpScreen(
                [("Everywhere", [("ctrl+q", "Quit", "app.quit")]), ("Project", [("ctrl+s", "Save", "project.save")])]
            )
        )
        await pilot.pause()
        console = Console(record=True, width=96)
        for widget in app.screen.query(Static):
            console.print(widget.content)
        text = console.export_text()
        assert "2 Generate" in text
        keys = text[text.index("id (for remapping)") :]
        assert keys.index("Everywhere") < keys.index("ctrl+q") < keys.index("Project") < keys.index("ctrl+s")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


def test_the_apps_keys_are_grouped_by_the_screen_they_act_on(tmp_path: Path) -> None:
    groups = dict(make_app(tmp_path / "p").binding_groups())
    assert list(groups) == ["Everywhere", "Project", "Generate", "Train", "Export", "Chat", "Evaluate"]
    ids = {title: {row[2] for row in rows} for title, rows in groups.items()}
    assert {"app.quit", "app.help", "screen.generate", "hide_error"} <= ids["Everywhere"]
    assert "generate.start" in ids["Generate"] and "train.start" in ids["Train"]
    everything = [binding_id for rows in ids.values() for binding_id in rows]
    assert len(everything) == len(set(everything))  # each key once, where it acts
