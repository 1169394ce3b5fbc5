"""Evaluate: metrics, per-tool bars, failures with raw output, run comparison, improve rounds."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.markup import escape
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from edgefabric.tui.bridge import StageCall, StageFinished, StageItem, StageNote, StageProgress
from edgefabric.tui.screens.base import StageScreen


def bar(fraction: float, width: int = 20) -> Text:
    fraction = min(max(fraction, 0.0), 1.0)
    filled = round(fraction * width)
    text = Text("█" * filled, style="green")
    text.append("░" * (width - filled), style="dim")
    text.append(f" {fraction * 100:5.1f}%")
    return text


class EvaluateScreen(StageScreen):
    MODE = "evaluate"
    STAGE = "evaluate"
    TITLE_TEXT = "Evaluate"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "start", "Evaluate", id="evaluate.start"),
        Binding("i", "improve", "Improve round", id="evaluate.improve"),
        Binding("c", "cancel", "Cancel", id="evaluate.cancel"),
        Binding("y", "copy_failure", "Copy raw output", id="evaluate.copy", show=False),
        Binding("x", "hide_error", "Hide error", id="hide_error", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.failures: list[dict[str, Any]] = []

    def compose_stage(self) -> ComposeResult:
        with TabbedContent(id="eval-tabs"):
            with TabPane("Metrics", id="tab-metrics"), Horizontal():
                yield DataTable(id="metrics", cursor_type="none", zebra_stripes=True)
                yield Static("no per-tool scores yet", id="tool-bars")
            with TabPane("Failures", id="tab-failures"), Vertical():
                yield DataTable(id="failures", cursor_type="row", zebra_stripes=True)
                yield Static("select a failure to see the model's raw output", id="raw-output")
            with TabPane("Runs", id="tab-runs"):
                yield DataTable(id="compare", cursor_type="row", zebra_stripes=True)
            with TabPane("Improve", id="tab-improve"):
                yield DataTable(id="rounds", cursor_type="none", zebra_stripes=True)

    def on_mount(self) -> None:
        if self.unavailable is not None:
            return
        self.query_one("#metrics", DataTable).add_columns("metric", "value")
        self.query_one("#failures", DataTable).add_columns("sample", "tool", "problem")
        self.query_one("#rounds", DataTable).add_columns("round", "samples", "metric", "value")

    def on_screen_resume(self) -> None:
        if self.unavailable is None and not self.running:
            self.load_reports()

    def load_reports(self) -> None:
        """Every report in reports/ side by side (from this app or the CLI)."""
        table = self.query_one("#compare", DataTable)
        table.clear(columns=True)
        reports = []
        for path in self.project.files("reports", "*.json"):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            metrics = data.get("metrics") if isinstance(data, dict) else None
            if isinstance(metrics, dict):
                reports.append((path.stem, metrics))
        keys = sorted({k for _, m in reports for k, v in m.items() if isinstance(v, int | float)})[:6]
        table.add_columns("report", *keys)
        for name, metrics in reports:
            table.add_row(name, *(_fmt(metrics.get(k)) for k in keys))
        if reports:
            self.show_metrics(reports[-1][1])

    def show_metrics(self, metrics: dict[str, Any]) -> None:
        table = self.query_one("#metrics", DataTable)
        table.clear()
        per_tool = metrics.get("per_tool")
        for key, value in metrics.items():
            if key != "per_tool" and not isinstance(value, dict | list):
                table.add_row(key, _fmt(value))
        if isinstance(per_tool, dict):
            self.show_tool_bars(per_tool)

    def show_tool_bars(self, per_tool: dict[str, Any]) -> None:
        text = Text()
        for name, score in sorted(per_tool.items()):
            value = score.get("accuracy", score.get("score", 0.0)) if isinstance(score, dict) else score
            text.append(f"{name[:14]:<14} ")
            text.append_text(bar(float(value or 0.0), 16))
            text.append("\n")
        self.query_one("#tool-bars", Static).update(text)

    def stage_call(self) -> StageCall | None:
        from edgefabric.tui import calls

        return calls.evaluate_call(self.project, self)

    def action_improve(self) -> None:
        if self.unavailable is not None or self.running:
            return
        from edgefabric.tui import calls

        call = calls.improve_call(self.project, self)
        if call is not None:
            self.start(call)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "improve" and self.unavailable is not None:
            return False
        return super().check_action(action, parameters)

    def before_start(self) -> None:
        self.failures.clear()
        self.query_one("#failures", DataTable).clear()

    def stage_progress(self, message: StageProgress) -> None:
        total = message.total if message.total is not None else "?"
        self.set_status(f"[b]Evaluate[/] {message.done}/{total} samples")

    def stage_note(self, message: StageNote) -> None:
        self.notify(message.text)

    def stage_item(self, message: StageItem) -> None:
        payload = message.payload
        if message.kind == "failure":
            self.failures.append(payload)
            self.query_one("#failures", DataTable).add_row(
                escape(str(payload.get("sample_id", "?"))[:12]),
                escape(str(payload.get("tool", ""))),
                escape(str(payload.get("problem", payload.get("reason", "")))[:60]),
            )
        elif message.kind == "metrics":
            self.show_metrics(payload)
        elif message.kind == "round":
            self.query_one("#rounds", DataTable).add_row(
                *(escape(str(payload.get(k, ""))) for k in ("round", "samples", "metric", "value"))
            )

    @on(DataTable.RowHighlighted, "#failures")
    def _failure_selected(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.failures):
            raw = str(self.failures[event.cursor_row].get("raw_output", ""))
            self.query_one("#raw-output", Static).update(Text(raw or "(no raw output)"))

    def action_copy_failure(self) -> None:
        table = self.query_one("#failures", DataTable)
        if not self.failures:
            self.notify("No failures to copy", severity="warning")
            return
        row = min(table.cursor_row, len(self.failures) - 1)
        self.copy(str(self.failures[row].get("raw_output", "")), "the raw output")

    def stage_finished(self, message: StageFinished) -> None:
        if isinstance(message.summary.get("metrics"), dict):
            self.show_metrics(message.summary["metrics"])
        self.load_reports()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "-" if value is None else str(value)
