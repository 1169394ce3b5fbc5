"""The exported chat templates render exactly what runtime.formats renders (fixed conversations; the
property tests on what clients send are in test_template_equivalence.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.formats.registry import get_format
from edgefabric.runtime.formats.templates import chat_template, render_template, template_messages
from tests.export.conversations import CONVERSATIONS

CASES = [
    (family, name, agp) for family in ("functiongemma", "qwen3") for name in CONVERSATIONS for agp in (False, True)
]


@pytest.mark.parametrize(("family", "name", "add_generation_prompt"), CASES)
def test_template_equals_runtime_render(family: str, name: str, add_generation_prompt: bool) -> None:
    messages, tools = CONVERSATIONS[name]
    expected = get_format(family).render(messages, tools, add_generation_prompt=add_generation_prompt)
    rendered = render_template(
        chat_template(family), messages, tools, family=family, add_generation_prompt=add_generation_prompt
    )
    assert rendered == expected


@pytest.mark.parametrize("family", ["functiongemma", "qwen3"])
def test_transformers_apply_chat_template_matches(family: str, tiny_tokenizer: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer)
    tokenizer.chat_template = chat_template(family)
    for name in ("tools_prompt", "parallel_calls", "nested_args_text_before_call", "single_call_result"):
        messages, tools = CONVERSATIONS[name]
        rendered = tokenizer.apply_chat_template(
            template_messages(messages),
            tools=[tool.to_openai() for tool in tools],
            add_generation_prompt=True,
            tokenize=False,
            bos_token=get_format(family).bos_token,
        )
        assert rendered == get_format(family).render(messages, tools, add_generation_prompt=True), name


def test_template_is_package_data_and_unknown_family_is_clear() -> None:
    assert "<start_function_call>call:" in chat_template("functiongemma")
    assert "<tool_call>" in chat_template("qwen3")  # what llama.cpp's Hermes-style detection keys on
    assert chat_template("hermes") == chat_template("qwen3")
    with pytest.raises(EdgeFabricError, match="unknown chat format 'llama'"):
        chat_template("llama")
