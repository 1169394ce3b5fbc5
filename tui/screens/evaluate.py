"""Evaluate: metrics, per-tool bars, failures with raw output, run comparison, improve rounds."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.markup import escape
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Select, Static, TabbedContent, TabPane

from edgefabric.errors import EdgeFabricError
from edgefabric.tui.bridge import StageCall, StageFinished, StageNote, StageProgress
from edgefabric.tui.project import model_choices
from edgefabric.tui.screens.base import StageScreen


def _with_count(report: Any, name: str) -> str:
    """A metric as "50.0% (2/4)": the share and the counts behind it (older reports have no counts)."""
    passed_of = getattr(report, "counts", {}).get(name)
    count = f" ({passed_of[0]}/{passed_of[1]})" if passed_of and passed_of[1] else ""
    return _fmt(report.metrics.get(name)) + count


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
        Binding("c", "cancel", "Cancel", id="evaluate.cancel", show=False),
        Binding("y", "copy_failure", "Copy raw output", id="evaluate.copy", show=False),
        Binding("k", "copy_command", "Copy CLI command", id="evaluate.command", show=False),
        Binding("left_square_bracket", "next_tab(-1)", "Previous tab", id="evaluate.tab_previous", show=False),
        Binding("right_square_bracket", "next_tab(1)", "Next tab", id="evaluate.tab_next"),
        Binding("x", "hide_error", "Hide error", id="hide_error", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.failures: list[Any] = []
        self.reports: list[tuple[Path, Any]] = []  # (path, EvalReport) in reports/, oldest first
        self.shown: Path | None = None  # the report in the Metrics and Failures tabs

    def compose_stage(self) -> ComposeResult:
        yield Select[str]((), id="eval-model", prompt="model to evaluate", compact=True)
        with TabbedContent(id="eval-tabs"):
            with TabPane("Metrics", id="tab-metrics"), Horizontal():
                yield DataTable(id="metrics", cursor_type="none", zebra_stripes=True)
                yield Static("no per-tool scores yet", id="tool-bars")
            with TabPane("Failures", id="tab-failures"), Vertical():
                yield DataTable(id="failures", cursor_type="row", zebra_stripes=True)
                yield Static("select a failure to see the model's raw output", id="raw-output")
            with TabPane("Runs", id="tab-runs"):
                yield DataTable(id="compare", cursor_type="row", zebra_stripes=True)  # enter shows a row's report
            with TabPane("Improve", id="tab-improve"):
                yield DataTable(id="rounds", cursor_type="none", zebra_stripes=True)

    def on_mount(self) -> None:
        if self.unavailable is not None:
            return
        self.query_one("#metrics", DataTable).add_columns("metric", "value")
        self.query_one("#failures", DataTable).add_columns("case", "kind", "stop", "problem")
        self.query_one("#rounds", DataTable).add_columns("round", "report", "overall", "weakest", "left")

    def on_screen_resume(self) -> None:
        if self.unavailable is None and not self.running:
            select = self.query_one("#eval-model", Select)
            current = select.value
            choices = model_choices(self.project)
            select.set_options(choices)
            values = [value for _, value in choices]
            select.value = current if current in values else values[0]
            self.load_reports()

    def model(self) -> str | None:
        value = self.query_one("#eval-model", Select).value
        return value if isinstance(value, str) else None

    def cli_command(self) -> str | None:
        from edgefabric.tui.calls import evaluate_command

        model = self.model()
        try:
            config = self.project.load()
        except EdgeFabricError:
            return None
        return evaluate_command(self.project, config, model) if model else None

    def load_reports(self) -> None:
        """Every report in reports/ side by side (from this app or the CLI); the selected model's newest in full."""
        from edgefabric.pipeline.evaluate.improve import load_rounds
        from edgefabric.pipeline.evaluate.report import load_report
        from edgefabric.pipeline.evaluate.scoring import METRICS

        table = self.query_one("#compare", DataTable)
        table.clear(columns=True)
        table.add_columns("report", "model", "n", "overall", "no-call", *(c.split("_")[0] for c in METRICS))
        reports = []
        for path in sorted(self.project.files("reports", "*.json"), key=lambda p: p.stat().st_mtime):
            try:
                reports.append((path, load_report(path)))
            except (EdgeFabricError, ValueError, OSError):
                continue  # rounds.json and foreign files are not reports
        self.reports = reports
        for path, report in reports:
            table.add_row(
                path.stem,
                Path(report.model).name[:24],
                str(report.n),
                _fmt(report.overall),
                _fmt(report.baseline.get("overall")) if report.baseline else "n/a",
                *(_with_count(report, c) for c in METRICS),
                key=str(path),
            )
        self.follow_model()
        rounds = self.query_one("#rounds", DataTable)
        rounds.clear()
        for entry in load_rounds(self.project.folder("reports")):
            weakest = ", ".join(w.name for w in [*entry.plan.weakest_kinds, *entry.plan.weakest_tools][:3])
            rounds.add_row(
                str(entry.round), Path(entry.report).name, _fmt(entry.overall), weakest, ", ".join(entry.stages_left)
            )

    def follow_model(self) -> None:
        """Show the newest report of the selected model, or say that it has none yet."""
        model = self.model()
        mine = [
            (path, report)
            for path, report in self.reports
            if model and same_model(report.model, model, self.project.root)
        ]
        if mine:
            self.show_report(*mine[-1])
            return
        self.shown = None
        self.failures = []
        self.query_one("#metrics", DataTable).clear()
        self.query_one("#failures", DataTable).clear()
        self.query_one("#tool-bars", Static).update(
            f"no report for {escape(Path(model).name if model else 'this model')} yet: s evaluates it"
            + (" (Runs lists the other reports; enter shows one)" if self.reports else "")
        )

    @on(Select.Changed, "#eval-model")
    def _model_changed(self) -> None:
        self.follow_model()

    @on(DataTable.RowSelected, "#compare")
    def _run_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a Runs row: that report in full, in the Metrics tab."""
        found = next(((p, r) for p, r in self.reports if str(p) == event.row_key.value), None)
        if found is not None:
            self.show_report(*found)
            self.query_one("#eval-tabs", TabbedContent).active = "tab-metrics"

    def action_next_tab(self, step: int) -> None:
        tabs = self.query_one("#eval-tabs", TabbedContent)
        panes = [pane.id for pane in tabs.query(TabPane) if pane.id]
        if panes:
            at = panes.index(tabs.active) if tabs.active in panes else 0
            tabs.active = panes[(at + step) % len(panes)]

    def show_report(self, path: Path, report: Any) -> None:
        self.shown = path
        table = self.query_one("#metrics", DataTable)
        table.clear()
        table.add_row("report", escape(_shown_name(path, self.project.root)))
        table.add_row("model", escape(Path(report.model).name))
        table.add_row("overall", _fmt(report.overall))
        if report.baseline:
            baseline = report.baseline.get("overall")
            above = (
                f" ({(report.overall - baseline) * 100:+.1f} points)" if None not in (baseline, report.overall) else ""
            )
            table.add_row("no-call baseline", _fmt(baseline) + above)
        for key in report.metrics:
            table.add_row(key, _with_count(report, key))
        for key, value in report.performance.items():
            table.add_row(key, _fmt(value))
        text = Text()
        for name, scores in sorted(report.per_tool.items()):
            text.append(f"{name[:14]:<14} ")
            text.append_text(bar(float(scores.get("pass_rate", 0.0)), 14))
            text.append(f" n={scores.get('n', 0)}\n")
        self.query_one("#tool-bars", Static).update(text or "no tool calls were expected")
        self.failures = [case for case in report.cases if not case.passed]
        failures = self.query_one("#failures", DataTable)
        failures.clear()
        for case in self.failures:
            problem = (case.problems or case.failures or [""])[0]
            failures.add_row(case.id[:14], case.kind, case.stop_reason, escape(problem[:70]))

    def stage_call(self) -> StageCall | None:
        from edgefabric.tui import calls

        model = self.model()
        if model is None:
            self.notify("Choose a model first", severity="warning")
            return None
        return calls.evaluate_call(self.project, self, model)

    def action_improve(self) -> None:
        if self.unavailable is not None or self.running:
            return
        from edgefabric.tui import calls

        call = calls.improve_call(self.project, self, self.shown)
        if call is not None:
            self.start(call)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "improve" and self.unavailable is not None:
            return False
        return super().check_action(action, parameters)

    def stage_progress(self, message: StageProgress) -> None:
        total = message.total if message.total is not None else "?"
        rate = message.metrics.get("pass_rate")
        passed = f", pass rate {rate:.0%}" if rate is not None else ""
        self.set_status(f"[b]Evaluate[/] {message.done}/{total} cases{passed}")

    def stage_note(self, message: StageNote) -> None:
        self.notify(message.text)

    @on(DataTable.RowHighlighted, "#failures")
    def _failure_selected(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.failures):
            case = self.failures[event.cursor_row]
            detail = "\n".join([*case.problems, *case.failures])
            self.query_one("#raw-output", Static).update(Text(f"{detail}\nraw output:\n{case.raw_output or '(none)'}"))

    def action_copy_failure(self) -> None:
        table = self.query_one("#failures", DataTable)
        if not self.failures:
            self.notify("No failures to copy", severity="warning")
            return
        row = min(table.cursor_row, len(self.failures) - 1)
        self.copy(self.failures[row].raw_output, "the raw output")

    def stage_finished(self, message: StageFinished) -> None:
        self.load_reports()  # the new report is the selected model's newest: it is shown


def same_model(reported: str, selected: str, root: Path) -> bool:
    """Whether a report's `model` names the selected model (the CLI may have given a relative path)."""
    if reported == selected:
        return True
    if ":" in reported.split("/", 1)[0] or ":" in selected.split("/", 1)[0]:
        return False  # embedded:NAME and hub ids compare as written
    return (root / reported).resolve() == (root / selected).resolve()


def _shown_name(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "-" if value is None else str(value)
