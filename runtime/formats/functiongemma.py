"""FunctionGemma's prompt format (Gemma 3 turns plus function-calling control tokens).

    <bos><start_of_turn>developer
    You are a model that can do function calling with the following functions<start_function_declaration>declaration:NAME{description:<escape>...<escape>,parameters:{properties:{...},required:[...],type:<escape>OBJECT<escape>}}<end_function_declaration><end_of_turn>
    <start_of_turn>user
    ...<end_of_turn>
    <start_of_turn>model
    <start_function_call>call:NAME{arg:<escape>text<escape>,n:3}<end_function_call><start_function_response>response:NAME{...}<end_function_response>final answer<end_of_turn>

Keys are bare, strings sit between `<escape>` tokens, schema type names are
upper-case, declaration keys are sorted. Calls, results and the final answer
share one model turn; `<start_function_response>` is a stop sequence, since the
host, not the model, writes results.

Two things the format leaves open, decided here so that render -> parse is exact:
- a literal `<escape>` inside a string is written `<\\escape>` (and a literal
  `<\\...\\escape>` gains one more backslash); nothing else in a string changes;
- a key that is not a plain identifier is itself wrapped in `<escape>`;
- a tool result is written as its text, `{value:<escape>TEXT<escape>}`, JSON or not (see
  `render_response`).

The exported chat template (functiongemma.jinja) renders the same text from OpenAI wire messages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from importlib.resources import files
from typing import Any

from pydantic import ValidationError

from edgefabric.runtime.formats.base import ParseError, ParseResult, Segment
from edgefabric.runtime.formats.gbnf import GrammarMode
from edgefabric.schema_normal import SUBSCHEMA_LISTS, SUBSCHEMA_MAPS, SUBSCHEMAS, normalize_schema
from edgefabric.schemas import Message, ToolCall, ToolSpec

name = "functiongemma"

BOS = "<bos>"
START_TURN = "<start_of_turn>"
END_TURN = "<end_of_turn>"
DECLARATION_START = "<start_function_declaration>"
DECLARATION_END = "<end_function_declaration>"
CALL_START = "<start_function_call>"
CALL_END = "<end_function_call>"
RESPONSE_START = "<start_function_response>"
RESPONSE_END = "<end_function_response>"
ESCAPE = "<escape>"
EOS = "<eos>"
bos_token = BOS
eos_token = EOS
DEFAULT_DEVELOPER_PROMPT = "You are a model that can do function calling with the following functions"

special_tokens: tuple[str, ...] = (
    DECLARATION_START,
    DECLARATION_END,
    CALL_START,
    CALL_END,
    RESPONSE_START,
    RESPONSE_END,
    ESCAPE,
)
stop_sequences: tuple[str, ...] = (END_TURN, RESPONSE_START, EOS)
# The stops that end a turn normally; RESPONSE_START without a call means the model began writing a
# tool's response itself (stop_reason "stop_sequence").
turn_end_sequences: tuple[str, ...] = (END_TURN, EOS)

_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_LITERAL_ESCAPE = re.compile(r"<(\\*)escape>")
_ENCODED_ESCAPE = re.compile(r"<\\(\\*)escape>")
_MAX_DEPTH = 64
# Schema keys that only cost tokens: pydantic adds a title to every property.
_DROPPED_SCHEMA_KEYS = frozenset({"title", "$schema"})


# ---------------------------------------------------------------- rendering


def _string(text: str) -> str:
    return ESCAPE + _LITERAL_ESCAPE.sub(lambda m: "<\\" + m.group(1) + "escape>", text) + ESCAPE


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be written in FunctionGemma format")
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_key(k)}:{_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _schema(schema: Any) -> str:
    """A normalised JSON Schema node: keys sorted, type names upper-case, sub-schemas recursed."""
    if not isinstance(schema, dict):
        return _value(schema)
    parts = []
    for key in sorted(schema):
        if key in _DROPPED_SCHEMA_KEYS:
            continue
        item = schema[key]
        if key == "type":
            text = _value([t.upper() for t in item] if isinstance(item, list) else str(item).upper())
        elif key in SUBSCHEMA_MAPS and isinstance(item, dict):
            text = "{" + ",".join(f"{_key(p)}:{_schema(item[p])}" for p in sorted(item)) + "}"
        elif key in SUBSCHEMAS and isinstance(item, dict):
            text = _schema(item)
        elif key in SUBSCHEMA_LISTS and isinstance(item, list):
            text = "[" + ",".join(_schema(s) for s in item) + "]"
        else:
            text = _value(item)
        parts.append(f"{_key(key)}:{text}")
    return "{" + ",".join(parts) + "}"


def render_declaration(tool: ToolSpec) -> str:
    """`<start_function_declaration>declaration:NAME{description:...,parameters:{...}}<end_function_declaration>`.

    The parameters are normalised first (edgefabric.schema_normal: local `$ref`s inlined, `nullable` as a
    `"null"` type), as the exported template does; `allOf` is shown as written.
    """
    fields = []
    if tool.description:
        fields.append(f"description:{_string(tool.description)}")
    parameters = normalize_schema(tool.parameters, merge_all_of=False, keep_definitions=False)
    fields.append(f"parameters:{_schema(parameters)}")
    return f"{DECLARATION_START}declaration:{tool.name}{{{','.join(fields)}}}{DECLARATION_END}"


def render_call(call: ToolCall) -> str:
    return f"{CALL_START}call:{call.name}{_value(call.arguments)}{CALL_END}"


def render_response(tool_name: str, content: str) -> str:
    """A tool result, always as its text: `response:NAME{value:<escape>TEXT<escape>}`.

    The text is not decoded even when it is JSON: clients send results as strings, and a chat template
    (Jinja) cannot decode JSON, so this is the one form that training, EdgeFabric's runtime, llama.cpp
    and transformers all write the same (issue 14, item 1).
    """
    return f"{RESPONSE_START}response:{tool_name}{{value:{_string(content)}}}{RESPONSE_END}"


def render_assistant(message: Message) -> str:
    """What the model writes for one assistant message: its text, then its calls."""
    return (message.content or "") + "".join(render_call(call) for call in message.tool_calls)


def segments(
    messages: Sequence[Message], tools: Sequence[ToolSpec], *, add_generation_prompt: bool = False
) -> list[Segment]:
    """The prompt as pieces; model-written pieces are trainable, the rest is context."""
    out = [Segment(BOS, False)]
    rest = list(messages)
    system = rest.pop(0) if rest and rest[0].role in ("system", "developer") else None
    if system is not None or tools:
        intro = (system.content or "").strip() if system is not None else DEFAULT_DEVELOPER_PROMPT
        declarations = "".join(render_declaration(tool) for tool in tools)
        out.append(Segment(f"{START_TURN}developer\n{intro}{declarations}{END_TURN}\n", False))

    in_model_turn = False
    awaiting_results = False  # the model's calls end where it would write RESPONSE_START
    previous_role: str | None = None
    for message in rest:
        if message.role in ("user", "system", "developer"):
            if in_model_turn:
                out.append(Segment(END_TURN, previous_role == "assistant"))
                out.append(Segment("\n", False))
                in_model_turn = False
            role = "user" if message.role == "user" else "developer"
            out.append(Segment(f"{START_TURN}{role}\n{message.content or ''}{END_TURN}\n", False))
        else:
            if not in_model_turn:
                out.append(Segment(f"{START_TURN}model\n", False))
                in_model_turn = True
            if message.role == "assistant":
                out.append(Segment(render_assistant(message), True))
                awaiting_results = bool(message.tool_calls)
            else:
                block = render_response(message.name or "", message.content or "")
                if awaiting_results:
                    out.append(Segment(RESPONSE_START, True))
                    out.append(Segment(block[len(RESPONSE_START) :], False))
                    awaiting_results = False
                else:
                    out.append(Segment(block, False))
        previous_role = message.role

    if in_model_turn and not (add_generation_prompt and previous_role == "tool"):
        out.append(Segment(END_TURN, previous_role == "assistant"))
        out.append(Segment("\n", False))
    elif add_generation_prompt and not in_model_turn:
        out.append(Segment(f"{START_TURN}model\n", False))
    return out


def render(messages: Sequence[Message], tools: Sequence[ToolSpec], *, add_generation_prompt: bool = False) -> str:
    return "".join(s.text for s in segments(messages, tools, add_generation_prompt=add_generation_prompt))


# ---------------------------------------------------------------- parsing


class _Malformed(Exception):
    pass


class _Reader:
    """A recursive-descent reader of one `call:NAME{...}` body.

    Hand-written because no library reads this notation; it tolerates spaces
    between tokens, which small models sometimes emit.
    """

    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def _at(self, literal: str) -> bool:
        self._skip_space()
        return self.text.startswith(literal, self.pos)

    def _expect(self, literal: str) -> None:
        if not self._at(literal):
            found = self.text[self.pos : self.pos + 20] or "the end of the output"
            raise _Malformed(f"expected {literal!r} at offset {self.pos}, found {found!r}")
        self.pos += len(literal)

    def call(self) -> tuple[str, dict[str, Any]]:
        self._expect("call:")
        match = _NAME.match(self.text, self.pos)
        if not match:
            raise _Malformed("a call must start with call:NAME")
        self.pos = match.end()
        if not self._at("{"):
            raise _Malformed(f"call:{match.group()} must be followed by {{arguments}}")
        arguments = self._object(0)
        self._expect(CALL_END)
        return match.group(), arguments

    def _string(self) -> str:
        self._expect(ESCAPE)
        end = self.text.find(ESCAPE, self.pos)
        if end < 0:
            raise _Malformed("a string opened with <escape> is never closed")
        raw = self.text[self.pos : end]
        self.pos = end + len(ESCAPE)
        return _ENCODED_ESCAPE.sub(lambda m: "<" + m.group(1) + "escape>", raw)

    def _key(self) -> str:
        if self._at(ESCAPE):
            return self._string()
        match = _BARE_KEY.match(self.text, self.pos)
        if not match:
            raise _Malformed(f"expected a key at offset {self.pos}, found {self.text[self.pos : self.pos + 20]!r}")
        self.pos = match.end()
        return match.group()

    def _object(self, depth: int) -> dict[str, Any]:
        if depth > _MAX_DEPTH:
            raise _Malformed(f"arguments nest deeper than {_MAX_DEPTH} levels")
        self._expect("{")
        result: dict[str, Any] = {}
        if self._at("}"):
            self.pos += 1
            return result
        while True:
            key = self._key()
            self._expect(":")
            result[key] = self._value(depth + 1)
            if self._at(","):
                self.pos += 1
                continue
            self._expect("}")
            return result

    def _array(self, depth: int) -> list[Any]:
        if depth > _MAX_DEPTH:
            raise _Malformed(f"arguments nest deeper than {_MAX_DEPTH} levels")
        self._expect("[")
        items: list[Any] = []
        if self._at("]"):
            self.pos += 1
            return items
        while True:
            items.append(self._value(depth + 1))
            if self._at(","):
                self.pos += 1
                continue
            self._expect("]")
            return items

    def _value(self, depth: int) -> Any:
        self._skip_space()
        if self._at(ESCAPE):
            return self._string()
        if self._at("{"):
            return self._object(depth)
        if self._at("["):
            return self._array(depth)
        for literal, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(literal, self.pos):
                self.pos += len(literal)
                return value
        match = _NUMBER.match(self.text, self.pos)
        if match:
            self.pos = match.end()
            number = match.group()
            return int(number) if re.fullmatch(r"-?\d+", number) else float(number)
        found = self.text[self.pos : self.pos + 20] or "the end of the output"
        raise _Malformed(f"expected a value at offset {self.pos}, found {found!r} (strings need <escape>)")


def _visible_text(text: str) -> str:
    """Drop result blocks, a dangling stop sequence and anything after the turn ends.

    Linear in `len(text)`: each block's end is searched from its start once, and when a start has no
    end no later start has one either, so the search stops there (a lazy regex rescanned the rest
    from every start marker: 9 s on 8,192 of them).
    """
    text = text.split(END_TURN, 1)[0]
    kept: list[str] = []
    pos = 0
    while (start := text.find(RESPONSE_START, pos)) >= 0:
        end = text.find(RESPONSE_END, start + len(RESPONSE_START))
        if end < 0:
            break
        kept.append(text[pos:start])
        pos = end + len(RESPONSE_END)
    kept.append(text[pos:])
    text = "".join(kept).split(RESPONSE_START, 1)[0]
    return text.replace(EOS, "").strip()


def parse(output: str) -> ParseResult:
    """Find every call in model output. Never raises: bad calls become `errors`."""
    result = ParseResult()
    text_parts: list[str] = []
    pos = 0
    while True:
        start = output.find(CALL_START, pos)
        if start < 0:
            text_parts.append(output[pos:])
            break
        text_parts.append(output[pos:start])
        reader = _Reader(output, start + len(CALL_START))
        try:
            call_name, arguments = reader.call()
            result.tool_calls.append(ToolCall(name=call_name, arguments=arguments))
            pos = reader.pos
        except (_Malformed, ValidationError, RecursionError, ValueError) as exc:
            close = output.find(CALL_END, start)
            pos = len(output) if close < 0 else close + len(CALL_END)
            message = str(exc) if isinstance(exc, _Malformed) else f"invalid call: {exc}"
            if close < 0 and isinstance(exc, _Malformed):
                message += " (the call is not closed with <end_function_call>)"
            result.errors.append(ParseError(message, output[start:pos]))
    result.text = _visible_text("".join(text_parts))
    return result


def call_grammar(tools: Sequence[ToolSpec], *, mode: GrammarMode, max_calls: int) -> str:
    """The GBNF grammar of this format's calls (functiongemma_grammar.py)."""
    from edgefabric.runtime.formats.functiongemma_grammar import call_grammar as build

    return build(tools, mode=mode, max_calls=max_calls)


def chat_template() -> str:
    """The exported Jinja chat template (functiongemma.jinja, beside this module): renders what `render` renders."""
    return (
        files(__package__ or "edgefabric.runtime.formats").joinpath("functiongemma.jinja").read_text(encoding="utf-8")
    )
