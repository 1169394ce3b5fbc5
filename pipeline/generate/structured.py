"""Structured teacher replies: find the JSON in a reply and validate it again.

Grammar-constrained decoding is not trusted: llama.cpp ignores numeric
minimum/maximum, hosted models ignore schemas they do not support, and replies
get truncated at max_tokens. So every reply is parsed and re-validated here with
jsonschema and then pydantic, and the problem is reported in words the teacher
can act on when it is asked again.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from edgefabric.errors import EdgeFabricError
from edgefabric.schemas import schema_errors

ModelT = TypeVar("ModelT", bound=BaseModel)
_DECODER = json.JSONDecoder()


class StructuredReplyError(EdgeFabricError):
    """The teacher's reply is not the JSON asked for, after every allowed try."""

    def __init__(self, problem: str, reply: str) -> None:
        self.reply = reply
        super().__init__(problem, "use a stronger teacher, raise teacher.max_tokens, or lower the temperature")


def extract_json(text: str) -> Any:
    """The first JSON object in `text` (models wrap JSON in prose or ``` fences)."""
    start = text.find("{")
    while start >= 0:
        try:
            value, _ = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        return value
    raise ValueError("the reply holds no complete JSON object" + (" (it looks cut off)" if "{" in text else ""))


def validate_reply(text: str, schema: dict[str, Any], model: type[ModelT]) -> ModelT:
    """Parse and check a reply; raises ValueError with a readable reason."""
    value = extract_json(text)
    first = next(schema_errors(schema, value), None)
    if first is not None:
        path, message = first
        raise ValueError(f"the JSON does not match the schema at {path or '(top level)'}: {message}")
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first_error = exc.errors()[0]
        where = ".".join(str(p) for p in first_error["loc"]) or "(top level)"
        raise ValueError(f"the JSON is invalid at {where}: {first_error['msg']}") from None


GRAMMAR_MAX_REPEAT = 1000  # llama.cpp refuses repetitions above 2000 and its server then crashes


def grammar_safe(schema: Any) -> Any:
    """A copy of `schema` that llama.cpp's JSON-Schema-to-grammar converter accepts.

    It rejects `prefixItems` (tuples), arrays without `items` and large `{m,n}`
    repetitions; the grammar only guides decoding, and replies are still validated
    against the full schema.
    """
    if isinstance(schema, list):
        return [grammar_safe(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "prefixItems":
            continue
        if (
            key in ("maxLength", "maxItems", "minLength", "minItems")
            and isinstance(value, int)
            and value > GRAMMAR_MAX_REPEAT
        ):
            continue
        out[key] = value if key in ("const", "enum", "default", "examples") else grammar_safe(value)
    if out.get("type") == "array" and not out.get("items"):
        out["items"] = {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}
    return out
