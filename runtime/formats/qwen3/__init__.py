"""The Qwen3 chat format, one unit: ChatML turns with Hermes-style `<tool_call>` blocks.

Everything Qwen3-specific lives in this package: its tokens (tokens.py), its writers and the prompt
(render.py), its reader (parse.py), its call grammar (grammar.py), its exported Jinja chat template
(template.jinja) and its Ollama template (ollama.tmpl). This module is the unit the registry
(runtime/formats/registry.py) holds: it satisfies `edgefabric.runtime.formats.base.ChatFormat`.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgefabric.runtime.formats.base import ModelChoice, unit_file
from edgefabric.runtime.formats.gbnf import GrammarMode
from edgefabric.runtime.formats.qwen3.parse import parse
from edgefabric.runtime.formats.qwen3.render import EMPTY_THINK, render, render_assistant, render_call, segments
from edgefabric.runtime.formats.qwen3.tokens import (
    CALL_END,
    CALL_START,
    ENDOFTEXT,
    IM_END,
    IM_START,
    THINK_END,
    THINK_START,
    TOOLS_POSTAMBLE,
    TOOLS_PREAMBLE,
    special_tokens,
    stop_sequences,
    turn_end_sequences,
)
from edgefabric.schemas import ToolSpec

name = "qwen3"
aliases: tuple[str, ...] = ("hermes",)
bos_token = ""
eos_token = IM_END
architectures: tuple[str, ...] = ("Qwen3ForCausalLM",)
model_choices: tuple[ModelChoice, ...] = (ModelChoice("qwen3", "Qwen3-4B", "Qwen/Qwen3-4B"),)
# ChatML/Hermes-style models (SmolLM2, the embedded teacher, among them) read this format too.
name_hints: tuple[str, ...] = ("qwen", "smollm", "hermes", "chatml")
usage_notes: tuple[str, ...] = (
    "- `llama-server --jinja -m model-<quant>.gguf`: the template writes `<tool_call>` blocks, which "
    "llama.cpp's Hermes/Qwen tool-call parser turns into OpenAI `tool_calls`; LM Studio does the same.",
)


def call_grammar(tools: Sequence[ToolSpec], *, mode: GrammarMode, max_calls: int) -> str:
    """The GBNF grammar of `<tool_call>` blocks (grammar.py); imported when asked for."""
    from edgefabric.runtime.formats.qwen3.grammar import call_grammar as build

    return build(tools, mode=mode, max_calls=max_calls)


def chat_template() -> str:
    """The exported Jinja chat template (template.jinja, beside this module): renders what `render` renders."""
    return unit_file(__name__, "template.jinja")


def ollama_template() -> str:
    """The Ollama Modelfile's TEMPLATE (ollama.tmpl, Go text/template): the same turn layout as `render`."""
    return unit_file(__name__, "ollama.tmpl")


__all__ = [
    "CALL_END",
    "CALL_START",
    "EMPTY_THINK",
    "ENDOFTEXT",
    "IM_END",
    "IM_START",
    "THINK_END",
    "THINK_START",
    "TOOLS_POSTAMBLE",
    "TOOLS_PREAMBLE",
    "aliases",
    "architectures",
    "bos_token",
    "call_grammar",
    "chat_template",
    "eos_token",
    "model_choices",
    "name",
    "name_hints",
    "ollama_template",
    "parse",
    "render",
    "render_assistant",
    "render_call",
    "segments",
    "special_tokens",
    "stop_sequences",
    "turn_end_sequences",
    "usage_notes",
]
