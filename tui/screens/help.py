"""The help screen: the journey in one page and every key, grouped by screen, with the id to remap it."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

JOURNEY = """[b]EdgeFabric[/]: make a small, offline tool-calling model.

1 Project   open or create a project folder; edit edgefabric.yaml (checked as you type)
2 Generate  synthetic tool-calling conversations, tools really executed in the sandbox
3 Train     LoRA fine-tune the student; live loss and val-loss
4 Export    GGUF (llama.cpp, LM Studio, Ollama) and ONNX, with a parity report
5 Chat      try the exported model; tool calls run as you watch
6 Evaluate  metrics, per-tool scores, failures, run comparison, improve rounds

Everything is saved in the project folder, so quit any time and reopen to resume;
the CLI (`edgefabric ...`) works on the same folder. ctrl+p lists every action.
"""


# (key, action, binding id) of one binding; a group is a title ("Everywhere", a screen's) and its rows.
HelpRow = tuple[str, str, str]
HelpGroup = tuple[str, list[HelpRow]]


class HelpScreen(ModalScreen[None]):
    """The journey, then every key grouped by where it acts: everywhere first, then each screen in order."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close", id="help.close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 96; max-width: 100%; height: 90%; border: round $accent;
        background: $surface; padding: 0 1; }
    """

    def __init__(self, groups: list[HelpGroup]) -> None:
        super().__init__()
        self.groups = groups

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, show_edge=False)
        table.add_column("key", style="bold")
        table.add_column("action")
        table.add_column("id (for remapping)", style="dim")
        for index, (title, rows) in enumerate(self.groups):
            if not rows:
                continue
            table.add_row(f"[b underline]{escape(title)}[/]", "", "", end_section=False)
            for key, description, binding_id in rows:
                table.add_row(escape(key), escape(description), binding_id)
            if index < len(self.groups) - 1:
                table.add_row("", "", "")
        with VerticalScroll():
            yield Static(JOURNEY)
            yield Static(table)
            yield Static("[dim]escape closes this help[/]")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
