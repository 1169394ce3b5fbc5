"""Conversations as Rich renderables: who said what, each tool call and its real result."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group
from rich.text import Text

ROLE_STYLES = {"system": "dim", "developer": "dim", "user": "bold cyan", "assistant": "bold green", "tool": "magenta"}


def format_call(name: str, arguments: Any) -> str:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            return f"{name}({arguments})"
    args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in (arguments or {}).items())
    return f"{name}({args})"


def _calls(message: dict[str, Any]) -> list[tuple[str, Any]]:
    calls = []
    for call in message.get("tool_calls") or []:
        function = call.get("function", call)
        calls.append((str(function.get("name")), function.get("arguments")))
    return calls


def render_message(message: dict[str, Any]) -> Text:
    role = str(message.get("role", "?"))
    text = Text()
    text.append(f"{role:>9} ", style=ROLE_STYLES.get(role, ""))
    if role == "tool":
        text.append(f"← {message.get('name')}: ", style="magenta")
        text.append(str(message.get("content", "")))
        return text
    content = message.get("content")
    if content:
        text.append(str(content))
    for name, arguments in _calls(message):
        if len(text.plain) > 10:
            text.append("\n          ")
        text.append(f"→ {format_call(name, arguments)}", style="yellow")
    return text


def render_sample(record: dict[str, Any]) -> Group:
    """A sample record (Sample.to_record() or the same shape) as one block per message."""
    header = Text()
    kind = (record.get("metadata") or {}).get("kind")
    topic = " / ".join(record.get("topic_path") or [])
    header.append(f"── {kind or 'sample'} ", style="bold")
    header.append(topic, style="dim")
    lines = [header]
    lines.extend(render_message(m) for m in record.get("messages", []) if m.get("role") not in ("system",))
    return Group(*lines)
