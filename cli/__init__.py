"""The headless CLI, `edgefabric`. Each command group lives in its own module and
imports heavy libraries only inside its commands, so `--help` stays fast."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.text import Text

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


def describe_os_error(exc: Exception) -> EdgeFabricError:
    """A file-system or encoding failure in words: which path, what is wrong, what to do."""
    name = getattr(exc, "filename", None)
    where = f"{name}: " if name else ""
    if isinstance(exc, IsADirectoryError):
        return EdgeFabricError(f"{where}is a folder, not a file", "give the path of a file inside it")
    if isinstance(exc, NotADirectoryError):
        return EdgeFabricError(f"{where}a part of this path is a file, not a folder", "check the path")
    if isinstance(exc, FileNotFoundError):
        return EdgeFabricError(f"{where}no such file or folder", "check the path")
    if isinstance(exc, PermissionError):
        return EdgeFabricError(f"{where}permission denied", "check the file's permissions, or use another path")
    if isinstance(exc, UnicodeDecodeError):
        return EdgeFabricError(
            f"a file is not UTF-8 text (byte {exc.start}: {exc.reason})",
            "give a text file saved as UTF-8 (YAML, JSON or JSONL)",
        )
    strerror = getattr(exc, "strerror", None) or str(exc)
    return EdgeFabricError(f"{where}{strerror}", "check the path and the free disk space")


def main() -> None:
    """Run the CLI; errors a person can act on are printed as `error: ...` with exit status 2."""
    try:
        app()
    except EdgeFabricError as exc:
        _fail(exc)
    except (OSError, UnicodeDecodeError) as exc:
        _fail(describe_os_error(exc))


def _fail(exc: EdgeFabricError) -> None:
    Console(stderr=True).print(Text.assemble(("error:", "bold red"), f" {exc.message}"), highlight=False)
    sys.exit(2)
