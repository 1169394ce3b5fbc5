"""`edgefabric config`: write and check project configs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from edgefabric.config import ProjectConfig, load_config, save_config
from edgefabric.errors import ConfigError, EdgeFabricError

app = typer.Typer(help="Create and validate project configs.", no_args_is_help=True)


@app.command()
def validate(path: Path = typer.Argument(..., help="The project YAML file.")) -> None:
    """Check a config; every problem is listed with the field, the bad value and what is allowed."""
    from edgefabric.runtime.sandbox.modules import tool_source_problems

    console = Console()
    try:
        config = load_config(path)
        problems = tool_source_problems(config.tools.builtin, config.tools.modules)
        if problems:
            raise ConfigError(str(path), problems)
    except ConfigError as exc:
        console.print(f"[bold red]invalid:[/] {exc.source}", highlight=False)
        for line in exc.problems:
            console.print(f"  - {line}", highlight=False, markup=False)
        console.print(f"  fix: {exc.fix}", highlight=False)
        raise typer.Exit(1) from None
    console.print(
        f"[green]valid:[/] {path} (model {config.model.base} as {config.model.family}, "
        f"teacher {config.teacher.model}, tools {', '.join(config.tools.builtin) or 'none'})",
        highlight=False,
    )


@app.command()
def init(
    path: Path = typer.Argument(Path("edgefabric.yaml"), help="Where to write the config."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a config with every field at its default (the embedded, offline setup)."""
    if path.exists() and not force:
        raise EdgeFabricError(f"{path} already exists", "pass --force to overwrite it, or choose another path")
    save_config(ProjectConfig(), path)
    typer.echo(f"wrote {path}")
