"""Train: live loss and val-loss, throughput, ETA, memory, and which backend runs and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, RichLog, Static
from textual_plotext import PlotextPlot

from edgefabric.errors import EdgeFabricError
from edgefabric.tui.bridge import MetricPoint, StageBegan, StageCall, StageFinished, StageItem, StageNote, StageProgress
from edgefabric.tui.screens.base import StageScreen

LOSS_KEYS = ("loss", "train_loss")
VAL_KEYS = ("val_loss", "eval_loss")


def loss_series(series: tuple[MetricPoint, ...], keys: tuple[str, ...]) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for point in series:
        for key in keys:
            if key in point.metrics:
                xs.append(float(point.done))
                ys.append(float(point.metrics[key]))
                break
    return xs, ys


class LossPlot(PlotextPlot):
    """Loss and val-loss per step, redrawn from the full series each time."""

    def on_mount(self) -> None:
        self.draw((), ())

    def draw(
        self, train: tuple[list[float], list[float]] | tuple[()], val: tuple[list[float], list[float]] | tuple[()]
    ) -> None:
        plt = self.plt
        plt.clear_data()
        plt.title("loss")
        plt.xlabel("step")
        if train and train[0]:
            plt.plot(train[0], train[1], label="train", marker="braille")
        if val and val[0]:
            plt.plot(val[0], val[1], label="val", marker="dot")
        self.refresh()


class TrainScreen(StageScreen):
    MODE = "train"
    STAGE = "train"
    TITLE_TEXT = "Train"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "start", "Start training", id="train.start"),
        Binding("c", "cancel", "Cancel (keeps checkpoints)", id="train.cancel", show=False),
        Binding("k", "copy_command", "Copy CLI command", id="train.command", show=False),
        Binding("x", "hide_error", "Hide error", id="hide_error", show=False),
    ]

    def compose_stage(self) -> ComposeResult:
        with Horizontal(id="train-columns"):
            yield LossPlot(id="loss-plot")
            with Vertical(id="train-side"):
                yield ProgressBar(total=1, id="train-progress", show_eta=False)
                yield Static("not started", id="train-stats")
                yield Static("", id="backend")
                yield RichLog(id="train-log", wrap=True, markup=True)

    def stage_call(self) -> StageCall | None:
        from edgefabric.tui import calls

        return calls.train_call(self.project, self)

    def before_start(self) -> None:
        self.query_one(LossPlot).draw((), ())
        self.query_one("#train-log", RichLog).clear()

    def stage_began(self, message: StageBegan) -> None:
        if message.total:
            self.query_one("#train-progress", ProgressBar).update(total=message.total, progress=0)
        if message.detail:
            self.query_one("#backend", Static).update(escape(message.detail))

    def stage_progress(self, message: StageProgress) -> None:
        self.query_one("#train-progress", ProgressBar).update(total=message.total, progress=message.done)
        self.show_series(message.series, message.done, message.total, message.metrics)

    def show_series(
        self, series: tuple[MetricPoint, ...], done: int, total: int | None, metrics: dict[str, float]
    ) -> None:
        self.query_one(LossPlot).draw(loss_series(series, LOSS_KEYS), loss_series(series, VAL_KEYS))
        lines = [f"step {done}/{total if total is not None else '?'}"]
        losses = loss_series(series, LOSS_KEYS)[1]
        vals = loss_series(series, VAL_KEYS)[1]
        if losses:
            lines.append(f"loss {losses[-1]:.4g}")
        if vals:
            lines.append(f"val loss {vals[-1]:.4g}")
        if metrics.get("tokens_per_s"):
            lines.append(f"{metrics['tokens_per_s']:.0f} tokens/s")
        if "s_per_step" in metrics:
            lines.append(f"{metrics['s_per_step']:.2f} s/step")
        if "eta_s" in metrics:
            lines.append(f"ETA {metrics['eta_s']:.0f} s")
        rss = metrics.get("rss_mb")
        lines.append(f"memory {rss / 1024:.2f} GiB" if rss else f"memory {_rss_gib():.2f} GiB")
        if metrics.get("gpu_mb"):
            lines.append(f"GPU {metrics['gpu_mb'] / 1024:.2f} GiB")
        self.query_one("#train-stats", Static).update("\n".join(lines))

    def on_screen_resume(self) -> None:
        """Plot the run already in runs/ (finished, cancelled, or from the CLI) from its events.jsonl."""
        if self.unavailable is not None or self.running:
            return
        from edgefabric.tui.calls import run_dir

        try:
            config = self.project.load()
        except EdgeFabricError:
            return
        events = run_dir(self.project, config) / "events.jsonl"
        series: list[MetricPoint] = []
        last: dict[str, Any] = {}
        for record in _read_jsonl(events):
            if record.get("type") == "Progress" and record.get("stage") == "train":
                metrics = {k: float(v) for k, v in (record.get("metrics") or {}).items() if isinstance(v, int | float)}
                series.append(MetricPoint(int(record.get("done", 0)), metrics))
                last = record
            elif record.get("type") == "Note" and "backend" in str(record.get("text", "")):
                self.query_one("#backend", Static).update(escape(str(record["text"])))
        if series:
            self.show_series(tuple(series), int(last.get("done", 0)), last.get("total"), series[-1].metrics)
            self.set_status(f"run in {events.parent.relative_to(self.project.root)}: s resumes it")

    def cli_command(self) -> str | None:
        from edgefabric.tui.calls import train_command

        try:
            return train_command(self.project, self.project.load())
        except EdgeFabricError:
            return None

    def stage_note(self, message: StageNote) -> None:
        style = {"warning": "yellow", "error": "red"}.get(message.level, "dim")
        self.query_one("#train-log", RichLog).write(f"[{style}]{escape(message.text)}[/]")
        if "backend" in message.text.lower():
            self.query_one("#backend", Static).update(escape(message.text))

    def stage_item(self, message: StageItem) -> None:
        where = message.payload.get("path") or message.payload.get("dir") or ""
        self.query_one("#train-log", RichLog).write(f"[green]{escape(message.kind)}[/] {escape(str(where))}")

    def stage_finished(self, message: StageFinished) -> None:
        summary = "  ".join(f"{k}: {v}" for k, v in message.summary.items())
        self.query_one("#train-log", RichLog).write(f"[b green]done[/] {escape(summary)}")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue  # a torn last line from a kill
        if isinstance(value, dict):
            records.append(value)
    return records


def _rss_gib() -> float:
    """This process's memory: training runs in a thread of it, so this is the trainer's too."""
    try:
        import psutil
    except ImportError:
        return 0.0
    return float(psutil.Process().memory_info().rss) / 2**30
