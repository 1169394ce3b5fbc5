"""`edgefabric train`: LoRA fine-tuning of the project's model on a generated dataset."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, TaskID

from edgefabric.cli.chat_cmd import QUIET_HELP
from edgefabric.cli.generate_cmd import stage_progress
from edgefabric.cli.plain_progress import PlainProgress, plain_progress
from edgefabric.events import (
    ArtifactWritten,
    BackendChosen,
    Event,
    Note,
    PhaseStarted,
    StageDone,
    StageFailed,
    StageStarted,
)
from edgefabric.events import Progress as ProgressEvent

if TYPE_CHECKING:
    from edgefabric.app.train import TrainRequest


class TrainView:
    """One bar for the training steps with loss, val loss, tokens/s, ETA and memory; notes as lines above."""

    def __init__(self, console: Console, progress: Progress, lines: PlainProgress | None = None) -> None:
        self.console = console
        self.progress = progress
        self.lines = lines
        self.task: TaskID | None = None
        self.metrics: dict[str, float] = {}  # eval events carry no train loss: keep the last of each

    def __call__(self, event: Event) -> None:
        if isinstance(event, StageStarted):
            self.console.print(f"[bold]{event.stage}[/]: {event.detail}", highlight=False)
            if event.stage == "train":
                self.task = self.progress.add_task("train", total=event.total, stats="")
                if self.lines is not None:
                    self.lines.start("train")
        elif isinstance(event, ProgressEvent) and event.stage == "train" and self.task is not None:
            self.metrics.update(event.metrics)
            m = self.metrics
            parts = []
            if "loss" in m:
                parts.append(f"loss {m['loss']:.3f}")
            if "val_loss" in m:
                parts.append(f"val {m['val_loss']:.3f}")
            if m.get("tokens_per_s"):
                parts.append(f"{m['tokens_per_s']:.0f} tok/s")
            if "eta_s" in m:
                parts.append(f"ETA {m['eta_s'] / 60:.1f} min")
            if "rss_mb" in m:
                parts.append(f"RSS {m['rss_mb'] / 1024:.1f} GB")
            self.progress.update(self.task, completed=event.done, total=event.total, stats=", ".join(parts))
            if self.lines is not None:
                self.lines.update("train", event.done, event.total, ", ".join(p for p in parts if "ETA" not in p))
        elif isinstance(event, Note):
            colour = "yellow" if event.level == "warning" else "dim"
            self.console.print(f"[{colour}]{event.stage}: {event.text}[/]", highlight=False)
        elif isinstance(event, ArtifactWritten) and event.kind in ("adapter", "merged"):
            self.console.print(f"[dim]{escape(event.describe())}[/]", highlight=False)
        elif isinstance(event, PhaseStarted | BackendChosen):
            self.console.print(f"[dim]{event.stage}: {escape(event.describe())}[/]", highlight=False)
        elif isinstance(event, StageDone) and event.stage == "train" and self.task is not None:
            total = self.progress.tasks[self.task].total
            self.progress.update(self.task, completed=total if total is not None else event.summary.get("steps", 0))
        elif isinstance(event, StageFailed):
            self.console.print(f"[red]{event.stage} failed[/]", highlight=False)


def train_request(
    *,
    config_path: Path,
    data: Path | None,
    out: Path | None,
    max_steps: int | None,
    resume: bool,
    merge: bool | None,
    **_display: object,
) -> TrainRequest:
    """The request `edgefabric train` runs, from its parsed options (also used to parse the TUI's command);
    --quiet shapes how it runs here, not what is trained."""
    from edgefabric.app.train import TrainRequest

    return TrainRequest(config=config_path, data=data, out=out, max_steps=max_steps, resume=resume, merge=merge)


def train(
    config_path: Path = typer.Argument(..., metavar="CONFIG", help="The project YAML file."),
    data: Path | None = typer.Option(
        None,
        "--data",
        help="Dataset folder with train.jsonl (and val.jsonl); default: the project's data/ for an "
        "edgefabric.yaml, else datasets/<project name>.",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Run folder; default: runs/<project name> in the project (beside an edgefabric.yaml)."
    ),
    max_steps: int | None = typer.Option(None, "--max-steps", min=1, help="Override training.max_steps."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    merge: bool | None = typer.Option(
        None, "--merge/--no-merge", help="Write merged/ (base + adapter) after training; default: training.merge."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
) -> None:
    """Fine-tune the project's model with LoRA (TRL+PEFT on CPU/CUDA/MPS, Unsloth on CUDA).

    The run folder gets config.yaml, checkpoints/, adapter/, merged/ (when training.merge),
    train_report.json and events.jsonl.
    """
    from edgefabric.app.train import run_train

    request = train_request(
        config_path=config_path, data=data, out=out, max_steps=max_steps, resume=resume, merge=merge
    )
    console = Console()
    with stage_progress(console) as progress:
        result = run_train(request, on_event=TrainView(console, progress, plain_progress(console, quiet)))
    report = result.report
    skipped = sum(n for split in report["data"]["skipped"].values() for n in split.values())
    losses = ""
    if report["first_loss"] is not None and report["final_loss"] is not None:  # None: nothing left to train
        losses = f"; loss {report['first_loss']:.3f} -> {report['final_loss']:.3f}"
    if report["final_val_loss"] is not None:
        losses += f", val {report['final_val_loss']:.3f}"
    console.print(
        f"[green]done:[/] {report['steps']} steps in {report['seconds']:.0f} s on {report['data']['train_used']} "
        f"samples ({skipped} skipped, {report['data']['unreadable_lines']} unreadable lines){losses}",
        highlight=False,
    )
    console.print(
        f"adapter in {result.adapter}" + (f", merged model in {result.merged}" if result.merged else ""),
        highlight=False,
    )
