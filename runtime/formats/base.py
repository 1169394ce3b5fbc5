"""What every chat format unit provides (`ChatFormat`), and the parse result and choices they share.

A unit is a package `runtime/formats/<family>/` whose `__init__` module satisfies `ChatFormat`; the
registry (registry.py) maps family names and aliases to units.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any, Protocol

from edgefabric.errors import EdgeFabricError
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


@dataclass(frozen=True)
class ModelChoice:
    """A base model a chat format offers for training (the TUI's model choices).

    `key` identifies the choice, `label` is what a person reads, `base` what `model.base` in the config
    takes (an embedded model, a hub id or a folder).
    """

    key: str
    label: str
    base: str


class ChatFormat(Protocol):
    """One model family's prompt format and everything that follows from it, as a module or an object.

    Render, segment and parse its text; its tokens; its exported Jinja chat template and Ollama (Go)
    template; its call grammar; the HF architectures whose fine-tunes speak it; the base models it offers;
    the words in a model's name that say a model speaks it; and what an export's model card tells users.
    """

    name: str
    aliases: tuple[str, ...]  # other names the registry accepts for this format ("hermes" for qwen3)
    architectures: tuple[str, ...]  # HF `architectures` entries whose fine-tunes are trained in this format
    model_choices: tuple[ModelChoice, ...]
    name_hints: tuple[str, ...]  # lower-case words in a model's name or path that say it speaks this format
    usage_notes: tuple[str, ...]  # model-card lines on serving an export of this format (Markdown list items)
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

    def ollama_template(self) -> str: ...


def unit_file(package: str, filename: str) -> str:
    """The text of `filename` inside the unit package `package` (its template.jinja, its ollama.tmpl).

    Raises EdgeFabricError naming the missing file when the package lacks it (a unit without a template
    is incomplete, not something to fall back from).
    """
    path = files(package).joinpath(filename)
    if not path.is_file():
        raise EdgeFabricError(
            f"chat format package {package} has no {filename}", f"add {filename} beside its __init__.py"
        )
    return path.read_text(encoding="utf-8")
