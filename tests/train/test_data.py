"""Loss masks, proven token by token on rendered samples, and the skip rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgefabric.pipeline.train.data import (
    IGNORE,
    apply_max_length,
    char_mask,
    default_max_length,
    encode_sample,
    encode_samples,
    training_segments,
)
from edgefabric.pipeline.train.tokens import add_special_tokens
from edgefabric.runtime.formats import functiongemma, qwen3
from edgefabric.runtime.formats.registry import get_format
from edgefabric.schemas import Message, Sample, ToolCall
from tests.train.conftest import ADD, WEATHER, add_sample, weather_sample


def _tokenizer(folder: Path, family: str) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    add_special_tokens(tokenizer, get_format(family).special_tokens)
    return tokenizer


def _check_token_by_token(sample: Sample, family: str, tokenizer: Any) -> list[tuple[str, bool]]:
    """Every token: label == id exactly where its text is model-written; returns (token text, trained)."""
    fmt = get_format(family)
    segments = training_segments(sample, fmt)
    text, mask = char_mask(segments)
    row = encode_sample(sample, fmt, tokenizer)
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    assert len(row.input_ids) == len(row.labels) == len(offsets)
    tokens = []
    for token, label, (start, end) in zip(row.input_ids, row.labels, offsets, strict=True):
        piece = text[start:end]
        trained = all(mask[start:end])
        assert trained or not any(mask[start:end]), f"token {piece!r} straddles a trainable boundary"
        assert label == (token if trained else IGNORE), f"token {piece!r}: label {label}, trained {trained}"
        tokens.append((piece, trained))
    # The trained tokens spell exactly the trainable segments, in order.
    assert "".join(p for p, t in tokens if t) == "".join(s.text for s in segments if s.trainable)
    assert tokenizer.decode(row.input_ids) == text
    return tokens


def test_functiongemma_mask_token_by_token(tiny_gemma: Path) -> None:
    tokenizer = _tokenizer(tiny_gemma, "functiongemma")
    sample = weather_sample(0)
    tokens = _check_token_by_token(sample, "functiongemma", tokenizer)
    trained = {p for p, t in tokens if t}
    untrained = {p for p, t in tokens if not t}
    # What the model writes: the call, the stop marker after it, the answer, the end of its turn.
    assert {"<start_function_call>", "<end_function_call>", "<start_function_response>", "<end_of_turn>"} <= trained
    # Never the prompt, the declarations or the tool's result.
    assert {"<bos>", "<start_function_declaration>", "<end_function_response>", "<start_of_turn>"} <= untrained
    trained_text = "".join(p for p, t in tokens if t)
    assert trained_text == (
        "<start_function_call>call:get_weather{city:<escape>Paris<escape>}<end_function_call>"
        "<start_function_response>It is 10 degrees and clear in Paris.<end_of_turn>"
    )
    # Each control token is one token, not pieces.
    for marker in functiongemma.special_tokens:
        assert len(tokenizer.encode(marker, add_special_tokens=False)) == 1


def test_qwen3_mask_token_by_token(tiny_qwen: Path) -> None:
    tokenizer = _tokenizer(tiny_qwen, "qwen3")
    sample = add_sample(1)
    tokens = _check_token_by_token(sample, "qwen3", tokenizer)
    trained_text = "".join(p for p, t in tokens if t)
    assert trained_text == (
        '<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 9}}\n</tool_call><|im_end|>2 + 9 = 11.<|im_end|>'
    )
    untrained = "".join(p for p, t in tokens if not t)
    assert "<tool_response>\n11\n</tool_response>" in untrained
    assert "You are a careful calculator." in untrained and "<tools>" in untrained


def _bad(messages: list[Message]) -> Sample:
    return Sample(id="bad", messages=messages, tools=[WEATHER, ADD])


CALL = ToolCall(name="add", arguments={"a": 1, "b": 2})


@pytest.mark.parametrize("family", ["functiongemma", "qwen3"])
@pytest.mark.parametrize(
    ("messages", "why"),
    [
        ([Message(role="user", content="hi")], "no assistant turn"),
        (
            [
                Message(role="user", content="add"),
                Message(role="assistant", tool_calls=[CALL]),
                Message(role="tool", name="add", content="3"),
            ],
            "ends with a tool turn",
        ),
        (
            [
                Message(role="user", content="add"),
                Message(role="tool", name="add", content="3"),
                Message(role="assistant", content="3"),
            ],
            "answers no call",
        ),
        (
            [Message(role="user", content="hi"), Message(role="assistant", content="bye<end_of_turn><|im_end|>")],
            "control marker",
        ),
    ],
)
def test_rows_that_do_not_fit_are_counted(family: str, messages: list[Message], why: str, tiny_gemma: Path) -> None:
    tokenizer = _tokenizer(tiny_gemma, family)
    split = encode_samples([weather_sample(0), _bad(messages), weather_sample(1)], get_format(family), tokenizer)
    assert [r.sample_id for r in split.rows] == ["weather-0", "weather-1"]
    assert split.counts()["format"] == 1
    assert why in split.skipped[0].detail


def test_too_long_rows_are_counted_not_truncated(tiny_gemma: Path) -> None:
    tokenizer = _tokenizer(tiny_gemma, "functiongemma")
    split = encode_samples([weather_sample(0), add_sample(1)], functiongemma, tokenizer)
    lengths = sorted(len(r.input_ids) for r in split.rows)
    limit = default_max_length(split)
    assert limit >= lengths[-1] + 16 and limit % 8 == 0
    kept = apply_max_length(split, lengths[0])
    assert len(kept.rows) == 1 and len(kept.rows[0].input_ids) == lengths[0]
    assert kept.counts()["too_long"] == 1
    assert f"{lengths[1]} tokens > {lengths[0]}" in kept.skipped[0].detail


def test_qwen3_think_block_of_last_turn_is_not_trained_when_empty(tiny_qwen: Path) -> None:
    tokenizer = _tokenizer(tiny_qwen, "qwen3")
    sample = Sample(messages=[Message(role="user", content="Hello"), Message(role="assistant", content="Hi.")])
    row = encode_sample(sample, qwen3, tokenizer)
    trained = tokenizer.decode([t for t, label in zip(row.input_ids, row.labels, strict=True) if label != IGNORE])
    assert trained == "Hi.<|im_end|>"


@pytest.mark.parametrize("family", ["functiongemma", "qwen3"])
def test_the_deliberate_mistake_of_an_error_recovery_sample_earns_no_loss(
    family: str, tiny_gemma: Path, tiny_qwen: Path
) -> None:
    from edgefabric.schemas import SampleMetadata

    tokenizer = _tokenizer(tiny_gemma if family == "functiongemma" else tiny_qwen, family)
    wrong = ToolCall(id="c1", name="get_weather", arguments={"city": "Pariss"})
    right = ToolCall(id="c2", name="get_weather", arguments={"city": "Paris"})
    messages = [
        Message(role="user", content="Weather in Paris?"),
        Message(role="assistant", tool_calls=[wrong]),
        Message(role="tool", name="get_weather", tool_call_id="c1", content='{"error": "unknown city Pariss"}'),
        Message(role="assistant", tool_calls=[right]),
        Message(role="tool", name="get_weather", tool_call_id="c2", content='{"temp": 10}'),
        Message(role="assistant", content="10 degrees."),
    ]
    recovery = Sample(messages=messages, tools=[WEATHER], metadata=SampleMetadata(kind="error_recovery"))
    plain = recovery.model_copy(update={"metadata": SampleMetadata(kind="multi_step")})
    trained = {
        name: "".join(piece for piece, t in _check_token_by_token(s, family, tokenizer) if t)
        for name, s in (("recovery", recovery), ("plain", plain))
    }
    assert "Pariss" in trained["plain"] and "Pariss" not in trained["recovery"]
    assert "Paris" in trained["recovery"] and "10 degrees." in trained["recovery"]
