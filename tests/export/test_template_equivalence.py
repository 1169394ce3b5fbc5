"""The exported chat templates render exactly what the formats render, on messages as OpenAI clients send them.

Issue 14, items 1 and 7: arguments arrive as JSON strings, tool results as strings, content as a list of
parts, tool messages without `name`. Three renderings are compared with the format's own `render` (what
training and EdgeFabric's runtime write): transformers' `apply_chat_template`, llama-cpp-python's Jinja
chat formatter, and (tests/export/test_llama_server.py) the upstream llama.cpp server.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgefabric.runtime.formats.registry import get_format
from edgefabric.runtime.formats.templates import chat_template
from edgefabric.schemas import ToolSpec, messages_from_openai
from tests.formats.strategies import wire_conversations

EXAMPLES = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)


def expected(family: str, messages: list[dict[str, Any]], tools: list[ToolSpec], agp: bool) -> str:
    return get_format(family).render(messages_from_openai(messages), tools, add_generation_prompt=agp)


# --------------------------------------------------------------------------- the renderers


@cache
def _transformers_tokenizer(folder: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def transformers_render(
    folder: Path, family: str, messages: list[dict[str, Any]], tools: list[ToolSpec], agp: bool
) -> str:
    tokenizer = _transformers_tokenizer(str(folder))
    fmt = get_format(family)
    return str(
        tokenizer.apply_chat_template(
            messages,
            tools=[tool.to_openai() for tool in tools] or None,
            chat_template=chat_template(family),
            add_generation_prompt=agp,
            tokenize=False,
            bos_token=fmt.bos_token,
            eos_token=fmt.eos_token,
        )
    )


@cache
def _formatter(family: str) -> Any:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    fmt = get_format(family)
    return Jinja2ChatFormatter(chat_template(family), eos_token=fmt.eos_token, bos_token=fmt.bos_token)


def llama_cpp_python_render(family: str, messages: list[dict[str, Any]], tools: list[ToolSpec]) -> str:
    """llama-cpp-python's Jinja formatter (it always adds the generation prompt)."""
    result = _formatter(family)(messages=messages, tools=[tool.to_openai() for tool in tools] or None)
    return str(result.prompt)


# --------------------------------------------------------------------------- the properties


@pytest.mark.parametrize("family", ["functiongemma", "qwen3"])
@EXAMPLES
@given(data=st.data())
def test_transformers_renders_wire_messages_as_the_format_does(
    family: str, data: st.DataObject, tiny_tokenizer: Path
) -> None:
    messages, tools, agp = data.draw(wire_conversations(family=family))
    assert transformers_render(tiny_tokenizer, family, messages, tools, agp) == expected(family, messages, tools, agp)


@pytest.mark.parametrize("family", ["functiongemma", "qwen3"])
@EXAMPLES
@given(data=st.data())
def test_llama_cpp_python_renders_wire_messages_as_the_format_does(family: str, data: st.DataObject) -> None:
    messages, tools, _ = data.draw(wire_conversations(family=family))
    assert llama_cpp_python_render(family, messages, tools) == expected(family, messages, tools, True)


# --------------------------------------------------------------------------- the issue's own cases

CONV = ToolSpec(
    name="conv",
    parameters={"type": "object", "properties": {"value": {"type": "number"}}, "required": ["value"]},
)
STANDARD_CLIENT = [
    {"role": "user", "content": [{"type": "text", "text": "Convert 5"}]},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "conv", "arguments": '{"value": 5}'}}],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"result": 3.1}'},
]


@pytest.mark.parametrize("family", ["functiongemma", "qwen3"])
def test_a_standard_client_conversation_gets_the_training_prompt(family: str, tiny_tokenizer: Path) -> None:
    """Item 1 (arguments as a JSON string, a JSON result as a string) and item 7 (no `name` on the result)."""
    prompt = expected(family, STANDARD_CLIENT, [CONV], True)
    assert transformers_render(tiny_tokenizer, family, STANDARD_CLIENT, [CONV], True) == prompt
    assert llama_cpp_python_render(family, STANDARD_CLIENT, [CONV]) == prompt
    if family == "functiongemma":
        assert "<start_function_call>call:conv{value:5}<end_function_call>" in prompt
        assert '<start_function_response>response:conv{value:<escape>{"result": 3.1}<escape>}' in prompt


def test_templates_stay_inside_llama_cpps_jinja() -> None:
    """llama.cpp's engine has no `| list` on mappings and cannot iterate strings (issue 14, item 0).

    The real check is tests/export/test_llama_server.py; this one names the constructs that broke it.
    """
    for family in ("functiongemma", "qwen3"):
        source = chat_template(family)
        assert "| list" not in source and "|list" not in source
        assert "for ch in key" not in source
