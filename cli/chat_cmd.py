"""`edgefabric chat MODEL --tools SET`: talk to a model in the terminal; its tool calls run in the sandbox."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape

from edgefabric.errors import EdgeFabricError
from edgefabric.events import Event, ReplyText, ToolCallExecuted
from edgefabric.runtime.formats.registry import describe_families

if TYPE_CHECKING:
    from edgefabric.app.chat import ChatRequest

# The chat formats come from their registry (runtime/formats/registry.py), the one list of them.
FAMILY_HELP = f"Chat format: {describe_families()} (guessed from the model name)."
BACKEND_HELP = "auto, llama.cpp, onnxruntime-genai or transformers."
PROFILE_HELP = "Device profile: phone, raspberry-pi, laptop, desktop."
MAX_TOKENS_HELP = "Tokens per step (default: the profile's)."
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


def chat_request(
    *,
    model: str,
    tools: list[str],
    family: str | None,
    backend: str,
    profile: str,
    constrained: str,
    max_steps: int,
    max_tokens: int | None,
    system: str | None,
    **_session: object,  # --message and --threads shape this run, not the chat's settings
) -> ChatRequest:
    """The chat settings `edgefabric chat` opens, from its parsed options (also used to parse the TUI's command)."""
    from edgefabric.app.chat import ChatRequest

    check_choice(constrained, ("off", "auto", "required"), "--constrained")
    return ChatRequest(
        model=model,
        tools=tuple(tools),
        family=family,
        backend=backend,
        profile=profile,
        constrained=constrained,
        max_steps=max_steps,
        max_tokens=max_tokens,
        system=system,
    )


def chat(
    model: str = typer.Argument(
        ..., help="A .gguf file, an ONNX or HF folder, or embedded:smollm2-135m / embedded:gemma3-270m."
    ),
    tools: list[str] = typer.Option(["math", "kv"], "--tools", "-t", help="Tool sets (repeatable)."),
    family: str | None = typer.Option(None, help=FAMILY_HELP),
    backend: str = typer.Option("auto", help=BACKEND_HELP),
    profile: str = typer.Option("laptop", help=PROFILE_HELP),
    constrained: str = typer.Option("off", help=CONSTRAIN_HELP),
    max_steps: int = typer.Option(4, min=1, max=16, help="Model steps per user turn."),
    message: list[str] = typer.Option([], "--message", "-m", help="Send this and exit (repeatable); no prompt."),
    system: str | None = typer.Option(None, help="A system prompt."),
    max_tokens: int | None = typer.Option(None, min=1, help=MAX_TOKENS_HELP),
    threads: int | None = typer.Option(None, "--threads", min=1, help=THREADS_HELP),
) -> None:
    """Chat with a model; tool calls are shown as they execute in the sandbox."""
    from edgefabric.app.chat import ChatSession, ChatTurnRequest, run_chat_turn
    from edgefabric.runtime.threads import set_override
    from edgefabric.schemas import Message

    set_override(threads)

    console = Console()
    request = chat_request(
        model=model,
        tools=tools,
        family=family,
        backend=backend,
        profile=profile,
        constrained=constrained,
        max_steps=max_steps,
        max_tokens=max_tokens,
        system=system,
    )
    session = ChatSession(request)

    def on_event(event: Event) -> None:
        if isinstance(event, ReplyText):
            console.print(escape(event.text), end="", style="cyan", highlight=False)
        elif isinstance(event, ToolCallExecuted):
            status = "[green]ok[/]" if event.ok else f"[red]{event.error_kind or 'failed'}[/]"
            console.print(
                f"\n[bold]tool[/] {escape(event.name)}({escape(str(event.arguments))}) -> {status} "
                f"{escape(event.content[:300])}",
                highlight=False,
            )

    with console.status(f"loading {model}"):
        session.load()
    console.print(
        f"[dim]{model} ({session.engine.name}, {session.family}, {request.profile}); "
        f"tools: {', '.join(s.name for s in session.box.specs)}[/]",
        highlight=False,
    )
    history: list[Message] = []
    queued = list(message)
    try:
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
            console.print("[bold]model>[/] ", end="")
            result = run_chat_turn(ChatTurnRequest(request, tuple(history), text), session, on_event=on_event)
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
    finally:
        session.close()
