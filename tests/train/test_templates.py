"""The chat template saved with a run renders what training rendered (FunctionGemma, transformers' conventions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgefabric.pipeline.train.templates import FUNCTIONGEMMA_TEMPLATE, chat_template_for
from edgefabric.runtime.formats import functiongemma
from edgefabric.schemas import Sample
from tests.train.conftest import add_sample, chat_sample, weather_sample


def _hf_messages(sample: Sample) -> list[dict[str, Any]]:
    """transformers' convention: call arguments and JSON tool results as mappings."""
    out = []
    for m in sample.messages:
        message: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.tool_calls:
            message["tool_calls"] = [
                {"type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in m.tool_calls
            ]
        if m.role == "tool":
            message["name"] = m.name
            try:
                decoded = json.loads(m.content or "")
            except ValueError:
                decoded = m.content
            message["content"] = decoded if isinstance(decoded, dict) else m.content
        out.append(message)
    return out


@pytest.mark.parametrize("make", [weather_sample, add_sample, chat_sample])
@pytest.mark.parametrize("prompt_only", [False, True])
def test_functiongemma_template_matches_the_format(make: Any, prompt_only: bool, tiny_gemma: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_gemma)
    tokenizer.chat_template = chat_template_for("functiongemma", tokenizer)
    assert tokenizer.chat_template == FUNCTIONGEMMA_TEMPLATE
    sample = make(3)
    messages = sample.messages[:-1] if prompt_only else sample.messages
    expected = functiongemma.render(messages, sample.tools, add_generation_prompt=prompt_only)
    hf = _hf_messages(sample)[: len(messages)]
    rendered = tokenizer.apply_chat_template(
        hf, tools=[t.to_openai() for t in sample.tools], add_generation_prompt=prompt_only, tokenize=False
    )
    if make is add_sample:  # its tool result is a bare number: JSON-decoded by the format, a string to Jinja
        expected = expected.replace("{value:", "{value:<escape>", 1).replace(
            "}<end_function_response>", "<escape>}<end_function_response>", 1
        )
    assert rendered == expected


def test_qwen3_keeps_a_tool_aware_template_or_uses_trls(tiny_qwen: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen)
    template = chat_template_for("qwen3", tokenizer)
    assert "<tool_call>" in template and "<|im_start|>" in template
    tokenizer.chat_template = "{{ 'x' }} tool_call"
    assert chat_template_for("qwen3", tokenizer) == "{{ 'x' }} tool_call"
