"""`edgefabric chat MODEL --tools SET`: talk to a model in the terminal; its tool calls run in the sandbox."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.formats.registry import describe_families

# The chat formats come from their registry (runtime/formats/registry.py), the one list of them.
FAMILY_HELP = f"Chat format: {describe_families()} (guessed from the model name)."
CONSTRAIN_HELP = "Constrained decoding of calls (llama.cpp grammar): off, auto (call or answer), required."
THREADS_HELP = (
    "Inference threads, overriding the thread policy (physical cores minus a reserve and the current load, "
    "capped by the profile) and EDGEFABRIC_THREADS."
)
QUIET_HELP = "No progress lines when the output is not a terminal."


def load_tools(sets: Sequence[str]) -> Any:
    """The sandbox toolbox for the named sets (built-in names, .py modules, MCP .json files)."""
    from edgefabric.runtime.sandbox import load_toolbox

    return load_toolbox(list(sets))


def check_choice(value: str, allowed: Sequence[str], option: str) -> str:
    if value not in allowed:
        raise EdgeFabricError(f"{option} {value!r} is not known", f"use one of: {', '.join(allowed)}")
    return value


def chat(
    model: str = typer.Argument(
        ..., help="A .gguf file, an ONNX or HF folder, or embedded:smollm2-135m / embedded:gemma3-270m."
    ),
    tools: list[str] = typer.Option(["math", "kv"], "--tools", "-t", help="Tool sets (repeatable)."),
    family: str | None = typer.Option(None, help=FAMILY_HELP),
    backend: str = typer.Option("auto", help="auto, llama.cpp, onnxruntime-genai or transformers."),
    profile: str = typer.Option("laptop", help="Device profile: phone, raspberry-pi, laptop, desktop."),
    constrained: str = typer.Option("off", help=CONSTRAIN_HELP),
    max_steps: int = typer.Option(4, min=1, max=16, help="Model steps per user turn."),
    message: list[str] = typer.Option([], "--message", "-m", help="Send this and exit (repeatable); no prompt."),
    system: str | None = typer.Option(None, help="A system prompt."),
    max_tokens: int | None = typer.Option(None, min=1, help="Tokens per step (default: the profile's)."),
    threads: int | None = typer.Option(None, "--threads", min=1, help=THREADS_HELP),
) -> None:
    """Chat with a model; tool calls are shown as they execute in the sandbox."""
    from edgefabric.runtime.agent import Agent, ExecutedCall
    from edgefabric.runtime.backends import guess_family, load_backend
    from edgefabric.runtime.profiles import get_profile
    from edgefabric.runtime.threads import set_override
    from edgefabric.schemas import Message

    set_override(threads)

    console = Console()
    check_choice(constrained, ("off", "auto", "required"), "--constrained")
    fam = family or guess_family(model)
    prof = get_profile(profile)
    box = load_tools(tools)
    with console.status(f"loading {model}"):
        engine = load_backend(model, backend=backend, profile=prof)

    def on_text(piece: str) -> None:
        console.print(escape(piece), end="", style="cyan", highlight=False)

    def on_call(executed: ExecutedCall) -> None:
        status = "[green]ok[/]" if executed.ok else f"[red]{executed.error_kind or 'failed'}[/]"
        console.print(
            f"\n[bold]tool[/] {escape(executed.call.name)}({escape(str(executed.call.arguments))}) -> {status} "
            f"{escape(executed.content[:300])}",
            highlight=False,
        )

    agent = Agent(
        engine,
        fam,
        box.specs,
        max_steps=max_steps,
        max_tokens=max_tokens or prof.max_tokens,
        constrain=constrained,  # type: ignore[arg-type]
        on_text=on_text,
        on_call=on_call,
    )
    console.print(
        f"[dim]{model} ({engine.name}, {fam}, {prof.name}); tools: {', '.join(s.name for s in box.specs)}[/]",
        highlight=False,
    )
    history: list[Message] = [Message(role="system", content=system)] if system else []
    queued = list(message)
    with box.session() as session:
        while True:
            if message:
                if not queued:
                    break
                text = queued.pop(0)
                console.print(f"[bold]you>[/] {escape(text)}", highlight=False)
            else:
                try:
                    text = console.input("[bold]you>[/] ")
                except (EOFError, KeyboardInterrupt):
                    break
                if text.strip() in ("/exit", "/quit"):
                    break
                if not text.strip():
                    continue
            history.append(Message(role="user", content=text))
            console.print("[bold]model>[/] ", end="")
            result = agent.run(history, session)
            history = result.messages
            console.print()
            for failure in result.failures:
                console.print(f"[yellow]{failure.kind}:[/] {escape(failure.reason)}", highlight=False)
            if result.final_text:
                console.print(f"[bold]answer:[/] {escape(result.final_text)}", highlight=False)
            console.print(
                f"[dim]{result.completion_tokens} tokens in {result.total_s:.2f} s, stop: {escape(result.stop_detail)}[/]",
                highlight=False,
            )
    engine.close()
