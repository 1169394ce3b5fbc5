"""The canonical data model shared by every stage.

A dataset is a JSONL file of `Sample` records. On disk, tool-call arguments and
the tool list are JSON strings: Arrow (and so `datasets.load_dataset("json")`)
needs one column type per field, and argument objects differ from tool to tool.
In Python they are plain dicts; `Sample.to_record()` and `Sample.from_record()`
convert between the two.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import jsonschema
import referencing
import referencing.exceptions
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edgefabric.schema_normal import normalize_schema

SCHEMA_VERSION = 1
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$"

Role = Literal["system", "developer", "user", "assistant", "tool"]
SampleKind = Literal["single", "parallel", "multi_step", "no_call", "error_recovery"]
VerificationStage = Literal["format", "execution", "grounding", "cycle", "semantic"]


# An empty registry that retrieves nothing: jsonschema's default one fetches any http(s) `$ref`
# (deprecated, no timeout), which would let a request's schema make the process fetch URLs.
_NO_RETRIEVAL: referencing.Registry[Any] = referencing.Registry()


def schema_validator(schema: Any) -> jsonschema.protocols.Validator:
    """The validator for `schema` (its `$schema` draft, 2020-12 by default) that never retrieves.

    Every JSON Schema validation in EdgeFabric goes through here: `$ref`s resolve only inside
    the schema itself, and a reference to anything else is an error, never a fetch.
    """
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, registry=_NO_RETRIEVAL)


def schema_errors(schema: Any, value: Any) -> Iterator[tuple[str, str]]:
    """Each way `value` breaks `schema` as (dotted path, message), sorted by path; never fetches.

    A `$ref` that does not resolve inside the schema is reported as an error at the top level.
    """
    try:
        errors = sorted(schema_validator(schema).iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])
    except (referencing.exceptions.Unresolvable, jsonschema.exceptions.SchemaError) as exc:
        yield "", f"the schema cannot be used: {_short(exc)}"
        return
    for error in errors:
        yield ".".join(str(p) for p in error.absolute_path), error.message


def _short(exc: Exception, limit: int = 200) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return text if len(text) <= limit else text[:limit] + "..."


def _remote_refs(schema: Any) -> Iterator[str]:
    """The `$ref`/`$dynamicRef` values in `schema` that name another document (a URL or a file)."""
    if isinstance(schema, dict):
        for key, item in schema.items():
            if key in ("$ref", "$dynamicRef") and isinstance(item, str):
                if urlsplit(item).scheme or not item.startswith("#"):
                    yield item
            else:
                yield from _remote_refs(item)
    elif isinstance(schema, list):
        for item in schema:
            yield from _remote_refs(item)


def _check_json_value(value: Any, where: str) -> None:
    """Reject what JSON cannot carry (NaN, infinities, non-string keys, other types)."""
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value!r} is not a JSON number")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_value(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: key {key!r} is not a string")
            _check_json_value(item, f"{where}.{key}")
        return
    raise ValueError(f"{where}: {type(value).__name__} is not a JSON type")


class ToolSpec(BaseModel):
    """One function tool, as in OpenAI's `tools` list (JSON Schema parameters)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})

    @model_validator(mode="before")
    @classmethod
    def _unwrap_openai(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("type") == "function" and "function" in data:
            return data["function"]
        return data

    @field_validator("parameters")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type", "object") != "object":
            raise ValueError("parameters must be a JSON Schema of type 'object'")
        try:
            jsonschema.Draft202012Validator.check_schema(value)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"parameters is not a valid JSON Schema: {_short(exc)}") from None
        remote = next(_remote_refs(value), None)
        if remote is not None:
            raise ValueError(f"parameters may only use local $refs ('#/...'), not {remote[:100]!r}")
        return value

    def to_openai(self) -> dict[str, Any]:
        function: dict[str, Any] = {"name": self.name, "description": self.description}
        function["parameters"] = self.parameters
        return {"type": "function", "function": function}

    def argument_errors(self, arguments: dict[str, Any]) -> list[str]:
        """Every way `arguments` breaks this tool's schema, one readable line each.

        Checked against the normalised schema (edgefabric.schema_normal), the one grammars and
        declarations use, so OpenAPI's `nullable` admits null here as it does there.
        """
        try:
            schema = normalize_schema(self.parameters)
        except ValueError as exc:
            return [f"{self.name}: the schema cannot be used: {exc}"]
        return [
            f"{self.name}.{path}: {message}" if path else f"{self.name}: {message}"
            for path, message in schema_errors(schema, arguments)
        ]


class ToolCall(BaseModel):
    """A call of one tool with its arguments (a JSON object)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    arguments: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _unwrap_openai(cls, data: Any) -> Any:
        if isinstance(data, dict) and "function" in data:
            function = data["function"]
            if not isinstance(function, dict):
                raise ValueError(f"function must be an object with name and arguments, not {type(function).__name__}")
            data = {"name": function.get("name"), "arguments": function.get("arguments"), "id": data.get("id")}
        if isinstance(data, dict) and isinstance(data.get("arguments"), str):
            try:
                data = {**data, "arguments": json.loads(data["arguments"])}
            except json.JSONDecodeError as exc:
                raise ValueError(f"arguments is not valid JSON: {exc.msg}") from None
        if isinstance(data, dict) and data.get("arguments") is None:
            data = {**data, "arguments": {}}
        return data

    @field_validator("arguments")
    @classmethod
    def _json_only(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_json_value(value, "arguments")
        return value

    def to_openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": json.dumps(self.arguments, ensure_ascii=False)},
        }


class Message(BaseModel):
    """One chat turn. `tool_calls` only on assistant turns; `tool_call_id`/`name` only on tool turns."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    reasoning: str | None = None

    @field_validator("tool_calls", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @model_validator(mode="after")
    def _role_fields(self) -> Message:
        if self.tool_calls and self.role != "assistant":
            raise ValueError(f"only assistant messages carry tool_calls, not {self.role}")
        if self.role == "tool":
            if self.content is None:
                raise ValueError("a tool message needs content (the tool's result or error)")
            if not self.name:
                raise ValueError(
                    "a tool message needs name (the tool that produced it), or a tool_call_id matching a call "
                    "of the assistant message before it"
                )
        elif self.tool_call_id or self.name:
            raise ValueError(f"tool_call_id and name belong to tool messages, not {self.role}")
        if self.role == "assistant" and self.content is None and not self.tool_calls:
            raise ValueError("an assistant message needs content or tool_calls")
        if self.role in ("system", "developer", "user") and self.content is None:
            raise ValueError(f"a {self.role} message needs content")
        return self

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI/TRL message dict; every key is present so Arrow sees one struct type."""
        return {
            "role": self.role,
            "content": self.content,
            "tool_calls": [call.to_openai() for call in self.tool_calls] or None,
            "tool_call_id": self.tool_call_id,
            "name": self.name,
            "reasoning": self.reasoning,
        }


def content_text(content: Any) -> str | None:
    """Message content as text: a string as is, a list of parts as its text parts joined with newlines.

    The join is llama.cpp's (common/chat.cpp `concat_content_parts`): a newline goes between text parts once
    some text has been written; parts of other types are skipped. Raises ValueError for anything else.
    """
    if content is None or isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ValueError(f"content must be a string or a list of parts, not {type(content).__name__}")
    text = ""
    for part in content:
        if not isinstance(part, dict):
            raise ValueError(f"a content part must be an object, not {type(part).__name__}")
        if part.get("type", "text") != "text":
            continue
        piece = part.get("text", "")
        if not isinstance(piece, str):
            raise ValueError(f"a text part's text must be a string, not {type(piece).__name__}")
        text = f"{text}\n{piece}" if text else piece
    return text


def messages_from_openai(raw: Any) -> list[Message]:
    """Messages from OpenAI's wire form, as clients send them; raises ValueError naming the bad message.

    Accepted beyond `Message`'s own fields: `content` as a list of parts (see `content_text`), tool-call
    `arguments` as a JSON string, `reasoning_content` (llama.cpp's name for reasoning), and a tool message
    without `name`: it takes the name of the call in the latest assistant message whose `id` is its
    `tool_call_id`, else of the call at its position among that message's results. Other keys are ignored.
    The exported chat templates resolve names the same way (runtime/formats/<family>/template.jinja).
    """
    if not isinstance(raw, list):
        raise ValueError(f"messages must be a list, not {type(raw).__name__}")
    out: list[Message] = []
    calls: list[ToolCall] = []
    results = 0
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ValueError(f"messages[{index}] must be an object")
        data = {k: v for k, v in item.items() if k in Message.model_fields}
        data["content"] = content_text(item.get("content"))
        if item.get("reasoning_content") and not item.get("reasoning"):
            data["reasoning"] = item["reasoning_content"]
        if item.get("role") == "tool":
            if not data.get("name"):
                by_id = [c for c in calls if item.get("tool_call_id") and c.id == item.get("tool_call_id")]
                if by_id:
                    data["name"] = by_id[0].name
                elif results < len(calls):
                    data["name"] = calls[results].name
            results += 1
        message = Message.model_validate(data)
        if message.role == "assistant":
            calls, results = list(message.tool_calls), 0
        out.append(message)
    return out


class Verification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: VerificationStage
    passed: bool
    detail: str = ""


class Provenance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    teacher: str | None = None
    generator: str = "edgefabric"
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    tool_set: str | None = None
    seed: int | None = None


class SampleMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: SampleKind | None = None
    provenance: Provenance = Field(default_factory=Provenance)
    verification: list[Verification] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("extra", mode="before")
    @classmethod
    def _from_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class Sample(BaseModel):
    """One training/eval conversation with the tools it may use."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    messages: list[Message] = Field(min_length=1)
    tools: list[ToolSpec] = Field(default_factory=list)
    topic_path: list[str] = Field(default_factory=list)
    metadata: SampleMetadata = Field(default_factory=SampleMetadata)

    @field_validator("tools", mode="before")
    @classmethod
    def _tools_from_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value > SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {value} is newer than this EdgeFabric understands ({SCHEMA_VERSION}); "
                "upgrade edgefabric"
            )
        return value

    @model_validator(mode="after")
    def _calls_name_known_tools(self) -> Sample:
        known = {tool.name for tool in self.tools}
        for message in self.messages:
            for call in message.tool_calls:
                if call.name not in known:
                    raise ValueError(
                        f"assistant calls '{call.name}', which is not in this sample's tools "
                        f"({', '.join(sorted(known)) or 'none'})"
                    )
        return self

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [call for message in self.messages for call in message.tool_calls]

    def to_record(self) -> dict[str, Any]:
        """The JSONL record: OpenAI-style messages, tools as a JSON string (see module doc)."""
        metadata = self.metadata.model_dump(mode="json")
        metadata["extra"] = json.dumps(self.metadata.extra, ensure_ascii=False, sort_keys=True)
        return {
            "schema_version": self.schema_version,
            "id": self.id,
            "messages": [message.to_openai() for message in self.messages],
            "tools": json.dumps([tool.to_openai() for tool in self.tools], ensure_ascii=False),
            "topic_path": self.topic_path,
            "metadata": metadata,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Sample:
        return cls.model_validate(record)
