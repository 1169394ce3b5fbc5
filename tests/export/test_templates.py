"""The exported chat templates render exactly what runtime.formats renders."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgefabric.errors import EdgeFabricError
from edgefabric.export.templates import chat_template, render_template, template_messages
from edgefabric.runtime.formats import get_format
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
            template_messages(messages, family),
            tools=[tool.to_openai() for tool in tools],
            add_generation_prompt=True,
            tokenize=False,
            bos_token="<bos>" if family == "functiongemma" else "",
        )
        assert rendered == get_format(family).render(messages, tools, add_generation_prompt=True), name


def test_llama_cpp_jinja_formatter_matches_functiongemma() -> None:
    # llama-cpp-python's own Jinja formatter (its tojson sorts keys, which the FunctionGemma template never uses).
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    formatter = Jinja2ChatFormatter(chat_template("functiongemma"), eos_token="<eos>", bos_token="<bos>")
    for name in ("parallel_calls", "error_result", "system_tools"):
        messages, tools = CONVERSATIONS[name]
        result = formatter(
            messages=template_messages(messages, "functiongemma"),  # type: ignore[arg-type]
            tools=[tool.to_openai() for tool in tools],  # type: ignore[misc]
        )
        assert result.prompt == get_format("functiongemma").render(messages, tools, add_generation_prompt=True)


def test_template_is_package_data_and_unknown_family_is_clear() -> None:
    assert "<start_function_call>call:" in chat_template("functiongemma")
    assert "<tool_call>" in chat_template("qwen3")  # what llama.cpp's Hermes-style detection keys on
    with pytest.raises(EdgeFabricError, match="no chat template"):
        chat_template("llama")
