"""Qwen3's prompt format (ChatML with Hermes-style tool calls), as its own chat template writes it.

    <|im_start|>system
    SYSTEM

    # Tools
    ...
    <tools>
    {"type": "function", "function": {...}}
    </tools>
    ...<|im_end|>
    <|im_start|>user
    ...<|im_end|>
    <|im_start|>assistant
    <tool_call>
    {"name": "NAME", "arguments": {...}}
    </tool_call><|im_end|>
    <|im_start|>user
    <tool_response>
    RESULT
    </tool_response><|im_end|>

Training text equals inference text (issue 14): every assistant turn opens with a
think block, its reasoning or an empty one, so the text before any assistant turn
is exactly the generation prompt (`render(history, add_generation_prompt=True)`):
non-thinking mode (the default, as small specialists answer directly) ends with
the empty block, thinking mode with `<|im_start|>assistant\n`, and a turn with
reasoning is that mode's continuation. This differs from Qwen3's own template, which
drops think blocks from turns before the last user turn: a turn's text there depends
on later messages, so no prefix of a training text would be an inference prompt.
A literal `</tool_call>` inside arguments is written `<\\/tool_call>` (a JSON escape
of `/`), so block-splitting parsers such as llama.cpp's never cut a call short.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from edgefabric.runtime.formats.base import Segment
from edgefabric.runtime.formats.qwen3.tokens import (
    CALL_END,
    CALL_START,
    IM_END,
    IM_START,
    THINK_END,
    THINK_START,
    TOOLS_POSTAMBLE,
    TOOLS_PREAMBLE,
)
from edgefabric.schemas import Message, ToolCall, ToolSpec


def write_json(value: Any) -> str:
    """`value` as JSON the way this format writes it; a literal `</tool_call>` becomes `<\\/tool_call>`."""
    return json.dumps(value, ensure_ascii=False).replace(CALL_END, "<\\/tool_call>")


def render_call(call: ToolCall) -> str:
    """A `<tool_call>` block: `{"name": ..., "arguments": {...}}` on its own line between the tags."""
    return f'{CALL_START}\n{{"name": {write_json(call.name)}, "arguments": {write_json(call.arguments)}}}\n{CALL_END}'


EMPTY_THINK = f"{THINK_START}\n\n{THINK_END}\n\n"


def _think_block(reasoning: str | None) -> str:
    return f"{THINK_START}\n{(reasoning or '').strip(chr(10))}\n{THINK_END}\n\n"


def render_assistant(message: Message) -> str:
    """What the model writes for one assistant message (its think block, if any, is separate)."""
    content = message.content or ""
    text = content
    for index, call in enumerate(message.tool_calls):
        if index > 0 or content:
            text += "\n"
        text += render_call(call)
    return text


def _system_block(system: Message | None, tools: Sequence[ToolSpec]) -> str:
    if not tools:
        return f"{IM_START}system\n{system.content}{IM_END}\n" if system is not None else ""
    head = f"{system.content}\n\n" if system is not None else ""
    listed = "".join("\n" + json.dumps(tool.to_openai(), ensure_ascii=False) for tool in tools)
    return f"{IM_START}system\n{head}{TOOLS_PREAMBLE}{listed}{TOOLS_POSTAMBLE}{IM_END}\n"


def segments(
    messages: Sequence[Message],
    tools: Sequence[ToolSpec],
    *,
    add_generation_prompt: bool = False,
    enable_thinking: bool = False,
) -> list[Segment]:
    """The prompt as pieces; assistant replies (and their `<|im_end|>`) are trainable."""
    rest = list(messages)
    system = rest.pop(0) if rest and rest[0].role in ("system", "developer") else None
    out = [Segment(_system_block(system, tools), False)] if (system is not None or tools) else []

    for index, message in enumerate(rest):
        previous = rest[index - 1].role if index > 0 else None
        following = rest[index + 1].role if index + 1 < len(rest) else None
        if message.role == "assistant":
            out.append(Segment(f"{IM_START}assistant\n", False))
            # Reasoning is the model's own text; an empty think block is the generation prompt's.
            out.append(Segment(_think_block(message.reasoning), bool(message.reasoning)))
            message = message.model_copy(update={"content": (message.content or "").lstrip("\n")})
            out.append(Segment(render_assistant(message), True))
            out.append(Segment(IM_END, True))
            out.append(Segment("\n", False))
        elif message.role == "tool":
            opening = f"{IM_START}user" if previous != "tool" else ""
            closing = f"{IM_END}\n" if following != "tool" else ""
            out.append(Segment(f"{opening}\n<tool_response>\n{message.content}\n</tool_response>{closing}", False))
        else:
            role = "user" if message.role == "user" else "system"
            out.append(Segment(f"{IM_START}{role}\n{message.content}{IM_END}\n", False))
    if add_generation_prompt:
        out.append(Segment(f"{IM_START}assistant\n" + ("" if enable_thinking else EMPTY_THINK), False))
    return out


def render(
    messages: Sequence[Message],
    tools: Sequence[ToolSpec],
    *,
    add_generation_prompt: bool = False,
    enable_thinking: bool = False,
) -> str:
    """The whole prompt text (the `segments` joined); `enable_thinking` leaves the generation prompt's think
    block open, as Qwen3's template does in thinking mode."""
    pieces = segments(messages, tools, add_generation_prompt=add_generation_prompt, enable_thinking=enable_thinking)
    return "".join(s.text for s in pieces)
