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
from importlib.resources import files
from typing import Any

from pydantic import ValidationError

from edgefabric.runtime.formats.base import ParseError, ParseResult, Segment
from edgefabric.runtime.formats.gbnf import GrammarMode, json_call_grammar
from edgefabric.schemas import Message, ToolCall, ToolSpec

name = "qwen3"

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
CALL_START = "<tool_call>"
CALL_END = "</tool_call>"
THINK_START = "<think>"
THINK_END = "</think>"
ENDOFTEXT = "<|endoftext|>"
bos_token = ""
eos_token = IM_END

special_tokens: tuple[str, ...] = ()  # all of these are already in Qwen3's vocabulary
stop_sequences: tuple[str, ...] = (IM_END, ENDOFTEXT)
turn_end_sequences: tuple[str, ...] = stop_sequences  # every stop ends the turn

TOOLS_PREAMBLE = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
TOOLS_POSTAMBLE = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)

_DECODER = json.JSONDecoder()


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False).replace(CALL_END, "<\\/tool_call>")


def render_call(call: ToolCall) -> str:
    return f'{CALL_START}\n{{"name": {_json(call.name)}, "arguments": {_json(call.arguments)}}}\n{CALL_END}'


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
    pieces = segments(messages, tools, add_generation_prompt=add_generation_prompt, enable_thinking=enable_thinking)
    return "".join(s.text for s in pieces)


def _call_from_json(raw: Any) -> ToolCall:
    if not isinstance(raw, dict):
        raise ValueError("a tool call must be a JSON object with name and arguments")
    if not isinstance(raw.get("name"), str):
        raise ValueError("a tool call needs a string 'name'")
    arguments = raw.get("arguments", raw.get("parameters", {}))
    if isinstance(arguments, str):
        arguments = json.loads(arguments)
    if not isinstance(arguments, dict):
        raise ValueError("'arguments' must be a JSON object")
    return ToolCall(name=raw["name"], arguments=arguments)


def parse(output: str) -> ParseResult:
    """Find every `<tool_call>` block. Never raises: bad blocks become `errors`.

    A call is the text between `<tool_call>` and the next `</tool_call>`, as llama.cpp and vLLM
    split it (a literal `</tool_call>` inside arguments is written `<\\/tool_call>`, see `render_call`).
    Time is linear in `len(output)`: every search starts where the last one ended and each block is
    decoded on its own, so no regex rescans the rest from each marker and no error message counts
    lines from the start of the whole output.
    """
    result = ParseResult()
    # Reasoning comes before the first call: a "</think>" inside a call's arguments is argument text.
    first_call = output.find(CALL_START)
    head_end = len(output) if first_call < 0 else first_call
    # The first <think> and the first </think> after it; when that </think> is missing no later
    # <think> can have one either, so one forward search does what a backtracking regex did.
    think_start = output.find(THINK_START, 0, head_end)
    think_end = -1 if think_start < 0 else output.find(THINK_END, think_start + len(THINK_START), head_end)
    if think_end >= 0:
        result.reasoning = output[think_start + len(THINK_START) : think_end].strip() or None
        output = output[:think_start] + output[think_end + len(THINK_END) :]
    elif (closing := output.find(THINK_END, 0, head_end)) >= 0:  # the generation prompt opened <think> itself
        result.reasoning = output[:closing].strip() or None
        output = output[closing + len(THINK_END) :]
    text_parts: list[str] = []
    pos = 0
    while True:
        start = output.find(CALL_START, pos)
        if start < 0:
            text_parts.append(output[pos:])
            break
        text_parts.append(output[pos:start])
        body = start + len(CALL_START)
        end = output.find(CALL_END, body)
        pos = len(output) if end < 0 else end + len(CALL_END)
        block = output[body : len(output) if end < 0 else end].lstrip()
        try:
            raw, payload_end = _DECODER.raw_decode(block)
            if end < 0 or block[payload_end:].strip():
                raise ValueError("the JSON object is not followed by </tool_call>")
            result.tool_calls.append(_call_from_json(raw))
        except (ValueError, ValidationError, RecursionError) as exc:
            message = f"malformed tool call: {exc}"
            if end < 0:
                message += " (the call is not closed with </tool_call>)"
            result.errors.append(ParseError(message, output[start:pos]))
    text = "".join(text_parts).split(IM_END, 1)[0].replace(ENDOFTEXT, "")
    result.text = text.strip()
    return result


def call_grammar(tools: Sequence[ToolSpec], *, mode: GrammarMode, max_calls: int) -> str:
    """The GBNF grammar of `<tool_call>` blocks; the arguments' part is llama-cpp-python's converter's."""
    return json_call_grammar(
        tools,
        head=lambda tool: f'{CALL_START}\n{{"name": {_json(tool.name)}, "arguments": ',
        tail=f"}}\n{CALL_END}",
        separator="\n",
        answer="[^<\\n] [^<]*",
        mode=mode,
        max_calls=max_calls,
    )


def chat_template() -> str:
    """The exported Jinja chat template (qwen3.jinja, beside this module): renders what `render` renders."""
    return files(__package__ or "edgefabric.runtime.formats").joinpath("qwen3.jinja").read_text(encoding="utf-8")
