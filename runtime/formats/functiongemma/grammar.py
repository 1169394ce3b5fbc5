"""FunctionGemma's call grammar, built from the format's own writers (render.py).

Keys are written by `render.write_key` (so `page size` is `<escape>page size<escape>:`, as the parser
expects), fixed values (`enum`, `const`) by `render.write_value`, and strings are `<escape>`-quoted.
Every call the grammar admits parses with `parse.parse` and passes the schema's constraints that
GBNF can express (see gbnf.py for the rest). No library writes grammars for this notation, hence by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edgefabric.runtime.formats.functiongemma.render import write_key, write_value
from edgefabric.runtime.formats.functiongemma.tokens import CALL_END, CALL_START
from edgefabric.runtime.formats.gbnf import MAX_STRING, GrammarMode, literal, root_rule
from edgefabric.schema_normal import normalize_schema
from edgefabric.schemas import ToolSpec

# Strings hold no '<' (the writer escapes only a literal <escape>; leaving '<' out keeps the grammar regular).
_PRIMITIVES = {
    "string": f'"<escape>" [^<]{{0,{MAX_STRING}}} "<escape>"',
    # Up to 17 significant digits and an exponent: every float Python's repr writes, and int64's range.
    "integer": '"-"? [0-9]{1,19}',
    "number": '"-"? [0-9]{1,19} ("." [0-9]{1,17})? ([eE] [-+]? [0-9]{1,3})?',
    "boolean": '"true" | "false"',
    "null": '"null"',
    "bare-key": "[A-Za-z_] [A-Za-z0-9_.-]*",
    "any-key": "bare-key | string",
    "value": "string | number | boolean | null | any-array | any-object",
    "any-array": '"[" ( value ( "," value )* )? "]"',
    "any-object": '"{" ( any-key ":" value ( "," any-key ":" value )* )? "}"',
}


class _Builder:
    def __init__(self) -> None:
        self.rules: dict[str, str] = dict(_PRIMITIVES)

    def _new(self, hint: str, body: str) -> str:
        base = "".join(c if c.isascii() and c.isalnum() else "-" for c in hint.lower()).strip("-") or "r"
        name, n = base, 1
        while name in self.rules and self.rules[name] != body:
            n += 1
            name = f"{base}-{n}"
        self.rules[name] = body
        return name

    def value(self, schema: Any, hint: str) -> str:
        """A rule name matching FunctionGemma-written values of a normalised `schema`."""
        if not isinstance(schema, dict) or not schema:
            return "value"
        if "enum" in schema:
            return self._new(hint + "-enum", " | ".join(literal(write_value(v)) for v in schema["enum"]))
        if "const" in schema:
            return self._new(hint + "-const", literal(write_value(schema["const"])))
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list):
                options = [self.value(s, f"{hint}-{i}") for i, s in enumerate(schema[key])]
                return self._new(hint + "-alt", " | ".join(options))
        if "$ref" in schema or "allOf" in schema:
            return "value"  # a recursive reference, or an allOf that does not merge: checked after parsing
        kind = schema.get("type")
        if isinstance(kind, list):
            options = [self.value({**schema, "type": k}, f"{hint}-{k}") for k in kind]
            return self._new(hint + "-alt", " | ".join(options))
        if kind == "string" and ("minLength" in schema or "maxLength" in schema):
            low, high = int(schema.get("minLength", 0)), int(schema.get("maxLength", MAX_STRING))
            return self._new(f"string-{low}-{high}", f'"<escape>" [^<]{{{low},{max(low, high)}}} "<escape>"')
        if kind in ("string", "integer", "number", "boolean", "null"):
            return str(kind)
        if kind == "array":
            item = self.value(schema.get("items"), hint + "-item")
            return self._new(hint + "-array", f'"[" ( {item} ( "," {item} )* )? "]"')
        if kind == "object" or "properties" in schema:
            return self.obj(schema, hint)
        return "value"

    def obj(self, schema: dict[str, Any], hint: str) -> str:
        properties: dict[str, Any] = schema.get("properties") or {}
        if not properties:
            return "any-object" if schema.get("additionalProperties", True) is not False else self._new("empty", '"{}"')
        required = [k for k in properties if k in set(schema.get("required") or [])]
        optional = [k for k in properties if k not in required]
        pairs = {k: f"{literal(write_key(k) + ':')} {self.value(properties[k], f'{hint}-{k}')}" for k in properties}

        def chain(keys: Sequence[str]) -> str:
            return " ".join(f'( "," {pairs[k]} )?' for k in keys)

        if required:
            body = ' "," '.join(pairs[k] for k in required) + " " + chain(optional)
        else:
            alternatives = [f"{pairs[k]} {chain(optional[i + 1 :])}" for i, k in enumerate(optional)]
            body = "( " + " | ".join(f"( {a} )" for a in alternatives) + " )?"
        return self._new(hint + "-args", f'"{{" {body.strip()} "}}"')


def call_grammar(tools: Sequence[ToolSpec], *, mode: GrammarMode, max_calls: int) -> str:
    """`<start_function_call>call:NAME{...}<end_function_call>`, 1..max_calls times (or an answer)."""
    builder = _Builder()
    calls = []
    for tool in tools:
        args = builder.value(normalize_schema(tool.parameters), tool.name)
        head = literal(f"{CALL_START}call:{tool.name}")
        calls.append(builder._new(tool.name + "-call", f"{head} {args} {literal(CALL_END)}"))
    builder.rules["tool-call"] = " | ".join(calls)
    builder.rules["answer"] = "[^<] [^<]*"
    lines = [root_rule("tool-call", "", "answer", mode, max_calls)]
    lines += [f"{name} ::= {body}" for name, body in builder.rules.items()]
    return "\n".join(lines) + "\n"
