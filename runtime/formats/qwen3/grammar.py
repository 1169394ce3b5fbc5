"""Qwen3's call grammar: `<tool_call>` blocks whose arguments follow llama-cpp-python's JSON-Schema converter."""

from __future__ import annotations

from collections.abc import Sequence

from edgefabric.runtime.formats.gbnf import GrammarMode, json_call_grammar
from edgefabric.runtime.formats.qwen3.render import write_json
from edgefabric.runtime.formats.qwen3.tokens import CALL_END, CALL_START
from edgefabric.schemas import ToolSpec


def call_grammar(tools: Sequence[ToolSpec], *, mode: GrammarMode, max_calls: int) -> str:
    """The GBNF grammar of `<tool_call>` blocks; the arguments' part is llama-cpp-python's converter's."""
    return json_call_grammar(
        tools,
        head=lambda tool: f'{CALL_START}\n{{"name": {write_json(tool.name)}, "arguments": ',
        tail=f"}}\n{CALL_END}",
        separator="\n",
        answer="[^<\\n] [^<]*",
        mode=mode,
        max_calls=max_calls,
    )
