"""Reading Qwen3 output: its `<think>` reasoning, every `<tool_call>` block and the text around them.
Never raises: a malformed block becomes a `ParseError`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from edgefabric.runtime.formats.base import ParseError, ParseResult
from edgefabric.runtime.formats.qwen3.tokens import CALL_END, CALL_START, ENDOFTEXT, IM_END, THINK_END, THINK_START
from edgefabric.schemas import ToolCall

_DECODER = json.JSONDecoder()


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
