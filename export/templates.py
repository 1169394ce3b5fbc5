"""Jinja chat templates that render tools, calls and results exactly like runtime.formats.

The template travels inside the GGUF (`tokenizer.chat_template`) and the Ollama
Modelfile, so LM Studio, `llama-server --jinja` and transformers' `apply_chat_template`
build the same prompt the model was trained on. `render_template` renders one the way
transformers does (sandboxed Jinja, trim_blocks/lstrip_blocks, a `tojson` without HTML
escaping or key sorting); the tests compare it with `runtime.formats.render`.

Two things Jinja cannot do, so callers do them (see `template_messages`): tool-call
arguments are passed as objects, not JSON strings, and for FunctionGemma a tool result
that is JSON is passed decoded (the Python renderer decodes it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from typing import Any

from edgefabric.errors import EdgeFabricError
from edgefabric.schemas import Message, ToolSpec

TEMPLATE_FILES = {"functiongemma": "functiongemma.jinja", "qwen3": "qwen3.jinja", "hermes": "qwen3.jinja"}
BOS_TOKENS = {"functiongemma": "<bos>", "qwen3": "", "hermes": ""}
EOS_TOKENS = {"functiongemma": "<eos>", "qwen3": "<|im_end|>", "hermes": "<|im_end|>"}


@cache
def chat_template(family: str) -> str:
    """The Jinja source for a chat format family."""
    try:
        name = TEMPLATE_FILES[family]
    except KeyError:
        raise EdgeFabricError(
            f"no chat template for format {family!r}", f"use one of: {', '.join(sorted(TEMPLATE_FILES))}"
        ) from None
    return files("edgefabric.export").joinpath(name).read_text(encoding="utf-8")


def _decoded(content: str) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return content


def template_messages(messages: Sequence[Message], family: str) -> list[dict[str, Any]]:
    """Messages as chat-template input: OpenAI dicts with arguments as objects."""
    out = []
    for message in messages:
        item: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.tool_calls:
            item["tool_calls"] = [
                {"type": "function", "id": call.id, "function": {"name": call.name, "arguments": call.arguments}}
                for call in message.tool_calls
            ]
        if message.role == "tool":
            item["name"] = message.name
            item["tool_call_id"] = message.tool_call_id
            if family == "functiongemma":
                item["content"] = _decoded(message.content or "")
        if message.reasoning is not None:
            item["reasoning"] = message.reasoning
        out.append(item)
    return out


def _tojson(value: Any, indent: int | None = None) -> str:
    # As transformers' chat-template `tojson`: no HTML escaping, keys in their own order.
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _raise(message: str) -> None:
    raise EdgeFabricError(f"chat template error: {message}")


def render_template(
    template: str,
    messages: Sequence[Message],
    tools: Sequence[ToolSpec],
    *,
    family: str,
    add_generation_prompt: bool = False,
) -> str:
    """Render `template` the way transformers' apply_chat_template does."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise
    return env.from_string(template).render(
        messages=template_messages(messages, family),
        tools=[tool.to_openai() for tool in tools] or None,
        add_generation_prompt=add_generation_prompt,
        bos_token=BOS_TOKENS[family],
        eos_token=EOS_TOKENS[family],
    )
