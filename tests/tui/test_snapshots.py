"""How each screen looks at 80x24 and at 120x40 (pytest-textual-snapshot).

Update the SVGs (`--snapshot-update`) only after reading the report of what changed.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Input, TextArea

from tests.tui.conftest import snapshot_app

SIZES = [(80, 24), (120, 40)]


async def freeze(pilot: Any) -> None:
    """No blinking cursors, no running workers: the same picture every time."""
    for widget in pilot.app.screen.query("Input, TextArea"):
        if isinstance(widget, Input | TextArea):
            widget.cursor_blink = False
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("key", ["1", "2", "3", "4", "5", "6"])
def test_screen(snap_compare: Any, key: str, size: tuple[int, int]) -> None:
    app = snapshot_app(f"screen-{key}")

    async def run_before(pilot: Any) -> None:
        await pilot.press(key)
        await freeze(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_new_folder_offers_to_create_a_project(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(snapshot_app("fresh", create=False), terminal_size=size, run_before=freeze)


@pytest.mark.parametrize("size", SIZES)
def test_config_problems_inline(snap_compare: Any, size: tuple[int, int]) -> None:
    app = snapshot_app("invalid")

    async def run_before(pilot: Any) -> None:
        editor = pilot.app.screen.query_one("#yaml", TextArea)
        editor.load_text(editor.text.replace("depth: 2", "depth: 99").replace("concurrency: 4", "concurency: 4"))
        await freeze(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(snapshot_app("help"), press=["question_mark"], terminal_size=size, run_before=freeze)
