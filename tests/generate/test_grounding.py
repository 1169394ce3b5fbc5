"""Grounding on hand-written cases: each kind of support, held and not held, with the exact reason."""

from __future__ import annotations

from typing import Any

import pytest

from edgefabric.pipeline.generate.grounding import Grounder, pass_rates
from edgefabric.schemas import Message, ToolCall, ToolSpec

ALARM = ToolSpec(
    name="set_alarm",
    description="Set an alarm.",
    parameters={
        "type": "object",
        "properties": {
            "time": {"type": "string", "description": 'The time in 24-hour form, e.g. "07:30".'},
            "label": {"type": "string", "default": ""},
            "days": {
                "type": "array",
                "items": {"type": "string", "enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
            },
        },
        "required": ["time"],
    },
)
TOGGLE = ToolSpec(
    name="toggle_setting",
    description="Turn a setting on or off: wifi, bluetooth, flashlight or dnd (do not disturb).",
    parameters={
        "type": "object",
        "properties": {
            "setting": {"type": "string", "enum": ["wifi", "bluetooth", "flashlight", "dnd"]},
            "enabled": {"type": "boolean"},
            "mode": {"type": "string", "const": "user"},
        },
        "required": ["setting"],
    },
)
EVENT = ToolSpec(
    name="create_calendar_event",
    parameters={
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "date": {"type": "string"},
            "duration_minutes": {"type": "integer"},
        },
        "required": ["title", "date"],
    },
)
MATH = [
    ToolSpec(name="calculate", parameters={"type": "object", "properties": {"expression": {"type": "string"}}}),
    ToolSpec(
        name="convert_units",
        parameters={
            "type": "object",
            "properties": {"value": {"type": "number"}, "from_unit": {"type": "string"}, "to_unit": {"type": "string"}},
        },
    ),
]
MESSAGE = ToolSpec(
    name="send_message",
    parameters={"type": "object", "properties": {"recipient": {"type": "string"}, "body": {"type": "string"}}},
)
SEARCH = ToolSpec(name="search_contacts", parameters={"type": "object", "properties": {"query": {"type": "string"}}})
TOOLS = [ALARM, TOGGLE, EVENT, *MATH, MESSAGE, SEARCH]


@pytest.fixture(scope="module")
def grounder() -> Grounder:
    return Grounder()


def check(grounder: Grounder, request: str, name: str, arguments: dict[str, Any], results: list[str] = ()) -> list[str]:
    """The problems of one call made after `request` (and earlier tool `results`)."""
    messages = [Message(role="user", content=request)]
    for number, content in enumerate(results):
        earlier = ToolCall(name="search_contacts", arguments={"query": "x"}, id=f"early_{number}")
        messages += [
            Message(role="assistant", tool_calls=[earlier]),
            Message(role="tool", tool_call_id=earlier.id, name="search_contacts", content=content),
        ]
    messages.append(Message(role="assistant", tool_calls=[ToolCall(name=name, arguments=arguments, id="c")]))
    result = grounder.check_messages(
        messages, TOOLS, skip_call_ids=frozenset({f"early_{i}" for i in range(len(results))})
    )
    return [p.detail for p in result.problems]


@pytest.mark.parametrize(
    ("request_text", "name", "arguments"),
    [
        # the user's words, normalised: case, whitespace, punctuation
        ("Text ALICE   johnson: running late!", "send_message", {"recipient": "Alice Johnson", "body": "running late"}),
        # number words vs digits, and 7 == 7.0
        ("convert seven kilometres to miles", "convert_units", {"value": 7, "from_unit": "km", "to_unit": "mile"}),
        ("convert 7.0 km into miles", "convert_units", {"value": 7, "from_unit": "kilometer", "to_unit": "miles"}),
        ("how many feet is twenty-five meters", "convert_units", {"value": 25.0, "from_unit": "m", "to_unit": "ft"}),
        ("turn 1,200 grams into pounds", "convert_units", {"value": 1200, "from_unit": "g", "to_unit": "lb"}),
        # times in common spellings
        ("wake me at 7:30am", "set_alarm", {"time": "07:30"}),
        ("alarm for 7pm please", "set_alarm", {"time": "19:00"}),
        ("set an alarm at half past six", "set_alarm", {"time": "06:30"}),
        ("alarm 19.45", "set_alarm", {"time": "19:45"}),
        # dates in common spellings
        ("put Dentist on March 14, 2027", "create_calendar_event", {"title": "Dentist", "date": "2027-03-14"}),
        ("add standup on 14/03/2027", "create_calendar_event", {"title": "standup", "date": "2027-03-14"}),
        # an enum the request implies: the member, an abbreviated word, an alias in brackets
        ("turn on bluetooth", "toggle_setting", {"setting": "bluetooth", "enabled": True}),
        ("please switch off do not disturb", "toggle_setting", {"setting": "dnd", "enabled": False}),
        ("wifi", "toggle_setting", {"setting": "wifi", "mode": "user"}),  # the schema's const
        ("alarm at 6:45 on Mondays and Fridays", "set_alarm", {"time": "06:45", "days": ["mon", "fri"]}),
        ("alarm at 6:45", "set_alarm", {"time": "06:45", "label": ""}),  # the schema's default
        # values built from the request: every literal of an expression
        ("what is 29 times 347?", "calculate", {"expression": "29 * 347"}),
        ("what's 15% of 80", "calculate", {"expression": "0.15 * 80"}),
        ("square root of one hundred forty-four", "calculate", {"expression": "sqrt(144)"}),
        # long free text may differ by a typo
        (
            "tell Bob I'll be there in ten minuts, save me a seat",
            "send_message",
            {"recipient": "Bob", "body": "I'll be there in 10 minutes, save me a seat"},
        ),
    ],
)
def test_supported_values_pass(grounder: Grounder, request_text: str, name: str, arguments: dict[str, Any]) -> None:
    assert check(grounder, request_text, name, arguments) == []


def test_a_value_from_an_earlier_tool_result_is_supported(grounder: Grounder) -> None:
    result = '{"contacts": [{"name": "Bob Smith", "phone": "+1-555-0102"}], "count": 1}'
    assert (
        check(grounder, "find bob and text him hi", "send_message", {"recipient": "Bob Smith", "body": "hi"}, [result])
        == []
    )
    # the same call without the result has nothing to stand on
    problems = check(grounder, "find bob and text him hi", "send_message", {"recipient": "Bob Smith", "body": "hi"})
    assert problems == [
        'send_message.recipient: "Bob Smith" appears nowhere in the request (after normalising case, number words, '
        "times, dates and units), and the schema does not imply it"
    ]


@pytest.mark.parametrize(
    ("request_text", "name", "arguments", "reason"),
    [
        # the issue's own example: five emoji paired with the tool description's example expression
        (
            "🙂🙂🙂🙂🙂",
            "calculate",
            {"expression": "2 * (3 + 4) ** 2"},
            "calculate.expression: the expression '2 * (3 + 4) ** 2' uses 2, 3, 4, which the request never mentions",
        ),
        (
            "What are the essentials of everyday arithmetic and unit conversions?",
            "calculate",
            {"expression": "2 * (3 + 4) ** 2"},
            "calculate.expression: the expression '2 * (3 + 4) ** 2' uses 2, 3, 4, which the request never mentions",
        ),
        (
            "convert 16 meters to feet",
            "convert_units",
            {"value": 61, "from_unit": "meter", "to_unit": "ft"},
            "convert_units.value: 61 appears nowhere in the request (after normalising case, number words, times, "
            "dates and units), and the schema does not imply it",
        ),
        (
            "convert 16 meters to feet",
            "convert_units",
            {"value": 16, "from_unit": "meter", "to_unit": "yard"},
            'convert_units.to_unit: "yard" appears nowhere in the request (after normalising case, number words, '
            "times, dates and units), and the schema does not imply it",
        ),
        (
            "wake me at 7:30pm",
            "set_alarm",
            {"time": "07:30"},
            'set_alarm.time: "07:30" appears nowhere in the request (after normalising case, number words, times, '
            "dates and units), and the schema does not imply it",
        ),
        (
            "add Dentist on March 14, 2027",
            "create_calendar_event",
            {"title": "Dentist", "date": "2027-04-14"},
            'create_calendar_event.date: "2027-04-14" appears nowhere in the request (after normalising case, number '
            "words, times, dates and units), and the schema does not imply it",
        ),
        (
            "turn on bluetooth",
            "toggle_setting",
            {"setting": "wifi"},
            'toggle_setting.setting: "wifi" appears nowhere in the request (after normalising case, number words, '
            "times, dates and units), and the schema does not imply it",
        ),
        (
            "bluetooth please",
            "toggle_setting",
            {"setting": "bluetooth", "enabled": False},
            "toggle_setting.enabled: False: no word in the request turns it off, and it is not the default",
        ),
        (
            "alarm at 6:45 on Mondays",
            "set_alarm",
            {"time": "06:45", "days": ["mon", "fri"]},
            'set_alarm.days[1]: "fri" appears nowhere in the request (after normalising case, number words, times, '
            "dates and units), and the schema does not imply it",
        ),
        (
            "alarm at 6:45",
            "set_alarm",
            {"time": "06:45", "label": "Gym"},
            'set_alarm.label: "Gym" appears nowhere in the request (after normalising case, number words, times, '
            "dates and units), and the schema does not imply it",
        ),
        (
            "text Bob",
            "send_message",
            {"recipient": "Bob", "body": "see you at the game tonight"},
            'send_message.body: "see you at the game tonight" appears nowhere in the request (after normalising case, '
            "number words, times, dates and units), and the schema does not imply it",
        ),
    ],
)
def test_unsupported_values_are_rejected_with_the_reason(
    grounder: Grounder, request_text: str, name: str, arguments: dict[str, Any], reason: str
) -> None:
    assert check(grounder, request_text, name, arguments)[:1] == [reason]


def test_the_deliberate_mistake_is_not_checked_and_pass_rates_count_per_parameter(grounder: Grounder) -> None:
    messages = [
        Message(role="user", content="alarm at 6:45"),
        Message(role="assistant", tool_calls=[ToolCall(name="set_alarm", arguments={"tme": "6"}, id="wrong")]),
        Message(role="tool", tool_call_id="wrong", name="set_alarm", content="error"),
        Message(
            role="assistant",
            tool_calls=[ToolCall(name="set_alarm", arguments={"time": "06:45", "label": "x"}, id="ok")],
        ),
    ]
    result = grounder.check_messages(messages, TOOLS, skip_call_ids=frozenset({"wrong"}))
    assert [(c.path, c.ok) for c in result.checks] == [("set_alarm.time", True), ("set_alarm.label", False)]
    rates = pass_rates([result])
    assert rates["set_alarm"] == {"checked": 2, "grounded": 1, "rate": 0.5}
    assert rates["set_alarm.time"] == {"checked": 1, "grounded": 1, "rate": 1.0}
    assert rates["set_alarm.label"]["rate"] == 0.0
