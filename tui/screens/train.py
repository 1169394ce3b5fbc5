"""Train: live loss and val-loss, throughput, ETA, memory, and which backend runs and why."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, RichLog, Static
from textual_plotext import PlotextPlot

from edgefabric.errors import EdgeFabricError
from edgefabric.event_log import read_events
from edgefabric.events import ArtifactWritten, BackendChosen, Progress, StageDone
from edgefabric.tui.bridge import (
    MetricPoint,
    StageBegan,
    StageCall,
    StageFinished,
    StageNote,
    StageProgress,
    TypedEvent,
)
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
        last: Progress | None = None
        finished: StageDone | None = None
        for event in read_events(events).events:
            # TrainStep since typed events; plain Progress in runs written before them
            if isinstance(event, Progress) and event.stage == "train":
                series.append(MetricPoint(event.done, dict(event.metrics)))
                last = event
            elif isinstance(event, BackendChosen):
                self.query_one("#backend", Static).update(escape(event.describe()))
            elif isinstance(event, StageDone) and event.stage == "train":
                finished = event
        if series and last is not None:
            self.show_series(tuple(series), last.done, last.total, series[-1].metrics)
            where = events.parent.relative_to(self.project.root)
            # The bar shows the run's own figures: full when it finished (early stopping included), else its step.
            total = max(last.total or last.done, last.done, 1)
            progress = total if finished is not None else last.done
            self.query_one("#train-progress", ProgressBar).update(total=total, progress=progress)
            if finished is not None:
                self.set_status(f"run in {where} finished ({finished.summary.get('steps', last.done)} steps)")
            else:
                self.set_status(f"run in {where} stopped at step {last.done}: s resumes it")

    def cli_command(self) -> str | None:
        from edgefabric.tui.calls import train_command

        try:
            return train_command(self.project, self.project.load())
        except EdgeFabricError:
            return None

    def stage_note(self, message: StageNote) -> None:
        style = {"warning": "yellow", "error": "red"}.get(message.level, "dim")
        self.query_one("#train-log", RichLog).write(f"[{style}]{escape(message.text)}[/]")

    def stage_event(self, event: TypedEvent) -> None:
        log = self.query_one("#train-log", RichLog)
        if isinstance(event, BackendChosen):
            self.query_one("#backend", Static).update(escape(event.describe()))
            log.write(f"[dim]{escape(event.describe())}[/]")
        elif isinstance(event, ArtifactWritten):
            log.write(f"[green]{escape(event.kind)}[/] {escape(event.path)}")
        else:
            log.write(f"[dim]{escape(event.describe())}[/]")

    def stage_finished(self, message: StageFinished) -> None:
        bar = self.query_one("#train-progress", ProgressBar)
        if bar.total:  # finished: the bar is full, whatever step the last logged one was
            bar.update(progress=bar.total)
        summary = "  ".join(f"{k}: {v}" for k, v in message.summary.items())
        self.query_one("#train-log", RichLog).write(f"[b green]done[/] {escape(summary)}")


def _rss_gib() -> float:
    """This process's memory: training runs in a thread of it, so this is the trainer's too."""
    try:
        import psutil
    except ImportError:
        return 0.0
    return float(psutil.Process().memory_info().rss) / 2**30
