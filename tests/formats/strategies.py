"""Hypothesis strategies: tool calls with any JSON arguments and the formats' own markup mixed in, and whole
conversations in OpenAI's wire form as clients send them."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from edgefabric.schemas import Message, ToolCall, ToolSpec

MARKUP = [
    "<escape>",
    "<\\escape>",
    "<\\\\escape>",
    "<start_function_call>",
    "<end_function_call>",
    "<start_function_response>",
    "<tool_call>",
    "</tool_call>",
    "<|im_end|>",
    "{",
    "}",
    ",",
    ":",
    '"',
    "'",
    "\\",
    "\n",
    "null",
    "true",
]

tricky_text = st.one_of(
    st.text(),
    st.lists(st.one_of(st.text(max_size=5), st.sampled_from(MARKUP)), max_size=8).map("".join),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    tricky_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(tricky_text, children, max_size=4),
    ),
    max_leaves=12,
)
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,30}", fullmatch=True)
tool_calls = st.builds(ToolCall, name=names, arguments=st.dictionaries(tricky_text, json_values, max_size=5))
# Text beside calls must not itself hold a format's control tags; anything else goes.
CONTROL_TAGS = (
    "<start_function_call>",
    "<end_function_call>",
    "<start_function_response>",
    "<end_of_turn>",
    "<eos>",
    "<tool_call>",
    "</tool_call>",
    "<think>",
    "</think>",
    "<|im_end|>",
    "<|endoftext|>",
)
plain_text = st.one_of(st.text(), st.lists(st.sampled_from([*MARKUP, "ok ", " "]), max_size=6).map("".join)).filter(
    lambda t: not any(tag in t for tag in CONTROL_TAGS)
)
assistant_messages = st.builds(
    lambda content, calls: Message(role="assistant", content=content or None, tool_calls=calls),
    plain_text,
    st.lists(tool_calls, min_size=1, max_size=4),
)


PROPERTY_SCHEMAS = [
    {"type": "string", "description": "a <escape> in a description"},
    {"type": ["integer", "null"], "minimum": 1},
    {"enum": [1, "a", None, True]},
    {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "number"}]}},
    {"type": "object", "properties": {"inner key": {"type": "boolean"}}, "additionalProperties": {"type": "string"}},
]


@st.composite
def tool_specs(draw: st.DrawFn) -> ToolSpec:
    properties = draw(st.dictionaries(tricky_text, st.sampled_from(PROPERTY_SCHEMAS), max_size=3))
    required = sorted(draw(st.sets(st.sampled_from(sorted(properties)))) if properties else set())
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    return ToolSpec(name=draw(names), description=draw(tricky_text), parameters=parameters)


def _parts(draw: st.DrawFn, text: str) -> Any:
    """`text` as a client may send it: a string, or parts (text split up, images between)."""
    if not draw(st.booleans()):
        return text
    pieces = draw(st.lists(tricky_text, max_size=3))
    parts: list[dict[str, Any]] = []
    for piece in [text, *pieces]:
        if draw(st.booleans()):
            parts.append({"type": "image_url", "image_url": {"url": "http://127.0.0.1/x.png"}})
        parts.append({"type": "text", "text": piece})
    return parts


@st.composite
def wire_conversations(draw: st.DrawFn, *, family: str) -> tuple[list[dict[str, Any]], list[ToolSpec], bool]:
    tools = draw(st.lists(tool_specs(), max_size=3, unique_by=lambda t: t.name))
    tools = draw(st.sampled_from([tools, [*STANDARD_TOOLS, *tools]]))
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        role = draw(st.sampled_from(["system", "developer"]))
        messages.append({"role": role, "content": _parts(draw, draw(tricky_text))})
    for turn in range(draw(st.integers(1, 3))):
        messages.append({"role": "user", "content": _parts(draw, draw(tricky_text))})
        if draw(st.integers(0, 4)) == 0:
            continue  # a user turn left unanswered (the prompt of the next request)
        calls = draw(st.lists(st.tuples(names, st.dictionaries(tricky_text, json_values, max_size=4)), max_size=3))
        text = draw(st.one_of(st.none(), tricky_text))
        assistant: dict[str, Any] = {"role": "assistant", "content": None if text is None and calls else text or ""}
        if assistant["content"] is not None:
            assistant["content"] = _parts(draw, assistant["content"])
        if family == "qwen3" and draw(st.booleans()):
            assistant["reasoning_content"] = draw(tricky_text)
        if calls:
            # Python clients send json.dumps' output; the Qwen3 template copies the string as sent.
            ascii_only = family == "functiongemma" and draw(st.booleans())
            compact = family == "functiongemma" and draw(st.booleans())
            assistant["tool_calls"] = [
                {
                    "id": f"call_{turn}_{i}",
                    "type": "function",
                    "function": {
                        "name": name,
                        "arguments": json.dumps(
                            arguments, ensure_ascii=ascii_only, separators=(",", ":") if compact else None
                        ),
                    },
                }
                for i, (name, arguments) in enumerate(calls)
            ]
        messages.append(assistant)
        for i, (name, _) in enumerate(calls):
            result = draw(st.one_of(tricky_text, json_values.map(json.dumps)))
            tool: dict[str, Any] = {"role": "tool", "content": _parts(draw, result)}
            how = draw(st.sampled_from(["name", "id", "position"]))
            if how == "name":
                tool["name"] = name
            elif how == "id":
                tool["tool_call_id"] = f"call_{turn}_{i}"
            messages.append(tool)
        if calls and draw(st.booleans()):
            messages.append({"role": "assistant", "content": _parts(draw, draw(tricky_text))})
    return messages, tools, draw(st.booleans())


STANDARD_TOOLS = [
    ToolSpec(
        name="get_weather",
        description="Current weather for a city.",
        parameters={
            "type": "object",
            "properties": {
                "city": {"type": "string", "title": "City"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": ["integer", "null"], "minimum": 1},
            },
            "required": ["city"],
        },
    ),
    ToolSpec(name="now", parameters={"type": "object", "properties": {}}),
]
