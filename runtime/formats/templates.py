"""The exported Jinja chat templates: each format unit's template.jinja, rendering what the unit renders.

The template travels inside the GGUF (`tokenizer.chat_template`), the merged model's tokenizer and the
ONNX bundle, so llama.cpp (`llama-server --jinja`), LM Studio and transformers' `apply_chat_template`
build the same prompt the model was trained on, from messages in OpenAI's wire form (arguments as JSON
strings, content as parts, tool messages without `name`). `render_template` renders one the way
transformers does (sandboxed Jinja, a `tojson` without HTML escaping or key sorting); the tests compare it,
transformers, llama-cpp-python and the upstream llama.cpp server with the format's `render`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.formats.registry import get_format
from edgefabric.schemas import Message, ToolSpec


def chat_template(family: str) -> str:
    """The Jinja source for a chat format family (or alias); EdgeFabricError for an unknown one."""
    return get_format(family).chat_template()


def template_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Messages in OpenAI's wire form, as a client would send them (arguments as JSON strings)."""
    return [message.to_openai() for message in messages]


def _tojson(value: Any, indent: int | None = None) -> str:
    # As transformers' chat-template `tojson`: no HTML escaping, keys in their own order.
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _raise(message: str) -> None:
    raise EdgeFabricError(f"chat template error: {message}")


def render_template(
    template: str,
    messages: Sequence[Message | dict[str, Any]],
    tools: Sequence[ToolSpec],
    *,
    family: str,
    add_generation_prompt: bool = False,
) -> str:
    """Render `template` the way transformers' apply_chat_template does; `Message`s go in wire form."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    fmt = get_format(family)
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise
    wire = [m.to_openai() if isinstance(m, Message) else m for m in messages]
    return env.from_string(template).render(
        messages=wire,
        tools=[tool.to_openai() for tool in tools] or None,
        add_generation_prompt=add_generation_prompt,
        bos_token=fmt.bos_token,
        eos_token=fmt.eos_token,
    )
