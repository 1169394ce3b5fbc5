"""Train: live loss and val-loss, throughput, ETA, memory, and which backend runs and why."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, RichLog, Static
from textual_plotext import PlotextPlot

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
        Binding("c", "cancel", "Cancel (keeps checkpoint)", id="train.cancel"),
        Binding("x", "hide_error", "Hide error", id="hide_error", show=False),
    ]

    def compose_stage(self) -> ComposeResult:
        with Horizontal(id="train-columns"):
            yield LossPlot(id="loss-plot")
            with Vertical(id="train-side"):
                yield ProgressBar(id="train-progress", show_eta=False)
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
        self.query_one(LossPlot).draw(loss_series(message.series, LOSS_KEYS), loss_series(message.series, VAL_KEYS))
        lines = [f"step {message.done}/{message.total if message.total is not None else '?'}"]
        last_val = loss_series(message.series, VAL_KEYS)[1]
        metrics = dict(message.metrics)
        for key in ("loss", "val_loss", "tokens_per_s", "learning_rate"):
            if key in metrics:
                lines.append(f"{key} {metrics.pop(key):.4g}")
        if last_val and "val_loss" not in message.metrics:
            lines.append(f"val_loss {last_val[-1]:.4g}")
        if message.total and message.done:
            elapsed = self.elapsed()
            lines.append(f"ETA {(message.total - message.done) * elapsed / message.done:.0f} s")
        lines.append(f"memory {_rss_gib():.2f} GiB")
        lines.extend(f"{k} {v:.4g}" for k, v in metrics.items())
        self.query_one("#train-stats", Static).update("\n".join(lines))

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


def _rss_gib() -> float:
    """This process's memory: training runs in a thread of it, so this is the trainer's too."""
    try:
        import psutil
    except ImportError:
        return 0.0
    return float(psutil.Process().memory_info().rss) / 2**30
