"""FunctionGemma's prompt format (Gemma 3 turns plus function-calling control tokens).

    <bos><start_of_turn>developer
    You are a model that can do function calling with the following functions<start_function_declaration>declaration:NAME{description:<escape>...<escape>,parameters:{properties:{...},required:[...],type:<escape>OBJECT<escape>}}<end_function_declaration><end_of_turn>
    <start_of_turn>user
    ...<end_of_turn>
    <start_of_turn>model
    <start_function_call>call:NAME{arg:<escape>text<escape>,n:3}<end_function_call><start_function_response>response:NAME{...}<end_function_response>final answer<end_of_turn>

Keys are bare, strings sit between `<escape>` tokens, schema type names are
upper-case, declaration keys are sorted. Calls, results and the final answer
share one model turn; `<start_function_response>` is a stop sequence, since the
host, not the model, writes results.

Two things the format leaves open, decided here so that render -> parse is exact:
- a literal `<escape>` inside a string is written `<\\escape>` (and a literal
  `<\\...\\escape>` gains one more backslash); nothing else in a string changes;
- a key that is not a plain identifier is itself wrapped in `<escape>`;
- a tool result is written as its text, `{value:<escape>TEXT<escape>}`, JSON or not (see
  `render_response`).

The exported chat template (template.jinja, beside this module) renders the same text from OpenAI wire messages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from edgefabric.runtime.formats.base import Segment
from edgefabric.runtime.formats.functiongemma.tokens import (
    BOS,
    CALL_END,
    CALL_START,
    DECLARATION_END,
    DECLARATION_START,
    DEFAULT_DEVELOPER_PROMPT,
    END_TURN,
    ESCAPE,
    RESPONSE_END,
    RESPONSE_START,
    START_TURN,
)
from edgefabric.schema_normal import SUBSCHEMA_LISTS, SUBSCHEMA_MAPS, SUBSCHEMAS, normalize_schema
from edgefabric.schemas import Message, ToolCall, ToolSpec

BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_LITERAL_ESCAPE = re.compile(r"<(\\*)escape>")
# Schema keys that only cost tokens: pydantic adds a title to every property.
_DROPPED_SCHEMA_KEYS = frozenset({"title", "$schema"})


def write_string(text: str) -> str:
    """`<escape>TEXT<escape>`, a literal `<escape>` in TEXT written `<\\escape>` (see the module doc)."""
    return ESCAPE + _LITERAL_ESCAPE.sub(lambda m: "<\\" + m.group(1) + "escape>", text) + ESCAPE


def write_key(key: str) -> str:
    """A key as written before `:`, bare when it is an identifier, else `<escape>`-quoted (`page size`)."""
    return key if BARE_KEY.fullmatch(key) else write_string(key)


def write_value(value: Any) -> str:
    """A JSON value in FunctionGemma notation; ValueError for NaN/infinity, TypeError for a non-JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be written in FunctionGemma format")
        return repr(value)
    if isinstance(value, str):
        return write_string(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(write_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{write_key(k)}:{write_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _schema(schema: Any) -> str:
    """A normalised JSON Schema node: keys sorted, type names upper-case, sub-schemas recursed."""
    if not isinstance(schema, dict):
        return write_value(schema)
    parts = []
    for key in sorted(schema):
        if key in _DROPPED_SCHEMA_KEYS:
            continue
        item = schema[key]
        if key == "type":
            text = write_value([t.upper() for t in item] if isinstance(item, list) else str(item).upper())
        elif key in SUBSCHEMA_MAPS and isinstance(item, dict):
            text = "{" + ",".join(f"{write_key(p)}:{_schema(item[p])}" for p in sorted(item)) + "}"
        elif key in SUBSCHEMAS and isinstance(item, dict):
            text = _schema(item)
        elif key in SUBSCHEMA_LISTS and isinstance(item, list):
            text = "[" + ",".join(_schema(s) for s in item) + "]"
        else:
            text = write_value(item)
        parts.append(f"{write_key(key)}:{text}")
    return "{" + ",".join(parts) + "}"


def render_declaration(tool: ToolSpec) -> str:
    """`<start_function_declaration>declaration:NAME{description:...,parameters:{...}}<end_function_declaration>`.

    The parameters are normalised first (edgefabric.schema_normal: local `$ref`s inlined, `nullable` as a
    `"null"` type), as the exported template does; `allOf` is shown as written.
    """
    fields = []
    if tool.description:
        fields.append(f"description:{write_string(tool.description)}")
    parameters = normalize_schema(tool.parameters, merge_all_of=False, keep_definitions=False)
    fields.append(f"parameters:{_schema(parameters)}")
    return f"{DECLARATION_START}declaration:{tool.name}{{{','.join(fields)}}}{DECLARATION_END}"


def render_call(call: ToolCall) -> str:
    """`<start_function_call>call:NAME{...}<end_function_call>`."""
    return f"{CALL_START}call:{call.name}{write_value(call.arguments)}{CALL_END}"


def render_response(tool_name: str, content: str) -> str:
    """A tool result, always as its text: `response:NAME{value:<escape>TEXT<escape>}`.

    The text is not decoded even when it is JSON: clients send results as strings, and a chat template
    (Jinja) cannot decode JSON, so this is the one form that training, EdgeFabric's runtime, llama.cpp
    and transformers all write the same (issue 14, item 1).
    """
    return f"{RESPONSE_START}response:{tool_name}{{value:{write_string(content)}}}{RESPONSE_END}"


def render_assistant(message: Message) -> str:
    """What the model writes for one assistant message: its text, then its calls."""
    return (message.content or "") + "".join(render_call(call) for call in message.tool_calls)


def segments(
    messages: Sequence[Message], tools: Sequence[ToolSpec], *, add_generation_prompt: bool = False
) -> list[Segment]:
    """The prompt as pieces; model-written pieces are trainable, the rest is context."""
    out = [Segment(BOS, False)]
    rest = list(messages)
    system = rest.pop(0) if rest and rest[0].role in ("system", "developer") else None
    if system is not None or tools:
        intro = (system.content or "").strip() if system is not None else DEFAULT_DEVELOPER_PROMPT
        declarations = "".join(render_declaration(tool) for tool in tools)
        out.append(Segment(f"{START_TURN}developer\n{intro}{declarations}{END_TURN}\n", False))

    in_model_turn = False
    awaiting_results = False  # the model's calls end where it would write RESPONSE_START
    previous_role: str | None = None
    for message in rest:
        if message.role in ("user", "system", "developer"):
            if in_model_turn:
                out.append(Segment(END_TURN, previous_role == "assistant"))
                out.append(Segment("\n", False))
                in_model_turn = False
            role = "user" if message.role == "user" else "developer"
            out.append(Segment(f"{START_TURN}{role}\n{message.content or ''}{END_TURN}\n", False))
        else:
            if not in_model_turn:
                out.append(Segment(f"{START_TURN}model\n", False))
                in_model_turn = True
            if message.role == "assistant":
                out.append(Segment(render_assistant(message), True))
                awaiting_results = bool(message.tool_calls)
            else:
                block = render_response(message.name or "", message.content or "")
                if awaiting_results:
                    out.append(Segment(RESPONSE_START, True))
                    out.append(Segment(block[len(RESPONSE_START) :], False))
                    awaiting_results = False
                else:
                    out.append(Segment(block, False))
        previous_role = message.role

    if in_model_turn and not (add_generation_prompt and previous_role == "tool"):
        out.append(Segment(END_TURN, previous_role == "assistant"))
        out.append(Segment("\n", False))
    elif add_generation_prompt and not in_model_turn:
        out.append(Segment(f"{START_TURN}model\n", False))
    return out


def render(messages: Sequence[Message], tools: Sequence[ToolSpec], *, add_generation_prompt: bool = False) -> str:
    """The whole prompt text (the `segments` joined); with `add_generation_prompt`, ready for the model's turn."""
    return "".join(s.text for s in segments(messages, tools, add_generation_prompt=add_generation_prompt))
