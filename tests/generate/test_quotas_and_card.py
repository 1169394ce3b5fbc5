"""Kind quotas (the mix is kept, a short kind is reported, never replaced) and the card's diversity figures."""

from __future__ import annotations

import random
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgefabric.pipeline.generate.card import diversity
from edgefabric.pipeline.generate.grounding import Grounder
from edgefabric.pipeline.generate.plan import KindPlanner, kind_quotas
from edgefabric.pipeline.generate.surface import fill_slots, spoken
from edgefabric.schemas import Message, Sample, ToolCall, ToolSpec


def test_quotas_follow_the_weights_within_one_sample_and_add_up() -> None:
    weights = {"single": 0.55, "parallel": 0.15, "multi_step": 0.1, "no_call": 0.15, "error_recovery": 0.05}
    for target in (1, 7, 20, 160, 333):
        quotas = kind_quotas(weights, target)
        assert sum(quotas.values()) == target
        for kind, quota in quotas.items():
            assert abs(quota - target * weights[kind]) < 1
    assert kind_quotas({"single": 1, "no_call": 0}, 5) == {"single": 5}


def test_the_planner_fills_each_quota_and_reports_a_kind_that_cannot_be_made() -> None:
    planner = KindPlanner({"single": 6, "parallel": 2, "no_call": 2}, tries_factor=3, min_tries=4)
    accepted: list[str] = []
    while (kind := planner.next_kind()) is not None:
        planner.start(kind)
        ok = kind != "parallel"  # this teacher never manages a parallel sample
        planner.finish(kind, accepted=ok)
        accepted += [kind] if ok else []
    assert accepted.count("single") == 6 and accepted.count("no_call") == 2
    assert "parallel" not in accepted  # never replaced by another kind...
    assert planner.shortfalls() == {"parallel": {"quota": 2, "accepted": 0, "tries": 6}}  # ...and named


def test_the_planner_counts_what_is_in_flight() -> None:
    planner = KindPlanner({"single": 1, "no_call": 1})
    first = planner.next_kind()
    assert first is not None
    planner.start(first)
    second = planner.next_kind()
    assert second is not None and second != first
    planner.start(second)
    assert planner.next_kind() is None


CALC = ToolSpec(name="calculate", parameters={"type": "object", "properties": {"expression": {"type": "string"}}})
TOGGLE = ToolSpec(
    name="toggle",
    parameters={"type": "object", "properties": {"on": {"type": "boolean"}, "x": {"type": "string"}}},
)
NEVER = ToolSpec(name="never_called", parameters={"type": "object", "properties": {"q": {"type": "string"}}})


def _sample(request: str, call: ToolCall | None) -> Sample:
    messages = [Message(role="user", content=request)]
    if call is not None:
        messages += [
            Message(role="assistant", tool_calls=[call]),
            Message(role="tool", tool_call_id=call.id, name=call.name, content="{}"),
        ]
    messages.append(Message(role="assistant", content="done"))
    return Sample(messages=messages, tools=[CALC, TOGGLE, NEVER])


def test_the_card_measures_diversity_and_names_a_dominant_value() -> None:
    samples = [
        _sample(
            f"what is 2 * (3 + 4) ** 2, try {i}",
            ToolCall(name="calculate", arguments={"expression": "2 * (3 + 4) ** 2"}, id="c"),
        )
        for i in range(4)
    ]
    samples += [_sample("compute 12 / 4", ToolCall(name="calculate", arguments={"expression": "12 / 4"}, id="c"))]
    samples += [
        _sample(f"toggle it {w}", ToolCall(name="toggle", arguments={"on": i % 2 == 0}, id="c"))
        for i, w in enumerate(["on", "off", "on", "off", "on", "off"])
    ]
    samples += [_sample("compute 12 / 4", None)]  # an exact repeat of a request
    card = diversity(samples, [CALC, TOGGLE, NEVER])
    assert card["requests"] == 12 and card["distinct_requests"] == 7
    # Nine requests nearly repeat an earlier one: "try 1..3", five of the toggles, the repeated "compute".
    assert card["near_duplicate_rate"] == 0.75
    expression = card["parameters"]["calculate.expression"]
    assert expression == {"uses": 5, "distinct": 2, "top_value": "2 * (3 + 4) ** 2", "top_share": 0.8}
    assert card["parameters"]["toggle.on"]["distinct"] == 2
    assert card["tool_coverage"] == "2/3" and card["tools_never_called"] == ["never_called"]
    assert card["parameter_coverage"] == "2/4"
    # The expression dominates and is named; a boolean split evenly between its two values is not.
    assert card["warnings"] == ['calculate.expression: the value "2 * (3 + 4) ** 2" fills 80% of its 5 uses']


def test_near_duplicates_are_counted_against_earlier_requests() -> None:
    samples = [_sample(text, None) for text in ("set an alarm for seven", "set an alarm for seven!", "hello there")]
    assert diversity(samples, [CALC])["near_duplicate_rate"] == pytest.approx(1 / 3, abs=1e-3)


GROUNDER = Grounder()
TIMES = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
DATES = st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)).map(date.isoformat)
EXPRESSIONS = st.builds(
    lambda a, op, b: f"{a} {op} {b}", st.integers(2, 999), st.sampled_from(["+", "-", "*", "/"]), st.integers(2, 999)
)


@settings(max_examples=150, deadline=None)
@given(value=st.one_of(TIMES, DATES, EXPRESSIONS, st.integers(0, 5000)), seed=st.integers(0, 10**6))
def test_every_spelling_a_user_is_given_grounds_back_to_its_value(value: object, seed: int) -> None:
    """surface.spoken writes a value as users do; grounding must read each spelling back to it."""
    rng = random.Random(seed)
    tool = ToolSpec(
        name="t",
        parameters={"type": "object", "properties": {"v": {"type": "integer" if isinstance(value, int) else "string"}}},
    )
    request = fill_slots("please do it with {A} now", {"A": spoken(value, rng, today=date.today())})
    assert request is not None
    messages = [
        Message(role="user", content=request),
        Message(role="assistant", tool_calls=[ToolCall(name="t", arguments={"v": value}, id="c")]),
    ]
    result = GROUNDER.check_messages(messages, [tool])
    assert result.passed, (request, result.summary())


def test_fill_slots_needs_every_placeholder_once() -> None:
    assert fill_slots("at {A} for {B}", {"A": "7 pm", "B": "two"}) == "at 7 pm for two"
    assert fill_slots("at {A}", {"A": "7 pm", "B": "two"}) is None  # lost one
    assert fill_slots("at {A} and {A} {B}", {"A": "7 pm", "B": "two"}) is None  # repeated one
    assert fill_slots("at {A} {C}", {"A": "7 pm"}) is None  # invented one


def test_grounding_rates_count_accepted_values_and_the_rewrites_dropped_before() -> None:
    from edgefabric.pipeline.generate.card import grounding_rates

    sample = _sample("what is 12 / 4", ToolCall(name="calculate", arguments={"expression": "12 / 4"}, id="c"))
    # two rewrites lost the expression before this request kept it
    sample.metadata.extra["grounding_discarded"] = {"calculate": [2, 0], "calculate.expression": [2, 0]}
    rates = grounding_rates([sample], [])
    assert rates["calculate.expression"] == {"checked": 3, "grounded": 1, "rate": 0.3333}
    # the deliberate mistake of an error-recovery sample is neither checked nor counted as a value
    recovery = _sample("what is 12 / 4", ToolCall(name="calculate", arguments={"expr": "12 / 4"}, id="m"))
    recovery.messages.insert(
        3,
        Message(role="assistant", tool_calls=[ToolCall(name="calculate", arguments={"expression": "12 / 4"}, id="c")]),
    )
    recovery.metadata.kind = "error_recovery"
    assert grounding_rates([recovery], [])["calculate.expression"] == {"checked": 1, "grounded": 1, "rate": 1.0}
    assert "calculate.expr" not in diversity([recovery], [CALC])["parameters"]
