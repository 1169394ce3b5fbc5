"""Chat: a playground on an exported model; each tool call is shown as it runs in the sandbox."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Input, RichLog, Select

from edgefabric.tui.bridge import StageCall, StageFinished, StageItem, StageNote
from edgefabric.tui.render import format_call
from edgefabric.tui.screens.base import StageScreen


class ChatScreen(StageScreen):
    MODE = "chat"
    STAGE = "chat"
    TITLE_TEXT = "Chat"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+l", "clear", "New chat", id="chat.clear"),
        Binding("ctrl+y", "copy_call", "Copy tool call", id="chat.copy"),
        Binding("ctrl+x", "cancel", "Stop", id="chat.cancel"),
        Binding("x", "hide_error", "Hide error", id="hide_error", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.history: list[dict[str, Any]] = []
        self.last_call: dict[str, Any] | None = None

    def compose_stage(self) -> ComposeResult:
        with Horizontal(id="chat-top"):
            yield Select[str]((), id="chat-model", prompt="model (exports/)", compact=True)
        yield RichLog(id="transcript", wrap=True, markup=True)
        yield Input(id="prompt", placeholder="Ask something that needs a tool, then Enter")

    def on_screen_resume(self) -> None:
        if self.unavailable is None:
            self.load_models()

    def load_models(self) -> None:
        select = self.query_one("#chat-model", Select)
        models = [str(p.relative_to(self.project.root)) for p in self.project.files("exports", "*.gguf")]
        current = select.value
        select.set_options((m, m) for m in models)
        if current in models:
            select.value = current
        elif models:
            select.value = models[0]

    def action_clear(self) -> None:
        self.history.clear()
        self.query_one("#transcript", RichLog).clear()

    def action_copy_call(self) -> None:
        if self.last_call is None:
            self.notify("No tool call yet", severity="warning")
            return
        self.copy(json.dumps(self.last_call, ensure_ascii=False), "the last tool call")

    @on(Input.Submitted, "#prompt")
    def _send(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text or self.running:
            return
        event.input.value = ""
        self.query_one("#transcript", RichLog).write(f"[b cyan]you[/] {escape(text)}")
        self.pending = text
        self.action_start()

    def stage_call(self) -> StageCall | None:
        from edgefabric.tui import calls

        model = self.query_one("#chat-model", Select).value
        if not isinstance(model, str):
            self.notify("No exported model yet: export one on screen 4", severity="warning")
            return None
        return calls.chat_call(self.project, self, self.project.root / model, self.history, self.pending)

    def stage_item(self, message: StageItem) -> None:
        log = self.query_one("#transcript", RichLog)
        payload = message.payload
        if message.kind == "tool_call":
            self.last_call = {"name": payload.get("name"), "arguments": payload.get("arguments")}
            log.write(f"[yellow]→ {escape(format_call(str(payload.get('name')), payload.get('arguments')))}[/]")
        elif message.kind == "tool_result":
            style = "red" if payload.get("error") else "magenta"
            log.write(
                f"[{style}]← {escape(str(payload.get('name', '')))}: {escape(str(payload.get('content', '')))}[/]"
            )
        elif message.kind == "message":
            if payload.get("role") == "assistant" and payload.get("content"):
                log.write(f"[b green]model[/] {escape(str(payload['content']))}")

    def stage_note(self, message: StageNote) -> None:
        self.query_one("#transcript", RichLog).write(f"[dim]{escape(message.text)}[/]")

    def stage_finished(self, message: StageFinished) -> None:
        result = message.result
        if isinstance(result, list):
            self.history = result

    pending: str = ""
