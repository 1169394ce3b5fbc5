"""GBNF grammars (llama.cpp) that only admit well-formed tool calls for the tools on offer.

Built from the tools' JSON Schemas in the syntax of the model's chat format: JSON
inside `<tool_call>` tags for Qwen3/Hermes, FunctionGemma's `call:NAME{key:value}`
notation with `<escape>`-quoted strings. Constrained decoding then makes even an
untuned model produce a call that parses and passes its schema (numeric bounds and
string patterns are not enforced: llama.cpp grammars cannot express them). Strings are
1-64 characters, so an untuned model cannot run away inside one.

`mode="required"` admits only calls; `mode="auto"` admits calls or a plain answer
that does not start like a call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from edgefabric.errors import EdgeFabricError
from edgefabric.schemas import ToolSpec

GrammarMode = Literal["required", "auto"]
MAX_PARALLEL_CALLS = 4


def _lit(text: str) -> str:
    """A GBNF string literal."""
    return json.dumps(text, ensure_ascii=False)


class _Builder:
    def __init__(self, syntax: str) -> None:
        self.syntax = syntax  # "json" or "functiongemma"
        self.rules: dict[str, str] = {}
        json_rules = {
            "ws": "[ ]?",
            "jstring": r'"\"" ( [^"\\\x00-\x1f] | "\\" ["\\/bfnrt] ){1,64} "\""',
            "integer": '"-"? [0-9]{1,15}',
            "number": '"-"? [0-9]{1,15} ("." [0-9]{1,10})? ([eE] [-+]? [0-9]{1,3})?',
            "boolean": '"true" | "false"',
            "null": '"null"',
        }
        self.rules.update(json_rules)
        if syntax == "json":
            self.rules["string"] = "jstring"
            self.rules["value"] = "jstring | number | boolean | null | anyarray | anyobject"
            self.rules["anyarray"] = '"[" ws ( value ( "," ws value )* )? ws "]"'
            self.rules["anyobject"] = '"{" ws ( jstring ":" ws value ( "," ws jstring ":" ws value )* )? ws "}"'
        else:
            # Strings sit between <escape> tokens; a '<' inside is not allowed (keeps the grammar regular).
            self.rules["string"] = '"<escape>" [^<]{1,64} "<escape>"'
            self.rules["bkey"] = "[A-Za-z_] [A-Za-z0-9_]*"
            self.rules["value"] = "string | number | boolean | null | anyarray | anyobject"
            self.rules["anyarray"] = '"[" ( value ( "," value )* )? "]"'
            self.rules["anyobject"] = '"{" ( bkey ":" value ( "," bkey ":" value )* )? "}"'

    def _new(self, hint: str, body: str) -> str:
        base = "".join(c if c.isalnum() else "-" for c in hint.lower()).strip("-") or "r"
        name, n = base, 1
        while name in self.rules and self.rules[name] != body:
            n += 1
            name = f"{base}-{n}"
        self.rules[name] = body
        return name

    def _literal_value(self, value: Any) -> str:
        if self.syntax == "json":
            return _lit(json.dumps(value, ensure_ascii=False))
        if isinstance(value, str):
            return _lit(f"<escape>{value}<escape>")
        if isinstance(value, bool):
            return _lit("true" if value else "false")
        if value is None:
            return _lit("null")
        return _lit(json.dumps(value))

    def value(self, schema: Any, hint: str) -> str:
        """A rule name matching values of `schema`."""
        if not isinstance(schema, dict) or not schema:
            return "value"
        if "enum" in schema:
            return self._new(hint + "-enum", " | ".join(self._literal_value(v) for v in schema["enum"]))
        if "const" in schema:
            return self._new(hint + "-const", self._literal_value(schema["const"]))
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list):
                options = [self.value(s, f"{hint}-{i}") for i, s in enumerate(schema[key])]
                return self._new(hint + "-alt", " | ".join(options))
        kind = schema.get("type")
        if isinstance(kind, list):
            options = [self.value({**schema, "type": k}, f"{hint}-{k}") for k in kind]
            return self._new(hint + "-alt", " | ".join(options))
        if kind == "string":
            return "string"
        if kind == "integer":
            return "integer"
        if kind == "number":
            return "number"
        if kind == "boolean":
            return "boolean"
        if kind == "null":
            return "null"
        if kind == "array":
            item = self.value(schema.get("items"), hint + "-item")
            sep = '"," ws' if self.syntax == "json" else '","'
            return self._new(hint + "-array", f'"[" ( {item} ( {sep} {item} )* )? "]"')
        if kind == "object" or "properties" in schema:
            return self.obj(schema, hint)
        return "value"

    def _pair(self, key: str, schema: Any, hint: str) -> str:
        value = self.value(schema, f"{hint}-{key}")
        if self.syntax == "json":
            return f'{_lit(json.dumps(key))} ":" ws {value}'
        return f"{_lit(key + ':')} {value}"

    def obj(self, schema: dict[str, Any], hint: str) -> str:
        properties: dict[str, Any] = schema.get("properties") or {}
        if not properties:
            return "anyobject"
        required = [k for k in properties if k in set(schema.get("required") or [])]
        optional = [k for k in properties if k not in required]
        sep = '"," ws' if self.syntax == "json" else '","'
        pairs = {k: self._pair(k, properties[k], hint) for k in properties}

        def chain(keys: Sequence[str]) -> str:
            return " ".join(f"( {sep} {pairs[k]} )?" for k in keys)

        if required:
            body = f" {sep} ".join(pairs[k] for k in required) + " " + chain(optional)
        else:
            alternatives = [f"{pairs[k]} {chain(optional[i + 1 :])}" for i, k in enumerate(optional)]
            body = "( " + " | ".join(f"( {a} )" for a in alternatives) + " )?"
        return self._new(hint + "-args", f'"{{" {body.strip()} "}}"')

    def render(self, root: str) -> str:
        lines = [f"root ::= {root}"] + [f"{name} ::= {body}" for name, body in self.rules.items()]
        return "\n".join(lines) + "\n"


def call_grammar(
    family: str, tools: Sequence[ToolSpec], *, mode: GrammarMode = "required", max_calls: int = MAX_PARALLEL_CALLS
) -> str:
    """A GBNF grammar admitting 1..max_calls calls of `tools` (or, in auto mode, plain text)."""
    if not tools:
        raise EdgeFabricError("constrained decoding needs at least one tool", "pass --tools, or turn it off")
    if family in ("qwen3", "hermes"):
        builder = _Builder("json")
        calls = []
        for tool in tools:
            args = builder.obj(tool.parameters, tool.name) if tool.parameters.get("properties") else '"{}"'
            head = _lit('<tool_call>\n{"name": ' + json.dumps(tool.name) + ', "arguments": ')
            calls.append(builder._new(tool.name + "-call", f"{head} {args} {_lit('}' + chr(10) + '</tool_call>')}"))
        call = builder._new("call", " | ".join(calls))
        calls_rule = builder._new("calls", f'{call} ( "\\n" {call} ){{0,{max_calls - 1}}}')
        answer = builder._new("answer", "[^<\\n] [^<]*")
    elif family == "functiongemma":
        builder = _Builder("functiongemma")
        calls = []
        for tool in tools:
            args = builder.obj(tool.parameters, tool.name) if tool.parameters.get("properties") else '"{}"'
            head = _lit(f"<start_function_call>call:{tool.name}")
            calls.append(builder._new(tool.name + "-call", f'{head} {args} "<end_function_call>"'))
        call = builder._new("call", " | ".join(calls))
        calls_rule = builder._new("calls", f"{call}{{1,{max_calls}}}")
        answer = builder._new("answer", "[^<] [^<]*")
    else:
        raise EdgeFabricError(f"no call grammar for chat format {family!r}", "use functiongemma or qwen3")
    root = calls_rule if mode == "required" else f"{calls_rule} | {answer}"
    return builder.render(root)
