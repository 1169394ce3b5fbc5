"""Chat: a playground on an exported (or embedded) model; each tool call shows as it runs in the sandbox."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.markup import escape
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, RichLog, Select, Static
from textual.worker import Worker, WorkerState

from edgefabric.events import PhaseStarted, ReplyText, ToolCallExecuted
from edgefabric.tui.bridge import StageCall, StageFinished, StageNote, TypedEvent
from edgefabric.tui.project import model_choices
from edgefabric.tui.render import format_call
from edgefabric.tui.screens.base import StageScreen

FINAL_STATES = (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED)


class Transcript(RichLog):
    """The conversation. Focusable to scroll it; a printable key typed here goes to the message box.

    Otherwise the key would bubble up to the screens' single-letter bindings: typing
    "what is 12 times 7?" here switched screens on 1 and 2 and opened help on "?".
    """

    def __init__(self, *, prompt_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prompt_id = prompt_id

    def on_key(self, event: events.Key) -> None:
        if event.is_printable and event.character:
            event.stop()
            event.prevent_default()
            prompt = self.screen.query_one(self.prompt_id, Input)
            prompt.focus()
            prompt.insert_text_at_cursor(event.character)


class ChatScreen(StageScreen):
    MODE = "chat"
    STAGE = "chat"
    TITLE_TEXT = "Chat"
    AUTO_FOCUS = "#prompt"  # type at once; escape hands the keyboard back to the screen keys
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+l", "clear", "New chat", id="chat.clear"),
        Binding("ctrl+y", "copy_call", "Copy tool call", id="chat.copy"),
        Binding("x", "hide_error", "Hide error", id="hide_error", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.history: list[Any] = []
        self.last_call: dict[str, Any] | None = None
        self.pending = ""
        self.sessions: dict[Any, Any] = {}  # ChatRequest -> ChatSession (edgefabric.app.chat)
        self.reply = ""
        self.queued: list[str] = []  # messages sent while a reply still runs or stops: sent next, in order

    def compose_stage(self) -> ComposeResult:
        yield Select[str]((), id="chat-model", prompt="model", compact=True)
        yield Transcript(id="transcript", prompt_id="#prompt", wrap=True, markup=True)
        yield Static("", id="reply")
        # No select-all on focus: coming back to the box (or typing in the transcript) continues the draft.
        yield Input(id="prompt", placeholder="Ask something that needs a tool, then Enter", select_on_focus=False)

    def on_screen_resume(self) -> None:
        if self.unavailable is None:
            self.load_models()

    def on_unmount(self) -> None:
        for session in self.sessions.values():
            session.close()

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
        # A reply of the old model stops (at its next token); the new model's chat starts clean.
        self.action_cancel()
        self.queued = []
        self.history = []
        self.query_one("#transcript", RichLog).clear()
        self.query_one("#prompt", Input).focus()  # the next thing to do is to type

    def action_clear(self) -> None:
        if self.running:
            self.notify(f"A reply is running: {self.stop_key()} stops it first", severity="warning")
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
        """Echo the message at once; send it now, or after the reply that still runs (or stops)."""
        text = event.value.strip()
        if not text:
            return
        event.input.value = ""
        log = self.query_one("#transcript", RichLog)
        log.write(f"[b cyan]you[/] {escape(text)}")
        if self.running:
            self.queued.append(text)
            doing = "stops" if self.sink is not None and self.sink.cancelling else "ends"
            log.write(f"[dim]queued: sent when the current reply {doing} ({self.stop_key()} stops it)[/]")
            return
        self.send(text)

    def send(self, text: str) -> None:
        self.pending = text
        self.action_start()

    def stage_ended(self) -> None:
        if self.reply.strip():
            self.query_one("#transcript", RichLog).write(f"[dim]{escape(self.reply.strip())} …(stopped)[/]")
        self.reply = ""
        self.query_one("#reply", Static).update("")

    @on(Worker.StateChanged)
    def _send_queued(self, event: Worker.StateChanged) -> None:
        """The turn's worker has ended (its last message is handled by now): send what was queued."""
        if event.worker is self.worker and event.state in FINAL_STATES and self.queued:
            self.send(self.queued.pop(0))

    def stage_call(self) -> StageCall | None:
        from edgefabric.tui import calls

        model = self.query_one("#chat-model", Select).value
        if not isinstance(model, str):
            self.notify("Choose a model first", severity="warning")
            return None
        return calls.chat_call(self.project, self, model, self.history, self.pending, self.sessions)

    def before_start(self) -> None:
        self.reply = ""

    def stage_event(self, event: TypedEvent) -> None:
        if isinstance(event, ReplyText):
            self.reply += event.text
            self.query_one("#reply", Static).update(f"[b green]model[/] {escape(self.reply[-400:])}")
        elif isinstance(event, ToolCallExecuted):
            self.flush_reply()
            self.last_call = {"name": event.name, "arguments": event.arguments}
            ok = event.ok
            status = "[green]ok[/]" if ok else "[dim]not run[/]" if ok is None else f"[red]{event.error_kind}[/]"
            log = self.query_one("#transcript", RichLog)
            log.write(f"[yellow]→ {escape(format_call(event.name, event.arguments))}[/] {status}")
            if event.content:
                log.write(f"[magenta]← {escape(event.content[:400])}[/]")
        elif isinstance(event, PhaseStarted):
            self.query_one("#transcript", RichLog).write(f"[dim]{escape(event.phase)}[/]")

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
        self.stage_ended()
        if result is None:
            return
        self.history = list(result.messages)
        log = self.query_one("#transcript", RichLog)
        for failure in result.failures:
            log.write(f"[yellow]{escape(failure.kind)}:[/] {escape(failure.reason)}")
        if result.final_text:
            log.write(f"[b green]model[/] {escape(result.final_text)}")
        if result.stop_reason == "length":
            log.write(
                f"[b yellow]The reply stopped at the token cap[/] ({result.steps[-1].stats.completion_tokens} tokens, "
                "the device profile's max_tokens): it is cut off, not finished."
            )
        log.write(
            f"[dim]{result.completion_tokens} tokens in {result.total_s:.2f} s, stop: {escape(result.stop_detail)}[/]"
        )
