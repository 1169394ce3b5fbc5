"""`edgefabric tools`: list tool sets, call a tool in the sandbox, import an MCP server's tools."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from edgefabric.errors import EdgeFabricError
from edgefabric.events import Event, EventSink, Note, PhaseStarted, StageDone, StageStarted

app = typer.Typer(
    help="Tool sets: list them, call a tool in the WebAssembly sandbox, import an MCP server's tools.",
    no_args_is_help=True,
)

MCP_CAVEAT = (
    "MCP tools run in the server's own process, OUTSIDE the WebAssembly sandbox, with your permissions; "
    "import only servers you trust."
)


def _show_build(console: Console) -> EventSink:
    def sink(event: Event) -> None:
        if isinstance(event, StageStarted):
            console.print(f"[dim]{event.detail} (first time only)...[/]", highlight=False)
        elif isinstance(event, Note):
            console.print(f"[dim]{event.text}[/]", highlight=False)
        elif isinstance(event, PhaseStarted):
            console.print(f"[dim]{event.describe()}[/]", highlight=False)
        elif isinstance(event, StageDone):
            console.print(f"[dim]built in {event.summary.get('seconds')} s[/]", highlight=False)

    return sink


@app.command("list")
def list_tools(
    sets: list[str] = typer.Argument(None, help="Built-in set names, tool module paths (.py) or MCP files (.json)."),
    config: Path | None = typer.Option(
        None, "--config", help="List the sets a project config names (tools.builtin, tools.modules)."
    ),
) -> None:
    """List the tools of the given sets (all built-in sets by default) with their descriptions."""
    from edgefabric.runtime.sandbox.modules import BUILTIN_MODULES
    from edgefabric.runtime.sandbox.toolbox import resolve_set

    entries = list(sets or [])
    if config is not None:
        from edgefabric.config import load_config

        project = load_config(config)
        entries += [*project.tools.builtin, *(str(path) for path in project.tools.modules)]
    console = Console()
    table = Table("set", "tool", "parameters", "description")
    for entry in entries or sorted(BUILTIN_MODULES):
        resolved = resolve_set(entry)
        specs = resolved.specs if hasattr(resolved, "specs") else resolved.tools
        label = resolved.name if hasattr(resolved, "specs") else f"{resolved.name} (MCP)"
        for spec in specs:
            parameters = ", ".join(spec.parameters.get("properties", {}))
            table.add_row(label, spec.name, parameters, spec.description)
    console.print(table)


@app.command()
def call(
    toolset: str = typer.Argument(..., metavar="SET", help="A built-in set, a tool module (.py) or an MCP file."),
    name: str = typer.Argument(..., help="The tool's name."),
    arguments: str = typer.Argument("{}", help="The arguments as a JSON object."),
    scenario: str | None = typer.Option(None, "--scenario", help="Start from one of the set's seed states."),
) -> None:
    """Call one tool in a fresh session and print its result (JSON) or its error."""
    from edgefabric.runtime.sandbox import load_toolbox

    errors = Console(stderr=True)
    box = load_toolbox([toolset], on_event=_show_build(errors))
    with box.session(scenario=scenario) as session:
        result = session.call(name, arguments)
    if result.ok:
        typer.echo(result.content)
        return
    errors.print(f"[bold red]{result.error_kind}:[/] {result.content}", highlight=False, markup=True)
    raise typer.Exit(1)


@app.command("import")
def import_(
    mcp: str = typer.Option(
        ..., "--mcp", help='The command that starts the MCP server (stdio), e.g. "uvx some-server".'
    ),
    name: str | None = typer.Option(None, "--name", help="The tool set's name (default: from the command)."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Where to write the tool set (default NAME.mcp.json)."
    ),
) -> None:
    """Start an MCP server over stdio, list its tools and write them as a tool set file.

    MCP tools run in the server's own process, OUTSIDE the WebAssembly sandbox.
    """
    from edgefabric.runtime.sandbox.mcp_tools import import_mcp, save_mcp

    toolset = import_mcp(mcp, name)
    path = output or Path(f"{toolset.name}.mcp.json")
    if path.suffix != ".json":
        raise EdgeFabricError(f"{path} does not end in .json", "name the output file NAME.json")
    save_mcp(toolset, path)
    console = Console()
    console.print(f"wrote {path}: {len(toolset.tools)} tools from {toolset.server or mcp}", highlight=False)
    for spec in toolset.tools:
        console.print(f"  {spec.name}: {spec.description}", highlight=False, markup=False)
    for rejected in toolset.rejected:
        Console(stderr=True).print(
            f"[yellow]left out:[/] {escape(rejected.name)}: {escape(rejected.rule)}", highlight=False, soft_wrap=True
        )
    Console(stderr=True).print(f"[yellow]note:[/] {MCP_CAVEAT}", highlight=False, soft_wrap=True)
    console.print(f"use it with: edgefabric tools call {path} TOOL '{{...}}'", highlight=False, markup=False)
