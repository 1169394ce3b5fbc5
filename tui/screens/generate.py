"""Generate: the topic graph growing, samples streaming in, rates and reject reasons."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, ProgressBar, RichLog, Static, Tree

from edgefabric.tui.bridge import StageBegan, StageCall, StageFinished, StageItem, StageNote, StageProgress
from edgefabric.tui.render import render_sample
from edgefabric.tui.screens.base import StageScreen


class GenerateScreen(StageScreen):
    MODE = "generate"
    STAGE = "generate"
    TITLE_TEXT = "Generate"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "start", "Start", id="generate.start"),
        Binding("p", "pause", "Pause/resume", id="generate.pause"),
        Binding("c", "cancel", "Cancel", id="generate.cancel"),
        Binding("y", "copy_sample", "Copy sample", id="generate.copy"),
        Binding("x", "hide_error", "Hide error", id="hide_error", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.accepted = 0
        self.rejected = 0
        self.reasons: Counter[str] = Counter()
        self.last_sample: dict[str, Any] | None = None

    def compose_stage(self) -> ComposeResult:
        with Horizontal(id="generate-columns"):
            tree: Tree[str] = Tree("topics", id="topics")
            tree.root.expand()
            yield tree
            with Vertical(id="generate-main"):
                yield ProgressBar(id="gen-progress", show_eta=False)
                yield Static("no samples yet", id="gen-stats")
                yield RichLog(id="samples", wrap=True, markup=True, highlight=False)
                yield DataTable(id="rejects", cursor_type="none", zebra_stripes=True)

    def on_mount(self) -> None:
        if self.unavailable is None:
            self.query_one("#rejects", DataTable).add_columns("reject reason", "count")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pause" and self.unavailable is None:
            return True if self.running else None
        return super().check_action(action, parameters)

    def stage_call(self) -> StageCall | None:
        from edgefabric.tui import calls

        return calls.generate_call(self.project, self)

    def before_start(self) -> None:
        self.accepted = self.rejected = 0
        self.reasons.clear()
        self.query_one("#rejects", DataTable).clear()
        self.query_one("#topics", Tree).root.remove_children()

    def action_pause(self) -> None:
        if self.sink is None or not self.running:
            return
        if self.sink.paused:
            self.sink.unpause()
            self.set_status("[b]Generate[/] running (p pauses)")
        else:
            self.sink.pause()
            self.set_status("[b yellow]Generate paused[/] after the current sample (p resumes, c cancels)")

    def action_copy_sample(self) -> None:
        if self.last_sample is None:
            self.notify("No sample yet", severity="warning")
            return
        self.copy(json.dumps(self.last_sample, ensure_ascii=False, indent=2), "the last sample")

    # Events ----------------------------------------------------------------

    def stage_began(self, message: StageBegan) -> None:
        if message.total:
            self.query_one("#gen-progress", ProgressBar).update(total=message.total, progress=0)

    def stage_progress(self, message: StageProgress) -> None:
        bar = self.query_one("#gen-progress", ProgressBar)
        bar.update(total=message.total, progress=message.done)
        elapsed = max(self.elapsed(), 1e-6)
        rate = message.done / elapsed * 60
        eta = ""
        if message.total and message.done:
            remaining = (message.total - message.done) * elapsed / message.done
            eta = f"  ETA {remaining:.0f} s"
        attempts = self.accepted + self.rejected
        accept = f"{100 * self.accepted / attempts:.0f}%" if attempts else "-"
        total = message.total if message.total is not None else "?"
        extra = "  ".join(f"{k} {v:g}" for k, v in message.metrics.items())
        self.query_one("#gen-stats", Static).update(
            f"{message.done}/{total} samples  accept {accept}  {rate:.1f} samples/min{eta}  {extra}"
        )

    def stage_item(self, message: StageItem) -> None:
        payload = message.payload
        if message.kind == "topic":
            self.add_topic(payload)
        elif message.kind == "sample":
            self.accepted += 1
            record = payload.get("sample", payload)
            self.last_sample = record
            self.query_one("#samples", RichLog).write(render_sample(record))
        elif message.kind in ("rejected", "reject"):
            self.rejected += 1
            reason = str(payload.get("reason", "unknown"))
            self.reasons[reason.split(":")[0][:60]] += 1
            self.show_reasons()

    def stage_note(self, message: StageNote) -> None:
        style = {"warning": "yellow", "error": "red"}.get(message.level, "dim")
        self.query_one("#samples", RichLog).write(f"[{style}]{escape(message.text)}[/]")

    def stage_finished(self, message: StageFinished) -> None:
        summary = "  ".join(f"{k}: {v}" for k, v in message.summary.items())
        self.query_one("#samples", RichLog).write(f"[b green]done[/] {escape(summary)}")

    def add_topic(self, payload: dict[str, Any]) -> None:
        path = payload.get("path") or [payload.get("topic", "?")]
        node = self.query_one("#topics", Tree).root
        for part in path:
            match = next((child for child in node.children if child.data == part), None)
            node = match if match is not None else node.add(str(part), data=str(part), expand=True)

    def show_reasons(self) -> None:
        table = self.query_one("#rejects", DataTable)
        table.clear()
        for reason, count in self.reasons.most_common(5):
            table.add_row(reason, str(count))
