"""The chat template saved with a trained run is the format's exported one, and it renders what training
rendered (transformers' apply_chat_template on the run's own tokenizer, the samples in wire form)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgefabric.runtime.formats.registry import get_format
from edgefabric.runtime.formats.templates import chat_template
from tests.train.conftest import add_sample, chat_sample, weather_sample


@pytest.mark.parametrize("make", [weather_sample, add_sample, chat_sample])
@pytest.mark.parametrize("prompt_only", [False, True])
@pytest.mark.parametrize("family", ["functiongemma", "qwen3"])
def test_template_renders_the_training_text(make: Any, prompt_only: bool, family: str, tiny_gemma: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_gemma)
    tokenizer.chat_template = chat_template(family)
    sample = make(3)
    messages = sample.messages[:-1] if prompt_only else sample.messages
    fmt = get_format(family)
    rendered = tokenizer.apply_chat_template(
        [m.to_openai() for m in messages],
        tools=[t.to_openai() for t in sample.tools],
        add_generation_prompt=prompt_only,
        tokenize=False,
        bos_token=fmt.bos_token,
    )
    assert rendered == fmt.render(messages, sample.tools, add_generation_prompt=prompt_only)
