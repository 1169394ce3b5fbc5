"""Call grammars tested both ways (issue 14, items 4 and 5), over schemas with `$ref`, `oneOf` and odd names.

1. Valid arguments (generated from the schema by hypothesis-jsonschema), written by the format's own
   writer, are accepted by llama.cpp's grammar sampler, token by token, and the grammar may end there.
2. Every call a real small model writes under the grammar parses and passes its schema.
"""

from __future__ import annotations

import ctypes
import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from edgefabric.runtime.formats.registry import get_format
from edgefabric.runtime.grammar import call_grammar
from edgefabric.schema_normal import normalize_schema
from edgefabric.schemas import Message, ToolCall, ToolSpec

# No keyword a grammar cannot enforce (numeric bounds, patterns), so every call a model writes under the
# grammar must pass.
TEXT = {"type": "string", "maxLength": 20}
TOOLS = [
    ToolSpec(
        name="list_pages",
        parameters={
            "type": "object",
            "properties": {"page size": {"type": "integer"}, "sort-by": {"enum": ["name", "date"]}, "q": TEXT},
            "required": ["page size"],
        },
    ),
    ToolSpec(
        name="book",
        parameters={
            "type": "object",
            "$defs": {
                "Guest": {
                    "type": "object",
                    "properties": {"name": TEXT, "vip": {"type": "boolean"}},
                    "required": ["name"],
                },
                "Meal": {"type": "string", "enum": ["lunch", "dinner"]},
            },
            "properties": {
                "guest": {"$ref": "#/$defs/Guest"},
                "meal": {"$ref": "#/$defs/Meal"},
                "size": {"type": "integer", "nullable": True},
            },
            "required": ["guest", "meal"],
        },
    ),
    ToolSpec(
        name="lookup",
        parameters={
            "type": "object",
            "oneOf": [
                {"properties": {"email": TEXT}, "required": ["email"], "additionalProperties": False},
                {"properties": {"phone": TEXT, "country": {"type": "integer"}}, "required": ["phone"]},
            ],
        },
    ),
    ToolSpec(
        name="find",
        parameters={
            "type": "object",
            "properties": {"email": TEXT, "phone": TEXT},
            "anyOf": [{"required": ["email"]}, {"required": ["phone"]}],
            "additionalProperties": False,
        },
    ),
    ToolSpec(
        name="tag",
        parameters={
            "type": "object",
            "allOf": [
                {"properties": {"id": {"type": "integer"}}, "required": ["id"]},
                {"properties": {"labels": {"type": "array", "items": TEXT, "maxItems": 3}}},
            ],
            "properties": {"kind": {"const": "note"}, "weight": {"type": "number"}},
            "required": ["kind"],
        },
    ),
]
FAMILIES = ["functiongemma", "qwen3"]


@cache
def _vocab_model() -> Any:
    """A real vocabulary for llama.cpp's grammar sampler (the embedded SmolLM2 GGUF, vocabulary only)."""
    from llama_cpp import Llama

    from edgefabric.runtime.models import resolve_gguf

    return Llama(str(resolve_gguf("embedded:smollm2-135m")), vocab_only=True, verbose=False)


def grammar_accepts(grammar: str, text: str) -> bool:
    """Whether llama.cpp's grammar sampler lets `text` through, token by token, and then lets it end."""
    import llama_cpp

    llm = _vocab_model()
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
    assert sampler, "the grammar did not compile"
    try:
        tokens = llm.tokenize(text.encode(), add_bos=False, special=False)
        for token in [*tokens, llama_cpp.llama_vocab_eos(vocab)]:
            data = (llama_cpp.llama_token_data * 1)(llama_cpp.llama_token_data(token, 0.0, 0.0))
            array = llama_cpp.llama_token_data_array(data, 1, -1, False)
            llama_cpp.llama_sampler_apply(sampler, ctypes.byref(array))
            if math.isinf(data[0].logit):
                return False
            if token != llama_cpp.llama_vocab_eos(vocab):
                llama_cpp.llama_sampler_accept(sampler, token)
        return True
    finally:
        llama_cpp.llama_sampler_free(sampler)


def test_llama_cpp_pythons_converter_lets_a_quote_into_a_pattern_string() -> None:
    """Why call grammars leave string patterns to validation (gbnf.grammar_schema): the converter writes
    the pattern's class between the quotes unescaped, so the string can close early and JSON breaks."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    pattern = {"type": "object", "properties": {"q": {"type": "string", "pattern": "^[^<]*$"}}, "required": ["q"]}
    assert grammar_accepts(json_schema_to_gbnf(json.dumps(pattern)), '{"q": "a", "b": 1"}')
    tool = ToolSpec(name="search", parameters=pattern)
    call = '<tool_call>\n{"name": "search", "arguments": {"q": "a", "b": 1"}}\n</tool_call>'
    assert not grammar_accepts(call_grammar("qwen3", [tool]), call)


def test_the_checker_rejects_what_the_grammar_does_not_admit() -> None:
    grammar = call_grammar("functiongemma", TOOLS[:1])
    good = get_format("functiongemma").render_call(ToolCall(name="list_pages", arguments={"page size": 3}))
    assert grammar_accepts(grammar, good)
    assert not grammar_accepts(grammar, good.replace("<escape>page size<escape>:", "page size:"))  # item 4
    assert not grammar_accepts(grammar, good[:-5])  # a call cut short may not end


def instances(schema: Any) -> st.SearchStrategy[Any]:
    """Valid instances of a normalised schema: hypothesis-jsonschema for leaves, objects assembled here.

    Keys come in the order both grammars write them (the schema's, required ones first, as llama.cpp's
    json-schema-to-grammar does): a grammar admits one order, which is what a model is trained to write.

    hypothesis-jsonschema 0.23.1 (its latest) draws objects through a hypothesis internal that hypothesis
    6.170 removed (`many.more`), so objects and alternatives are put together here from its leaf values.
    """
    from hypothesis_jsonschema import from_schema

    if isinstance(schema, dict) and isinstance(schema.get("oneOf") or schema.get("anyOf"), list):
        return st.one_of([instances(alt) for alt in schema.get("oneOf") or schema.get("anyOf")])
    if isinstance(schema, dict) and (schema.get("type") == "object" or "properties" in schema):
        properties = schema.get("properties") or {}
        required = [k for k in properties if k in set(schema.get("required") or [])]
        optional = [k for k in properties if k not in required]
        return st.tuples(
            st.fixed_dictionaries({k: instances(properties[k]) for k in required}),
            st.fixed_dictionaries({}, optional={k: instances(properties[k]) for k in optional}),
        ).map(lambda pair: {k: {**pair[0], **pair[1]}[k] for k in required + optional if k in {**pair[0], **pair[1]}})
    return from_schema(schema)


def _short_numbers(schema: Any) -> Any:
    """Generation only: strings and numbers both grammars write in full (llama-cpp-python's converter
    stops at 16 digits)."""
    if isinstance(schema, list):
        return [_short_numbers(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _short_numbers(v) if k not in ("enum", "const") else v for k, v in schema.items()}
    if out.get("type") == "string":
        # No '<' (the FunctionGemma grammar leaves it out of strings) and no NUL (no llama.cpp grammar can
        # write one: grammars are C strings).
        out["pattern"] = "^[^<\\x00]*$"
    if out.get("type") in ("integer", "number") or (isinstance(out.get("type"), list) and "integer" in out["type"]):
        out.update(minimum=-(10**12), maximum=10**12)
        if out.get("type") == "number":
            out["multipleOf"] = 0.25
    return out


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("tool", TOOLS, ids=[t.name for t in TOOLS])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_valid_arguments_written_by_the_format_pass_its_grammar(family: str, tool: ToolSpec, data: Any) -> None:
    arguments = data.draw(instances(_short_numbers(normalize_schema(tool.parameters))))
    assert tool.argument_errors(arguments) == [], arguments
    fmt = get_format(family)
    text = fmt.render_assistant(Message(role="assistant", tool_calls=[ToolCall(name=tool.name, arguments=arguments)]))
    model = _vocab_model()  # a few unassigned code points do not survive the vocabulary itself
    assume(model.detokenize(model.tokenize(text.encode(), add_bos=False, special=False)) == text.encode())
    assert grammar_accepts(call_grammar(family, [tool]), text), text


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_every_call_a_real_model_writes_under_the_grammar_parses_and_passes(
    family: str, smollm: Any, embedded_gemma_gguf: Path
) -> None:
    from edgefabric.runtime.agent import Agent
    from edgefabric.runtime.backends import load_backend

    backend = smollm if family == "qwen3" else load_backend(str(embedded_gemma_gguf), backend="llama.cpp")
    try:
        for tool in TOOLS:
            for ask in ("Please do it.", f"Use {tool.name} for the Smith family, 4 people, on Friday."):
                agent = Agent(backend, family, [tool], max_steps=1, max_tokens=160, constrain="required", max_calls=1)
                result = agent.run([Message(role="user", content=ask)])
                assert [f.kind for f in result.failures if f.kind == "parse"] == [], result.raw_output
                assert len(result.calls) == 1, result.raw_output
                assert tool.argument_errors(result.calls[0].arguments) == [], result.raw_output
    finally:
        if backend is not smollm:
            backend.close()
