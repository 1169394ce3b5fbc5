"""Training text equals inference text (issue 14, item 2): before every assistant turn, the text a model is
trained on is exactly the prompt it is served, `render(history, add_generation_prompt=True)`, and the model's
own (trainable) text starts right there."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgefabric.runtime.formats import qwen3
from edgefabric.runtime.formats.registry import get_format
from edgefabric.schemas import Message, messages_from_openai
from tests.formats.strategies import wire_conversations

EXAMPLES = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _prompt(family: str, history: list[Message], turn: Message, tools: list) -> str:  # type: ignore[type-arg]
    if family == "qwen3":
        # A turn with reasoning is thinking mode's continuation; one without, non-thinking mode's.
        return qwen3.render(history, tools, add_generation_prompt=True, enable_thinking=bool(turn.reasoning))
    return get_format(family).render(history, tools, add_generation_prompt=True)


@pytest.mark.parametrize("family", ["functiongemma", "qwen3"])
@EXAMPLES
@given(data=st.data())
def test_the_text_before_each_assistant_turn_is_the_inference_prompt(family: str, data: st.DataObject) -> None:
    wire, tools, _ = data.draw(wire_conversations(family=family))
    messages = messages_from_openai(wire)
    segments = get_format(family).segments(messages, tools)
    training = "".join(s.text for s in segments)
    trainable_starts, offset = set(), 0
    for segment in segments:
        if segment.trainable and segment.text:
            trainable_starts.add(offset)
        offset += len(segment.text)
    turns = 0
    for index, message in enumerate(messages):
        if message.role != "assistant":
            continue
        turns += 1
        prompt = _prompt(family, messages[:index], message, tools)
        assert training.startswith(prompt), (index, prompt[-200:], training[len(prompt) - 200 : len(prompt) + 50])
        assert len(prompt) in trainable_starts, (index, training[len(prompt) : len(prompt) + 80])


def test_qwen3_serves_a_call_after_the_prefix_it_was_trained_after() -> None:
    """The issue's case: training had `<|im_start|>assistant\\n<tool_call>`, inference the empty think block."""
    wire = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "tool_calls": [{"function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "content": "18"},
        {"role": "assistant", "content": "18 degrees."},
    ]
    messages = messages_from_openai(wire)
    training = qwen3.render(messages, [])
    prompt = qwen3.render(messages[:1], [], add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert training.startswith(prompt + "<tool_call>")
