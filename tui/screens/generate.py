"""Generate: the topic graph growing, samples streaming in, rates and reject reasons."""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, ProgressBar, RichLog, Static, Tree

from edgefabric.dataset import count_records, tail_records
from edgefabric.errors import EdgeFabricError
from edgefabric.events import PhaseStarted, SampleAccepted, SampleRejected
from edgefabric.tui.bridge import (
    StageBegan,
    StageCall,
    StageFinished,
    StageNote,
    StageProgress,
    StageSummary,
    TypedEvent,
)
from edgefabric.tui.render import render_sample
from edgefabric.tui.screens.base import StageScreen

if TYPE_CHECKING:
    from edgefabric.pipeline.generate.run import Outlook

SAMPLES = "samples.jsonl"
REJECTS = "rejects.jsonl"
TOPICS = "topics.json"


class GenerateScreen(StageScreen):
    MODE = "generate"
    STAGE = "generate"
    TITLE_TEXT = "Generate"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "start", "Start/resume", id="generate.start"),
        Binding("p", "pause", "Pause/resume", id="generate.pause"),
        Binding("c", "cancel", "Cancel", id="generate.cancel", show=False),
        Binding("y", "copy_sample", "Copy sample", id="generate.copy"),
        Binding("k", "copy_command", "Copy CLI command", id="generate.command", show=False),
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
                yield ProgressBar(total=1, id="gen-progress", show_eta=False)
                yield Static("no samples yet", id="gen-stats")
                yield RichLog(id="samples", wrap=True, markup=True, highlight=False)
                yield DataTable(id="rejects", cursor_type="none", zebra_stripes=True)

    def on_mount(self) -> None:
        if self.unavailable is None:
            self.query_one("#rejects", DataTable).add_columns("rejected at", "reason", "count")

    def on_screen_resume(self) -> None:
        """Show what data/ already holds: a run from before (this app or the CLI) resumes from here."""
        if self.unavailable is not None or self.running:
            return
        data = self.project.data_dir
        samples = count_records(data / SAMPLES)
        ahead = self.outlook()
        self.load_topics()
        self.reasons.clear()
        for record in tail_records(data / REJECTS, 200):
            self.count_reject(str(record.get("stage", "?")), str(record.get("reason", "")))
        self.show_reasons()
        log = self.query_one("#samples", RichLog)
        log.clear()
        for record in tail_records(data / SAMPLES, 3):
            self.last_sample = record
            log.write(render_sample(record))
        if ahead is not None:
            # The bar shows what is on disk: a finished dataset is full, a stopped run where it stopped.
            self.query_one("#gen-progress", ProgressBar).update(
                total=ahead.target, progress=min(ahead.written, ahead.target)
            )
        if ahead is not None and ahead.complete:
            self.query_one("#gen-stats", Static).update(escape(ahead.describe()))
            self.set_status(f"{samples} samples on disk: the dataset is complete")
        elif samples:
            of = f" of {ahead.target}" if ahead is not None else ""
            self.query_one("#gen-stats", Static).update(
                f"{samples}{of} samples in data/{SAMPLES}; s resumes the run (nothing is repeated)"
            )
            self.set_status(f"{samples} samples on disk")
        else:
            self.query_one("#gen-stats", Static).update("no samples yet: s starts")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pause" and self.unavailable is None:
            return True if self.running else None
        return super().check_action(action, parameters)

    def cli_command(self) -> str | None:
        from edgefabric.tui.calls import generate_command

        return generate_command(self.project)

    def outlook(self) -> Outlook | None:
        """What a start would generate (None while the config does not load: starting then shows why)."""
        from edgefabric.tui.calls import generate_outlook

        try:
            return generate_outlook(self.project, self.project.load())
        except EdgeFabricError:
            return None

    def stage_call(self) -> StageCall | None:
        from edgefabric.tui import calls

        ahead = self.outlook()
        if ahead is not None and ahead.complete:
            # Said before starting: no teacher, no sandbox, no "generate N samples" then "done" with none.
            self.set_status(f"[b]{escape(ahead.describe())}[/]")
            self.query_one("#gen-stats", Static).update(escape(ahead.describe()))
            self.notify(ahead.describe(), title="Nothing to generate", severity="warning")
            return None
        return calls.generate_call(self.project, self)

    def before_start(self) -> None:
        self.accepted = self.rejected = 0
        self.reasons.clear()
        self.query_one("#rejects", DataTable).clear()

    def action_pause(self) -> None:
        if self.sink is None or not self.running:
            return
        if self.sink.paused:
            self.sink.unpause()
            self.set_status(f"[b]Generate[/] running (p pauses, {self.stop_key()} stops)")
        else:
            self.sink.pause()
            self.set_status(f"[b yellow]Generate paused[/] at the next sample (p resumes, {self.stop_key()} stops)")

    def action_copy_sample(self) -> None:
        if self.last_sample is None:
            self.notify("No sample yet", severity="warning")
            return
        self.copy(json.dumps(self.last_sample, ensure_ascii=False, indent=2), "the last sample")

    # Events ----------------------------------------------------------------

    def stage_began(self, message: StageBegan) -> None:
        self.query_one("#gen-progress", ProgressBar).update(total=message.total, progress=0)
        self.query_one("#samples", RichLog).write(f"[b]{escape(message.stage)}[/] {escape(message.detail)}")

    def stage_progress(self, message: StageProgress) -> None:
        self.query_one("#gen-progress", ProgressBar).update(total=message.total, progress=message.done)
        total = message.total if message.total is not None else "?"
        m = message.metrics
        if message.stage == "topics":
            text = f"topic graph: {message.done}/{total} teacher calls, {m.get('topics', 0):.0f} topics"
        else:
            parts = [f"{message.done}/{total} samples"]
            if "accept_rate" in m:
                parts.append(f"accept {m['accept_rate']:.0%}")
            if "samples_per_min" in m:
                parts.append(f"{m['samples_per_min']:.1f}/min")
            if "eta_s" in m:
                parts.append(f"ETA {m['eta_s'] / 60:.1f} min")
            text = "  ".join(parts)
        self.query_one("#gen-stats", Static).update(text)

    def stage_event(self, event: TypedEvent) -> None:
        if isinstance(event, SampleAccepted):
            self.accepted += 1
            # The event names the sample; the sample itself is the line just appended to disk.
            for record in tail_records(self.project.data_dir / SAMPLES, 1):
                self.last_sample = record
                self.query_one("#samples", RichLog).write(render_sample(record))
        elif isinstance(event, SampleRejected):
            self.rejected += 1
            self.count_reject(event.check, event.reason)
            self.show_reasons()
        elif isinstance(event, PhaseStarted):
            self.query_one("#samples", RichLog).write(f"[dim]{escape(event.stage)}: {escape(event.describe())}[/]")

    def stage_summary(self, message: StageSummary) -> None:
        if message.stage == "topics":
            self.load_topics()
            self.query_one("#samples", RichLog).write(
                "[green]topic graph[/] " + escape(", ".join(f"{k} {v}" for k, v in message.summary.items()))
            )

    def stage_note(self, message: StageNote) -> None:
        style = {"warning": "yellow", "error": "red"}.get(message.level, "dim")
        self.query_one("#samples", RichLog).write(f"[{style}]{escape(message.stage)}: {escape(message.text)}[/]")

    def stage_finished(self, message: StageFinished) -> None:
        s = message.summary
        splits = ", ".join(f"{k} {v}" for k, v in (s.get("splits") or {}).items())
        # This run's figures first (a resumed run's totals read as its own work otherwise), then the dataset's.
        self.query_one("#samples", RichLog).write(
            f"[b green]done[/] {s.get('accepted_now', '?')} new samples, {s.get('rejected_now', '?')} rejected "
            f"this run; data/ holds {s.get('accepted', '?')} samples; splits {escape(splits)}"
        )
        self.query_one("#gen-stats", Static).update(
            f"{s.get('accepted', '?')} samples in data/{SAMPLES} ({s.get('accepted_now', '?')} new)"
        )

    # Widgets from disk -----------------------------------------------------

    def load_topics(self) -> None:
        path = self.project.data_dir / TOPICS
        tree = self.query_one("#topics", Tree)
        tree.root.remove_children()
        if not path.exists():
            return
        from edgefabric.pipeline.generate.topics import TopicGraph

        try:
            graph = TopicGraph.load(path)
        except Exception:  # a damaged topics.json is rebuilt by the next run; show none
            return
        tree.root.set_label(graph.nodes[0].title[:40] if graph.nodes else "topics")
        nodes = {0: tree.root}
        for node in graph.nodes[1:]:
            parent = nodes.get(node.parent if node.parent is not None else 0, tree.root)
            nodes[node.id] = parent.add(node.title, data=node.title, expand=True)

    def count_reject(self, stage: str, reason: str) -> None:
        self.reasons[f"{stage}\t{reason.split(':')[0][:50]}"] += 1

    def show_reasons(self) -> None:
        table = self.query_one("#rejects", DataTable)
        table.clear()
        for key, count in self.reasons.most_common(4):
            stage, reason = key.split("\t", 1)
            table.add_row(stage, reason, str(count))
