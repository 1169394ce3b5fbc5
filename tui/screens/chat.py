"""Chat: a playground on an exported (or embedded) model; each tool call shows as it runs in the sandbox."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, RichLog, Select, Static

from edgefabric.tui.bridge import StageCall, StageFinished, StageItem, StageNote
from edgefabric.tui.project import model_choices
from edgefabric.tui.render import format_call
from edgefabric.tui.screens.base import StageScreen


class ChatScreen(StageScreen):
    MODE = "chat"
    STAGE = "chat"
    TITLE_TEXT = "Chat"
    AUTO_FOCUS = "#prompt"  # type at once; escape hands the keyboard back to the screen keys
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+l", "clear", "New chat", id="chat.clear"),
        Binding("ctrl+y", "copy_call", "Copy tool call", id="chat.copy"),
        Binding("ctrl+x", "cancel", "Stop", id="chat.cancel"),
        Binding("x", "hide_error", "Hide error", id="hide_error", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.history: list[Any] = []
        self.last_call: dict[str, Any] | None = None
        self.pending = ""
        self.engines: dict[str, Any] = {}
        self.reply = ""

    def compose_stage(self) -> ComposeResult:
        yield Select[str]((), id="chat-model", prompt="model", compact=True)
        yield RichLog(id="transcript", wrap=True, markup=True)
        yield Static("", id="reply")
        yield Input(id="prompt", placeholder="Ask something that needs a tool, then Enter")

    def on_screen_resume(self) -> None:
        if self.unavailable is None:
            self.load_models()

    def on_unmount(self) -> None:
        for engine in self.engines.values():
            engine.close()

    def load_models(self) -> None:
        select = self.query_one("#chat-model", Select)
        current = select.value
        choices = model_choices(self.project)
        with self.prevent(Select.Changed):
            select.set_options(choices)
            values = [value for _, value in choices]
            select.value = current if current in values else values[0]

    @on(Select.Changed, "#chat-model")
    def _model_changed(self) -> None:
        self.action_clear()

    def action_clear(self) -> None:
        if self.running:
            return
        self.history = []
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
            self.notify("Choose a model first", severity="warning")
            return None
        return calls.chat_call(self.project, self, model, self.history, self.pending, self.engines)

    def before_start(self) -> None:
        self.reply = ""

    def stage_item(self, message: StageItem) -> None:
        payload = message.payload
        if message.kind == "text":
            self.reply += str(payload.get("text", ""))
            self.query_one("#reply", Static).update(f"[b green]model[/] {escape(self.reply[-400:])}")
        elif message.kind == "tool_call":
            self.flush_reply()
            self.last_call = {"name": payload.get("name"), "arguments": payload.get("arguments")}
            ok = payload.get("ok")
            status = (
                "[green]ok[/]" if ok else "[dim]not run[/]" if ok is None else f"[red]{payload.get('error_kind')}[/]"
            )
            log = self.query_one("#transcript", RichLog)
            log.write(
                f"[yellow]→ {escape(format_call(str(payload.get('name')), payload.get('arguments')))}[/] {status}"
            )
            if payload.get("content"):
                log.write(f"[magenta]← {escape(str(payload['content'])[:400])}[/]")

    def flush_reply(self) -> None:
        if self.reply.strip():
            self.query_one("#transcript", RichLog).write(f"[dim]{escape(self.reply.strip())}[/]")
        self.reply = ""
        self.query_one("#reply", Static).update("")

    def stage_note(self, message: StageNote) -> None:
        self.query_one("#transcript", RichLog).write(f"[dim]{escape(message.text)}[/]")

    def stage_finished(self, message: StageFinished) -> None:
        result = message.result
        self.reply = ""
        self.query_one("#reply", Static).update("")
        if result is None:
            return
        self.history = list(result.messages)
        log = self.query_one("#transcript", RichLog)
        for failure in result.failures:
            log.write(f"[yellow]{escape(failure.kind)}:[/] {escape(failure.reason)}")
        if result.final_text:
            log.write(f"[b green]model[/] {escape(result.final_text)}")
        log.write(
            f"[dim]{result.completion_tokens} tokens in {result.total_s:.2f} s, stop: {escape(result.stop_detail)}[/]"
        )
