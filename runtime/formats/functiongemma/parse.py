"""Reading FunctionGemma output: every `<start_function_call>call:NAME{...}<end_function_call>` and the
text around them. Never raises: a malformed call becomes a `ParseError` naming what was expected where.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from edgefabric.runtime.formats.base import ParseError, ParseResult
from edgefabric.runtime.formats.functiongemma.render import BARE_KEY
from edgefabric.runtime.formats.functiongemma.tokens import (
    CALL_END,
    CALL_START,
    END_TURN,
    EOS,
    ESCAPE,
    RESPONSE_END,
    RESPONSE_START,
)
from edgefabric.schemas import ToolCall

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_ENCODED_ESCAPE = re.compile(r"<\\(\\*)escape>")
_MAX_DEPTH = 64


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
        match = BARE_KEY.match(self.text, self.pos)
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
