"""The AST-style value matching, on hand-checked cases (the tricky ones BFCL's checker handles)."""

from __future__ import annotations

from edgefabric.pipeline.evaluate.matching import ExpectedCall, call_problems, match_calls, normalise, type_ok
from edgefabric.schemas import ToolCall, ToolSpec

AREA = ToolSpec(
    name="area",
    parameters={
        "type": "object",
        "properties": {
            "base": {"type": "integer"},
            "height": {"type": "number"},
            "unit": {"type": "string", "default": "cm"},
        },
        "required": ["base", "height"],
    },
)
WEATHER = ToolSpec(
    name="weather",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def call(name: str, **arguments: object) -> ToolCall:
    return ToolCall(name=name, arguments=arguments)


def test_exact_match() -> None:
    expected = ExpectedCall("area", {"base": [10], "height": [5.0]})
    assert call_problems(call("area", base=10, height=5.0), expected, AREA) == []


def test_int_is_accepted_where_a_number_is_expected_but_not_the_reverse() -> None:
    expected = ExpectedCall("area", {"base": [10], "height": [5.0]})
    assert call_problems(call("area", base=10, height=5), expected, AREA) == []
    problems = call_problems(call("area", base=10.0, height=5), expected, AREA)
    assert problems and "wrong type" in problems[0]


def test_optional_parameter_may_be_omitted_only_when_allowed() -> None:
    omit_ok = ExpectedCall("area", {"base": [10], "height": [5.0], "unit": ["cm", ""]})
    assert call_problems(call("area", base=10, height=5.0), omit_ok, AREA) == []
    assert call_problems(call("area", base=10, height=5.0, unit="cm"), omit_ok, AREA) == []
    must_give = ExpectedCall("area", {"base": [10], "height": [5.0], "unit": ["m"]})
    assert "missing parameter 'unit'" in call_problems(call("area", base=10, height=5.0), must_give, AREA)[0]


def test_optional_parameter_the_reference_omits_is_right_only_at_its_default() -> None:
    expected = ExpectedCall("area", {"base": [10], "height": [5.0]})
    assert call_problems(call("area", base=10, height=5.0, unit="cm"), expected, AREA) == []
    assert call_problems(call("area", base=10, height=5.0, unit="m"), expected, AREA)


def test_missing_required_and_unknown_keys_fail() -> None:
    expected = ExpectedCall("area", {"base": [10], "height": [5.0]})
    assert any("missing parameter 'height'" in p for p in call_problems(call("area", base=10), expected, AREA))
    problems = call_problems(call("area", base=10, height=5.0, colour="red"), expected, AREA)
    assert any("unknown parameter 'colour'" in p for p in problems)


def test_any_of_several_acceptable_values_and_string_normalisation() -> None:
    expected = ExpectedCall("weather", {"city": ["New York", "NYC", "New York City"]})
    assert call_problems(call("weather", city="nyc"), expected, WEATHER) == []
    assert call_problems(call("weather", city="new-york"), expected, WEATHER) == []
    assert call_problems(call("weather", city="Boston"), expected, WEATHER)
    assert normalise("San Francisco, CA") == "sanfranciscoca"


def test_parallel_calls_match_in_any_order_as_a_multiset() -> None:
    expected = [ExpectedCall("weather", {"city": ["Paris"]}), ExpectedCall("weather", {"city": ["Rome"]})]
    got = [call("weather", city="Rome"), call("weather", city="Paris")]
    result = match_calls(got, expected, [WEATHER])
    assert result.selection_ok and result.params_ok
    twice = match_calls([call("weather", city="Rome"), call("weather", city="Rome")], expected, [WEATHER])
    assert twice.selection_ok and not twice.params_ok
    one = match_calls([call("weather", city="Rome")], expected, [WEATHER])
    assert not one.selection_ok and not one.params_ok


def test_wrong_function_fails_selection() -> None:
    result = match_calls([call("area", base=1, height=2)], [ExpectedCall("weather", {"city": ["x"]})], [AREA, WEATHER])
    assert not result.selection_ok and "expected weather" in result.problems[0]


def test_bool_is_not_a_number_and_lists_compare_elementwise() -> None:
    assert not type_ok(True, {"type": "integer"})
    assert type_ok([1, 2.5], {"type": "array", "items": {"type": "number"}})
    assert not type_ok([1, "x"], {"type": "array", "items": {"type": "number"}})
    spec = ToolSpec(name="sum", parameters={"type": "object", "properties": {"xs": {"type": "array"}}})
    assert call_problems(call("sum", xs=[1, 2]), ExpectedCall("sum", {"xs": [[1.0, 2.0]]}), spec) == []
    assert call_problems(call("sum", xs=[2, 1]), ExpectedCall("sum", {"xs": [[1, 2]]}), spec)
