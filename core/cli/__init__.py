"""The headless CLI, `edgefabric`. Each command group lives in its own module and
imports heavy libraries only inside its commands, so `--help` stays fast."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from edgefabric import __version__
from edgefabric.cli import (
    chat_cmd,  # runtime
    config_cmd,
    data_cmd,
    demo_cmd,  # the whole journey
    eval_cmd,  # evaluation
    export_cmd,  # export
    generate_cmd,  # data generation
    serve_cmd,  # runtime
    tools_cmd,  # sandbox
    train_cmd,  # training
)
from edgefabric.errors import EdgeFabricError

app = typer.Typer(
    name="edgefabric",
    help="Make small, private, offline tool-calling models: generate, train, export, run, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(config_cmd.app, name="config")
app.add_typer(data_cmd.app, name="data")
app.command("generate")(generate_cmd.generate)
app.add_typer(generate_cmd.topics_app, name="topics")
app.add_typer(eval_cmd.app, name="eval")
app.add_typer(tools_cmd.app, name="tools")
app.command("improve")(eval_cmd.improve)
app.command("chat")(chat_cmd.chat)
app.command("serve")(serve_cmd.serve)
app.command("train")(train_cmd.train)
app.command("export")(export_cmd.export)
app.command("demo")(demo_cmd.demo)


@app.command()
def version() -> None:
    """Print the EdgeFabric version."""
    typer.echo(__version__)


def main() -> None:
    try:
        app()
    except EdgeFabricError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc.message}", highlight=False)
        sys.exit(2)
