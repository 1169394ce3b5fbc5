"""Conversations every export check uses: plain chat, single and parallel calls, tool results."""

from __future__ import annotations

from edgefabric.schemas import Message, ToolCall, ToolSpec

WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    parameters={
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name", "title": "City"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": ["integer", "null"], "minimum": 1},
        },
        "required": ["city"],
    },
)
SEARCH = ToolSpec(
    name="search.web",
    description='Search the web; quotes " and <escape> tags are literal.',
    parameters={
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "filters": {
                "type": "object",
                "properties": {"site": {"type": "string"}, "max-results": {"type": "integer"}},
                "additionalProperties": {"type": "string"},
            },
            "tags": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "number"}]}},
        },
    },
)
NOARGS = ToolSpec(name="now", parameters={"type": "object", "properties": {}})
TOOLS = [WEATHER, SEARCH, NOARGS]


def _user(text: str) -> Message:
    return Message(role="user", content=text)


def _calls(*calls: ToolCall, content: str | None = None) -> Message:
    return Message(role="assistant", content=content, tool_calls=list(calls))


def _result(name: str, content: str) -> Message:
    return Message(role="tool", name=name, content=content, tool_call_id="c1")


CONVERSATIONS: dict[str, tuple[list[Message], list[ToolSpec]]] = {
    "plain": ([_user("Hello there!")], []),
    "system_plain": ([Message(role="system", content="  Be brief.  "), _user("Hi")], []),
    "tools_prompt": ([_user("What's the weather in Paris?")], TOOLS),
    "system_tools": (
        [Message(role="system", content="You help with travel."), _user("Weather in Oslo?")],
        TOOLS,
    ),
    "single_call_result": (
        [
            _user("Weather in Paris in fahrenheit?"),
            _calls(ToolCall(name="get_weather", arguments={"city": "Paris", "unit": "fahrenheit"})),
            _result("get_weather", '{"temp": 21.5, "sky": "clear", "wind": null, "ok": true}'),
            Message(role="assistant", content="It is 21.5 degrees and clear."),
        ],
        TOOLS,
    ),
    "parallel_calls": (
        [
            _user("Weather in Paris and Rome, and the time?"),
            _calls(
                ToolCall(name="get_weather", arguments={"city": "Paris"}),
                ToolCall(name="get_weather", arguments={"city": "Rome", "days": 3}),
                ToolCall(name="now", arguments={}),
            ),
            _result("get_weather", '{"temp": 20}'),
            _result("get_weather", "sunny"),
            _result("now", "12:00"),
        ],
        TOOLS,
    ),
    "nested_args_text_before_call": (
        [
            _user("Search for <escape> tags"),
            _calls(
                ToolCall(
                    name="search.web",
                    arguments={
                        "query": 'literal <escape> and <\\escape> and "quotes" and </tool_call>',
                        "filters": {"site": "example.com", "max-results": 5, "odd key": "x"},
                        "tags": ["a", 1, 2.5, None, True, [], {}],
                    },
                ),
                content="Let me search.",
            ),
            _result("search.web", "[1, 2, 3]"),
            Message(role="assistant", content="Found three."),
            _user("Thanks, and in Oslo?"),
        ],
        TOOLS,
    ),
    "error_result": (
        [
            _user("Weather?"),
            _calls(ToolCall(name="get_weather", arguments={})),
            _result("get_weather", "error: city is required"),
        ],
        TOOLS,
    ),
    "reasoning": (
        [
            _user("Weather in Lyon?"),
            Message(
                role="assistant",
                reasoning="\nThe user wants weather.\n",
                content="\nChecking.",
                tool_calls=[ToolCall(name="get_weather", arguments={"city": "Lyon"})],
            ),
            _result("get_weather", "7"),
        ],
        TOOLS,
    ),
}
