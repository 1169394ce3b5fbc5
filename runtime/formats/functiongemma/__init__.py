"""The FunctionGemma chat format, one unit: Gemma 3 turns plus function-calling control tokens.

Everything FunctionGemma-specific lives in this package: its tokens (tokens.py), its writers and the
prompt (render.py), its reader (parse.py), its call grammar (grammar.py), its exported Jinja chat
template (template.jinja) and its Ollama template (ollama.tmpl). This module is the unit the registry
(runtime/formats/registry.py) holds: it satisfies `edgefabric.runtime.formats.base.ChatFormat`.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgefabric.runtime.formats.base import ModelChoice, unit_file
from edgefabric.runtime.formats.functiongemma.parse import parse
from edgefabric.runtime.formats.functiongemma.render import (
    render,
    render_assistant,
    render_call,
    render_declaration,
    render_response,
    segments,
)
from edgefabric.runtime.formats.functiongemma.tokens import (
    BOS,
    CALL_END,
    CALL_START,
    DECLARATION_END,
    DECLARATION_START,
    DEFAULT_DEVELOPER_PROMPT,
    END_TURN,
    EOS,
    ESCAPE,
    RESPONSE_END,
    RESPONSE_START,
    START_TURN,
    special_tokens,
    stop_sequences,
    turn_end_sequences,
)
from edgefabric.runtime.formats.gbnf import GrammarMode
from edgefabric.schemas import ToolSpec

name = "functiongemma"
aliases: tuple[str, ...] = ()
bos_token = BOS
eos_token = EOS
# Gemma 3 is the architecture FunctionGemma-270M is built on; its fine-tunes are trained in this format.
architectures: tuple[str, ...] = ("Gemma3ForCausalLM",)
model_choices: tuple[ModelChoice, ...] = (
    ModelChoice("embedded", "Embedded Gemma 3 270M (offline)", "embedded:gemma3-270m"),
    ModelChoice("functiongemma", "FunctionGemma-270M", "google/functiongemma-270m-it"),
)
name_hints: tuple[str, ...] = ("gemma",)
usage_notes: tuple[str, ...] = (
    "- llama.cpp / LM Studio: the embedded template builds the training prompt from OpenAI messages "
    "(tested against llama-server). llama.cpp does not yet parse FunctionGemma's `<start_function_call>` "
    "blocks into OpenAI tool calls (a request with `tools` whose reply holds a call fails); "
    "EdgeFabric's runtime (`edgefabric.runtime.formats.functiongemma.parse`) does, so run the agent loop "
    "through EdgeFabric, or send no `tools` and parse the text yourself. Stop on "
    "`<start_function_response>` and `<end_of_turn>`.",
)


def call_grammar(tools: Sequence[ToolSpec], *, mode: GrammarMode, max_calls: int) -> str:
    """The GBNF grammar of this format's calls (grammar.py); imported when asked for, as it is rarely needed."""
    from edgefabric.runtime.formats.functiongemma.grammar import call_grammar as build

    return build(tools, mode=mode, max_calls=max_calls)


def chat_template() -> str:
    """The exported Jinja chat template (template.jinja, beside this module): renders what `render` renders."""
    return unit_file(__name__, "template.jinja")


def ollama_template() -> str:
    """The Ollama Modelfile's TEMPLATE (ollama.tmpl, Go text/template): the same turn layout as `render`."""
    return unit_file(__name__, "ollama.tmpl")


__all__ = [
    "BOS",
    "CALL_END",
    "CALL_START",
    "DECLARATION_END",
    "DECLARATION_START",
    "DEFAULT_DEVELOPER_PROMPT",
    "END_TURN",
    "EOS",
    "ESCAPE",
    "RESPONSE_END",
    "RESPONSE_START",
    "START_TURN",
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
    "render_declaration",
    "render_response",
    "segments",
    "special_tokens",
    "stop_sequences",
    "turn_end_sequences",
    "usage_notes",
]
