"""Asked before ctrl+s would overwrite a config that changed on disk since the editor loaded it."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

Choice = Literal["overwrite", "reload"]


class ConflictScreen(ModalScreen[Choice | None]):
    """Dismissed with "overwrite" (write the editor's text), "reload" (drop the edits) or None (do nothing)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "choose('overwrite')", "Overwrite", id="conflict.overwrite"),
        Binding("r", "choose('reload')", "Reload from disk", id="conflict.reload"),
        Binding("escape", "choose('')", "Keep editing", id="conflict.cancel"),
    ]
    DEFAULT_CSS = """
    ConflictScreen { align: center middle; }
    ConflictScreen > Vertical { width: 72; max-width: 100%; height: auto; border: round $warning;
        background: $surface; padding: 1 2; }
    ConflictScreen Horizontal { height: auto; margin-top: 1; }
    ConflictScreen Button { margin-right: 1; }
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                f"[b]{escape(str(self.path))} changed on disk[/] since the editor loaded it "
                "(the CLI or another editor wrote it).\n\nOverwrite it with your edits, or reload it and drop them?",
                id="conflict-question",
            )
            with Horizontal():
                yield Button("o Overwrite", id="overwrite", variant="error", compact=True)
                yield Button("r Reload from disk", id="reload", compact=True)
                yield Button("escape Keep editing", id="cancel", compact=True)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_choose(event.button.id if event.button.id in ("overwrite", "reload") else "")

    def action_choose(self, choice: str) -> None:
        chosen: Choice | None = None
        if choice == "overwrite":
            chosen = "overwrite"
        elif choice == "reload":
            chosen = "reload"
        self.dismiss(chosen)
