"""Properties both formats must hold: render -> parse is exact, and parse never raises."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgefabric.runtime.formats.registry import get_format
from edgefabric.schemas import Message
from tests.formats.strategies import MARKUP, assistant_messages

FAMILIES = ["functiongemma", "qwen3"]
EXAMPLES = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("family", FAMILIES)
@EXAMPLES
@given(message=assistant_messages)
def test_render_then_parse_returns_the_same_calls_and_text(family: str, message: Message) -> None:
    fmt = get_format(family)
    result = fmt.parse(fmt.render_assistant(message))
    assert result.errors == []
    assert [(c.name, c.arguments) for c in result.tool_calls] == [(c.name, c.arguments) for c in message.tool_calls]
    # Types survive too: 1 stays int, 1.0 stays float, True stays bool.
    assert [repr(c.arguments) for c in result.tool_calls] == [repr(c.arguments) for c in message.tool_calls]
    assert result.text == (message.content or "").strip()


# Arbitrary text, and text made of both formats' markup in any order (what trips parsers up).
OUTPUTS = st.one_of(
    st.text(), st.lists(st.one_of(st.text(max_size=6), st.sampled_from(MARKUP)), max_size=30).map("".join)
)


def _check_parse(family: str, output: str) -> None:
    result = get_format(family).parse(output)
    assert isinstance(result.text, str)
    for error in result.errors:
        assert error.message and error.snippet


@pytest.mark.parametrize("family", FAMILIES)
@EXAMPLES
@given(output=OUTPUTS)
def test_parse_never_raises_on_arbitrary_text(family: str, output: str) -> None:
    _check_parse(family, output)


@pytest.mark.slow
@pytest.mark.reliability
@pytest.mark.parametrize("family", FAMILIES)
@settings(
    max_examples=10_000,
    # A bound per case against hangs (Hypothesis re-runs a slow case before it fails), not a speed target:
    # a case is a few hundred characters and parses in microseconds.
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(output=OUTPUTS)
def test_parse_never_raises_on_ten_thousand_outputs_each_within_a_time_bound(family: str, output: str) -> None:
    _check_parse(family, output)


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_parse_never_raises_on_arbitrary_bytes(family: str, data: bytes) -> None:
    get_format(family).parse(data.decode("utf-8", errors="replace"))


@pytest.mark.parametrize("family", FAMILIES)
def test_deep_nesting_is_an_error_not_a_crash(family: str) -> None:
    fmt = get_format(family)
    if family == "functiongemma":
        output = "<start_function_call>call:f{a:" + "[" * 5000 + "]" * 5000 + "}<end_function_call>"
    else:
        output = '<tool_call>\n{"name": "f", "arguments": {"a": ' + "[" * 100000 + "]" * 100000 + "}}\n</tool_call>"
    result = fmt.parse(output)
    assert result.tool_calls == []
    assert len(result.errors) == 1
