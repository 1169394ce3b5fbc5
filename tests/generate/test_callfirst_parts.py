"""Call-first pieces without a teacher: value shapes and pools, drawing, task lines, message forms."""

from __future__ import annotations

import asyncio
import random
from datetime import date
from pathlib import Path
from typing import cast

from edgefabric.pipeline.generate.callfirst import _not_a_message, form_of, task_line, vary_request
from edgefabric.pipeline.generate.draw import CallDrawer, mistaken, pick_tool
from edgefabric.pipeline.generate.grounding import Grounder
from edgefabric.pipeline.generate.teacher import Teacher
from edgefabric.pipeline.generate.usage import Usage
from edgefabric.pipeline.generate.values import (
    ValuePools,
    clean_values,
    concrete,
    description_examples,
    scenario_strings,
    value_shape,
)
from edgefabric.schemas import Message, ToolCall, ToolSpec

ALARM = ToolSpec(
    name="set_alarm",
    description="Set an alarm.",
    parameters={
        "type": "object",
        "properties": {
            "time": {"type": "string", "description": 'The time in 24-hour form, e.g. "07:30".'},
            "label": {"type": "string", "default": "", "description": 'A label, e.g. "Gym".'},
            "days": {
                "anyOf": [
                    {"type": "array", "items": {"type": "string", "enum": ["mon", "tue", "fri"]}},
                    {"type": "null"},
                ],
                "default": None,
            },
        },
        "required": ["time", "label"],
    },
)
CALC = ToolSpec(
    name="calculate",
    description='Evaluate an arithmetic expression, e.g. "2 * (3 + 4) ** 2".',
    parameters={
        "type": "object",
        "properties": {"expression": {"type": "string", "description": "The expression."}},
        "required": ["expression"],
    },
)
MESSAGE = ToolSpec(
    name="send_message",
    description="Send a text message.",
    parameters={
        "type": "object",
        "properties": {
            "recipient": {"type": "string", "description": "A contact's name, or a phone number."},
            "body": {"type": "string", "description": "The message text."},
        },
        "required": ["recipient", "body"],
    },
)


def test_shapes_come_from_formats_and_the_descriptions_examples() -> None:
    assert value_shape({"format": "date"}, "") == "date"
    assert value_shape({}, 'The time, e.g. "07:30".') == "time"
    assert value_shape({}, "The day, as YYYY-MM-DD.") == "date"
    assert value_shape({}, 'The expression, e.g. "2 * (3 + 4)"') == "expression"
    assert value_shape({}, "A label shown when it rings.") is None
    assert description_examples('The app, e.g. "camera", "maps", "music".') == ["camera", "maps", "music"]
    assert concrete(ALARM.parameters["properties"]["days"])["type"] == "array"


def test_teacher_lists_are_cleaned_of_placeholders_echoes_and_copies_of_the_few_shot() -> None:
    raw = [
        "Gym",
        "gym",
        "<label>",
        "...",
        "Set_alarm label",
        "What to do today?",
        "Tokyo",
        "x" * 90,
        "Take pills",
        "1.4",
    ]
    assert clean_values(raw, {"type": "string"}, banned=("set_alarm", "label")) == ["Gym", "Take pills"]


def test_scenario_strings_are_the_ones_whose_key_the_description_names() -> None:
    scenario = {
        "state": {"phone": {"contacts": [{"name": "Alice", "phone": "+1-555", "email": "a@x.org"}], "open_app": "maps"}}
    }
    assert scenario_strings(scenario, "A contact's name, or a phone number.") == ["Alice", "+1-555"]


def _drawer(tmp_path: Path, seed: int = 1) -> CallDrawer:
    pools = ValuePools.load(tmp_path / "values.json")
    topic = ["Phone"]
    # Cached lists: no teacher is asked (the teacher below would fail loudly if it were).
    pools.lists["set_alarm.label|Phone"] = ["Gym", "Pills", "Team call"]
    pools.lists["send_message.recipient|Phone"] = ["Alice Johnson"]
    pools.lists["send_message.body|Phone"] = ["On my way", "Call me back"]
    return CallDrawer(cast(Teacher, None), pools, topic, None, random.Random(seed), Usage(), date(2026, 6, 1))


def test_drawn_arguments_fit_the_schema_and_vary(tmp_path: Path) -> None:
    drawer = _drawer(tmp_path)
    calls = [asyncio.run(drawer.call(ALARM, "c")) for _ in range(30)]
    for call in calls:
        assert ALARM.argument_errors(call.arguments) == []
        assert call.arguments["label"] in ("Gym", "Pills", "Team call")
    times = {c.arguments["time"] for c in calls}
    assert len(times) > 10  # drawn afresh, never the description's "07:30" only
    assert any("days" in c.arguments for c in calls) and any("days" not in c.arguments for c in calls)
    expressions = {asyncio.run(drawer.call(CALC, "c")).arguments["expression"] for _ in range(20)}
    assert len(expressions) > 15 and "2 * (3 + 4) ** 2" not in expressions


def test_a_mistaken_call_differs_and_tools_are_drawn_in_proportion() -> None:
    call = ToolCall(name="send_message", arguments={"recipient": "Bob", "body": "hi"}, id="c")
    for seed in range(10):
        wrong = mistaken(call, MESSAGE, random.Random(seed))
        assert wrong.arguments != call.arguments and MESSAGE.argument_errors(wrong.arguments)
    picks = [pick_tool([ALARM, CALC, MESSAGE], i, seed=3).name for i in range(30)]
    assert {name: picks.count(name) for name in set(picks)} == {"set_alarm": 10, "calculate": 10, "send_message": 10}


def test_a_teacher_message_becomes_a_reusable_form_and_fills_back_grounded() -> None:
    rng = random.Random(4)
    slots: dict[str, str] = {}
    call = ToolCall(name="send_message", arguments={"recipient": "Bob Smith", "body": "On my way"}, id="c")
    line = task_line(call, [MESSAGE], slots, rng, date(2026, 6, 1))
    assert line == "Send a text message: {A}, {B}"
    assert slots["A"] == "Bob Smith" and slots["B"].strip('"') == "On my way"  # a user may quote it
    form = form_of(f"hey, tell Bob Smith: {slots['B']}", slots)
    assert form == "hey, tell {A}: {B}"
    assert form_of("tell Bob Smith Bob Smith", slots) is None  # a value twice, or missing: no form
    filled = form.replace("{A}", "Carol Diaz").replace("{B}", "Running late")
    other = ToolCall(name="send_message", arguments={"recipient": "Carol Diaz", "body": "Running late"}, id="c")
    messages = [Message(role="user", content=filled), Message(role="assistant", tool_calls=[other])]
    assert Grounder().check_messages(messages, [MESSAGE]).passed


def test_messages_that_are_markup_or_too_short_are_refused() -> None:
    assert "markup" in _not_a_message("{{*}} {{#Bluetooth: False}}")
    assert "too short" in _not_a_message("toggle_setting")
    assert _not_a_message("how many miles is 12 km?") == ""


def test_variations_keep_what_grounding_needs() -> None:
    grounder = Grounder()
    call = ToolCall(name="calculate", arguments={"expression": "29 * 347"}, id="c")
    for seed in range(40):
        text = vary_request(
            "Please work out 29 * 347 for my shopping list", '{"expression": "29 * 347"}', random.Random(seed)
        )
        result = grounder.check_messages(
            [Message(role="user", content=text), Message(role="assistant", tool_calls=[call])], [CALC]
        )
        assert result.passed, text


def test_small_talk_no_call_requests_need_no_teacher_and_vary() -> None:
    """A share of no-call samples start from conversational messages (greetings, thanks, chat), varied,
    never repeating an earlier sample; the rest are the teacher's."""
    from edgefabric.pipeline.generate.callfirst import SMALLTALK_SHARE, _no_call_request
    from edgefabric.pipeline.generate.plan import PlannedSample
    from edgefabric.pipeline.generate.smalltalk import smalltalk_message

    messages = {smalltalk_message(random.Random(seed)) for seed in range(300)}
    assert len(messages) > 150 and all(_not_a_message(m) == "" or len(m) < 20 for m in messages)

    class NoTeacher:
        """Any teacher call fails the test: small talk must not need one."""

        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"the teacher was asked ({name})")

    seen: list[str] = []

    def is_duplicate(request: str) -> str | None:
        return "earlier" if request in seen else None

    planned = cast(PlannedSample, None)
    rng = random.Random(0)
    sources = []
    for _ in range(40):
        state = rng.getstate()
        if rng.random() >= SMALLTALK_SHARE:
            continue  # this draw goes to the teacher
        rng.setstate(state)
        request, turns, source = asyncio.run(
            _no_call_request(cast(Teacher, NoTeacher()), planned, [CALC], rng, Usage(), is_duplicate)
        )
        assert turns == [Message(role="user", content=request)] and request not in seen
        seen.append(request)
        sources.append(source)
    assert sources and set(sources) == {"smalltalk"}
