"""Shown when the user quits while a stage runs: what the app waits for, and for how long at most."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Static


class QuittingScreen(ModalScreen[None]):
    """Names the stages being stopped; the app closes it by exiting (ctrl+q again exits at once)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "app.quit", "Quit now", id="quitting.now", priority=True),
    ]
    DEFAULT_CSS = """
    QuittingScreen { align: center middle; }
    QuittingScreen > Static { width: 70; max-width: 100%; height: auto; border: round $warning;
        background: $surface; padding: 1 2; }
    """

    def __init__(self, titles: list[str], grace_s: float) -> None:
        super().__init__()
        self.titles = titles
        self.grace_s = grace_s

    def compose(self) -> ComposeResult:
        names = " and ".join(escape(title) for title in self.titles)
        yield Static(
            f"[b]Quitting[/]: waiting for {names} to stop at its next unit of work "
            f"(at most {self.grace_s:.0f} s).\n\nEverything it finished is on disk; start it again to resume. "
            "ctrl+q quits at once.",
            id="quitting",
        )
