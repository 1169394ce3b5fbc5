"""`edgefabric generate` and `edgefabric topics`: make a dataset, inspect its topic graph."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from edgefabric.cli.chat_cmd import QUIET_HELP, THREADS_HELP
from edgefabric.cli.plain_progress import PlainProgress, plain_progress
from edgefabric.errors import EdgeFabricError
from edgefabric.events import (
    ArtifactWritten,
    BackendChosen,
    Event,
    Note,
    PhaseStarted,
    SampleRejected,
    StageDone,
    StageFailed,
    StageStarted,
)
from edgefabric.events import Progress as ProgressEvent

if TYPE_CHECKING:
    from edgefabric.app.generate import GenerateRequest

topics_app = typer.Typer(help="Inspect topic graphs made by `edgefabric generate`.", no_args_is_help=True)


def stage_progress(console: Console) -> Progress:
    """The bar layout StageView and TrainView fill: description, bar, n/total, their stats, elapsed."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(),
        console=console,
    )


class StageView:
    """Renders the generation events: one bar per stage, notes and rejects as lines above it."""

    def __init__(self, console: Console, progress: Progress, lines: PlainProgress | None = None) -> None:
        self.console = console
        self.progress = progress
        self.lines = lines
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, StageStarted):
            self.console.print(f"[bold]{event.stage}[/]: {event.detail}", highlight=False)
            self.tasks[event.stage] = self.progress.add_task(event.stage, total=event.total, stats="")
            if self.lines is not None:
                self.lines.start(event.stage)
        elif isinstance(event, ProgressEvent) and event.stage in self.tasks:
            m = event.metrics
            stats = ""
            if "accept_rate" in m:
                eta = f", ETA {m['eta_s'] / 60:.1f} min" if "eta_s" in m else ""
                stats = f"accept {m['accept_rate']:.0%}, {m['samples_per_min']:.1f}/min{eta}"
            self.progress.update(self.tasks[event.stage], completed=event.done, total=event.total, stats=stats)
            if self.lines is not None:
                # The line has its own rate and ETA; only the accept rate is added.
                accept = f"accept {m['accept_rate']:.0%}" if "accept_rate" in m else ""
                self.lines.update(event.stage, event.done, event.total, accept)
        elif isinstance(event, SampleRejected):
            self.console.print(
                f"[yellow]rejected[/] {escape(event.kind)}: {escape(event.check)}: {escape(event.reason[:160])}",
                highlight=False,
            )
        elif isinstance(event, PhaseStarted | BackendChosen | ArtifactWritten):
            self.console.print(f"[dim]{event.stage}: {escape(event.describe())}[/]", highlight=False)
        elif isinstance(event, Note):
            colour = "yellow" if event.level == "warning" else "dim"
            self.console.print(f"[{colour}]{event.stage}: {event.text}[/]", highlight=False)
        elif isinstance(event, StageDone) and event.stage == "topics" and event.stage in self.tasks:
            self.progress.update(self.tasks[event.stage], completed=event.summary.get("calls", 0))
        elif isinstance(event, StageFailed):
            self.console.print(f"[red]{event.stage} failed[/]", highlight=False)


def generate_request(
    *, config_path: Path, out: Path | None, resume: bool, num_samples: int | None, **_display: object
) -> GenerateRequest:
    """The request `edgefabric generate` runs, from its parsed options (also used to parse the TUI's command);
    --threads and --quiet shape how it runs here, not what is generated."""
    from edgefabric.app.generate import GenerateRequest

    return GenerateRequest(config=config_path, out=out, resume=resume, num_samples=num_samples)


def generate(
    config_path: Path = typer.Argument(..., metavar="CONFIG", help="The project YAML file."),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Output folder (default: the project's data/ for an edgefabric.yaml, else datasets/<project name>).",
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue a run in --out; nothing written is lost or repeated."
    ),
    num_samples: int | None = typer.Option(None, "--num-samples", min=1, help="Override generation.num_samples."),
    threads: int | None = typer.Option(None, "--threads", min=1, help=THREADS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
) -> None:
    """Generate a verified tool-calling dataset: topics, real tool execution, splits and a card."""
    from edgefabric.app.generate import run_generate
    from edgefabric.runtime.threads import set_override

    set_override(threads)
    request = generate_request(config_path=config_path, out=out, resume=resume, num_samples=num_samples)
    console = Console()
    with stage_progress(console) as progress:
        summary = run_generate(request, on_event=StageView(console, progress, plain_progress(console, quiet)))
    out_dir = summary.out_dir
    card = summary.card
    console.print(
        f"[green]done:[/] {summary.accepted} accepted, {summary.rejected} rejected in {summary.elapsed_s:.0f} s; "
        f"splits {', '.join(f'{k} {v}' for k, v in summary.splits.items())}; "
        f"teacher calls {card['usage']['calls']}, tokens {card['usage']['prompt_tokens'] + card['usage']['completion_tokens']}",
        highlight=False,
    )
    console.print(
        f"dataset in {out_dir} (samples.jsonl, train/val/test.jsonl, rejects.jsonl, card.md)", highlight=False
    )


@topics_app.command("show")
def show(
    path: Path = typer.Argument(..., help="A topics.json written by `edgefabric generate`."),
    mermaid: bool = typer.Option(False, "--mermaid", help="Print the graph as a Mermaid diagram."),
    dot: bool = typer.Option(False, "--dot", help="Print the graph in Graphviz DOT."),
) -> None:
    """Print a topic graph as an indented tree (or as Mermaid / DOT)."""
    from edgefabric.pipeline.generate.topics import TopicGraph

    if mermaid and dot:
        raise EdgeFabricError("--mermaid and --dot are exclusive", "pass one of them, or neither for a tree")
    graph = TopicGraph.load(path)
    if mermaid:
        typer.echo(graph.to_mermaid(), nl=False)
        return
    if dot:
        typer.echo(graph.to_dot(), nl=False)
        return
    console = Console()
    for node in graph.nodes:
        extra_parents = [s for s, t in graph.edges if t == node.id and s != node.parent]
        links = (
            f"  [dim](also under {', '.join(graph.nodes[s].title for s in extra_parents)})[/]" if extra_parents else ""
        )
        console.print(f"{'  ' * node.depth}{node.id}. {node.title}{links}", highlight=False)
    console.print(
        f"{len(graph.nodes)} topics, {len(graph.leaves())} leaves, {len(graph.edges)} edges, "
        f"{graph.merged} near-duplicates merged; built with {graph.usage.get('calls', '?')} of "
        f"at most {graph.planned_calls} teacher calls",
        highlight=False,
    )
