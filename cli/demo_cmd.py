"""`edgefabric demo`: the whole journey on the embedded defaults, offline, resumable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from edgefabric.cli.chat_cmd import QUIET_HELP, THREADS_HELP
from edgefabric.cli.generate_cmd import StageView, stage_progress
from edgefabric.cli.plain_progress import PlainProgress, plain_progress
from edgefabric.cli.train_cmd import TrainView
from edgefabric.errors import EdgeFabricError
from edgefabric.events import ArtifactWritten, Event, StageDone, StageStarted


class DemoView:
    """Training events go to the training bar (loss, tokens/s, memory); every other stage gets its own bar."""

    def __init__(self, console: Console, progress: Progress, lines: PlainProgress | None = None) -> None:
        self.stages = StageView(console, progress, lines)
        self.train = TrainView(console, progress, lines)
        self.console = console
        self.progress = progress

    def __call__(self, event: Event) -> None:
        if event.stage == "train":
            self.train(event)
            return
        self.stages(event)
        if isinstance(event, StageStarted) and event.stage == "demo":
            self.console.rule(f"demo in {event.detail}")
        elif isinstance(event, ArtifactWritten) and event.kind in ("gguf", "onnx"):
            self.console.print(f"[green]wrote[/] {event.path}", highlight=False)
        elif isinstance(event, StageDone) and event.stage in self.stages.tasks:
            task = self.stages.tasks[event.stage]
            total = self.progress.tasks[task].total
            if total is not None:
                self.progress.update(task, completed=total)


def demo(
    project: Path = typer.Argument(Path("demo-project"), help="The demo's project folder (made on first use)."),
    headless: bool = typer.Option(
        False, "--headless", help="Run the whole journey here with progress bars instead of opening fabric-tui."
    ),
    threads: int | None = typer.Option(None, "--threads", min=1, help=THREADS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
) -> None:
    """Generate -> train -> export -> evaluate on the embedded models, offline; run again to resume.

    With --headless it runs every step and prints base vs fine-tuned and where every
    artifact is; without it, it opens fabric-tui on the demo project.
    """
    from edgefabric.app.journey import load_reports, prepare_project, run_journey
    from edgefabric.runtime.threads import set_override

    set_override(threads)  # inherited by the teacher server and each evaluation process

    console = Console()
    if not headless:
        prepare_project(project.expanduser().resolve())
        if not sys.stdout.isatty():
            raise EdgeFabricError(
                "fabric-tui needs a terminal and this output is not one",
                f"run it in a terminal, or pass --headless to run the journey here ({project} is ready)",
            )
        # The CLI never imports the TUI (the TUI depends on the CLI's stages, not the other way).
        raise typer.Exit(subprocess.call([sys.executable, "-m", "edgefabric.tui", str(project)]))
    with stage_progress(console) as progress:
        result = run_journey(project, on_event=DemoView(console, progress, plain_progress(console, quiet)))

    from edgefabric.pipeline.evaluate.report import compare_table

    console.print(compare_table(load_reports(result)))
    where = Table(title="artifacts")
    where.add_column("what")
    where.add_column("where")
    for what, path in result.artifacts():
        where.add_row(what, str(path))
    console.print(where)
    timing = ", ".join(
        f"{name} {seconds / 60:.1f} min" + (" (kept)" if name in result.skipped else "")
        for name, seconds in result.seconds.items()
    )
    console.print(f"steps: {timing}; open it all with: fabric-tui {project}", highlight=False)
