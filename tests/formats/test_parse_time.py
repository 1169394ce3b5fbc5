"""Parsing is linear in the output's length, even on output built to make a parser backtrack.

Shown as a complexity ratio, not a wall-clock limit: parsing 4n repeats of a unit takes about 4 times
as long as n repeats when parsing is linear, and about 16 times when it is quadratic (the Qwen3 parser
once took 13.9 s on "<think>" * 16384, the FunctionGemma one 9.2 s on 8,192 response markers).
"""

from __future__ import annotations

import timeit
from collections.abc import Callable

import pytest

from edgefabric.runtime.formats import functiongemma, get_format, qwen3

pytestmark = pytest.mark.reliability

FAMILIES = ["functiongemma", "qwen3"]
N = 2048  # 4N = 8,192: the count of repeated markers
# Repeated openings with no closing, closings with nothing to close, and blocks that each fail, for both
# formats' markers: each one made some parser rescan the rest of the output from every repeat.
UNITS = [
    qwen3.THINK_START,
    qwen3.THINK_END,
    qwen3.CALL_START,
    qwen3.CALL_START + qwen3.CALL_END,
    qwen3.CALL_START + "x" + qwen3.CALL_END,
    qwen3.CALL_START + '{"name": "f", "arguments": {}}\n' + qwen3.CALL_END,
    qwen3.CALL_START + '{"name": "f", "arguments": {"a": "' + qwen3.CALL_END,
    functiongemma.RESPONSE_START,
    functiongemma.RESPONSE_START + "response:f{}",
    functiongemma.CALL_START,
    functiongemma.CALL_START + functiongemma.CALL_END,
    functiongemma.CALL_START + "call:f{a:" + functiongemma.ESCAPE,
    functiongemma.CALL_START + "call:f{a:1}" + functiongemma.CALL_END,
    functiongemma.ESCAPE,
]


def _seconds_per_parse(parse: Callable[[str], object], text: str, number: int) -> float:
    """The fastest of 5 timings of `number` parses each, per parse (timeit turns the garbage collector
    off while it times; the minimum is the run least disturbed by other processes)."""
    return min(timeit.repeat(lambda: parse(text), repeat=5, number=number)) / number


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("unit", UNITS)
def test_parse_time_grows_linearly_with_repeated_markers(family: str, unit: str) -> None:
    parse = get_format(family).parse
    once = min(timeit.repeat(lambda: parse(unit * N), repeat=2, number=1))
    # Enough parses per timing to last ~5 ms at n, so a scheduler tick cannot pass for growth.
    number = max(1, min(1000, round(0.005 / max(once, 1e-9))))
    small = _seconds_per_parse(parse, unit * N, number)
    large = _seconds_per_parse(parse, unit * 4 * N, number)
    # Linear: ~4 (less when fixed costs dominate, a little more from caches); quadratic: ~16.
    assert large / small < 10, f"{family}: {unit!r} x{N} took {small:.4f} s, x{4 * N} took {large:.4f} s"


@pytest.mark.parametrize("family", FAMILIES)
def test_the_reported_inputs_parse_to_text_without_calls(family: str) -> None:
    parse = get_format(family).parse
    thinking = parse(qwen3.THINK_START * 30000)
    assert thinking.tool_calls == [] and thinking.errors == []
    markers = parse(functiongemma.RESPONSE_START * 8192)
    assert markers.tool_calls == [] and markers.errors == []
    if family == "functiongemma":
        assert markers.text == ""  # a response block the model began is not part of its answer
