"""`edgefabric data`: inspect dataset files and see them rendered in a model's format."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from edgefabric.config import DEFAULT_FAMILY
from edgefabric.dataset import read_samples
from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.formats.registry import describe_families, get_format

app = typer.Typer(help="Check and render dataset (JSONL) files.", no_args_is_help=True)


@app.command()
def check(path: Path = typer.Argument(..., help="A JSONL file of samples.")) -> None:
    """Validate every line and count samples, tools and calls."""
    report = read_samples(path, strict=False)
    console = Console()
    for line in report.bad_lines:
        console.print(f"[red]bad:[/] {line}", highlight=False)
    tools = {tool.name for sample in report.samples for tool in sample.tools}
    calls = sum(len(sample.tool_calls) for sample in report.samples)
    console.print(
        f"{len(report.samples)} sample(s), {len(tools)} tool(s), {calls} call(s), "
        f"{len(report.bad_lines)} bad line(s)" + (", torn last line ignored" if report.torn_tail else ""),
        highlight=False,
    )
    if report.bad_lines:
        raise typer.Exit(1)


@app.command()
def render(
    path: Path = typer.Argument(..., help="A JSONL file of samples."),
    family: str = typer.Option(DEFAULT_FAMILY, help=f"Chat format: {describe_families()}."),
    index: int = typer.Option(0, help="Which sample (0-based)."),
) -> None:
    """Print one sample exactly as the model sees it in training."""
    samples = read_samples(path).samples
    if not 0 <= index < len(samples):
        raise EdgeFabricError(f"sample {index} does not exist; {path} has {len(samples)}", "pass a smaller --index")
    sample = samples[index]
    typer.echo(get_format(family).render(sample.messages, sample.tools))
