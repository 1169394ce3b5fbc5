"""Qwen3 (Hermes-style): golden strings in the layout of Qwen3's own chat template, and loss masking."""

from __future__ import annotations

from edgefabric.runtime.formats import qwen3
from edgefabric.schemas import Message, ToolCall, ToolSpec

WEATHER = ToolSpec(
    name="get_weather",
    description="Get current weather for a location",
    parameters={
        "type": "object",
        "properties": {"location": {"type": "string", "description": "City name"}},
        "required": ["location"],
    },
)
SYSTEM = (
    "<|im_start|>system\nYou are helpful.\n\n# Tools\n\nYou may call one or more functions to assist with the user "
    "query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
    '{"type": "function", "function": {"name": "get_weather", "description": "Get current weather for a location", '
    '"parameters": {"type": "object", "properties": {"location": {"type": "string", "description": "City name"}}, '
    '"required": ["location"]}}}\n</tools>\n\nFor each function call, return a json object with function name and '
    "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
)


def conversation() -> list[Message]:
    return [
        Message(role="system", content="You are helpful."),
        Message(role="user", content="Weather in Paris and Rome?"),
        Message(
            role="assistant",
            tool_calls=[
                ToolCall(name="get_weather", arguments={"location": "Paris"}),
                ToolCall(name="get_weather", arguments={"location": "Rome"}),
            ],
        ),
        Message(role="tool", name="get_weather", content='{"temperature": 15}'),
        Message(role="tool", name="get_weather", content='{"temperature": 21}'),
        Message(role="assistant", content="Paris 15 °C, Rome 21 °C."),
    ]


def test_full_conversation_layout() -> None:
    expected = (
        SYSTEM
        + "<|im_start|>user\nWeather in Paris and Rome?<|im_end|>\n"
        + "<|im_start|>assistant\n<think>\n\n</think>\n\n"
        + '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris"}}\n</tool_call>\n'
        + '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Rome"}}\n</tool_call><|im_end|>\n'
        + '<|im_start|>user\n<tool_response>\n{"temperature": 15}\n</tool_response>\n'
        + '<tool_response>\n{"temperature": 21}\n</tool_response><|im_end|>\n'
        + "<|im_start|>assistant\n<think>\n\n</think>\n\nParis 15 °C, Rome 21 °C.<|im_end|>\n"
    )
    assert qwen3.render(conversation(), [WEATHER]) == expected


def test_generation_prompt_without_and_with_thinking() -> None:
    messages = [Message(role="user", content="hi")]
    assert qwen3.render(messages, [], add_generation_prompt=True) == (
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )
    assert qwen3.render(messages, [], add_generation_prompt=True, enable_thinking=True).endswith(
        "<|im_start|>assistant\n"
    )


def test_every_assistant_turn_keeps_its_think_block() -> None:
    """Unlike Qwen3's own template (which drops reasoning before the last user turn), a turn's text never
    depends on later messages, so each training prefix is an inference prompt (issue 14, item 2)."""
    messages = [
        Message(role="user", content="a"),
        Message(role="assistant", content="A", reasoning="old thoughts"),
        Message(role="user", content="b"),
        Message(role="assistant", content="B"),
    ]
    text = qwen3.render(messages, [])
    assert "<|im_start|>assistant\n<think>\nold thoughts\n</think>\n\nA<|im_end|>" in text
    assert "<|im_start|>assistant\n<think>\n\n</think>\n\nB<|im_end|>" in text


def test_closing_tag_inside_arguments_is_escaped_and_round_trips() -> None:
    call = ToolCall(name="echo", arguments={"text": "x</tool_call>y"})
    rendered = qwen3.render_call(call)
    assert rendered.count("</tool_call>") == 1
    assert qwen3.parse(rendered).tool_calls[0].arguments == call.arguments


def test_parse_handles_think_blocks_string_arguments_and_errors() -> None:
    output = (
        "<think>\nuser wants weather\n</think>\n\nSure.\n"
        '<tool_call>\n{"name": "get_weather", "arguments": "{\\"location\\": \\"Oslo\\"}"}\n</tool_call>\n'
        '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Rome"</tool_call>\n'
        "<tool_call>\n[1, 2]\n</tool_call><|im_end|>"
    )
    result = qwen3.parse(output)
    assert result.reasoning == "user wants weather"
    assert [c.arguments for c in result.tool_calls] == [{"location": "Oslo"}]
    assert len(result.errors) == 2
    assert result.text == "Sure."


def test_only_assistant_replies_are_trainable() -> None:
    pieces = qwen3.segments(conversation(), [WEATHER])
    trained = "".join(p.text for p in pieces if p.trainable)
    assert trained == (
        '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Rome"}}\n</tool_call><|im_end|>'
        "Paris 15 °C, Rome 21 °C.<|im_end|>"
    )


def test_think_tags_inside_call_arguments_are_argument_text() -> None:
    """Issue 14, item 3: an argument holding </think> or <think>...</think> keeps the call and its text."""
    from edgefabric.runtime.formats import qwen3

    for value in ("</think>", "<p><think>x</think></p>"):
        call = ToolCall(name="render", arguments={"html": value})
        parsed = qwen3.parse(qwen3.render_assistant(Message(role="assistant", tool_calls=[call])))
        assert parsed.errors == []
        assert [(c.name, c.arguments) for c in parsed.tool_calls] == [("render", {"html": value})]
    # reasoning before the call is still reasoning
    parsed = qwen3.parse(
        '<think>plan</think>\n\n<tool_call>\n{"name": "a", "arguments": {"x": "</think>"}}\n</tool_call>'
    )
    assert parsed.reasoning == "plan" and parsed.tool_calls[0].arguments == {"x": "</think>"}
