"""Parsing is linear in the output's length, even on output built to make a parser backtrack.

Shown as a complexity ratio, not a wall-clock limit: parsing 4n characters of repeated markup takes about
4 times as long as n characters when parsing is linear, and about 16 times when it is quadratic (the Qwen3
parser once took 13.9 s on "<think>" * 16384, the FunctionGemma one 9.2 s on 8,192 response markers).
n is 128 KiB: measured here, the cost per character is flat from ~90 KiB to 4 MiB, while below that fixed
costs and above it memory bandwidth bend the ratio (up to 9.7 for a linear parse between 16 and 64 KiB on a
busy machine). A noisy neighbour can still slow one timing, so a case gets three tries; a quadratic parse
never passes one.
"""

from __future__ import annotations

import math
import timeit
from collections.abc import Callable

import pytest

from edgefabric.runtime.formats import functiongemma, qwen3
from edgefabric.runtime.formats.registry import get_format

pytestmark = pytest.mark.reliability

FAMILIES = ["functiongemma", "qwen3"]
SMALL_CHARS = 1 << 17  # n; 4n is the large text
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


def _growth(parse: Callable[[str], object], unit: str) -> tuple[float, float, float]:
    """(time for 4n / time for n, seconds at n, seconds at 4n): the fastest of 5 timings each, of enough
    parses to last ~5 ms at n (timeit turns the garbage collector off while it times)."""
    small_text = unit * math.ceil(SMALL_CHARS / len(unit))
    large_text = small_text * 4
    once = min(timeit.repeat(lambda: parse(small_text), repeat=2, number=1))
    number = max(1, min(1000, round(0.005 / max(once, 1e-9))))
    small = min(timeit.repeat(lambda: parse(small_text), repeat=5, number=number)) / number
    large = min(timeit.repeat(lambda: parse(large_text), repeat=5, number=number)) / number
    return large / small, small, large


@pytest.mark.timeout(300)  # a quadratic parser takes minutes here: fail, do not hang
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("unit", UNITS)
def test_parse_time_grows_linearly_with_repeated_markers(family: str, unit: str) -> None:
    parse = get_format(family).parse
    for _attempt in range(3):
        ratio, small, large = _growth(parse, unit)
        if ratio < 8:  # linear: ~4; quadratic: ~16
            return
    pytest.fail(f"{family}: {unit!r} x n took {small:.5f} s, x 4n {large:.5f} s: {ratio:.1f} times as long")


@pytest.mark.parametrize("family", FAMILIES)
def test_the_reported_inputs_parse_to_text_without_calls(family: str) -> None:
    parse = get_format(family).parse
    thinking = parse(qwen3.THINK_START * 30000)
    assert thinking.tool_calls == [] and thinking.errors == []
    markers = parse(functiongemma.RESPONSE_START * 8192)
    assert markers.tool_calls == [] and markers.errors == []
    if family == "functiongemma":
        assert markers.text == ""  # a response block the model began is not part of its answer
