"""Constrained decoding: the grammar (GBNF, llama.cpp) of a chat format's tool calls.

Each format builds its own from its own writers (runtime/formats: FunctionGemma's notation by hand,
JSON-argument formats through llama-cpp-python's JSON-Schema converter); see runtime/formats/gbnf.py for
what a grammar can and cannot enforce.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgefabric.errors import EdgeFabricError
from edgefabric.runtime.formats.gbnf import MAX_PARALLEL_CALLS, GrammarMode
from edgefabric.runtime.formats.registry import FORMATS, families, get_format
from edgefabric.schemas import ToolSpec


def call_grammar(
    family: str, tools: Sequence[ToolSpec], *, mode: GrammarMode = "required", max_calls: int = MAX_PARALLEL_CALLS
) -> str:
    """A GBNF grammar admitting 1..max_calls calls of `tools` (or, in auto mode, plain text)."""
    if not tools:
        raise EdgeFabricError("constrained decoding needs at least one tool", "pass --tools, or turn it off")
    if family not in FORMATS:
        raise EdgeFabricError(f"no call grammar for chat format {family!r}", f"use one of: {', '.join(families())}")
    return get_format(family).call_grammar(tools, mode=mode, max_calls=max_calls)


__all__ = ["MAX_PARALLEL_CALLS", "GrammarMode", "call_grammar"]
