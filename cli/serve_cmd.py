"""`edgefabric serve MODEL --tools SET`: an OpenAI-compatible chat endpoint on this machine."""

from __future__ import annotations

import typer
from rich.console import Console

from edgefabric.cli.chat_cmd import BACKEND_HELP, FAMILY_HELP, PROFILE_HELP, THREADS_HELP, load_tools
from edgefabric.errors import EdgeFabricError


def serve(
    model: str = typer.Argument(..., help="A .gguf file, an ONNX or HF folder, or an embedded model."),
    tools: list[str] = typer.Option(["math", "kv"], "--tools", "-t", help="Tools offered when a request has none."),
    family: str | None = typer.Option(None, help=FAMILY_HELP),
    backend: str = typer.Option("auto", help=BACKEND_HELP),
    profile: str = typer.Option("laptop", help=PROFILE_HELP),
    host: str = typer.Option("127.0.0.1", help="Address to listen on; 0.0.0.0 exposes it to your network."),
    port: int = typer.Option(8080, min=1, max=65535),
    threads: int | None = typer.Option(None, "--threads", min=1, help=THREADS_HELP),
) -> None:
    """Serve /v1/chat/completions (with tools, streaming or not) for existing OpenAI clients."""
    from edgefabric.runtime.backends import guess_family, load_backend
    from edgefabric.runtime.server import create_app
    from edgefabric.runtime.server import serve as run_server
    from edgefabric.runtime.threads import set_override

    set_override(threads)

    console = Console()
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]listening on {host}: other machines on your network can use this model[/]")
    specs = load_tools(tools).specs if tools else []
    with console.status(f"loading {model}"):
        engine = load_backend(model, backend=backend, profile=profile)
    app = create_app(engine, family or guess_family(model), specs, model)
    console.print(f"serving {model} ({engine.name}) at http://{host}:{port}/v1 ; Ctrl-C stops", highlight=False)
    try:
        run_server(app, host=host, port=port)
    except OSError as exc:
        raise EdgeFabricError(f"cannot listen on {host}:{port} ({exc})", "pick another --port") from None
