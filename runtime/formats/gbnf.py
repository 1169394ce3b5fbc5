"""GBNF (llama.cpp grammar) pieces the formats share, and the call grammar of JSON-argument formats.

A format's `call_grammar(tools, mode=..., max_calls=...)` returns a grammar that only admits well-formed
calls of the tools on offer (`mode="required"`), or those or a plain answer that does not start like a
call (`mode="auto"`). Schemas are normalised first (edgefabric.schema_normal), as declarations and
validation see them. What a GBNF grammar cannot enforce: numeric `minimum`/`maximum`/`multipleOf`,
`uniqueItems`, `not`, `if`/`then`/`else`, `patternProperties`, string `pattern`s (see `grammar_schema`),
exclusive `oneOf` (it is read as `anyOf`), and for FunctionGemma also `format`, an `allOf` that does not
merge into one object, and recursive `$ref`s (each admits any value there); validation checks those after
parsing. Strings without a `maxLength` are held to 64
characters, so an untuned model cannot run away inside one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Literal

from edgefabric.schema_normal import normalize_schema
from edgefabric.schemas import ToolSpec

GrammarMode = Literal["required", "auto"]
MAX_PARALLEL_CALLS = 4
MAX_STRING = 64


def literal(text: str) -> str:
    """A GBNF string literal."""
    return json.dumps(text, ensure_ascii=False)


def grammar_schema(schema: Any) -> Any:
    """`schema` as the JSON-Schema converter should see it: free strings held to MAX_STRING characters,
    string `pattern`s left to validation, and an empty `items` ({}: any item) left out.

    The converter reads `schema.get("items") or schema["prefixItems"]`, so `items: {}` (what a bare
    `list` hint in a tool module gives) raised KeyError; without it the array is of any items, the same.

    llama-cpp-python's converter (like llama.cpp's) writes a pattern's character classes between the
    quotes unescaped, so `^[^<]*$` admits `"` and the call stops being JSON
    (tests/runtime/test_grammar_both_ways.py shows it); without the pattern the string is a JSON string.
    """
    if isinstance(schema, list):
        return [grammar_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        key: grammar_schema(value) if key not in ("enum", "const", "default", "examples") else value
        for key, value in schema.items()
    }
    if out.get("items") == {}:
        del out["items"]
    kind = out.get("type")
    if kind == "string" or (isinstance(kind, list) and "string" in kind):
        out.pop("pattern", None)
        if "maxLength" not in out and "format" not in out and "enum" not in out and "const" not in out:
            out["maxLength"] = MAX_STRING
    return out


def root_rule(call: str, separator: str, answer: str, mode: GrammarMode, max_calls: int) -> str:
    """`root ::= ...` admitting 1..max_calls calls (joined by `separator`), or in auto mode an answer."""
    sep = f"{literal(separator)} " if separator else ""
    calls = f"{call} ( {sep}{call} ){{0,{max_calls - 1}}}"
    return f"root ::= {calls}" if mode == "required" else f"root ::= ( {calls} ) | {answer}"


def json_call_grammar(
    tools: Sequence[ToolSpec],
    *,
    head: Callable[[ToolSpec], str],
    tail: str,
    separator: str,
    answer: str,
    mode: GrammarMode,
    max_calls: int,
) -> str:
    """A call grammar for formats whose calls are `head(tool) + ARGUMENTS-JSON + tail`.

    The arguments' grammar is llama-cpp-python's JSON-Schema converter's (the port of llama.cpp's
    json-schema-to-grammar), fed the normalised schema.
    """
    from llama_cpp.llama_grammar import SchemaConverter

    converter = SchemaConverter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    alternatives = []
    for index, tool in enumerate(tools):
        parameters = grammar_schema(normalize_schema(tool.parameters))
        # A recursive schema keeps its definitions; the converter resolves its $refs against this root.
        schema = converter.resolve_refs(parameters, f"tool{index}")
        args = converter.visit(schema, f"tool{index}-args")
        alternatives.append(f"{literal(head(tool))} {args} {literal(tail)}")
    call_rules = f"tool-call ::= {' | '.join(alternatives)}"
    return (
        "\n".join(
            [
                root_rule("tool-call", separator, "answer", mode, max_calls),
                call_rules,
                f"answer ::= {answer}",
                converter.format_grammar(),
            ]
        )
        + "\n"
    )
