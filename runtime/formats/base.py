"""What every chat format provides, and the parse result they share."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from edgefabric.runtime.formats.gbnf import GrammarMode
from edgefabric.schemas import Message, ToolCall, ToolSpec


@dataclass(frozen=True)
class ParseError:
    """A call the model tried to make but wrote wrongly; `snippet` is the offending text."""

    message: str
    snippet: str


@dataclass
class ParseResult:
    """Tool calls and plain text found in model output. Unpacks as `(tool_calls, text)`."""

    tool_calls: list[ToolCall] = field(default_factory=list)
    text: str = ""
    errors: list[ParseError] = field(default_factory=list)
    reasoning: str | None = None

    def __iter__(self) -> Iterator[Any]:
        yield self.tool_calls
        yield self.text

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class Segment:
    """A piece of rendered text; `trainable` marks what the model itself writes (loss goes there)."""

    text: str
    trainable: bool


class ChatFormat(Protocol):
    """One model family's prompt format, as a module or an object."""

    name: str
    stop_sequences: tuple[str, ...]
    turn_end_sequences: tuple[str, ...]  # the stops that end a turn normally (a subset of stop_sequences)
    special_tokens: tuple[str, ...]
    bos_token: str  # what a chat template's `bos_token` is ("" when the format writes none)
    eos_token: str

    def segments(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], *, add_generation_prompt: bool = False
    ) -> list[Segment]: ...

    def render(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], *, add_generation_prompt: bool = False
    ) -> str: ...

    def render_assistant(self, message: Message) -> str: ...

    def parse(self, output: str) -> ParseResult: ...

    def call_grammar(self, tools: Sequence[ToolSpec], *, mode: GrammarMode, max_calls: int) -> str: ...

    def chat_template(self) -> str: ...
