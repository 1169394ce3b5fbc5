"""The tool author's request forms (request_forms.py): they fit the built-in tools, fill grounded, and the
teacher's rewrites that add a number are refused."""

from __future__ import annotations

import random
from datetime import date

import pytest

from edgefabric.pipeline.generate.callfirst import _not_a_message
from edgefabric.pipeline.generate.grounding import Evidence, Grounder
from edgefabric.pipeline.generate.request_forms import (
    FOLLOW_FORMS,
    FORMS,
    NEAR_MISSES,
    UNIT_NAMES,
    authored_request,
    near_miss,
    placeholders,
)
from edgefabric.runtime.sandbox.modules import builtin_path, load_module
from edgefabric.schemas import Message, ToolCall, ToolSpec

SETS = ("math", "mobile", "scene")
SPECS: dict[str, ToolSpec] = {s.name: s for name in SETS for s in load_module(builtin_path(name), name).specs}


@pytest.mark.parametrize("tool", sorted(FORMS))
def test_every_form_names_only_parameters_of_its_built_in_tool(tool: str) -> None:
    spec = SPECS[tool]
    properties = set(spec.parameters.get("properties") or {})
    required = set(spec.parameters.get("required") or [])
    for form in FORMS[tool]:
        assert placeholders(form) <= properties, form
        assert required <= placeholders(form) or tool == "toggle_setting", form  # `enabled` is optional
    for (name, fed), forms in FOLLOW_FORMS.items():
        assert fed in (SPECS[name].parameters.get("properties") or {})
        assert all(fed not in placeholders(form) for form in forms)


CALLS = [
    ToolCall(name="calculate", arguments={"expression": "12 * 7"}, id="c0"),
    ToolCall(name="convert_units", arguments={"value": 26.2, "from_unit": "mi", "to_unit": "km"}, id="c0"),
    ToolCall(name="convert_units", arguments={"value": 3, "from_unit": "cup", "to_unit": "ml"}, id="c0"),
    ToolCall(name="convert_units", arguments={"value": 70, "from_unit": "F", "to_unit": "C"}, id="c0"),
    ToolCall(name="set_alarm", arguments={"time": "06:45", "days": ["mon", "fri"]}, id="c0"),
    ToolCall(name="toggle_setting", arguments={"setting": "dnd", "enabled": True}, id="c0"),
    ToolCall(name="send_message", arguments={"recipient": "Alice Johnson", "body": "Running late"}, id="c0"),
    ToolCall(
        name="create_calendar_event",
        arguments={"title": "Dentist appointment", "date": "2026-12-14", "start_time": "09:30"},
        id="c0",
    ),
    ToolCall(name="create_object", arguments={"type": "sphere", "name": "Ball", "location": [1, 2, 0]}, id="c0"),
    ToolCall(name="set_material", arguments={"object": "Cube", "color": "red"}, id="c0"),
]


@pytest.mark.parametrize("call", CALLS, ids=[c.name for c in CALLS])
def test_filled_forms_are_grounded_and_vary(call: ToolCall) -> None:
    grounder, tools = Grounder(), list(SPECS.values())
    texts = set()
    for seed in range(30):
        text = authored_request([(call, "")], tools, random.Random(seed), date(2026, 11, 30))
        assert text is not None
        messages = [Message(role="user", content=text), Message(role="assistant", tool_calls=[call])]
        result = grounder.check_messages(messages, tools)
        assert result.passed, f"{text!r}: {result.summary()}"
        texts.add(text.lower())
    assert len(texts) >= 3  # phrasings, not one template


def test_every_unit_name_grounds_to_its_unit() -> None:
    units = Grounder().units
    for unit, names in UNIT_NAMES.items():
        for name in names:
            assert units.mentioned(unit, Evidence(f"convert 5 {name} please")), (unit, name)
    assert not units.mentioned("F", Evidence("convert 5 celsius please"))  # F is fahrenheit, not farad


def test_no_form_fits_other_parameters_and_two_calls_are_joined() -> None:
    tools = list(SPECS.values())
    odd = ToolCall(name="calculate", arguments={"expression": "1 + 1", "precision": 2}, id="c0")
    assert authored_request([(odd, "")], tools, random.Random(0), date(2026, 11, 30)) is None
    unknown = ToolCall(name="book_table", arguments={"name": "Luigi's"}, id="c0")
    assert authored_request([(unknown, "")], tools, random.Random(0), date(2026, 11, 30)) is None
    both = authored_request([(CALLS[0], ""), (CALLS[1], "")], tools, random.Random(3), date(2026, 11, 30))
    assert both is not None and "26.2" in both and "7" in both
    chained = ToolCall(name="convert_units", arguments={"value": 84, "from_unit": "km", "to_unit": "mi"}, id="c1")
    text = authored_request([(CALLS[0], ""), (chained, "value")], tools, random.Random(1), date(2026, 11, 30))
    assert text is not None and "84" not in text and ", " in text  # the fed value comes from the result


def test_a_rewrite_that_adds_a_number_is_refused() -> None:
    task = "Evaluate an arithmetic expression: 110 / 7"
    assert "adds 7.89" in _not_a_message("the answer to 110 / 7 is 7.89", task)
    assert "adds 26, 3" in _not_a_message("110 / 7, that's a total of 26. I'll do it in 3 minutes", task)
    assert _not_a_message("hey, can you work out 110 / 7 for me?", task) == ""


def test_near_misses_belong_to_built_in_tools_and_only_to_them() -> None:
    assert set(NEAR_MISSES) <= set(SPECS)
    texts = [t for group in NEAR_MISSES.values() for t in group]
    assert len(texts) == len(set(texts))
    math = [SPECS["calculate"], SPECS["convert_units"]]
    drawn = {near_miss(math, random.Random(seed)) for seed in range(40)}
    assert drawn <= set(NEAR_MISSES["calculate"]) | set(NEAR_MISSES["convert_units"]) and len(drawn) > 5
    assert near_miss([ToolSpec(name="book_table")], random.Random(0)) is None
